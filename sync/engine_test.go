package sync

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dirsync/dirsync/user"
)

var errPlatform = errors.New("HTTP 500 Internal Server Error")

// setup returns an engine over fakes holding records in the snapshot and their
// accounts on the platform, and dir in the directory.
func setup(dir Directory, records ...user.Record) (*Engine, *fakeTarget, *fakeStore) {
	ft := newFakeTarget()
	for _, r := range records {
		if r.PlatformID != "" && r.Status != user.StatusDeleted {
			ft.put(accountOf(r))
		}
	}
	st := newFakeStore(records...)
	return engine(&fakeSource{dir: dir}, ft, st), ft, st
}

func mustRun(t *testing.T, e *Engine, ro RunOptions) Report {
	t.Helper()
	rep, err := e.Run(t.Context(), ro)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rep
}

func mailTo(u user.User, email string) user.User {
	return with(u, func(u *user.User) { u.Email = email })
}

// numbered returns n normalized active users named prefix00, prefix01, ….
func numbered(prefix string, n int) []user.User {
	var out []user.User
	for i := range n {
		out = append(out, person(fmt.Sprintf("id-%s%02d", prefix, i), fmt.Sprintf("%s%02d", prefix, i)))
	}
	return out
}

func TestRun_AppliesAllGrantsBeforeAnyRemoval(t *testing.T) {
	var users []user.User
	var records []user.Record
	users = append(users, numbered("new", 6)...) // creates
	for _, u := range numbered("upd", 4) {       // updates
		records = append(records, record(u, user.StatusActive, "p-"+u.Username))
		users = append(users, mailTo(u, u.Username+"@new.example.com"))
	}
	for _, u := range numbered("back", 3) { // reactivations
		records = append(records, record(u, user.StatusArchived, "p-"+u.Username))
		users = append(users, u)
	}
	for _, u := range numbered("off", 3) { // archives (disabled)
		records = append(records, record(u, user.StatusActive, "p-"+u.Username))
		users = append(users, disabled(u))
	}
	for _, u := range numbered("gone", 5) { // archives (removed)
		records = append(records, record(u, user.StatusActive, "p-"+u.Username))
	}
	e, ft, st := setup(dirOf(users...), records...)
	// Enough workers to hold every change at once: only the applier's
	// ordering can keep a removal from starting while grants are under way.
	e.Concurrency = 30

	// Each grant makes exactly one Create, Update or SetActive(true). The
	// updates are applied as the directory is read (earlyPush), the creates
	// and reactivations after it: those are held until all are under way.
	const grants, held = 6 + 4 + 3, 6 + 3
	var started, done atomic.Int32
	allStarted := make(chan struct{})
	var stuck atomic.Bool
	grant := func() {
		if started.Add(1) == held {
			close(allStarted)
		}
		// Hold every grant until all of them are under way.
		select {
		case <-allStarted:
		case <-time.After(10 * time.Second):
			stuck.Store(true)
		}
		done.Add(1)
	}
	var early []string
	var mu sync.Mutex
	ft.onUpdate = func(context.Context, string, user.User) error { done.Add(1); return nil }
	ft.onCreate = func(context.Context, user.User) error { grant(); return nil }
	ft.onSetActive = func(_ context.Context, id string, active bool) error {
		if active {
			grant()
		} else if n := done.Load(); n < grants {
			mu.Lock()
			early = append(early, fmt.Sprintf("archive of %s started after %d of %d grants", id, n, grants))
			mu.Unlock()
		}
		return nil
	}

	rep := mustRun(t, e, RunOptions{})

	if stuck.Load() {
		t.Error("the grants were never all under way at once")
	}
	if len(early) > 0 {
		t.Errorf("removals started before the grants ended: %q", early)
	}
	firstRemoval, lastGrant := -1, -1
	for i, c := range ft.log() {
		switch {
		case c.removal() && firstRemoval < 0:
			firstRemoval = i
		case c.write() && !c.removal():
			lastGrant = i
		}
	}
	if firstRemoval < 0 || lastGrant < 0 || lastGrant > firstRemoval {
		t.Errorf("call %d is the last grant and %d the first removal:\n%v", lastGrant, firstRemoval, ft.log())
	}
	want := map[user.Op]int{user.OpCreate: 6, user.OpUpdate: 4, user.OpReactivate: 3, user.OpArchive: 8}
	if !reflect.DeepEqual(rep.Applied, want) {
		t.Errorf("Applied = %v, want %v", rep.Applied, want)
	}
	if run := st.lastRun(t); run.Outcome != OutcomeSuccess || run.ErrText != "" {
		t.Errorf("run recorded as %q %q, want success", run.Outcome, run.ErrText)
	}
}

