package demodir

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/hashicorp/go-hclog"
	"github.com/jimlambrt/gldap"
)

const (
	// maxCursorsPerConn bounds the paged searches a connection may leave
	// unfinished; the oldest is dropped first.
	maxCursorsPerConn = 8
	// startTimeout bounds how long Start waits for the listener.
	startTimeout = 5 * time.Second
	// closeTimeout bounds how long Close waits for clients to disconnect.
	closeTimeout = 5 * time.Second
)

// Server is a running demo directory. It embeds the Directory, so the
// mutation methods are available on it too.
type Server struct {
	*Directory

	srv  *gldap.Server
	addr string
	runc chan error // Run's result

	mu      sync.Mutex
	bound   map[int]bool       // connection ID → bound as BindDN
	cursors map[string]*cursor // paged-results cookie → remaining results
	seq     uint64

	probed    chan struct{} // closed when the first connection (Start's probe) ends
	probeOnce sync.Once

	closeOnce sync.Once
	closeErr  error
	done      chan struct{}
}

// cursor is the rest of a paged search, held between pages.
type cursor struct {
	conn    int
	request string // what the search asked, to refuse a cookie reused for another
	seq     uint64
	left    []result
}

// result is one entry ready to send.
type result struct {
	dn    string
	attrs []attribute
}

// Start serves the directory on 127.0.0.1 at a free port until Close is
// called or ctx is done. Nothing is logged.
func (d *Directory) Start(ctx context.Context) (*Server, error) {
	var lastErr error
	for range 5 {
		s, err := d.start(ctx)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("demodir: start: %w", lastErr)
}

func (d *Directory) start(ctx context.Context) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{
		Directory: d,
		addr:      net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		runc:      make(chan error, 1),
		bound:     map[int]bool{},
		cursors:   map[string]*cursor{},
		probed:    make(chan struct{}),
		done:      make(chan struct{}),
	}
	s.srv, err = gldap.NewServer(gldap.WithLogger(hclog.NewNullLogger()), gldap.WithOnClose(s.connClosed))
	if err != nil {
		return nil, err
	}
	mux, err := gldap.NewMux()
	if err != nil {
		return nil, err
	}
	for _, reg := range []error{
		mux.Bind(s.handleBind),
		mux.Search(s.handleSearch),
		mux.Modify(s.refuse(gldap.ApplicationModifyResponse)),
		mux.Add(s.refuse(gldap.ApplicationAddResponse)),
		mux.Delete(s.refuse(gldap.ApplicationDelResponse)),
		mux.DefaultRoute(s.refuse(gldap.ApplicationExtendedResponse)),
	} {
		if reg != nil {
			return nil, reg
		}
	}
	if err := s.srv.Router(mux); err != nil {
		return nil, err
	}
	go func() { s.runc <- s.srv.Run(s.addr) }()
	if err := s.waitListening(ctx); err != nil {
		_ = s.srv.Stop()
		return nil, err
	}
	go func() {
		select {
		case <-ctx.Done():
			_ = s.Close()
		case <-s.done:
		}
	}()
	return s, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitListening returns once the server accepts connections, or with the
// error that stopped it.
func (s *Server) waitListening(ctx context.Context) error {
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !s.srv.Ready() {
		select {
		case err := <-s.runc:
			return fmt.Errorf("listen on %s: %w", s.addr, errOrStopped(err))
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("listen on %s: not ready after %s", s.addr, startTimeout)
		case <-tick.C:
		}
	}
	// Ready only says Run got past net.Listen; a dial tells success from
	// failure.
	c, err := net.DialTimeout("tcp", s.addr, startTimeout)
	if err != nil {
		select {
		case runErr := <-s.runc:
			return fmt.Errorf("listen on %s: %w", s.addr, errOrStopped(runErr))
		case <-deadline.C:
			return fmt.Errorf("listen on %s: %w", s.addr, err)
		}
	}
	if err := c.Close(); err != nil {
		return err
	}
	// Wait for the server to finish with the probe: gldap counts a
	// connection in a WaitGroup that Stop waits on, and a Stop racing the
	// probe's accept would be a data race inside gldap.
	select {
	case <-s.probed:
		return nil
	case err := <-s.runc:
		return fmt.Errorf("listen on %s: %w", s.addr, errOrStopped(err))
	case <-deadline.C:
		return fmt.Errorf("listen on %s: probe connection not served after %s", s.addr, startTimeout)
	}
}

func errOrStopped(err error) error {
	if err == nil {
		return errors.New("server stopped")
	}
	return err
}

// URL is the ldap:// URL of the server (plain LDAP on the loopback interface).
func (s *Server) URL() string { return "ldap://" + s.addr }

// Addr is the host:port the server listens on.
func (s *Server) Addr() string { return s.addr }

// Close stops the server. It waits, up to a few seconds, for connected
// clients to disconnect. Calling it again returns the first result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		defer close(s.done)
		stopped := make(chan error, 1)
		go func() { stopped <- s.srv.Stop() }()
		timer := time.NewTimer(closeTimeout)
		defer timer.Stop()
		select {
		case err := <-stopped:
			if err != nil {
				s.closeErr = fmt.Errorf("demodir: close: %w", err)
				return
			}
		case <-timer.C:
			s.closeErr = fmt.Errorf("demodir: close: clients still connected after %s", closeTimeout)
			return
		}
		select {
		case err := <-s.runc:
			if err != nil {
				s.closeErr = fmt.Errorf("demodir: close: %w", err)
			}
		case <-timer.C:
			s.closeErr = fmt.Errorf("demodir: close: listener still running after %s", closeTimeout)
		}
	})
	return s.closeErr
}

