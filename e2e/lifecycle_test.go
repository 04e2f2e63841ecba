package e2e

import (
	"testing"
)

// TestSync_FollowsTheDirectoryThroughAUsersLife runs the binary after each
// directory change and checks the platform: a first sync, an attribute
// change, a rename, a lock, a deletion and an unlock.
func TestSync_FollowsTheDirectoryThroughAUsersLife(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.addUser("alice", false)
	bob := e.addUser("bob", false)
	carol := e.addUser("carol", false)
	e.addUser("dave", true)
	ids := map[string]string{
		"alice": e.ldap.EntryUUID(t, alice),
		"bob":   e.ldap.EntryUUID(t, bob),
		"carol": e.ldap.EntryUUID(t, carol),
	}
	platformID := map[string]string{}

	step := func(name string, fn func(t *testing.T)) {
		if !t.Run(name, fn) {
			t.FailNow()
		}
	}

	step("initial sync creates every active user and skips the disabled one", func(t *testing.T) {
		r := e.mustRun(0, "sync")
		wantContains(t, "stdout", r.stdout, "Plan: 3 to create", "Run 1: 3 created; 0 failed")
		accts := e.plat.Accounts()
		if len(accts) != 3 {
			t.Fatalf("want 3 accounts, got %+v", accts)
		}
		for name, id := range ids {
			a := e.account(name)
			if a.ExternalID != id {
				t.Errorf("%s: externalId %q, want entryUUID %q", name, a.ExternalID, id)
			}
			if !a.Active || a.PrimaryEmail() != name+"@example.com" {
				t.Errorf("%s: want active with mail, got %+v", name, a)
			}
			platformID[name] = a.ID
		}
		if _, ok := e.plat.FindByUserName("dave"); ok {
			t.Error("the locked user dave was created on the platform")
		}
	})

	step("a second sync with nothing changed writes nothing", func(t *testing.T) {
		writes := e.plat.Writes()
		r := e.mustRun(0, "sync")
		wantContains(t, "stdout", r.stdout, "Plan: no changes", "nothing to change")
		if got := e.plat.Writes(); got != writes {
			t.Errorf("platform writes went from %d to %d", writes, got)
		}
	})

	step("an attribute change updates only that account", func(t *testing.T) {
		before := map[string]int{}
		for name := range ids {
			before[name] = e.account(name).Version
		}
		e.ldap.Modify(t, bob, map[string][]string{"mail": {"robert@example.com"}})
		r := e.mustRun(0, "sync")
		wantContains(t, "stdout", r.stdout, "Plan: 1 to update", "email: bob@example.com → robert@example.com", "1 updated")
		if got := e.account("bob").PrimaryEmail(); got != "robert@example.com" {
			t.Errorf("bob's email on the platform is %q", got)
		}
		for _, name := range []string{"alice", "carol"} {
			if v := e.account(name).Version; v != before[name] {
				t.Errorf("%s was written (version %d → %d)", name, before[name], v)
			}
		}
		if len(e.plat.Accounts()) != 3 {
			t.Errorf("accounts: %+v", e.plat.Accounts())
		}
	})

	step("a rename updates the userName of the same account", func(t *testing.T) {
		alice = e.ldap.Rename(t, alice, "uid=alice2")
		if got := e.ldap.EntryUUID(t, alice); got != ids["alice"] {
			t.Fatalf("rename changed the entryUUID: %s → %s", ids["alice"], got)
		}
		r := e.mustRun(0, "sync")
		wantContains(t, "stdout", r.stdout, "Plan: 1 to update", "username: alice → alice2")
		a := e.account("alice2")
		if a.ID != platformID["alice"] || a.ExternalID != ids["alice"] || !a.Active {
			t.Errorf("alice2 is not alice's account, or not active: %+v", a)
		}
		if _, ok := e.plat.FindByUserName("alice"); ok {
			t.Error("an account named alice is still on the platform")
		}
		if active, archived := e.activeCount(); active != 3 || archived != 0 {
			t.Errorf("want 3 active, 0 archived; got %d, %d", active, archived)
		}
	})

	step("locking a user archives the account", func(t *testing.T) {
		e.setLocked(carol, true)
		r := e.mustRun(0, "sync")
		wantContains(t, "stdout", r.stdout, "Plan: 1 to archive", "1 archived")
		c := e.account("carol")
		if c.Active || c.ID != platformID["carol"] {
			t.Errorf("carol: want the same account archived, got %+v", c)
		}
	})

	step("deleting a user from the directory archives the account", func(t *testing.T) {
		e.ldap.Delete(t, bob)
		r := e.mustRun(0, "sync")
		wantContains(t, "stdout", r.stdout, "Plan: 1 to archive", "1 archived")
		b := e.account("bob")
		if b.Active || b.ID != platformID["bob"] {
			t.Errorf("bob: want the same account archived (not deleted), got %+v", b)
		}
		if active, archived := e.activeCount(); active != 1 || archived != 2 {
			t.Errorf("want 1 active, 2 archived; got %d, %d", active, archived)
		}
	})

	step("unlocking a user reactivates the account", func(t *testing.T) {
		e.setLocked(carol, false)
		r := e.mustRun(0, "sync")
		wantContains(t, "stdout", r.stdout, "Plan: 1 to reactivate", "1 reactivated")
		c := e.account("carol")
		if !c.Active || c.ID != platformID["carol"] {
			t.Errorf("carol: want the same account active again, got %+v", c)
		}
		if n := len(e.plat.Accounts()); n != 3 {
			t.Errorf("want 3 accounts, got %d", n)
		}
		e.mustRun(0, "plan")
	})
}
