// Package slapdtest runs a private OpenLDAP slapd for integration tests.
//
// Start writes a slapd.conf into t.TempDir() (mdb backend, suffix
// dc=example,dc=com, the core, cosine, inetorgperson and nis schemas, and the
// syncprov, memberof and ppolicy overlays when the installed slapd has them;
// WithoutSyncprov and WithSyncprovModuleOnly leave syncprov off),
// optionally pre-loads LDIF with slapadd, and starts slapd in the foreground on
// 127.0.0.1 and a free port. It returns once the server answers a bind; the
// test's cleanup stops it and removes its data.
//
// When slapd is not installed the test is skipped, unless the environment has
// CI=true: then it fails, pointing at scripts/install-test-deps.sh.
//
// Every server holds the suffix entry and a read-only service account
// (ReaderDN, ReaderPassword) that, unlike the rootdn, is subject to ACLs and
// limits. Tests create one OU each (AddOU) and their entries under it.
//
// Accounts are locked with ppolicy's pwdAccountLockedTime (UserSpec.Locked), so
// a disabled_filter of (pwdAccountLockedTime=*) works; when the ppolicy overlay
// is missing, Locked sets employeeType: disabled instead and
// LockedFilter returns (employeeType=disabled).
package slapdtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"
)

// Fixed names of every test server.
const (
	baseDN         = "dc=example,dc=com"
	adminDN        = "cn=admin,dc=example,dc=com"
	adminPassword  = "admin-secret"
	readerDN       = "cn=reader,dc=example,dc=com"
	readerPassword = "reader-secret"
)

// startTimeout bounds how long Start waits for slapd to answer.
const startTimeout = 20 * time.Second

// Option configures Start.
type Option func(*options)

type options struct {
	// ldif writes each piece of LDIF to pre-load (WithLDIF, WithLDIFFrom).
	ldif      []func(io.Writer) error
	maxSize   int64 // mdb maxsize in bytes; 0: defaultMaxSize
	sizeLimit int
	tls       bool
	adSchema  bool
	// sessionlog, when positive, sets syncprov-sessionlog.
	sessionlog int
	// noSyncprov leaves the syncprov overlay off the database; keepModule
	// still loads its module (WithoutSyncprov, WithSyncprovModuleOnly).
	noSyncprov, keepModule bool
	// pagedUnlimited lifts the reader's limit on paged searches only
	// (WithUnlimitedPagedReads); hideContextCSN hides the suffix's
	// contextCSN from it (WithHiddenContextCSN).
	pagedUnlimited, hideContextCSN bool
	// monitor adds the cn=Monitor database (WithMonitor).
	monitor bool
}

// WithMonitor adds slapd's cn=Monitor database, readable by everyone, so
// that EntriesSent can count what the server sent.
func WithMonitor() Option {
	return func(o *options) { o.monitor = true }
}

// WithUnlimitedPagedReads lifts the reader account's size limit on paged
// searches (slapd "limits ... size.prtotal=unlimited") and leaves slapd's
// default size limit, 500 entries, on every other search: an OpenLDAP server
// as installed, where the administrator let the service account read the
// directory page by page. (Without it a paged search of more than 500
// entries fails too: the total of a paged search defaults to the limit.)
func WithUnlimitedPagedReads() Option {
	return func(o *options) { o.pagedUnlimited = true }
}

// WithHiddenContextCSN makes the suffix's contextCSN unreadable to the
// reader account (the rootdn still reads it), as on a server whose ACLs
// hide operational attributes.
func WithHiddenContextCSN() Option {
	return func(o *options) { o.hideContextCSN = true }
}

// WithoutSyncprov leaves the syncprov overlay out: a content synchronization
// search (RFC 4533) is refused and the root DSE does not list the sync request
// control, as on an OpenLDAP server set up without change streams. (A slapd
// with syncprov built in rather than as a module still lists the control.)
func WithoutSyncprov() Option {
	return func(o *options) { o.noSyncprov, o.keepModule = true, false }
}

// WithSyncprovModuleOnly loads the syncprov module but leaves the overlay off
// the database: the root DSE lists the sync request control (as on a server
// where syncprov serves some other database), yet a content synchronization
// search of this database is refused with unavailableCriticalExtension.
func WithSyncprovModuleOnly() Option {
	return func(o *options) { o.noSyncprov, o.keepModule = true, true }
}

