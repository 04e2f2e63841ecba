package crash

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/slapdtest"
)

// crashAssertNoneArchived fails when any platform account is archived.
func (e *crashEnv) crashAssertNoneArchived(when string) {
	e.t.Helper()
	for _, r := range e.plat.Users() {
		if !r.Active {
			e.t.Errorf("%s: %s was archived", when, r.UserName)
		}
	}
}

// crashMustRun runs the binary and fails unless it exits with code.
func (e *crashEnv) crashMustRun(code int, args ...string) crashResult {
	e.t.Helper()
	r := e.run(args...)
	if r.code != code {
		e.t.Fatalf("dirsync %s: want exit %d, got\n%s", strings.Join(args, " "), code, r)
	}
	return r
}

func crashWantContains(t *testing.T, what, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Errorf("%s does not contain %q:\n%s", what, p, s)
		}
	}
}

func TestQuarantinedUserIsListedByStatusWhileTheOthersKeepSyncing(t *testing.T) {
	e := newCrashEnv(t, 5, crashOpts{sync: "  quarantine_after: 2\n"})
	bad := "people-user-000002"
	e.plat.FailUser(bad, 400)
	for range 2 {
		e.crashMustRun(1, "sync")
	}
	// Third run: the user is quarantined and not tried; a newcomer syncs.
	e.ldap.AddUser(t, e.ou, slapdtest.UserSpec{UID: "newcomer", Mail: "newcomer@example.com", GivenName: "New", SN: "Comer"})
	posts := e.plat.Count("POST")
	r := e.crashMustRun(0, "sync")
	crashWantContains(t, "sync output", r.stdout, "Quarantined (1", bad, "--retry-quarantined")
	if got := e.plat.Count("POST") - posts; got != 1 {
		t.Errorf("%d creates in the third run, want 1 (the newcomer only)", got)
	}
	if _, ok := e.plat.FindByUserName("newcomer"); !ok {
		t.Error("the newcomer was not created while a user was quarantined")
	}
	st := e.crashMustRun(0, "status")
	crashWantContains(t, "status", st.stdout, bad, "QUARANTINED", "dirsync sync --retry-quarantined")

	// Fixed on the platform side: the operator retries.
	e.plat.FailUser(bad, 0)
	e.crashMustRun(0, "sync", "--retry-quarantined")
	if _, ok := e.plat.FindByUserName(bad); !ok {
		t.Errorf("%s was not created by --retry-quarantined", bad)
	}
	if st := e.crashMustRun(0, "status"); strings.Contains(st.stdout, "QUARANTINED") {
		t.Errorf("status still lists a quarantined user:\n%s", st.stdout)
	}
	e.crashAssertConverged()
}

func TestCircuitBreakerStopsARunAgainstAPlatformThatKeepsFailing(t *testing.T) {
	const users = 12 // few enough that each create is looked up on its own
	e := newCrashEnv(t, users, crashOpts{sync: "  circuit_breaker: 3\n"})
	e.plat.SetErrorRate(1)
	r := e.crashMustRun(1, "sync")
	crashWantContains(t, "stderr", r.stderr, "circuit breaker", "3 consecutive failures", "planned again on the next run")
	// 3 failures open the circuit; at most the other workers' changes in
	// flight (concurrency 4) are tried besides.
	if n := e.plat.Count(""); n > 3+3 {
		t.Errorf("the platform received %d requests after the circuit opened at 3 failures", n)
	}
	e.plat.SetErrorRate(0)
	e.crashMustRun(0, "sync")
	e.crashAssertConverged()
}

