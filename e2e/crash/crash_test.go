package crash

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	_ "modernc.org/sqlite"

	"github.com/dirsync/dirsync/internal/e2etest"
	"github.com/dirsync/dirsync/internal/slapdtest"
	"github.com/dirsync/dirsync/target/fake"
)

// crashBinary is the dirsync binary built by TestMain.
var crashBinary string

func TestMain(m *testing.M) {
	os.Exit(e2etest.Main(m, "crash", &crashBinary))
}

const crashToken = "crash-token"

// crashEnv is one test's world: slapd with one OU, the fake platform served by
// this process, and a config file pointing the binary at both.
type crashEnv struct {
	t    *testing.T
	ldap *slapdtest.Server
	ou   string
	plat *fake.Server
	url  string
	dir  string
	opts crashOpts
}

// crashOpts are the config settings a test varies. Target and Sync are extra
// lines (indented two spaces) for those sections.
type crashOpts struct {
	token  string
	target string
	sync   string
}

func newCrashEnv(t *testing.T, users int, opts crashOpts, ldapOpts ...slapdtest.Option) *crashEnv {
	t.Helper()
	srv := slapdtest.Start(t, ldapOpts...)
	e := &crashEnv{t: t, ldap: srv, ou: srv.AddOU(t, "people"), dir: t.TempDir(),
		plat: fake.New(fake.Options{Token: crashToken, Seed: 7})}
	if users > 0 {
		srv.LoadUsers(t, e.ou, users)
	}
	e.url = e.plat.StartT(t)
	e.writeConfig(opts)
	return e
}

// writeConfig writes the config file for opts.
func (e *crashEnv) writeConfig(opts crashOpts) {
	e.t.Helper()
	e.opts = opts
	if opts.token == "" {
		opts.token = crashToken
	}
	if !strings.Contains(opts.target, "max_retries:") {
		opts.target += "  max_retries: 0\n"
	}
	if !strings.Contains(opts.target, "concurrency:") {
		opts.target += "  concurrency: 4\n"
	}
	if !strings.Contains(opts.target, "timeout:") {
		opts.target += "  timeout: 10s\n"
	}
	yaml := e2etest.LDAPConfig(e.ldap, e.ou, "(objectClass=inetOrgPerson)") + fmt.Sprintf(`target:
  url: %q
  token: %q
  rate_limit: 1000
%ssync:
  max_archive: 100000
  max_archive_percent: 100
%sstate:
  path: %q
log:
  level: info
  format: json
`, e.url, opts.token, opts.target, opts.sync, e.statePath())
	if err := os.WriteFile(e.configPath(), []byte(yaml), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// writeConfigFilter rewrites the config file at path with another
// ldap.user_filter.
func (e *crashEnv) writeConfigFilter(path, filter string) {
	e.t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		e.t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "  user_filter:") {
			lines[i] = fmt.Sprintf("  user_filter: %q", filter)
		}
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

func (e *crashEnv) configPath() string { return filepath.Join(e.dir, "dirsync.yaml") }
func (e *crashEnv) statePath() string  { return filepath.Join(e.dir, "state.db") }

// crashResult is one finished run of the binary.
type crashResult struct {
	code           int
	stdout, stderr string
}

func (r crashResult) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// command returns the binary with args and the env's config, without the
// test's DIRSYNC_* variables.
func (e *crashEnv) command(ctx context.Context, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	return e2etest.Command(ctx, crashBinary, nil, append(args, "--config", e.configPath())...)
}

// run runs the binary to the end.
func (e *crashEnv) run(args ...string) crashResult {
	e.t.Helper()
	r := e2etest.Run(e.t, crashBinary, nil, append(args, "--config", e.configPath())...)
	return crashResult{code: r.Code, stdout: r.Stdout, stderr: r.Stderr}
}

// syncAndKill starts `dirsync sync` and SIGKILLs it once the platform has
// received `after` more writes than before the start. It reports whether the
// kill happened while the run was still going (false: the run ended first).
func (e *crashEnv) syncAndKill(after int) bool {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := e.plat.Writes()
	cmd, _, stderr := e.command(ctx, "sync")
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("start dirsync: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			// The run ended before reaching the kill point: fine, as long as
			// it ended by itself.
			var ee *exec.ExitError
			if err != nil && !(errors.As(err, &ee) && ee.Exited()) {
				e.t.Fatalf("dirsync sync: %v\n%s", err, stderr)
			}
			return false
		case <-tick.C:
			if e.plat.Writes()-base >= after {
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
					e.t.Fatalf("kill dirsync: %v", err)
				}
				<-done
				return true
			}
		}
	}
}

