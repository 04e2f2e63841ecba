package ldapsource

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Watch modes, the values of ldap.watch.
const (
	WatchOff      = "off"
	WatchAuto     = "auto"
	WatchSyncrepl = "syncrepl"
	WatchDirSync  = "dirsync"
	WatchPoll     = "poll"
)

var watchModes = []string{WatchOff, WatchAuto, WatchSyncrepl, WatchDirSync, WatchPoll}

// Change is one batch of what a change stream reported. The entries it names
// are to be read again (see Reread): a change stream only says who changed,
// never what the user now is, and never on its own that someone is gone.
type Change struct {
	// Stream is the key of the stream that reported it (see StreamKeys):
	// the key its cookie is kept under.
	Stream string
	// IDs are the directory IDs of entries added, modified, moved, disabled
	// or deleted.
	IDs []string
	// DNs are entries the stream named only by DN (a delete, when
	// ldap.id_attribute is not entryUUID): whoever keeps the users by DN
	// resolves them to IDs.
	DNs []string
	// Cookie is the stream's position once these changes are applied: keep
	// it, and pass it to the next Watch, only then. Nil: unchanged.
	Cookie []byte
	// Resync says the stream cannot tell what changed before this point (it
	// started without a cookie, the server refused the cookie, or it resent
	// the whole content): the whole directory must be read again before the
	// cookie is kept.
	Resync bool
}

// WatchHooks receive what the watcher sees. They are called from the
// watcher's goroutines (one per base DN), so they must be safe for
// concurrent use, and quick: the stream waits for them.
type WatchHooks struct {
	// Change is called for each batch of changes, in order within a stream.
	Change func(Change)
	// Connected is called when a stream is up (err nil: the server
	// answered its first query, a syncrepl refresh or the first poll) and
	// when it drops (err says why: ErrStreamRefused marks a refusal that
	// needs the server or ldap.watch changed, ErrFallingBack a fall back,
	// see Mode).
	Connected func(stream string, up bool, err error)
	// Mode, when not nil, is told the mode in force once auto is resolved,
	// and again whenever a stream falls back to another mode.
	Mode func(stream, mode string)
}

// Backoff bounds for reconnecting a change stream.
const (
	watchBackoffMin = 500 * time.Millisecond
	watchBackoffMax = time.Minute
)

// StreamKeys returns, for each base DN, the key under which its stream's
// cookie is kept. The key is derived from everything that decides what the
// stream reports (server URL, base DN, filters, ID attribute, mode), so a
// cookie is never reused for a different query.
func (s *Source) StreamKeys(mode string) map[string]string {
	out := make(map[string]string)
	for _, base := range s.cfg.bases() {
		out[base] = s.streamKey(mode, base)
	}
	return out
}

func (s *Source) streamKey(mode, base string) string {
	h := sha256.New()
	for _, part := range []string{mode, strings.ToLower(s.cfg.URL), dnKey(base), s.cfg.UserFilter,
		strings.ToLower(s.cfg.IDAttribute)} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return "watch." + mode + "." + hex.EncodeToString(h.Sum(nil))[:16]
}

// Root DSE values that tell what a server supports.
const (
	oidSyncRequest = ldap.ControlTypeSyncRequest // RFC 4533
	oidDirSync     = ldap.ControlTypeDirSync     // MS-ADTS 3.1.1.3.4.1.3
	// oidADCapability is LDAP_CAP_ACTIVE_DIRECTORY_OID in supportedCapabilities.
	oidADCapability = "1.2.840.113556.1.4.800"
)

// serverInfo is what the root DSE says.
type serverInfo struct {
	controls []string
	ad       bool
	// highestUSN is AD's highestCommittedUSN (0 elsewhere).
	highestUSN int64
}

