package crash

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dirsync/dirsync/target/fake"
)

// TestMaxInFlightMeetsAPlatformLimitingConcurrentRequests puts the fake
// platform behind a limit of 2 requests in flight, answering 429 beyond it,
// and syncs with target.concurrency 8 but target.max_in_flight 2: the
// requests in flight never pass the platform's limit, so nothing is
// throttled, while the changes are still applied by 8 workers.
func TestMaxInFlightMeetsAPlatformLimitingConcurrentRequests(t *testing.T) {
	const users = 60
	e := newCrashEnv(t, users, crashOpts{})
	e.plat.SetLatency(5 * time.Millisecond)
	var inFlight, peak, throttled, served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		if n > 2 {
			throttled.Add(1)
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		served.Add(1)
		e.plat.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	e.url = srv.URL + fake.BasePath
	e.writeConfig(crashOpts{target: "  concurrency: 8\n  max_in_flight: 2\n"})

	r := e.run("sync")
	if r.code != 0 {
		t.Fatalf("sync with max_in_flight 2 failed (%d throttled, %d served, peak %d in flight):\n%s", throttled.Load(), served.Load(), peak.Load(), r)
	}
	e.crashAssertConverged()
	if n := throttled.Load(); n != 0 || peak.Load() > 2 {
		t.Errorf("%d requests throttled, peak %d in flight: want none throttled and at most 2 in flight", n, peak.Load())
	}
	if served.Load() < users {
		t.Errorf("%d requests served for %d creates", served.Load(), users)
	}
}
