package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/dirsync/dirsync/target/fake"
)

// platformGroup returns the one platform group named name.
func (e *env) platformGroup(name string) fake.GroupInfo {
	e.t.Helper()
	g, ok := e.plat.GroupByName(name)
	if !ok {
		e.t.Fatalf("no platform group %q among %+v", name, e.plat.Groups())
	}
	return g
}

func (e *env) accountIDs(names ...string) []string {
	var ids []string
	for _, n := range names {
		ids = append(ids, e.account(n).ID)
	}
	slices.Sort(ids)
	return ids
}

func TestGroupPush_PlanSyncStatusRefusalAndApprovedApply(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, bob, carol := e.addUser("alice", false), e.addUser("bob", false), e.addUser("carol", false)
	groups := e.ldap.AddOU(t, "groups")
	team := e.ldap.AddGroup(t, groups, "team", bob)
	eng := e.ldap.AddGroup(t, groups, "eng", alice, team, carol)
	e.cfg.extra = fmt.Sprintf("groups:\n  push: true\n  base_dn: %q\n  filter: (cn=eng)\n  max_membership_removal: 1\n", groups)
	e.writeConfig()

	r := e.mustRun(2, "plan")
	wantContains(t, "plan", r.stdout, "Groups: 1 to create", "+ group eng")
	e.mustRun(0, "sync")
	if g := e.platformGroup("eng"); !slices.Equal(g.Members, e.accountIDs("alice", "bob", "carol")) || g.ExternalID != e.ldap.EntryUUID(t, eng) {
		t.Fatalf("eng = %+v; want alice, bob (through team) and carol, externalId its entryUUID", g)
	}
	r = e.mustRun(0, "status")
	wantContains(t, "status", r.stdout, "Groups: 1 active (3 memberships)")

	// Two members leave: over groups.max_membership_removal.
	e.ldap.Modify(t, eng, map[string][]string{"member": {team}})
	r = e.mustRun(3, "sync")
	wantContains(t, "sync", r.stderr, "groups.max_membership_removal")
	if g := e.platformGroup("eng"); len(g.Members) != 3 {
		t.Fatalf("a refused sync removed members: %+v", g)
	}
	var doc struct {
		Groups struct {
			Plan struct {
				Changes []struct {
					Op     string   `json:"op"`
					Remove []string `json:"remove"`
				} `json:"changes"`
			} `json:"plan"`
		} `json:"groups"`
		Outcome string `json:"outcome"`
	}
	r = e.run("plan", "--output", "json")
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("plan --output json: %v\n%s", err, r)
	}
	if c := doc.Groups.Plan.Changes; len(c) != 1 || len(c[0].Remove) != 2 || doc.Outcome != "refused" {
		t.Fatalf("json plan = %+v; want one change removing 2, refused", doc)
	}

	planPath := filepath.Join(e.dir, "plan.json")
	e.mustRun(3, "plan", "--out", planPath)
	e.mustRun(0, "apply", planPath)
	if g := e.platformGroup("eng"); !slices.Equal(g.Members, e.accountIDs("bob")) {
		t.Fatalf("after the approved apply: %+v; want bob only", g)
	}

	// The removals were wrong: undo the apply's run.
	var status struct {
		Runs []struct {
			ID   int64  `json:"id"`
			Mode string `json:"mode"`
		} `json:"runs"`
		Groups struct {
			Memberships int `json:"memberships"`
		} `json:"groups"`
	}
	r = e.mustRun(0, "status", "--output", "json")
	if err := json.Unmarshal([]byte(r.stdout), &status); err != nil || len(status.Runs) == 0 || status.Runs[0].Mode != "apply" {
		t.Fatalf("status json: %v\n%s", err, r.stdout)
	}
	if status.Groups.Memberships != 1 {
		t.Errorf("status json: %d memberships, want 1", status.Groups.Memberships)
	}
	run := fmt.Sprint(status.Runs[0].ID)
	r = e.mustRun(2, "undo", "--run", run, "--dry-run")
	wantContains(t, "undo --dry-run", r.stdout, "~ group eng  members: +2")
	e.mustRun(0, "undo", "--run", run)
	if g := e.platformGroup("eng"); !slices.Equal(g.Members, e.accountIDs("alice", "bob", "carol")) {
		t.Fatalf("after undo: %+v; want alice, bob and carol back", g)
	}
}
