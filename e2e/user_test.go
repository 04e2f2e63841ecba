package e2e

import "testing"

func TestSyncUser_ReconcilesOnlyThatUserPrintingEachRequest(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser("alice", false)
	e.addUser("bob", false)

	r := e.mustRun(0, "sync", "--user", "alice")
	wantContains(t, "sync --user alice", r.stdout, "POST ", "/Users → 201 Created", "scim create user")
	e.account("alice")
	if _, ok := e.plat.FindByUserName("bob"); ok {
		t.Errorf("bob was created by sync --user alice")
	}

	// alice leaves: --user archives her, and touches nobody else.
	e.mustRun(0, "sync") // bob is created
	e.ldap.Delete(t, alice)
	r = e.mustRun(0, "sync", "--user", "alice")
	if e.account("alice").Active {
		t.Errorf("alice is still active after she left and sync --user alice ran\n%s", r)
	}
	if !e.account("bob").Active {
		t.Errorf("bob was changed by sync --user alice")
	}

	r = e.mustRun(1, "sync", "--user", "nobody")
	wantContains(t, "sync --user nobody", r.stderr, "--user nobody: no such user")
}

func TestSyncUser_RefusesWhenTheWholeDirectoryReadIsEmpty(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", false)
	e.mustRun(0, "sync")
	// A filter that matches nobody: alice looks gone, but so does everyone.
	e.cfg.userFilter = "(uid=nobody-at-all)"
	e.writeConfig()
	r := e.mustRun(1, "sync", "--user", "alice")
	wantContains(t, "sync --user alice", r.stderr, "the directory returned no users in scope at all")
	if !e.account("alice").Active {
		t.Errorf("alice was archived on an empty directory read")
	}
}

// TestSyncUser_SkippedUserIsProtectedAsInAFullRun: a user whose entry is
// skipped (here a duplicate email) keeps its account under sync --user
// exactly as under a full run, until it is disabled: then it is archived,
// duplicate or not, and the other holder of the email is left alone.
func TestSyncUser_SkippedUserIsProtectedAsInAFullRun(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", false)
	bob := e.addUser("bob", false)
	carol := e.addUser("carol", false)
	e.mustRun(0, "sync")

	e.ldap.Modify(t, carol, map[string][]string{"mail": {"bob@example.com"}})
	for _, name := range []string{"bob", "carol", "bob@example.com"} {
		r := e.mustRun(0, "plan", "--user", name)
		wantContains(t, "plan --user "+name, r.stdout, "duplicate email")
		e.mustRun(0, "sync", "--user", name)
	}
	for _, name := range []string{"alice", "bob", "carol"} {
		if !e.account(name).Active {
			t.Errorf("%s was archived by sync --user though still in the directory", name)
		}
	}

	// bob leaves: disabled, still a duplicate.
	e.setLocked(bob, true)
	r := e.mustRun(2, "plan", "--user", "bob")
	wantContains(t, "plan --user bob", r.stdout, "disabled in the directory", "duplicate email", "(disabled: its account is archived)")
	e.mustRun(0, "sync", "--user", "bob")
	if e.account("bob").Active {
		t.Errorf("bob, disabled, is still active after sync --user bob")
	}
	if !e.account("carol").Active || !e.account("alice").Active {
		t.Errorf("sync --user bob archived carol or alice")
	}
}

// TestSyncUser_EmptyNameIsRefused: --user "" names nobody; it must not run
// over the whole directory.
func TestSyncUser_EmptyNameIsRefused(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser("alice", false)
	e.addUser("bob", false)
	e.mustRun(0, "sync")
	e.ldap.Delete(t, alice)
	for _, name := range []string{"", "  "} {
		r := e.mustRun(1, "sync", "--user", name)
		wantContains(t, "sync --user "+name, r.stderr, "--user: empty")
	}
	if !e.account("alice").Active {
		t.Errorf("sync --user \"\" archived alice: it ran over the whole directory")
	}
}