func TestRun_SavesEachSuccessWithItsRecord(t *testing.T) {
	pending := record(alice, user.StatusPending, "")
	pending.Attempts, pending.LastError = 2, "create alice: HTTP 503"
	bobRec := record(bob, user.StatusActive, "p-bob")
	bobRec.Attempts, bobRec.LastError = 1, "update bob: HTTP 500"
	carolRec := record(carol, user.StatusArchived, "p-carol")
	daveRec := record(dave, user.StatusActive, "p-dave")
	erinRec := record(erin, user.StatusActive, "p-erin")
	newBob := mailTo(bob, "robert@example.com")
	newCarol := mailTo(carol, "caroline@example.com")
	fay := person("id-fay", "fay")
	e, ft, st := setup(dirOf(alice, newBob, newCarol, disabled(dave), fay), pending, bobRec, carolRec, daveRec, erinRec)

	rep := mustRun(t, e, RunOptions{Mode: "full"})

	if got := summaries(rep.Plan); len(got) != 6 {
		t.Fatalf("plan = %q", got)
	}
	aliceAcct, ok := ft.byUserName("alice")
	if !ok {
		t.Fatal("alice was not created on the platform")
	}
	tests := []struct {
		user       user.User
		op         user.Op
		platformID string
		status     user.Status
		firstSeen  time.Time
		archived   bool
	}{
		{alice, user.OpCreate, aliceAcct.PlatformID, user.StatusActive, t0, false},
		{newBob, user.OpUpdate, "p-bob", user.StatusActive, t0, false},
		{newCarol, user.OpReactivate, "p-carol", user.StatusActive, t0, false},
		{disabled(dave), user.OpArchive, "p-dave", user.StatusArchived, t0, true},
		{erin, user.OpArchive, "p-erin", user.StatusArchived, t0, true},
		{fay, user.OpCreate, "", user.StatusActive, clock, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.op)+" "+tt.user.Username, func(t *testing.T) {
			s := st.onlySave(t, tt.user.ID)
			if s.Run != rep.RunID || rep.RunID == 0 {
				t.Errorf("saved in run %d, report run %d", s.Run, rep.RunID)
			}
			e := s.Entry
			if e.Op != tt.op || e.Username != tt.user.Username || e.Error != "" || !e.At.Equal(clock) {
				t.Errorf("entry = %+v, want a successful %s of %s at %v", e, tt.op, tt.user.Username, clock)
			}
			r := s.Rec
			if r == nil {
				t.Fatal("no record saved")
			}
			if tt.platformID == "" {
				tt.platformID = r.PlatformID
				if a, ok := ft.account(r.PlatformID); !ok || a.User.ID != tt.user.ID {
					t.Errorf("record links %q, which is not %s's account", r.PlatformID, tt.user.Username)
				}
			}
			if e.PlatformID != tt.platformID {
				t.Errorf("entry platform ID = %q, want %q", e.PlatformID, tt.platformID)
			}
			if !reflect.DeepEqual(r.User, tt.user) || r.PlatformID != tt.platformID || r.Status != tt.status {
				t.Errorf("record = %+v, want user %+v on %s, %s", r, tt.user, tt.platformID, tt.status)
			}
			if r.Hash != tt.user.Hash() {
				t.Errorf("record hash = %q, want the user's %q", r.Hash, tt.user.Hash())
			}
			if !r.FirstSeen.Equal(tt.firstSeen) || !r.LastSeen.Equal(clock) {
				t.Errorf("first/last seen = %v/%v, want %v/%v", r.FirstSeen, r.LastSeen, tt.firstSeen, clock)
			}
			if r.Attempts != 0 || r.LastError != "" {
				t.Errorf("a success kept attempts %d, last error %q", r.Attempts, r.LastError)
			}
			if tt.archived != !r.ArchivedAt.IsZero() || (tt.archived && !r.ArchivedAt.Equal(clock)) {
				t.Errorf("archived at = %v", r.ArchivedAt)
			}
		})
	}
	if a, _ := ft.account("p-carol"); !a.User.Active || a.User.Email != "caroline@example.com" {
		t.Errorf("carol on the platform = %+v, want active with the new email", a)
	}
	if a, _ := ft.account("p-dave"); a.User.Active {
		t.Error("dave is still active on the platform")
	}
	run := st.lastRun(t)
	if len(st.begun) != 1 || st.begun[0] != "full" || run.Run != rep.RunID || run.Outcome != OutcomeSuccess {
		t.Errorf("runs: begun %q, finished %+v", st.begun, run)
	}
	wantCounts := map[string]int{"in_scope": 5, "skipped": 0, "unchanged": 0, "failed": 0, "create": 2, "update": 1, "reactivate": 1, "archive": 2}
	if !reflect.DeepEqual(run.Counts, wantCounts) {
		t.Errorf("counts = %v, want %v", run.Counts, wantCounts)
	}
}

func TestRun_DeleteIsRecordedDeleted(t *testing.T) {
	e, ft, st := setup(dirOf(bob), record(alice, user.StatusArchived, "p-alice"), record(bob, user.StatusActive, "p-bob"))
	e.OnRemoved = RemovedDelete
	rep := mustRun(t, e, RunOptions{})
	if rep.Applied[user.OpDelete] != 1 {
		t.Fatalf("Applied = %v", rep.Applied)
	}
	if _, ok := ft.account("p-alice"); ok {
		t.Error("alice's account still exists")
	}
	s := st.onlySave(t, alice.ID)
	if s.Entry.Op != user.OpDelete || s.Rec == nil || s.Rec.Status != user.StatusDeleted || s.Rec.PlatformID != "p-alice" || !s.Rec.FirstSeen.Equal(t0) {
		t.Fatalf("saved %+v %+v", s.Entry, s.Rec)
	}
}

func TestRun_FailedChangeIsRecordedAndOthersApplied(t *testing.T) {
	bobRec := record(bob, user.StatusActive, "p-bob")
	bobRec.Attempts, bobRec.LastError = 1, "update bob: timeout"
	e, ft, st := setup(dirOf(alice, mailTo(bob, "b@example.com"), mailTo(carol, "c@example.com")),
		bobRec, record(carol, user.StatusActive, "p-carol"), record(dave, user.StatusActive, "p-dave"))
	ft.onCreate = func(_ context.Context, u user.User) error { return errPlatform }
	ft.onUpdate = func(_ context.Context, id string, _ user.User) error {
		if id == "p-bob" {
			return errPlatform
		}
		return nil
	}

	rep, err := e.Run(t.Context(), RunOptions{})
	if err != nil {
		t.Fatalf("Run = %v; failures of single changes are not run errors", err)
	}
	if rep.Outcome(err) != OutcomePartial {
		t.Errorf("outcome = %q, want partial", rep.Outcome(err))
	}
	var failed []string
	for _, f := range rep.Failed {
		failed = append(failed, string(f.Change.Op)+" "+f.Change.User.Username)
		if !strings.Contains(f.Error, errPlatform.Error()) {
			t.Errorf("failure of %s = %q, want the platform's error", f.Change.User.Username, f.Error)
		}
	}
	if !reflect.DeepEqual(failed, []string{"create alice", "update bob"}) && !reflect.DeepEqual(failed, []string{"update bob", "create alice"}) {
		t.Errorf("Failed = %q, want alice's create and bob's update", failed)
	}
	if rep.Applied[user.OpUpdate] != 1 || rep.Applied[user.OpArchive] != 1 {
		t.Errorf("Applied = %v, want carol's update and dave's archive", rep.Applied)
	}
	if a, _ := ft.account("p-carol"); a.User.Email != "c@example.com" {
		t.Error("carol was not updated")
	}
	if a, _ := ft.account("p-dave"); a.User.Active {
		t.Error("dave was not archived")
	}

	// A failed create leaves a pending record.
	s := st.onlySave(t, alice.ID)
	if s.Entry.Op != user.OpCreate || !strings.Contains(s.Entry.Error, errPlatform.Error()) {
		t.Errorf("alice's entry = %+v", s.Entry)
	}
	wantAlice := user.Record{User: alice, Hash: alice.Hash(), Status: user.StatusPending, FirstSeen: clock, LastSeen: clock,
		Attempts: 1, LastError: s.Entry.Error, FailedOp: user.OpCreate}
	if s.Rec == nil || !reflect.DeepEqual(*s.Rec, wantAlice) {
		t.Errorf("alice's record = %+v\nwant %+v", s.Rec, wantAlice)
	}
	// A failed update keeps the record as it was, with the attempt counted.
	s = st.onlySave(t, bob.ID)
	wantBob := bobRec
	wantBob.Attempts, wantBob.LastError, wantBob.FailedOp = 2, s.Entry.Error, user.OpUpdate
	if s.Entry.Op != user.OpUpdate || s.Entry.Error == "" || s.Entry.PlatformID != "p-bob" {
		t.Errorf("bob's entry = %+v", s.Entry)
	}
	if s.Rec == nil || !reflect.DeepEqual(*s.Rec, wantBob) {
		t.Errorf("bob's record = %+v\nwant %+v", s.Rec, wantBob)
	}
	if run := st.lastRun(t); run.Outcome != OutcomePartial || run.Counts["failed"] != 2 {
		t.Errorf("run recorded as %+v", run)
	}

	// The next run plans both again, with their attempts.
	next := Diff(dirOf(alice, mailTo(bob, "b@example.com"), mailTo(carol, "c@example.com")), mustSnapshot(t, st), RemovedArchive)
	if got := summaries(next); !reflect.DeepEqual(got, []string{"create alice attempts=1", "update bob @p-bob [email] attempts=2"}) {
		t.Errorf("next plan = %q", got)
	}
}

