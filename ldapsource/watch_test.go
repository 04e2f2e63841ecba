package ldapsource

import (
	"context"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/dirsync/dirsync/internal/proxytest"
	"github.com/dirsync/dirsync/internal/slapdtest"
)

// watchRecorder collects what a Watch reports.
type watchRecorder struct {
	mu      gosync.Mutex
	changes []Change
	ups     int
	downs   []error
	// modes are the modes the stream fell back to, in order.
	modes []string
}

func (r *watchRecorder) hooks() WatchHooks {
	return WatchHooks{
		Change: func(c Change) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.changes = append(r.changes, c)
		},
		Connected: func(_ string, up bool, err error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			if up {
				r.ups++
			} else {
				r.downs = append(r.downs, err)
			}
		},
		Mode: func(_ string, mode string) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.modes = append(r.modes, mode)
		},
	}
}

// waitFor polls cond (under the recorder's lock) until it holds, for up to 20s.
func (r *watchRecorder) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r.mu.Lock()
		ok := cond()
		r.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("timed out waiting for %s; changes: %+v; downs: %v", what, r.changes, r.downs)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

// reported reports whether some change named id.
func (r *watchRecorder) reported(id string) bool {
	for _, c := range r.changes {
		if slices.Contains(c.IDs, id) {
			return true
		}
	}
	return false
}

// lastCookie returns the newest cookie reported.
func (r *watchRecorder) lastCookie() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	var c []byte
	for _, ch := range r.changes {
		if ch.Cookie != nil {
			c = ch.Cookie
		}
	}
	return c
}

func startWatch(t *testing.T, s *Source, mode string, cookies map[string][]byte) (*watchRecorder, context.CancelFunc) {
	t.Helper()
	r := &watchRecorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Watch(ctx, mode, cookies, r.hooks()) //nolint:errcheck // ctx's error
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return r, cancel
}

// startWithUsers starts a slapd with opts and adds an OU name with n users
// (user0, user1, …); it returns the server, the OU's DN and the users' DNs.
func startWithUsers(t *testing.T, name string, n int, opts ...slapdtest.Option) (*slapdtest.Server, string, []string) {
	t.Helper()
	srv := slapdtest.Start(t, opts...)
	ou := srv.AddOU(t, name)
	return srv, ou, addUsers(t, srv, ou, n)
}

// autoWatchSource returns a Source for c with ldap.watch: auto and a 200ms
// poll interval, and fails the test unless auto resolves to want; why says
// why want is expected.
func autoWatchSource(t *testing.T, c Config, want, why string) *Source {
	t.Helper()
	c.Watch = WatchAuto
	c.WatchPollInterval = 200 * time.Millisecond
	s := newSource(t, c)
	if mode, err := s.ResolveWatchMode(context.Background()); err != nil || mode != want {
		t.Fatalf("ResolveWatchMode = %q, %v; want %s (%s)", mode, err, want, why)
	}
	return s
}

// waitInitialResync waits for the stream's first change: a resync with a
// cookie that starts with cookiePrefix (any cookie when it is empty).
func (r *watchRecorder) waitInitialResync(t *testing.T, cookiePrefix string) {
	t.Helper()
	r.waitFor(t, "the initial resync", func() bool {
		return len(r.changes) > 0 && r.changes[0].Resync && r.changes[0].Cookie != nil &&
			strings.HasPrefix(string(r.changes[0].Cookie), cookiePrefix)
	})
}

// waitFallBackToPoll waits until the stream has fallen back to poll, once,
// and the poll stream (pollKey) has reported its initial resync, with a
// cookie that starts with cookiePrefix.
func (r *watchRecorder) waitFallBackToPoll(t *testing.T, pollKey, cookiePrefix string) {
	t.Helper()
	r.waitFor(t, "the fall back to poll and its initial resync", func() bool {
		return slices.Equal(r.modes, []string{WatchPoll}) && slices.ContainsFunc(r.changes, func(ch Change) bool {
			return ch.Resync && ch.Stream == pollKey && strings.HasPrefix(string(ch.Cookie), cookiePrefix)
		})
	})
}