func (s *Source) rootDSE(conn *ldap.Conn) (serverInfo, error) {
	req := ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"supportedControl", "supportedCapabilities", "highestCommittedUSN"}, nil)
	res, err := conn.Search(req)
	if err != nil {
		return serverInfo{}, fmt.Errorf("read the root DSE: %w", err)
	}
	if len(res.Entries) == 0 {
		return serverInfo{}, errors.New("read the root DSE: the server returned no entry")
	}
	e := res.Entries[0]
	info := serverInfo{
		controls: e.GetAttributeValues("supportedControl"),
		ad:       slices.Contains(e.GetAttributeValues("supportedCapabilities"), oidADCapability),
	}
	if v := e.GetAttributeValue("highestCommittedUSN"); v != "" {
		info.highestUSN, _ = strconv.ParseInt(v, 10, 64)
	}
	return info, nil
}

// ResolveWatchMode returns the mode ldap.watch asks for, resolving auto from
// the server's root DSE: syncrepl when it offers RFC 4533 content
// synchronization, dirsync when it is Active Directory with the DirSync
// control, poll otherwise.
func (s *Source) ResolveWatchMode(ctx context.Context) (string, error) {
	mode := s.cfg.Watch
	if mode == "" {
		mode = WatchOff
	}
	if mode != WatchAuto {
		return mode, nil
	}
	conn, closeConn, err := s.connect(ctx)
	if err != nil {
		return "", err
	}
	defer closeConn()
	info, err := s.rootDSE(conn)
	if err != nil {
		return "", err
	}
	return autoMode(info), nil
}

func autoMode(info serverInfo) string {
	switch {
	case slices.Contains(info.controls, oidSyncRequest):
		return WatchSyncrepl
	case info.ad && slices.Contains(info.controls, oidDirSync):
		return WatchDirSync
	default:
		return WatchPoll
	}
}

// Watch follows the directory's changes in mode (resolved: not auto, not
// off) until ctx is done, one stream per base DN, and returns ctx's error.
// cookies holds the cookies kept from earlier Changes, by stream key; a
// stream without one starts with a Change whose Resync is set. A stream that
// falls back to poll (see WatchHooks.Mode) resumes from the cookie kept under
// its poll key (StreamKeys(WatchPoll)), when cookies holds one. A dropped
// connection is retried with backoff (500ms doubling to 1m); a cookie the
// server refuses is dropped, and the stream starts again with Resync set.
// Nothing the stream says on its own is taken as a delete: it names entries
// to read again.
func (s *Source) Watch(ctx context.Context, mode string, cookies map[string][]byte, h WatchHooks) error {
	if h.Change == nil {
		return errors.New("ldapsource: Watch needs a Change hook")
	}
	if h.Connected == nil {
		h.Connected = func(string, bool, error) {}
	}
	if h.Mode == nil {
		h.Mode = func(string, string) {}
	}
	switch mode {
	case WatchSyncrepl, WatchDirSync, WatchPoll:
	default:
		return fmt.Errorf("ldapsource: Watch in mode %q: want %s, %s or %s", mode, WatchSyncrepl, WatchDirSync, WatchPoll)
	}
	done := make(chan struct{})
	bases := s.cfg.bases()
	for _, base := range bases {
		st := &stream{s: s, base: base, mode: mode, h: h, kept: cookies}
		st.key = s.streamKey(mode, base)
		st.cookie = cookies[st.key]
		go func() {
			defer func() { done <- struct{}{} }()
			st.run(ctx)
		}()
	}
	for range bases {
		<-done
	}
	return ctx.Err()
}

// stream follows one base DN.
type stream struct {
	s      *Source
	base   string
	mode   string
	key    string
	h      WatchHooks
	cookie []byte // the last cookie the stream reported (not necessarily kept yet)
	// kept are the cookies passed to Watch: a stream that falls back to
	// another mode resumes from the one kept under that mode's key.
	kept map[string][]byte
	// poll state: the entries seen at the mark's second (by ID, a digest of
	// their content), not to be reported again unless they change.
	atMark map[string]string
	// noStartCookie: the server refused a cookie built from its
	// contextCSN; start without a cookie from then on.
	noStartCookie bool
	// startCookie is the cookie built from the contextCSN, while it is the
	// one the stream uses.
	startCookie []byte
}

// errCookieRefused: the server will not resume from the cookie.
var errCookieRefused = errors.New("the server refused the saved cookie")