func (s *Server) connClosed(connID int) {
	s.probeOnce.Do(func() { close(s.probed) })
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.bound, connID)
	for k, c := range s.cursors {
		if c.conn == connID {
			delete(s.cursors, k)
		}
	}
}

func (s *Server) isBound(connID int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bound[connID]
}

func (s *Server) handleBind(w *gldap.ResponseWriter, req *gldap.Request) {
	msg, err := req.GetSimpleBindMessage()
	if err != nil {
		_ = w.Write(req.NewBindResponse(gldap.WithResponseCode(gldap.ResultAuthMethodNotSupported)))
		return
	}
	ok := msg.Password != "" && sameDN(msg.UserName, BindDN) &&
		subtle.ConstantTimeCompare([]byte(msg.Password), []byte(s.password)) == 1
	s.mu.Lock()
	s.bound[req.ConnectionID()] = ok // a failed bind leaves the connection anonymous
	s.mu.Unlock()
	code := gldap.ResultSuccess
	if !ok {
		code = gldap.ResultInvalidCredentials
	}
	_ = w.Write(req.NewBindResponse(gldap.WithResponseCode(code)))
}

func sameDN(a, b string) bool {
	x, errX := ldap.ParseDN(a)
	y, errY := ldap.ParseDN(b)
	return errX == nil && errY == nil && x.EqualFold(y)
}

// refuse answers operations the demo directory does not take over LDAP: it
// changes only through its Go API.
func (s *Server) refuse(appCode int) gldap.HandlerFunc {
	return func(w *gldap.ResponseWriter, req *gldap.Request) {
		_ = w.Write(req.NewResponse(
			gldap.WithApplicationCode(appCode),
			gldap.WithResponseCode(gldap.ResultUnwillingToPerform),
			gldap.WithDiagnosticMessage("the demo directory is read-only over LDAP"),
		))
	}
}

// done writes the SearchResultDone.
func done(w *gldap.ResponseWriter, req *gldap.Request, code int, diag, matched string, controls ...gldap.Control) {
	resp := req.NewSearchDoneResponse(gldap.WithResponseCode(code))
	if diag != "" {
		resp.SetDiagnosticMessage(diag)
	}
	if matched != "" {
		resp.SetMatchedDN(matched)
	}
	if len(controls) > 0 {
		resp.SetControls(controls...)
	}
	_ = w.Write(resp)
}

