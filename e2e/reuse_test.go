package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/slapdtest"
)

// TestPlanAndCheck_FlagNamesAndEmailsMovingToAnotherDirectoryUser: a new
// hire given an archived leaver's username, and another given the address
// of a leaver removed in the same run, are flagged by plan and check, with
// what to do, before any write.
func TestPlanAndCheck_FlagNamesAndEmailsMovingToAnotherDirectoryUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, n := range []string{"alice", "bob", "carol", "dave", "erin"} {
		e.addUser(n, false)
	}
	e.mustRun(0, "sync")
	e.ldap.Delete(t, "uid=bob,"+e.ou)
	e.mustRun(0, "sync") // bob archived

	// A new bob (another entryUUID), and carol's address given to frank as
	// carol leaves.
	e.addUser("bob", false)
	e.ldap.Delete(t, "uid=carol,"+e.ou)
	e.ldap.AddUser(t, e.ou, slapdtest.UserSpec{UID: "frank", Mail: "carol@example.com", GivenName: "Frank", SN: "Tester", DisplayName: "Frank Tester"})
	writes := e.plat.Writes()

	r := e.mustRun(2, "plan")
	wantContains(t, "plan", r.stdout, "Usernames or emails held by another directory user (3)",
		`create bob`, `username "bob" belongs to the archived account of directory ID`,
		`email "bob@example.com" belongs to the archived account`,
		`create frank`, `email "carol@example.com" moves from directory ID`, "archived by this same plan",
		"fix: ", "sync.free_identifiers_on_archive", "sync.delete_after")

	r = e.mustRun(2, "plan", "--output", "json")
	var plan struct {
		Plan struct {
			Moves []struct {
				Field, Value, From_status string
			} `json:"identifier_moves"`
		} `json:"plan"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &plan); err != nil || len(plan.Plan.Moves) != 3 {
		t.Errorf("plan json moves: %+v, %v\n%s", plan.Plan.Moves, err, r.stdout)
	}

	r = e.mustRun(0, "check")
	wantContains(t, "check", r.stdout, `username "bob" belongs to the archived account`, `email "carol@example.com" moves from`, "fix: ")
	if got := e.plat.Writes(); got != writes {
		t.Errorf("plan and check wrote to the platform (%d → %d writes)", writes, got)
	}
	if strings.Count(r.stdout, "! create") != 3 {
		t.Errorf("check lists %d moves, want 3:\n%s", strings.Count(r.stdout, "! create"), r.stdout)
	}
}

// TestFreeIdentifiersOnArchive_LetsANewHireTakeALeaversName: with
// sync.free_identifiers_on_archive, the archive renames the leaver's
// account, and a new user with the same username and email is created
// without a flag.
func TestFreeIdentifiersOnArchive_LetsANewHireTakeALeaversName(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.environ = []string{"DIRSYNC_SYNC_FREE_IDENTIFIERS_ON_ARCHIVE={username}.left-{date}"}
	for _, n := range []string{"alice", "bob", "carol"} {
		e.addUser(n, false)
	}
	e.mustRun(0, "sync")
	old := e.account("bob")
	e.ldap.Delete(t, "uid=bob,"+e.ou)
	e.mustRun(0, "sync")

	left := "bob.left-" + time.Now().UTC().Format(time.DateOnly)
	a := e.account(left)
	if a.ID != old.ID || a.Active || a.PrimaryEmail() != left+"@example.com" {
		t.Errorf("archived account %+v, want %s renamed and inactive", a, old.ID)
	}
	r := e.mustRun(0, "journal", "--user", "bob", "--kind", "archive")
	wantContains(t, "journal", r.stdout, "username: bob → "+left, "email: bob@example.com → "+left+"@example.com")

	e.addUser("bob", false)
	r = e.mustRun(2, "plan")
	if strings.Contains(r.stdout, "held by another directory user") {
		t.Errorf("plan flags the freed name:\n%s", r.stdout)
	}
	e.mustRun(0, "sync")
	if b := e.account("bob"); b.ID == old.ID || !b.Active {
		t.Errorf("new bob %+v", b)
	}

	// A template that frees nothing is a config error naming the key.
	e.environ = []string{"DIRSYNC_SYNC_FREE_IDENTIFIERS_ON_ARCHIVE={username}"}
	r = e.mustRun(1, "plan")
	wantContains(t, "stderr", r.stdout+r.stderr, "sync.free_identifiers_on_archive")
}

// TestPlan_FlagsAnAddressItsHolderGaveUpInAnEarlierRun: alice's address
// changes in one run; a later new hire given her old address is flagged.
func TestPlan_FlagsAnAddressItsHolderGaveUpInAnEarlierRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.addUser("alice", false)
	e.addUser("bob", false)
	e.mustRun(0, "sync")
	e.ldap.Modify(t, alice, map[string][]string{"mail": {"alice.smith@example.com"}})
	e.mustRun(0, "sync")

	e.ldap.AddUser(t, e.ou, slapdtest.UserSpec{UID: "frank", Mail: "alice@example.com", GivenName: "Frank", SN: "Tester", DisplayName: "Frank Tester"})
	r := e.mustRun(2, "plan")
	wantContains(t, "plan", r.stdout, "Usernames or emails held by another directory user (1)",
		`create frank`, `email "alice@example.com" was held by directory ID`, "(alice)", "when it changed", "intended")
	r = e.mustRun(0, "check")
	wantContains(t, "check", r.stdout, `email "alice@example.com" was held by directory ID`)
}