// TestPlatformFaultsEndConvergedAndArchiveNobodyWrongly runs syncs under
// each fault of the fake platform; every run ends converged or with a clear
// error, nobody in the directory is archived, and once the fault is gone the
// next run converges.
func TestPlatformFaultsEndConvergedAndArchiveNobodyWrongly(t *testing.T) {
	cases := []struct {
		name   string
		target string
		fault  func(e *crashEnv)
		clear  func(e *crashEnv)
		// converges: the first run under the fault must succeed (retries
		// absorb it).
		converges bool
		// fails: the first run under the fault must fail (the fault is real).
		fails bool
	}{
		{name: "latency", fault: func(e *crashEnv) { e.plat.SetLatency(20 * time.Millisecond) }, converges: true},
		{name: "429 burst with Retry-After", target: "  max_retries: 3\n",
			fault: func(e *crashEnv) { e.plat.FailNext(3, 429, "1") }, converges: true},
		{name: "error rate", target: "  max_retries: 1\n",
			fault: func(e *crashEnv) { e.plat.SetErrorRate(0.3) }, clear: func(e *crashEnv) { e.plat.SetErrorRate(0) }},
		{name: "connection resets", target: "  max_retries: 3\n",
			fault: func(e *crashEnv) { e.plat.ResetNext(3) }, converges: true},
		{name: "slow answers past the timeout", target: "  max_retries: 0\n  timeout: 300ms\n",
			fault: func(e *crashEnv) { e.plat.SetLatency(time.Second) }, clear: func(e *crashEnv) { e.plat.SetLatency(0) }, fails: true},
		{name: "oversized bodies",
			fault: func(e *crashEnv) { e.plat.SetPadding(11 << 20) }, clear: func(e *crashEnv) { e.plat.SetPadding(0) }, fails: true},
		{name: "corrupt JSON",
			fault: func(e *crashEnv) { e.plat.CorruptNext(3) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newCrashEnv(t, 10, crashOpts{target: tc.target})
			// A first clean run, and a change of every kind for the faulty one.
			e.crashMustRun(0, "sync")
			e.ldap.Modify(t, "uid=people-user-000001,"+e.ou, map[string][]string{"sn": {"Changed"}})
			e.ldap.Delete(t, "uid=people-user-000002,"+e.ou)
			e.ldap.AddUser(t, e.ou, slapdtest.UserSpec{UID: "newcomer", Mail: "newcomer@example.com", GivenName: "New", SN: "Comer"})

			tc.fault(e)
			r := e.run("sync")
			if tc.converges && r.code != 0 {
				t.Fatalf("a run under %s should absorb it:\n%s", tc.name, r)
			}
			if tc.fails && r.code == 0 {
				t.Fatalf("a run under %s succeeded; the fault was not exercised:\n%s", tc.name, r)
			}
			if r.code != 0 {
				if r.code != 1 {
					t.Fatalf("a run under %s: want exit 0 or 1, got\n%s", tc.name, r)
				}
				crashWantContains(t, "stderr", r.stderr, "on the next run")
			}
			for _, u := range e.plat.Users() {
				if !u.Active && u.UserName != "people-user-000002" {
					t.Errorf("under %s, %s was archived", tc.name, u.UserName)
				}
			}
			if tc.clear != nil {
				tc.clear(e)
			}
			for range 3 {
				if r = e.run("sync"); r.code == 0 {
					break
				}
			}
			if r.code != 0 {
				t.Fatalf("no convergence after %s cleared:\n%s", tc.name, r)
			}
			e.crashAssertConverged()
		})
	}
}