func mustSnapshot(t *testing.T, st *fakeStore) []user.Record {
	t.Helper()
	recs, err := st.Snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestRun_AdoptsExistingAccount(t *testing.T) {
	tests := []struct {
		name   string
		acct   user.Account
		lookup string // the lookup that finds it
	}{
		{"by externalId", user.Account{PlatformID: "p-x", User: user.User{ID: alice.ID, Username: "someone", Active: true}}, "externalId=id-alice"},
		{"by userName, case-insensitively", user.Account{PlatformID: "p-x", User: user.User{Username: "ALICE", Active: true}}, "userName=alice"},
		{"by email, case-insensitively", user.Account{PlatformID: "p-x", User: user.User{Username: "a1", Email: "Alice@Example.COM", Active: true}}, "email=alice@example.com"},
		{"inactive", user.Account{PlatformID: "p-x", User: user.User{Username: "Alice", Active: false}}, "userName=alice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ft, st := setup(dirOf(alice))
			ft.put(tt.acct)
			rep := mustRun(t, e, RunOptions{})

			if n := ft.count("create"); n != 0 {
				t.Fatalf("Create called %d times for an existing account", n)
			}
			if rep.Applied[user.OpAdopt] != 1 || len(rep.Failed) != 0 {
				t.Fatalf("Applied = %v, Failed = %+v; want one adoption", rep.Applied, rep.Failed)
			}
			var lookups []string
			for _, c := range ft.log() {
				if c.Method == "lookup" {
					lookups = append(lookups, c.Arg)
				}
			}
			if len(lookups) == 0 || lookups[len(lookups)-1] != tt.lookup {
				t.Errorf("lookups = %q, want to end with %q", lookups, tt.lookup)
			}
			a, _ := ft.account("p-x")
			if a.User.ID != alice.ID || a.User.Username != "alice" || !a.User.Active {
				t.Errorf("account after adoption = %+v, want alice's data, active", a.User)
			}
			activations := 0
			for _, c := range ft.log() {
				if c.Method == "set_active" && c.ID == "p-x" && c.Arg == "true" {
					activations++
				}
			}
			if want := map[bool]int{true: 0, false: 1}[tt.acct.User.Active]; activations != want {
				t.Errorf("SetActive(true) called %d times, want %d", activations, want)
			}
			s := st.onlySave(t, alice.ID)
			if s.Entry.Op != user.OpAdopt || s.Entry.PlatformID != "p-x" || len(s.Entry.Fields) == 0 {
				t.Errorf("entry = %+v, want an adoption of p-x listing the fields it changed", s.Entry)
			}
			if s.Rec == nil || s.Rec.PlatformID != "p-x" || s.Rec.Status != user.StatusActive || !reflect.DeepEqual(s.Rec.User, alice) {
				t.Errorf("record = %+v", s.Rec)
			}
		})
	}
}

func TestRun_AdoptByRestrictsKeys(t *testing.T) {
	e, ft, _ := setup(dirOf(alice))
	ft.put(user.Account{PlatformID: "p-x", User: user.User{Username: "other", Email: "alice@example.com", Active: true}})
	e.AdoptBy = []string{user.MatchUserName}
	rep := mustRun(t, e, RunOptions{})
	if rep.Applied[user.OpCreate] != 1 || rep.Applied[user.OpAdopt] != 0 {
		t.Fatalf("Applied = %v; with adopt_by [userName] a match by email must not be adopted", rep.Applied)
	}
	for _, c := range ft.log() {
		if c.Method == "lookup" && !strings.HasPrefix(c.Arg, "userName=") {
			t.Errorf("unexpected lookup %s", c.Arg)
		}
	}
}

func TestRun_CreateConflictAdoptsAccountCreatedMeanwhile(t *testing.T) {
	e, ft, st := setup(dirOf(alice))
	var once sync.Once
	ft.onCreate = func(_ context.Context, u user.User) error {
		// Someone created the account between our lookups and our create.
		once.Do(func() { ft.put(user.Account{PlatformID: "p-race", User: user.User{Username: "Alice", Active: true}}) })
		return nil
	}
	rep := mustRun(t, e, RunOptions{})
	if rep.Applied[user.OpAdopt] != 1 || len(rep.Failed) != 0 {
		t.Fatalf("Applied = %v, Failed = %+v; want the account adopted", rep.Applied, rep.Failed)
	}
	if n := ft.numAccounts(); n != 1 {
		t.Errorf("%d accounts on the platform, want 1", n)
	}
	if s := st.onlySave(t, alice.ID); s.Rec == nil || s.Rec.PlatformID != "p-race" || s.Entry.Op != user.OpAdopt {
		t.Errorf("saved %+v %+v", s.Entry, s.Rec)
	}
}

func TestRun_CreateConflictWithNothingToAdoptFails(t *testing.T) {
	e, ft, st := setup(dirOf(alice))
	// The userName is taken, but adoption only matches by email, which differs.
	ft.put(user.Account{PlatformID: "p-x", User: user.User{Username: "ALICE", Email: "other@example.com", Active: true}})
	e.AdoptBy = []string{user.MatchEmail}
	rep := mustRun(t, e, RunOptions{})
	if len(rep.Failed) != 1 || rep.Failed[0].Change.User.ID != alice.ID {
		t.Fatalf("Failed = %+v, want alice's create", rep.Failed)
	}
	if msg := rep.Failed[0].Error; !strings.Contains(msg, "is taken") || !strings.Contains(msg, "no account matching by email") {
		t.Errorf("error = %q, want the conflict and the failed search", msg)
	}
	if a, _ := ft.account("p-x"); a.User.Email != "other@example.com" {
		t.Error("the conflicting account was changed")
	}
	if s := st.onlySave(t, alice.ID); s.Rec == nil || s.Rec.Status != user.StatusPending || s.Rec.Attempts != 1 {
		t.Errorf("record = %+v, want pending with one attempt", s.Rec)
	}
}

