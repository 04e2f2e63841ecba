package service

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// shutdownWait bounds the wait for open requests when the listener stops.
const shutdownWait = 5 * time.Second

// ListenerLimits bound what a client of the HTTP listener may hold, so that
// idle or slow clients cannot pile up connections (file descriptors).
type ListenerLimits struct {
	// ReadHeader bounds the reading of a request's header, and Read of the
	// whole request; Write bounds the writing of an answer.
	ReadHeader, Read, Write time.Duration
	// Idle is how long a kept-alive connection may wait for its next request.
	Idle time.Duration
	// MaxHeaderBytes caps the size of a request's header.
	MaxHeaderBytes int
}

// DefaultListenerLimits are ample for Prometheus scrapes and health probes.
var DefaultListenerLimits = ListenerLimits{
	ReadHeader:     5 * time.Second,
	Read:           10 * time.Second,
	Write:          30 * time.Second,
	Idle:           60 * time.Second,
	MaxHeaderBytes: 16 << 10,
}

// Listener is the Runnable serving /metrics, /healthz and /readyz on a
// listening socket.
type Listener struct {
	ln      net.Listener
	metrics *Metrics
	status  func() Status
	limits  ListenerLimits
	now     func() time.Time
	page    *Page // the status page on GET /; nil when off
}

// NewListener serves m and the readiness of the snapshots status returns
// on ln, within limits. ln is opened by the caller, so that an address in
// use is an error at start-up.
func NewListener(ln net.Listener, m *Metrics, status func() Status, limits ListenerLimits) *Listener {
	return &Listener{ln: ln, metrics: m, status: status, limits: limits, now: time.Now}
}

// ServePage serves p, the status page, on GET / (status_page: true); call
// it before Start. Without it, GET / is 404.
func (l *Listener) ServePage(p *Page) { l.page = p }

// Addr is the address the listener serves on.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Start serves until ctx is done, then shuts down, giving open requests up
// to 5s. It returns an error only when serving fails.
func (l *Listener) Start(ctx context.Context) error {
	srv := l.server()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l.ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve %s: %w", l.ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownWait)
	defer cancel()
	srv.Shutdown(sctx) //nolint:errcheck // stopping; open scrapes are cut
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", l.ln.Addr(), err)
	}
	return nil
}

// server returns the server of the listener, serving Handler within
// l.limits.
func (l *Listener) server() *http.Server {
	return &http.Server{
		Handler:           l.Handler(),
		ReadHeaderTimeout: l.limits.ReadHeader,
		ReadTimeout:       l.limits.Read,
		WriteTimeout:      l.limits.Write,
		IdleTimeout:       l.limits.Idle,
		MaxHeaderBytes:    l.limits.MaxHeaderBytes,
	}
}

// Handler serves /metrics, /healthz and /readyz, and the status page on /
// when it is on.
func (l *Listener) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", l.metrics.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, why := l.status().Ready(l.now())
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintln(w, why)
	})
	if l.page != nil {
		mux.Handle("GET /{$}", l.page.handler(l.status, l.now, LoopbackAddr(l.ln.Addr())))
	}
	return mux
}
