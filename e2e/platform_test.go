package e2e

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/state"
	"github.com/dirsync/dirsync/target/fake"
	"github.com/dirsync/dirsync/user"
)

// records reads the snapshot's records by username.
func (e *env) records() map[string]user.Record {
	e.t.Helper()
	db, err := state.OpenReadOnly(context.Background(), e.statePath())
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	recs, err := db.Snapshot(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	m := make(map[string]user.Record, len(recs))
	for _, r := range recs {
		m[r.User.Username] = r
	}
	return m
}

// wantNoAttempts fails when a snapshot record counts a failed attempt or
// holds an error.
func wantNoAttempts(t *testing.T, e *env, when string) {
	t.Helper()
	for name, r := range e.records() {
		if r.Attempts != 0 || r.LastError != "" {
			t.Errorf("%s: %s has %d attempts (%q); a platform failure must not count against a user", when, name, r.Attempts, r.LastError)
		}
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// platformFailureRuns sets up a synced alice, a new hire bob and an edited
// alice, lets breakPlatform make the platform unusable, and checks that
// every run fails with exit 1 and a message holding want, that nobody is
// quarantined or counted as failing, and that once fixPlatform ran the next
// run applies everything.
func platformFailureRuns(t *testing.T, breakPlatform, fixPlatform func(e *env), want ...string) {
	t.Helper()
	e := newEnv(t)
	// Quarantine at the first failed attempt: a platform failure must not be one.
	e.environ = []string{"DIRSYNC_SYNC_QUARANTINE_AFTER=1"}
	alice := e.addUser("alice", false)
	e.mustRun(0, "sync")
	e.ldap.Modify(t, alice, map[string][]string{"sn": {"Renamed"}})
	e.addUser("bob", false)

	breakPlatform(e)
	for i := range 3 {
		r := e.mustRun(1, "sync")
		wantContains(t, "stderr", r.stderr, want...)
		wantContains(t, "stderr", r.stderr, "no user was counted as failing")
		if strings.Contains(r.stderr, "quarantined") {
			t.Errorf("run %d: a platform failure quarantined users:\n%s", i+1, r)
		}
		wantNoAttempts(t, e, "after a run against an unusable platform")
	}
	r := e.mustRun(1, "sync", "--output", "json")
	wantContains(t, "sync --output json", r.stdout, `"outcome": "failed"`)

	fixPlatform(e)
	r = e.mustRun(0, "sync")
	if a := e.account("alice"); a.FamilyName != "Renamed" {
		t.Errorf("alice's edit was not applied once the platform was fixed: %+v\n%s", a, r)
	}
	e.account("bob")
	wantNoAttempts(t, e, "after the platform was fixed")
}

func TestSync_WrongTokenFailsTheRunWithoutCountingAgainstUsers(t *testing.T) {
	t.Parallel()
	platformFailureRuns(t,
		func(e *env) { e.environ = append(e.environ, "DIRSYNC_TARGET_TOKEN=expired-token") },
		func(e *env) { e.environ = e.environ[:1] },
		"HTTP 401", "target.token")
}

func TestSync_ClosedPortFailsTheRunWithoutCountingAgainstUsers(t *testing.T) {
	t.Parallel()
	var url string
	platformFailureRuns(t,
		func(e *env) {
			url = e.url
			e.url = "http://" + closedPort(t) + "/scim/v2"
			e.writeConfig()
		},
		func(e *env) { e.url = url; e.writeConfig() },
		"connection refused", "target.url")
}

func TestSync_TLSMismatchFailsTheRunWithoutCountingAgainstUsers(t *testing.T) {
	t.Parallel()
	var url string
	platformFailureRuns(t,
		func(e *env) {
			url = e.url
			// The fake speaks plain HTTP: an https:// URL cannot work.
			e.url = strings.Replace(url, "http://", "https://", 1)
			e.writeConfig()
		},
		func(e *env) { e.url = url; e.writeConfig() },
		"TLS", "target.url")
}

func TestSyncFull_RecreatesAccountsDeletedOnThePlatformByHand(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	syncUsers(t, e, "alice", "bob")
	if !e.plat.Remove(e.account("bob").ID) {
		t.Fatal("could not remove bob's account")
	}

	r := e.mustRun(2, "plan", "--full")
	wantContains(t, "plan --full", r.stdout, "1 to create", "bob", "deleted on the platform")
	r = e.mustRun(0, "sync", "--full")
	bob := e.account("bob")
	if !bob.Active {
		t.Errorf("bob was recreated inactive: %+v", bob)
	}
	if rec := e.records()["bob"]; rec.PlatformID != bob.ID {
		t.Errorf("bob's record links %q, want the new account %q", rec.PlatformID, bob.ID)
	}
	e.mustRun(0, "plan", "--full")
}

func TestSyncFull_OnMissingReportListsDeletedAccountsAndCreatesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	syncUsers(t, e, "alice", "bob")
	e.plat.Remove(e.account("bob").ID)
	e.environ = []string{"DIRSYNC_SYNC_ON_MISSING=report"}

	r := e.mustRun(0, "plan", "--full")
	wantContains(t, "plan --full", r.stdout, "Missing on the platform (1", "bob")
	r = e.mustRun(0, "sync", "--full", "--output", "json")
	wantContains(t, "sync --full --output json", r.stdout, `"missing"`, `"bob"`)
	if _, ok := e.plat.FindByUserName("bob"); ok {
		t.Errorf("sync.on_missing: report recreated bob")
	}
}

func TestSync_UpdateOfAnAccountDeletedByHandRecreatesIt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dns := syncUsers(t, e, "alice")
	old := e.account("alice").ID
	e.plat.Remove(old)
	e.ldap.Modify(t, dns["alice"], map[string][]string{"sn": {"Renamed"}})

	r := e.mustRun(0, "sync")
	alice := e.account("alice")
	if alice.ID == old || alice.FamilyName != "Renamed" || !alice.Active {
		t.Errorf("alice = %+v; want a new active account with the update\n%s", alice, r)
	}
}

func TestSync_OnMissingReportFailsTheUpdateOfAnAccountDeletedByHand(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dns := syncUsers(t, e, "alice")
	e.plat.Remove(e.account("alice").ID)
	e.ldap.Modify(t, dns["alice"], map[string][]string{"sn": {"Renamed"}})
	e.environ = []string{"DIRSYNC_SYNC_ON_MISSING=report"}

	r := e.mustRun(1, "sync")
	wantContains(t, "stderr", r.stderr, "no longer exists on the platform", "sync.on_missing")
	if _, ok := e.plat.FindByUserName("alice"); ok {
		t.Errorf("sync.on_missing: report recreated alice")
	}
}

func TestSync_RefusedEmailFilterFallsBackToAListingAndSaysSoOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// carol has an account already, under another userName and with no
	// externalId: only her email finds it.
	if _, err := e.plat.Seed(user.User{Username: "carol.old", Email: "carol@example.com", GivenName: "Carol", Active: true}); err != nil {
		t.Fatal(err)
	}
	e.plat.RefuseFilter("emails")
	e.addUser("alice", false)
	e.addUser("bob", false)
	e.addUser("carol", false)

	r := e.mustRun(0, "sync")
	e.account("alice")
	e.account("bob")
	carol := e.account("carol")
	if len(e.plat.Accounts()) != 3 {
		t.Errorf("%d platform accounts, want 3 (carol's adopted, not duplicated): %+v", len(e.plat.Accounts()), e.plat.Accounts())
	}
	if carol.ExternalID == "" {
		t.Errorf("carol's account was not linked: %+v", carol)
	}
	if n := strings.Count(r.stderr, `"msg":"the platform refused the lookup by email`); n != 1 {
		t.Errorf("%d warnings about the refused lookup, want 1:\n%s", n, r)
	}
	wantContains(t, "stderr", r.stderr, "email")
}