func TestRun_TwoUsersMatchingOneAccount_SecondFails(t *testing.T) {
	shared := "team@example.com"
	a, b := mailTo(alice, shared), mailTo(bob, shared)
	e, ft, st := setup(dirOf(b, a))
	ft.put(user.Account{PlatformID: "p-team", User: user.User{Username: "team", Email: shared, Active: true}})
	e.AdoptBy = []string{user.MatchEmail}
	rep := mustRun(t, e, RunOptions{})

	if rep.Applied[user.OpAdopt] != 1 || len(rep.Failed) != 1 {
		t.Fatalf("Applied = %v, Failed = %+v; want one adoption and one failure", rep.Applied, rep.Failed)
	}
	// One worker: the plan order (by username) decides.
	if f := rep.Failed[0]; f.Change.User.ID != bob.ID || !strings.Contains(f.Error, "already linked") {
		t.Errorf("failure = %+v, want bob's, 'already linked'", f)
	}
	if s := st.onlySave(t, alice.ID); s.Rec.PlatformID != "p-team" {
		t.Errorf("alice linked to %q", s.Rec.PlatformID)
	}
	if acct, _ := ft.account("p-team"); acct.User.ID != alice.ID {
		t.Errorf("account holds %+v, want alice's data", acct.User)
	}
}

func TestRun_AccountLinkedInSnapshotIsNotAdopted(t *testing.T) {
	// erin's archived account has bob's email: bob must not take it over.
	erinRec := record(mailTo(erin, "bob@example.com"), user.StatusArchived, "p-erin")
	e, ft, _ := setup(dirOf(bob), erinRec)
	e.AdoptBy = []string{user.MatchEmail}
	rep := mustRun(t, e, RunOptions{})
	if len(rep.Failed) != 1 || !strings.Contains(rep.Failed[0].Error, "already linked") {
		t.Fatalf("Failed = %+v, want bob's create refused", rep.Failed)
	}
	if acct, _ := ft.account("p-erin"); acct.User.ID != erin.ID || acct.User.Active {
		t.Errorf("erin's account changed: %+v", acct.User)
	}
}

func TestRun_ManyCreatesListPlatformOnce(t *testing.T) {
	users := numbered("u", listThreshold+1)
	e, ft, st := setup(dirOf(users...))
	lt := listingTarget{ft}
	e.Target = lt
	e.Concurrency = 4
	ft.put(user.Account{PlatformID: "p-by-id", User: user.User{ID: users[0].ID, Username: "x0", Active: true}})
	ft.put(user.Account{PlatformID: "p-by-name", User: user.User{Username: strings.ToUpper(users[1].Username), Active: true}})
	ft.put(user.Account{PlatformID: "p-by-mail", User: user.User{Username: "x2", Email: strings.ToUpper(users[2].Email)}})

	rep := mustRun(t, e, RunOptions{})

	if n := ft.count("list"); n != 1 {
		t.Errorf("platform listed %d times, want once", n)
	}
	if n := ft.count("lookup"); n != 0 {
		t.Errorf("%d lookups; the listing should have answered them", n)
	}
	if rep.Applied[user.OpAdopt] != 3 || rep.Applied[user.OpCreate] != listThreshold-2 || len(rep.Failed) != 0 {
		t.Errorf("Applied = %v, Failed = %+v", rep.Applied, rep.Failed)
	}
	for i, pid := range []string{"p-by-id", "p-by-name", "p-by-mail"} {
		if s := st.onlySave(t, users[i].ID); s.Rec == nil || s.Rec.PlatformID != pid {
			t.Errorf("%s saved as %+v, want linked to %s", users[i].Username, s.Rec, pid)
		}
	}
	if n := ft.numAccounts(); n != listThreshold+1 {
		t.Errorf("%d accounts, want %d", n, listThreshold+1)
	}
}

func TestRun_FewCreatesLookUpEach(t *testing.T) {
	users := numbered("u", listThreshold)
	e, ft, _ := setup(dirOf(users...))
	e.Target = listingTarget{ft}
	rep := mustRun(t, e, RunOptions{})
	if n := ft.count("list"); n != 0 {
		t.Errorf("platform listed %d times for %d creates", n, listThreshold)
	}
	if n := ft.count("lookup"); n != 3*listThreshold {
		t.Errorf("%d lookups, want %d", n, 3*listThreshold)
	}
	if rep.Applied[user.OpCreate] != listThreshold {
		t.Errorf("Applied = %v", rep.Applied)
	}
}

func TestRun_UpdateOfVanishedAccountRecreates(t *testing.T) {
	for _, st := range []user.Status{user.StatusActive, user.StatusArchived} {
		t.Run(string(st), func(t *testing.T) {
			rec := record(alice, st, "p-old")
			e, ft, store := setup(dirOf(mailTo(alice, "new@example.com")), rec)
			ft.mu.Lock()
			delete(ft.accounts, "p-old") // deleted by hand on the platform
			ft.mu.Unlock()

			rep := mustRun(t, e, RunOptions{})
			if len(rep.Failed) != 0 || rep.Applied[user.OpCreate] != 1 {
				t.Fatalf("Applied = %v, Failed = %+v; want a create", rep.Applied, rep.Failed)
			}
			acct, ok := ft.byUserName("alice")
			if !ok || acct.PlatformID == "p-old" || acct.User.Email != "new@example.com" || !acct.User.Active {
				t.Fatalf("platform account = %+v, %v", acct, ok)
			}
			s := store.onlySave(t, alice.ID)
			if s.Rec == nil || s.Rec.PlatformID != acct.PlatformID || s.Rec.Status != user.StatusActive || !s.Rec.FirstSeen.Equal(t0) {
				t.Errorf("record = %+v, want linked to the new account, active, first seen kept", s.Rec)
			}
			if s.Entry.Op != user.OpCreate || !strings.Contains(s.Entry.Reason, "no longer existed") {
				t.Errorf("entry = %+v, want a create explaining the account had vanished", s.Entry)
			}
		})
	}
}

func TestRun_RemovalOfVanishedAccountIsRecorded(t *testing.T) {
	tests := []struct {
		onRemoved OnRemoved
		op        user.Op
		status    user.Status
	}{
		{RemovedArchive, user.OpArchive, user.StatusArchived},
		{RemovedDelete, user.OpDelete, user.StatusDeleted},
	}
	for _, tt := range tests {
		t.Run(string(tt.onRemoved), func(t *testing.T) {
			e, ft, st := setup(dirOf(bob), record(alice, user.StatusActive, "p-alice"), record(bob, user.StatusActive, "p-bob"))
			e.OnRemoved = tt.onRemoved
			ft.mu.Lock()
			delete(ft.accounts, "p-alice")
			ft.mu.Unlock()

			rep := mustRun(t, e, RunOptions{})
			if len(rep.Failed) != 0 || rep.Applied[tt.op] != 1 {
				t.Fatalf("Applied = %v, Failed = %+v", rep.Applied, rep.Failed)
			}
			s := st.onlySave(t, alice.ID)
			if s.Entry.Error != "" || s.Rec == nil || s.Rec.Status != tt.status || s.Rec.PlatformID != "p-alice" {
				t.Errorf("saved %+v %+v, want %s", s.Entry, s.Rec, tt.status)
			}
			if !strings.Contains(s.Entry.Reason, ReasonRemoved) {
				t.Errorf("entry reason = %q, want it to say why", s.Entry.Reason)
			}
			if tt.op == user.OpArchive && !strings.Contains(s.Entry.Reason, "no longer exists") {
				t.Errorf("entry reason = %q, want it to say the account was gone", s.Entry.Reason)
			}
		})
	}
}