// TestDirectoryHazardsArchiveNobodyAndSayWhy breaks the directory read in
// each way it can break after a good sync; each run archives nobody and says
// why.
func TestDirectoryHazardsArchiveNobodyAndSayWhy(t *testing.T) {
	t.Run("slapd stopped", func(t *testing.T) {
		e := newCrashEnv(t, 10, crashOpts{})
		e.crashMustRun(0, "sync")
		e.ldap.Stop()
		r := e.crashMustRun(1, "sync")
		crashWantContains(t, "stderr", r.stderr, "nothing was changed")
		e.crashAssertNoneArchived("slapd stopped")
	})
	t.Run("slapd stopped during the read", func(t *testing.T) {
		e := newCrashEnv(t, 300, crashOpts{})
		e.crashMustRun(0, "sync")
		ctx, cancel := contextWithTimeout()
		defer cancel()
		cmd, _, stderr := e.command(ctx, "sync")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// The read of 300 entries is under way or about to be: stop the
		// server under it. Whether the search or the connect fails, the
		// run must fail and archive nobody.
		e.ldap.Stop()
		err := cmd.Wait()
		if err == nil {
			// The read finished before the stop: a complete read, fine.
			t.Log("the read completed before slapd stopped")
		} else {
			crashWantContains(t, "stderr", stderr.String(), "nothing was changed")
		}
		e.crashAssertNoneArchived("slapd stopped during the read")
	})
	t.Run("size limit", func(t *testing.T) {
		e := newCrashEnv(t, 10, crashOpts{}, slapdtest.WithSizeLimit(12))
		e.crashMustRun(0, "sync")
		for i := range 5 {
			e.ldap.AddUser(t, e.ou, slapdtest.UserSpec{UID: fmt.Sprintf("extra-%d", i), Mail: fmt.Sprintf("extra-%d@example.com", i), GivenName: "E", SN: "X"})
		}
		r := e.crashMustRun(1, "sync")
		crashWantContains(t, "stderr", r.stderr, "nothing was changed", "size limit")
		e.crashAssertNoneArchived("size limit")
	})
	t.Run("referral", func(t *testing.T) {
		e := newCrashEnv(t, 10, crashOpts{})
		e.crashMustRun(0, "sync")
		e.ldap.Add(t, "ou=elsewhere,"+e.ou, map[string][]string{
			"objectClass": {"referral", "extensibleObject"}, "ou": {"elsewhere"},
			"ref": {"ldap://127.0.0.1:1/ou=elsewhere,dc=example,dc=com"},
		})
		r := e.crashMustRun(1, "sync")
		crashWantContains(t, "stderr", r.stderr, "nothing was changed", "referral")
		e.crashAssertNoneArchived("referral")
	})
	t.Run("empty result", func(t *testing.T) {
		e := newCrashEnv(t, 10, crashOpts{})
		e.crashMustRun(0, "sync")
		for i := range 10 {
			e.ldap.Delete(t, fmt.Sprintf("uid=people-user-%06d,%s", i, e.ou))
		}
		r := e.crashMustRun(3, "sync")
		crashWantContains(t, "stderr", r.stderr, "no users in scope", "--allow-empty-directory")
		e.crashAssertNoneArchived("empty result")
	})
	t.Run("base DN gone", func(t *testing.T) {
		e := newCrashEnv(t, 10, crashOpts{})
		e.crashMustRun(0, "sync")
		for i := range 10 {
			e.ldap.Delete(t, fmt.Sprintf("uid=people-user-%06d,%s", i, e.ou))
		}
		e.ldap.Delete(t, e.ou)
		r := e.crashMustRun(1, "sync")
		crashWantContains(t, "stderr", r.stderr, "nothing was changed")
		e.crashAssertNoneArchived("base DN gone")
	})
}

// TestSecretsNeverAppearInOutputLogsOrSnapshot greps for the configured LDAP
// password and platform token everywhere a run writes, after successful and
// failing runs.
func TestSecretsNeverAppearInOutputLogsOrSnapshot(t *testing.T) {
	e := newCrashEnv(t, 10, crashOpts{sync: "  circuit_breaker: 2\n"})
	var outputs []string
	keep := func(r crashResult) { outputs = append(outputs, r.stdout, r.stderr) }
	keep(e.crashMustRun(0, "sync", "--output", "json", "--log-level", "debug"))
	e.ldap.Modify(t, "uid=people-user-000001,"+e.ou, map[string][]string{"sn": {"Changed"}})
	e.plat.SetErrorRate(1)
	keep(e.crashMustRun(1, "sync", "--output", "json", "--log-level", "debug"))
	keep(e.crashMustRun(1, "sync", "--log-level", "debug"))
	e.plat.SetErrorRate(0)
	keep(e.run("check", "--log-level", "debug"))
	keep(e.crashMustRun(0, "status", "--output", "json"))
	keep(e.crashMustRun(0, "status"))
	// A token the platform rejects: the rejected token must not be echoed.
	e.writeConfig(crashOpts{token: "wrong-token-s3cr3t", sync: "  circuit_breaker: 2\n"})
	keep(e.crashMustRun(1, "sync", "--output", "json", "--log-level", "debug"))
	keep(e.run("check", "--log-level", "debug"))

	secrets := []string{e.ldap.ReaderPassword(), crashToken, "wrong-token-s3cr3t"}
	for i, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("output %d holds the secret %q:\n%s", i, s, out)
			}
		}
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(e.statePath() + suffix)
		if err != nil {
			continue
		}
		for _, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Errorf("state file %s holds the secret %q", e.statePath()+suffix, s)
			}
		}
	}
	e.crashAssertSnapshot() // 0600 and integrity
}

func contextWithTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 2*time.Minute)
}
