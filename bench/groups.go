package main

import (
	"fmt"
	"io"
	"os"

	"github.com/dirsync/dirsync/internal/slapdtest"
)

// Scenario 7: the group push (groups.push). Every group of the benchmark
// directory (each user is in up to 3 of them) is pushed into the platform
// holding the N users; then no-change runs with the group pass are measured
// against no-change runs without it, on the same snapshot and directory.

type groupsResult struct {
	groups, memberships int
	push                scenario // the first push: every group created and filled
	base, steady        scenario // no-change runs without and with the group pass
}

// writeGroupConfig is writeConfig with groups.push on, over the same snapshot.
func writeGroupConfig(dir, name string, s *slapdtest.Server, url string, rate, concurrency int) string {
	path := writeConfig(dir, name, s, url, rate, concurrency)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		panic(fatalError(err.Error()))
	}
	defer f.Close()
	fmt.Fprintf(f, "groups:\n  push: true\n  base_dn: %q\n  filter: (objectClass=groupOfNames)\n"+
		"  max_group_delete_percent: 100\n  max_membership_removal_percent: 100\n", groupsOU)
	return path
}

// runGroups measures scenario 7 on the directory of n users, whose snapshot
// ("steady") is in step with platform p.
func runGroups(o options, bin, dir string, srv *slapdtest.Server, p *platform, n int) (*groupsResult, error) {
	p.configure(0, 0)
	plain := writeConfig(dir, "steady", srv, p.url, 100_000, o.concurrency)
	if r := runDirsync(bin, plain); r.err != nil { // settle the churn
		return nil, fmt.Errorf("settle: %w", r.err)
	}
	res := &groupsResult{groups: o.groups}
	var base []result
	for range o.runs {
		base = append(base, runDirsync(bin, plain))
	}
	res.base = scenario{name: fmt.Sprintf("no-change reconcile, N=%d, without groups", n), n: n, runs: base}

	cfg := writeGroupConfig(dir, "steady", srv, p.url, 100_000, o.concurrency)
	logf("N=%d: pushing %d groups", n, o.groups)
	push := runDirsync(bin, cfg)
	if push.err == nil {
		gs := p.current().Groups()
		res.memberships = 0
		for _, g := range gs {
			res.memberships += len(g.Members)
		}
		if len(gs) != o.groups {
			push.err = fmt.Errorf("the platform holds %d groups after the push, want %d", len(gs), o.groups)
		}
	}
	res.push = scenario{name: fmt.Sprintf("7. push of %d groups, %d memberships, N=%d", o.groups, res.memberships, n), n: n, runs: []result{push}}
	var steady []result
	for range o.runs {
		before := p.current().Writes()
		r := runDirsync(bin, cfg)
		if w := p.current().Writes() - before; r.err == nil && w != 0 {
			r.err = fmt.Errorf("a no-change run with the group pass wrote %d times to the platform", w)
		}
		steady = append(steady, r)
	}
	res.steady = scenario{name: fmt.Sprintf("7. no-change reconcile with the group pass, N=%d", n), n: n, runs: steady}
	return res, nil
}

// printGroups writes scenario 7's rows.
func (r *report) printGroups(w io.Writer) {
	g := r.groups
	if g == nil {
		return
	}
	row := func(s scenario, ratio, target string, met bool) {
		verdict := "yes"
		if !met {
			verdict = "**no**"
		}
		if err := s.failed(); err != nil {
			verdict = "**error**: " + err.Error()
			r.failed = true
		}
		fmt.Fprintf(w, "| %s | %s | %s | – | %s | %s | %s |\n", s.name, sec(s.wall()), mb(s.peakRSS()), ratio, target, verdict)
	}
	row(g.push, fmt.Sprintf("%.0f memberships/s", float64(g.memberships)/g.push.wall().Seconds()), "–", true)
	added := g.steady.wall().Seconds()/g.base.wall().Seconds() - 1
	row(g.steady, fmt.Sprintf("+%.0f %% over %s without groups", added*100, sec(g.base.wall())),
		"the group pass adds ≤ 20 %", added <= 0.20)
}
