package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/dirsync/dirsync/state"
	"github.com/dirsync/dirsync/user"
)

// syncUsers adds users and runs a first sync that creates them.
func syncUsers(t *testing.T, e *env, names ...string) map[string]string {
	t.Helper()
	dns := map[string]string{}
	for _, n := range names {
		dns[n] = e.addUser(n, false)
	}
	e.mustRun(0, "sync")
	if got := len(e.plat.Accounts()); got != len(names) {
		t.Fatalf("first sync: want %d accounts, got %d", len(names), got)
	}
	return dns
}

// planJSON is the part of `--output json` the tests read.
type planJSON struct {
	DryRun bool `json:"dry_run"`
	Plan   struct {
		Changes []struct {
			Op     string `json:"op"`
			User   user.User
			Fields []user.FieldChange `json:"fields"`
		} `json:"changes"`
		InScope int `json:"in_scope"`
	} `json:"plan"`
	Outcome string `json:"outcome"`
}

func TestPlan_DryRunChangesNeitherPlatformNorSnapshot(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	// Before the first sync there is no snapshot: a plan lists every create
	// and leaves no state file behind.
	dns := map[string]string{"alice": e.addUser("alice", false), "bob": e.addUser("bob", false)}
	hash := e.stateHash()
	r := e.mustRun(2, "plan")
	wantContains(t, "plan stdout", r.stdout, "Plan: 2 to create")
	if got := e.stateHash(); got != hash {
		t.Errorf("plan before the first sync changed the state files")
	}
	if e.plat.Writes() != 0 {
		t.Errorf("plan wrote to the platform: %+v", e.plat.Requests())
	}

	e.mustRun(0, "sync")
	e.ldap.Modify(t, dns["bob"], map[string][]string{"sn": {"Builder"}})
	e.ldap.Delete(t, dns["alice"])
	e.addUser("carol", false)

	writes := e.plat.Writes()
	hash = e.stateHash()
	for _, args := range [][]string{{"plan"}, {"sync", "--dry-run"}} {
		r := e.mustRun(2, args...)
		wantContains(t, fmt.Sprint(args, " stdout"), r.stdout,
			"Plan: 1 to create, 1 to update, 1 to archive", "family_name: Tester → Builder", "removed from the directory")
		if got := e.stateHash(); got != hash {
			t.Errorf("%v changed the state files", args)
		}
		if got := e.plat.Writes(); got != writes {
			t.Errorf("%v wrote to the platform: %d writes, was %d", args, got, writes)
		}
	}

	r = e.mustRun(2, "plan", "--output", "json")
	var doc planJSON
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("plan --output json is not JSON: %v\n%s", err, r.stdout)
	}
	ops := map[string]string{}
	for _, c := range doc.Plan.Changes {
		ops[c.User.Username] = c.Op
	}
	want := map[string]string{"alice": "archive", "bob": "update", "carol": "create"}
	if fmt.Sprint(ops) != fmt.Sprint(want) || !doc.DryRun || doc.Plan.InScope != 2 {
		t.Errorf("json plan: want changes %v, dry_run, 2 in scope; got %v, %v, %d", want, ops, doc.DryRun, doc.Plan.InScope)
	}
	if got := e.stateHash(); got != hash {
		t.Errorf("plan --output json changed the state files")
	}
	// check and status read the snapshot too, and write nothing either.
	e.mustRun(0, "check")
	e.mustRun(0, "status")
	if got := e.stateHash(); got != hash {
		t.Errorf("check or status changed the state files")
	}
	if got := e.plat.Writes(); got != writes {
		t.Errorf("check or status wrote to the platform: %d writes, was %d", got, writes)
	}

	e.mustRun(0, "sync")
	r = e.mustRun(0, "plan")
	wantContains(t, "plan stdout after sync", r.stdout, "Plan: no changes")
	r = e.mustRun(0, "sync", "--dry-run", "--output", "json")
	if changes := jsonChanges(t, r.stdout); len(changes) != 0 {
		t.Errorf("json plan with nothing pending lists changes: %v", changes)
	}
}

