package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	gosync "sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/dirsync/dirsync/internal/slapdtest"
	"github.com/dirsync/dirsync/target/fake"
)

// platform is target/fake served on 127.0.0.1 behind a server-side rate limit,
// as a SaaS platform's API gateway would enforce it.
type platform struct {
	fake *fake.Server
	url  string
	stop func()

	mu      gosync.Mutex
	limiter *rate.Limiter // nil: unlimited
	// throttled counts requests answered 429 because the limit was exceeded
	// for longer than maxQueue.
	throttled atomic.Int64
	served    atomic.Int64
}

// maxQueue is how long a request over the limit waits for its turn before the
// platform answers 429.
const maxQueue = time.Second

func startPlatform() (*platform, error) {
	p := &platform{fake: fake.New(fake.Options{Seed: 1})}
	url, stop, err := serveLoopback(p)
	if err != nil {
		return nil, err
	}
	p.url, p.stop = url, stop
	return p, nil
}

// configure sets the platform's latency and rate limit (requests per second;
// 0: unlimited) and forgets its request counts.
func (p *platform) configure(latency time.Duration, perSecond int) {
	p.current().SetLatency(latency)
	p.mu.Lock()
	p.limiter = nil
	if perSecond > 0 {
		// A small burst: the platform admits perSecond requests in any second.
		p.limiter = rate.NewLimiter(rate.Limit(perSecond), max(1, perSecond/20))
	}
	p.mu.Unlock()
	p.throttled.Store(0)
	p.served.Store(0)
}

// reset empties the platform.
func (p *platform) reset() {
	p.mu.Lock()
	p.fake = fake.New(fake.Options{Seed: 1})
	p.mu.Unlock()
}

func (p *platform) current() *fake.Server {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fake
}

