package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestApply_AppliesTheSavedPlanApprovingAMassArchiveOnce(t *testing.T) {
	e := newEnv(t)
	e.cfg.maxArchive = 1
	e.writeConfig()
	e.addUser("alice", false)
	bob := e.addUser("bob", false)
	carol := e.addUser("carol", false)
	e.mustRun(0, "sync")

	// Two of three leave: more than max_archive. The plan is refused, and
	// saved for review.
	e.ldap.Delete(t, bob)
	e.ldap.Delete(t, carol)
	planPath := filepath.Join(t.TempDir(), "plan.json")
	r := e.mustRun(3, "plan", "--out", planPath)
	b, err := os.ReadFile(planPath)
	if err != nil {
		t.Fatalf("plan --out wrote no file: %v\n%s", err, r)
	}
	var pf struct {
		Refused   string `json:"refused"`
		Snapshot  string `json:"snapshot_fingerprint"`
		Directory string `json:"directory_fingerprint"`
		Plan      struct {
			Changes []struct {
				Op string `json:"op"`
			} `json:"changes"`
		} `json:"plan"`
	}
	if err := json.Unmarshal(b, &pf); err != nil {
		t.Fatalf("plan file: %v\n%s", err, b)
	}
	if pf.Refused == "" || pf.Snapshot == "" || pf.Directory == "" || len(pf.Plan.Changes) != 2 {
		t.Errorf("plan file: refused %q, fingerprints %q %q, %d changes; want a refused plan of 2 archives with both fingerprints",
			pf.Refused, pf.Snapshot, pf.Directory, len(pf.Plan.Changes))
	}
	if fi, err := os.Stat(planPath); err == nil && fi.Mode().Perm() != 0o600 {
		t.Errorf("plan file mode %v, want 0600 (it names people)", fi.Mode().Perm())
	}
	e.mustRun(3, "sync") // an ordinary sync is still refused

	// Applying the reviewed plan is the approval.
	r = e.mustRun(0, "apply", planPath)
	if active, archived := e.activeCount(); active != 1 || archived != 2 {
		t.Errorf("after apply: %d active, %d archived; want 1 and 2\n%s", active, archived, r)
	}

	// Once only: the snapshot has moved on.
	r = e.mustRun(3, "apply", planPath)
	wantContains(t, "second apply", r.stderr, "the plan is stale", "the snapshot changed", "nothing was changed")
}

func TestApply_RefusesAPlanTheDirectoryHasMovedOnFrom(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", false)
	e.mustRun(0, "sync")
	e.addUser("bob", false)
	planPath := filepath.Join(t.TempDir(), "plan.json")
	e.mustRun(2, "plan", "--out", planPath) // changes pending: bob
	e.addUser("carol", false)
	writes := e.plat.Writes()

	r := e.mustRun(3, "apply", planPath)
	wantContains(t, "apply", r.stderr, "the plan is stale", "the directory changed", "dirsync plan --out")
	if got := e.plat.Writes(); got != writes {
		t.Errorf("%d platform writes by a refused apply", got-writes)
	}
	if _, ok := e.plat.FindByUserName("bob"); ok {
		t.Errorf("bob was created by a refused apply")
	}
}
