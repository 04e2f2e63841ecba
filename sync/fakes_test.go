package sync

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dirsync/dirsync/user"
)

// platformError is what the fake platform returns; it satisfies the Target
// error contract through NotFound and Conflict.
type platformError struct {
	notFound, conflict bool
	msg                string
}

func (e *platformError) Error() string  { return e.msg }
func (e *platformError) NotFound() bool { return e.notFound }
func (e *platformError) Conflict() bool { return e.conflict }

func notFound(format string, args ...any) error {
	return &platformError{notFound: true, msg: "not found: " + fmt.Sprintf(format, args...)}
}

// call is one request the fake platform received.
type call struct {
	Method string // create, update, set_active, delete, lookup, list
	ID     string // platform ID (update, set_active, delete), or username (create)
	Arg    string // "true"/"false" (set_active), "key=value" (lookup)
}

func (c call) String() string { return strings.TrimSpace(c.Method + " " + c.ID + " " + c.Arg) }

// write reports whether c changes the platform.
func (c call) write() bool { return c.Method != "lookup" && c.Method != "list" }

// removal reports whether c takes access away.
func (c call) removal() bool {
	return c.Method == "delete" || (c.Method == "set_active" && c.Arg == "false")
}

// fakeTarget is an in-memory platform: accounts keyed by platform ID, userName
// unique case-insensitively. It does not look at ctx, so tests see exactly what
// the applier itself starts. Each method first calls its hook, when set; a
// non-nil error from the hook is returned as the method's. Hooks run outside the
// lock and may call put.
type fakeTarget struct {
	mu       sync.Mutex
	accounts map[string]user.Account
	calls    []call
	nextID   int

	onCreate    func(ctx context.Context, u user.User) error
	onUpdate    func(ctx context.Context, id string, u user.User) error
	onSetActive func(ctx context.Context, id string, active bool) error
	onDelete    func(ctx context.Context, id string) error
	onLookup    func(ctx context.Context, key, value string) error

	inFlight, maxInFlight atomic.Int64
}

var _ Target = (*fakeTarget)(nil)

func newFakeTarget(accts ...user.Account) *fakeTarget {
	ft := &fakeTarget{accounts: map[string]user.Account{}}
	for _, a := range accts {
		ft.put(a)
	}
	return ft
}

// put adds or replaces an account as it is, bypassing the uniqueness check.
func (ft *fakeTarget) put(a user.Account) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	ft.accounts[a.PlatformID] = a
}

func (ft *fakeTarget) account(id string) (user.Account, bool) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	a, ok := ft.accounts[id]
	return a, ok
}

// byUserName returns the account whose userName is name (case-insensitively).
func (ft *fakeTarget) byUserName(name string) (user.Account, bool) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	for _, a := range ft.accounts {
		if strings.EqualFold(a.User.Username, name) {
			return a, true
		}
	}
	return user.Account{}, false
}

func (ft *fakeTarget) numAccounts() int {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return len(ft.accounts)
}

// log returns the calls received so far.
func (ft *fakeTarget) log() []call {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return slices.Clone(ft.calls)
}

// count returns how many calls of method were received.
func (ft *fakeTarget) count(method string) int {
	n := 0
	for _, c := range ft.log() {
		if c.Method == method {
			n++
		}
	}
	return n
}

func (ft *fakeTarget) writes() []call {
	var out []call
	for _, c := range ft.log() {
		if c.write() {
			out = append(out, c)
		}
	}
	return out
}

