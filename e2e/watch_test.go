package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	gosync "sync"
	"syscall"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/slapdtest"
	"github.com/dirsync/dirsync/ldapsource"
	"github.com/dirsync/dirsync/state"
	"github.com/dirsync/dirsync/target/fake"
)

// watchWithin is how long a change may take to reach the platform in these
// tests: far above the seconds it takes, far below the hourly schedule.
const watchWithin = 20 * time.Second

// waitAccount waits until the platform account of name satisfies cond.
func (e *env) waitAccount(name, what string, cond func(fake.Resource, bool) bool) time.Duration {
	e.t.Helper()
	start := time.Now()
	for {
		r, ok := e.plat.FindByUserName(name)
		if cond(r, ok) {
			return time.Since(start)
		}
		if time.Since(start) > watchWithin {
			e.t.Fatalf("%s: not seen on the platform within %v; account %+v (found %v)", what, watchWithin, r, ok)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

func hasEmail(r fake.Resource, mail string) bool {
	for _, m := range r.Emails {
		if m.Value == mail {
			return true
		}
	}
	return false
}

// streamKey returns the snapshot meta key of the env's syncrepl stream
// cookie, as the binary derives it from the config.
func (e *env) streamKey(url string) string {
	e.t.Helper()
	c := ldapsource.Default()
	c.URL = url
	c.AllowPlaintext = true
	c.BindDN = e.ldap.ReaderDN()
	c.BindPassword = e.ldap.ReaderPassword()
	c.BaseDN = e.ou
	c.UserFilter = e.cfg.userFilter
	src, err := ldapsource.New(c)
	if err != nil {
		e.t.Fatal(err)
	}
	return src.StreamKeys(ldapsource.WatchSyncrepl)[e.ou]
}

// meta reads (and, with set, replaces) a snapshot meta value while no
// dirsync runs.
func (e *env) meta(key string, set *string) (string, bool) {
	e.t.Helper()
	ctx := context.Background()
	db, err := state.Open(ctx, e.statePath())
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	v, ok, err := db.GetMeta(ctx, key)
	if err != nil {
		e.t.Fatal(err)
	}
	if set != nil {
		if err := db.SetMeta(ctx, key, *set); err != nil {
			e.t.Fatal(err)
		}
	}
	return v, ok
}

func (s *service) stop() {
	s.t.Helper()
	s.signal(syscall.SIGTERM)
	if code := s.waitExit(15 * time.Second); code != 0 {
		s.t.Fatalf("exit code %d after SIGTERM", code)
	}
}

func TestWatch_SyncreplSyncsChangesWithinSecondsAndResumesFromTheCookie(t *testing.T) {
	e := newEnv(t, slapdtest.WithSyncprovSessionlog(1000))
	alice := e.addUser("alice", false)
	bob := e.addUser("bob", false)
	carol := e.addUser("carol", false)
	e.cfg.ldapAttributes = "  watch: auto\n"
	e.cfg.extra = "listen: 127.0.0.1:0\nschedule: \"@every 1h\"\n"
	e.writeConfig()
	s := e.startService()

	// The start-up run, then the full read the new stream asks for (it has
	// no cookie yet), after which the cookie is kept.
	s.waitMetric(`dirsync_runs_total{outcome="success"}`, 2)
	s.waitMetric(`dirsync_watch_connected`, 1)
	if got := s.lines("watch started"); len(got) != 1 || got[0]["mode"] != "syncrepl" {
		t.Fatalf("watch started lines %v: want one, mode syncrepl (auto on a server with syncprov)", got)
	}

	// A modify, a disable and a delete reach the platform within seconds,
	// with no scheduled run.
	e.ldap.Modify(t, alice, map[string][]string{"mail": {"alice.new@example.com"}})
	took := e.waitAccount("alice", "alice's new mail", func(r fake.Resource, ok bool) bool { return ok && hasEmail(r, "alice.new@example.com") })
	t.Logf("modify seen on the platform after %v", took)
	e.setLocked(bob, true)
	e.waitAccount("bob", "bob disabled", func(r fake.Resource, ok bool) bool { return ok && !r.Active })
	e.ldap.Delete(t, carol)
	e.waitAccount("carol", "carol archived", func(r fake.Resource, ok bool) bool { return ok && !r.Active })
	if !e.account("alice").Active {
		t.Errorf("alice is inactive")
	}
	body := s.waitMetric(`dirsync_watch_runs_total{outcome="success"}`, 1)
	if got := metric(body, `dirsync_runs_total{outcome="success"}`); got != 2 {
		t.Errorf("dirsync_runs_total{success} = %g, want 2: the changes must come by events, not runs", got)
	}
	if got := metric(body, `dirsync_watch_events_total{kind="change"}`); got < 3 {
		t.Errorf("dirsync_watch_events_total{change} = %g, want at least 3", got)
	}
	s.waitLine("watch run finished")
	for _, l := range s.lines("watch run finished") {
		if l["mode"] != "watch" || l["outcome"] != "success" {
			t.Errorf("watch run line %v", l)
		}
	}
	s.stop()

	// The runs are journalled like any: `dirsync status` lists them.
	r := e.mustRun(0, "status")
	wantContains(t, "status after event runs", r.stdout, "watch")

	// The cookie is in the snapshot, under the config's key.
	key := e.streamKey(e.ldap.URL())
	if v, ok := e.meta(key, nil); !ok || v == "" {
		t.Fatalf("no cookie under %s in the snapshot", key)
	}

	// A change while stopped; a restart without a run at start resumes from
	// the cookie: no full read, and the change arrives.
	e.addUser("dave", false)
	s = e.startService("--run-at-start=false")
	e.waitAccount("dave", "dave, added while stopped", func(r fake.Resource, ok bool) bool { return ok && r.Active })
	body = s.waitMetric(`dirsync_watch_runs_total{outcome="success"}`, 1)
	if got := s.lines("watch started"); len(got) != 1 || got[0]["resumed_streams"] != float64(1) {
		t.Errorf("watch started lines %v: want resumed_streams 1", got)
	}
	if got := metric(body, `dirsync_watch_events_total{kind="resync"}`); got != 0 {
		t.Errorf("dirsync_watch_events_total{resync} = %g after resuming from a cookie, want 0", got)
	}
	if got := s.lines("run starting"); len(got) != 0 {
		t.Errorf("a run started after resuming from a cookie: %v", got)
	}
	if active, archived := e.activeCount(); active != 2 || archived != 2 {
		t.Errorf("%d active, %d archived; want 2 and 2 (alice, dave; bob disabled, carol gone)", active, archived)
	}
	s.stop()
}

func TestWatch_RefusedCookieFallsBackToAFullReadAndArchivesNobody(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", false)
	bob := e.addUser("bob", false)
	e.cfg.ldapAttributes = "  watch: syncrepl\n"
	e.cfg.extra = "listen: 127.0.0.1:0\nschedule: \"@every 1h\"\n"
	e.writeConfig()
	s := e.startService()
	s.waitMetric(`dirsync_runs_total{outcome="success"}`, 2)
	s.stop()

	// A cookie ahead of the server (as after restoring its database): it
	// refuses to resume from it.
	future := base64.StdEncoding.EncodeToString([]byte("rid=000,csn=20991231235959.999999Z#000000#000#000000"))
	key := e.streamKey(e.ldap.URL())
	if _, ok := e.meta(key, &future); !ok {
		t.Fatalf("no cookie under %s to replace", key)
	}
	s = e.startService("--run-at-start=false")
	s.waitMetric(`dirsync_watch_events_total{kind="resync"}`, 1)
	s.waitMetric(`dirsync_runs_total{outcome="success"}`, 1)
	if got := s.lines("run starting"); len(got) != 1 || got[0]["reason"] != "watch: full read" {
		t.Errorf("run starting lines %v: want one full read asked by the stream", got)
	}
	if active, archived := e.activeCount(); active != 2 || archived != 0 {
		t.Errorf("%d active, %d archived after a refused cookie; want 2 and 0", active, archived)
	}
	// The stream goes on from a fresh cookie.
	e.setLocked(bob, true)
	e.waitAccount("bob", "bob disabled", func(r fake.Resource, ok bool) bool { return ok && !r.Active })
	s.stop()
	if v, _ := e.meta(key, nil); v == future {
		t.Errorf("the refused cookie is still kept")
	}
}

// tcpProxy forwards connections to a target; it can cut them and refuse new
// ones, as a directory that goes away does.
type tcpProxy struct {
	ln     net.Listener
	target string
	mu     gosync.Mutex
	down   bool
	conns  []net.Conn
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target}
	t.Cleanup(func() {
		ln.Close()
		p.setDown(true)
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			down := p.down
			p.mu.Unlock()
			if down {
				c.Close()
				continue
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { io.Copy(u, c); u.Close() }() //nolint:errcheck // ends when either side closes
			go func() { io.Copy(c, u); c.Close() }() //nolint:errcheck // ends when either side closes
		}
	}()
	return p
}

func (p *tcpProxy) url() string { return "ldap://" + p.ln.Addr().String() }

// refuseNew refuses new connections (true), keeping those open, or accepts
// them again (false).
func (p *tcpProxy) refuseNew(refuse bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = refuse
}

// setDown cuts every connection and refuses new ones (true), or accepts
// them again (false).
func (p *tcpProxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

func TestWatch_ReconnectsWithBackoffWhenTheDirectoryGoesAway(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser("alice", false)
	e.addUser("bob", false)
	p := newTCPProxy(t, strings.TrimPrefix(e.ldap.URL(), "ldap://"))
	e.cfg.ldapAttributes = "  watch: syncrepl\n"
	e.cfg.extra = "listen: 127.0.0.1:0\nschedule: \"@every 1h\"\n"
	e.writeConfig()
	// The binary reaches the directory through the proxy.
	b, err := os.ReadFile(e.configPath())
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), fmt.Sprintf("%q", e.ldap.URL()), fmt.Sprintf("%q", p.url()), 1)
	if err := os.WriteFile(e.configPath(), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s := e.startService()
	s.waitMetric(`dirsync_runs_total{outcome="success"}`, 2)
	s.waitMetric(`dirsync_watch_connected`, 1)

	// The directory goes away for a while: the stream drops and retries,
	// and nobody is archived for it.
	p.setDown(true)
	s.waitFor("the stream to notice", func() bool {
		_, body := s.get("/metrics")
		return metric(body, "dirsync_watch_connected") == 0
	})
	s.waitFor("two failed reconnects", func() bool { return len(s.lines("watch disconnected; reconnecting with backoff")) >= 3 })
	if active, archived := e.activeCount(); active != 2 || archived != 0 {
		t.Errorf("%d active, %d archived while the directory is away; want 2 and 0", active, archived)
	}

	// It comes back: the stream reconnects and events flow again.
	p.setDown(false)
	s.waitMetric(`dirsync_watch_connected`, 1)
	e.ldap.Modify(t, alice, map[string][]string{"mail": {"alice.back@example.com"}})
	e.waitAccount("alice", "a change after the reconnect", func(r fake.Resource, ok bool) bool { return ok && hasEmail(r, "alice.back@example.com") })
	if active, archived := e.activeCount(); active != 2 || archived != 0 {
		t.Errorf("%d active, %d archived after the reconnect; want 2 and 0", active, archived)
	}
	s.stop()
}

func TestWatch_PollSyncsModifiesAndLeavesDeletesToTheSchedule(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser("alice", false)
	bob := e.addUser("bob", false)
	e.cfg.ldapAttributes = "  watch: poll\n  watch_poll_interval: 200ms\n"
	e.cfg.extra = "listen: 127.0.0.1:0\nschedule: \"@every 1h\"\n"
	e.writeConfig()
	s := e.startService()
	s.waitMetric(`dirsync_runs_total{outcome="success"}`, 2)

	e.ldap.Modify(t, alice, map[string][]string{"mail": {"alice.polled@example.com"}})
	e.waitAccount("alice", "alice's new mail", func(r fake.Resource, ok bool) bool { return ok && hasEmail(r, "alice.polled@example.com") })
	e.setLocked(bob, true)
	e.waitAccount("bob", "bob disabled", func(r fake.Resource, ok bool) bool { return ok && !r.Active })

	// A delete leaves nothing for a poll to find: bob's account waits for
	// the next scheduled run, and nobody else is touched meanwhile.
	carol := e.addUser("carol", false)
	e.waitAccount("carol", "carol created", func(r fake.Resource, ok bool) bool { return ok && r.Active })
	e.ldap.Delete(t, carol)
	// Polls after the delete: a later change arrives, the delete does not.
	e.ldap.Modify(t, alice, map[string][]string{"mail": {"alice.later@example.com"}})
	e.waitAccount("alice", "a change after the delete", func(r fake.Resource, ok bool) bool { return ok && hasEmail(r, "alice.later@example.com") })
	if got := s.lines("run starting"); len(got) != 2 {
		t.Errorf("%d runs started, want 2 (start-up and the first full read)", len(got))
	}
	if r := e.account("carol"); !r.Active {
		t.Errorf("carol archived without a full read: a poll cannot see deletes")
	}
	s.stop()
}

func TestWatch_ResumesAfterSlapdIsKilledAndRestarted(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser("alice", false)
	e.addUser("bob", false)
	e.cfg.ldapAttributes = "  watch: syncrepl\n"
	e.cfg.extra = "listen: 127.0.0.1:0\nschedule: \"@every 1h\"\n"
	e.writeConfig()
	s := e.startService()
	s.waitMetric(`dirsync_runs_total{outcome="success"}`, 2)
	s.waitMetric(`dirsync_watch_connected`, 1)

	e.ldap.Stop() // kill -9
	s.waitFor("the stream to notice", func() bool {
		_, body := s.get("/metrics")
		return metric(body, "dirsync_watch_connected") == 0
	})
	s.waitFor("reconnect attempts", func() bool { return len(s.lines("watch disconnected; reconnecting with backoff")) >= 3 })
	e.ldap.Restart(t)
	s.waitMetric(`dirsync_watch_connected`, 1)
	e.ldap.Modify(t, alice, map[string][]string{"mail": {"alice.restarted@example.com"}})
	e.waitAccount("alice", "a change after slapd's restart", func(r fake.Resource, ok bool) bool { return ok && hasEmail(r, "alice.restarted@example.com") })
	if active, archived := e.activeCount(); active != 2 || archived != 0 {
		t.Errorf("%d active, %d archived after slapd's restart; want 2 and 0", active, archived)
	}
	s.stop()
}

func TestWatch_AnUnverifiableDeleteArchivesNobodyUntilTheReadSucceeds(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", false)
	bob := e.addUser("bob", false)
	p := newTCPProxy(t, strings.TrimPrefix(e.ldap.URL(), "ldap://"))
	e.cfg.ldapAttributes = "  watch: syncrepl\n"
	e.cfg.extra = "listen: 127.0.0.1:0\nschedule: \"@every 1h\"\n"
	e.writeConfig()
	b, err := os.ReadFile(e.configPath())
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), fmt.Sprintf("%q", e.ldap.URL()), fmt.Sprintf("%q", p.url()), 1)
	if err := os.WriteFile(e.configPath(), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s := e.startService()
	s.waitMetric(`dirsync_runs_total{outcome="success"}`, 2)
	s.waitMetric(`dirsync_watch_connected`, 1)

	// The stream stays up, but the re-read cannot connect: the delete it
	// reports cannot be verified, so nobody is archived and the run is
	// retried.
	p.refuseNew(true)
	e.ldap.Delete(t, bob)
	s.waitMetric(`dirsync_watch_runs_total{outcome="failed"}`, 2)
	s.waitLine("watch run failed; retrying")
	if active, archived := e.activeCount(); active != 2 || archived != 0 {
		t.Errorf("%d active, %d archived while the delete cannot be verified; want 2 and 0", active, archived)
	}

	// The directory answers again: the retry verifies bob gone.
	p.refuseNew(false)
	e.waitAccount("bob", "bob archived once verified", func(r fake.Resource, ok bool) bool { return ok && !r.Active })
	if !e.account("alice").Active {
		t.Errorf("alice archived")
	}
	s.stop()
}

func TestWatch_EventsDuringARunAreHandledTogetherAfterIt(t *testing.T) {
	e := newEnv(t)
	var dns []string
	for _, name := range []string{"u0", "u1", "u2", "u3", "u4", "u5"} {
		dns = append(dns, e.addUser(name, false))
	}
	e.cfg.ldapAttributes = "  watch: syncrepl\n"
	e.cfg.extra = "listen: 127.0.0.1:0\nschedule: \"@every 1h\"\n"
	e.writeConfig()
	s := e.startService()
	s.waitMetric(`dirsync_runs_total{outcome="success"}`, 2)

	// The first change's run is slow on the platform; the five that come
	// meanwhile wait for it, then go together.
	e.plat.SetLatency(time.Second)
	e.ldap.Modify(t, dns[0], map[string][]string{"mail": {"u0.new@example.com"}})
	s.waitFor("the first event run to start", func() bool {
		_, body := s.get("/metrics")
		return metric(body, `dirsync_watch_events_total{kind="change"}`) >= 1
	})
	for i, dn := range dns[1:] {
		e.ldap.Modify(t, dn, map[string][]string{"mail": {fmt.Sprintf("u%d.new@example.com", i+1)}})
	}
	for i := range dns {
		name := fmt.Sprintf("u%d", i)
		e.waitAccount(name, name+"'s new mail", func(r fake.Resource, ok bool) bool { return ok && hasEmail(r, name+".new@example.com") })
	}
	// Every event is accounted for by a finished run (the last change is on
	// the platform a moment before its run ends).
	var runs []map[string]any
	s.waitFor("the runs to account for the 6 events", func() bool {
		runs = s.lines("watch run finished")
		n := 0.0
		for _, l := range runs {
			n += l["events"].(float64)
		}
		return n >= 6
	})
	if len(runs) < 2 || len(runs) > 3 {
		t.Errorf("%d event runs for 6 changes, 5 of them during the first run: want 2 (3 if the first run had not started)", len(runs))
	}
	e.plat.SetLatency(0)
	s.stop()
}

func TestWatch_ReloadTurnsTheWatchOnAndOff(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser("alice", false)
	e.cfg.extra = "listen: 127.0.0.1:0\nschedule: \"@every 1h\"\n"
	e.writeConfig()
	s := e.startService()
	s.waitMetric(`dirsync_runs_total{outcome="success"}`, 1)
	if got := s.lines("watch started"); len(got) != 0 {
		t.Fatalf("watch started with ldap.watch unset: %v", got)
	}

	e.cfg.ldapAttributes = "  watch: syncrepl\n"
	e.writeConfig()
	s.signal(syscall.SIGHUP)
	s.waitLine("watch started")
	s.waitMetric(`dirsync_runs_total{outcome="success"}`, 2) // the new stream's full read
	e.ldap.Modify(t, alice, map[string][]string{"mail": {"alice.reloaded@example.com"}})
	e.waitAccount("alice", "a change after the reload", func(r fake.Resource, ok bool) bool { return ok && hasEmail(r, "alice.reloaded@example.com") })

	e.cfg.ldapAttributes = ""
	e.writeConfig()
	s.signal(syscall.SIGHUP)
	s.waitMetric(`dirsync_config_reloads_total{result="applied"}`, 2)
	s.waitFor("the stream to close", func() bool {
		_, body := s.get("/metrics")
		return metric(body, "dirsync_watch_connected") == 0
	})
	s.stop()
}

func TestWatch_ADeleteNamedByDNIsResolvedThroughTheSnapshot(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", false)
	bob := e.addUser("bob", false)
	e.cfg.ldapAttributes = "  watch: syncrepl\n"
	e.cfg.extra = "listen: 127.0.0.1:0\nschedule: \"@every 1h\"\n"
	e.writeConfig()
	// An ID attribute other than entryUUID: a syncrepl delete names the
	// entry by DN only.
	b, err := os.ReadFile(e.configPath())
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "id_attribute: entryUUID", "id_attribute: uid", 1)
	if err := os.WriteFile(e.configPath(), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s := e.startService()
	s.waitMetric(`dirsync_runs_total{outcome="success"}`, 2)
	e.ldap.Delete(t, bob)
	e.waitAccount("bob", "bob archived", func(r fake.Resource, ok bool) bool { return ok && !r.Active })
	if !e.account("alice").Active {
		t.Errorf("alice archived")
	}
	if got := s.lines("run starting"); len(got) != 2 {
		t.Errorf("%d runs started, want 2: the delete must come as an event", len(got))
	}
	s.stop()
}

// With ldap.watch: auto against an OpenLDAP server whose root DSE offers
// content synchronization but whose users' database has no syncprov overlay,
// the stream is refused: dirsync logs why and that it falls back to poll, and
// a modify still reaches the platform with no scheduled run. After a restart
// the poll stream resumes from its kept cookie.
func TestWatch_AutoFallsBackToPollWhenTheDatabaseHasNoSyncprov(t *testing.T) {
	e := newEnv(t, slapdtest.WithSyncprovModuleOnly())
	alice := e.addUser("alice", false)
	e.addUser("bob", false)
	e.cfg.ldapAttributes = "  watch: auto\n  watch_poll_interval: 200ms\n"
	e.cfg.extra = "listen: 127.0.0.1:0\nschedule: \"@every 1h\"\n"
	e.writeConfig()
	s := e.startService()

	// The start-up run, then the full read the poll stream asks for.
	s.waitMetric(`dirsync_runs_total{outcome="success"}`, 2)
	s.waitLine("watch: falling back")
	if got := s.lines("watch started"); len(got) != 1 || got[0]["mode"] != "syncrepl" {
		t.Errorf("watch started lines %v: want one, mode syncrepl (the root DSE lists the sync control)", got)
	}
	if got := s.lines("watch: falling back"); len(got) != 1 || got[0]["mode"] != "poll" {
		t.Errorf("falling back lines %v: want one, to mode poll", got)
	}
	var why []string
	for _, l := range s.lines("watch disconnected; reconnecting with backoff") {
		why = append(why, fmt.Sprint(l["error"]))
	}
	if len(why) == 0 || !strings.Contains(why[0], "does not offer content synchronization") || !strings.Contains(why[0], "polling instead") {
		t.Errorf("disconnect reasons %q: want the first to say syncrepl is not offered and that it polls instead", why)
	}
	s.waitMetric(`dirsync_watch_connected`, 1)

	e.ldap.Modify(t, alice, map[string][]string{"mail": {"alice.polled@example.com"}})
	took := e.waitAccount("alice", "alice's new mail", func(r fake.Resource, ok bool) bool { return ok && hasEmail(r, "alice.polled@example.com") })
	t.Logf("modify seen on the platform after %v", took)
	body := s.waitMetric(`dirsync_watch_runs_total{outcome="success"}`, 1)
	if got := metric(body, `dirsync_runs_total{outcome="success"}`); got != 2 {
		t.Errorf("dirsync_runs_total{success} = %g, want 2: the modify must come by an event, not a run", got)
	}
	if got := s.lines("watch: falling back"); len(got) != 1 {
		t.Errorf("%d falling back lines, want 1: the poll stream stays", len(got))
	}
	s.stop()

	// A restart resolves auto to syncrepl again and falls back again; the
	// poll stream resumes from its kept cookie: no full read, and a change
	// made while stopped arrives.
	e.ldap.Modify(t, alice, map[string][]string{"mail": {"alice.again@example.com"}})
	s = e.startService("--run-at-start=false")
	e.waitAccount("alice", "alice's mail changed while stopped", func(r fake.Resource, ok bool) bool { return ok && hasEmail(r, "alice.again@example.com") })
	body = s.waitMetric(`dirsync_watch_runs_total{outcome="success"}`, 1)
	s.waitLine("watch: falling back")
	if got := metric(body, `dirsync_watch_events_total{kind="resync"}`); got != 0 {
		t.Errorf("dirsync_watch_events_total{resync} = %g after the fallen-back stream restarted, want 0 (it resumes from its poll cookie)", got)
	}
	if got := s.lines("run starting"); len(got) != 0 {
		t.Errorf("%d runs started after the restart, want none", len(got))
	}
	s.stop()
}

// With ldap.watch: auto against an OpenLDAP server without syncprov at all,
// auto picks poll from the root DSE.
func TestWatch_AutoPollsAServerWithoutSyncprov(t *testing.T) {
	e := newEnv(t, slapdtest.WithoutSyncprov())
	alice := e.addUser("alice", false)
	e.cfg.ldapAttributes = "  watch: auto\n  watch_poll_interval: 200ms\n"
	e.cfg.extra = "listen: 127.0.0.1:0\nschedule: \"@every 1h\"\n"
	e.writeConfig()
	s := e.startService()
	s.waitMetric(`dirsync_runs_total{outcome="success"}`, 2)
	if got := s.lines("watch started"); len(got) != 1 || got[0]["mode"] != "poll" {
		t.Errorf("watch started lines %v: want one, mode poll (no syncprov)", got)
	}
	e.ldap.Modify(t, alice, map[string][]string{"mail": {"alice.polled@example.com"}})
	e.waitAccount("alice", "alice's new mail", func(r fake.Resource, ok bool) bool { return ok && hasEmail(r, "alice.polled@example.com") })
	if got := s.lines("watch: falling back"); len(got) != 0 {
		t.Errorf("falling back lines %v: auto chose poll from the start", got)
	}
	s.stop()
}
