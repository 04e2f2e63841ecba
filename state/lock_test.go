//go:build unix

package state

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// lockHelperEnv names the state file the helper process opens.
const lockHelperEnv = "DIRSYNC_STATE_LOCK_HELPER"

// TestLockHelperProcess is not a test: it is the second process of the lock
// tests. It opens the state file, says "open", and holds it until its stdin is
// closed, or it is killed.
func TestLockHelperProcess(t *testing.T) {
	path := os.Getenv(lockHelperEnv)
	if path == "" {
		return // only the helper process of the lock tests does something
	}
	db, err := Open(context.Background(), path)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("open")
	io.Copy(io.Discard, os.Stdin) //nolint:errcheck // waits for EOF
	db.Close()
	os.Exit(0)
}

// startHolder starts a process that holds path open read-write and returns once
// it does.
func startHolder(t *testing.T, path string) (*exec.Cmd, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill() //nolint:errcheck // may have exited already
		cmd.Wait()         //nolint:errcheck // reaped; the test checked what it needed
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "open" {
		t.Fatalf("helper process: %q, %v", line, err)
	}
	return cmd, stdin
}

func TestOpen_SecondProcessIsLockedOut(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	holder, stdin := startHolder(t, path)

	_, err := Open(ctx, path)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("Open while another process holds the file: %v, want ErrLocked", err)
	}
	want := fmt.Sprintf("state %s is in use by another dirsync process (pid %d); only one sync may run at a time", path, holder.Process.Pid)
	if err.Error() != want {
		t.Errorf("error:\n got %q\nwant %q", err, want)
	}

	// A reader needs no lock.
	r, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatalf("OpenReadOnly while locked: %v", err)
	}
	r.Close()

	// Once the holder closes, the file is free.
	stdin.Close()
	if err := holder.Wait(); err != nil {
		t.Fatalf("helper process: %v", err)
	}
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open after the holder closed: %v", err)
	}
	db.Close()
}

func TestOpen_LockOfAKilledProcessIsReleased(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	holder, _ := startHolder(t, path)
	if _, err := Open(ctx, path); !errors.Is(err, ErrLocked) {
		t.Fatalf("Open while held: %v, want ErrLocked", err)
	}

	if err := holder.Process.Kill(); err != nil { // SIGKILL: no cleanup runs
		t.Fatal(err)
	}
	holder.Wait() //nolint:errcheck // "signal: killed"

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open after the holder was killed: %v", err)
	}
	defer db.Close()
	if runs, err := db.Runs(ctx, 1); err != nil || len(runs) != 0 {
		t.Errorf("Runs = %v, %v", runs, err)
	}
}

func TestOpen_SecondOpenInOneProcessIsLockedOutUntilClose(t *testing.T) {
	ctx := context.Background()
	db, path := openTest(t)
	if _, err := Open(ctx, path); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	db.Close()
	db2, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	db2.Close()
}