// crashDirectoryUsers returns the active users in the OU by entryUUID → uid.
func (e *crashEnv) crashDirectoryUsers() map[string]string {
	e.t.Helper()
	c := e.ldap.Conn(e.t)
	filter := fmt.Sprintf("(&(objectClass=inetOrgPerson)(!%s))", e.ldap.LockedFilter())
	res, err := c.SearchWithPaging(ldap.NewSearchRequest(e.ou, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		0, 0, false, filter, []string{"entryUUID", "uid"}, nil), 500)
	if err != nil {
		e.t.Fatalf("search directory: %v", err)
	}
	m := map[string]string{}
	for _, en := range res.Entries {
		m[en.GetAttributeValue("entryUUID")] = en.GetAttributeValue("uid")
	}
	return m
}

// crashAssertConverged checks the platform against the directory: every
// directory user has exactly one active account with its externalId and
// userName, every other account is archived, and the snapshot is sound.
func (e *crashEnv) crashAssertConverged() {
	e.t.Helper()
	want := e.crashDirectoryUsers()
	byExt := map[string][]fake.Resource{}
	byName := map[string]int{}
	for _, r := range e.plat.Users() {
		byExt[r.ExternalID] = append(byExt[r.ExternalID], r)
		byName[strings.ToLower(r.UserName)]++
	}
	for name, n := range byName {
		if n > 1 {
			e.t.Errorf("userName %s: %d platform accounts, want 1", name, n)
		}
	}
	for ext, rs := range byExt {
		if len(rs) > 1 {
			e.t.Errorf("externalId %s: %d platform accounts (duplicates), want 1", ext, len(rs))
		}
		uid, inDir := want[ext]
		r := rs[0]
		switch {
		case inDir && !r.Active:
			e.t.Errorf("%s (%s) is archived on the platform but active in the directory", r.UserName, ext)
		case inDir && r.UserName != uid:
			e.t.Errorf("externalId %s: platform userName %q, directory uid %q", ext, r.UserName, uid)
		case !inDir && r.Active:
			e.t.Errorf("%s (%s) is active on the platform but not (active) in the directory", r.UserName, ext)
		}
	}
	for ext, uid := range want {
		if len(byExt[ext]) == 0 {
			e.t.Errorf("%s (%s) is in the directory but has no platform account", uid, ext)
		}
	}
	e.crashAssertSnapshot()
}

// crashAssertSnapshot checks the state file: 0600 and PRAGMA integrity_check ok.
func (e *crashEnv) crashAssertSnapshot() {
	e.t.Helper()
	fi, err := os.Stat(e.statePath())
	if err != nil {
		e.t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		e.t.Errorf("state file mode %v, want 0600", perm)
	}
	db, err := sql.Open("sqlite", "file:"+e.statePath()+"?mode=ro")
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil {
		e.t.Fatalf("integrity_check: %v", err)
	}
	if res != "ok" {
		e.t.Errorf("PRAGMA integrity_check = %q, want ok", res)
	}
}

