// Package ldapsource reads the users in scope from an LDAP directory
// (OpenLDAP, Active Directory, ...) and maps them to user.User.
//
// A read is all or nothing: Fetch returns an error, never a partial result,
// when the read was incomplete for any reason (connection lost, cancelled,
// size or time limit, referral, broken paging). Entries that cannot be mapped
// are returned as Skipped, with the reason.
//
// Where each part is:
//
//   - source.go: connecting (LDAPS, StartTLS, plain only when allowed),
//     binding, Fetch and Stream (users handed over page by page, so a run
//     need not hold the directory), and the errors of an incomplete read.
//   - usersearch.go, wire.go, wireconn.go: the paged user search, decoding
//     entries straight from the wire.
//   - mapping.go: an entry to user.User, Active Directory specifics
//     (objectGUID, userAccountControl) included; groups.go: group membership
//     (nested groups, ranged member, member_of scoping).
//   - dedup.go: duplicate IDs, usernames and emails, skipped on both sides.
//   - watch.go, watch_dirsync.go, watch_poll.go: change streams (Watch:
//     syncrepl, AD DirSync, polling) that say who changed; watch_reread.go:
//     Reread, which reads those users again and is the only one to say a user
//     is gone.
//   - config.go: the `ldap:` config section, its defaults and validation.
package ldapsource

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/dirsync/dirsync/transform"
	"github.com/dirsync/dirsync/user"
)

// Source reads users from an LDAP directory. Each Fetch opens its own
// connection; a Source is safe for use by one Fetch at a time.
type Source struct {
	cfg Config
	// password is a function, not a string, so that printing a Source
	// cannot show it.
	password func() (string, error)

	// OnPage, when not nil, is called after each page of the user search with
	// the number of entries in that page (progress reporting).
	OnPage func(entries int)

	// memberRange, when positive, makes group reads ask for member values
	// in ranges of this size from the start. Windows ranges large groups on
	// its own (MaxValRange, 1,500); Samba does not, so its tests set this to
	// exercise ranged retrieval.
	memberRange int

	// testCookie and testMemberStep are test hooks, nil outside tests.
	// testCookie rewrites the paging cookie sent back for the next page of
	// a search (both readers); testMemberStep sees (and may change or fail)
	// the answer to each step of a group's member read.
	testCookie     func(cookie []byte) []byte
	testMemberStep func(step int, res *ldap.SearchResult) error
	// testDirSyncEntries is told how many entries each DirSync answer of a
	// change stream held (a test hook, nil outside tests).
	testDirSyncEntries func(n int)

	// nest is the group graph of ldap.nested_groups (nesting.go).
	nest nestingCache
	// scope is the users the last user read met, for the group push
	// (groupread.go).
	scope scopeCache
	// preview, when not nil, records the first users the reads transform
	// (see PreviewTransform).
	preview *transform.Preview
}

// PreviewTransform makes the reads that follow (Fetch, Stream) record the
// first n users they transform, as mapped and as transformed, in the
// Preview it returns: what `dirsync check` shows. It returns nil when no
// field is transformed.
func (s *Source) PreviewTransform(n int) *transform.Preview {
	s.preview = s.cfg.transform.NewPreview(n)
	return s.preview
}

// Skipped is a directory entry left out of the result, with the reason. ID is
// the entry's stable ID when it could be read, so that its existing account is
// left alone rather than archived.
type Skipped struct {
	DN string
	ID string
	// IDs are the values of an ID attribute that holds several: one of them
	// is the entry's ID, which one cannot be known (see sync.Skip).
	IDs    []string
	Reason string
	// Disabled: the entry is known to be disabled (disabled_filter, or AD's
	// userAccountControl), so its account is archived though it is skipped.
	Disabled bool
	// Withdrawn: Stream had emitted this entry as a user before a later entry
	// collided with it.
	Withdrawn bool
}

// New returns a Source for cfg, which must be valid (see Config.Validate).
func New(cfg Config) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.BaseDNs = slices.Clone(cfg.BaseDNs)
	cfg.Attributes.Extra = maps.Clone(cfg.Attributes.Extra)
	prog, err := cfg.Transform.Compile()
	if err != nil {
		return nil, err
	}
	cfg.transform = prog
	pw, file := cfg.BindPassword, cfg.BindPasswordFile
	cfg.BindPassword = ""
	s := &Source{cfg: cfg}
	s.password = func() (string, error) {
		if file == "" {
			return pw, nil
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("ldap.bind_password_file: %w", err)
		}
		p := strings.TrimRight(string(b), "\r\n")
		if p == "" {
			return "", fmt.Errorf("ldap.bind_password_file: %s is empty", file)
		}
		return p, nil
	}
	return s, nil
}