func TestRun_ReactivateWithoutDataChangeOnlyActivates(t *testing.T) {
	e, ft, _ := setup(dirOf(alice, bob), record(disabled(alice), user.StatusArchived, "p-alice"),
		record(mailTo(bob, "old@example.com"), user.StatusArchived, "p-bob"))
	mustRun(t, e, RunOptions{})
	var got []string
	for _, c := range ft.writes() {
		got = append(got, c.String())
	}
	want := []string{"set_active p-alice true", "set_active p-bob true", "update p-bob"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("writes = %q, want %q", got, want)
	}
}

func TestRun_StoreSaveErrorStopsRun(t *testing.T) {
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprint(workers, " workers"), func(t *testing.T) {
			var users []user.User
			var records []user.Record
			for _, u := range numbered("u", 30) {
				records = append(records, record(u, user.StatusActive, "p-"+u.Username))
				users = append(users, mailTo(u, "new-"+u.Email))
			}
			records = append(records, record(erin, user.StatusActive, "p-erin")) // an archive
			e, ft, st := setup(dirOf(users...), records...)
			e.Concurrency = workers
			errDisk := errors.New("disk I/O error")
			var saves atomic.Int32
			st.onSave = func(user.Entry, *user.Record) error {
				if saves.Add(1) == 1 {
					return errDisk
				}
				return nil
			}
			// The first change waits until every worker holds one; the others
			// wait until the applier stops, then land. So when the save fails,
			// exactly `workers` changes are under way.
			full := make(chan struct{})
			var once sync.Once
			var stuck atomic.Bool
			ft.onUpdate = func(ctx context.Context, id string, _ user.User) error {
				if ft.inFlight.Load() >= int64(workers) {
					once.Do(func() { close(full) })
				}
				var wait <-chan struct{} = full
				if id != "p-u00" {
					wait = ctx.Done()
				}
				select {
				case <-wait:
				case <-time.After(10 * time.Second):
					stuck.Store(true)
				}
				return nil
			}

			rep, err := e.Run(t.Context(), RunOptions{})
			if !errors.Is(err, ErrStore) || !errors.Is(err, errDisk) {
				t.Fatalf("Run = %v, want ErrStore wrapping the store's error", err)
			}
			if stuck.Load() {
				t.Fatal("the workers never all held a change, or the applier never stopped")
			}
			// The failed save's change and those already under way; nothing
			// started after the failure.
			if n := len(ft.writes()); n != workers {
				t.Errorf("%d platform writes, want %d: %v", n, workers, ft.writes())
			}
			// Changes that landed after the failure are still recorded.
			if n := len(st.savedList()); n != workers-1 {
				t.Errorf("%d saves, want %d", n, workers-1)
			}
			if a, _ := ft.account("p-erin"); !a.User.Active {
				t.Error("a removal was applied after the snapshot failed")
			}
			if rep.Outcome(err) != OutcomeFailed || st.lastRun(t).Outcome != OutcomeFailed {
				t.Errorf("outcome = %q, recorded %q", rep.Outcome(err), st.lastRun(t).Outcome)
			}
		})
	}
}

func TestRun_ReadErrorChangesNothing(t *testing.T) {
	errLDAP := errors.New("ldap: connection reset")
	records := []user.Record{record(alice, user.StatusActive, "p-alice"), record(bob, user.StatusActive, "p-bob")}
	tests := []struct {
		name string
		read func(ctx context.Context, cancel context.CancelFunc) (Directory, error)
		want error
	}{
		{"read error", func(context.Context, context.CancelFunc) (Directory, error) {
			return Directory{}, errLDAP
		}, errLDAP},
		{"read cut short by cancellation", func(ctx context.Context, cancel context.CancelFunc) (Directory, error) {
			// Some clients report a cancelled search as a clean, short end.
			cancel()
			return Directory{Users: []user.User{bob}}, nil
		}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ft, st := setup(Directory{}, records...)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			e.Source = &fakeSource{read: func(ctx context.Context) (Directory, error) { return tt.read(ctx, cancel) }}

			rep, err := e.Run(ctx, RunOptions{})
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), "nothing was changed") {
				t.Fatalf("Run = %v, want %v", err, tt.want)
			}
			if calls := ft.log(); len(calls) != 0 {
				t.Errorf("platform calls after a failed read: %v", calls)
			}
			if len(st.savedList()) != 0 || len(rep.Plan.Changes) != 0 {
				t.Errorf("saves %+v, plan %q", st.savedList(), summaries(rep.Plan))
			}
			run := st.lastRun(t)
			if run.Outcome != OutcomeFailed || !strings.Contains(run.ErrText, tt.want.Error()) {
				t.Errorf("run recorded as %+v", run)
			}
		})
	}
}

func TestRun_SnapshotErrorChangesNothing(t *testing.T) {
	e, ft, st := setup(dirOf(alice))
	st.onSnapshot = func() error { return errors.New("database is locked") }
	_, err := e.Run(t.Context(), RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "database is locked") {
		t.Fatalf("Run = %v", err)
	}
	if len(ft.log()) != 0 || st.lastRun(t).Outcome != OutcomeFailed {
		t.Errorf("calls %v, run %+v", ft.log(), st.lastRun(t))
	}
}

func TestRun_BeginRunErrorChangesNothing(t *testing.T) {
	e, ft, st := setup(dirOf(alice))
	src := &fakeSource{dir: dirOf(alice)}
	e.Source = src
	st.onBegin = func() error { return errors.New("read-only database") }
	_, err := e.Run(t.Context(), RunOptions{})
	if !errors.Is(err, ErrStore) {
		t.Fatalf("Run = %v, want ErrStore", err)
	}
	if src.reads.Load() != 0 || len(ft.log()) != 0 || len(st.finishes) != 0 {
		t.Errorf("reads %d, calls %v, finishes %+v", src.reads.Load(), ft.log(), st.finishes)
	}
}

func TestRun_FinishRunErrorIsReported(t *testing.T) {
	e, _, st := setup(dirOf(alice))
	st.onFinish = func() error { return errors.New("disk full") }
	_, err := e.Run(t.Context(), RunOptions{})
	if !errors.Is(err, ErrStore) || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Run = %v, want ErrStore", err)
	}
}

