package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/slapdtest"
)

func TestCheck_NamesAMisspeltKeyAndItsFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.cfg.extra = "schedul: \"@every 1h\"\n"
	e.writeConfig()

	r := e.mustRun(1, "check")
	wantContains(t, "check output", r.stdout+r.stderr, e.configPath(), "schedul: unknown key", "did you mean schedule?")
	if strings.Contains(r.stdout, "✓ config") {
		t.Errorf("check called the bad config valid:\n%s", r.stdout)
	}
	// sync refuses the same config before touching anything.
	r = e.mustRun(1, "sync")
	wantContains(t, "sync stderr", r.stderr, "schedul")
	if _, err := os.Stat(e.statePath()); !os.IsNotExist(err) {
		t.Errorf("sync with a bad config created the state file (stat: %v)", err)
	}
	if n := len(e.plat.Requests()); n != 0 {
		t.Errorf("sync with a bad config sent %d requests to the platform", n)
	}
}

func TestCheck_ReportsUsersInScopeAndSkippedEntries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addUser("alice", false)
	e.addUser("bob", false)
	e.addUser("carol", true)
	// Two entries share a mail: both are skipped, by DN.
	dup1 := e.ldap.AddUser(t, e.ou, slapdtest.UserSpec{UID: "dan", Mail: "shared@example.com"})
	dup2 := e.ldap.AddUser(t, e.ou, slapdtest.UserSpec{UID: "daniel", Mail: "shared@example.com"})

	r := e.mustRun(0, "check")
	wantContains(t, "check stdout", r.stdout,
		"✓ config "+e.configPath()+" is valid",
		"users in scope (1 disabled)",
		"directory entries would be skipped", dup1, dup2,
		"accepted dirsync's credentials",
	)
	if e.plat.Writes() != 0 {
		t.Errorf("check wrote to the platform: %+v", e.plat.Requests())
	}

	// The skipped entries stay off the platform; the others are synced.
	e.mustRun(0, "sync")
	for _, n := range []string{"dan", "daniel", "carol"} {
		if _, ok := e.plat.FindByUserName(n); ok {
			t.Errorf("%s is on the platform", n)
		}
	}
	e.account("alice")
	e.account("bob")

	// A wrong token is reported as a failed check.
	if err := os.WriteFile(e.configPath(), []byte(strings.Replace(mustRead(t, e.configPath()), `token: "e2e-token"`, `token: "wrong"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	r = e.mustRun(1, "check")
	wantContains(t, "check stdout with a wrong token", r.stdout, "✗", "target.token")
}

func mustRead(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// statusJSON is the part of `status --output json` the tests read.
type statusJSON struct {
	Runs []struct {
		Outcome string `json:"outcome"`
	} `json:"runs"`
	Failing []json.RawMessage `json:"failing"`
}

func TestStatus_ListsAFailedChangeUntilARunSucceeds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addUser("alice", false)
	e.addUser("bob", false)
	e.plat.FailUser("bob", http.StatusBadRequest)

	r := e.mustRun(1, "sync")
	wantContains(t, "sync output", r.stdout+r.stderr, "1 created", "1 failed", "✗ create bob", "dirsync status")
	if _, ok := e.plat.FindByUserName("bob"); ok {
		t.Fatal("bob was created although the platform refused him")
	}

	r = e.mustRun(0, "status")
	wantContains(t, "status stdout", r.stdout, "Failing (1;", "bob", "400")
	failing := failingLine(t, r.stdout, "bob")
	if f := strings.Fields(failing); len(f) < 4 || f[3] != "1" {
		t.Errorf("want bob's attempt count 1 in %q", failing)
	}

	// Still failing: the attempt count goes up.
	e.mustRun(1, "sync")
	r = e.mustRun(0, "status")
	if f := strings.Fields(failingLine(t, r.stdout, "bob")); len(f) < 4 || f[3] != "2" {
		t.Errorf("want bob's attempt count 2 in:\n%s", r.stdout)
	}

	e.plat.FailUser("bob", 0)
	r = e.mustRun(0, "sync")
	wantContains(t, "sync stdout", r.stdout, "1 created; 0 failed")
	if b := e.account("bob"); !b.Active {
		t.Errorf("bob: %+v", b)
	}
	r = e.mustRun(0, "status")
	if strings.Contains(r.stdout, "Failing") {
		t.Errorf("status still lists failures after a clean run:\n%s", r.stdout)
	}
	r = e.mustRun(0, "status", "--output", "json")
	var doc statusJSON
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("status --output json: %v\n%s", err, r.stdout)
	}
	if len(doc.Failing) != 0 || len(doc.Runs) != 3 {
		t.Errorf("status json: want 3 runs and no failing, got %d runs, failing %s", len(doc.Runs), doc.Failing)
	}
}

// failingLine returns the line of status's Failing table naming userName.
func failingLine(t *testing.T, out, userName string) string {
	t.Helper()
	_, table, ok := strings.Cut(out, "Failing (")
	if !ok {
		t.Fatalf("no Failing table in:\n%s", out)
	}
	for _, line := range strings.Split(table, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == userName {
			return line
		}
	}
	t.Fatalf("%s not in the Failing table:\n%s", userName, out)
	return ""
}

func TestDemo_RunsTheWholeLoopAndShowsThePlatform(t *testing.T) {
	t.Parallel()
	r := runBinary(t, "demo", "--state-dir", t.TempDir())
	if r.code != 0 {
		t.Fatalf("demo failed:\n%s", r)
	}
	wantContains(t, "demo stdout", r.stdout, "On the platform (", "ARCHIVED", "--allow-mass-archive")
	_, table, _ := strings.Cut(r.stdout[strings.LastIndex(r.stdout, "On the platform ("):], "\n")
	if rows := strings.Count(strings.TrimSpace(table), "\n") + 1; rows < 5 {
		t.Errorf("the final platform table has %d rows:\n%s", rows, table)
	}
}
