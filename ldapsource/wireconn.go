package ldapsource

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// wireConn is an LDAP connection of its own for the bulk user search, read
// with the decoder of wire.go instead of go-ldap's. It is set up like
// connect's: the same URL, TLS configuration (certificate checks included),
// StartTLS, simple bind and timeout. One goroutine uses it at a time.
type wireConn struct {
	ctx     context.Context
	conn    net.Conn
	r       messageReader
	timeout time.Duration
	lastID  int64
	dec     entryDecoder
	stop    func() bool
}

// wireReadBuffer is the size of the read buffer: large enough that a page's
// entries are read in few system calls.
const wireReadBuffer = 256 << 10

// dialWire connects, upgrades to TLS when configured and binds, with the
// same errors as connect. The connection is closed when ctx is done, which
// interrupts a read in progress.
func (s *Source) dialWire(ctx context.Context) (*wireConn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	u, err := url.Parse(s.cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("ldap.url: %w", err)
	}
	tlsCfg, err := s.tlsConfig(u.Hostname())
	if err != nil {
		return nil, err
	}
	port := u.Port()
	if port == "" {
		port = ldap.DefaultLdapPort
		if u.Scheme == "ldaps" {
			port = ldap.DefaultLdapsPort
		}
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	dialer := &net.Dialer{Timeout: s.cfg.Timeout}
	var nc net.Conn
	if u.Scheme == "ldaps" {
		nc, err = (&tls.Dialer{NetDialer: dialer, Config: tlsCfg}).DialContext(ctx, "tcp", addr)
	} else {
		nc, err = dialer.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("ldap connect %s: %w", s.cfg.URL, err)
	}
	c := &wireConn{ctx: ctx, timeout: s.cfg.Timeout}
	c.setConn(nc)

	fail := func(err error) (*wireConn, error) {
		c.close()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("%w (%w)", err, ctxErr)
		}
		return nil, err
	}
	if err := s.handshake(tlsCfg, c.startTLS, c.bind); err != nil {
		return fail(err)
	}
	return c, nil
}

// setConn makes nc the connection read and written, closed when c.ctx is
// done.
func (c *wireConn) setConn(nc net.Conn) {
	if c.stop != nil {
		c.stop()
	}
	c.conn = nc
	c.r = messageReader{r: bufio.NewReaderSize(nc, wireReadBuffer), buf: c.r.buf}
	c.stop = context.AfterFunc(c.ctx, func() { nc.Close() })
}

// close ends the session politely (an unbind request, RFC 4511 section 4.3)
// and closes the connection.
func (c *wireConn) close() {
	c.stop()
	if c.ctx.Err() == nil {
		_ = c.conn.SetWriteDeadline(time.Now().Add(time.Second))
		c.lastID++
		unbind := ber.Encode(ber.ClassApplication, ber.TypePrimitive, ldap.ApplicationUnbindRequest, nil, "")
		_, _ = c.conn.Write(message(c.lastID, unbind))
	}
	c.conn.Close()
}

// message encodes an LDAPMessage: message ID id, protocol op op and its
// controls, if any (RFC 4511, 4.1.1).
func message(id int64, op *ber.Packet, controls ...ldap.Control) []byte {
	p := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, ""))
	p.AppendChild(op)
	if len(controls) > 0 {
		cp := ber.Encode(ber.ClassContext, ber.TypeConstructed, 0, nil, "")
		for _, ctl := range controls {
			cp.AppendChild(ctl.Encode())
		}
		p.AppendChild(cp)
	}
	return p.Bytes()
}

// ioError turns an error reading or writing the connection into the error
// the caller reports: ctx's error when ctx is done (closing the connection
// is how cancellation interrupts a read), a timeout naming ldap.timeout, or
// errConnectionLost.
func (c *wireConn) ioError(err error) error {
	if ctxErr := c.ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	if errors.Is(err, errMalformed) || errors.Is(err, errConnectionLost) {
		return err
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return ldap.NewError(ldap.ErrorNetwork, fmt.Errorf("no answer from the server within ldap.timeout (%s); raise ldap.timeout if the server is slow: %w", c.timeout, err))
	}
	return fmt.Errorf("%w: %w", errConnectionLost, ldap.NewError(ldap.ErrorNetwork, err))
}

// send writes the request op (with its controls, if any) under a fresh
// message ID, which it returns, and starts the request's deadline: the
// whole exchange, until the last response is read, must fit in
// ldap.timeout.
func (c *wireConn) send(op *ber.Packet, controls ...ldap.Control) (int64, error) {
	c.lastID++
	if err := c.conn.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, c.ioError(err)
	}
	if _, err := c.conn.Write(message(c.lastID, op, controls...)); err != nil {
		return 0, c.ioError(err)
	}
	return c.lastID, nil
}