// jsonChanges returns plan.changes of an --output json document, failing the
// test unless it is a list: an empty plan's changes are [], not null, so that
// `jq '.plan.changes[]'` works on it.
func jsonChanges(t *testing.T, out string) []any {
	t.Helper()
	var doc struct {
		Plan struct {
			Changes any `json:"changes"`
		} `json:"plan"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("--output json is not JSON: %v\n%s", err, out)
	}
	changes, ok := doc.Plan.Changes.([]any)
	if !ok {
		t.Fatalf("plan.changes is %#v, want a list:\n%s", doc.Plan.Changes, out)
	}
	return changes
}

func TestSync_RefusesMassArchiveUntilAllowed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.cfg.maxArchivePercent = 10
	e.writeConfig()
	var names []string
	for i := range 10 {
		names = append(names, fmt.Sprintf("user%02d", i))
	}
	dns := syncUsers(t, e, names...)

	e.ldap.Delete(t, dns["user00"])
	e.setLocked(dns["user01"], true)
	writes := e.plat.Writes()
	r := e.mustRun(3, "sync")
	wantContains(t, "stderr", r.stderr, "archive or delete 2 of 10 managed users", "max_archive_percent: 10", "--allow-mass-archive")
	if got := e.plat.Writes(); got != writes {
		t.Errorf("a refused run wrote to the platform (%d → %d writes)", writes, got)
	}
	if active, _ := e.activeCount(); active != 10 {
		t.Errorf("a refused run archived someone: %d active", active)
	}
	// The plan shows the same refusal.
	e.mustRun(3, "plan")

	r = e.mustRun(0, "sync", "--allow-mass-archive")
	wantContains(t, "stdout", r.stdout, "2 archived")
	for _, n := range []string{"user00", "user01"} {
		if e.account(n).Active {
			t.Errorf("%s is still active after the allowed run", n)
		}
	}
	if active, archived := e.activeCount(); active != 8 || archived != 2 {
		t.Errorf("want 8 active, 2 archived; got %d, %d", active, archived)
	}
}

func TestSync_RefusesAnEmptyDirectoryWhileUsersAreManaged(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	syncUsers(t, e, "alice", "bob")
	e.cfg.userFilter = "(uid=nobody-has-this-uid)"
	e.writeConfig()
	writes := e.plat.Writes()

	r := e.mustRun(3, "sync")
	wantContains(t, "stderr", r.stderr, "no users in scope while 2 users are managed", "--allow-empty-directory")
	if got := e.plat.Writes(); got != writes {
		t.Errorf("the refused run wrote to the platform (%d → %d writes)", writes, got)
	}
	if active, _ := e.activeCount(); active != 2 {
		t.Errorf("the refused run archived someone: %d active", active)
	}
}

func TestSync_AdoptsExistingAccountsByUserNameAndEmail(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.addUser("alice", false)
	bob := e.addUser("bob", false)
	e.addUser("carol", false)
	seeded, err := e.plat.Seed(
		user.User{Username: "ALICE", Email: "alice.old@example.com", GivenName: "Alice", Active: true},
		user.User{Username: "bobby", Email: "BOB@example.com", GivenName: "Bob", Active: true},
		user.User{Username: "zed", Email: "zed@example.com", Active: true},
	)
	if err != nil {
		t.Fatal(err)
	}

	r := e.mustRun(0, "sync")
	wantContains(t, "stdout", r.stdout, "1 created", "2 adopted")
	if n := len(e.plat.Accounts()); n != 4 {
		t.Fatalf("want 4 accounts (2 adopted, 1 created, 1 unmanaged), got %+v", e.plat.Accounts())
	}
	for i, c := range []struct{ dn, username string }{{alice, "alice"}, {bob, "bob"}} {
		a, ok := e.plat.Get(seeded[i])
		if !ok {
			t.Fatalf("seeded account %s is gone", seeded[i])
		}
		if id := e.ldap.EntryUUID(t, c.dn); a.ExternalID != id {
			t.Errorf("%s: adopted account's externalId is %q, want %q", c.username, a.ExternalID, id)
		}
		if a.UserName != c.username || a.PrimaryEmail() != c.username+"@example.com" || !a.Active {
			t.Errorf("%s: adopted account not brought in line with the directory: %+v", c.username, a)
		}
	}
	if z, ok := e.plat.Get(seeded[2]); !ok || !z.Active {
		t.Errorf("the unmanaged account zed was touched: %+v", z)
	}
	e.mustRun(0, "plan")
}

func TestSync_DirectoryUnreachableFailsAndArchivesNobody(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	syncUsers(t, e, "alice", "bob")
	e.ldap.Stop()
	writes := e.plat.Writes()

	r := e.mustRun(1, "sync")
	wantContains(t, "stderr", r.stderr, "dirsync: ", e.ldap.URL())
	if got := e.plat.Writes(); got != writes {
		t.Errorf("a run without the directory wrote to the platform (%d → %d writes)", writes, got)
	}
	if active, _ := e.activeCount(); active != 2 {
		t.Errorf("a run without the directory archived someone: %d active", active)
	}
	r = e.mustRun(1, "plan", "--output", "json")
	jsonChanges(t, r.stdout)
	wantContains(t, "plan --output json", r.stdout, `"outcome": "failed"`, e.ldap.URL())
}

func TestSync_SecondProcessStopsAtOnceWhileTheStateIsLocked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	syncUsers(t, e, "alice")
	e.addUser("bob", false)

	db, err := state.Open(context.Background(), e.statePath())
	if err != nil {
		t.Fatal(err)
	}
	writes := e.plat.Writes()
	r := e.mustRun(1, "sync")
	wantContains(t, "stderr", r.stderr, "in use by another dirsync process")
	if got := e.plat.Writes(); got != writes {
		t.Errorf("the locked-out run wrote to the platform (%d → %d writes)", writes, got)
	}
	// A plan reads without the lock.
	e.mustRun(2, "plan")

	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	e.mustRun(0, "sync")
	e.account("bob")
}