// firstDown returns the error of the first disconnect reported.
func (r *watchRecorder) firstDown() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.downs[0]
}

// wantFromStream fails the test for each change not from the stream key;
// what names that stream in the message.
func wantFromStream(t *testing.T, changes []Change, key, what string) {
	t.Helper()
	for _, ch := range changes {
		if ch.Stream != key {
			t.Errorf("a change from stream %s, want every one from %s %s: %+v", ch.Stream, what, key, ch)
		}
	}
}

// wantNoResync fails the test, saying msg, for each resync among changes.
func wantNoResync(t *testing.T, changes []Change, msg string) {
	t.Helper()
	for _, ch := range changes {
		if ch.Resync {
			t.Errorf("%s: %+v", msg, ch)
		}
	}
}

// resumeWithoutResync starts s's watch in mode again with cookie kept under
// key, waits until it reports id (changed while it was stopped; what says
// how), fails the test if it resyncs despite the cookie, and returns its
// recorder.
func resumeWithoutResync(t *testing.T, s *Source, mode, key string, cookie []byte, id, what string) *watchRecorder {
	t.Helper()
	r, _ := startWatch(t, s, mode, map[string][]byte{key: cookie})
	r.waitFor(t, what, func() bool { return r.reported(id) })
	r.mu.Lock()
	defer r.mu.Unlock()
	wantNoResync(t, r.changes, "the fallen-back stream resumed with a resync despite its kept cookie")
	return r
}

func TestWatch_SyncreplReportsChangesAndResumesFromTheCookie(t *testing.T) {
	srv, ou, dns := startWithUsers(t, "watch", 3, slapdtest.WithSyncprovSessionlog(1000))
	c := readerConfig(srv, ou)
	c.Watch = WatchAuto
	s := newSource(t, c)

	mode, err := s.ResolveWatchMode(context.Background())
	if err != nil || mode != WatchSyncrepl {
		t.Fatalf("ResolveWatchMode = %q, %v; want syncrepl (slapdtest loads syncprov)", mode, err)
	}
	key := s.StreamKeys(mode)[ou]
	r, cancel := startWatch(t, s, mode, nil)

	// No cookie: the stream starts with a resync and a cookie.
	r.waitInitialResync(t, "")
	if r.changes[0].Stream != key || len(r.changes[0].IDs) != 0 {
		t.Errorf("first change %+v: want stream %s and no IDs (the resync reads everything)", r.changes[0], key)
	}

	// A modify, a delete and an add are reported by ID.
	srv.Modify(t, dns[0], map[string][]string{"mail": {"new0@example.com"}})
	id0 := srv.EntryUUID(t, dns[0])
	id1 := srv.EntryUUID(t, dns[1])
	srv.Delete(t, dns[1])
	dn3 := srv.AddUser(t, ou, slapdtest.UserSpec{UID: "late", Mail: "late@example.com", SN: "Doe"})
	id3 := srv.EntryUUID(t, dn3)
	r.waitFor(t, "the modify, delete and add", func() bool {
		return r.reported(id0) && r.reported(id1) && r.reported(id3)
	})
	wantNoResync(t, r.changes[1:], "a resync after the refresh")
	dnGone := srv.AddUser(t, ou, slapdtest.UserSpec{UID: "leaver", Mail: "leaver@example.com", SN: "Doe"})
	idGone := srv.EntryUUID(t, dnGone)
	r.waitFor(t, "the leaver's add", func() bool { return r.reported(idGone) })
	cookie := r.lastCookie()
	cancel()

	// Reread: the modified and added users are read in full, the deleted
	// one is verified gone.
	users, gone, skipped, err := s.Reread(context.Background(), []string{id0, id1, id3})
	if err != nil {
		t.Fatal(err)
	}
	if got := usernames(users); !slices.Equal(got, []string{"late", "user0"}) || len(skipped) != 0 {
		t.Errorf("Reread users %v, skipped %v; want late and user0", got, skipped)
	}
	if !slices.Equal(gone, []string{id1}) {
		t.Errorf("Reread gone = %v, want [%s]", gone, id1)
	}
	for _, u := range users {
		if u.Username == "user0" && u.Email != "new0@example.com" {
			t.Errorf("user0 reread with mail %q", u.Email)
		}
	}

	// Resuming from the cookie: no resync, and only what changed since.
	srv.Modify(t, dns[2], map[string][]string{"sn": {"Later"}})
	id2 := srv.EntryUUID(t, dns[2])
	srv.Delete(t, dnGone)
	r2, _ := startWatch(t, s, mode, map[string][]byte{key: cookie})
	r2.waitFor(t, "the modify and the delete made while stopped", func() bool { return r2.reported(id2) && r2.reported(idGone) })
	r2.mu.Lock()
	defer r2.mu.Unlock()
	for _, ch := range r2.changes {
		if ch.Resync {
			t.Errorf("resumed from a valid cookie, yet a resync: %+v", ch)
		}
		if slices.Contains(ch.IDs, id0) {
			t.Errorf("resumed stream reported %s, changed before the cookie", id0)
		}
	}
}

