package main

import (
	"context"
	"net"
	"net/http"
	gosync "sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

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
