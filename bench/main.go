// Command bench measures dirsync at directory scale against its physical
// floor. It builds dirsync, starts a private slapd loaded offline (slapadd)
// with generated users and groups, serves target/fake on 127.0.0.1 with a
// latency and a server-side rate limit, and runs the scenarios of
// bench/RESULTS.md, each several times, printing the median wall time, the peak
// RSS of the dirsync process and the ratio to the floor.
//
//	go run ./bench            # full run (N=100,000; about 10 minutes on 2 cores)
//	go run ./bench --smoke    # small N, seconds: what CI runs
//	go run ./bench --million  # only the memory scenarios at 100,000 and 1,000,000 users
//	go run ./bench --million --smoke  # the same at tiny sizes, seconds: CI runs it too
//
// --million (million.go) is opt-in: an initial sync of 100,000 users and one
// of 1,000,000 into target/fake without latency or limit (once each; the
// second seeds the rest), then --runs no-change reconciles of 1,000,000
// against the ldapsearch floor and --runs `dirsync sync --full` runs (the
// platform's listing and drift check), each with its peak-RSS target. It
// checks that the platform holds every user after an initial sync and that
// the no-change and --full runs write nothing.
//
// A missed target reads **no** in the table and does not change the exit
// status; a dirsync run that fails, or a check that does not hold, reads
// **error** and the command exits 1.
//
// It needs slapd, slapadd and ldapsearch (scripts/install-test-deps.sh).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dirsync/dirsync/internal/slapdtest"
)

type options struct {
	targets     bool // scenario 9
	n           int
	groups      int
	scale       []int
	runs        int
	initialN    int
	latency     time.Duration
	rateLimit   int
	concurrency int
	churnShare  float64
	smoke       bool
	// Scenario 5: the throttled platform.
	throttledN   int
	throttleRate int
	// dirsync's target.rate_limit and target.concurrency in scenario 5.
	throttleClientRate  int
	throttleConcurrency int
	// onlyThrottled runs scenario 5 alone.
	onlyThrottled bool
	// Scenario 6: rate-limit headers. headerN users (0: skip), the
	// platform's limit, and dirsync's rate_limit and concurrency.
	headerN           int
	headerRate        int
	headerClientRate  int
	headerConcurrency int
	onlyHeaders       bool
	// groupPush runs scenario 7 (the group push) at N.
	groupPush bool
	// postgres runs scenario 8: the no-change reconcile of N with the
	// snapshot in PostgreSQL.
	postgres bool
	dirsync  string
	// million runs only the memory scenarios at a million users (million.go).
	million bool
}

