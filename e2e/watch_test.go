package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/proxytest"
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

// waitMail waits until the platform account of name has the address mail.
func (e *env) waitMail(name, what, mail string) time.Duration {
	e.t.Helper()
	return e.waitAccount(name, what, func(r fake.Resource, ok bool) bool { return ok && hasEmail(r, mail) })
}

// waitActive waits until the platform account of name exists and is active.
func (e *env) waitActive(name, what string) {
	e.t.Helper()
	e.waitAccount(name, what, func(r fake.Resource, ok bool) bool { return ok && r.Active })
}

// waitInactive waits until the platform account of name exists and is
// inactive (disabled or archived).
func (e *env) waitInactive(name, what string) {
	e.t.Helper()
	e.waitAccount(name, what, func(r fake.Resource, ok bool) bool { return ok && !r.Active })
}

// setMail replaces the mail of the directory entry dn.
func (e *env) setMail(dn, mail string) {
	e.t.Helper()
	e.ldap.Modify(e.t, dn, map[string][]string{"mail": {mail}})
}

// wantActiveArchived fails the test unless the platform holds exactly active
// active and archived archived accounts; when says at which point.
func (e *env) wantActiveArchived(active, archived int, when string) {
	e.t.Helper()
	if a, r := e.activeCount(); a != active || r != archived {
		e.t.Errorf("%d active, %d archived %s; want %d and %d", a, r, when, active, archived)
	}
}

// watchServiceExtra is the rest of the watch tests' config: a listener for
// the metrics and a schedule far beyond the test, so that changes come by
// events, not runs.
const watchServiceExtra = "listen: 127.0.0.1:0\nschedule: \"@every 1h\"\n"

// writeWatchConfig writes the env's config with watchKeys (such as
// "  watch: syncrepl\n") in its ldap section, plus watchServiceExtra.
func (e *env) writeWatchConfig(watchKeys string) {
	e.t.Helper()
	e.cfg.ldapAttributes = watchKeys
	e.cfg.extra = watchServiceExtra
	e.writeConfig()
}

// startWatching starts the service and waits for its start-up run, which
// is also the full read its new stream asks for, and for the stream to be up.
func (e *env) startWatching() *service {
	e.t.Helper()
	s := e.startService()
	s.waitMetric(`dirsync_runs_total{outcome="success"}`, 1)
	s.waitMetric(`dirsync_watch_connected`, 1)
	return s
}

// proxyLDAP starts a TCP proxy to the env's slapd and points the config
// file's ldap URL at it.
func (e *env) proxyLDAP() *proxytest.Proxy {
	e.t.Helper()
	p := proxytest.Start(e.t, strings.TrimPrefix(e.ldap.URL(), "ldap://"))
	e.editConfig(fmt.Sprintf("%q", e.ldap.URL()), fmt.Sprintf("%q", "ldap://"+p.Addr()))
	return p
}

// soleLineHas reports whether exactly one log line has message msg and its
// field key equals want; it returns the lines with msg for the failure message.
func (s *service) soleLineHas(msg, key string, want any) ([]map[string]any, bool) {
	s.t.Helper()
	got := s.lines(msg)
	return got, len(got) == 1 && got[0][key] == want
}

// wantRunsStarted fails the test unless exactly n runs started; why says
// which runs are expected.
func (s *service) wantRunsStarted(n int, why string) {
	s.t.Helper()
	if got := s.lines("run starting"); len(got) != n {
		s.t.Errorf("%d runs started, want %d (%s): %v", len(got), n, why, got)
	}
}

// waitDisconnected waits until the service reports no connected stream.
func (s *service) waitDisconnected(what string) {
	s.t.Helper()
	s.waitFor(what, func() bool {
		_, body := s.get("/metrics")
		return metric(body, "dirsync_watch_connected") == 0
	})
}

