package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/dirsync/dirsync/internal/slapdtest"
)

// The directory sizes of --million: the memory targets at scale.
const (
	millionN        = 1_000_000
	millionInitialN = 100_000
)

// millionReport is what --million measured.
type millionReport struct {
	rows   []millionRow
	loads  []string // "N users in D", per slapd loaded
	notes  []string // scenarios skipped, and why
	whole  time.Duration
	failed bool
}

// millionRow is one scenario with its target and whether it met it.
type millionRow struct {
	s      scenario
	ratio  string
	target string
	met    bool
}

// runMillion runs the --million scenarios, each with its memory target:
//
//  10. initial sync of millionInitialN users into an empty target/fake
//     without latency or limit (peak RSS ≤ 150 MB), once;
//  11. initial sync of millionN users, the same way (≤ 250 MB), once: it is
//     also the seed of 12 and 13;
//  12. no-change reconcile of millionN users, o.runs times (≤ 1.3× the
//     ldapsearch floor, ≤ 300 MB), checking that nothing is written;
//  13. `dirsync sync --full` of the same, o.runs times (≤ 500 MB): the
//     platform's listing and the drift check, with the platform in step,
//     checking that nothing is written.
//
// With --smoke the sizes are small; the targets are still printed.
func runMillion(o options, bin, work string, began time.Time) (*millionReport, error) {
	small, large := millionInitialN, millionN
	if o.smoke {
		small, large = 300, 2000
	}
	rep := &millionReport{}
	defer func() { rep.whole = time.Since(began) }()

	// 10: the initial sync of small.
	if err := func() error {
		srv, done := loadDirectory(rep, work, small, o.groups)
		defer done()
		p, err := startPlatform()
		if err != nil {
			return err
		}
		defer p.stop()
		dir, err := os.MkdirTemp(work, fmt.Sprintf("million-n%d-", small))
		if err != nil {
			return err
		}
		p.configure(0, 0)
		cfg := writeConfig(dir, "initial", srv, p.url, 100_000, o.concurrency)
		logf("N=%d: initial sync", small)
		r := runDirsync(bin, cfg)
		r = checkUsers(r, p, small)
		rep.add(millionRow{
			s:     scenario{name: fmt.Sprintf("10. initial sync, N=%d, no latency, no limit (1 run)", small), n: small, runs: []result{r}},
			ratio: perSecond(small, r.wall), target: "peak RSS ≤ 150 MB", met: r.maxRSS <= 150<<20,
		})
		return nil
	}(); err != nil {
		return rep, fmt.Errorf("directory of %d users: %w", small, err)
	}

	// 11–13 at large, on one directory and one platform.
	srv, done := loadDirectory(rep, work, large, o.groups)
	defer done()
	p, err := startPlatform()
	if err != nil {
		return rep, err
	}
	defer p.stop()
	dir, err := os.MkdirTemp(work, fmt.Sprintf("million-n%d-", large))
	if err != nil {
		return rep, err
	}
	p.configure(0, 0)
	cfg := writeConfig(dir, "steady", srv, p.url, 100_000, o.concurrency)
	logf("N=%d: initial sync (the seed of the no-change and --full runs)", large)
	seed := checkUsers(runDirsync(bin, cfg), p, large)
	rep.add(millionRow{
		s:     scenario{name: fmt.Sprintf("11. initial sync, N=%d, no latency, no limit (1 run; the seed of 12 and 13)", large), n: large, runs: []result{seed}},
		ratio: perSecond(large, seed.wall), target: "peak RSS ≤ 250 MB", met: seed.maxRSS <= 250<<20,
	})
	if seed.err != nil {
		rep.notes = append(rep.notes, "12 and 13 were not run: the seed failed")
		return rep, nil
	}

	floor := measureFloor(srv, o.runs)
	logf("N=%d: floor: ldapsearch %s", large, floor.Round(time.Millisecond))
	var res []result
	for range o.runs {
		res = append(res, noWrites(p, "a no-change reconcile", func() result { return runDirsync(bin, cfg) }))
	}
	steady := scenario{name: fmt.Sprintf("12. no-change reconcile, N=%d", large), n: large, runs: res, floor: floor}
	ratio := steady.wall().Seconds() / floor.Seconds()
	rep.add(millionRow{s: steady, ratio: fmt.Sprintf("%.2f×", ratio),
		target: "≤ 1.3× floor, peak RSS ≤ 300 MB", met: ratio <= 1.3 && steady.peakRSS() <= 300<<20})

	res = nil
	for range o.runs {
		res = append(res, noWrites(p, "sync --full of a platform in step", func() result {
			gets := p.current().Count(http.MethodGet)
			r := runDirsync(bin, cfg, "--full")
			if r.err == nil && p.current().Count(http.MethodGet) == gets {
				r.err = errors.New("sync --full did not list the platform")
			}
			return r
		}))
	}
	full := scenario{name: fmt.Sprintf("13. sync --full, N=%d, platform in step (listing and drift check)", large), n: large, runs: res}
	rep.add(millionRow{s: full, ratio: fmt.Sprintf("%.2f× the no-change run", full.wall().Seconds()/steady.wall().Seconds()),
		target: "peak RSS ≤ 500 MB", met: full.peakRSS() <= 500<<20})
	return rep, nil
}