func main() {
	var o options
	var scale string
	flag.IntVar(&o.n, "n", 100_000, "users in the directory for the no-change and churn scenarios")
	flag.IntVar(&o.groups, "groups", 200, "groups in the directory (each user is in up to 3)")
	flag.StringVar(&scale, "scale", "10000,100000,300000", "directory sizes of the scale curve (comma-separated; -n is always included)")
	flag.IntVar(&o.runs, "runs", 3, "runs of each scenario (the median is reported)")
	flag.IntVar(&o.initialN, "initial", 10_000, "users of the initial-sync scenario (0: skip it)")
	flag.DurationVar(&o.latency, "latency", 5*time.Millisecond, "platform latency per request in the initial-sync and churn scenarios")
	flag.IntVar(&o.rateLimit, "rate", 1000, "platform rate limit, requests per second (dirsync's target.rate_limit is set to it)")
	flag.IntVar(&o.concurrency, "concurrency", 16, "dirsync's target.concurrency")
	flag.Float64Var(&o.churnShare, "churn", 0.01, "share of the users changed in the churn scenario")
	flag.IntVar(&o.throttledN, "throttled", 2000, "users of the throttled-platform scenario (0: skip it)")
	flag.IntVar(&o.throttleRate, "throttle-rate", 200, "requests per second the throttled platform admits")
	flag.IntVar(&o.throttleClientRate, "throttle-client-rate", 2000, "dirsync's target.rate_limit in the throttled-platform scenario")
	flag.IntVar(&o.throttleConcurrency, "throttle-concurrency", 32, "dirsync's target.concurrency in the throttled-platform scenario")
	flag.BoolVar(&o.onlyThrottled, "only-throttled", false, "run scenario 5 (the throttled platform) alone")
	flag.IntVar(&o.headerN, "ratelimit-users", 600, "users of the rate-limit-headers scenario (0: skip it)")
	flag.IntVar(&o.headerRate, "ratelimit-rate", 20, "requests per second the rate-limit-headers platform admits")
	flag.IntVar(&o.headerClientRate, "ratelimit-client-rate", 100, "dirsync's target.rate_limit in the rate-limit-headers scenario")
	flag.IntVar(&o.headerConcurrency, "ratelimit-concurrency", 8, "dirsync's target.concurrency in the rate-limit-headers scenario")
	flag.BoolVar(&o.onlyHeaders, "only-ratelimit", false, "run scenario 6 (rate-limit headers) alone")
	flag.BoolVar(&o.groupPush, "group-push", true, "run scenario 7: push the directory's groups, then no-change runs with the group pass")
	flag.BoolVar(&o.postgres, "postgres", true, "run scenario 8: the no-change reconcile of -n with the snapshot in a private PostgreSQL (state.driver: postgres)")
	flag.StringVar(&o.dirsync, "dirsync", "", "a dirsync binary to measure instead of building ./cmd/dirsync")
	flag.BoolVar(&o.targets, "targets", true, "run scenario 9 (a second target fed by the same read) at -n")
	flag.BoolVar(&o.smoke, "smoke", false, "tiny sizes and one run: checks that the benchmark works, in seconds")
	flag.BoolVar(&o.million, "million", false, "run only the memory scenarios at scale: initial syncs of 100,000 and 1,000,000 users, then no-change and --full runs of 1,000,000 (--runs each); about 14 minutes on 2 cores; the fake platform holds a million users in this process (about 3 GB)")
	var goldapURL, goldapFilter, goldapBind string
	flag.StringVar(&goldapBind, "goldap-bind", "", "(internal) the bind DN of --goldap-read (password in BENCH_LDAP_PASSWORD)")
	flag.StringVar(&goldapURL, "goldap-read", "", "(internal) read the benchmark directory at this URL with go-ldap and exit")
	flag.StringVar(&goldapFilter, "goldap-filter", "", "(internal) the disabled filter of --goldap-read")
	flag.Parse()
	if goldapURL != "" {
		if err := goLDAPRead(goldapURL, goldapFilter, goldapBind); err != nil {
			fmt.Fprintf(os.Stderr, "bench: go-ldap read: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if *latencyChanges > 0 {
		if err := runLatency(o, *latencyChanges); err != nil {
			fmt.Fprintf(os.Stderr, "bench: change latency: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if o.smoke {
		o.n, o.groups, scale, o.runs, o.initialN = 2000, 20, "500,2000", 1, 300
		o.latency, o.rateLimit = time.Millisecond, 500
		// Scenario 5's flags, when given, win over its smoke sizes.
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["throttled"] {
			o.throttledN = 300
		}
		if !set["throttle-rate"] {
			o.throttleRate = 100
		}
		if !set["ratelimit-users"] {
			o.headerN = 100
		}
	}
	for _, f := range strings.Split(scale, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil || v <= 0 {
			fmt.Fprintf(os.Stderr, "bench: --scale: %q is not a positive number\n", f)
			os.Exit(2)
		}
		o.scale = append(o.scale, v)
	}
	if !slices.Contains(o.scale, o.n) {
		o.scale = append(o.scale, o.n)
	}
	if o.initialN > 0 && !slices.Contains(o.scale, o.initialN) {
		o.scale = append(o.scale, o.initialN)
	}
	if o.throttledN > 0 && !slices.Contains(o.scale, o.throttledN) {
		o.scale = append(o.scale, o.throttledN)
	}
	if o.headerN > 0 && !slices.Contains(o.scale, o.headerN) {
		o.scale = append(o.scale, o.headerN)
	}
	slices.Sort(o.scale)
	if o.onlyThrottled {
		if o.throttledN <= 0 {
			fmt.Fprintf(os.Stderr, "bench: --only-throttled needs --throttled > 0\n")
			os.Exit(2)
		}
		o.scale = []int{o.throttledN}
	}
	if o.onlyHeaders {
		if o.headerN <= 0 {
			fmt.Fprintf(os.Stderr, "bench: --only-ratelimit needs --ratelimit-users > 0\n")
			os.Exit(2)
		}
		o.scale = []int{o.headerN}
	}
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func run(o options) (err error) {
	began := time.Now()
	work, err := os.MkdirTemp("", "dirsync-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	t := newTB(work)
	defer t.close()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		logf("interrupted: stopping slapd")
		closeAll()
		os.RemoveAll(work)
		os.Exit(130)
	}()
	defer slapdFailure(&err)
	if _, err := os.Stat(timeBin); err != nil {
		logf("warning: %s is missing (apt-get install time): peak RSS will include the benchmark's own memory", timeBin)
		haveTime = false
	}
	if _, err := exec.LookPath("ldapsearch"); err != nil {
		return fmt.Errorf("ldapsearch is needed for the floor: %w (scripts/install-test-deps.sh installs ldap-utils)", err)
	}

	bin, err := dirsyncBinary(o, work)
	if err != nil {
		return err
	}

	if o.million {
		rep, err := runMillion(o, bin, work, began)
		rep.print(os.Stdout)
		if err != nil {
			return err
		}
		if rep.failed {
			return errors.New("a scenario failed (see the table)")
		}
		return nil
	}

	var rep report
	rep.opts = o
	for _, n := range o.scale {
		if err := runSize(t, o, bin, work, n, &rep); err != nil {
			return fmt.Errorf("directory of %d users: %w", n, err)
		}
	}
	rep.print(os.Stdout)
	if !rep.ok() {
		return errors.New("a scenario failed (see the table)")
	}
	return nil
}

// slapdFailure, deferred, turns the harness's failure to start slapd (a
// fatalError panic) into *err; any other panic goes on.
func slapdFailure(err *error) {
	if r := recover(); r != nil {
		f, ok := r.(fatalError)
		if !ok {
			panic(r)
		}
		*err = fmt.Errorf("start slapd: %s (scripts/install-test-deps.sh installs it)", f)
	}
}

// dirsyncBinary returns o.dirsync, or builds ./cmd/dirsync into work.
func dirsyncBinary(o options, work string) (string, error) {
	if o.dirsync != "" {
		return o.dirsync, nil
	}
	bin := filepath.Join(work, "dirsync")
	logf("building dirsync")
	build := exec.Command("go", "build", "-o", bin, "./cmd/dirsync")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("build dirsync (run from the repository root): %w", err)
	}
	return bin, nil
}

// runSize runs every scenario that uses a directory of n users.
func runSize(t *tb, o options, bin, work string, n int, rep *report) error {
	logf("N=%d: loading slapd (slapadd)", n)
	start := time.Now()
	dirT := newTB(work)
	defer dirT.close()
	srv := startDirectory(dirT, n, o.groups)
	logf("N=%d: slapd loaded in %s", n, time.Since(start).Round(time.Millisecond))

	p, err := startPlatform()
	if err != nil {
		return err
	}
	defer p.stop()
	dir, err := os.MkdirTemp(work, fmt.Sprintf("n%d-", n))
	if err != nil {
		return err
	}

	if n == o.initialN {
		// Scenario 2: initial sync into a platform with latency and a rate limit.
		var res []result
		var throttled int64
		for r := range o.runs {
			cfg := writeConfig(dir, fmt.Sprintf("initial-%d", r), srv, p.url, o.rateLimit, o.concurrency)
			p.reset()
			p.configure(o.latency, o.rateLimit)
			res = append(res, runDirsync(bin, cfg))
			throttled += p.throttled.Load()
			if got := len(p.current().Users()); got != n {
				res[len(res)-1].err = fmt.Errorf("the platform holds %d users after the initial sync, want %d", got, n)
			}
		}
		rep.initial = scenario{name: fmt.Sprintf("2. initial sync, %d users, %s latency, %d req/s limit", n, o.latency, o.rateLimit), n: n, runs: res}
		rep.initialThrottled = throttled
	}

	if n == o.throttledN {
		// Scenario 5: initial sync into a platform that answers 429 over its limit.
		if rep.throttled, err = runThrottled(o, bin, dir, srv, n); err != nil {
			return fmt.Errorf("throttled platform: %w", err)
		}
		if o.onlyThrottled {
			return nil
		}
	}

	if n == o.headerN {
		// Scenario 6: initial sync into platforms telling their limit in headers.
		if rep.headers, err = runHeaderLimits(o, bin, dir, srv, n); err != nil {
			return fmt.Errorf("rate-limit headers: %w", err)
		}
		if o.onlyHeaders {
			return nil
		}
	}

	// Seed: bring the snapshot in step, as fast as the platform allows.
	p.reset()
	p.configure(0, 0)
	cfg := writeConfig(dir, "steady", srv, p.url, 100_000, o.concurrency)
	logf("N=%d: seeding the platform and the snapshot", n)
	seed := runDirsync(bin, cfg)
	if seed.err != nil {
		return fmt.Errorf("seed sync: %w", seed.err)
	}
	logf("N=%d: seeded in %s", n, seed.wall.Round(time.Millisecond))

	// Scenario 1 and 4: no-change reconcile against the ldapsearch floor.
	floor := measureFloor(srv, o.runs)
	goFloor, err := measureGoLDAP(srv, o.runs)
	if err != nil {
		return fmt.Errorf("go-ldap read: %w", err)
	}
	logf("N=%d: floor: ldapsearch %s, go-ldap %s", n, floor.Round(time.Millisecond), goFloor.Round(time.Millisecond))
	var res []result
	for range o.runs {
		before := p.current().Writes()
		r := runDirsync(bin, cfg)
		if w := p.current().Writes() - before; r.err == nil && w != 0 {
			r.err = fmt.Errorf("a no-change reconcile wrote %d times to the platform", w)
		}
		res = append(res, r)
	}
	rep.steady = append(rep.steady, scenario{name: fmt.Sprintf("no-change reconcile, N=%d", n), n: n, runs: res, floor: floor, goFloor: goFloor})

	if n == o.n && o.targets {
		// Scenario 7: the same no-change reconcile with a second target fed
		// by the same directory read.
		two, err := runTwoTargets(o, bin, dir, srv, p, cfg)
		if err != nil {
			return fmt.Errorf("two targets: %w", err)
		}
		rep.twoTargets = two
		rep.oneTarget = rep.steady[len(rep.steady)-1]
	}

	if n == o.n {
		// Scenario 3: 1 % churn, with the initial-sync platform's latency and limit.
		p.configure(o.latency, o.rateLimit)
		churnCfg := writeConfig(dir, "steady", srv, p.url, o.rateLimit, o.concurrency)
		var res []result
		var changed int
		var floors []time.Duration
		for r := range o.runs {
			c, err := churn(srv, n, o.churnShare, r)
			if err != nil {
				return err
			}
			changed = c
			// The floor is a read of the directory as the churn left it:
			// slapd reads a just-modified database more slowly.
			floors = append(floors, measureFloor(srv, 1))
			res = append(res, runDirsync(bin, churnCfg))
		}
		slices.Sort(floors)
		churnFloor := floors[len(floors)/2]
		logf("N=%d: floor after churn: ldapsearch %s (before churn %s)", n, churnFloor.Round(time.Millisecond), floor.Round(time.Millisecond))
		rep.churn = scenario{name: fmt.Sprintf("3. %g %% churn of N=%d (%d changes)", o.churnShare*100, n, changed), n: n, runs: res, floor: churnFloor, changes: changed}
		if o.groupPush {
			if rep.groups, err = runGroups(o, bin, dir, srv, p, n); err != nil {
				return fmt.Errorf("group push: %w", err)
			}
		}
	}
	if n == o.n && o.postgres {
		if rep.postgres, rep.postgresPaired, err = runPostgres(o, bin, dir, srv, p, n, floor, cfg); err != nil {
			return fmt.Errorf("postgres state: %w", err)
		}
	}
	return nil
}

// result is one dirsync run.
type result struct {
	wall   time.Duration
	maxRSS int64 // bytes
	err    error
}

// runDirsync runs `dirsync sync` once, with extra arguments (--full) if
// any, and measures it. The peak RSS comes from /usr/bin/time: the rusage
// of a child of this process would count the benchmark's own memory, which
// the child shares until it execs.
func runDirsync(bin, cfg string, extra ...string) result {
	rssFile := cfg + ".rss"
	args := append([]string{"sync", "--config", cfg, "--output", "json"}, extra...)
	cmd := exec.Command(bin, args...)
	if haveTime {
		cmd = exec.Command(timeBin, append([]string{"-f", "%M", "-o", rssFile, bin}, args...)...)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	r := result{wall: time.Since(start)}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && !haveTime {
		r.maxRSS = int64(ru.Maxrss) * 1024 // kilobytes on Linux
	}
	if b, rerr := os.ReadFile(rssFile); rerr == nil && haveTime {
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if kb, perr := strconv.ParseInt(lines[len(lines)-1], 10, 64); perr == nil {
			r.maxRSS = kb * 1024
		}
	}
	if err != nil {
		r.err = fmt.Errorf("dirsync sync: %w: %s", err, lastLines(errOut.String()+out.String(), 5))
	}
	var rep struct {
		Duration time.Duration `json:"duration_ns"`
		Phases   struct {
			Fetch time.Duration `json:"fetch_ns"`
			Diff  time.Duration `json:"diff_ns"`
			Apply time.Duration `json:"apply_ns"`
		} `json:"phases"`
	}
	if json.Unmarshal(out.Bytes(), &rep) == nil {
		ph := rep.Phases
		logf("  dirsync: %s wall, %s peak RSS; run %s: fetch %s, snapshot+diff %s, apply %s", r.wall.Round(time.Millisecond), mb(r.maxRSS),
			rep.Duration.Round(time.Millisecond), ph.Fetch.Round(time.Millisecond), ph.Diff.Round(time.Millisecond), ph.Apply.Round(time.Millisecond))
	}
	return r
}

// measureFloor times ldapsearch paging through the same entries with the same
// attributes as dirsync's two reads (the disabled users, then every user), to
// /dev/null, and returns the median.
func measureFloor(s *slapdtest.Server, runs int) time.Duration {
	common := []string{"-LLL", "-x", "-H", s.URL(), "-D", s.ReaderDN(), "-w", s.ReaderPassword(),
		"-b", peopleOU, "-E", "pr=500/noprompt"}
	disabled := append(slices.Clone(common), "(&(objectClass=inetOrgPerson)"+s.LockedFilter()+")", "1.1")
	users := append(slices.Clone(common), "(objectClass=inetOrgPerson)")
	users = append(users, userAttrs...)
	var times []time.Duration
	for range runs {
		start := time.Now()
		for _, args := range [][]string{disabled, users} {
			cmd := exec.Command("ldapsearch", args...)
			cmd.Stdout = nil // /dev/null
			if out, err := cmd.CombinedOutput(); err != nil {
				logf("ldapsearch: %v: %s", err, lastLines(string(out), 3))
			}
		}
		times = append(times, time.Since(start))
	}
	return median(times)
}

// timeBin is GNU time, which reports a command's peak RSS.
const timeBin = "/usr/bin/time"

var haveTime = true

// userAttrs are the attributes dirsync's user search requests with the
// benchmark's configuration.
var userAttrs = []string{"entryUUID", "uid", "mail", "givenName", "sn", "displayName", "memberOf",
	"userAccountControl", "cn", "departmentNumber", "title"}

func writeConfig(dir, name string, s *slapdtest.Server, url string, rate, concurrency int) string {
	return writeConfigState(dir, name, s, url, rate, concurrency, fmt.Sprintf("  path: %s\n", filepath.Join(dir, name+".db")))
}

// writeConfigState is writeConfig with state, the state section's body.
func writeConfigState(dir, name string, s *slapdtest.Server, url string, rate, concurrency int, state string) string {
	cfg := fmt.Sprintf(`ldap:
  url: %s
  allow_plaintext: true
  bind_dn: %q
  bind_password: %q
  base_dn: %q
  user_filter: "(objectClass=inetOrgPerson)"
  page_size: 500
  id_attribute: entryUUID
  disabled_filter: %q
  attributes:
    extra:
      department: departmentNumber
      title: title
target:
  type: scim
  url: %s
  token: bench
  concurrency: %d
  rate_limit: %d
sync:
  max_archive: 10000000
  max_archive_percent: 100
state:
%slog:
  level: warn
  format: json
`, s.URL(), s.ReaderDN(), s.ReaderPassword(), peopleOU, s.LockedFilter(), url, concurrency, rate, state)
	path := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		panic(fatalError(err.Error()))
	}
	return path
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// runTwoTargets is scenario 9: the no-change reconcile of scenario 1 (its
// config cfg, its platform p, in step) with a second target, another
// platform, fed by the same directory read. The second target is seeded
// first; then o.runs no-change runs of both are measured.
func runTwoTargets(o options, bin, dir string, srv *slapdtest.Server, p *platform, cfg string) (scenario, error) {
	p2, err := startPlatform()
	if err != nil {
		return scenario{}, err
	}
	defer p2.stop()
	p2.configure(0, 0)
	one, err := os.ReadFile(cfg)
	if err != nil {
		return scenario{}, err
	}
	// The target: section becomes two targets: the one in step, named
	// default (its snapshot stays state.path), and a second.
	text := string(one)
	start, end := strings.Index(text, "target:\n"), strings.Index(text, "sync:\n")
	targets := fmt.Sprintf(`targets:
  - name: default
    type: scim
    url: %s
    token: bench
    concurrency: %d
    rate_limit: 100000
  - name: second
    type: scim
    url: %s
    token: bench
    concurrency: %d
    rate_limit: 100000
`, p.url, o.concurrency, p2.url, o.concurrency)
	two := filepath.Join(dir, "two-targets.yaml")
	if err := os.WriteFile(two, []byte(text[:start]+targets+text[end:]), 0o600); err != nil {
		return scenario{}, err
	}
	logf("N=%d: seeding a second target", o.n)
	if seed := runDirsync(bin, two); seed.err != nil {
		return scenario{}, fmt.Errorf("seed the second target: %w", seed.err)
	}
	if got := len(p2.current().Users()); got != o.n {
		return scenario{}, fmt.Errorf("the second platform holds %d users after its seed, want %d", got, o.n)
	}
	var res []result
	for range o.runs {
		before, before2 := p.current().Writes(), p2.current().Writes()
		r := runDirsync(bin, two)
		if w := p.current().Writes() - before + p2.current().Writes() - before2; r.err == nil && w != 0 {
			r.err = fmt.Errorf("a no-change reconcile of two targets wrote %d times to the platforms", w)
		}
		res = append(res, r)
	}
	return scenario{name: fmt.Sprintf("9. no-change reconcile, N=%d, two targets from one read", o.n), n: o.n, runs: res}, nil
}