func (p *platform) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	l, f := p.limiter, p.fake
	p.mu.Unlock()
	if l != nil {
		ctx, cancel := context.WithTimeout(r.Context(), maxQueue)
		err := l.Wait(ctx)
		cancel()
		if err != nil {
			p.throttled.Add(1)
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"status":"429","detail":"rate limit exceeded"}`, http.StatusTooManyRequests)
			return
		}
	}
	p.served.Add(1)
	f.ServeHTTP(w, r)
}

// serveLoopback serves h on a free port of 127.0.0.1 and returns the fake's
// SCIM base URL there and a function that stops the server.
func serveLoopback(h http.Handler) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	base, cancel := context.WithCancel(context.Background())
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	return "http://" + ln.Addr().String() + fake.BasePath, func() {
		cancel()
		srv.Close()
		<-done
	}, nil
}

// Scenario 6: a platform that tells its rate limit in headers. target/fake
// sits behind a fake.RateLimiter admitting headerRate requests per fixed
// one-second window and answering every other request 429 at once; each
// style tells the limit differently (only a reset time on the 429, no
// Retry-After; X-RateLimit-Remaining/-Reset on every answer; the IETF
// RateLimit field; Retry-After). dirsync's rate_limit is far above the
// platform's (--ratelimit-client-rate), so only the headers and the
// throttling can slow it down. Reported: the rate of requests the platform
// admitted against its limit, and the share answered 429.

// headerStyles are scenario 6's platforms, the target's first.
var headerStyles = []struct{ name, headers string }{
	{"reset only (X-RateLimit-Reset on 429, no Retry-After)", fake.LimitReset},
	{"X-RateLimit-Remaining/-Reset on every answer", fake.LimitRemaining},
	{"IETF RateLimit field on every answer", fake.LimitIETF},
	{"Retry-After on 429", fake.LimitRetryAfter},
}

// headerResult is one run of scenario 6.
type headerResult struct {
	result
	style      string
	created    int
	served     int64
	throttled  int64
	incomplete error
}

// rate is the admitted requests per second over the run.
func (h headerResult) rate() float64 { return float64(h.served) / h.wall.Seconds() }

// share is the share of requests answered 429, in per cent.
func (h headerResult) share() float64 {
	return 100 * float64(h.throttled) / float64(max(1, h.served+h.throttled))
}

// runHeaderLimits runs scenario 6 o.runs times per style against the
// directory srv of n users: an initial sync of all of them.
func runHeaderLimits(o options, bin, dir string, srv *slapdtest.Server, n int) ([][]headerResult, error) {
	var out [][]headerResult
	for _, st := range headerStyles {
		var runs []headerResult
		for r := range o.runs {
			f := fake.New(fake.Options{Seed: 1})
			l := fake.NewRateLimiter(f, fake.RateLimitOptions{Limit: o.headerRate, Headers: st.headers})
			url, stop, err := serveLoopback(l)
			if err != nil {
				return nil, err
			}
			cfg := writeConfig(dir, fmt.Sprintf("headers-%s-%d", st.headers, r), srv, url, o.headerClientRate, o.headerConcurrency)
			logf("N=%d: scenario 6, %s, run %d: platform allows %d req/s, dirsync rate_limit %d, concurrency %d",
				n, st.name, r+1, o.headerRate, o.headerClientRate, o.headerConcurrency)
			res := headerResult{result: runDirsync(bin, cfg), style: st.name}
			stop()
			res.created = len(f.Users())
			res.served, res.throttled = l.Served(), l.Throttled()
			if res.created != n {
				res.incomplete = fmt.Errorf("%d of %d users not created", n-res.created, n)
			}
			if res.err != nil {
				logf("  dirsync did not finish cleanly: %v", res.err)
			}
			res.err = nil // a partial run is a measured outcome
			logf("  %d users created in %s: %.1f req/s admitted (%.0f %% of %d); %d answered 429 (%.1f %%)",
				res.created, res.wall.Round(time.Millisecond), res.rate(), 100*res.rate()/float64(o.headerRate), o.headerRate,
				res.throttled, res.share())
			runs = append(runs, res)
		}
		out = append(out, runs)
	}
	return out, nil
}

// printHeaderLimits writes scenario 6's rows, one per style: the median run's
// admitted rate against the platform's limit, and the share of 429s. The
// first style carries the target: ≥ 90 % of the limit, < 3 % 429.
func (r *report) printHeaderLimits(w io.Writer) {
	o := r.opts
	for i, runs := range r.headers {
		if len(runs) == 0 {
			continue
		}
		s := scenario{name: fmt.Sprintf("6. rate-limit headers: %s; %d users, %d req/s allowed, rate_limit %d, concurrency %d",
			runs[0].style, o.headerN, o.headerRate, o.headerClientRate, o.headerConcurrency), n: o.headerN}
		var served, throttled int64
		var incomplete error
		for _, h := range runs {
			s.runs = append(s.runs, h.result)
			served += h.served
			throttled += h.throttled
			if h.incomplete != nil {
				incomplete = h.incomplete
			}
		}
		med := slices.Clone(runs)
		slices.SortFunc(med, func(a, b headerResult) int { return cmp.Compare(a.rate(), b.rate()) })
		achieved := med[len(med)/2].rate()
		pct := 100 * achieved / float64(o.headerRate)
		share := 100 * float64(throttled) / float64(max(1, served+throttled))
		target, verdict := "–", "–"
		if i == 0 {
			target, verdict = "≥ 90 % of the limit, < 3 % 429", "yes"
			if pct < 90 || share >= 3 {
				// A miss is reported, as for every other scenario; only a
				// run that could not complete fails the bench (the smoke's
				// 100 users make the first window's 429s a large share).
				verdict = "**no**"
			}
		}
		if incomplete != nil {
			verdict = "**no**: " + incomplete.Error()
			r.failed = true
		}
		fmt.Fprintf(w, "| %s | %s | %s | – | %.1f req/s (%.0f %%); %d of %d requests 429 (%.1f %%) | %s | %s |\n",
			s.name, sec(s.wall()), mb(s.peakRSS()), achieved, pct, throttled, served+throttled, share, target, verdict)
	}
}