// errStreamEnded: the server ended a persistent search without an error.
var errStreamEnded = errors.New("the server ended the change stream")

// ErrFallingBack marks the error with which a stream of ldap.watch: auto
// stops before it falls back to another mode (WatchHooks.Mode is told which):
// the error says why.
var ErrFallingBack = errors.New("the change stream falls back to another mode")

// ErrStreamRefused marks a stream error that retrying will not heal: the
// server refuses the stream as it is set up (its size limit, no syncprov, no
// right for the bind account). The error says what to change. The stream is
// still retried with backoff, should the server be changed.
var ErrStreamRefused = errors.New("the directory refuses the change stream")

// errFallback: the server refuses the mode; fall back to another.
type errFallback struct {
	to  string
	err error
}

func (e *errFallback) Error() string        { return e.err.Error() }
func (e *errFallback) Unwrap() error        { return e.err }
func (e *errFallback) Is(target error) bool { return target == ErrFallingBack }

// refusedError is an error marked ErrStreamRefused.
type refusedError struct{ err error }

func (e *refusedError) Error() string        { return e.err.Error() }
func (e *refusedError) Unwrap() error        { return e.err }
func (e *refusedError) Is(target error) bool { return target == ErrStreamRefused }

// refused marks err as ErrStreamRefused.
func refused(err error) error { return &refusedError{err: err} }

// sizeLimited reports whether err is the server's size (or administrative)
// limit cutting a search short.
func sizeLimited(err error) bool {
	return ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) ||
		ldap.IsErrorWithCode(err, ldap.LDAPResultAdminLimitExceeded)
}

func (st *stream) run(ctx context.Context) {
	backoff := watchBackoffMin
	for ctx.Err() == nil {
		started := time.Now()
		var err error
		switch st.mode {
		case WatchSyncrepl:
			err = st.syncrepl(ctx)
		case WatchDirSync:
			err = st.dirsync(ctx)
		default:
			err = st.poll(ctx)
		}
		if ctx.Err() != nil {
			return
		}
		var fb *errFallback
		switch {
		case errors.As(err, &fb):
			st.h.Connected(st.key, false, err)
			st.mode = fb.to
			st.key = st.s.streamKey(st.mode, st.base)
			st.cookie = st.kept[st.key]
			st.h.Mode(st.key, st.mode)
			continue
		case errors.Is(err, errCookieRefused):
			if st.startCookie != nil && string(st.cookie) == string(st.startCookie) {
				st.noStartCookie = true
			}
			st.cookie = nil
		case sizeLimited(err) && !errors.Is(err, ErrStreamRefused):
			err = refused(err) // a paged poll query the server still limits
		}
		st.h.Connected(st.key, false, err)
		if time.Since(started) > watchBackoffMax {
			backoff = watchBackoffMin // it had been up for a while: a fresh failure
		}
		wait := backoff/2 + rand.N(backoff/2+1) // jitter: not every instance at once
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		backoff = min(2*backoff, watchBackoffMax)
	}
}

// emit hands a change on, remembering its cookie.
func (st *stream) emit(c Change) {
	c.Stream = st.key
	if c.Cookie != nil {
		st.cookie = c.Cookie
	}
	if len(c.IDs) == 0 && len(c.DNs) == 0 && c.Cookie == nil && !c.Resync {
		return
	}
	st.h.Change(c)
}

// persistentConn connects for a search that lasts: no per-request timeout
// (go-ldap's would end it), TCP keep-alives to notice a dead peer.
func (st *stream) persistentConn(ctx context.Context) (*ldap.Conn, func(), error) {
	conn, closeConn, err := st.s.connect(ctx)
	if err != nil {
		return nil, nil, err
	}
	conn.SetTimeout(0)
	return conn, closeConn, nil
}