// A cookie ahead of the server (its database was restored from a backup) is
// refused with e-syncRefreshRequired.
func TestWatch_SyncreplRefusedCookieResyncs(t *testing.T) {
	srv, ou, _ := startWithUsers(t, "badcookie", 2)
	s := newSource(t, readerConfig(srv, ou))
	key := s.StreamKeys(WatchSyncrepl)[ou]
	r, _ := startWatch(t, s, WatchSyncrepl, map[string][]byte{key: []byte("rid=000,csn=20991231235959.999999Z#000000#000#000000")})
	r.waitFor(t, "a resync", func() bool {
		return slices.ContainsFunc(r.changes, func(c Change) bool { return c.Resync && c.Cookie != nil })
	})
	for _, ch := range r.changes {
		if len(ch.IDs) > 0 || len(ch.DNs) > 0 {
			t.Errorf("a refused cookie reported entries %+v: it must only ask for a full read", ch)
		}
	}
}

func TestWatch_SyncreplReconnectsAfterTheConnectionDrops(t *testing.T) {
	srv, ou, dns := startWithUsers(t, "reconnect", 2)
	p := proxytest.Start(t, strings.TrimPrefix(srv.URL(), "ldap://"))
	c := readerConfig(srv, ou)
	c.URL = "ldap://" + p.Addr()
	s := newSource(t, c)
	r, _ := startWatch(t, s, WatchSyncrepl, nil)
	// Up, not only resynced: the start cookie's resync is reported before
	// the server has answered the refresh, and a cut before that answer
	// leaves one connection up in all, not two.
	r.waitFor(t, "the initial resync and the stream up", func() bool { return len(r.changes) > 0 && r.ups >= 1 })

	p.Cut()
	r.waitFor(t, "the drop and a reconnect", func() bool { return len(r.downs) >= 1 && r.ups >= 2 })
	srv.Modify(t, dns[0], map[string][]string{"sn": {"After"}})
	id0 := srv.EntryUUID(t, dns[0])
	r.waitFor(t, "the change after the reconnect", func() bool { return r.reported(id0) })
	r.mu.Lock()
	defer r.mu.Unlock()
	wantNoResync(t, r.changes[1:], "a reconnect with a cookie resynced")
}

func TestWatch_PollReportsAddsAndModifiesOnce(t *testing.T) {
	srv, ou, dns := startWithUsers(t, "poll", 2)
	c := readerConfig(srv, ou)
	c.WatchPollInterval = 200 * time.Millisecond
	s := newSource(t, c)
	r, _ := startWatch(t, s, WatchPoll, nil)
	r.waitInitialResync(t, pollTS)
	srv.Modify(t, dns[1], map[string][]string{"sn": {"Polled"}})
	id1 := srv.EntryUUID(t, dns[1])
	r.waitFor(t, "the modify", func() bool { return r.reported(id1) })
	// Several more polls: the same change is not reported again.
	n := 0
	r.waitFor(t, "more polls", func() bool {
		n++
		return n > 10 // 10 × 20ms of polling the recorder spans several 200ms polls
	})
	time.Sleep(time.Second) // several polls: nothing new may be reported
	r.mu.Lock()
	defer r.mu.Unlock()
	count := 0
	for _, ch := range r.changes {
		if slices.Contains(ch.IDs, id1) {
			count++
		}
		if slices.Contains(ch.IDs, srv.EntryUUID(t, dns[0])) {
			t.Errorf("an unchanged user was reported: %+v", ch)
		}
	}
	if count != 1 {
		t.Errorf("the modify was reported %d times, want 1", count)
	}
}

