package e2e

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/e2etest"
	"github.com/dirsync/dirsync/internal/slapdtest"
	"github.com/dirsync/dirsync/target/fake"
)

// binary is the dirsync binary built by TestMain.
var binary string

func TestMain(m *testing.M) {
	os.Exit(e2etest.Main(m, "e2e", &binary))
}

// token is the bearer token the fake platform accepts.
const token = "e2e-token"

// env is one test's world: a slapd with the test's OU, a fake platform, a
// state directory and a config file pointing the binary at all three.
type env struct {
	t    *testing.T
	ldap *slapdtest.Server
	ou   string
	plat *fake.Server
	url  string
	dir  string
	// cfg is what writeConfig writes; change it and call writeConfig again.
	cfg config
	// environ is added to the environment of the binary's runs (KEY=value).
	environ []string
}

// config holds the settings a test varies.
type config struct {
	maxArchive        int
	maxArchivePercent float64
	userFilter        string
	targetTimeout     string
	// ldapAttributes is inserted verbatim as the ldap.attributes section.
	ldapAttributes string
	// extra is appended verbatim to the YAML file.
	extra string
	// state, when set, is the state section's body in place of the SQLite
	// path (indented by two spaces).
	state string
}

func newEnv(t *testing.T, opts ...slapdtest.Option) *env {
	t.Helper()
	srv := slapdtest.Start(t, opts...)
	e := &env{
		t:    t,
		ldap: srv,
		ou:   srv.AddOU(t, "people"),
		plat: fake.New(fake.Options{Token: token, Seed: 1}),
		dir:  t.TempDir(),
		// Lifecycle tests archive one of a few users at a time; the safety
		// test sets its own limits.
		cfg: config{maxArchive: 50, maxArchivePercent: 100, userFilter: "(objectClass=inetOrgPerson)", targetTimeout: "10s"},
	}
	e.url = e.plat.StartT(t)
	e.writeConfig()
	return e
}

func (e *env) configPath() string { return filepath.Join(e.dir, "dirsync.yaml") }
func (e *env) statePath() string  { return filepath.Join(e.dir, "state", "state.db") }

// writeConfig writes the config file for e.cfg.
func (e *env) writeConfig() {
	e.t.Helper()
	e.writeConfigTo(e.configPath())
}

// writeConfigTo writes the config file for e.cfg at path.
func (e *env) writeConfigTo(path string) {
	e.t.Helper()
	stateSection := fmt.Sprintf("  path: %q\n", e.statePath())
	if e.cfg.state != "" {
		stateSection = e.cfg.state
	}
	yaml := e2etest.LDAPConfig(e.ldap, e.ou, e.cfg.userFilter) + fmt.Sprintf(`%starget:
  url: %q
  token: %q
  rate_limit: 1000
  timeout: %s
  max_retries: 0
sync:
  max_archive: %d
  max_archive_percent: %g
state:
%slog:
  level: warn
  format: json
%s`, e.cfg.ldapAttributes, e.url, token, e.cfg.targetTimeout, e.cfg.maxArchive, e.cfg.maxArchivePercent, stateSection, e.cfg.extra)
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// result is one run of the binary.
type result struct {
	args   []string
	code   int
	stdout string
	stderr string
}

func (r result) String() string {
	return fmt.Sprintf("dirsync %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// run runs the binary with the env's config and args.
func (e *env) run(args ...string) result {
	e.t.Helper()
	return runBinaryEnv(e.t, e.environ, append(args, "--config", e.configPath())...)
}

// runBinary runs the binary with args and no DIRSYNC_* variables from the
// test's environment.
func runBinary(t *testing.T, args ...string) result {
	t.Helper()
	return runBinaryEnv(t, nil, args...)
}

// runBinaryEnv is runBinary with environ added to the environment.
func runBinaryEnv(t *testing.T, environ []string, args ...string) result {
	t.Helper()
	r := e2etest.Run(t, binary, environ, args...)
	return result{args: args, code: r.Code, stdout: r.Stdout, stderr: r.Stderr}
}

// mustRun runs the binary and fails the test unless it exits with code.
func (e *env) mustRun(code int, args ...string) result {
	e.t.Helper()
	r := e.run(args...)
	if r.code != code {
		e.t.Fatalf("want exit %d, got:\n%s", code, r)
	}
	return r
}

// addUser adds uid=name under the test's OU with a mail and names.
func (e *env) addUser(name string, locked bool) string {
	e.t.Helper()
	return e.ldap.AddUser(e.t, e.ou, slapdtest.UserSpec{
		UID:         name,
		Mail:        name + "@example.com",
		GivenName:   strings.ToUpper(name[:1]) + name[1:],
		SN:          "Tester",
		DisplayName: strings.ToUpper(name[:1]) + name[1:] + " Tester",
		Locked:      locked,
	})
}

// setLocked locks or unlocks dn the way LockedFilter sees it.
func (e *env) setLocked(dn string, locked bool) {
	e.t.Helper()
	attr, val := "pwdAccountLockedTime", "000001010000Z"
	if e.ldap.LockedFilter() == "(employeeType=disabled)" {
		attr, val = "employeeType", "disabled"
	}
	if locked {
		e.ldap.Modify(e.t, dn, map[string][]string{attr: {val}})
	} else {
		e.ldap.Modify(e.t, dn, map[string][]string{attr: nil})
	}
}

// account returns the platform account whose userName is name.
func (e *env) account(name string) fake.Resource {
	e.t.Helper()
	r, ok := e.plat.FindByUserName(name)
	if !ok {
		e.t.Fatalf("no platform account %q; accounts: %+v", name, e.plat.Accounts())
	}
	return r
}

// activeCount returns how many platform accounts are active and archived.
func (e *env) activeCount() (active, archived int) {
	for _, a := range e.plat.Accounts() {
		if a.User.Active {
			active++
		} else {
			archived++
		}
	}
	return active, archived
}

// stateHash returns a digest of the state file and its WAL and lock files,
// as they are on disk.
func (e *env) stateHash() string {
	e.t.Helper()
	h := sha256.New()
	for _, suffix := range []string{"", "-wal", "-shm", ".lock"} {
		b, err := os.ReadFile(e.statePath() + suffix)
		if errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(h, "%s:absent;", suffix)
			continue
		}
		if err != nil {
			e.t.Fatal(err)
		}
		fmt.Fprintf(h, "%s:%x;", suffix, sha256.Sum256(b))
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// wantContains fails unless s contains every part.
func wantContains(t *testing.T, what, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Errorf("%s does not contain %q:\n%s", what, p, s)
		}
	}
}