// WithSyncprovSessionlog keeps a syncprov session log of n operations, so
// that a content synchronization (RFC 4533) resumed from a recent cookie is
// answered with the changes since, deletes included, rather than with the
// whole content.
func WithSyncprovSessionlog(n int) Option {
	return func(o *options) { o.sessionlog = n }
}

// WithLDIF pre-loads entries with slapadd before slapd starts: the fast path
// for large fixtures (see UsersLDIF). The suffix entry and the reader account
// are always loaded first; ldif must not repeat them. Overlays do not run
// during slapadd, so memberOf is not maintained for groups loaded this way.
func WithLDIF(ldif string) Option {
	return WithLDIFFrom(func(w io.Writer) error {
		_, err := io.WriteString(w, ldif)
		return err
	})
}

// WithLDIFFrom is WithLDIF for fixtures too large to hold in memory (a
// million entries): write writes the LDIF, which goes to slapadd's input as
// it is written. Pieces given by WithLDIF and WithLDIFFrom load in order.
func WithLDIFFrom(write func(io.Writer) error) Option {
	return func(o *options) { o.ldif = append(o.ldif, write) }
}

// defaultMaxSize is the database's default maxsize: 1 GiB, room for a few
// hundred thousand entries.
const defaultMaxSize = 1 << 30

// WithMaxSize sets the mdb database's maxsize, the most it can grow to, in
// bytes (default 1 GiB). A million entries need several GiB.
func WithMaxSize(bytes int64) Option {
	return func(o *options) { o.maxSize = bytes }
}

// WithSizeLimit limits the reader account to n entries per search, paged or
// not (slapd "limits ... size.soft=n size.hard=n size.prtotal=n"). The rootdn
// is never limited.
func WithSizeLimit(n int) Option {
	return func(o *options) { o.sizeLimit = n }
}

// WithTLS gives the server a certificate for 127.0.0.1 and localhost, issued
// by a fresh CA (CAFile), enables StartTLS on URL and listens for LDAPS on
// LDAPSURL.
func WithTLS() Option {
	return func(o *options) { o.tls = true }
}

// WithADSchema adds OpenLDAP's msuser.schema (Active Directory's user and
// group classes, objectGUID, userAccountControl, sAMAccountName...). Because
// that schema defines memberOf itself, the memberof overlay is left out.
// AD entries need objectClass user plus instanceType, nTSecurityDescriptor,
// objectCategory, cn and sn (see ADUserAttrs).
func WithADSchema() Option {
	return func(o *options) { o.adSchema = true }
}

// Server is a running slapd.
type Server struct {
	dir      string
	url      string
	ldapsURL string
	caFile   string
	memberOf bool
	ppolicy  bool

	mu      sync.Mutex
	bin     string // slapd, its config and -h, for Restart
	conf    string
	listen  string
	cmd     *exec.Cmd
	exited  chan struct{}
	stopped bool
	log     *syncBuffer
}

// install is the hint given when slapd is missing.
const install = "run scripts/install-test-deps.sh (installs slapd and ldap-utils)"

// Start starts a private slapd for t and stops it when t ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	env := lookupEnv()
	if env.err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("slapdtest: %v; the LDAP integration tests must run in CI: %s", env.err, install)
		}
		t.Skipf("slapdtest: %v; %s", env.err, install)
	}

	dir := t.TempDir()
	s := &Server{dir: dir, log: &syncBuffer{}}
	s.memberOf = env.memberOf && !o.adSchema
	s.ppolicy = env.ppolicy
	if o.tls {
		ca, err := writeTLSFiles(dir)
		if err != nil {
			t.Fatalf("slapdtest: tls: %v", err)
		}
		s.caFile = ca
	}
	conf := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(conf, []byte(s.config(env, o)), 0o600); err != nil {
		t.Fatalf("slapdtest: %v", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatalf("slapdtest: %v", err)
	}
	ldifFile := filepath.Join(dir, "init.ldif")
	if err := writeLDIF(ldifFile, o.ldif); err != nil {
		t.Fatalf("slapdtest: write %s: %v", ldifFile, err)
	}
	if out, err := exec.Command(env.slapadd, "-q", "-f", conf, "-l", ldifFile).CombinedOutput(); err != nil {
		t.Fatalf("slapdtest: slapadd: %v\n%s", err, out)
	}

	t.Cleanup(s.Stop)
	var lastErr error
	for range 5 {
		if lastErr = s.start(env.slapd, conf, o.tls); lastErr == nil {
			return s
		}
		if !strings.Contains(s.log.String(), "bind(") && !strings.Contains(s.log.String(), "in use") {
			break
		}
	}
	t.Fatalf("slapdtest: start slapd: %v\nslapd output:\n%s", lastErr, s.log.String())
	return nil
}

