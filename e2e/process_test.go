package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/slapdtest"
)

func TestSync_IncompleteDirectoryReadChangesNothing(t *testing.T) {
	t.Parallel()
	// The reader may see at most 3 entries per search.
	e := newEnv(t, slapdtest.WithSizeLimit(3))
	dns := syncUsers(t, e, "alice", "bob", "carol")
	e.addUser("dave", false)
	e.setLocked(dns["alice"], true)
	writes := e.plat.Writes()

	for _, args := range [][]string{{"plan"}, {"sync"}} {
		r := e.mustRun(1, args...)
		wantContains(t, strings.Join(args, " ")+" stderr", r.stderr, "dirsync: ", "ize limit")
		if got := e.plat.Writes(); got != writes {
			t.Errorf("%v after an incomplete read wrote to the platform (%d → %d writes)", args, writes, got)
		}
	}
	if active, _ := e.activeCount(); active != 3 {
		t.Errorf("an incomplete read archived someone: %d active", active)
	}
	if _, ok := e.plat.FindByUserName("dave"); ok {
		t.Error("an incomplete read still created dave")
	}
}

func TestSync_SecondBinaryStopsAtOnceWhileAFirstOneRuns(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.cfg.targetTimeout = "2m"
	e.writeConfig()
	syncUsers(t, e, "alice")
	e.addUser("bob", false)
	// The first run's create waits on the platform until it is stopped.
	e.plat.SetLatency(time.Minute)

	first := exec.Command(binary, "sync", "--config", e.configPath())
	var out1 bytes.Buffer
	first.Stdout, first.Stderr = &out1, &out1
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- first.Wait() }()
	t.Cleanup(func() {
		_ = first.Process.Kill()
		<-done
	})
	waitForLockHolder(t, e.statePath(), first.Process.Pid, done)

	started := time.Now()
	r := e.mustRun(1, "sync")
	wantContains(t, "second sync stderr", r.stderr,
		"in use by another dirsync process (pid "+strconv.Itoa(first.Process.Pid)+")")
	if d := time.Since(started); d > 10*time.Second {
		t.Errorf("the second sync took %s to give up", d)
	}

	// SIGTERM stops the first run promptly, though its request would wait a minute.
	started = time.Now()
	if err := first.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var exitErr *exec.ExitError
	select {
	case err := <-done:
		done <- err // for the cleanup
		if !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 {
			t.Errorf("first sync after SIGTERM: want exit 1, got %v\n%s", err, out1.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the first sync did not stop within 30s of SIGTERM\n%s", out1.String())
	}
	if d := time.Since(started); d > 20*time.Second {
		t.Errorf("the first sync took %s to stop after SIGTERM", d)
	}
	if _, ok := e.plat.FindByUserName("bob"); ok {
		t.Error("bob was created by the stopped run")
	}

	e.plat.SetLatency(0)
	e.mustRun(0, "sync")
	if n := len(e.plat.Accounts()); n != 2 {
		t.Errorf("want 2 accounts after the next run, got %+v", e.plat.Accounts())
	}
	e.account("bob")
}

// waitForLockHolder waits until the state lock file names pid as its holder.
// It fails the test when the process exits first.
func waitForLockHolder(t *testing.T, statePath string, pid int, done chan error) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	want := strconv.Itoa(pid)
	for {
		b, _ := os.ReadFile(statePath + ".lock")
		if strings.TrimSpace(string(b)) == want {
			return
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("the first sync exited before taking the lock: %v", err)
		case <-deadline:
			t.Fatalf("the first sync did not take the lock within 30s (lock file: %q)", b)
		case <-tick.C:
		}
	}
}
