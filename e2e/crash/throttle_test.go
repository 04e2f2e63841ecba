package crash

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dirsync/dirsync/target/fake"
)

// TestThrottledPlatformIsSyncedWithoutHammering puts the fake platform behind a
// limit of 2 requests in flight, answering 429 beyond it, and syncs with
// target.concurrency 8: the client (backoff with jitter, and the adaptive
// window of requests in flight) must settle near what the platform allows —
// few 429s — and finish, not fail or keep hammering.
func TestThrottledPlatformIsSyncedWithoutHammering(t *testing.T) {
	const users = 120
	e := newCrashEnv(t, users, crashOpts{})
	e.plat.SetLatency(20 * time.Millisecond)
	var inFlight, throttled, served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if inFlight.Add(1) > 2 {
			inFlight.Add(-1)
			throttled.Add(1)
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		defer inFlight.Add(-1)
		served.Add(1)
		e.plat.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	e.url = srv.URL + fake.BasePath
	e.writeConfig(crashOpts{target: "  concurrency: 8\n  max_retries: 6\n"})

	r := e.run("sync")
	if r.code != 0 {
		t.Fatalf("sync against a throttled platform failed (%d throttled, %d served):\n%s", throttled.Load(), served.Load(), r)
	}
	e.crashAssertConverged()
	// 120 creates and a listing. Without backing off, 6 of every 8
	// requests in flight would be refused, again and again.
	if n := throttled.Load(); n > served.Load()/2 {
		t.Errorf("%d requests throttled for %d served: the client kept hammering", n, served.Load())
	}
	t.Logf("%d served, %d throttled", served.Load(), throttled.Load())
}