func TestReread_VerifiesScopeAndDisabled(t *testing.T) {
	srv := slapdtest.Start(t)
	ou := srv.AddOU(t, "reread")
	other := srv.AddOU(t, "elsewhere")
	dns := addUsers(t, srv, ou, 2)
	out := srv.AddUser(t, other, slapdtest.UserSpec{UID: "outsider", Mail: "outsider@example.com", SN: "Doe"})
	c := readerConfig(srv, ou)
	c.DisabledFilter = srv.LockedFilter()
	s := newSource(t, c)
	locked := srv.AddUser(t, ou, slapdtest.UserSpec{UID: "locked", Mail: "locked@example.com", SN: "Doe", Locked: true})

	ids := []string{srv.EntryUUID(t, dns[0]), srv.EntryUUID(t, out), srv.EntryUUID(t, locked), "00000000-0000-0000-0000-000000000000"}
	users, gone, _, err := s.Reread(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	if got := usernames(users); !slices.Equal(got, []string{"locked", "user0"}) {
		t.Fatalf("users %v, want locked and user0", got)
	}
	for _, u := range users {
		if u.Active != (u.Username == "user0") {
			t.Errorf("%s read with Active %v", u.Username, u.Active)
		}
	}
	if want := []string{ids[1], ids[3]}; !slices.Equal(gone, want) {
		t.Errorf("gone = %v, want %v (out of scope, and unknown)", gone, want)
	}

	// A failed read reports nobody gone.
	srv.Stop()
	users, gone, _, err = s.Reread(context.Background(), ids)
	if err == nil || len(gone) != 0 || len(users) != 0 {
		t.Errorf("Reread with the server down = %v, %v, %v; want an error and nothing else", users, gone, err)
	}
}

func TestParseGUID_InvertsFormatGUID(t *testing.T) {
	raw := []byte{0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe, 1, 2, 3, 4, 5, 6, 7, 8}
	s, err := FormatGUID(raw)
	if err != nil {
		t.Fatal(err)
	}
	back, err := parseGUID(s)
	if err != nil || string(back) != string(raw) {
		t.Errorf("parseGUID(%s) = %x, %v; want %x", s, back, err, raw)
	}
	if _, err := parseGUID("not-a-guid"); err == nil {
		t.Error("parseGUID accepted garbage")
	}
	if got := domainRoot("OU=Staff,DC=corp,DC=example,DC=com"); !strings.EqualFold(got, "DC=corp,DC=example,DC=com") {
		t.Errorf("domainRoot = %q", got)
	}
}

func TestConfig_WatchKeysAreValidated(t *testing.T) {
	c := Default()
	c.URL, c.AllowPlaintext, c.BaseDN = "ldap://127.0.0.1", true, "dc=example,dc=com"
	if c.Watch != WatchOff || c.pollInterval() != DefaultWatchPollInterval {
		t.Errorf("defaults: watch %q, poll interval %v", c.Watch, c.pollInterval())
	}
	for _, mode := range watchModes {
		c.Watch = mode
		if err := c.Validate(); err != nil {
			t.Errorf("watch: %s refused: %v", mode, err)
		}
	}
	c.Watch, c.WatchPollInterval = "syncrep", time.Millisecond
	err := c.Validate()
	for _, want := range []string{"ldap.watch: \"syncrep\" is not a watch mode", "ldap.watch_poll_interval: 1ms is too short"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v; want it to say %q", err, want)
		}
	}
}

