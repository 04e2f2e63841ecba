package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	gosync "sync"
	"syscall"
	"testing"
	"time"
)

// service is a `dirsync run` process started by a test.
type service struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string // host:port of /metrics, from the "service started" log line

	mu     gosync.Mutex
	stderr strings.Builder
	logs   []map[string]any

	exited  chan struct{}
	exitErr error
}

// startService starts `dirsync run` with the env's config (which should say
// listen: 127.0.0.1:0) and args, and waits until it serves HTTP.
func (e *env) startService(args ...string) *service {
	e.t.Helper()
	return e.startServiceEnv(nil, args...)
}

// startServiceEnv is startService with more environment variables.
func (e *env) startServiceEnv(environ []string, args ...string) *service {
	e.t.Helper()
	args = append([]string{"run", "--config", e.configPath(), "--log-level", "info", "--log-format", "json"}, args...)
	cmd := exec.Command(binary, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DIRSYNC_") && !strings.HasPrefix(kv, "NOTIFY_SOCKET=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, environ...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	s := &service{t: e.t, cmd: cmd, exited: make(chan struct{})}
	read := make(chan struct{})
	go func() {
		defer close(read)
		s.read(pipe)
	}()
	go func() {
		<-read // Wait must not close the pipe before it is read out
		s.exitErr = cmd.Wait()
		close(s.exited)
	}()
	e.t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			cmd.Process.Kill() //nolint:errcheck // already gone is fine
			<-s.exited
		}
		if e.t.Failed() {
			e.t.Logf("dirsync run stderr:\n%s", s.log())
		}
	})
	s.waitFor("the service to listen", func() bool {
		for _, l := range s.lines("service started") {
			if a, ok := l["listen"].(string); ok {
				s.addr = a
				return true
			}
		}
		return false
	})
	return s
}

func (s *service) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var m map[string]any
		_ = json.Unmarshal([]byte(line), &m) // a non-JSON line is kept as text only
		s.mu.Lock()
		s.stderr.WriteString(line + "\n")
		if m != nil {
			s.logs = append(s.logs, m)
		}
		s.mu.Unlock()
	}
}

func (s *service) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// lines returns the JSON log lines whose message is msg.
func (s *service) lines(msg string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range s.logs {
		if l["msg"] == msg {
			out = append(out, l)
		}
	}
	return out
}

// waitFor polls cond until it holds, failing the test after 30s or when the
// process exits first.
func (s *service) waitFor(what string, cond func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		select {
		case <-s.exited:
			if !cond() {
				s.t.Fatalf("dirsync run exited (%v) while waiting for %s", s.exitErr, what)
			}
			return
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}

// waitLine waits for a JSON log line whose message is msg.
func (s *service) waitLine(msg string) {
	s.t.Helper()
	s.waitFor(fmt.Sprintf("the log line %q", msg), func() bool { return len(s.lines(msg)) > 0 })
}

// get fetches path from the service's HTTP listener.
func (s *service) get(path string) (int, string) {
	s.t.Helper()
	resp, err := http.Get("http://" + s.addr + path)
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, string(b)
}

// metric returns the value of one series (name with its labels, as exposed)
// in a /metrics body, or -1 when it is absent.
func metric(body, series string) float64 {
	name, want, _ := strings.Cut(strings.TrimSuffix(series, "}"), "{")
	labels := map[string]string{}
	for _, kv := range strings.Split(want, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			labels[k] = strings.Trim(v, `"`)
		}
	}
	// The series named, summed over the labels not named (every target's,
	// for one that is not named).
	sum, found := 0.0, false
	for _, line := range strings.Split(body, "\n") {
		lname, rest, _ := strings.Cut(line, "{")
		if lname != name {
			if n, v, ok := strings.Cut(line, " "); !ok || n != name || len(labels) > 0 {
				continue
			} else if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				sum, found = sum+f, true
			}
			continue
		}
		have, v, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		got := map[string]string{}
		for _, kv := range strings.Split(have, ",") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				got[k] = strings.Trim(v, `"`)
			}
		}
		match := true
		for k, v := range labels {
			match = match && got[k] == v
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); match && err == nil {
			sum, found = sum+f, true
		}
	}
	if !found {
		return -1
	}
	return sum
}

// waitMetric waits until series is at least min.
func (s *service) waitMetric(series string, min float64) string {
	s.t.Helper()
	var body string
	s.waitFor(fmt.Sprintf("%s >= %g", series, min), func() bool {
		_, body = s.get("/metrics")
		return metric(body, series) >= min
	})
	return body
}

func (s *service) signal(sig os.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("signal %v: %v", sig, err)
	}
}