// enter logs c and tracks the calls in flight; the returned func ends the call.
func (ft *fakeTarget) enter(c call) func() {
	ft.mu.Lock()
	ft.calls = append(ft.calls, c)
	ft.mu.Unlock()
	n := ft.inFlight.Add(1)
	for {
		m := ft.maxInFlight.Load()
		if n <= m || ft.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	return func() { ft.inFlight.Add(-1) }
}

func (ft *fakeTarget) Create(ctx context.Context, u user.User) (user.Account, error) {
	defer ft.enter(call{Method: "create", ID: u.Username})()
	if ft.onCreate != nil {
		if err := ft.onCreate(ctx, u); err != nil {
			return user.Account{}, err
		}
	}
	ft.mu.Lock()
	defer ft.mu.Unlock()
	for _, a := range ft.accounts {
		if strings.EqualFold(a.User.Username, u.Username) {
			return user.Account{}, &platformError{conflict: true, msg: fmt.Sprintf("userName %q is taken by %s", u.Username, a.PlatformID)}
		}
	}
	ft.nextID++
	a := user.Account{PlatformID: fmt.Sprintf("new-%d", ft.nextID), User: u}
	a.User.DN, a.User.Active = "", true
	ft.accounts[a.PlatformID] = a
	return a, nil
}

func (ft *fakeTarget) Update(ctx context.Context, id string, u user.User) error {
	defer ft.enter(call{Method: "update", ID: id})()
	if ft.onUpdate != nil {
		if err := ft.onUpdate(ctx, id, u); err != nil {
			return err
		}
	}
	ft.mu.Lock()
	defer ft.mu.Unlock()
	a, ok := ft.accounts[id]
	if !ok {
		return notFound("account %s", id)
	}
	active := a.User.Active
	a.User, a.User.DN, a.User.Active = u, "", active
	ft.accounts[id] = a
	return nil
}

func (ft *fakeTarget) SetActive(ctx context.Context, id string, active bool) error {
	defer ft.enter(call{Method: "set_active", ID: id, Arg: fmt.Sprint(active)})()
	if ft.onSetActive != nil {
		if err := ft.onSetActive(ctx, id, active); err != nil {
			return err
		}
	}
	ft.mu.Lock()
	defer ft.mu.Unlock()
	a, ok := ft.accounts[id]
	if !ok {
		return notFound("account %s", id)
	}
	a.User.Active = active
	ft.accounts[id] = a
	return nil
}

func (ft *fakeTarget) Delete(ctx context.Context, id string) error {
	defer ft.enter(call{Method: "delete", ID: id})()
	if ft.onDelete != nil {
		if err := ft.onDelete(ctx, id); err != nil {
			return err
		}
	}
	ft.mu.Lock()
	defer ft.mu.Unlock()
	if _, ok := ft.accounts[id]; !ok {
		return notFound("account %s", id)
	}
	delete(ft.accounts, id)
	return nil
}

func (ft *fakeTarget) Lookup(ctx context.Context, key, value string) (user.Account, error) {
	defer ft.enter(call{Method: "lookup", Arg: key + "=" + value})()
	if ft.onLookup != nil {
		if err := ft.onLookup(ctx, key, value); err != nil {
			return user.Account{}, err
		}
	}
	ft.mu.Lock()
	defer ft.mu.Unlock()
	for _, id := range slices.Sorted(maps.Keys(ft.accounts)) {
		a := ft.accounts[id]
		var match bool
		switch key {
		case user.MatchExternalID:
			match = a.User.ID == value
		case user.MatchUserName:
			match = strings.EqualFold(a.User.Username, value)
		case user.MatchEmail:
			match = strings.EqualFold(a.User.Email, value)
		default:
			return user.Account{}, fmt.Errorf("lookup: unknown key %q", key)
		}
		if match {
			return a, nil
		}
	}
	return user.Account{}, notFound("%s %q", key, value)
}

// listingTarget is a fakeTarget that also implements Lister.
type listingTarget struct{ *fakeTarget }

var _ Lister = listingTarget{}

func (lt listingTarget) List(ctx context.Context, fn func(user.Account) error) error {
	defer lt.enter(call{Method: "list"})()
	lt.mu.Lock()
	accts := slices.Collect(maps.Values(lt.accounts))
	lt.mu.Unlock()
	for _, a := range accts {
		if err := fn(a); err != nil {
			return err
		}
	}
	return nil
}

// fakeSource returns a fixed directory, or what read returns when set.
type fakeSource struct {
	dir   Directory
	err   error
	read  func(ctx context.Context) (Directory, error)
	reads atomic.Int32
	// afterEmit, when set, is called by Stream after it emitted its n-th
	// user (from 1); an error from it ends the read with that error.
	afterEmit func(ctx context.Context, n int) error
	// beforeEmit, when set, is called by Stream before it emits its first
	// user; an error from it ends the read with that error.
	beforeEmit func(ctx context.Context) error
}

func (fs *fakeSource) Read(ctx context.Context) (Directory, error) {
	fs.reads.Add(1)
	if fs.read != nil {
		return fs.read(ctx)
	}
	return fs.dir, fs.err
}

// Reread answers from Read's directory (see Directory.Changed).
func (fs *fakeSource) Reread(ctx context.Context, ids, dns []string) (Changed, error) {
	dir, err := fs.Read(ctx)
	if err != nil {
		return Changed{}, err
	}
	return dir.Changed(ids, dns), nil
}

// Stream emits Read's users: with it the engine tests drive the streaming
// path (Engine.streamPlan) in every run but a full reconcile.
func (fs *fakeSource) Stream(ctx context.Context, emit func(user.User) error) ([]Skip, error) {
	dir, err := fs.Read(ctx)
	if err != nil {
		return nil, err
	}
	if fs.beforeEmit != nil {
		if err := fs.beforeEmit(ctx); err != nil {
			return nil, err
		}
	}
	for i, u := range dir.Users {
		if err := emit(u); err != nil {
			return nil, err
		}
		if fs.afterEmit != nil {
			if err := fs.afterEmit(ctx, i+1); err != nil {
				return nil, err
			}
		}
	}
	return slices.Clone(dir.Skipped), nil
}

// readOnlySource hides fakeSource's Stream: the engine reads the whole
// directory (Engine.readPlan).
type readOnlySource struct{ fs *fakeSource }

func (r readOnlySource) Read(ctx context.Context) (Directory, error) { return r.fs.Read(ctx) }

func (r readOnlySource) Reread(ctx context.Context, ids, dns []string) (Changed, error) {
	return r.fs.Reread(ctx, ids, dns)
}

// saved is one Store.Save call.
type saved struct {
	Run   int64
	Entry user.Entry
	Rec   *user.Record
}

// finished is one Store.FinishRun call.
type finished struct {
	Run     int64
	Outcome string
	Counts  map[string]int
	ErrText string
}

// fakeStore holds the snapshot in memory and logs every write. Hooks, when set,
// are called first; a non-nil error from a hook is returned and nothing is
// stored.
type fakeStore struct {
	mu       sync.Mutex
	records  map[string]user.Record
	saves    []saved
	begun    []string
	finishes []finished
	reads    int
	// summaryReads counts Summaries calls.
	summaryReads int
	meta         map[string]string
	groups       map[string]user.GroupRecord

	onSnapshot func() error
	onSave     func(e user.Entry, rec *user.Record) error
	onBegin    func() error
	onFinish   func() error
}

var (
	_ Store    = (*fakeStore)(nil)
	_ Streamer = (*fakeSource)(nil)
)

func newFakeStore(recs ...user.Record) *fakeStore {
	fs := &fakeStore{records: map[string]user.Record{}, meta: map[string]string{}}
	for _, r := range recs {
		fs.records[r.User.ID] = r
	}
	return fs
}

func (fs *fakeStore) Snapshot(ctx context.Context) ([]user.Record, error) {
	if fs.onSnapshot != nil {
		if err := fs.onSnapshot(); err != nil {
			return nil, err
		}
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.reads++
	var out []user.Record
	for _, id := range slices.Sorted(maps.Keys(fs.records)) {
		out = append(out, fs.records[id])
	}
	return out, nil
}

// ArchivedBefore returns the records archived before t, as the real stores
// do, without counting a snapshot read.
func (fs *fakeStore) ArchivedBefore(ctx context.Context, t time.Time) ([]user.Record, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var out []user.Record
	for _, id := range slices.Sorted(maps.Keys(fs.records)) {
		r := fs.records[id]
		if r.Status == user.StatusArchived && !r.ArchivedAt.IsZero() && r.ArchivedAt.Before(t) {
			out = append(out, r)
		}
	}
	return out, nil
}

// RecordsHolding returns the active, archived or deleted records whose
// username or email is one of values, compared without regard to case.
func (fs *fakeStore) RecordsHolding(ctx context.Context, values []string) ([]user.Record, error) {
	want := make(map[string]bool, len(values))
	for _, v := range values {
		want[strings.ToLower(v)] = true
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var out []user.Record
	for _, id := range slices.Sorted(maps.Keys(fs.records)) {
		r := fs.records[id]
		if r.Status != user.StatusPending && (want[strings.ToLower(r.User.Username)] || want[strings.ToLower(r.User.Email)]) {
			out = append(out, r)
		}
	}
	return out, nil
}

// FormerHolders knows no former holder: the fake keeps no journal fields
// to find them in (formerStore gives some).
func (fs *fakeStore) FormerHolders(ctx context.Context, values []string) ([]user.FormerHolder, error) {
	return nil, nil
}

// Prune keeps everything: the fake's history is the test's.
func (fs *fakeStore) Prune(ctx context.Context) error { return nil }

func (fs *fakeStore) Groups(ctx context.Context) ([]user.GroupRecord, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var out []user.GroupRecord
	for _, id := range slices.Sorted(maps.Keys(fs.groups)) {
		out = append(out, fs.groups[id])
	}
	return out, nil
}

// SaveGroup journals e (as a save without a user record) and keeps rec.
func (fs *fakeStore) SaveGroup(ctx context.Context, run int64, e user.Entry, rec *user.GroupRecord) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.saves = append(fs.saves, saved{Run: run, Entry: e})
	if rec != nil {
		if fs.groups == nil {
			fs.groups = map[string]user.GroupRecord{}
		}
		r := *rec
		if old, ok := fs.groups[r.Group.ID]; ok && !old.FirstSeen.IsZero() {
			r.FirstSeen = old.FirstSeen
		}
		fs.groups[r.Group.ID] = r
	}
	return nil
}

func (fs *fakeStore) Summaries(ctx context.Context, fn func(user.Summary) error) error {
	fs.mu.Lock()
	fs.summaryReads++
	fs.mu.Unlock()
	recs, err := fs.Snapshot(ctx)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if err := fn(user.Summary{ID: r.User.ID, PlatformID: r.PlatformID, Status: r.Status, Hash: r.Hash}); err != nil {
			return err
		}
	}
	return nil
}

func (fs *fakeStore) Records(ctx context.Context, ids []string) ([]user.Record, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var out []user.Record
	for _, id := range slices.Compact(slices.Sorted(slices.Values(ids))) {
		if r, ok := fs.records[id]; ok {
			out = append(out, r)
		}
	}
	return out, nil
}

func (fs *fakeStore) Managed(ctx context.Context) (int, error) {
	recs, err := fs.Snapshot(ctx)
	n := 0
	for _, r := range recs {
		if r.Status == user.StatusActive {
			n++
		}
	}
	return n, err
}

func (fs *fakeStore) GetMeta(ctx context.Context, key string) (string, bool, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	v, ok := fs.meta[key]
	return v, ok, nil
}

func (fs *fakeStore) SetMeta(ctx context.Context, key, value string) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.meta[key] = value
	return nil
}