// waitReconnectAttempts waits for the first failed connection of a stream
// and two failed reconnects after it.
func (s *service) waitReconnectAttempts(what string) {
	s.t.Helper()
	s.waitFor(what, func() bool { return len(s.lines("watch disconnected; reconnecting with backoff")) >= 3 })
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
	e.writeWatchConfig("  watch: auto\n")
	// The start-up run, which is also the full read the new stream asks for
	// (it has no cookie yet), after which the cookie is kept.
	s := e.startWatching()
	s.waitMetric(`dirsync_watch_connected`, 1)
	if got, ok := s.soleLineHas("watch started", "mode", "syncrepl"); !ok {
		t.Fatalf("watch started lines %v: want one, mode syncrepl (auto on a server with syncprov)", got)
	}

	// A modify, a disable and a delete reach the platform within seconds,
	// with no scheduled run.
	e.setMail(alice, "alice.new@example.com")
	took := e.waitMail("alice", "alice's new mail", "alice.new@example.com")
	t.Logf("modify seen on the platform after %v", took)
	e.setLocked(bob, true)
	e.waitInactive("bob", "bob disabled")
	e.ldap.Delete(t, carol)
	e.waitInactive("carol", "carol archived")
	if !e.account("alice").Active {
		t.Errorf("alice is inactive")
	}
	body := s.waitMetric(`dirsync_watch_runs_total{outcome="success"}`, 1)
	if got := metric(body, `dirsync_runs_total{outcome="success"}`); got != 1 {
		t.Errorf("dirsync_runs_total{success} = %g, want 1: the changes must come by events, not runs", got)
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
	e.waitActive("dave", "dave, added while stopped")
	body = s.waitMetric(`dirsync_watch_runs_total{outcome="success"}`, 1)
	if got, ok := s.soleLineHas("watch started", "resumed_streams", float64(1)); !ok {
		t.Errorf("watch started lines %v: want resumed_streams 1", got)
	}
	if got := metric(body, `dirsync_watch_events_total{kind="resync"}`); got != 0 {
		t.Errorf("dirsync_watch_events_total{resync} = %g after resuming from a cookie, want 0", got)
	}
	s.wantRunsStarted(0, "none after resuming from a cookie")
	e.wantActiveArchived(2, 2, "at the end (alice, dave; bob disabled, carol gone)")
	s.stop()
}

func TestWatch_RefusedCookieFallsBackToAFullReadAndArchivesNobody(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", false)
	bob := e.addUser("bob", false)
	e.writeWatchConfig("  watch: syncrepl\n")
	s := e.startWatching()
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
	if got, ok := s.soleLineHas("run starting", "reason", "watch: full read"); !ok {
		t.Errorf("run starting lines %v: want one full read asked by the stream", got)
	}
	e.wantActiveArchived(2, 0, "after a refused cookie")
	// The stream goes on from a fresh cookie.
	e.setLocked(bob, true)
	e.waitInactive("bob", "bob disabled")
	s.stop()
	if v, _ := e.meta(key, nil); v == future {
		t.Errorf("the refused cookie is still kept")
	}
}

func TestWatch_ReconnectsWithBackoffWhenTheDirectoryGoesAway(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser("alice", false)
	e.addUser("bob", false)
	e.writeWatchConfig("  watch: syncrepl\n")
	// The binary reaches the directory through the proxy.
	p := e.proxyLDAP()
	s := e.startWatching()
	s.waitMetric(`dirsync_watch_connected`, 1)

	// The directory goes away for a while: the stream drops and retries,
	// and nobody is archived for it.
	p.SetDown(true)
	s.waitDisconnected("the stream to notice")
	s.waitReconnectAttempts("two failed reconnects")
	e.wantActiveArchived(2, 0, "while the directory is away")

	// It comes back: the stream reconnects and events flow again.
	p.SetDown(false)
	s.waitMetric(`dirsync_watch_connected`, 1)
	e.setMail(alice, "alice.back@example.com")
	e.waitMail("alice", "a change after the reconnect", "alice.back@example.com")
	e.wantActiveArchived(2, 0, "after the reconnect")
	s.stop()
}

func TestWatch_PollSyncsModifiesAndLeavesDeletesToTheSchedule(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser("alice", false)
	bob := e.addUser("bob", false)
	e.writeWatchConfig("  watch: poll\n  watch_poll_interval: 200ms\n")
	s := e.startWatching()

	e.setMail(alice, "alice.polled@example.com")
	e.waitMail("alice", "alice's new mail", "alice.polled@example.com")
	e.setLocked(bob, true)
	e.waitInactive("bob", "bob disabled")

	// A delete leaves nothing for a poll to find: bob's account waits for
	// the next scheduled run, and nobody else is touched meanwhile.
	carol := e.addUser("carol", false)
	e.waitActive("carol", "carol created")
	e.ldap.Delete(t, carol)
	// Polls after the delete: a later change arrives, the delete does not.
	e.setMail(alice, "alice.later@example.com")
	e.waitMail("alice", "a change after the delete", "alice.later@example.com")
	s.wantRunsStarted(1, "start-up, which is the stream's first full read")
	if r := e.account("carol"); !r.Active {
		t.Errorf("carol archived without a full read: a poll cannot see deletes")
	}
	s.stop()
}

func TestWatch_ResumesAfterSlapdIsKilledAndRestarted(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser("alice", false)
	e.addUser("bob", false)
	e.writeWatchConfig("  watch: syncrepl\n")
	s := e.startWatching()
	s.waitMetric(`dirsync_watch_connected`, 1)

	e.ldap.Stop() // kill -9
	s.waitDisconnected("the stream to notice")
	s.waitReconnectAttempts("reconnect attempts")
	e.ldap.Restart(t)
	s.waitMetric(`dirsync_watch_connected`, 1)
	e.setMail(alice, "alice.restarted@example.com")
	e.waitMail("alice", "a change after slapd's restart", "alice.restarted@example.com")
	e.wantActiveArchived(2, 0, "after slapd's restart")
	s.stop()
}

func TestWatch_AnUnverifiableDeleteArchivesNobodyUntilTheReadSucceeds(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", false)
	bob := e.addUser("bob", false)
	e.writeWatchConfig("  watch: syncrepl\n")
	// The binary reaches the directory through the proxy.
	p := e.proxyLDAP()
	s := e.startWatching()
	s.waitMetric(`dirsync_watch_connected`, 1)

	// The stream stays up, but the re-read cannot connect: the delete it
	// reports cannot be verified, so nobody is archived and the run is
	// retried.
	p.RefuseNew(true)
	e.ldap.Delete(t, bob)
	s.waitMetric(`dirsync_watch_runs_total{outcome="failed"}`, 2)
	s.waitLine("watch run failed; retrying")
	e.wantActiveArchived(2, 0, "while the delete cannot be verified")

	// The directory answers again: the retry verifies bob gone.
	p.RefuseNew(false)
	e.waitInactive("bob", "bob archived once verified")
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
	e.writeWatchConfig("  watch: syncrepl\n")
	s := e.startWatching()

	// The first change's run is slow on the platform; the five that come
	// meanwhile wait for it, then go together.
	e.plat.SetLatency(time.Second)
	e.setMail(dns[0], "u0.new@example.com")
	s.waitFor("the first event run to start", func() bool {
		_, body := s.get("/metrics")
		return metric(body, `dirsync_watch_events_total{kind="change"}`) >= 1
	})
	for i, dn := range dns[1:] {
		e.setMail(dn, fmt.Sprintf("u%d.new@example.com", i+1))
	}
	for i := range dns {
		name := fmt.Sprintf("u%d", i)
		e.waitMail(name, name+"'s new mail", name+".new@example.com")
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
	e.setMail(alice, "alice.reloaded@example.com")
	e.waitMail("alice", "a change after the reload", "alice.reloaded@example.com")

	e.cfg.ldapAttributes = ""
	e.writeConfig()
	s.signal(syscall.SIGHUP)
	s.waitMetric(`dirsync_config_reloads_total{result="applied"}`, 2)
	s.waitDisconnected("the stream to close")
	s.stop()
}

func TestWatch_ADeleteNamedByDNIsResolvedThroughTheSnapshot(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", false)
	bob := e.addUser("bob", false)
	e.writeWatchConfig("  watch: syncrepl\n")
	// An ID attribute other than entryUUID: a syncrepl delete names the
	// entry by DN only.
	e.editConfig("id_attribute: entryUUID", "id_attribute: uid")
	s := e.startWatching()
	e.ldap.Delete(t, bob)
	e.waitInactive("bob", "bob archived")
	if !e.account("alice").Active {
		t.Errorf("alice archived")
	}
	s.wantRunsStarted(1, "start-up, which is the stream's first full read: the delete must come as an event")
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
	e.writeWatchConfig("  watch: auto\n  watch_poll_interval: 200ms\n")
	// The start-up run, which is also the full read the poll stream asks for.
	s := e.startWatching()
	s.waitLine("watch: falling back")
	if got, ok := s.soleLineHas("watch started", "mode", "syncrepl"); !ok {
		t.Errorf("watch started lines %v: want one, mode syncrepl (the root DSE lists the sync control)", got)
	}
	if got, ok := s.soleLineHas("watch: falling back", "mode", "poll"); !ok {
		t.Errorf("falling back lines %v: want one, to mode poll", got)
	}
	// One warning, which says why.
	if why := fmt.Sprint(s.lines("watch: falling back")[0]["error"]); !strings.Contains(why, "does not offer content synchronization") || !strings.Contains(why, "polling instead") {
		t.Errorf("falling back because %q: want it to say syncrepl is not offered and that it polls instead", why)
	}
	if got := s.lines("watch disconnected; reconnecting with backoff"); len(got) != 0 {
		t.Errorf("disconnect warnings %v besides the fall back's", got)
	}
	s.waitMetric(`dirsync_watch_connected`, 1)

	e.setMail(alice, "alice.polled@example.com")
	took := e.waitMail("alice", "alice's new mail", "alice.polled@example.com")
	t.Logf("modify seen on the platform after %v", took)
	body := s.waitMetric(`dirsync_watch_runs_total{outcome="success"}`, 1)
	if got := metric(body, `dirsync_runs_total{outcome="success"}`); got != 1 {
		t.Errorf("dirsync_runs_total{success} = %g, want 1: the modify must come by an event, not a run", got)
	}
	if got := s.lines("watch: falling back"); len(got) != 1 {
		t.Errorf("%d falling back lines, want 1: the poll stream stays", len(got))
	}
	s.stop()

	// A restart resolves auto to syncrepl again and falls back again; the
	// poll stream resumes from its kept cookie: no full read, and a change
	// made while stopped arrives.
	e.setMail(alice, "alice.again@example.com")
	s = e.startService("--run-at-start=false")
	e.waitMail("alice", "alice's mail changed while stopped", "alice.again@example.com")
	body = s.waitMetric(`dirsync_watch_runs_total{outcome="success"}`, 1)
	s.waitLine("watch: falling back")
	if got := metric(body, `dirsync_watch_events_total{kind="resync"}`); got != 0 {
		t.Errorf("dirsync_watch_events_total{resync} = %g after the fallen-back stream restarted, want 0 (it resumes from its poll cookie)", got)
	}
	s.wantRunsStarted(0, "none after the restart")
	s.stop()
}

// With ldap.watch: auto against an OpenLDAP server without syncprov at all,
// auto picks poll from the root DSE.
func TestWatch_AutoPollsAServerWithoutSyncprov(t *testing.T) {
	e := newEnv(t, slapdtest.WithoutSyncprov())
	alice := e.addUser("alice", false)
	e.writeWatchConfig("  watch: auto\n  watch_poll_interval: 200ms\n")
	s := e.startWatching()
	if got, ok := s.soleLineHas("watch started", "mode", "poll"); !ok {
		t.Errorf("watch started lines %v: want one, mode poll (no syncprov)", got)
	}
	e.setMail(alice, "alice.polled@example.com")
	e.waitMail("alice", "alice's new mail", "alice.polled@example.com")
	if got := s.lines("watch: falling back"); len(got) != 0 {
		t.Errorf("falling back lines %v: auto chose poll from the start", got)
	}
	s.stop()
}

// newStaffEnv is newEnv with n users under ou=staff, loaded before slapd
// starts (staff-user-000000, ...), as the env's base DN, and the cn=Monitor
// statistics on.
func newStaffEnv(t *testing.T, n int, opts ...slapdtest.Option) *env {
	t.Helper()
	e := newEnv(t, append([]slapdtest.Option{slapdtest.WithLDIF(slapdtest.UsersLDIF("staff", n)), slapdtest.WithMonitor()}, opts...)...)
	e.ou = "ou=staff," + e.ldap.BaseDN()
	e.writeConfig()
	return e
}

// staff returns the username and DN of the i-th user of newStaffEnv.
func (e *env) staff(i int) (name, dn string) {
	name = fmt.Sprintf("staff-user-%06d", i)
	return name, "uid=" + name + "," + e.ou
}

// The start-up of `dirsync run` with a watch reads the directory once: the
// start-up run is the full read the new stream asks for, and the stream
// starts from the server's state without listing the subtree itself.
// slapd's own statistics count the entries it sent.
func TestWatch_StartUpReadsTheDirectoryOnce(t *testing.T) {
	const n = 300
	e := newStaffEnv(t, n, slapdtest.WithSyncprovSessionlog(1000))
	e.writeWatchConfig("  watch: auto\n")
	// n users read once; the rest is the root DSE, the contextCSN entry,
	// the changed user read again and the two statistics reads.
	e.wantStartUpReadsOnce(t, n, 20, "the stream's")
}

// wantStartUpReadsOnce starts the service on e's n staff users and its
// watch config, changes one user after the start-up run and checks that the
// change comes as an event run, the start-up run being the only full run, and
// that slapd sent at most extra entries beyond the n users read once until
// then; whose names the full read in the messages.
func (e *env) wantStartUpReadsOnce(t *testing.T, n, extra int, whose string) {
	t.Helper()
	before := e.ldap.EntriesSent(t)
	s := e.startService()
	s.waitMetric(`dirsync_runs_total{outcome="success"}`, 1)
	s.waitMetric(`dirsync_watch_connected`, 1)
	if a, _ := e.activeCount(); a != n {
		t.Fatalf("%d active accounts after the start-up run, want %d", a, n)
	}

	// A change after start-up comes as an event run: the start-up asked
	// for no further full read.
	name, dn := e.staff(5)
	e.setMail(dn, "moved@example.com")
	e.waitMail(name, "a change after start-up", "moved@example.com")
	body := s.waitMetric(`dirsync_watch_runs_total{outcome="success"}`, 1)
	s.wantRunsStarted(1, "the start-up run only: it is "+whose+" full read")
	if got := metric(body, `dirsync_runs_total{outcome="success"}`); got != 1 {
		t.Errorf("dirsync_runs_total{success} = %g, want 1", got)
	}
	sent := int(e.ldap.EntriesSent(t) - before)
	t.Logf("slapd sent %d entries for %d users from start-up to the first event run", sent, n)
	if sent < n || sent > n+extra {
		t.Errorf("slapd sent %d entries from start-up to the first event run, want %d to %d: the directory must be read once", sent, n, n+extra)
	}
	s.stop()
}

// An account under OpenLDAP's default size limit (500 entries per search;
// paged reads allowed) follows a directory of 600 users with ldap.watch:
// auto: syncrepl stays up and a change reaches the platform as an event.
func TestWatch_ASizeLimitedAccountStreamsChanges(t *testing.T) {
	const n = 600
	e := newStaffEnv(t, n, slapdtest.WithUnlimitedPagedReads())
	e.writeWatchConfig("  watch: auto\n")
	s := e.startWatching()
	if got, ok := s.soleLineHas("watch started", "mode", "syncrepl"); !ok {
		t.Fatalf("watch started lines %v: want one, mode syncrepl", got)
	}
	name, dn := e.staff(42)
	e.setMail(dn, "limited@example.com")
	e.waitMail(name, "a change under the size limit", "limited@example.com")
	body := s.waitMetric(`dirsync_watch_runs_total{outcome="success"}`, 1)
	if got := metric(body, `dirsync_runs_total{outcome="success"}`); got != 1 {
		t.Errorf("dirsync_runs_total{success} = %g, want 1: the change must come by an event", got)
	}
	for _, msg := range []string{"watch disconnected; reconnecting with backoff", "watch: falling back",
		"watch: the directory refuses the change stream; changes wait for the scheduled runs until the server or ldap.watch is changed (retrying with backoff)"} {
		if got := s.lines(msg); len(got) != 0 {
			t.Errorf("%q: %v; want the stream up throughout", msg, got)
		}
	}
	if got := metric(body, `dirsync_watch_refused`); got != 0 {
		t.Errorf("dirsync_watch_refused = %g, want 0", got)
	}
	s.stop()

	r := e.mustRun(0, "check")
	wantContains(t, "check", r.stdout, "✓ watch: ldap.watch auto resolves to syncrepl; the directory accepts the change stream",
		"bound as cn=reader,dc=example,dc=com (DN)")
}

// Where the server still cuts the stream short (the contextCSN is hidden
// from the account, so the refresh must list the 600 users) and
// ldap.watch: syncrepl forbids falling back, the refusal is visible: one
// error line however many retries, dirsync_watch_refused, `dirsync status`
// and `dirsync check`, each saying what to change on the server.
func TestWatch_AStreamTheDirectoryRefusesIsReportedOnceAndEverywhere(t *testing.T) {
	const n = 600
	e := newStaffEnv(t, n, slapdtest.WithUnlimitedPagedReads(), slapdtest.WithHiddenContextCSN())
	e.writeWatchConfig("  watch: syncrepl\n")
	s := e.startService()
	s.waitMetric(`dirsync_runs_total{outcome="success"}`, 1)
	body := s.waitMetric(`dirsync_watch_refusals_total`, 3)
	if got := metric(body, `dirsync_watch_refused`); got != 1 {
		t.Errorf("dirsync_watch_refused = %g, want 1", got)
	}
	if got := metric(body, `dirsync_watch_connected`); got != 0 {
		t.Errorf("dirsync_watch_connected = %g for a refused stream, want 0", got)
	}
	const fix = `limits dn.exact="cn=reader,dc=example,dc=com" size=unlimited`
	lines := s.lines("watch: the directory refuses the change stream; changes wait for the scheduled runs until the server or ldap.watch is changed (retrying with backoff)")
	if len(lines) != 1 || lines[0]["level"] != "error" || !strings.Contains(fmt.Sprint(lines[0]["error"]), fix) {
		t.Errorf("refusal lines %v: want one, at error level, saying to add %s", lines, fix)
	}

	var status string
	s.waitFor("dirsync status to show the refusal", func() bool {
		status = e.run("status").stdout
		return strings.Contains(status, "REFUSED")
	})
	wantContains(t, "status", status, "Change stream (ldap.watch) REFUSED by the directory", fix, "ldap.watch: poll")
	s.stop()

	r := e.mustRun(1, "check")
	wantContains(t, "check", r.stdout, "✗ watch: ldap sync "+e.ou, "size limit", fix, "fix: change the directory server as the error says, or set ldap.watch: poll")

	// With ldap.watch: auto the stream falls back to poll and is not
	// refused: the next start clears the record.
	e.writeWatchConfig("  watch: auto\n  watch_poll_interval: 200ms\n")
	s = e.startService("--run-at-start=false")
	s.waitLine("watch: falling back")
	s.waitFor("dirsync status to drop the refusal", func() bool {
		status = e.run("status").stdout
		return strings.Contains(status, "Snapshot ") && !strings.Contains(status, "REFUSED")
	})
	s.stop()
}

// An entry whose ID attribute is cleared is skipped (missing ID), as in a
// full read, and its account is found by its DN: the change event's run
// keeps it while the entry is enabled, and archives it once it is disabled.
func TestWatch_AnEntryWhoseIDIsClearedIsFoundByItsDN(t *testing.T) {
	e := newEnv(t)
	alice := e.addUser("alice", false)
	bob := e.addUser("bob", false)
	e.writeWatchConfig("  watch: syncrepl\n")
	// An ID attribute that can be cleared: a modify then names the entry by
	// DN only.
	e.editConfig("id_attribute: entryUUID", "id_attribute: roomNumber")
	e.ldap.Modify(t, alice, map[string][]string{"roomNumber": {"1001"}})
	e.ldap.Modify(t, bob, map[string][]string{"roomNumber": {"1002"}})
	s := e.startWatching()
	e.waitActive("alice", "alice created")

	e.ldap.Modify(t, alice, map[string][]string{"roomNumber": nil})
	s.waitMetric(`dirsync_watch_runs_total{outcome="success"}`, 1)
	if !e.account("alice").Active {
		t.Error("alice, still enabled in the directory, was archived by the event run")
	}
	e.setLocked(alice, true)
	e.waitInactive("alice", "alice, disabled, archived")
	if !e.account("bob").Active {
		t.Error("bob archived")
	}
	s.wantRunsStarted(1, "start-up, which is the stream's first full read: the changes must come as events")
	s.stop()
}

// While the directory refuses the configured stream, the service is not
// ready: /readyz answers 503 with the error, which says what to change. Once
// the watch works again (here ldap.watch: auto, reloaded, falls back to
// poll), it is ready again.
func TestWatch_AStreamTheDirectoryRefusesMakesTheServiceNotReadyUntilTheWatchWorks(t *testing.T) {
	const n = 600
	e := newStaffEnv(t, n, slapdtest.WithUnlimitedPagedReads(), slapdtest.WithHiddenContextCSN())
	e.writeWatchConfig("  watch: syncrepl\n")
	s := e.startService()
	s.waitMetric(`dirsync_runs_total{outcome="success"}`, 1)
	s.waitMetric(`dirsync_watch_refused`, 1)
	const fix = `limits dn.exact="cn=reader,dc=example,dc=com" size=unlimited`
	var code int
	var why string
	s.waitFor("/readyz to answer 503 for the refused stream", func() bool {
		code, why = s.get("/readyz")
		return code == http.StatusServiceUnavailable
	})
	wantContains(t, "/readyz", why, "not ready", "refuses the change stream", "ldap.watch: syncrepl", fix, "ldap.watch: poll")
	if code, _ := s.get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d, want 200: a refused stream is no reason to restart the process", code)
	}

	e.writeWatchConfig("  watch: auto\n  watch_poll_interval: 200ms\n")
	s.signal(syscall.SIGHUP)
	s.waitLine("watch: falling back")
	s.waitMetric(`dirsync_watch_connected`, 1)
	s.waitFor("/readyz to answer 200 once the watch polls", func() bool {
		code, why = s.get("/readyz")
		return code == http.StatusOK
	})
	if !strings.HasPrefix(why, "ok") {
		t.Errorf("/readyz = %d %q, want ok", code, why)
	}
	s.stop()
}

// newDatedStaffEnv is newStaffEnv with the users' modifyTimestamps a
// minute apart, the newest an hour ago, as in a directory whose users were
// changed over time rather than loaded at once.
func newDatedStaffEnv(t *testing.T, n int, opts ...slapdtest.Option) *env {
	t.Helper()
	from := time.Now().Add(-time.Hour - time.Duration(n)*time.Minute)
	ldif := slapdtest.DatedUsersLDIF("staff", n, func(i int) time.Time { return from.Add(time.Duration(i) * time.Minute) })
	e := newEnv(t, append([]slapdtest.Option{slapdtest.WithLDIF(ldif), slapdtest.WithMonitor()}, opts...)...)
	e.ou = "ou=staff," + e.ldap.BaseDN()
	e.writeConfig()
	return e
}

// In poll mode too the start-up reads the directory once: the first mark
// is taken from the server (the suffix's contextCSN or, where the account
// cannot read it, the newest modifyTimestamp in scope, found without
// listing the entries), before the start-up run reads the directory.
func TestWatch_PollStartUpReadsTheDirectoryOnce(t *testing.T) {
	for name, opts := range map[string][]slapdtest.Option{
		"no syncprov":                   {slapdtest.WithoutSyncprov()},
		"syncprov, contextCSN readable": nil,
		"syncprov, contextCSN hidden":   {slapdtest.WithHiddenContextCSN()},
	} {
		t.Run(name, func(t *testing.T) {
			const n = 300
			e := newDatedStaffEnv(t, n, opts...)
			e.writeWatchConfig("  watch: poll\n  watch_poll_interval: 200ms\n")
			// n users read once; the rest is the root DSE, the entries
			// that tell the mark, the user at the mark, the polls (each
			// sends the users changed at or after the mark's second),
			// the changed user read again and the statistics reads.
			e.wantStartUpReadsOnce(t, n, 80, "the poll's")
		})
	}
}
