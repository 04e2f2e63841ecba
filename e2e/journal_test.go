package e2e

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
)

// TestJournal_ListsEveryChangeWithOldAndNewValues runs syncs that create,
// update and archive, then reads the journal back through the binary in
// each format and with each filter.
func TestJournal_ListsEveryChangeWithOldAndNewValues(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addUser("alice", false)
	bob := e.addUser("bob", false)
	carol := e.addUser("carol", false)
	e.mustRun(0, "sync")
	e.ldap.Modify(t, bob, map[string][]string{"mail": {"=HYPERLINK(\"http://x\")@example.com"}})
	e.ldap.Delete(t, carol)
	e.mustRun(0, "sync")

	var rows []struct {
		Run    int64  `json:"run"`
		Kind   string `json:"kind"`
		User   string `json:"username"`
		Result string `json:"result"`
		Fields []struct{ Field, Old, New string }
		Reason string `json:"reason"`
	}
	r := e.mustRun(0, "journal", "--output", "json")
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("%v\n%s", err, r)
	}
	// Oldest first: run 1's creates, then run 2's changes (each run's
	// changes are applied concurrently, so in any order).
	byRun := map[int64][]string{}
	var runs []int64
	for _, row := range rows {
		if len(runs) == 0 || runs[len(runs)-1] != row.Run {
			runs = append(runs, row.Run)
		}
		byRun[row.Run] = append(byRun[row.Run], row.Kind+" "+row.User)
	}
	for _, l := range byRun {
		sort.Strings(l)
	}
	if fmt.Sprint(runs) != "[1 2]" || fmt.Sprint(byRun[1]) != "[create alice create bob create carol]" ||
		fmt.Sprint(byRun[2]) != "[archive carol update bob]" {
		t.Errorf("journal by run %v: %v", runs, byRun)
	}

	r = e.mustRun(0, "journal", "--user", "bob", "--kind", "update", "--output", "json")
	rows = nil
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("%v\n%s", err, r)
	}
	if len(rows) != 1 || rows[0].Run != 2 || rows[0].Result != "ok" || len(rows[0].Fields) != 1 ||
		rows[0].Fields[0].Old != "bob@example.com" || !strings.HasPrefix(rows[0].Fields[0].New, "=HYPERLINK") {
		t.Errorf("bob's update: %+v\n%s", rows, r)
	}

	r = e.mustRun(0, "journal", "--run", "2", "--kind", "archive")
	wantContains(t, "table", r.stdout, "KIND", "archive", "carol", "(removed from the directory)", "ok")
	if strings.Contains(r.stdout, "bob") {
		t.Errorf("--kind archive lists bob:\n%s", r.stdout)
	}

	r = e.mustRun(0, "journal", "--user", "bob", "--output", "csv")
	recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil || len(recs) != 3 {
		t.Fatalf("csv: %v\n%s", err, r)
	}
	if !strings.HasPrefix(recs[2][6], "email: bob@example.com → =HYPERLINK") {
		t.Errorf("csv fields cell %q", recs[2][6])
	}
	for _, c := range recs[2] {
		if c != "" && strings.ContainsRune("=+-@", rune(c[0])) {
			t.Errorf("csv cell %q starts a formula", c)
		}
	}

	r = e.mustRun(0, "journal", "--since", "2999-01-01")
	wantContains(t, "table", r.stdout, "No journal entries match.")

	r = e.mustRun(1, "journal", "--kind", "erase")
	wantContains(t, "stderr", r.stderr, `--kind: "erase" is not one of`)
	r = e.mustRun(1, "journal", "--since", "yesterday")
	wantContains(t, "stderr", r.stderr, "--since")
	r = e.mustRun(1, "journal", "--output", "xml")
	wantContains(t, "stderr", r.stderr, "--output")
}