// result reads the response to a request that has exactly one: it must
// have identifier tag. It returns the result's error, an *ldap.Error, when
// the result code is not success.
func (c *wireConn) result(id int64, tag byte) error {
	b, err := c.r.next()
	if err != nil {
		return c.ioError(err)
	}
	m, err := parseMessage(b)
	if err != nil {
		return err
	}
	if m.id == 0 && m.opTag == tagExtendedResp {
		res, _ := parseResult(m.op)
		return fmt.Errorf("%w: the server sent a notice of disconnection (result code %d: %q)", errConnectionLost, res.code, res.diagnostic)
	}
	if m.id != id || m.opTag != tag {
		return malformed("response %#x to message %d, want %#x to message %d", m.opTag, m.id, tag, id)
	}
	res, err := parseResult(m.op)
	if err != nil {
		return err
	}
	return res.err()
}

// startTLS runs the StartTLS extended operation (RFC 4511, section 4.14)
// and the TLS handshake.
func (c *wireConn) startTLS(cfg *tls.Config) error {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationExtendedRequest, nil, "")
	op.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, "1.3.6.1.4.1.1466.20037", ""))
	id, err := c.send(op)
	if err != nil {
		return err
	}
	if err := c.result(id, tagExtendedResp); err != nil {
		return err
	}
	if c.r.r.Buffered() > 0 {
		return malformed("data after the StartTLS response, before the TLS handshake")
	}
	tc := tls.Client(c.conn, cfg)
	hsCtx, cancel := context.WithTimeout(c.ctx, c.timeout)
	defer cancel()
	if err := tc.HandshakeContext(hsCtx); err != nil {
		return c.ioErrorOr(err)
	}
	c.setConn(tc)
	return nil
}

// ioErrorOr is ioError for errors that may not be I/O errors (a TLS
// handshake's certificate errors): those are returned as they are.
func (c *wireConn) ioErrorOr(err error) error {
	var netErr net.Error
	if c.ctx.Err() != nil || errors.As(err, &netErr) {
		return c.ioError(err)
	}
	return err
}

// bind makes a simple bind (RFC 4511, section 4.2). Like go-ldap, it
// refuses an empty password, which servers take as an unauthenticated bind.
func (c *wireConn) bind(dn, password string) error {
	if password == "" {
		return ldap.NewError(ldap.ErrorEmptyPassword, errors.New("ldap: empty password not allowed by the client"))
	}
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationBindRequest, nil, "")
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 3, ""))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, dn, ""))
	op.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, password, ""))
	id, err := c.send(op)
	if err != nil {
		return err
	}
	return c.result(id, tagBindResponse)
}

// searchPage sends one page's search request and reads its responses,
// handing each entry to onEntry. It returns the paging cookie of the next
// page (empty after the last) and the number of entries read. Any
// incomplete read is an error: see search.
func (c *wireConn) searchPage(base, filter string, attrs []string, timeLimit int, paging *ldap.ControlPaging,
	onEntry func(*ldap.Entry)) (cookie []byte, n int, err error) {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchRequest, nil, "")
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, base, ""))
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, uint64(ldap.ScopeWholeSubtree), ""))
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, uint64(ldap.NeverDerefAliases), ""))
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, uint64(0), ""))
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, uint64(timeLimit), ""))
	op.AppendChild(ber.NewBoolean(ber.ClassUniversal, ber.TypePrimitive, ber.TagBoolean, false, ""))
	f, err := ldap.CompileFilter(filter)
	if err != nil {
		return nil, 0, err
	}
	op.AppendChild(f)
	ap := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	for _, a := range attrs {
		ap.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, a, ""))
	}
	op.AppendChild(ap)
	id, err := c.send(op, paging)
	if err != nil {
		return nil, 0, err
	}
	for {
		b, err := c.r.next()
		if err != nil {
			return nil, n, c.ioError(err)
		}
		r, err := c.dec.decodeSearchResponse(b, id)
		if err != nil {
			return nil, n, err
		}
		switch {
		case r.entry != nil:
			n++
			onEntry(r.entry)
		case r.references != nil:
			for _, ref := range r.references {
				if !adNonDomainPartition(ref) {
					return nil, n, &referralError{ref: ref}
				}
			}
		case r.done:
			if err := r.result.err(); err != nil {
				return nil, n, err
			}
			if !r.hasPaging {
				return nil, n, errNoPaging
			}
			return r.cookie, n, nil
		}
	}
}

// wireSearch is search made over a wireConn of its own: a paged search
// (RFC 2696), handing each entry to onEntry as it arrives and calling onPage
// after each page. Any incomplete read is an error.
func (s *Source) wireSearch(ctx context.Context, base, filter string, attrs []string,
	onEntry func(*ldap.Entry), onPage func(int)) error {
	c, err := s.dialWire(ctx)
	if err != nil {
		return err
	}
	defer c.close()
	return s.pages(base, onPage, func(paging *ldap.ControlPaging, timeLimit int) ([]byte, int, error) {
		cookie, n, err := c.searchPage(base, filter, attrs, timeLimit, paging, onEntry)
		if err == nil {
			// A cancellation that closed the connection after the last
			// response was read must still fail the read.
			err = ctx.Err()
		}
		return cookie, n, err
	})
}
