package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	gosync "sync"
	"time"

	"github.com/dirsync/dirsync/internal/slapdtest"
)

// latencyChanges, when positive, runs the change-latency scenario alone:
// that many ldapmodify changes against a `dirsync run` following the
// directory with ldap.watch: syncrepl.
var latencyChanges = flag.Int("latency-changes", 0, "run only the change-latency scenario (ldap.watch) with this many changes on a directory of -n users")

// latencyIdle is how long the idle CPU of `dirsync run` is measured.
const latencyIdle = 20 * time.Second

// latencyTimeout bounds the wait for one change to reach the platform.
const latencyTimeout = 60 * time.Second

// runLatency measures, for n users, how long a change made with ldapmodify
// takes to be visible on the platform while `dirsync run` follows the
// directory (syncrepl), and the service's CPU use while nothing changes.
func runLatency(o options, changes int) (err error) {
	n := o.n
	if o.smoke {
		n = min(n, 2000)
	}
	work, err := os.MkdirTemp("", "dirsync-bench-latency-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	t := newTB(work)
	defer t.close()
	defer slapdFailure(&err)
	if _, err := exec.LookPath("ldapmodify"); err != nil {
		return fmt.Errorf("ldapmodify is needed: %w (scripts/install-test-deps.sh installs ldap-utils)", err)
	}
	bin, err := dirsyncBinary(o, work)
	if err != nil {
		return err
	}

	logf("latency: loading slapd with %d users (syncprov with a session log)", n)
	srv := startDirectory(t, n, o.groups, slapdtest.WithSyncprovSessionlog(10000))
	p, err := startPlatform()
	if err != nil {
		return err
	}
	defer p.stop()
	p.configure(0, 0)

	cfg := writeConfig(work, "latency", srv, p.url, 100_000, o.concurrency)
	logf("latency: seeding the platform and the snapshot")
	if seed := runDirsync(bin, cfg); seed.err != nil {
		return fmt.Errorf("seed sync: %w", seed.err)
	}
	if err := watchConfig(cfg); err != nil {
		return err
	}

	svc, err := startRun(bin, cfg)
	if err != nil {
		return err
	}
	defer svc.kill()
	// The stream starts without a cookie, so it asks for one full read:
	// measure once it is done.
	logf("latency: waiting for the change stream and its first full read")
	if err := svc.waitLine("run finished", 10*time.Minute); err != nil {
		return err
	}

	lat := make([]time.Duration, 0, changes)
	writes := make([]time.Duration, 0, changes)
	cpuStart := svc.cpu()
	for i := range changes {
		uid := userUID((i*7919 + 13) % n)
		title := fmt.Sprintf("Latency %d", i)
		ldif := fmt.Sprintf("dn: uid=%s,%s\nchangetype: modify\nreplace: title\ntitle: %s\n", uid, peopleOU, title)
		start := time.Now()
		cmd := exec.Command("ldapmodify", "-x", "-H", srv.URL(), "-D", srv.AdminDN(), "-w", srv.AdminPassword())
		cmd.Stdin = strings.NewReader(ldif)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("ldapmodify %s: %w: %s", uid, err, out)
		}
		writes = append(writes, time.Since(start))
		for {
			if r, ok := p.current().FindByUserName(uid); ok && r.Title == title {
				break
			}
			if time.Since(start) > latencyTimeout {
				return fmt.Errorf("change %d (%s) not on the platform after %s", i, uid, latencyTimeout)
			}
			time.Sleep(time.Millisecond) // polling interval
		}
		lat = append(lat, time.Since(start))
	}
	busyCPU := svc.cpu() - cpuStart

	logf("latency: measuring idle CPU for %s", latencyIdle)
	idle0 := svc.cpu()
	time.Sleep(latencyIdle) // the measurement window itself
	idleCPU := svc.cpu() - idle0

	slices.Sort(lat)
	slices.Sort(writes)
	pct := func(ds []time.Duration, p float64) time.Duration {
		return ds[min(len(ds)-1, int(float64(len(ds))*p))]
	}
	fmt.Printf("\nChange latency, ldap.watch: syncrepl, N=%d users, %d changes (ldapmodify of title → visible on target/fake)\n\n", n, changes)
	fmt.Printf("| measure | value |\n| --- | --- |\n")
	fmt.Printf("| median | %s |\n| p90 | %s |\n| p99 | %s |\n| max | %s |\n", ms(pct(lat, 0.5)), ms(pct(lat, 0.9)), ms(pct(lat, 0.99)), ms(lat[len(lat)-1]))
	fmt.Printf("| ldapmodify itself (median, included above) | %s |\n", ms(pct(writes, 0.5)))
	fmt.Printf("| dirsync CPU during the changes | %s (%s per change) |\n", ms(busyCPU), ms(busyCPU/time.Duration(changes)))
	fmt.Printf("| dirsync CPU while idle | %s over %s (%.2f %% of one core) |\n", ms(idleCPU), latencyIdle, 100*idleCPU.Seconds()/latencyIdle.Seconds())
	fmt.Printf("| watch runs / events | %d / %d |\n", svc.count("watch run finished"), svc.sumField("watch run finished", "events"))
	if runs, all := svc.durations("watch run finished", "duration"), svc.durations("watch run finished", "latency"); len(runs) > 0 && len(all) > 0 {
		fmt.Printf("| event run, median: whole (wire, re-read, RunChanged) / RunChanged alone | %s / %s |\n", ms(pct(all, 0.5)), ms(pct(runs, 0.5)))
	}
	if med := pct(lat, 0.5); med > 5*time.Second {
		return fmt.Errorf("median latency %s is over the 5 s target", med)
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// watchConfig turns a benchmark config into a service config following the
// directory: ldap.watch: syncrepl, an hourly schedule, logs at info.
func watchConfig(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := strings.Replace(string(b), "  id_attribute: entryUUID\n", "  id_attribute: entryUUID\n  watch: syncrepl\n", 1)
	s = strings.Replace(s, "  level: warn\n", "  level: info\n", 1)
	s += "listen: 127.0.0.1:0\nschedule: \"@every 24h\"\n"
	return os.WriteFile(path, []byte(s), 0o600)
}

// runProc is a `dirsync run` started by the benchmark.
type runProc struct {
	cmd  *exec.Cmd
	mu   gosync.Mutex
	logs []map[string]any
	done chan struct{}
}

func startRun(bin, cfg string) (*runProc, error) {
	cmd := exec.Command(bin, "run", "--config", cfg, "--run-at-start=false", "--log-format", "json")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &runProc{cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.read(stderr)
	}()
	return r, nil
}

func (r *runProc) read(rd io.Reader) {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			r.mu.Lock()
			r.logs = append(r.logs, m)
			r.mu.Unlock()
		}
	}
}