func TestRun_DryRunChangesNothing(t *testing.T) {
	e, ft, st := setup(dirOf(alice, mailTo(bob, "b@example.com")), record(bob, user.StatusActive, "p-bob"), record(carol, user.StatusActive, "p-carol"))
	e.Target = listingTarget{ft}
	rep, err := e.Run(t.Context(), RunOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.DryRun || rep.RunID != 0 {
		t.Errorf("report: dry run %v, run ID %d", rep.DryRun, rep.RunID)
	}
	if got := summaries(rep.Plan); !reflect.DeepEqual(got, []string{"create alice", "update bob @p-bob [email]", "archive carol @p-carol (removed)"}) {
		t.Errorf("plan = %q", got)
	}
	// Only reads: the lookups that show which creates would adopt.
	if calls := ft.writes(); len(calls) != 0 {
		t.Errorf("platform writes in a dry run: %v", calls)
	}
	if len(st.begun) != 0 || len(st.savedList()) != 0 || len(st.finishes) != 0 {
		t.Errorf("store writes in a dry run: begun %v, saves %+v, finishes %+v", st.begun, st.savedList(), st.finishes)
	}
	if len(rep.Applied) != 0 {
		t.Errorf("Applied = %v", rep.Applied)
	}
}

func TestRun_DryRunStillRefusedBySafety(t *testing.T) {
	e, _, st := setup(Directory{}, record(alice, user.StatusActive, "p-alice"))
	_, err := e.Run(t.Context(), RunOptions{DryRun: true})
	var se *SafetyError
	if !errors.As(err, &se) || !se.EmptyDirectory {
		t.Fatalf("Run = %v, want an empty-directory refusal", err)
	}
	if len(st.finishes) != 0 {
		t.Errorf("a dry run recorded %+v", st.finishes)
	}
}

func TestRun_SafetyRefusalChangesNothing(t *testing.T) {
	records := managed(numbered("u", 10)...)
	tests := []struct {
		name  string
		dir   Directory
		empty bool
	}{
		{"mass archive", dirOf(person("id-u00", "u00"), person("id-new", "new")), false},
		{"empty directory", Directory{}, true},
		{"every entry skipped", Directory{Skipped: []Skip{{DN: "CN=x", Reason: "no ID"}}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ft, st := setup(tt.dir, records...)
			e.Policy = Policy{MaxArchive: 5, MaxArchivePercent: 50}
			rep, err := e.Run(t.Context(), RunOptions{})
			var se *SafetyError
			if !errors.As(err, &se) || se.EmptyDirectory != tt.empty {
				t.Fatalf("Run = %v, want a SafetyError (empty %v)", err, tt.empty)
			}
			if w := ft.writes(); len(w) != 0 {
				t.Errorf("platform writes after a refusal: %v", w)
			}
			if len(st.savedList()) != 0 {
				t.Errorf("saves after a refusal: %+v", st.savedList())
			}
			if run := st.lastRun(t); run.Outcome != OutcomeRefused || run.ErrText != err.Error() || rep.Outcome(err) != OutcomeRefused {
				t.Errorf("run recorded as %+v", run)
			}
		})
	}
}

func TestRun_OverridesLetRefusedPlanThrough(t *testing.T) {
	e, ft, _ := setup(Directory{}, record(alice, user.StatusActive, "p-alice"), record(bob, user.StatusActive, "p-bob"))
	e.Policy = Policy{MaxArchive: 50, MaxArchivePercent: 10}
	if _, err := e.Run(t.Context(), RunOptions{AllowEmptyDirectory: true}); err == nil {
		t.Fatal("--allow-empty-directory alone passed the mass limit")
	}
	rep := mustRun(t, e, RunOptions{AllowEmptyDirectory: true, AllowMassArchive: true})
	if rep.Applied[user.OpArchive] != 2 || ft.count("set_active") != 2 {
		t.Errorf("Applied = %v, calls %v", rep.Applied, ft.log())
	}
}

func TestRun_CancelDuringApply(t *testing.T) {
	for _, landed := range []bool{false, true} {
		name := map[bool]string{false: "in-flight call interrupted", true: "in-flight call landed"}[landed]
		t.Run(name, func(t *testing.T) {
			var users []user.User
			var records []user.Record
			for _, u := range numbered("u", 10) {
				records = append(records, record(u, user.StatusActive, "p-"+u.Username))
				users = append(users, mailTo(u, "new-"+u.Email))
			}
			records = append(records, record(erin, user.StatusActive, "p-erin"))
			e, ft, st := setup(dirOf(users...), records...)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var updates atomic.Int32
			ft.onUpdate = func(ctx context.Context, id string, u user.User) error {
				if updates.Add(1) == 3 {
					cancel() // SIGTERM while the third update is under way
					if !landed {
						return fmt.Errorf("PUT /Users/%s: %w", id, ctx.Err())
					}
				}
				return nil
			}

			rep, err := e.Run(ctx, RunOptions{})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Run = %v, want context.Canceled", err)
			}
			if n := len(ft.writes()); n != 3 {
				t.Errorf("%d platform writes, want 3 (no change started after the cancellation): %v", n, ft.writes())
			}
			applied := 2
			if landed {
				applied = 3
			}
			if len(rep.Failed) != 0 || rep.Applied[user.OpUpdate] != applied {
				t.Errorf("Applied = %v, Failed = %+v; want %d updates and no failure", rep.Applied, rep.Failed, applied)
			}
			saves := st.savedList()
			if len(saves) != applied {
				t.Errorf("%d saves, want %d", len(saves), applied)
			}
			for _, s := range saves {
				if s.Entry.Error != "" || s.Rec == nil || s.Rec.Attempts != 0 {
					t.Errorf("saved %+v %+v; the cancellation is not a failure", s.Entry, s.Rec)
				}
			}
			if run := st.lastRun(t); run.Outcome != OutcomeFailed {
				t.Errorf("run recorded as %+v", run)
			}
		})
	}
}

func TestRun_ConcurrencyBound(t *testing.T) {
	for _, tt := range []struct{ concurrency, want int }{{4, 4}, {0, 8}} {
		t.Run(fmt.Sprint("concurrency ", tt.concurrency), func(t *testing.T) {
			var users []user.User
			var records []user.Record
			for _, u := range numbered("u", 40) {
				records = append(records, record(u, user.StatusActive, "p-"+u.Username))
				users = append(users, mailTo(u, "new-"+u.Email))
			}
			e, ft, _ := setup(dirOf(users...), records...)
			e.Concurrency = tt.concurrency
			// The first calls wait until the bound is reached, so the test sees
			// the workers run at once; a timeout guards against a lower bound.
			full := make(chan struct{})
			var once sync.Once
			var stuck atomic.Bool
			ft.onUpdate = func(context.Context, string, user.User) error {
				if ft.inFlight.Load() >= int64(tt.want) {
					once.Do(func() { close(full) })
				}
				select {
				case <-full:
				case <-time.After(10 * time.Second):
					stuck.Store(true)
				}
				return nil
			}
			rep := mustRun(t, e, RunOptions{})
			if stuck.Load() {
				t.Errorf("fewer than %d changes were ever in flight at once", tt.want)
			}
			if got := ft.maxInFlight.Load(); got != int64(tt.want) {
				t.Errorf("max in flight = %d, want %d", got, tt.want)
			}
			if rep.Applied[user.OpUpdate] != 40 {
				t.Errorf("Applied = %v", rep.Applied)
			}
		})
	}
}