// writeLDIF writes the suffix entry and the reader account, then each piece,
// to path, a blank line between them.
func writeLDIF(path string, pieces []func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	_, err = w.WriteString(baseLDIF())
	for _, write := range pieces {
		if err == nil {
			_, err = w.WriteString("\n")
		}
		if err == nil {
			err = write(w)
		}
	}
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// start runs slapd on free ports and waits for it to answer a bind.
func (s *Server) start(bin, conf string, tls bool) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.url = fmt.Sprintf("ldap://127.0.0.1:%d", port)
	listen := s.url + "/"
	if tls {
		p2, err := freePort()
		if err != nil {
			return err
		}
		s.ldapsURL = fmt.Sprintf("ldaps://127.0.0.1:%d", p2)
		listen += " " + s.ldapsURL + "/"
	}
	return s.run(bin, conf, listen)
}

// Restart starts slapd again after Stop, on the same addresses and with the
// same database: a directory server coming back after a crash or a restart.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	bin, conf, listen := s.bin, s.conf, s.listen
	s.mu.Unlock()
	s.Stop()
	var err error
	for range 50 { // the port may linger for a moment after the kill
		if err = s.run(bin, conf, listen); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("slapdtest: restart slapd: %v\nslapd output:\n%s", err, s.log.String())
}

// run runs slapd listening on listen and waits for it to answer a bind.
func (s *Server) run(bin, conf, listen string) error {
	s.log.Reset()
	cmd := exec.Command(bin, "-f", conf, "-h", listen, "-d", "0")
	cmd.Stdout = s.log
	cmd.Stderr = s.log
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.mu.Lock()
	s.cmd, s.exited, s.stopped = cmd, exited, false
	s.bin, s.conf, s.listen = bin, conf, listen
	s.mu.Unlock()

	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		err := s.ping()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("slapd exited: %s", cmd.ProcessState)
		case <-deadline.C:
			s.Stop()
			return fmt.Errorf("slapd did not answer within %s: %w", startTimeout, err)
		case <-tick.C:
		}
	}
}

func (s *Server) ping() error {
	c, err := ldap.DialURL(s.url, ldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetTimeout(time.Second)
	return c.Bind(adminDN, adminPassword)
}

// Stop stops slapd (to simulate the directory going away). It is safe to call
// more than once; the test's cleanup calls it too.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.stopped {
		return
	}
	s.stopped = true
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// URL is the ldap:// URL of the server (StartTLS capable with WithTLS).
func (s *Server) URL() string { return s.url }

// LDAPSURL is the ldaps:// URL of the server; empty without WithTLS.
func (s *Server) LDAPSURL() string { return s.ldapsURL }

// CAFile is the PEM file of the CA that issued the server's certificate;
// empty without WithTLS.
func (s *Server) CAFile() string { return s.caFile }

// BaseDN is the suffix, dc=example,dc=com.
func (s *Server) BaseDN() string { return baseDN }

// AdminDN is the rootdn: not subject to ACLs or limits.
func (s *Server) AdminDN() string { return adminDN }

// AdminPassword is the rootdn's password.
func (s *Server) AdminPassword() string { return adminPassword }

// ReaderDN is a read-only service account, subject to limits: slapd's
// default size limit (500 entries per search, paged or not) unless
// WithSizeLimit or WithUnlimitedPagedReads says otherwise.
func (s *Server) ReaderDN() string { return readerDN }

// ReaderPassword is the reader account's password.
func (s *Server) ReaderPassword() string { return readerPassword }

