package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"testing"

	"github.com/dirsync/dirsync/internal/pgtest"
)

// TestJournal_ReadsThePostgresSnapshot: with state.driver postgres, `dirsync
// journal` reads the runs' changes from the database the syncs wrote.
func TestJournal_ReadsThePostgresSnapshot(t *testing.T) {
	e := newEnv(t)
	e.cfg.state = fmt.Sprintf("  driver: postgres\n  url: %q\n", pgtest.Start(t).NewDatabase(t))
	e.writeConfig()
	e.addUser("alice", false)
	carol := e.addUser("carol", false)
	e.mustRun(0, "sync")
	if _, err := os.Stat(e.statePath()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a SQLite snapshot was written (%v): the test must use PostgreSQL", err)
	}
	e.ldap.Delete(t, carol)
	e.mustRun(0, "sync")

	var rows []struct {
		Run  int64  `json:"run"`
		Kind string `json:"kind"`
		User string `json:"username"`
	}
	r := e.mustRun(0, "journal", "--output", "json")
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("%v\n%s", err, r)
	}
	var got []string
	for _, row := range rows {
		got = append(got, fmt.Sprintf("%d %s %s", row.Run, row.Kind, row.User))
	}
	sort.Strings(got)
	if want := "[1 create alice 1 create carol 2 archive carol]"; fmt.Sprint(got) != want {
		t.Errorf("journal %v, want %s\n%s", got, want, r)
	}
	r = e.mustRun(0, "journal", "--user", "CAROL", "--kind", "archive")
	wantContains(t, "journal --user CAROL --kind archive", r.stdout, "archive", "carol", "(removed from the directory)")
}
