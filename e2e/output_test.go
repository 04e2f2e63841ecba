package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"unicode"

	"github.com/dirsync/dirsync/internal/slapdtest"
)

// displayWidth is the number of terminal columns s takes: two for a Han
// character, one for any other (the test's text holds no other wide ones).
func displayWidth(s string) int {
	w := 0
	for _, r := range s {
		w++
		if unicode.Is(unicode.Han, r) {
			w++
		}
	}
	return w
}

// columnAt returns the display column at which field starts in line, or -1.
func columnAt(line, field string) int {
	i := strings.Index(line, field)
	if i < 0 {
		return -1
	}
	return displayWidth(line[:i])
}

func TestStatus_FailingTableAlignsWideNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addUser("bob", false)
	e.ldap.AddUser(t, e.ou, slapdtest.UserSpec{UID: "王小明", Mail: "wang@example.com", GivenName: "小明", SN: "王"})
	e.plat.FailUser("bob", http.StatusBadRequest)
	e.plat.FailUser("王小明", http.StatusBadRequest)
	e.mustRun(1, "sync")

	r := e.mustRun(0, "status")
	_, table, ok := strings.Cut(r.stdout, "Failing (")
	if !ok {
		t.Fatalf("no Failing table in:\n%s", r.stdout)
	}
	lines := strings.Split(table, "\n")[1:4]
	want := columnAt(lines[0], "STATUS")
	for _, l := range lines[1:] {
		if got := columnAt(l, "pending"); got != want {
			t.Errorf("STATUS column at %d in the header, at %d in %q:\n%s", want, got, l, table)
		}
	}
}

// runCombined runs the binary with e's config, its stdout and stderr going
// to one pipe, as on a terminal: the output is in the order it was written.
func (e *env) runCombined(args ...string) (string, int) {
	e.t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(binary, append(args, "--config", e.configPath())...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + e.dir}
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		e.t.Fatal(err)
	}
	return out.String(), cmd.ProcessState.ExitCode()
}

func TestSync_RefusedEmptyReadSaysSoFirstAndSummarisesThePlan(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var names []string
	for i := range 15 {
		names = append(names, fmt.Sprintf("user%02d", i))
	}
	syncUsers(t, e, names...)
	e.cfg.userFilter = "(uid=nobody-has-this-uid)"
	e.writeConfig()

	for _, cmd := range []string{"sync", "plan"} {
		out, code := e.runCombined(cmd)
		if code != 3 {
			t.Fatalf("%s: exit %d, want 3:\n%s", cmd, code, out)
		}
		refusal, plan := strings.Index(out, "no users in scope while 15 users are managed"), strings.Index(out, "Plan: 15 to archive")
		if refusal < 0 || plan < 0 || refusal > plan {
			t.Errorf("%s: want the refusal, then the plan's headline:\n%s", cmd, out)
		}
		if n := strings.Count(out, "- archive"); n > 10 {
			t.Errorf("%s: %d archive lines, want the plan summed up:\n%s", cmd, n, out)
		}
		if strings.Count(out, "no users in scope") != 1 {
			t.Errorf("%s: the refusal is not said exactly once:\n%s", cmd, out)
		}
		wantContains(t, cmd+" output", out, "and 5 more to archive", "--output json")
	}
}

func TestUndoDryRun_WarnsThatUsersStillDisabledAreArchivedAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addUser("alice", false)
	bob := e.addUser("bob", false)
	e.mustRun(0, "sync") // run 1
	e.setLocked(bob, true)
	r := e.mustRun(0, "sync") // run 2 archives bob
	wantContains(t, "sync stdout", r.stdout, "Run 2: 1 archived")

	r = e.mustRun(2, "undo", "--run", "2", "--dry-run")
	wantContains(t, "undo --dry-run stdout", r.stdout, "1 to reactivate", "bob", "disabled in the directory",
		"still missing or disabled in the directory are archived again by the next sync")
}
