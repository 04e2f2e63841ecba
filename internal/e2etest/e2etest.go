// Package e2etest holds what the end-to-end test packages share: building
// the dirsync binary once per test binary, running it with a clean
// environment, and the ldap section of its config file.
package e2etest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/slapdtest"
)

// RunTimeout bounds one run of the binary by Run.
const RunTimeout = 2 * time.Minute

// Main builds the dirsync binary (CGO_ENABLED=0) into a new temporary
// directory, sets *binary to its path, runs the tests and removes the
// directory. It returns the exit code for os.Exit. name prefixes its error
// messages and the directory's name.
func Main(m *testing.M, name string, binary *string) int {
	dir, err := os.MkdirTemp("", "dirsync-"+name+"-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 1
	}
	defer os.RemoveAll(dir)
	*binary = filepath.Join(dir, "dirsync")
	build := exec.Command("go", "build", "-o", *binary, "github.com/dirsync/dirsync/cmd/dirsync")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "%s: build dirsync: %v\n%s", name, err, out)
		return 1
	}
	return m.Run()
}

// Command returns a command running binary with args, and the buffers its
// stdout and stderr go to. Its environment is the test process's without
// the DIRSYNC_* variables, plus environ (KEY=value).
func Command(ctx context.Context, binary string, environ []string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	cmd := exec.CommandContext(ctx, binary, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DIRSYNC_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, environ...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

// Result is one finished run of the binary.
type Result struct {
	Code           int
	Stdout, Stderr string
}

// Run runs binary with args to the end, as Command sets it up, within
// RunTimeout. A non-zero exit is reported in the Result; a run that cannot
// start or does not exit by itself (killed, timed out) fails the test.
func Run(t testing.TB, binary string, environ []string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), RunTimeout)
	defer cancel()
	cmd, stdout, stderr := Command(ctx, binary, environ, args...)
	err := cmd.Run()
	r := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		r.Code = ee.ExitCode()
	default:
		t.Fatalf("dirsync %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, r.Stdout, r.Stderr)
	}
	return r
}

// LDAPConfig returns the ldap section of a config file that reads the users
// matching userFilter under baseDN from srv, bound as its reader over plain
// LDAP, with srv's locked-account filter as the disabled filter.
func LDAPConfig(srv *slapdtest.Server, baseDN, userFilter string) string {
	return fmt.Sprintf(`ldap:
  url: %q
  allow_plaintext: true
  bind_dn: %q
  bind_password: %q
  base_dn: %q
  user_filter: %q
  id_attribute: entryUUID
  disabled_filter: %q
  timeout: 5s
`, srv.URL(), srv.ReaderDN(), srv.ReaderPassword(), baseDN, userFilter, srv.LockedFilter())
}