// Fetch reads every user in scope, active and disabled, normalized and sorted
// by ID, plus the entries in scope it skipped. It returns an error, and no
// users, when the read was incomplete. With member_of, entries outside the
// group are neither returned nor reported as skipped. The disabled search and
// the user search are separate reads: a change between them is seen on the
// next Fetch.
//
// The result maps one to one onto sync.Directory (Skipped onto sync.Skip).
func (s *Source) Fetch(ctx context.Context) ([]user.User, []Skipped, error) {
	var users []user.User
	skipped, err := s.Stream(ctx, func(u user.User) error {
		users = append(users, u)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	users, skipped = withoutWithdrawn(users, skipped)
	return users, skipped, nil
}

// Stream is Fetch handing each user to emit as its page arrives, so the
// directory is never held whole: it keeps per entry only what duplicate
// detection needs. Users come in the server's order. A user emitted can be
// withdrawn later (a later entry shares its ID, username or email): it is
// then in the skipped list with Withdrawn set. An error from emit stops the
// read and is returned. On any error nothing emitted is the directory.
//
// With member_of, membership is known only after the user search, so the
// entries are held until the group walk is done.
func (s *Source) Stream(ctx context.Context, emit func(user.User) error) ([]Skipped, error) {
	conn, closeConn, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer closeConn()

	var disabled map[string]bool
	if s.cfg.DisabledFilter != "" {
		disabled = make(map[string]bool)
		filter := "(&" + s.cfg.UserFilter + s.cfg.DisabledFilter + ")"
		for _, base := range s.cfg.bases() {
			err := s.search(ctx, conn, base, filter, noAttributes, func(e *ldap.Entry) {
				disabled[dnKey(e.DN)] = true
			}, nil)
			if err != nil {
				if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
					return nil, err // the base DN is at fault, whichever search found out
				}
				return nil, fmt.Errorf("search for disabled users (ldap.disabled_filter): %w", err)
			}
		}
	}

	if err := s.refreshNesting(ctx, conn, false); err != nil {
		return nil, err
	}
	d := newDedup(emit)
	m := s.mapper()
	m.preview = s.preview
	scope := s.scope.start()
	bases := s.cfg.bases()
	// seen holds every entry's dnKey when an entry can come twice
	// (overlapping base DNs) or member_of needs the users' DNs.
	var seen map[string]bool
	if len(bases) > 1 || s.cfg.MemberOf != "" {
		seen = make(map[string]bool)
	}
	var held []mapped // member_of: the entries until membership is known
	var emitErr error
	for _, base := range bases {
		err := s.searchUsers(ctx, conn, base, s.cfg.UserFilter, m.attributes(), func(e *ldap.Entry) {
			if emitErr != nil {
				return
			}
			k := dnKey(e.DN)
			if seen != nil {
				if seen[k] { // overlapping base DNs
					return
				}
				seen[k] = true
			}
			me := m.mapEntry(e, k, disabled[k])
			if scope != nil && me.u.ID != "" {
				scope[k] = me.u.ID
			}
			if s.cfg.MemberOf != "" {
				held = append(held, me)
				return
			}
			emitErr = d.add(me)
		}, s.OnPage)
		if err == nil {
			err = emitErr
		}
		if err != nil {
			return nil, err
		}
	}

	if s.cfg.MemberOf != "" {
		members, err := s.groupMembers(ctx, conn, seen)
		if err != nil {
			return nil, err
		}
		for _, me := range held {
			if !members[me.key] {
				continue
			}
			if err := d.add(me); err != nil {
				return nil, err
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.scope.done(scope)
	return d.result(), nil
}

// search runs a paged search (RFC 2696), handing each entry to onEntry as it
// arrives and calling onPage after each page. Any incomplete read is an error.
func (s *Source) search(ctx context.Context, conn *ldap.Conn, base, filter string, attrs []string,
	onEntry func(*ldap.Entry), onPage func(int)) error {
	return s.pages(base, onPage, func(paging *ldap.ControlPaging, timeLimit int) ([]byte, int, error) {
		req := ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
			0, timeLimit, false, filter, attrs, []ldap.Control{paging})
		return s.searchPage(ctx, conn, req, onEntry)
	})
}

// pages is the loop of a paged search (RFC 2696) of base, for both readers:
// page reads one page with the paging control and time limit given and
// returns the server's cookie and the entries read; onPage, when set, is
// called after each page. An error ends the read (through searchError).
func (s *Source) pages(base string, onPage func(int),
	page func(paging *ldap.ControlPaging, timeLimit int) (cookie []byte, n int, err error)) error {
	paging := ldap.NewControlPaging(uint32(s.cfg.PageSize))
	timeLimit := int(max(1, (s.cfg.Timeout.Seconds() + 0.999)))
	for {
		cookie, n, err := page(paging, timeLimit)
		if err != nil {
			return s.searchError(base, err)
		}
		if onPage != nil {
			onPage(n)
		}
		if len(cookie) == 0 {
			return nil
		}
		if s.testCookie != nil {
			cookie = s.testCookie(cookie)
		}
		paging.SetCookie(cookie)
	}
}

// errConnectionLost: the connection closed before the search ended.
var errConnectionLost = errors.New("the connection to the server was lost before the search ended")

// errNoPaging: the server ignored the paging control.
var errNoPaging = errors.New("the server answered without a paging control (RFC 2696); it must support paged results")

func (s *Source) searchPage(ctx context.Context, conn *ldap.Conn, req *ldap.SearchRequest,
	onEntry func(*ldap.Entry)) (cookie []byte, n int, err error) {
	// Cancelling pageCtx on return releases go-ldap's reader goroutine if we
	// stop reading early.
	pageCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	res := conn.SearchAsync(pageCtx, req, 64)
	var pagingDone *ldap.ControlPaging
	for res.Next() {
		if e := res.Entry(); e != nil {
			n++
			onEntry(e)
			continue
		}
		if ref := res.Referral(); ref != "" {
			if adNonDomainPartition(ref) {
				continue
			}
			return nil, n, &referralError{ref: ref}
		}
		if c, ok := ldap.FindControl(res.Controls(), ldap.ControlTypePaging).(*ldap.ControlPaging); ok {
			pagingDone = c
		}
	}
	// go-ldap ends the stream without an error when ctx is cancelled: a
	// cancelled read must not look like a smaller directory.
	if err := ctx.Err(); err != nil {
		return nil, n, err
	}
	if err := res.Err(); err != nil {
		// Depending on timing, a dropped connection shows up as the
		// reader's error ("unable to read LDAP response packet: EOF") on a
		// closing connection, or as the silent end below.
		if conn.IsClosing() || ldap.IsErrorWithCode(err, ldap.ErrorNetwork) {
			return nil, n, fmt.Errorf("%w: %w", errConnectionLost, err)
		}
		return nil, n, err
	}
	if pagingDone == nil {
		// go-ldap also ends the stream without an error when the
		// connection drops.
		if conn.IsClosing() {
			return nil, n, errConnectionLost
		}
		return nil, n, errNoPaging
	}
	return pagingDone.Cookie, n, nil
}

type referralError struct{ ref string }

// adNonDomainPartition reports whether a search continuation reference
// points at one of Active Directory's partitions that never hold users: the
// configuration partition (CN=Configuration,...) and the DNS application
// partitions (DC=DomainDnsZones,... and DC=ForestDnsZones,...). A subtree
// search from a forest root domain's DN always returns references to them;
// they are not part of the users' subtree, so skipping them leaves the read
// complete. Any other reference (a child domain, another server) is still an
// incomplete read.
func adNonDomainPartition(ref string) bool {
	u, err := url.Parse(ref)
	if err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") {
		return false
	}
	dn, err := ldap.ParseDN(strings.TrimPrefix(u.Path, "/"))
	if err != nil || len(dn.RDNs) < 2 || len(dn.RDNs[0].Attributes) != 1 {
		return false
	}
	a := dn.RDNs[0].Attributes[0]
	switch {
	case strings.EqualFold(a.Type, "CN") && strings.EqualFold(a.Value, "Configuration"):
	case strings.EqualFold(a.Type, "DC") && (strings.EqualFold(a.Value, "DomainDnsZones") || strings.EqualFold(a.Value, "ForestDnsZones")):
	default:
		return false
	}
	// The rest must be a domain DN: DC=... components only.
	for _, r := range dn.RDNs[1:] {
		if len(r.Attributes) != 1 || !strings.EqualFold(r.Attributes[0].Type, "DC") {
			return false
		}
	}
	return true
}

func (e *referralError) Error() string {
	return "the server returned a referral to " + e.ref
}

// searchError wraps a search error with its base DN and, for the usual
// causes, what to do.
func (s *Source) searchError(base string, err error) error {
	var ref *referralError
	err = withoutEmptyDiagnostic(err)
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("ldap search %s: read interrupted: %w", base, err)
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return fmt.Errorf("ldap search %s: %w: the base DN does not exist on the server; check its spelling in ldap.base_dn / ldap.base_dns", base, err)
	case ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded):
		return fmt.Errorf("ldap search %s: the server's size limit cut the result short; raise the limit for the bind account "+
			"(OpenLDAP holds even a paged search to its default 500 entries: add %s) "+
			"(partial reads are never used): %w", base, s.limitsLine("size.prtotal=unlimited"), err)
	case ldap.IsErrorWithCode(err, ldap.LDAPResultTimeLimitExceeded):
		return fmt.Errorf("ldap search %s: time limit exceeded; raise ldap.timeout or the server's time limit: %w", base, err)
	case ldap.IsErrorWithCode(err, ldap.LDAPResultReferral), errors.As(err, &ref):
		return fmt.Errorf("ldap search %s: referrals are not followed; point ldap.url at a server holding the whole base DN (on AD, a global catalog, port 3269): %w", base, err)
	default:
		return fmt.Errorf("ldap search %s: %w", base, err)
	}
}