// wantNoWriteOutsideAnAccount fails when the platform received a write
// other than a create (POST /Users) or one addressed to a single account
// (/Users/{id}, id not "." or "..").
func wantNoWriteOutsideAnAccount(t *testing.T, e *env) {
	t.Helper()
	for _, r := range e.plat.Requests() {
		if r.Method == "GET" || (r.Method == "POST" && r.Path == "/Users") {
			continue
		}
		id, ok := strings.CutPrefix(r.Path, "/Users/")
		if !ok || id == "" || id == "." || id == ".." {
			t.Errorf("%s %s: a write outside a single account", r.Method, r.Path)
		}
	}
}

func TestSync_RefusesAPlatformIDThatIsNotAPathSegmentFromACreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.plat.NextIDs("..")
	e.addUser("alice", false)

	r := e.mustRun(1, "sync")
	wantContains(t, "sync", r.stdout+r.stderr, `account id ".."`, "alice")
	if rec := e.records()["alice"]; rec.PlatformID != "" {
		t.Errorf("alice's record links %q", rec.PlatformID)
	}
	// The next run finds the account by externalId: refused again.
	r = e.mustRun(1, "sync")
	wantContains(t, "second sync", r.stdout+r.stderr, `account id ".."`)
	wantNoWriteOutsideAnAccount(t, e)
}