// waitExit waits up to limit for the process to exit and returns its code.
func (s *service) waitExit(limit time.Duration) int {
	s.t.Helper()
	select {
	case <-s.exited:
	case <-time.After(limit):
		s.t.Fatalf("dirsync run still running %v after the stop signal", limit)
	}
	var ee *exec.ExitError
	switch {
	case s.exitErr == nil:
		return 0
	case errors.As(s.exitErr, &ee) && ee.Exited():
		return ee.ExitCode()
	}
	s.t.Fatalf("dirsync run: %v", s.exitErr)
	return -1
}

func TestService_SyncsServesMetricsReloadsAndStops(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", false)
	e.addUser("bob", false)
	serviceConfig := "listen: 127.0.0.1:0\nschedule: \"@every 1h\"\n"
	e.cfg.extra = serviceConfig
	e.writeConfig()
	s := e.startService("--grace", "5s")

	// The run at start-up lands, and the metrics say so.
	body := s.waitMetric(`dirsync_runs_total{outcome="success"}`, 1)
	for series, want := range map[string]float64{
		`dirsync_changes_total{kind="create",outcome="applied"}`:  2,
		`dirsync_changes_total{kind="create",outcome="failed"}`:   0,
		`dirsync_users_in_scope`:                                  2,
		`dirsync_runs_total{outcome="failed"}`:                    0,
		`dirsync_run_phase_duration_seconds_count{phase="fetch"}`: 1,
		`dirsync_run_phase_duration_seconds_count{phase="diff"}`:  1,
		`dirsync_run_phase_duration_seconds_count{phase="apply"}`: 1,
		`dirsync_run_in_progress`:                                 0,
	} {
		if got := metric(body, series); got != want {
			t.Errorf("%s = %g, want %g", series, got, want)
		}
	}
	if got := metric(body, `dirsync_target_requests_total{status="201"}`); got < 2 {
		t.Errorf(`dirsync_target_requests_total{status="201"} = %g, want at least 2 (two creates)`, got)
	}
	if ts := metric(body, "dirsync_last_success_timestamp_seconds"); ts < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("dirsync_last_success_timestamp_seconds = %g, want about now", ts)
	}
	for _, secret := range []string{"alice", "bob", token, e.ldap.ReaderPassword()} {
		if strings.Contains(body, secret) {
			t.Errorf("/metrics shows %q", secret)
		}
	}
	if active, _ := e.activeCount(); active != 2 {
		t.Errorf("%d active platform accounts, want 2", active)
	}
	if code, _ := s.get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d", code)
	}
	if code, why := s.get("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz = %d: %s", code, why)
	}
	s.waitLine("run finished") // logged just after the metrics are set
	if got := s.lines("run finished"); len(got) != 1 || got[0]["outcome"] != "success" || got[0]["create"] != float64(2) {
		t.Errorf("run summary lines: %v", got)
	}

	// An invalid config is refused; the service keeps running on the old one.
	e.cfg.extra = serviceConfig + "schedlue: \"@every 1s\"\n"
	e.writeConfig()
	s.signal(syscall.SIGHUP)
	s.waitLine("config reload refused: the running config is kept")
	refused := s.lines("config reload refused: the running config is kept")
	if len(refused) != 1 || !strings.Contains(fmt.Sprint(refused[0]["error"]), "schedlue: unknown key") {
		t.Errorf("refusal log lines %v: want one naming the unknown key", refused)
	}
	if _, body := s.get("/metrics"); metric(body, `dirsync_config_reloads_total{result="refused"}`) != 1 {
		t.Errorf("the refused reload is not counted in dirsync_config_reloads_total")
	}
	if code, _ := s.get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz after a refused reload = %d", code)
	}
	if code, why := s.get("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz after a refused reload = %d: %s", code, why)
	}

	// A valid one is put in force: its schedule runs again within seconds and
	// picks up a user added since.
	e.addUser("carol", false)
	e.cfg.extra = "listen: 127.0.0.1:0\nschedule: \"@every 1s\"\n"
	e.writeConfig()
	s.signal(syscall.SIGHUP)
	s.waitMetric(`dirsync_config_reloads_total{result="applied"}`, 1)
	// The run's changes are counted as they land, the users in scope when it ends.
	s.waitMetric(`dirsync_users_in_scope`, 3)
	body = s.waitMetric(`dirsync_changes_total{kind="create",outcome="applied"}`, 3)
	if got := metric(body, `dirsync_changes_total{kind="create",outcome="applied"}`); got != 3 {
		t.Errorf("creates after the reload = %g, want 3", got)
	}
	e.account("carol")

	// SIGTERM: exit 0 well within the grace period (no run is slow here).
	s.signal(syscall.SIGTERM)
	if code := s.waitExit(15 * time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	if len(s.lines("stopped")) != 1 {
		t.Errorf("no \"stopped\" log line")
	}
}