// EntriesSent returns the number of search result entries the server has
// sent since it started, to every client (cn=Entries,cn=Statistics,
// cn=Monitor; needs WithMonitor). The read itself sends one entry.
func (s *Server) EntriesSent(t testing.TB) int64 {
	t.Helper()
	res, err := s.Conn(t).Search(ldap.NewSearchRequest("cn=Entries,cn=Statistics,cn=Monitor", ldap.ScopeBaseObject,
		ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"monitorCounter"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("slapdtest: read cn=Entries,cn=Statistics,cn=Monitor (start with WithMonitor): %v", err)
	}
	n, err := strconv.ParseInt(res.Entries[0].GetAttributeValue("monitorCounter"), 10, 64)
	if err != nil {
		t.Fatalf("slapdtest: monitorCounter of cn=Entries: %v", err)
	}
	return n
}

// HasMemberOf reports whether the memberof overlay maintains memberOf.
func (s *Server) HasMemberOf() bool { return s.memberOf }

// LockedFilter is a filter matching the accounts created with UserSpec.Locked.
func (s *Server) LockedFilter() string {
	if s.ppolicy {
		return "(pwdAccountLockedTime=*)"
	}
	return "(employeeType=disabled)"
}

// Conn returns a connection bound as the rootdn, closed when t ends.
func (s *Server) Conn(t testing.TB) *ldap.Conn {
	t.Helper()
	c, err := ldap.DialURL(s.url, ldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}))
	if err != nil {
		t.Fatalf("slapdtest: dial %s: %v", s.url, err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetTimeout(30 * time.Second)
	if err := c.Bind(adminDN, adminPassword); err != nil {
		t.Fatalf("slapdtest: bind %s: %v", adminDN, err)
	}
	return c
}

// AddOU creates ou=name under the suffix and returns its DN.
func (s *Server) AddOU(t testing.TB, name string) string {
	t.Helper()
	dn := "ou=" + ldap.EscapeDN(name) + "," + baseDN
	s.Add(t, dn, map[string][]string{
		"objectClass": {"organizationalUnit"},
		"ou":          {name},
	})
	return dn
}

// Add adds an entry with the given attributes.
func (s *Server) Add(t testing.TB, dn string, attrs map[string][]string) {
	t.Helper()
	req := ldap.NewAddRequest(dn, nil)
	for _, name := range sortedKeys(attrs) {
		req.Attribute(name, attrs[name])
	}
	if err := s.Conn(t).Add(req); err != nil {
		t.Fatalf("slapdtest: add %s: %v", dn, err)
	}
}

// UserSpec describes an inetOrgPerson.
type UserSpec struct {
	// UID is the uid and the RDN (uid=UID). When empty, the entry has no uid
	// and its RDN is cn=CN.
	UID         string
	CN          string // default: DisplayName, then UID
	Mail        string
	GivenName   string
	SN          string // default: UID, then CN
	DisplayName string
	// Locked disables the account so that LockedFilter matches it.
	Locked bool
	// Attrs are further attributes (employeeType, title, a second mail...).
	// With WithADSchema, ADUserAttrs gives an AD user instead of an
	// inetOrgPerson (its objectClass replaces the default).
	Attrs map[string][]string
}

// AddUser adds the user under ou and returns its DN.
func (s *Server) AddUser(t testing.TB, ou string, u UserSpec) string {
	t.Helper()
	dn, attrs := s.userEntry(ou, u)
	s.Add(t, dn, attrs)
	return dn
}

func (s *Server) userEntry(ou string, u UserSpec) (string, map[string][]string) {
	cn := firstNonEmpty(u.CN, u.DisplayName, u.UID)
	attrs := map[string][]string{
		"objectClass": {"inetOrgPerson"},
		"cn":          {cn},
		"sn":          {firstNonEmpty(u.SN, u.UID, cn)},
	}
	set := func(name, v string) {
		if v != "" {
			attrs[name] = []string{v}
		}
	}
	set("uid", u.UID)
	set("mail", u.Mail)
	set("givenName", u.GivenName)
	set("displayName", u.DisplayName)
	if u.Locked {
		if s.ppolicy {
			attrs["pwdAccountLockedTime"] = []string{"000001010000Z"}
		} else {
			attrs["employeeType"] = []string{"disabled"}
		}
	}
	for k, v := range u.Attrs {
		attrs[k] = v
	}
	rdn := "uid=" + ldap.EscapeDN(u.UID)
	if u.UID == "" {
		rdn = "cn=" + ldap.EscapeDN(cn)
	}
	return rdn + "," + ou, attrs
}

// ADUserAttrs are the attributes that, with WithADSchema, make an entry an
// Active Directory user: objectClass user (plus extensibleObject, since
// msuser.schema allows sAMAccountName, objectSid... in no class), the values
// mstop requires, and the given objectGUID (16 bytes) and userAccountControl.
func ADUserAttrs(guid []byte, uac int) map[string][]string {
	return map[string][]string{
		"objectClass":          {"user", "extensibleObject"},
		"instanceType":         {"4"},
		"nTSecurityDescriptor": {"\x00"},
		"objectCategory":       {"cn=Person,cn=Schema,cn=Configuration," + baseDN},
		"objectGUID":           {string(guid)},
		"userAccountControl":   {strconv.Itoa(uac)},
	}
}

// Modify replaces the given attributes of dn; an empty value list deletes the
// attribute.
func (s *Server) Modify(t testing.TB, dn string, replace map[string][]string) {
	t.Helper()
	req := ldap.NewModifyRequest(dn, nil)
	for _, name := range sortedKeys(replace) {
		req.Replace(name, replace[name])
	}
	if err := s.Conn(t).Modify(req); err != nil {
		t.Fatalf("slapdtest: modify %s: %v", dn, err)
	}
}

// Delete deletes dn.
func (s *Server) Delete(t testing.TB, dn string) {
	t.Helper()
	if err := s.Conn(t).Del(ldap.NewDelRequest(dn, nil)); err != nil {
		t.Fatalf("slapdtest: delete %s: %v", dn, err)
	}
}

// Rename gives dn the new RDN (e.g. "uid=new") under the same parent and
// returns the new DN.
func (s *Server) Rename(t testing.TB, dn, newRDN string) string {
	t.Helper()
	if err := s.Conn(t).ModifyDN(ldap.NewModifyDNRequest(dn, newRDN, true, "")); err != nil {
		t.Fatalf("slapdtest: rename %s to %s: %v", dn, newRDN, err)
	}
	parsed, err := ldap.ParseDN(dn)
	if err != nil || len(parsed.RDNs) < 2 {
		return newRDN
	}
	parent := &ldap.DN{RDNs: parsed.RDNs[1:]}
	return newRDN + "," + parent.String()
}

// AddGroup adds a groupOfNames cn=cn under ou with the given member DNs and
// returns its DN. groupOfNames needs a member: a group added with none holds
// the empty DN until AddMembers gives it real ones.
func (s *Server) AddGroup(t testing.TB, ou, cn string, members ...string) string {
	t.Helper()
	dn := "cn=" + ldap.EscapeDN(cn) + "," + ou
	if len(members) == 0 {
		members = []string{""}
	}
	s.Add(t, dn, map[string][]string{
		"objectClass": {"groupOfNames"},
		"cn":          {cn},
		"member":      members,
	})
	return dn
}

// AddMembers adds member DNs to a group (for nested and cyclic groups).
func (s *Server) AddMembers(t testing.TB, group string, members ...string) {
	t.Helper()
	req := ldap.NewModifyRequest(group, nil)
	req.Add("member", members)
	if err := s.Conn(t).Modify(req); err != nil {
		t.Fatalf("slapdtest: add members to %s: %v", group, err)
	}
}

// EntryUUID returns dn's entryUUID.
func (s *Server) EntryUUID(t testing.TB, dn string) string {
	t.Helper()
	res, err := s.Conn(t).Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		0, 0, false, "(objectClass=*)", []string{"entryUUID"}, nil))
	if err != nil {
		t.Fatalf("slapdtest: read entryUUID of %s: %v", dn, err)
	}
	if len(res.Entries) != 1 || res.Entries[0].GetAttributeValue("entryUUID") == "" {
		t.Fatalf("slapdtest: %s has no entryUUID", dn)
	}
	return res.Entries[0].GetAttributeValue("entryUUID")
}