func (fs *fakeStore) SaveIntent(ctx context.Context, rec *user.Record) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.records[rec.User.ID] = *rec
	return nil
}

func (fs *fakeStore) BeginRun(ctx context.Context, mode string) (int64, error) {
	if fs.onBegin != nil {
		if err := fs.onBegin(); err != nil {
			return 0, err
		}
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.begun = append(fs.begun, mode)
	return int64(len(fs.begun)), nil
}

func (fs *fakeStore) Save(ctx context.Context, run int64, e user.Entry, rec *user.Record) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	if fs.onSave != nil {
		if err := fs.onSave(e, rec); err != nil {
			return err
		}
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var cp *user.Record
	if rec != nil {
		r := *rec
		cp = &r
		fs.records[r.User.ID] = r
	}
	fs.saves = append(fs.saves, saved{Run: run, Entry: e, Rec: cp})
	return nil
}

func (fs *fakeStore) FinishRun(ctx context.Context, run int64, outcome string, counts map[string]int, errText string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("finish run: %w", err)
	}
	if fs.onFinish != nil {
		if err := fs.onFinish(); err != nil {
			return err
		}
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.finishes = append(fs.finishes, finished{Run: run, Outcome: outcome, Counts: counts, ErrText: errText})
	return nil
}

func (fs *fakeStore) savedList() []saved {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return slices.Clone(fs.saves)
}

// savedFor returns the saves for directory user id.
func (fs *fakeStore) savedFor(id string) []saved {
	var out []saved
	for _, s := range fs.savedList() {
		if s.Entry.UserID == id {
			out = append(out, s)
		}
	}
	return out
}

// onlySave returns the one save for directory user id.
func (fs *fakeStore) onlySave(t *testing.T, id string) saved {
	t.Helper()
	s := fs.savedFor(id)
	if len(s) != 1 {
		t.Fatalf("%d saves for user %s, want 1: %+v", len(s), id, s)
	}
	return s[0]
}

// lastRun returns the one FinishRun call.
func (fs *fakeStore) lastRun(t *testing.T) finished {
	t.Helper()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if len(fs.finishes) != 1 {
		t.Fatalf("FinishRun called %d times, want 1", len(fs.finishes))
	}
	return fs.finishes[0]
}

// Test fixtures.

var (
	t0    = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
)

// person returns a normalized, active directory user.
func person(id, username string) user.User {
	return user.User{
		ID:          id,
		DN:          "CN=" + username + ",OU=Staff,DC=corp,DC=example,DC=com",
		Username:    username,
		Email:       username + "@example.com",
		GivenName:   strings.ToUpper(username[:1]) + username[1:],
		FamilyName:  "Doe",
		DisplayName: strings.ToUpper(username[:1]) + username[1:] + " Doe",
		Active:      true,
		Groups:      []string{"cn=staff,ou=groups,dc=corp,dc=example,dc=com"},
	}.Normalize()
}

func disabled(u user.User) user.User {
	u.Active = false
	return u
}

func with(u user.User, fn func(*user.User)) user.User {
	fn(&u)
	return u.Normalize()
}

// record returns the snapshot record of u with status st on platform ID pid.
func record(u user.User, st user.Status, pid string) user.Record {
	r := user.Record{User: u, Hash: u.Hash(), PlatformID: pid, Status: st, FirstSeen: t0, LastSeen: t0}
	if st == user.StatusArchived || st == user.StatusDeleted {
		r.ArchivedAt = t0
	}
	return r
}

// managed returns the records of users active on the platform, each as
// account p-<username>.
func managed(users ...user.User) []user.Record {
	records := make([]user.Record, 0, len(users))
	for _, u := range users {
		records = append(records, record(u, user.StatusActive, "p-"+u.Username))
	}
	return records
}

// accountOf returns the platform account matching record r.
func accountOf(r user.Record) user.Account {
	u := r.User
	u.DN = ""
	u.Active = r.Status == user.StatusActive
	return user.Account{PlatformID: r.PlatformID, User: u}
}

// engine wires fakes into an Engine with a fixed clock, generous limits and
// one worker (tests that want more set Concurrency).
func engine(src *fakeSource, tgt Target, st *fakeStore) *Engine {
	return &Engine{
		Source: src,
		Target: tgt,
		Store:  st,
		Options: Options{
			Concurrency: 1,
			Policy:      Policy{MaxArchive: 1000, MaxArchivePercent: 100},
			Now:         func() time.Time { return clock },
		},
	}
}
