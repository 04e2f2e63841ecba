package e2e

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/state"
)

// backdateArchive moves the archive time of username's record days back, as
// if that many days had passed since the run that archived it.
func (e *env) backdateArchive(username string, days int) {
	e.t.Helper()
	// Open (and close) the store first: the file is then at rest, in the
	// schema this binary writes.
	db, err := state.Open(context.Background(), e.statePath())
	if err != nil {
		e.t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		e.t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", e.statePath())
	if err != nil {
		e.t.Fatal(err)
	}
	defer raw.Close()
	at := time.Now().UTC().Add(-time.Duration(days) * 24 * time.Hour).Format(time.RFC3339)
	res, err := raw.Exec(`UPDATE users SET archived_at = ? WHERE username = ? AND status = 'archived'`, at, username)
	if err != nil {
		e.t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		e.t.Fatalf("no archived record of %s", username)
	}
}

// TestDeleteAfter_PlanShowsAndSyncDeletesLongArchivedAccounts archives two
// users, ages their archives past sync.delete_after, and checks that plan
// shows the deletes, the safety limit refuses them, undo within the window
// brings one back, and a sync deletes the other.
func TestDeleteAfter_PlanShowsAndSyncDeletesLongArchivedAccounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.environ = []string{"DIRSYNC_SYNC_DELETE_AFTER=30d"}
	// Deletes count against the safety limits like archives: a percentage
	// of the active users. Six stay active.
	for _, n := range []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan"} {
		e.addUser(n, false)
	}
	bob := "uid=bob," + e.ou
	carol := "uid=carol," + e.ou
	dave := "uid=dave," + e.ou
	e.mustRun(0, "sync")
	e.ldap.Delete(t, bob)
	e.ldap.Delete(t, carol)
	e.setLocked(dave, true)
	e.mustRun(0, "sync") // run 2 archives bob, carol and dave

	// dave was archived 5 days ago: within the window, undo brings him back.
	e.backdateArchive("bob", 31)
	e.backdateArchive("carol", 45)
	e.backdateArchive("dave", 5)
	r := e.mustRun(2, "plan")
	wantContains(t, "plan", r.stdout, "2 to delete", "bob", "archived 31 days ago", "carol", "archived 45 days ago")
	if got := r.stdout; strings.Contains(got, "dave") {
		t.Errorf("plan deletes dave, archived 5 days ago:\n%s", got)
	}

	// Two deletes are over a limit of one: refused, nothing deleted.
	e.environ = append(e.environ, "DIRSYNC_SYNC_MAX_ARCHIVE=1")
	r = e.mustRun(3, "sync")
	wantContains(t, "stderr", r.stderr, "would archive or delete 2")
	e.account("bob")
	e.account("carol")

	e.environ = e.environ[:1]
	r = e.mustRun(0, "sync")
	wantContains(t, "sync", r.stdout, "2 deleted")
	for _, n := range []string{"bob", "carol"} {
		if _, ok := e.plat.FindByUserName(n); ok {
			t.Errorf("%s is still on the platform", n)
		}
	}
	if a := e.account("dave"); a.Active {
		t.Errorf("dave is active: %+v", a)
	}
	r = e.mustRun(0, "journal", "--kind", "delete")
	wantContains(t, "journal", r.stdout, "bob", "(archived 31 days ago)", "carol")

	// Undo of run 2 reactivates dave, still archived; bob and carol are gone.
	e.setLocked(dave, false)
	r = e.mustRun(2, "undo", "--run", "2", "--dry-run")
	wantContains(t, "undo --dry-run", r.stdout, "1 to reactivate", "dave")
	e.mustRun(0, "undo", "--run", "2")
	if a := e.account("dave"); !a.Active {
		t.Errorf("dave not reactivated: %+v", a)
	}
	e.mustRun(0, "plan")
}