func TestRun_ObserveSeesEachChange(t *testing.T) {
	e, ft, _ := setup(dirOf(alice, bob, mailTo(carol, "c@example.com")), record(carol, user.StatusActive, "p-carol"))
	ft.put(user.Account{PlatformID: "p-bob", User: user.User{Username: "BOB", Active: true}})
	ft.onCreate = func(context.Context, user.User) error { return errPlatform }
	e.Concurrency = 3
	var mu sync.Mutex
	got := map[string]bool{}
	e.Observe = func(c Change, err error) {
		mu.Lock()
		defer mu.Unlock()
		got[string(c.Op)+" "+c.User.Username] = err == nil
	}
	mustRun(t, e, RunOptions{})
	want := map[string]bool{"create alice": false, "adopt bob": true, "update carol": true}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("observed %v, want %v", got, want)
	}
}

func TestRun_NothingToDo(t *testing.T) {
	e, ft, st := setup(dirOf(alice), record(alice, user.StatusActive, "p-alice"))
	rep := mustRun(t, e, RunOptions{})
	if len(ft.log()) != 0 || len(st.savedList()) != 0 || rep.Plan.Unchanged != 1 {
		t.Errorf("calls %v, saves %+v, plan %+v", ft.log(), st.savedList(), rep.Plan)
	}
	if run := st.lastRun(t); run.Outcome != OutcomeSuccess || run.Counts["unchanged"] != 1 {
		t.Errorf("run recorded as %+v", run)
	}
}

func TestRun_ListErrorStopsBeforeAnyWrite(t *testing.T) {
	users := numbered("u", listThreshold+1)
	e, ft, _ := setup(dirOf(users...))
	e.Target = failingLister{listingTarget{ft}}
	_, err := e.Run(t.Context(), RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "list platform accounts") {
		t.Fatalf("Run = %v", err)
	}
	if w := ft.writes(); len(w) != 0 {
		t.Errorf("writes: %v", w)
	}
}

type failingLister struct{ listingTarget }

func (failingLister) List(context.Context, func(user.Account) error) error { return errPlatform }

func TestRun_CreateConflictThenLookupErrorIsReportedAsSuch(t *testing.T) {
	e, ft, _ := setup(dirOf(alice))
	ft.put(user.Account{PlatformID: "p-x", User: user.User{Username: "ALICE", Active: true}})
	e.AdoptBy = []string{user.MatchEmail}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var lookups atomic.Int32
	ft.onLookup = func(ctx context.Context, key, value string) error {
		if lookups.Add(1) == 2 { // the lookup after the conflict
			return fmt.Errorf("GET /Users: %w", errPlatform)
		}
		return nil
	}
	rep, err := e.Run(ctx, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Failed) != 1 {
		t.Fatalf("Failed = %+v", rep.Failed)
	}
	// The search failed: the message must not claim that nothing was found.
	if msg := rep.Failed[0].Error; !strings.Contains(msg, errPlatform.Error()) || strings.Contains(msg, "was found") {
		t.Errorf("error = %q, want the lookup's error", msg)
	}

	// Cancelled during that lookup: stopped, not failed.
	e, ft, st := setup(dirOf(alice))
	ft.put(user.Account{PlatformID: "p-x", User: user.User{Username: "ALICE", Active: true}})
	e.AdoptBy = []string{user.MatchEmail}
	lookups.Store(0)
	ft.onLookup = func(ctx context.Context, key, value string) error {
		if lookups.Add(1) == 2 {
			cancel()
			return fmt.Errorf("GET /Users: %w", ctx.Err())
		}
		return nil
	}
	rep, err = e.Run(ctx, RunOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if len(rep.Failed) != 0 || len(st.savedList()) != 0 {
		t.Errorf("a cancelled lookup was recorded as a failure: %+v %+v", rep.Failed, st.savedList())
	}
}

func TestIsNotFoundAndIsConflict_FollowTheChain(t *testing.T) {
	nf := fmt.Errorf("scim get user: %w", notFound("p-1"))
	cf := fmt.Errorf("scim create user: %w", &platformError{conflict: true, msg: "409"})
	if !IsNotFound(nf) || IsConflict(nf) {
		t.Errorf("not found error: IsNotFound %v, IsConflict %v", IsNotFound(nf), IsConflict(nf))
	}
	if !IsConflict(cf) || IsNotFound(cf) {
		t.Errorf("conflict error: IsConflict %v, IsNotFound %v", IsConflict(cf), IsNotFound(cf))
	}
	if IsNotFound(errPlatform) || IsConflict(errPlatform) || IsNotFound(nil) || IsConflict(nil) {
		t.Error("a plain error reported as not found or conflict")
	}
	if IsNotFound(&platformError{msg: "500"}) || IsConflict(&platformError{msg: "500"}) {
		t.Error("methods returning false ignored")
	}
}

func TestReport_Outcome(t *testing.T) {
	tests := []struct {
		rep  Report
		err  error
		want string
	}{
		{Report{}, nil, OutcomeSuccess},
		{Report{Failed: []Failure{{}}}, nil, OutcomePartial},
		{Report{Failed: []Failure{{}}}, errors.New("apply: snapshot write"), OutcomeFailed},
		{Report{}, fmt.Errorf("run: %w", &SafetyError{}), OutcomeRefused},
		{Report{}, context.Canceled, OutcomeFailed},
	}
	for _, tt := range tests {
		if got := tt.rep.Outcome(tt.err); got != tt.want {
			t.Errorf("Outcome(%v) with %d failures = %q, want %q", tt.err, len(tt.rep.Failed), got, tt.want)
		}
	}
}

func TestRun_FailedAdoptionReleasesTheAccount(t *testing.T) {
	shared := "team@example.com"
	e, ft, st := setup(dirOf(mailTo(alice, shared), mailTo(bob, shared)))
	ft.put(user.Account{PlatformID: "p-team", User: user.User{Username: "team", Email: shared, Active: true}})
	e.AdoptBy = []string{user.MatchEmail}
	var updates atomic.Int32
	ft.onUpdate = func(context.Context, string, user.User) error {
		if updates.Add(1) == 1 {
			return errPlatform // alice's adoption (plan order)
		}
		return nil
	}
	rep := mustRun(t, e, RunOptions{})
	if len(rep.Failed) != 1 || rep.Failed[0].Change.User.ID != alice.ID || rep.Applied[user.OpAdopt] != 1 {
		t.Fatalf("Applied = %v, Failed = %+v; want alice failed and bob adopted", rep.Applied, rep.Failed)
	}
	if s := st.onlySave(t, bob.ID); s.Rec == nil || s.Rec.PlatformID != "p-team" {
		t.Errorf("bob saved as %+v", s.Rec)
	}
	if s := st.onlySave(t, alice.ID); s.Entry.Op != user.OpAdopt || s.Rec.Status != user.StatusPending || s.Rec.PlatformID != "" {
		t.Errorf("alice saved as %+v %+v, want a failed adoption leaving a pending record", s.Entry, s.Rec)
	}
}

func TestRun_PlatformErrorsFailOnlyTheirChange(t *testing.T) {
	tests := []struct {
		name      string
		dir       Directory
		rec       user.Record
		onRemoved OnRemoved
		inject    func(ft *fakeTarget)
		op        user.Op
	}{
		{"reactivate: activation fails", dirOf(alice), record(alice, user.StatusArchived, "p-alice"), RemovedArchive,
			func(ft *fakeTarget) {
				ft.onSetActive = func(context.Context, string, bool) error { return errPlatform }
			}, user.OpReactivate},
		{"reactivate: update fails", dirOf(mailTo(alice, "a@example.com")), record(alice, user.StatusArchived, "p-alice"), RemovedArchive,
			func(ft *fakeTarget) {
				ft.onUpdate = func(context.Context, string, user.User) error { return errPlatform }
			}, user.OpReactivate},
		{"archive fails", dirOf(disabled(alice)), record(alice, user.StatusActive, "p-alice"), RemovedArchive,
			func(ft *fakeTarget) {
				ft.onSetActive = func(context.Context, string, bool) error { return errPlatform }
			}, user.OpArchive},
		{"delete fails", dirOf(disabled(bob)), record(alice, user.StatusActive, "p-alice"), RemovedDelete,
			func(ft *fakeTarget) {
				ft.onDelete = func(context.Context, string) error { return errPlatform }
			}, user.OpDelete},
		{"adopted inactive account cannot be activated", dirOf(alice), user.Record{}, RemovedArchive,
			func(ft *fakeTarget) {
				ft.put(user.Account{PlatformID: "p-old", User: user.User{Username: "alice"}})
				ft.onSetActive = func(context.Context, string, bool) error { return errPlatform }
			}, user.OpAdopt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var recs []user.Record
			if tt.rec.User.ID != "" {
				recs = append(recs, tt.rec)
			}
			e, ft, st := setup(tt.dir, recs...)
			e.OnRemoved = tt.onRemoved
			tt.inject(ft)
			rep := mustRun(t, e, RunOptions{})
			if len(rep.Failed) != 1 || len(rep.Applied) != 0 {
				t.Fatalf("Applied = %v, Failed = %+v; want one failure", rep.Applied, rep.Failed)
			}
			s := st.onlySave(t, alice.ID)
			if s.Entry.Op != tt.op || !strings.Contains(s.Entry.Error, errPlatform.Error()) || s.Rec == nil || s.Rec.Attempts != 1 {
				t.Fatalf("saved %+v %+v", s.Entry, s.Rec)
			}
			want := tt.rec
			if want.User.ID == "" {
				want = user.Record{User: alice, Hash: alice.Hash(), Status: user.StatusPending, FirstSeen: clock, LastSeen: clock}
			}
			// The record keeps the kind of change planned (an adoption is
			// a create).
			want.Attempts, want.LastError, want.FailedOp = 1, s.Entry.Error, tt.op
			if tt.op == user.OpAdopt {
				want.FailedOp = user.OpCreate
			}
			if !reflect.DeepEqual(*s.Rec, want) {
				t.Errorf("record = %+v\nwant %+v", *s.Rec, want)
			}
		})
	}
}

