package e2e

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/dirsync/dirsync/internal/pgtest"
	"github.com/dirsync/dirsync/target/fake"
)

// TestTargets_TwoPlatformsKeepTheirOwnSnapshotsInOnePostgresDatabase: with
// state.driver postgres, each target's snapshot is its own in the shared
// database: its runs, its records, its status.
func TestTargets_TwoPlatformsKeepTheirOwnSnapshotsInOnePostgresDatabase(t *testing.T) {
	e := newEnv(t)
	e.cfg.state = fmt.Sprintf("  driver: postgres\n  url: %q\n", pgtest.Start(t).NewDatabase(t))
	crm := fake.NewREST(fake.RESTOptions{Style: fake.StyleArchive, Secret: "crm-token", Seed: 1})
	crmURL := crm.StartT(t)
	useTargets(t, e, crmURL, "crm-token")
	for _, n := range []string{"alice", "bob", "carol"} {
		e.addUser(n, false)
	}
	e.mustRun(0, "sync")
	if n := len(e.plat.Accounts()); n != 3 {
		t.Fatalf("helpdesk has %d accounts, want 3", n)
	}
	if n := len(crm.Users()); n != 2 {
		t.Fatalf("crm has %d accounts, want the 2 users of its scope", n)
	}
	e.mustRun(0, "sync", "--target", "crm")

	var st struct {
		Runs    []struct{ Outcome string } `json:"runs"`
		Users   map[string]int             `json:"users"`
		Failing []any                      `json:"failing"`
	}
	for target, want := range map[string]struct{ runs, active int }{"helpdesk": {1, 3}, "crm": {2, 2}} {
		r := e.mustRun(0, "status", "--target", target, "-o", "json")
		if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
			t.Fatalf("status --target %s: %v\n%s", target, err, r)
		}
		if len(st.Runs) != want.runs || st.Users["active"] != want.active {
			t.Errorf("%s: %d runs, %d active records; want %d and %d (its own snapshot)", target, len(st.Runs), st.Users["active"], want.runs, want.active)
		}
	}
	// Nothing is left to do for either: their snapshots are in step.
	r := e.mustRun(0, "plan")
	wantContains(t, "plan", r.stdout, "━━ target helpdesk ━━", "━━ target crm ━━")
}