// LoadUsers adds n users uid=<ou name>-user-<i> (with mail, names) under ou
// through the running server, several adds in flight at once. For thousands of
// entries, pre-load UsersLDIF with WithLDIF instead.
func (s *Server) LoadUsers(t testing.TB, ou string, n int) {
	t.Helper()
	c := s.Conn(t)
	prefix := rdnValue(ou)
	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if ctx.Err() != nil {
					return
				}
				dn, attrs := s.userEntry(ou, generatedUser(prefix, i))
				req := ldap.NewAddRequest(dn, nil)
				for _, name := range sortedKeys(attrs) {
					req.Attribute(name, attrs[name])
				}
				if err := c.Add(req); err != nil {
					errs <- fmt.Errorf("add %s: %w", dn, err)
					cancel()
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatalf("slapdtest: load users: %v", err)
	}
}

// UsersLDIF returns LDIF for ou=ouName under the suffix holding n users like
// LoadUsers's, for WithLDIF.
func UsersLDIF(ouName string, n int) string {
	var b strings.Builder
	ou := "ou=" + ldap.EscapeDN(ouName) + "," + baseDN
	writeEntry(&b, ou, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {ouName}})
	s := &Server{}
	for i := range n {
		dn, attrs := s.userEntry(ou, generatedUser(ouName, i))
		writeEntry(&b, dn, attrs)
	}
	return b.String()
}

