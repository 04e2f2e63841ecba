package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/dirsync/dirsync/internal/pgtest"
)

// TestGroupPush_KeepsItsGroupsInAPostgresSnapshot: with state.driver
// postgres, groups.push creates, updates and undoes platform groups as with
// SQLite, and `dirsync status` counts them.
func TestGroupPush_KeepsItsGroupsInAPostgresSnapshot(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.addUser("alice", false), e.addUser("bob", false)
	groups := e.ldap.AddOU(t, "groups")
	eng := e.ldap.AddGroup(t, groups, "eng", alice, bob)
	e.cfg.state = fmt.Sprintf("  driver: postgres\n  url: %q\n", pgtest.Start(t).NewDatabase(t))
	e.cfg.extra = fmt.Sprintf("groups:\n  push: true\n  base_dn: %q\n  filter: (cn=eng)\n  max_membership_removal_percent: 100\n", groups)
	e.writeConfig()

	e.mustRun(0, "sync")
	if g := e.platformGroup("eng"); !slices.Equal(g.Members, e.accountIDs("alice", "bob")) {
		t.Fatalf("eng = %+v; want alice and bob", g)
	}
	r := e.mustRun(0, "status")
	wantContains(t, "status", r.stdout, "Groups: 1 active (2 memberships)")

	e.ldap.Modify(t, eng, map[string][]string{"member": {alice}})
	e.mustRun(0, "sync")
	if g := e.platformGroup("eng"); !slices.Equal(g.Members, e.accountIDs("alice")) {
		t.Fatalf("after bob left eng: %+v; want alice only", g)
	}
	var status struct {
		Runs []struct {
			ID int64 `json:"id"`
		} `json:"runs"`
	}
	r = e.mustRun(0, "status", "--output", "json")
	if err := json.Unmarshal([]byte(r.stdout), &status); err != nil || len(status.Runs) != 2 {
		t.Fatalf("status json: %v\n%s", err, r.stdout)
	}
	// Undo the removal: the group's journal and records are in PostgreSQL.
	e.mustRun(0, "undo", "--run", fmt.Sprint(status.Runs[0].ID))
	if g := e.platformGroup("eng"); !slices.Equal(g.Members, e.accountIDs("alice", "bob")) {
		t.Fatalf("after undo: %+v; want alice and bob back", g)
	}
}