// connect dials, upgrades to TLS when asked and binds. The connection is
// closed when ctx is done, which interrupts any request in flight.
func (s *Source) connect(ctx context.Context) (*ldap.Conn, func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	u, err := url.Parse(s.cfg.URL)
	if err != nil {
		return nil, nil, fmt.Errorf("ldap.url: %w", err)
	}
	tlsCfg, err := s.tlsConfig(u.Hostname())
	if err != nil {
		return nil, nil, err
	}
	opts := []ldap.DialOpt{ldap.DialWithDialer(&net.Dialer{Timeout: s.cfg.Timeout})}
	if u.Scheme == "ldaps" {
		opts = append(opts, ldap.DialWithTLSConfig(tlsCfg))
	}
	conn, err := ldap.DialURL(s.cfg.URL, opts...)
	if err != nil {
		if u.Scheme == "ldaps" && notTLS(err) {
			return nil, nil, fmt.Errorf("ldap connect %s: the server did not speak TLS (%w): this port serves plain LDAP; "+
				"use ldap:// with ldap.start_tls: true, or the LDAPS port (636)", s.cfg.URL, err)
		}
		return nil, nil, fmt.Errorf("ldap connect %s: %w", s.cfg.URL, err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	closeConn := func() {
		stop()
		conn.Close()
	}
	conn.SetTimeout(s.cfg.Timeout)

	fail := func(err error) (*ldap.Conn, func(), error) {
		closeConn()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, nil, fmt.Errorf("%w (%w)", err, ctxErr)
		}
		return nil, nil, err
	}
	if err := s.handshake(tlsCfg, conn.StartTLS, conn.Bind); err != nil {
		return fail(err)
	}
	return conn, closeConn, nil
}

// handshake secures a new connection with StartTLS when ldap.start_tls asks
// and binds as ldap.bind_dn, with errors that say what to fix. Both
// connections (go-ldap's and the user search's) use it.
func (s *Source) handshake(tlsCfg *tls.Config, startTLS func(*tls.Config) error, bind func(dn, password string) error) error {
	if s.cfg.StartTLS {
		if err := startTLS(tlsCfg); err != nil {
			return fmt.Errorf("ldap starttls %s: the server refused or failed StartTLS (use ldaps://, or fix the server's TLS setup): %w", s.cfg.URL, err)
		}
	}
	if s.cfg.BindDN == "" {
		return nil
	}
	pw, err := s.password()
	if err != nil {
		return err
	}
	if err := bind(s.cfg.BindDN, pw); err != nil {
		err = withoutEmptyDiagnostic(err)
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			return fmt.Errorf("ldap bind as %s: invalid credentials (check ldap.bind_dn and the password): %w", s.cfg.BindDN, err)
		}
		return fmt.Errorf("ldap bind as %s: %w", s.cfg.BindDN, err)
	}
	return nil
}

