package main

import (
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/dirsync/dirsync/internal/slapdtest"
	"github.com/dirsync/dirsync/target/fake"
)

// Scenario 5: a throttled platform. The platform admits throttleRate requests
// per second and answers every request over that at once with 429 and
// Retry-After: 1, as an API gateway does; dirsync's own rate_limit is set far
// above it (--throttle-client-rate, default 2000), so only the platform's
// answers can slow it down. The scenario reports the rate of successful changes and the share of
// requests answered 429.

// throttleLatency is the throttled platform's latency per admitted request.
const throttleLatency = 10 * time.Millisecond

// throttledPlatform is target/fake behind a limiter that refuses, rather than
// queues, requests over the limit.
type throttledPlatform struct {
	fake    *fake.Server
	limiter *rate.Limiter
	url     string
	stop    func()

	served    atomic.Int64
	throttled atomic.Int64
}

func startThrottledPlatform(perSecond int, latency time.Duration) (*throttledPlatform, error) {
	f := fake.New(fake.Options{Seed: 1})
	f.SetLatency(latency)
	// A burst of a twentieth of a second's requests, like the other scenarios'
	// platform.
	p := &throttledPlatform{fake: f, limiter: rate.NewLimiter(rate.Limit(perSecond), max(1, perSecond/20))}
	url, stop, err := serveLoopback(p)
	if err != nil {
		return nil, err
	}
	p.url, p.stop = url, stop
	return p, nil
}

func (p *throttledPlatform) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !p.limiter.Allow() {
		p.throttled.Add(1)
		w.Header().Set("Retry-After", "1")
		http.Error(w, `{"status":"429","detail":"rate limit exceeded"}`, http.StatusTooManyRequests)
		return
	}
	p.served.Add(1)
	p.fake.ServeHTTP(w, r)
}

// throttledResult is one run of scenario 5.
type throttledResult struct {
	result
	created int // users on the platform afterwards
	// incomplete is why the run did not converge (some changes failed), or
	// nil. It is a measured outcome, not a failure of the benchmark.
	incomplete error
	served     int64 // requests the platform admitted
	throttled  int64 // requests it answered 429
}

// runThrottled runs scenario 5 o.runs times against the directory srv of n
// users: an initial sync of all of them into an empty throttled platform.
func runThrottled(o options, bin, dir string, srv *slapdtest.Server, n int) ([]throttledResult, error) {
	var out []throttledResult
	for r := range o.runs {
		p, err := startThrottledPlatform(o.throttleRate, throttleLatency)
		if err != nil {
			return nil, err
		}
		cfg := writeConfig(dir, fmt.Sprintf("throttled-%d", r), srv, p.url, o.throttleClientRate, o.throttleConcurrency)
		logf("N=%d: scenario 5, run %d: platform allows %d req/s, dirsync rate_limit %d, concurrency %d",
			n, r+1, o.throttleRate, o.throttleClientRate, o.throttleConcurrency)
		res := throttledResult{result: runDirsync(bin, cfg)}
		p.stop()
		res.created = len(p.fake.Users())
		res.served, res.throttled = p.served.Load(), p.throttled.Load()
		if res.created != n {
			res.incomplete = fmt.Errorf("%d of %d users not created", n-res.created, n)
		}
		if res.err != nil {
			logf("  dirsync did not finish cleanly: %v", res.err)
		}
		res.err = nil // a partial run is this scenario's measured outcome
		logf("  %d users created in %s: %.0f changes/s; %d requests admitted, %d answered 429 (%.1f %%)",
			res.created, res.wall.Round(time.Millisecond), float64(res.created)/res.wall.Seconds(),
			res.served, res.throttled, 100*float64(res.throttled)/float64(max(1, res.served+res.throttled)))
		out = append(out, res)
	}
	return out, nil
}

// printThrottled writes scenario 5's row: the median run's achieved rate
// against the platform's limit, and the share of requests refused.
func (r *report) printThrottled(w io.Writer) {
	if len(r.throttled) == 0 {
		return
	}
	o := r.opts
	s := scenario{name: fmt.Sprintf("5. throttled platform: %d users, %d req/s allowed, rate_limit %d, concurrency %d",
		o.throttledN, o.throttleRate, o.throttleClientRate, o.throttleConcurrency), n: o.throttledN}
	var served, throttled int64
	var created int
	var incomplete error
	for _, t := range r.throttled {
		if t.incomplete != nil {
			incomplete = t.incomplete
		}
		s.runs = append(s.runs, t.result)
		served += t.served
		throttled += t.throttled
		created += t.created
	}
	// The median wall; the counts summed over the runs.
	achieved := float64(created) / float64(len(r.throttled)) / s.wall().Seconds()
	pct := 100 * achieved / float64(o.throttleRate)
	share := 100 * float64(throttled) / float64(max(1, served+throttled))
	verdict := "yes"
	if pct < 80 || share > 10 {
		verdict = "**no**"
	}
	if incomplete != nil {
		verdict = "**no**: " + incomplete.Error()
	}
	fmt.Fprintf(w, "| %s | %s | %s | – | %.0f changes/s (%.0f %%); %d of %d requests 429 (%.1f %%) | ≥ 80 %% of the limit, ≤ 10 %% 429 | %s |\n",
		s.name, sec(s.wall()), mb(s.peakRSS()), achieved, pct, throttled, served+throttled, share, verdict)
}
