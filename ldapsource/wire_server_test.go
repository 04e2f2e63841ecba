package ldapsource

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// The failures slapd cannot be made to produce on demand (a server that
// stops answering, drops the paging control, sends a notice of
// disconnection, a referral or garbage) are played by scriptedServer: an
// LDAP server on 127.0.0.1 that accepts any simple bind and answers each
// search with what the test's script writes.

type scriptedServer struct {
	ln net.Listener
	// search answers one search request (message id) on w; it runs on the
	// server's goroutine.
	search func(w *scriptWriter, id int64)
}

type scriptWriter struct {
	t    *testing.T
	conn net.Conn
}

// send writes one LDAPMessage.
func (w *scriptWriter) send(id int64, op *ber.Packet, controls ...ldap.Control) {
	w.raw(message(id, op, controls...))
}

// raw writes bytes as they are; a write error means the client went away.
func (w *scriptWriter) raw(b []byte) {
	_, _ = w.conn.Write(b)
}

func (w *scriptWriter) entry(id int64, dn string, attrs map[string][]string) {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchResultEntry, nil, "")
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, dn, ""))
	list := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	for name, vals := range attrs {
		a := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
		a.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, name, ""))
		set := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "")
		for _, v := range vals {
			set.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, v, ""))
		}
		a.AppendChild(set)
		list.AppendChild(a)
	}
	op.AppendChild(list)
	w.send(id, op)
}

func ldapResultOp(tag int, code uint16, diag string) *ber.Packet {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ber.Tag(tag), nil, "")
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, uint64(code), ""))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", ""))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, diag, ""))
	return op
}

// done ends a search with success and the paging cookie (nil: no paging
// control at all).
func (w *scriptWriter) done(id int64, cookie []byte) {
	op := ldapResultOp(ldap.ApplicationSearchResultDone, 0, "")
	if cookie == nil {
		w.send(id, op)
		return
	}
	p := ldap.NewControlPaging(0)
	p.SetCookie(cookie)
	w.send(id, op, p)
}

func (w *scriptWriter) reference(id int64, uris ...string) {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchResultReference, nil, "")
	for _, u := range uris {
		op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, u, ""))
	}
	w.send(id, op)
}

func startScripted(t *testing.T, search func(w *scriptWriter, id int64)) *scriptedServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scriptedServer{ln: ln, search: search}
	done := make(chan struct{})
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.serve(t, conn)
		}
	}()
	return s
}

func (s *scriptedServer) serve(t *testing.T, conn net.Conn) {
	defer conn.Close()
	r := messageReader{r: bufio.NewReader(conn)}
	w := &scriptWriter{t: t, conn: conn}
	for {
		b, err := r.next()
		if err != nil {
			return
		}
		m, err := parseMessage(b)
		if err != nil {
			t.Errorf("scripted server: %v", err)
			return
		}
		switch m.opTag {
		case 0x60: // bind
			w.send(m.id, ldapResultOp(ldap.ApplicationBindResponse, 0, ""))
		case 0x63: // search
			s.search(w, m.id)
		case 0x42: // unbind
			return
		default:
			t.Errorf("scripted server: unexpected request %#x", m.opTag)
			return
		}
	}
}

func (s *scriptedServer) config() Config {
	c := Default()
	c.URL = "ldap://" + s.ln.Addr().String()
	c.AllowPlaintext = true
	c.BindDN = "cn=reader,dc=example,dc=com"
	c.BindPassword = "secret"
	c.BaseDN = "dc=example,dc=com"
	return c
}

// readScripted runs wireSearch against a scripted server and returns the
// entries read (onEntry) and the error.
func readScripted(t *testing.T, ctx context.Context, c Config) (int, error) {
	t.Helper()
	n := 0
	err := newSource(t, c).wireSearch(ctx, c.BaseDN, c.UserFilter, []string{"uid"}, func(*ldap.Entry) { n++ }, nil)
	return n, err
}

func TestWireSearch_CancelInterruptsABlockedRead(t *testing.T) {
	stalled := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	srv := startScripted(t, func(w *scriptWriter, id int64) {
		w.entry(id, "uid=a,dc=example,dc=com", map[string][]string{"uid": {"a"}})
		close(stalled)
		<-release // never answers the rest
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-stalled
		cancel()
	}()
	c := srv.config()
	c.Timeout = time.Hour // only the cancellation can end the read
	start := time.Now()
	_, err := readScripted(t, ctx, c)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("the cancelled read took %s to end", d)
	}
}

