package e2e

import (
	"os"
	"testing"
)

// Losing the snapshot (a new volume, a deleted file) costs no duplicates: the
// next run finds every account again by its externalId and adopts it.
func TestSync_AfterTheSnapshotIsLostAdoptsAccountsByExternalID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	syncUsers(t, e, "alice", "bob", "carol")
	before := map[string]string{}
	for _, a := range e.plat.Accounts() {
		before[a.User.Username] = a.PlatformID
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(e.statePath() + suffix); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}

	r := e.mustRun(0, "sync")
	wantContains(t, "stdout", r.stdout, "3 adopted; 0 failed")
	accts := e.plat.Accounts()
	if len(accts) != 3 {
		t.Fatalf("want the same 3 accounts, got %+v", accts)
	}
	for _, a := range accts {
		if before[a.User.Username] != a.PlatformID || !a.User.Active {
			t.Errorf("%s: want account %s kept active, got %+v", a.User.Username, before[a.User.Username], a)
		}
	}
	r = e.mustRun(0, "plan")
	wantContains(t, "plan stdout", r.stdout, "Plan: no changes (3 in scope, 3 unchanged")
}