func (s *Source) tlsConfig(host string) (*tls.Config, error) {
	c := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         cmp.Or(s.cfg.ServerName, host),
		InsecureSkipVerify: s.cfg.InsecureSkipVerify, //nolint:gosec // opt-in, documented as testing only
	}
	if s.cfg.CAFile != "" {
		pem, err := os.ReadFile(s.cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ldap.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ldap.ca_file: %s holds no PEM certificate", s.cfg.CAFile)
		}
		c.RootCAs = pool
	}
	return c, nil
}

// dnKey is the form in which DNs are compared: normalized and lower-cased.
// It is computed for every entry read, so the common case (plain ASCII, no
// escapes, no multi-valued RDN) is handled by fastDNKey; anything else goes
// through ldap.ParseDN. Both give the same key for the same DN.
func dnKey(dn string) string {
	if k, ok := fastDNKey(dn); ok {
		return k
	}
	return parsedDNKey(dn)
}

// parsedDNKey is dnKey by ldap.ParseDN: the reference for fastDNKey.
func parsedDNKey(dn string) string {
	if parsed, err := ldap.ParseDN(dn); err == nil {
		return strings.ToLower(parsed.String())
	}
	return strings.ToLower(strings.TrimSpace(dn))
}

// fastDNKey returns what parsedDNKey returns, without parsing, for DNs made
// only of printable ASCII with no escapes, quotes, '+', ';', '<', '>' or '#',
// in which every RDN has a non-empty type: lower-cased, with the spaces around
// each type and value removed. ok is false for any other DN.
func fastDNKey(dn string) (key string, ok bool) {
	// First pass: check the DN is simple, and whether it is already a key.
	canonical := true
	hasType := false // the current RDN has a '=' after a non-space
	typeStart := true
	for i := 0; i < len(dn); i++ {
		c := dn[i]
		switch {
		case c < ' ' || c > '~':
			return "", false
		case c == '\\' || c == '"' || c == '+' || c == ';' || c == '<' || c == '>' || c == '#':
			return "", false
		case c == ',':
			if !hasType {
				return "", false
			}
			hasType, typeStart = false, true
		case c == '=':
			if !hasType {
				if typeStart { // empty type
					return "", false
				}
				hasType = true
			}
		case c == ' ':
			if i == 0 || i == len(dn)-1 || dn[i-1] == ',' || dn[i-1] == '=' || dn[i+1] == ',' || dn[i+1] == '=' {
				canonical = false
			}
		case 'A' <= c && c <= 'Z':
			canonical = false
			typeStart = false
		default:
			typeStart = false
		}
	}
	if !hasType {
		return "", false
	}
	if canonical {
		return dn, true
	}
	// Second pass: build the key. Spaces that end a type or value are
	// dropped when the ',' or '=' (or the end) that follows is reached.
	var buf [256]byte // most DNs fit: the key is then the only allocation
	b := buf[:0]
	inType := true
	atStart := true // at the start of a type or value: skip spaces
	for i := 0; i < len(dn); i++ {
		c := dn[i]
		switch {
		case c == ',':
			b = trimRightSpaces(b)
			b = append(b, ',')
			inType, atStart = true, true
		case c == '=' && inType:
			b = trimRightSpaces(b)
			b = append(b, '=')
			inType, atStart = false, true
		case c == ' ' && atStart:
		default:
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b = append(b, c)
			atStart = false
		}
	}
	return string(trimRightSpaces(b)), true
}

func trimRightSpaces(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return b
}

// noAttributes requests no attributes (RFC 4511 "1.1"): only DNs.
var noAttributes = []string{"1.1"}

// notTLS reports whether a TLS handshake failed because the server answered
// in something other than TLS: a plain LDAP server closes the connection on
// the ClientHello (EOF) or answers it with an LDAP message.
func notTLS(err error) bool {
	var rh tls.RecordHeaderError
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &rh)
}

// withoutEmptyDiagnostic returns err printed without the empty diagnostic
// message go-ldap leaves at the end of a result error when the server sent
// none (`LDAP Result Code 32 "No Such Object": `). It still wraps err.
func withoutEmptyDiagnostic(err error) error {
	var le *ldap.Error
	if !errors.As(err, &le) || (le.Err != nil && le.Err.Error() != "") {
		return err
	}
	msg := err.Error()
	if !strings.HasSuffix(msg, ": ") {
		return err
	}
	return &tidyError{msg: strings.TrimSuffix(msg, ": "), err: err}
}

type tidyError struct {
	msg string
	err error
}

func (e *tidyError) Error() string { return e.msg }
func (e *tidyError) Unwrap() error { return e.err }