func (r *runProc) count(msg string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, l := range r.logs {
		if l["msg"] == msg {
			n++
		}
	}
	return n
}

func (r *runProc) sumField(msg, field string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, l := range r.logs {
		if f, ok := l[field].(float64); ok && l["msg"] == msg {
			n += int(f)
		}
	}
	return n
}

// durations returns the sorted durations in field of the log lines msg.
func (r *runProc) durations(msg, field string) []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []time.Duration
	for _, l := range r.logs {
		if v, ok := l[field].(string); ok && l["msg"] == msg {
			if d, err := time.ParseDuration(v); err == nil {
				out = append(out, d)
			}
		}
	}
	slices.Sort(out)
	return out
}

func (r *runProc) waitLine(msg string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for r.count(msg) == 0 {
		select {
		case <-r.done:
			return fmt.Errorf("dirsync run exited before logging %q", msg)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dirsync run did not log %q within %s", msg, limit)
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
	return nil
}

// cpu returns the process's user and system CPU time so far, from
// /proc/<pid>/stat (in clock ticks of 10ms).
func (r *runProc) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", r.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces) start after ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b)[i+1:])
	if len(f) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

func (r *runProc) kill() {
	r.cmd.Process.Kill() //nolint:errcheck // already gone is fine
	<-r.done
	r.cmd.Wait() //nolint:errcheck // killed
}
