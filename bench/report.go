package main

import (
	"fmt"
	"io"
	"time"
)

// scenario is one scenario's runs.
type scenario struct {
	name    string
	n       int
	runs    []result
	floor   time.Duration // 0: none
	goFloor time.Duration // the same read with go-ldap, discarding entries
	changes int           // churn: changes pushed
}

func (s scenario) failed() error {
	for _, r := range s.runs {
		if r.err != nil {
			return r.err
		}
	}
	return nil
}

func (s scenario) wall() time.Duration {
	ds := make([]time.Duration, len(s.runs))
	for i, r := range s.runs {
		ds[i] = r.wall
	}
	return median(ds)
}

func (s scenario) peakRSS() int64 {
	var m int64
	for _, r := range s.runs {
		m = max(m, r.maxRSS)
	}
	return m
}

type report struct {
	opts             options
	steady           []scenario
	initial          scenario
	initialThrottled int64
	churn            scenario
	throttled        []throttledResult
	headers          [][]headerResult // scenario 6, per style
	groups           *groupsResult    // scenario 7 (groups.go)
	postgres         scenario         // scenario 8
	postgresPaired   scenario         // scenario 1's SQLite runs paired with scenario 8's
	oneTarget        scenario         // scenario 1, for scenario 9
	twoTargets       scenario         // scenario 9
	failed           bool
}

func (r *report) ok() bool { return !r.failed }

func mb(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }

func sec(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// scaleCurveStart is the smallest directory of the scale curve
// (10k, 100k, 300k): smaller ones are read for other scenarios and reported
// without a target.
const scaleCurveStart = 10_000

// print writes the results as a Markdown table with each target's verdict.
func (r *report) print(w io.Writer) {
	o := r.opts
	fmt.Fprintf(w, "\n| Scenario | Median wall | Peak RSS | Floor | Ratio / rate | Target | Met |\n")
	fmt.Fprintf(w, "|---|---|---|---|---|---|---|\n")
	defer func() {
		fmt.Fprintf(w, "\nThe same reads with go-ldap (the client library dirsync uses), discarding every entry:\n\n")
		fmt.Fprintf(w, "| N | ldapsearch | go-ldap | go-ldap ÷ ldapsearch | dirsync ÷ go-ldap |\n|---|---|---|---|---|\n")
		for _, s := range r.steady {
			fmt.Fprintf(w, "| %d | %s | %s | %.2f× | %.2f× |\n", s.n, sec(s.floor), sec(s.goFloor),
				s.goFloor.Seconds()/s.floor.Seconds(), s.wall().Seconds()/s.goFloor.Seconds())
		}
	}()
	row := func(s scenario, ratio, target string, met bool) {
		verdict := "yes"
		switch {
		case target == "":
			target, verdict = "– (below the scale curve's 10k: start-up dominates)", "–"
		case !met:
			verdict = "**no**"
		}
		if err := s.failed(); err != nil {
			verdict = "**error**: " + err.Error()
			r.failed = true
		}
		floor := "–"
		if s.floor > 0 {
			floor = sec(s.floor)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", s.name, sec(s.wall()), mb(s.peakRSS()), floor, ratio, target, verdict)
	}
	for _, s := range r.steady {
		ratio := s.wall().Seconds() / s.floor.Seconds()
		target := "≤ 1.5× floor"
		met := ratio <= 1.5
		if s.n == o.n && !o.smoke {
			target += ", RSS ≤ 150 MB"
			met = met && s.peakRSS() <= 150<<20
		}
		name := "4. " + s.name
		if s.n == o.n {
			name = "1. " + s.name
		}
		if s.n < scaleCurveStart && s.n != o.n && !o.smoke {
			target = "" // a size the benchmark reads for another scenario
		}
		s.name = name
		row(s, fmt.Sprintf("%.2f×", ratio), target, met)
	}
	var achieved float64
	if len(r.initial.runs) > 0 {
		s := r.initial
		achieved = float64(s.n) / s.wall().Seconds()
		pct := 100 * achieved / float64(o.rateLimit)
		row(s, fmt.Sprintf("%.0f req/s (%.0f %%; %d throttled)", achieved, pct, r.initialThrottled),
			"≥ 90 % of the limit", pct >= 90)
	}
	if len(r.churn.runs) > 0 && achieved > 0 {
		s := r.churn
		budget := s.floor + time.Duration(float64(s.changes)/achieved*float64(time.Second))
		row(s, fmt.Sprintf("%.2f× budget (%s)", s.wall().Seconds()/budget.Seconds(), sec(budget)),
			"≤ floor + changes ÷ scenario 2's rate", s.wall() <= budget)
	}
	if len(r.twoTargets.runs) > 0 {
		s := r.twoTargets
		ratio := s.wall().Seconds() / r.oneTarget.wall().Seconds()
		row(s, fmt.Sprintf("%.2f× one target (%s)", ratio, sec(r.oneTarget.wall())), "≤ 1.15× one target", ratio <= 1.15)
	}
	r.printThrottled(w)
	r.printHeaderLimits(w)
	r.printGroups(w)
	if len(r.postgres.runs) > 0 {
		// Against the same no-change reconcile with the SQLite snapshot,
		// run in turn with it.
		sq := r.postgresPaired
		if err := sq.failed(); err != nil {
			r.postgres.runs = append(r.postgres.runs, result{err: fmt.Errorf("paired SQLite run: %w", err)})
		}
		row(r.postgres, fmt.Sprintf("%.2f× the SQLite state's %s (paired runs; RSS %s)", r.postgres.wall().Seconds()/sq.wall().Seconds(), sec(sq.wall()), mb(sq.peakRSS())),
			"– (recorded)", true)
	}
	if len(r.steady) > 1 {
		first, last := r.steady[0], r.steady[len(r.steady)-1]
		perFirst := first.wall().Seconds() / float64(first.n) * 1e6
		perLast := last.wall().Seconds() / float64(last.n) * 1e6
		fmt.Fprintf(w, "\nScale: %.1f µs/user at N=%d, %.1f µs/user at N=%d (linear: equal or falling); peak RSS %s → %s.\n",
			perFirst, first.n, perLast, last.n, mb(first.peakRSS()), mb(last.peakRSS()))
	}
}
