package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// makeReadOnly makes dir unwritable until the test ends: by its mode, and,
// for root (whom modes do not stop), by the immutable attribute.
func makeReadOnly(t *testing.T, dir string) {
	t.Helper()
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
			t.Fatalf("chattr +i %s: %v\n%s", dir, err, out)
		}
		t.Cleanup(func() { _ = exec.Command("chattr", "-i", dir).Run() })
	}
	if f, err := os.CreateTemp(dir, "probe-"); err == nil {
		f.Close()
		t.Fatalf("%s is still writable", dir)
	}
}

func TestCheck_FailsWhenTheDirectoryReadIsEmptyButTheSnapshotManagesUsers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addUser("alice", false)
	e.addUser("bob", false)
	e.mustRun(0, "sync")

	// A filter that matches nobody: sync refuses to archive everyone.
	e.cfg.userFilter = "(uid=nobody-has-this-uid)"
	e.writeConfig()
	if r := e.run("sync"); r.code == 0 {
		t.Fatalf("sync with an empty read succeeded:\n%s", r)
	}
	r := e.mustRun(1, "check")
	wantContains(t, "check stdout", r.stdout, "✗", "no users", "manages 2", "ldap.user_filter", "--allow-empty-directory")
	if e.plat.Writes() != 2 {
		t.Errorf("%d platform writes, want the 2 creates only", e.plat.Writes())
	}
}

func TestCheck_FailsWhenTheStatePathIsNotWritable(t *testing.T) {
	t.Parallel()
	t.Run("directory missing", func(t *testing.T) {
		e := newEnv(t)
		e.addUser("alice", false)
		// The state directory does not exist and cannot be created.
		makeReadOnly(t, e.dir)
		if r := e.run("sync"); r.code == 0 {
			t.Fatalf("sync with an uncreatable state directory succeeded:\n%s", r)
		}
		r := e.mustRun(1, "check")
		wantContains(t, "check stdout", r.stdout, "✗ state.path", filepath.Dir(e.statePath()), "fix:")
	})
	t.Run("read-only directory", func(t *testing.T) {
		e := newEnv(t)
		e.addUser("alice", false)
		e.mustRun(0, "sync")
		makeReadOnly(t, filepath.Dir(e.statePath()))
		e.addUser("bob", false)
		if r := e.run("sync"); r.code == 0 {
			t.Fatalf("sync with a read-only state directory succeeded:\n%s", r)
		}
		r := e.mustRun(1, "check")
		wantContains(t, "check stdout", r.stdout, "✗ state.path", filepath.Dir(e.statePath()), "fix:")
	})
}

func TestCheck_WarnsAboutPlaintextAndUnverifiedTLS(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addUser("alice", false)
	cfg := mustRead(t, e.configPath())
	cfg = strings.Replace(cfg, "  max_retries: 0\n", "  max_retries: 0\n  insecure_skip_verify: true\n", 1)
	if err := os.WriteFile(e.configPath(), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// Warnings, not failures: both are allowed, on purpose.
	r := e.mustRun(0, "check")
	wantContains(t, "check stdout", r.stdout,
		"! ldap.allow_plaintext is on",
		"! target.insecure_skip_verify is on")
	if strings.Contains(r.stdout, "ldap.insecure_skip_verify") {
		t.Errorf("check warns about ldap.insecure_skip_verify, which is off:\n%s", r.stdout)
	}
}