func TestFilterAttributes_NamesEachTestedAttribute(t *testing.T) {
	got := filterAttributes("(&(objectClass=user)(|(pwdAccountLockedTime=*)(userAccountControl:1.2.840.113556.1.4.803:=2)(lockoutTime>=1)))")
	want := []string{"objectClass", "pwdAccountLockedTime", "userAccountControl", "lockoutTime"}
	if !slices.Equal(got, want) {
		t.Errorf("filterAttributes = %v, want %v", got, want)
	}
}

func TestAutoMode_PicksFromTheRootDSE(t *testing.T) {
	for _, c := range []struct {
		info serverInfo
		want string
	}{
		{serverInfo{controls: []string{oidSyncRequest, ldap.ControlTypePaging}}, WatchSyncrepl},
		{serverInfo{controls: []string{oidDirSync}, ad: true}, WatchDirSync},
		{serverInfo{controls: []string{oidDirSync}}, WatchPoll}, // DirSync is AD's
		{serverInfo{controls: []string{ldap.ControlTypePaging}, ad: true}, WatchPoll},
		{serverInfo{}, WatchPoll},
	} {
		if got := autoMode(c.info); got != c.want {
			t.Errorf("autoMode(%+v) = %s, want %s", c.info, got, c.want)
		}
	}
}

// A new poll stream takes its first mark from the server without listing
// the entries in scope: the contextCSN's second or, where the account cannot
// read one, the newest modifyTimestamp in scope, found by bisection. A
// change after it is reported; the unchanged users at or before it are not.
func TestWatch_PollStartsAtTheServersNewestChange(t *testing.T) {
	const n = 5
	newest := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	modified := func(i int) time.Time { return newest.Add(time.Duration(i-(n-1)) * time.Minute) }
	for _, tc := range []struct {
		name   string
		bisect bool // no contextCSN to read: the mark is found by bisection
		opts   []slapdtest.Option
	}{
		{"no syncprov", true, []slapdtest.Option{slapdtest.WithoutSyncprov()}},
		{"no syncprov, contextCSN hidden", true, []slapdtest.Option{slapdtest.WithoutSyncprov(), slapdtest.WithHiddenContextCSN()}},
		{"syncprov, contextCSN readable", false, nil},
		{"syncprov, contextCSN hidden", true, []slapdtest.Option{slapdtest.WithHiddenContextCSN()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := slapdtest.Start(t, append(tc.opts, slapdtest.WithLDIF(slapdtest.DatedUsersLDIF("dated", n, modified)))...)
			ou := "ou=dated," + srv.BaseDN()
			c := readerConfig(srv, ou)
			c.WatchPollInterval = 200 * time.Millisecond
			s := newSource(t, c)
			r, _ := startWatch(t, s, WatchPoll, nil)
			r.waitInitialResync(t, pollTS)
			r.mu.Lock()
			mark := strings.TrimPrefix(string(r.changes[0].Cookie), pollTS)
			r.mu.Unlock()
			at, err := parseGenTime(mark)
			if err != nil {
				t.Fatalf("first mark %q: %v", mark, err)
			}
			t.Logf("first mark %s; newest modifyTimestamp %s", mark, newest.Format("20060102150405Z"))
			if tc.bisect && !at.Equal(newest) {
				t.Errorf("first mark %s, want the newest modifyTimestamp %s", at, newest)
			}
			if at.Before(newest) || at.After(time.Now()) {
				t.Errorf("first mark %s, want from the newest modifyTimestamp %s to now", at, newest)
			}

			dn := "uid=dated-user-000001," + ou
			srv.Modify(t, dn, map[string][]string{"sn": {"Changed"}})
			id := srv.EntryUUID(t, dn)
			r.waitFor(t, "the change after the first mark", func() bool { return r.reported(id) })
			r.mu.Lock()
			defer r.mu.Unlock()
			for _, ch := range r.changes {
				for _, got := range ch.IDs {
					if got != id {
						t.Errorf("an unchanged user was reported: %+v", ch)
					}
				}
			}
		})
	}
}
