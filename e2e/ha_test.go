package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dirsync/dirsync/internal/pgtest"
	"github.com/dirsync/dirsync/internal/proxytest"
)

// haMember is one `dirsync run` of an active/standby group, reaching the
// database through a proxy of its own (to cut its connections alone).
type haMember struct {
	name    string
	config  string
	proxy   *proxytest.Proxy
	svc     *service
	stopped bool // SIGSTOPped: its listener does not answer
}

// leaderGauge reads dirsync_leader from m's /metrics; -1 when it does not
// answer (stopped, dead).
func (m *haMember) leaderGauge() float64 {
	if m.stopped {
		return -1
	}
	select {
	case <-m.svc.exited:
		return -1
	default:
	}
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + m.svc.addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return -1
	}
	return metric(string(b), "dirsync_leader")
}

// haRun is one run as the journal shows it.
type haRun struct {
	id         int64
	start, end time.Time
	outcome    string
}

// TestHA_NeverTwoWritersThroughKillsStopsAndCutsAndPlatformMatchesDirectory:
// three `dirsync run` processes share one PostgreSQL snapshot. In each of 30
// rounds the directory changes and the leader is killed (SIGKILL), paused
// (SIGSTOP, past its lease) or cut off from the database; a standby must
// lead within 15s. From the journal: runs never overlapped. At the end the
// platform matches the directory.
func TestHA_NeverTwoWritersThroughKillsStopsAndCutsAndPlatformMatchesDirectory(t *testing.T) {
	pg := pgtest.Start(t)
	dbURL := pg.NewDatabase(t)
	e := newEnv(t)
	want := map[string]bool{} // username: active on the platform
	dns := map[string]string{}
	for _, name := range []string{"u00", "u01", "u02"} {
		dns[name] = e.addUser(name, false)
		want[name] = true
	}
	e.cfg.extra = "listen: 127.0.0.1:0\nschedule: \"@every 1s\"\n"

	const ttl = 2 * time.Second
	newMember := func(name string) *haMember {
		m := &haMember{name: name, proxy: proxytest.Start(t, pg.Addr()), config: filepath.Join(e.dir, name+".yaml")}
		e.cfg.state = fmt.Sprintf("  driver: postgres\n  url: %q\n  lease_ttl: %s\n",
			strings.Replace(dbURL, pg.Addr(), m.proxy.Addr(), 1), ttl)
		e.writeConfigTo(m.config)
		return m
	}
	start := func(m *haMember) {
		m.svc = e.startService("--config", m.config, "--grace", "1s")
		m.stopped = false
	}
	members := []*haMember{newMember("a"), newMember("b"), newMember("c")}
	for _, m := range members {
		start(m)
	}
	// Slow platform answers: a fault often finds a run in the middle of its
	// changes.
	e.plat.SetLatency(50 * time.Millisecond)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// succeededSince waits for a run started after since to succeed.
	succeededSince := func(since time.Time, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			var made bool // the first leader's first run makes the schema
			if err := conn.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&made); err != nil {
				t.Fatal(err)
			}
			var n int
			if made {
				if err := conn.QueryRow(ctx, `SELECT count(*) FROM runs WHERE outcome = 'success' AND started_at > $1`,
					since.UTC().Format("2006-01-02T15:04:05.000000000Z")).Scan(&n); err != nil {
					t.Fatal(err)
				}
			}
			if n > 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("no run started after %s succeeded within %s", since.Format(time.StampMilli), within)
			}
			time.Sleep(50 * time.Millisecond) // polling interval
		}
	}

	// leader waits for one member to lead, other than not, and returns it.
	leader := func(not *haMember, within time.Duration) *haMember {
		t.Helper()
		deadline := time.Now().Add(within)
		for time.Now().Before(deadline) {
			for _, m := range members {
				if m != not && m.leaderGauge() == 1 {
					return m
				}
			}
			time.Sleep(50 * time.Millisecond) // polling interval
		}
		t.Fatalf("no member leads within %s", within)
		return nil
	}

	// A one-shot sync while a service leads stops at once, naming where the
	// leader runs; status reads the shared snapshot.
	first := leader(nil, 20*time.Second)
	succeededSince(time.Time{}, 30*time.Second)
	writes := e.plat.Writes()
	r := runBinary(t, "sync", "--config", members[0].config)
	host, _ := os.Hostname()
	if r.code != 1 || !strings.Contains(r.stderr, "already running on "+host+" (pid "+strconv.Itoa(first.svc.cmd.Process.Pid)+")") {
		t.Errorf("a one-shot sync while %s leads:\n%s", first.name, r)
	}
	if got := e.plat.Writes(); got != writes {
		t.Errorf("the locked-out sync wrote to the platform (%d → %d writes)", writes, got)
	}
	if r := runBinary(t, "status", "--config", members[1].config); r.code != 0 || !strings.Contains(r.stdout, "success") {
		t.Errorf("status of the shared snapshot:\n%s", r)
	}

	faults := []string{"kill", "stop", "cut"}
	const rounds = 30
	next := 3
	for round := range rounds {
		lead := leader(nil, 20*time.Second)
		// Change the directory: a new user, or one locked or unlocked.
		switch round % 3 {
		case 0:
			name := fmt.Sprintf("u%02d", next)
			next++
			dns[name] = e.addUser(name, false)
			want[name] = true
		default:
			names := slices.Sorted(func(yield func(string) bool) {
				for n := range want {
					if !yield(n) {
						return
					}
				}
			})
			name := names[(round*7)%len(names)]
			want[name] = !want[name]
			e.setLocked(dns[name], !want[name])
		}
		fault := faults[round%len(faults)]
		// The fault comes at a different moment of the leader's cycle each
		// round: before the run that sees the change, during it, after it.
		time.Sleep(time.Duration(round%4) * 250 * time.Millisecond)
		took := time.Now()
		switch fault {
		case "kill":
			lead.svc.cmd.Process.Kill() //nolint:errcheck // checked by the takeover
			<-lead.svc.exited
		case "stop":
			lead.svc.signal(syscall.SIGSTOP)
			lead.stopped = true
		case "cut":
			lead.proxy.SetDown(true)
		}
		next := leader(lead, 15*time.Second+ttl)
		if d := time.Since(took); d > 15*time.Second {
			t.Errorf("round %d (%s): %s led only %s after the fault", round, fault, next.name, d)
		}
		switch fault {
		case "kill":
			start(lead)
		case "stop":
			lead.svc.signal(syscall.SIGCONT)
			lead.stopped = false
		case "cut":
			lead.proxy.SetDown(false)
		}
		// The new leader syncs before the next fault.
		succeededSince(took, 30*time.Second)
	}

	// Let the last leader run after the last change, then check.
	changed := time.Now()
	leader(nil, 20*time.Second)
	succeededSince(changed, 30*time.Second)

	// Runs never overlapped: a run lasts from its start to its end, or, when
	// it never finished (its process died or lost the lease), to its last
	// journal entry.
	rows, err := conn.Query(ctx, `
		SELECT r.id, r.started_at, coalesce(r.finished_at, ''), r.outcome,
		       coalesce((SELECT max(j.at) FROM journal j WHERE j.run_id = r.id), '')
		FROM runs r ORDER BY r.started_at, r.id`)
	if err != nil {
		t.Fatal(err)
	}
	var runs []haRun
	parse := func(s string) time.Time {
		tm, err := time.Parse("2006-01-02T15:04:05.000000000Z", s)
		if err != nil {
			t.Fatalf("time %q: %v", s, err)
		}
		return tm
	}
	interrupted := 0
	for rows.Next() {
		var (
			r                        haRun
			started, finished, lastJ string
		)
		if err := rows.Scan(&r.id, &started, &finished, &r.outcome, &lastJ); err != nil {
			t.Fatal(err)
		}
		r.start, r.end = parse(started), parse(started)
		switch {
		case finished != "":
			r.end = parse(finished)
		case lastJ != "":
			r.end = parse(lastJ)
		}
		if finished == "" {
			interrupted++
		}
		runs = append(runs, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(runs) < rounds {
		t.Errorf("%d runs in %d rounds", len(runs), rounds)
	}
	for i := 1; i < len(runs); i++ {
		if prev, r := runs[i-1], runs[i]; r.start.Before(prev.end) {
			t.Errorf("run %d (%s, %s .. %s) started before run %d (%s, %s .. %s) ended",
				r.id, r.outcome, r.start.Format(time.StampMicro), r.end.Format(time.StampMicro),
				prev.id, prev.outcome, prev.start.Format(time.StampMicro), prev.end.Format(time.StampMicro))
		}
	}
	t.Logf("%d runs, %d of them never finished (killed, paused or cut off)", len(runs), interrupted)

	// The platform is the directory.
	got := map[string]bool{}
	for _, a := range e.plat.Accounts() {
		got[a.User.Username] = a.User.Active
	}
	for name, active := range want {
		if g, ok := got[name]; !ok && active || ok && g != active {
			t.Errorf("platform account %s: present %v active %v; want active %v", name, ok, g, active)
		}
	}
	if len(got) > len(want) {
		t.Errorf("platform has %d accounts, the directory %d users", len(got), len(want))
	}
}