func TestService_StopCancelsASlowRunAfterTheGraceAndSkipsOverlappingTicks(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", false)
	e.addUser("bob", false)
	e.cfg.extra = "listen: 127.0.0.1:0\nschedule: \"@every 1s\"\n"
	e.writeConfig()
	e.plat.SetLatency(time.Minute) // every platform request hangs
	s := e.startService("--grace", "500ms")

	// The run at start-up hangs on the platform; the ticks that come meanwhile
	// are skipped, not run alongside it.
	body := s.waitMetric("dirsync_runs_skipped_total", 1)
	if got := metric(body, "dirsync_run_in_progress"); got != 1 {
		t.Errorf("dirsync_run_in_progress = %g, want 1", got)
	}
	s.waitLine("run skipped: the previous run is still going")
	if got := len(s.lines("run starting")); got != 1 {
		t.Errorf("%d runs started, want 1 (the others must be skipped)", got)
	}

	start := time.Now()
	s.signal(syscall.SIGTERM)
	code := s.waitExit(15 * time.Second)
	if code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	// 500ms of grace, then the cancelled run must stop promptly.
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("stopping took %v with --grace 500ms", took)
	}
	if len(s.lines("grace period over: cancelling the run in flight")) != 1 {
		t.Errorf("no log line for the cancellation")
	}
	fin := s.lines("run finished")
	if len(fin) != 1 || fin[0]["outcome"] != "failed" || fin[0]["aborted"] != true {
		t.Errorf("run summary lines %v: want one failed, aborted run", fin)
	}
	// The aborted run is recorded, and a one-shot sync can take over the
	// snapshot: the service left no lock behind.
	e.plat.SetLatency(0)
	r := e.mustRun(0, "sync")
	wantContains(t, "sync after the service stopped", r.stdout, "alice", "bob")
}

func TestService_NotReadyWhenRunsFailLongerThanTheStaleness(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", false)
	e.cfg.extra = "listen: 127.0.0.1:0\nschedule: \"@every 1h\"\nreadiness_staleness: 1ms\n"
	e.writeConfig()
	e.ldap.Stop() // the directory is unreachable: the run fails
	s := e.startService()

	s.waitMetric(`dirsync_runs_total{outcome="failed"}`, 1)
	code, why := s.get("/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(why, "readiness_staleness") {
		t.Errorf("/readyz = %d %q, want 503 naming readiness_staleness", code, why)
	}
	if code, _ := s.get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d, want 200: a failed run is no reason to restart the process", code)
	}
	s.signal(syscall.SIGINT)
	if code := s.waitExit(15 * time.Second); code != 0 {
		t.Errorf("exit code %d after SIGINT, want 0", code)
	}
}

func TestService_NotifiesSystemdReadyWatchdogReloadingAndStopping(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", false)
	e.cfg.extra = "listen: 127.0.0.1:0\nschedule: \"@every 1h\"\n"
	e.writeConfig()
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	next := func(want string) {
		t.Helper()
		buf := make([]byte, 4096)
		for {
			conn.SetReadDeadline(time.Now().Add(30 * time.Second)) //nolint:errcheck // checked by Read
			n, err := conn.Read(buf)
			if err != nil {
				t.Fatalf("waiting for %q from dirsync run: %v", want, err)
			}
			msg := string(buf[:n])
			if msg != want && (strings.HasPrefix(msg, "STATUS=") || msg == "WATCHDOG=1") {
				continue // status and keep-alives, not state changes
			}
			if !strings.HasPrefix(msg, want) {
				t.Fatalf("notification %q, want %q", msg, want)
			}
			return
		}
	}
	// WatchdogSec=200ms: a keep-alive every 100ms.
	s := e.startServiceEnv([]string{"NOTIFY_SOCKET=" + sock, "WATCHDOG_USEC=200000"})
	next("READY=1")
	next("WATCHDOG=1")
	s.signal(syscall.SIGHUP)
	next("RELOADING=1")
	next("READY=1")
	s.signal(syscall.SIGTERM)
	next("STOPPING=1")
	if code := s.waitExit(15 * time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
}

func TestService_StopLetsTheRunInFlightFinishWithinTheGrace(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", false)
	e.addUser("bob", false)
	e.cfg.extra = "listen: 127.0.0.1:0\nschedule: \"@every 1h\"\n"
	e.writeConfig()
	e.plat.SetLatency(300 * time.Millisecond) // slow, not hung
	s := e.startService("--grace", "20s")
	s.waitMetric("dirsync_run_in_progress", 1)

	s.signal(syscall.SIGTERM)
	if code := s.waitExit(20 * time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	fin := s.lines("run finished")
	if len(fin) != 1 || fin[0]["outcome"] != "success" || fin[0]["create"] != float64(2) {
		t.Errorf("run summary lines %v: want the run in flight to finish with its 2 creates", fin)
	}
	if len(s.lines("grace period over: cancelling the run in flight")) != 0 {
		t.Errorf("the run was cancelled although it finished within the grace period")
	}
	if active, _ := e.activeCount(); active != 2 {
		t.Errorf("%d active platform accounts, want 2", active)
	}
}