// DatedUsersLDIF is UsersLDIF with each user's modifyTimestamp set by
// modified(i), as in a directory whose users were changed over time rather
// than loaded at once (slapadd keeps the operational attributes it is given).
func DatedUsersLDIF(ouName string, n int, modified func(i int) time.Time) string {
	var b strings.Builder
	ou := "ou=" + ldap.EscapeDN(ouName) + "," + baseDN
	writeEntry(&b, ou, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {ouName}})
	s := &Server{}
	for i := range n {
		dn, attrs := s.userEntry(ou, generatedUser(ouName, i))
		attrs["modifyTimestamp"] = []string{modified(i).UTC().Format("20060102150405Z")}
		writeEntry(&b, dn, attrs)
	}
	return b.String()
}

func generatedUser(prefix string, i int) UserSpec {
	uid := fmt.Sprintf("%s-user-%06d", prefix, i)
	return UserSpec{
		UID:         uid,
		Mail:        uid + "@example.com",
		GivenName:   "User",
		SN:          fmt.Sprintf("Number %d", i),
		DisplayName: fmt.Sprintf("User %d", i),
	}
}

func baseLDIF() string {
	var b strings.Builder
	writeEntry(&b, baseDN, map[string][]string{
		"objectClass": {"dcObject", "organization"},
		"dc":          {"example"},
		"o":           {"example"},
	})
	writeEntry(&b, readerDN, map[string][]string{
		"objectClass":  {"organizationalRole", "simpleSecurityObject"},
		"cn":           {"reader"},
		"userPassword": {readerPassword},
	})
	return b.String()
}

// writeEntry writes one LDIF record, base64-encoding values that are not safe
// strings (RFC 2849).
func writeEntry(b *strings.Builder, dn string, attrs map[string][]string) {
	writeLine(b, "dn", dn)
	for _, name := range sortedKeys(attrs) {
		for _, v := range attrs[name] {
			writeLine(b, name, v)
		}
	}
	b.WriteString("\n")
}

func writeLine(b *strings.Builder, name, v string) {
	if safeString(v) {
		fmt.Fprintf(b, "%s: %s\n", name, v)
		return
	}
	fmt.Fprintf(b, "%s:: %s\n", name, base64.StdEncoding.EncodeToString([]byte(v)))
}

func safeString(v string) bool {
	if v == "" {
		return true
	}
	if !utf8.ValidString(v) || v[0] == ' ' || v[0] == ':' || v[0] == '<' || v[len(v)-1] == ' ' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == 0 || c == '\n' || c == '\r' || c > 127 {
			return false
		}
	}
	return true
}

func rdnValue(dn string) string {
	parsed, err := ldap.ParseDN(dn)
	if err != nil || len(parsed.RDNs) == 0 || len(parsed.RDNs[0].Attributes) == 0 {
		return "x"
	}
	return parsed.RDNs[0].Attributes[0].Value
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// syncBuffer collects slapd's output for failure messages.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}

var errNotInstalled = errors.New("slapd is not installed")
