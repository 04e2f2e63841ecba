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