func (s *Server) handleSearch(w *gldap.ResponseWriter, req *gldap.Request) {
	msg, err := req.GetSearchMessage()
	if err != nil {
		done(w, req, gldap.ResultProtocolError, err.Error(), "")
		return
	}
	var paging *gldap.ControlPaging
	for _, c := range msg.Controls {
		switch c := c.(type) {
		case *gldap.ControlPaging:
			paging = c
		case *gldap.ControlString:
			if c.Criticality {
				done(w, req, gldap.ResultUnavailableCriticalExtension, "critical control "+c.ControlType+" is not supported", "")
				return
			}
		}
	}

	if msg.BaseDN == "" && msg.Scope == gldap.BaseObject {
		s.sendRootDSE(w, req, msg)
		return
	}
	if !s.isBound(req.ConnectionID()) {
		done(w, req, gldap.ResultInsufficientAccessRights, "bind as "+BindDN+" first", "")
		return
	}

	if paging != nil && len(paging.Cookie) > 0 {
		s.nextPage(w, req, msg, paging)
		return
	}

	results, code, diag, matched := s.search(msg)
	if code != gldap.ResultSuccess {
		done(w, req, code, diag, matched)
		return
	}
	if msg.SizeLimit > 0 && int64(len(results)) > msg.SizeLimit {
		send(w, req, results[:msg.SizeLimit], msg.TypesOnly)
		done(w, req, gldap.ResultSizeLimitExceeded, "", "")
		return
	}
	if paging == nil {
		send(w, req, results, msg.TypesOnly)
		done(w, req, gldap.ResultSuccess, "", "")
		return
	}
	size := int(paging.PagingSize)
	if size == 0 || len(results) <= size {
		send(w, req, results, msg.TypesOnly)
		done(w, req, gldap.ResultSuccess, "", "", &gldap.ControlPaging{PagingSize: 0})
		return
	}
	cookie, err := s.saveCursor(req.ConnectionID(), requestKey(msg), results[size:])
	if err != nil {
		done(w, req, gldap.ResultOther, err.Error(), "")
		return
	}
	send(w, req, results[:size], msg.TypesOnly)
	done(w, req, gldap.ResultSuccess, "", "", &gldap.ControlPaging{PagingSize: uint32(len(results)), Cookie: cookie})
}

// nextPage continues a paged search from its cookie; a page size of 0
// abandons it (RFC 2696 section 3).
func (s *Server) nextPage(w *gldap.ResponseWriter, req *gldap.Request, msg *gldap.SearchMessage, paging *gldap.ControlPaging) {
	key := string(paging.Cookie)
	s.mu.Lock()
	c := s.cursors[key]
	if c == nil || c.conn != req.ConnectionID() || c.request != requestKey(msg) {
		s.mu.Unlock()
		done(w, req, gldap.ResultProtocolError, "paged results cookie is invalid", "")
		return
	}
	size := int(paging.PagingSize)
	if size == 0 || size >= len(c.left) {
		delete(s.cursors, key)
		page := c.left
		if size == 0 {
			page = nil
		}
		s.mu.Unlock()
		send(w, req, page, msg.TypesOnly)
		done(w, req, gldap.ResultSuccess, "", "", &gldap.ControlPaging{PagingSize: 0})
		return
	}
	page := c.left[:size]
	c.left = c.left[size:]
	total := len(c.left) + size
	s.mu.Unlock()
	send(w, req, page, msg.TypesOnly)
	done(w, req, gldap.ResultSuccess, "", "", &gldap.ControlPaging{PagingSize: uint32(total), Cookie: paging.Cookie})
}