func TestSync_RefusesAPlatformIDThatIsNotAPathSegmentFromALookup(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.plat.NextIDs("x/../..")
	if _, err := e.plat.Seed(user.User{Username: "bob", Email: "bob@example.com", Active: false}); err != nil {
		t.Fatal(err)
	}
	e.addUser("bob", false)

	r := e.mustRun(1, "sync")
	wantContains(t, "sync", r.stdout+r.stderr, `account id "x/../.."`, "bob")
	wantNoWriteOutsideAnAccount(t, e)
}

func TestSyncFull_RefusesAListingWithAPlatformIDThatIsNotAPathSegment(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	syncUsers(t, e, "alice")
	e.plat.NextIDs(".")
	if _, err := e.plat.Seed(user.User{Username: "stranger", Active: true}); err != nil {
		t.Fatal(err)
	}
	e.environ = []string{"DIRSYNC_SYNC_UNMANAGED=archive"}

	r := e.mustRun(1, "sync", "--full")
	wantContains(t, "sync --full", r.stderr, `account id "."`)
	if s, _ := e.plat.FindByUserName("stranger"); !s.Active {
		t.Errorf("the stranger was archived through a listing that was refused")
	}
	wantNoWriteOutsideAnAccount(t, e)
}

func TestPlan_ShowsAdoptionsAfterTheSnapshotWasLost(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	syncUsers(t, e, "alice", "bob", "carol")
	if err := os.RemoveAll(filepath.Dir(e.statePath())); err != nil {
		t.Fatal(err)
	}
	e.addUser("dave", false)
	writes := e.plat.Writes()

	r := e.mustRun(2, "plan")
	wantContains(t, "plan", r.stdout, "Plan: 1 to create, 3 to adopt", "= adopt", "alice", "bob", "carol", "+ create  dave")
	r = e.mustRun(2, "plan", "--output", "json")
	var doc struct {
		Plan struct {
			Changes []struct {
				Op    string `json:"op"`
				User  user.User
				Adopt *user.Account `json:"adopt"`
			} `json:"changes"`
			Adoptions int `json:"adoptions"`
		} `json:"plan"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("plan --output json: %v\n%s", err, r.stdout)
	}
	if doc.Plan.Adoptions != 3 {
		t.Errorf("plan.adoptions = %d, want 3\n%s", doc.Plan.Adoptions, r.stdout)
	}
	for _, c := range doc.Plan.Changes {
		if want := c.User.Username != "dave"; (c.Adopt != nil) != want {
			t.Errorf("%s: adopt = %+v, want an adoption: %v", c.User.Username, c.Adopt, want)
		}
		if c.Adopt != nil && c.Adopt.PlatformID != e.account(c.User.Username).ID {
			t.Errorf("%s would adopt %q, want %q", c.User.Username, c.Adopt.PlatformID, e.account(c.User.Username).ID)
		}
	}
	if got := e.plat.Writes(); got != writes {
		t.Errorf("plan wrote to the platform (%d → %d writes)", writes, got)
	}

	r = e.mustRun(0, "sync")
	wantContains(t, "sync", r.stdout, "1 created, 3 adopted")
}

func TestSyncFull_AListingThatCannotBeTrustedChangesNothing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		faults fake.ListFaults
		want   string
	}{
		{"endless", fake.ListFaults{Endless: true}, "seems never to end"},
		{"cut short", fake.ListFaults{StopAfter: 1}, "the listing is incomplete"},
		{"startIndex ignored", fake.ListFaults{IgnoreStartIndex: true, OmitTotal: true}, "ignore startIndex"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.environ = []string{"DIRSYNC_SYNC_UNMANAGED=archive"}
			syncUsers(t, e, "alice", "bob", "carol")
			if _, err := e.plat.Seed(user.User{Username: "stranger", Active: true}); err != nil {
				t.Fatal(err)
			}
			e.plat.SetListFaults(tc.faults)
			writes := e.plat.Writes()

			r := e.mustRun(1, "sync", "--full")
			wantContains(t, "sync --full", r.stderr, tc.want, "nothing was changed")
			if got := e.plat.Writes(); got != writes {
				t.Errorf("a full reconcile on a listing that cannot be trusted wrote to the platform (%d → %d writes)", writes, got)
			}
		})
	}
}

func TestSync_AFailedFallbackListingFailsTheRunNotTheNewHires(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.environ = []string{"DIRSYNC_SYNC_QUARANTINE_AFTER=1"}
	e.plat.RefuseFilter("emails")
	e.plat.SetListFaults(fake.ListFaults{Endless: true})
	e.addUser("alice", false)

	for range 2 {
		r := e.mustRun(1, "sync")
		wantContains(t, "stderr", r.stderr, "listing its accounts instead failed", "no user was counted as failing")
		wantNoAttempts(t, e, "after a failed fallback listing")
	}
	e.plat.SetListFaults(fake.ListFaults{})
	e.mustRun(0, "sync")
	e.account("alice")
}