// syncrepl runs one RFC 4533 refreshAndPersist search until it ends. The
// refresh phase's changes are reported in one Change when it is done (with
// the cookie that covers them); each change after that as it comes.
func (st *stream) syncrepl(ctx context.Context) error {
	conn, closeConn, err := st.persistentConn(ctx)
	if err != nil {
		return err
	}
	defer closeConn()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()

	m := newMapper(st.s.cfg)
	byUUID := strings.EqualFold(st.s.cfg.IDAttribute, "entryUUID")
	if st.cookie == nil && !st.noStartCookie {
		// Start from the server's current state, not from nothing: a
		// refresh without a cookie lists every entry in scope in one
		// unpaged search, which the size limit of an ordinary account
		// (OpenLDAP's default: 500) cuts short, and which the full read
		// this stream asks for reads again anyway. Changes after this
		// cookie come by the stream.
		if c := st.s.startCookie(conn, st.base); c != nil {
			st.startCookie = c
			st.emit(Change{Resync: true, Cookie: c})
		}
	}
	req := ldap.NewSearchRequest(st.base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		st.s.cfg.UserFilter, []string{st.s.cfg.IDAttribute}, nil)
	resumed := st.cookie != nil
	fromStart := resumed && st.startCookie != nil && string(st.cookie) == string(st.startCookie)
	res := conn.Syncrepl(sctx, req, 256, ldap.SyncRequestModeRefreshAndPersist, st.cookie, false)

	refreshing := true
	// The refresh phase's changes, reported together when it ends.
	pending := Change{Resync: !resumed}
	var pendingCookie []byte
	finishRefresh := func(cookie []byte) {
		if !refreshing {
			return
		}
		refreshing = false
		// Up once the server has answered the refresh: a server that
		// refuses the stream does so before.
		st.h.Connected(st.key, true, nil)
		if cookie == nil {
			cookie = pendingCookie
		}
		pending.Cookie = cookie
		if pending.Resync {
			// The whole directory is read again: the entries named are in it.
			pending.IDs, pending.DNs = nil, nil
		}
		st.emit(pending)
		pending = Change{} // the persist phase starts clean
	}
	for res.Next() {
		if e := res.Entry(); e != nil {
			c := Change{}
			state, _ := ldap.FindControl(res.Controls(), ldap.ControlTypeSyncState).(*ldap.ControlSyncState)
			if state == nil {
				continue // not part of the sync content
			}
			switch state.State {
			case ldap.SyncStatePresent:
				// Resent as present: whatever is not is gone, and there is no
				// telling which entries those are without reading them all.
				pending.Resync = true
			case ldap.SyncStateDelete:
				if byUUID {
					c.IDs = append(c.IDs, state.EntryUUID.String())
				} else {
					c.DNs = append(c.DNs, e.DN)
				}
			default: // add, modify
				if id, reason := m.id(e); reason == "" {
					c.IDs = append(c.IDs, id)
				} else {
					c.DNs = append(c.DNs, e.DN)
				}
			}
			if refreshing {
				if !pending.Resync { // a full read covers them otherwise
					pending.IDs = append(pending.IDs, c.IDs...)
					pending.DNs = append(pending.DNs, c.DNs...)
				}
				if state.Cookie != nil {
					pendingCookie = state.Cookie
				}
				continue
			}
			c.Cookie = state.Cookie
			st.emit(c)
			continue
		}
		if res.Referral() != "" {
			continue
		}
		for _, ctl := range res.Controls() {
			switch c := ctl.(type) {
			case *ldap.ControlSyncInfo:
				switch {
				case c.NewCookie != nil:
					if refreshing {
						pendingCookie = c.NewCookie.Cookie
					} else {
						st.emit(Change{Cookie: c.NewCookie.Cookie})
					}
				case c.RefreshDelete != nil:
					if c.RefreshDelete.Cookie != nil {
						pendingCookie = c.RefreshDelete.Cookie
					}
					if c.RefreshDelete.RefreshDone {
						finishRefresh(nil)
					}
				case c.RefreshPresent != nil:
					// A present phase: entries not listed are gone.
					pending.Resync = true
					if c.RefreshPresent.Cookie != nil {
						pendingCookie = c.RefreshPresent.Cookie
					}
					if c.RefreshPresent.RefreshDone {
						finishRefresh(nil)
					}
				case c.SyncIdSet != nil:
					ids := c.SyncIdSet
					if !ids.RefreshDeletes || !byUUID {
						pending.Resync = true // present UUIDs, or UUIDs that are not our IDs
					} else {
						for _, u := range ids.SyncUUIDs {
							pending.IDs = append(pending.IDs, u.String())
						}
					}
					if ids.Cookie != nil {
						pendingCookie = ids.Cookie
					}
					if !refreshing && !pending.Resync {
						// A syncIdSet in the persist phase: deletes.
						st.emit(Change{IDs: pending.IDs, Cookie: ids.Cookie})
						pending.IDs = nil
					} else if !refreshing {
						st.emit(Change{Resync: true, Cookie: ids.Cookie})
						pending = Change{}
					}
				}
			case *ldap.ControlSyncDone:
				// refreshOnly, or the end of the search.
				finishRefresh(c.Cookie)
			}
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	err = res.Err()
	if err == nil {
		return errStreamEnded
	}
	return st.syncreplError(err, resumed, fromStart)
}

// syncreplError says what a content synchronization search's error means:
// a refused cookie, a fall back (ldap.watch: auto), a refusal that needs the
// server or the config changed, or a failure to retry. resumed: the search
// had a cookie; fromStart: the one built from the contextCSN.
func (st *stream) syncreplError(err error, resumed, fromStart bool) error {
	switch {
	case sizeLimited(err) && resumed && !fromStart:
		// More entries changed since the saved cookie than the limit lets
		// a refresh send: start again from the server's current state.
		return fmt.Errorf("%w: the server's size limit cuts short the refresh from it (more entries changed since than the limit lets through); "+
			"starting again from the server's current state, with a full read: %w", errCookieRefused, err)
	case ldap.IsErrorWithCode(err, ldapSyncRefreshRequired):
		return fmt.Errorf("%w (e-syncRefreshRequired): %w", errCookieRefused, err)
	case resumed && (ldap.IsErrorWithCode(err, ldap.LDAPResultProtocolError) ||
		ldap.IsErrorWithCode(err, ldap.LDAPResultUnwillingToPerform)):
		// OpenLDAP answers a cookie it cannot use with protocolError, or,
		// when the cookie is ahead of it (a database restored from a
		// backup), with unwillingToPerform.
		return fmt.Errorf("%w: %w", errCookieRefused, err)
	case ldap.IsErrorWithCode(err, ldap.LDAPResultUnavailableCriticalExtension) && st.s.cfg.Watch == WatchAuto:
		return &errFallback{to: WatchPoll, err: fmt.Errorf("ldap sync %s: the server does not offer content synchronization for this base DN; polling instead: %w", st.base, err)}
	case ldap.IsErrorWithCode(err, ldap.LDAPResultUnavailableCriticalExtension):
		return refused(fmt.Errorf("ldap sync %s: the server does not offer content synchronization (RFC 4533) here: load the syncprov overlay on this database, or set ldap.watch: poll: %w", st.base, err))
	case ldap.IsErrorWithCode(err, ldap.LDAPResultInsufficientAccessRights) && st.s.cfg.Watch == WatchAuto:
		return &errFallback{to: WatchPoll, err: fmt.Errorf("ldap sync %s: the bind account may not use content synchronization; polling instead (grant it, see the README): %w", st.base, err)}
	case ldap.IsErrorWithCode(err, ldap.LDAPResultInsufficientAccessRights):
		return refused(fmt.Errorf("ldap sync %s: the bind account may not use content synchronization: grant it (see the README) or set ldap.watch: poll: %w", st.base, err))
	case sizeLimited(err) && st.s.cfg.Watch == WatchAuto:
		return &errFallback{to: WatchPoll, err: fmt.Errorf("ldap sync %s: %s; polling instead: %w", st.base, st.sizeLimitFix(), err)}
	case sizeLimited(err):
		return refused(fmt.Errorf("ldap sync %s: %s, or set ldap.watch: poll: %w", st.base, st.sizeLimitFix(), err))
	}
	return fmt.Errorf("ldap sync %s: %w", st.base, err)
}

// CheckWatch tries, without following anything, what the change stream of
// ldap.watch needs, for `dirsync check`: it resolves auto, and for syncrepl
// runs, for each base DN, a refreshOnly search from where a new stream
// starts (the contextCSN cookie, or no cookie). It returns the mode and one
// error per base DN whose stream would not stay up: marked ErrFallingBack
// (auto falls back to poll) or ErrStreamRefused, saying what to change.
func (s *Source) CheckWatch(ctx context.Context) (string, []error, error) {
	mode, err := s.ResolveWatchMode(ctx)
	if err != nil || mode != WatchSyncrepl {
		return mode, nil, err
	}
	var problems []error
	for _, base := range s.cfg.bases() {
		if err := s.checkSyncrepl(ctx, base); err != nil {
			problems = append(problems, err)
		}
	}
	return mode, problems, nil
}

func (s *Source) checkSyncrepl(ctx context.Context, base string) error {
	conn, closeConn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer closeConn()
	st := &stream{s: s, base: base, mode: WatchSyncrepl}
	cookie := s.startCookie(conn, base)
	req := ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		s.cfg.UserFilter, []string{"1.1"}, nil)
	res := conn.Syncrepl(ctx, req, 64, ldap.SyncRequestModeRefreshOnly, cookie, false)
	for res.Next() {
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := res.Err(); err != nil {
		return st.syncreplError(err, cookie != nil, cookie != nil)
	}
	return nil
}

// sizeLimitFix says why a size limit stops the stream and what to change.
func (st *stream) sizeLimitFix() string {
	return "the server's size limit for the bind account cuts the content synchronization short (its refresh lists the entries in scope in one unpaged search " +
		"when the server cannot resume from its contextCSN): lift the limit for that account " +
		"(OpenLDAP: " + st.s.limitsLine("size=unlimited") + ") to stream changes"
}

// limitsLine is the OpenLDAP limits directive that sets limit for the bind
// account.
func (s *Source) limitsLine(limit string) string {
	if s.cfg.BindDN == "" {
		return "limits anonymous " + limit
	}
	return fmt.Sprintf("limits dn.exact=%q %s", s.cfg.BindDN, limit)
}

// startCookie returns a content synchronization (RFC 4533) cookie for the
// state the server holds now: rid=000,csn=<the contextCSN values of the
// naming context that holds base>. A refresh from it sends only what changed
// since. It returns nil when the server shows no contextCSN there (not
// readable by the bind account, or no syncprov on that database).
func (s *Source) startCookie(conn *ldap.Conn, base string) []byte {
	csns := s.contextCSN(conn, base)
	if len(csns) == 0 {
		return nil
	}
	return []byte("rid=000,csn=" + strings.Join(csns, ";"))
}

// contextCSN returns the contextCSN values of the naming context that holds
// base, or nil when the server shows none there (not readable by the bind
// account, or nothing maintains it on that database).
func (s *Source) contextCSN(conn *ldap.Conn, base string) []string {
	res, err := conn.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"namingContexts"}, nil))
	if err != nil || len(res.Entries) == 0 {
		return nil
	}
	b, err := ldap.ParseDN(base)
	if err != nil {
		return nil
	}
	var nc string
	var ncLen int
	for _, v := range res.Entries[0].GetAttributeValues("namingContexts") {
		d, err := ldap.ParseDN(v)
		if err != nil || !(d.EqualFold(b) || d.AncestorOfFold(b)) || (nc != "" && len(d.RDNs) <= ncLen) {
			continue
		}
		nc, ncLen = v, len(d.RDNs)
	}
	if nc == "" {
		return nil
	}
	res, err = conn.Search(ldap.NewSearchRequest(nc, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"contextCSN"}, nil))
	if err != nil || len(res.Entries) == 0 {
		return nil
	}
	return res.Entries[0].GetAttributeValues("contextCSN")
}

// ldapSyncRefreshRequired is RFC 4533's e-syncRefreshRequired result code.
const ldapSyncRefreshRequired = 4096