// TestSIGKILLDuringApplyConvergesWithoutDuplicatesOrWrongArchives kills the
// binary at random points of its applies, changing the directory between
// kills, and checks that a clean run afterwards leaves the platform exactly
// equal to the directory.
func TestSIGKILLDuringApplyConvergesWithoutDuplicatesOrWrongArchives(t *testing.T) {
	const users = 300
	e := newCrashEnv(t, users, crashOpts{})
	// Each write takes a few milliseconds, so an apply of hundreds of changes
	// lasts long enough to be killed in the middle.
	e.plat.SetLatency(5 * time.Millisecond)
	rng := rand.New(rand.NewPCG(42, 5))

	// Directory users by DN, to disable, re-enable and remove between kills.
	dns := make([]string, users)
	for i := range dns {
		dns[i] = fmt.Sprintf("uid=people-user-%06d,%s", i, e.ou)
	}
	lockAttr, lockVal := "pwdAccountLockedTime", "000001010000Z"
	if e.ldap.LockedFilter() == "(employeeType=disabled)" {
		lockAttr, lockVal = "employeeType", "disabled"
	}
	removed := map[int]bool{}
	locked := map[int]bool{}

	const iterations = 8
	kills := 0
	for i := range iterations {
		if i%2 == 1 {
			// Kill among the archives: converge, then plan 10 updates and a
			// create (11 writes, all made before any removal starts) and 20
			// archives, and kill between the 12th and the 23rd write.
			if r := e.run("sync"); r.code != 0 {
				t.Fatalf("sync between kills failed:\n%s", r)
			}
			picked := map[int]bool{}
			pick := func() int {
				for {
					n := rng.IntN(users)
					if !removed[n] && !locked[n] && !picked[n] {
						picked[n] = true
						return n
					}
				}
			}
			for range 10 {
				n := pick()
				e.ldap.Modify(t, dns[n], map[string][]string{"sn": {fmt.Sprintf("Renamed %d-%d", i, n)}})
			}
			for range 20 {
				n := pick()
				locked[n] = true
				e.ldap.Modify(t, dns[n], map[string][]string{lockAttr: {lockVal}})
			}
			e.ldap.AddUser(t, e.ou, slapdtest.UserSpec{
				UID: fmt.Sprintf("newcomer-%d", i), Mail: fmt.Sprintf("newcomer-%d@example.com", i),
				GivenName: "New", SN: "Comer", DisplayName: "New Comer",
			})
			if e.syncAndKill(12 + rng.IntN(12)) {
				kills++
			}
			continue
		}
		// Kill among the grants. Before each such run but the first (whose
		// 300 creates are enough), change the directory: rename 60 people's
		// family names, lock or unlock a few, remove one, add one, so the
		// run has updates, archives, reactivations and creates of its own,
		// over 50 writes (60 picks of 300 repeat a few): a kill point up to
		// 45 falls inside the apply.
		if i > 0 {
			for range 60 {
				n := rng.IntN(users)
				if !removed[n] {
					e.ldap.Modify(t, dns[n], map[string][]string{"sn": {fmt.Sprintf("Renamed %d-%d", i, n)}})
				}
			}
			for range 3 {
				n := rng.IntN(users)
				if removed[n] {
					continue
				}
				locked[n] = !locked[n]
				if locked[n] {
					e.ldap.Modify(t, dns[n], map[string][]string{lockAttr: {lockVal}})
				} else {
					e.ldap.Modify(t, dns[n], map[string][]string{lockAttr: nil})
				}
			}
			if n := rng.IntN(users); !removed[n] {
				removed[n] = true
				e.ldap.Delete(t, dns[n])
			}
			e.ldap.AddUser(t, e.ou, slapdtest.UserSpec{
				UID: fmt.Sprintf("newcomer-%d", i), Mail: fmt.Sprintf("newcomer-%d@example.com", i),
				GivenName: "New", SN: "Comer", DisplayName: "New Comer",
			})
		}
		if e.syncAndKill(1 + rng.IntN(45)) {
			kills++
		}
	}
	if kills != iterations {
		t.Fatalf("only %d of %d runs were killed during apply; the test did not exercise crashes", kills, iterations)
	}

	// Restart until a run has nothing left to do (bounded).
	var last crashResult
	for range 3 {
		last = e.run("sync")
		if last.code != 0 {
			t.Fatalf("sync after the kills failed:\n%s", last)
		}
		if plan := e.run("plan"); plan.code == 0 {
			break
		}
	}
	if plan := e.run("plan"); plan.code != 0 {
		t.Fatalf("plan after convergence still has changes:\n%s", plan)
	}
	e.crashAssertConverged()
	t.Logf("%d kills during apply; platform holds %d accounts", kills, len(e.plat.Users()))
}