func (s *Server) saveCursor(connID int, request string, left []result) ([]byte, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	cookie := hex.EncodeToString(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	s.cursors[cookie] = &cursor{conn: connID, request: request, seq: s.seq, left: left}
	var mine []string
	for k, c := range s.cursors {
		if c.conn == connID {
			mine = append(mine, k)
		}
	}
	for len(mine) > maxCursorsPerConn {
		oldest := 0
		for i, k := range mine {
			if s.cursors[k].seq < s.cursors[mine[oldest]].seq {
				oldest = i
			}
		}
		delete(s.cursors, mine[oldest])
		mine = append(mine[:oldest], mine[oldest+1:]...)
	}
	return []byte(cookie), nil
}

// requestKey identifies what a search asked for; every page of a paged search
// must ask the same.
func requestKey(msg *gldap.SearchMessage) string {
	return strings.Join([]string{
		strings.ToLower(msg.BaseDN), strconv.Itoa(int(msg.Scope)), msg.Filter,
		strings.ToLower(strings.Join(msg.Attributes, ",")), strconv.FormatBool(msg.TypesOnly),
	}, "\x00")
}

// search evaluates a search over the directory and returns the results, or a
// result code other than success with its diagnostic message and matched DN.
func (s *Server) search(msg *gldap.SearchMessage) (results []result, code int, diag, matched string) {
	f, err := compileFilter(msg.Filter)
	if err != nil {
		return nil, gldap.ResultProtocolError, fmt.Sprintf("bad filter %q: %v", msg.Filter, err), ""
	}
	base, err := ldap.ParseDN(msg.BaseDN)
	if err != nil {
		return nil, gldap.ResultInvalidDNSyntax, fmt.Sprintf("invalid DN %q", msg.BaseDN), ""
	}
	d := s.Directory
	d.mu.RLock()
	defer d.mu.RUnlock()
	found := false
	for _, e := range d.entries {
		if e.parsed.EqualFold(base) {
			found = true
			break
		}
	}
	if !found {
		return nil, gldap.ResultNoSuchObject, "", d.matchedDN(base)
	}
	for _, e := range d.entries {
		if !inScope(e.parsed, base, msg.Scope) {
			continue
		}
		view := d.view(e)
		if !f.matches(view) {
			continue
		}
		results = append(results, result{dn: e.dn, attrs: selectAttributes(view, msg.Attributes)})
	}
	return results, gldap.ResultSuccess, "", ""
}

// matchedDN is the closest existing ancestor of a missing base, as servers
// report it with noSuchObject. Callers hold d.mu.
func (d *Directory) matchedDN(base *ldap.DN) string {
	best, depth := "", -1
	for _, e := range d.entries {
		if e.parsed.AncestorOfFold(base) && len(e.parsed.RDNs) > depth {
			best, depth = e.dn, len(e.parsed.RDNs)
		}
	}
	return best
}

func inScope(dn, base *ldap.DN, scope gldap.Scope) bool {
	switch scope {
	case gldap.BaseObject:
		return dn.EqualFold(base)
	case gldap.SingleLevel:
		return len(dn.RDNs) == len(base.RDNs)+1 && base.AncestorOfFold(dn)
	case gldap.WholeSubtree:
		return dn.EqualFold(base) || base.AncestorOfFold(dn)
	}
	return false
}

func send(w *gldap.ResponseWriter, req *gldap.Request, results []result, typesOnly bool) {
	for _, r := range results {
		e := req.NewSearchResponseEntry(r.dn)
		for _, a := range r.attrs {
			if typesOnly {
				e.AddAttribute(a.name, nil)
			} else {
				e.AddAttribute(a.name, a.vals)
			}
		}
		if err := w.Write(e); err != nil {
			return
		}
	}
}

// sendRootDSE answers a base search of the empty DN, readable before bind as
// on OpenLDAP.
func (s *Server) sendRootDSE(w *gldap.ResponseWriter, req *gldap.Request, msg *gldap.SearchMessage) {
	f, err := compileFilter(msg.Filter)
	if err != nil {
		done(w, req, gldap.ResultProtocolError, fmt.Sprintf("bad filter %q: %v", msg.Filter, err), "")
		return
	}
	view := []attribute{
		{"objectClass", []string{"top", "OpenLDAProotDSE"}},
		{"namingContexts", []string{BaseDN}},
		{"supportedControl", []string{gldap.ControlTypePaging}},
		{"supportedLDAPVersion", []string{"3"}},
	}
	if f.matches(view) {
		// Root DSE attributes are operational: "+" or names, not "*".
		var attrs []attribute
		for _, a := range view {
			for _, r := range msg.Attributes {
				if r == "+" || strings.EqualFold(r, a.name) {
					attrs = append(attrs, a)
					break
				}
			}
		}
		send(w, req, []result{{dn: "", attrs: attrs}}, msg.TypesOnly)
	}
	done(w, req, gldap.ResultSuccess, "", "")
}