// loadDirectory starts a slapd holding n users and m groups and records how
// long slapadd and the start took; done stops it.
func loadDirectory(rep *millionReport, work string, n, m int) (*slapdtest.Server, func()) {
	logf("N=%d: loading slapd (slapadd)", n)
	start := time.Now()
	t := newTB(work)
	srv := startDirectory(t, n, m)
	took := time.Since(start).Round(100 * time.Millisecond)
	logf("N=%d: slapd loaded in %s", n, took)
	rep.loads = append(rep.loads, fmt.Sprintf("%d users in %s", n, took))
	return srv, t.close
}

func (r *millionReport) add(row millionRow) {
	if row.s.failed() != nil {
		r.failed = true
	}
	r.rows = append(r.rows, row)
}

// checkUsers marks r failed unless the platform holds n users.
func checkUsers(r result, p *platform, n int) result {
	if got := len(p.current().Users()); r.err == nil && got != n {
		r.err = fmt.Errorf("the platform holds %d users after the initial sync, want %d", got, n)
	}
	return r
}

// noWrites runs run and marks its result failed if the platform was written to.
func noWrites(p *platform, what string, run func() result) result {
	before := p.current().Writes()
	r := run()
	if w := p.current().Writes() - before; r.err == nil && w != 0 {
		r.err = fmt.Errorf("%s wrote %d times to the platform", what, w)
	}
	return r
}

func perSecond(n int, d time.Duration) string {
	return fmt.Sprintf("%.0f users/s", float64(n)/d.Seconds())
}

// print writes the table, each target's verdict, the loads and the whole
// run's time. A missed target reads **no**; a failed run or check reads
// **error** (and the command exits 1).
func (r *millionReport) print(w io.Writer) {
	fmt.Fprintf(w, "\n| Scenario | Median wall | Peak RSS | Floor | Ratio / rate | Target | Met |\n")
	fmt.Fprintf(w, "|---|---|---|---|---|---|---|\n")
	for _, row := range r.rows {
		verdict := "yes"
		if !row.met {
			verdict = "**no**"
		}
		if err := row.s.failed(); err != nil {
			verdict = "**error**: " + err.Error()
		}
		floor := "–"
		if row.s.floor > 0 {
			floor = sec(row.s.floor)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", row.s.name, sec(row.s.wall()), mb(row.s.peakRSS()), floor, row.ratio, row.target, verdict)
	}
	for _, n := range r.notes {
		fmt.Fprintf(w, "\n%s.\n", n)
	}
	fmt.Fprintf(w, "\nslapd loaded (slapadd): %s. The whole run: %s.\n", strings.Join(r.loads, ", "), r.whole.Round(time.Second))
}