func TestRun_AccountOfAnotherDirectoryIdentityIsNotAdopted(t *testing.T) {
	// The platform account has bob's email but carries another directory ID as
	// its externalId, and no snapshot record links it: bob must not take it over.
	e, ft, _ := setup(dirOf(bob))
	ft.put(user.Account{PlatformID: "p-other", User: user.User{ID: "id-someone-else", Username: "bobby", Email: bob.Email, Active: true}})
	e.AdoptBy = []string{user.MatchEmail}
	rep := mustRun(t, e, RunOptions{})
	if len(rep.Failed) != 1 || !strings.Contains(rep.Failed[0].Error, `has externalId "id-someone-else"`) {
		t.Fatalf("Failed = %+v, want bob's adoption refused for the foreign externalId", rep.Failed)
	}
	if acct, _ := ft.account("p-other"); acct.User.ID != "id-someone-else" || acct.User.Username != "bobby" {
		t.Errorf("the other identity's account changed: %+v", acct.User)
	}
	if n := ft.count("create"); n != 0 {
		t.Errorf("%d creates; a refused adoption must not create a duplicate", n)
	}
}

func TestRun_ReportsTimeSpentInEachPhase(t *testing.T) {
	e, _, _ := setup(dirOf(alice), record(bob, user.StatusActive, "p-bob"))
	// Each reading of the clock is one second after the last.
	var mu sync.Mutex
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e.Now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(time.Second)
		return clock
	}
	rep := mustRun(t, e, RunOptions{})
	if rep.Phases.Fetch != time.Second || rep.Phases.Diff != time.Second {
		t.Errorf("fetch %v, diff %v; want 1s each (one clock step per phase)", rep.Phases.Fetch, rep.Phases.Diff)
	}
	if rep.Phases.Apply < time.Second {
		t.Errorf("apply %v, want at least 1s", rep.Phases.Apply)
	}
	if sum := rep.Phases.Fetch + rep.Phases.Diff + rep.Phases.Apply; sum > rep.Duration {
		t.Errorf("phases add up to %v, more than the run's %v", sum, rep.Duration)
	}

	dry, err := e.Run(t.Context(), RunOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if dry.Phases.Apply != 0 || dry.Phases.Fetch == 0 {
		t.Errorf("dry run phases %+v: want fetch timed and no apply", dry.Phases)
	}
}

func TestRun_OnPlanSeesThePlanBeforeTheFirstChange(t *testing.T) {
	e, ft, _ := setup(dirOf(alice, bob))
	var planned, callsBefore int
	e.OnPlan = func(p Plan) {
		planned = len(p.Changes)
		callsBefore = len(ft.log())
	}
	mustRun(t, e, RunOptions{})
	if planned != 2 || callsBefore != 0 {
		t.Errorf("OnPlan saw %d changes after %d platform calls; want 2 before any", planned, callsBefore)
	}
	planned = -1
	if _, err := e.Run(t.Context(), RunOptions{DryRun: true}); err != nil {
		t.Fatal(err)
	}
	if planned != -1 {
		t.Errorf("OnPlan called in a dry run")
	}
}