func TestWireSearch_ServerThatStopsAnsweringTimesOut(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := startScripted(t, func(w *scriptWriter, id int64) {
		w.entry(id, "uid=a,dc=example,dc=com", map[string][]string{"uid": {"a"}})
		<-release
	})
	c := srv.config()
	c.Timeout = 300 * time.Millisecond
	_, err := readScripted(t, context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "ldap.timeout") {
		t.Fatalf("error = %v, want a timeout naming ldap.timeout", err)
	}
}

func TestWireSearch_IncompleteReadsAreErrors(t *testing.T) {
	entry := func(w *scriptWriter, id int64) {
		w.entry(id, "uid=a,dc=example,dc=com", map[string][]string{"uid": {"a"}})
	}
	for _, tc := range []struct {
		name   string
		search func(w *scriptWriter, id int64)
		check  func(error) bool
	}{
		{"no paging control", func(w *scriptWriter, id int64) { entry(w, id); w.done(id, nil) },
			func(err error) bool { return errors.Is(err, errNoPaging) }},
		{"connection closed after an entry", func(w *scriptWriter, id int64) { entry(w, id); w.conn.Close() },
			func(err error) bool { return errors.Is(err, errConnectionLost) }},
		{"connection closed inside a message", func(w *scriptWriter, id int64) {
			entry(w, id)
			w.raw([]byte{0x30, 0x20, 0x02, 0x01})
			w.conn.Close()
		}, func(err error) bool { return errors.Is(err, errConnectionLost) }},
		{"notice of disconnection", func(w *scriptWriter, id int64) {
			entry(w, id)
			op := ldapResultOp(ldap.ApplicationExtendedResponse, ldap.LDAPResultUnavailable, "shutting down")
			w.send(0, op)
			w.conn.Close()
		}, func(err error) bool {
			return errors.Is(err, errConnectionLost) && strings.Contains(err.Error(), "shutting down")
		}},
		{"size limit", func(w *scriptWriter, id int64) {
			entry(w, id)
			w.send(id, ldapResultOp(ldap.ApplicationSearchResultDone, ldap.LDAPResultSizeLimitExceeded, "limit"))
		}, func(err error) bool {
			return ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) && strings.Contains(err.Error(), "size limit")
		}},
		{"referral result", func(w *scriptWriter, id int64) {
			w.send(id, ldapResultOp(ldap.ApplicationSearchResultDone, ldap.LDAPResultReferral, ""))
		}, func(err error) bool { return ldap.IsErrorWithCode(err, ldap.LDAPResultReferral) }},
		{"reference to another server", func(w *scriptWriter, id int64) {
			entry(w, id)
			w.reference(id, "ldap://child.example.com/DC=child,DC=example,DC=com")
			w.done(id, []byte{})
		}, func(err error) bool {
			var ref *referralError
			return errors.As(err, &ref) && strings.Contains(err.Error(), "referrals are not followed")
		}},
		{"response to another message", func(w *scriptWriter, id int64) { entry(w, id+1) },
			func(err error) bool { return errors.Is(err, errMalformed) }},
		{"garbage", func(w *scriptWriter, id int64) { w.raw([]byte("HTTP/1.1 400 Bad Request\r\n\r\n")) },
			func(err error) bool { return errors.Is(err, errMalformed) }},
		{"a message over the size limit", func(w *scriptWriter, id int64) {
			w.raw([]byte{0x30, 0x84, 0x7f, 0xff, 0xff, 0xff})
		}, func(err error) bool { return errors.Is(err, errMalformed) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startScripted(t, tc.search)
			n, err := readScripted(t, context.Background(), srv.config())
			if !tc.check(err) {
				t.Fatalf("read %d entries, error %v", n, err)
			}
		})
	}
}

func TestWireSearch_SkipsADNonDomainPartitionReferences(t *testing.T) {
	pages := 0
	srv := startScripted(t, func(w *scriptWriter, id int64) {
		pages++
		w.entry(id, "uid=a,dc=corp,dc=example,dc=com", map[string][]string{"uid": {"a"}})
		w.reference(id, "ldap://corp.example.com/CN=Configuration,DC=corp,DC=example,DC=com")
		w.reference(id, "ldap://DomainDnsZones.corp.example.com/DC=DomainDnsZones,DC=corp,DC=example,DC=com",
			"ldap://ForestDnsZones.corp.example.com/DC=ForestDnsZones,DC=corp,DC=example,DC=com")
		if pages == 1 {
			w.done(id, []byte("next"))
			return
		}
		w.done(id, []byte{})
	})
	n, err := readScripted(t, context.Background(), srv.config())
	if err != nil || n != 2 {
		t.Fatalf("read %d entries, %v; want 2 over 2 pages", n, err)
	}
}
