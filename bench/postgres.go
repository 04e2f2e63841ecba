package main

import (
	"fmt"
	"time"

	"github.com/dirsync/dirsync/internal/pgtest"
	"github.com/dirsync/dirsync/internal/slapdtest"
)

// runPostgres is scenario 8: the no-change reconcile of n users (scenario
// 1) with the snapshot in a private PostgreSQL on this machine
// (state.driver: postgres) instead of the SQLite file. The platform is
// emptied and the PostgreSQL snapshot seeded by a first sync, as scenario
// 1's is; then each run must write nothing to the platform.
//
// The machine is shared and its speed moves between runs: each PostgreSQL
// run is paired with a run of scenario 1's config (the SQLite snapshot,
// still in step with the directory: a no-change run does not read the
// platform), and the row compares the two medians.
func runPostgres(o options, bin, dir string, srv *slapdtest.Server, p *platform, n int, floor time.Duration, sqliteCfg string) (pg, sqlite scenario, err error) {
	t := newTB(dir)
	defer t.close()
	logf("N=%d: starting PostgreSQL", n)
	url := pgtest.Start(t).NewDatabase(t)
	p.reset()
	p.configure(0, 0)
	state := fmt.Sprintf("  driver: postgres\n  url: %q\n", url)
	cfg := writeConfigState(dir, "postgres", srv, p.url, 100_000, o.concurrency, state)
	logf("N=%d: seeding the platform and the PostgreSQL snapshot", n)
	seed := runDirsync(bin, cfg)
	if seed.err != nil {
		return pg, sqlite, fmt.Errorf("seed sync: %w", seed.err)
	}
	logf("N=%d: seeded in %s", n, seed.wall.Round(time.Millisecond))
	var res, paired []result
	for range o.runs {
		for _, c := range []struct {
			cfg string
			out *[]result
		}{{cfg, &res}, {sqliteCfg, &paired}} {
			before := p.current().Writes()
			r := runDirsync(bin, c.cfg)
			if w := p.current().Writes() - before; r.err == nil && w != 0 {
				r.err = fmt.Errorf("a no-change reconcile wrote %d times to the platform", w)
			}
			*c.out = append(*c.out, r)
		}
	}
	pg = scenario{name: fmt.Sprintf("8. no-change reconcile, N=%d, snapshot in PostgreSQL (same machine)", n), n: n, runs: res, floor: floor}
	sqlite = scenario{name: "paired SQLite runs", n: n, runs: paired, floor: floor}
	return pg, sqlite, nil
}
