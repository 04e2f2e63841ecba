package crash

import (
	"strings"
	"testing"
	"time"
)

// TestAdaptivePushingTracksAThrottledPlatformsRate syncs into a platform whose
// gateway admits adaptiveRate requests a second (a token bucket of a
// twentieth of a second, answering 429 with Retry-After: 1 over it), with
// dirsync's own rate_limit ten times higher and retries off. The client must
// find the platform's rate by itself: every user created in one run, at no
// less than 70 % of the allowed rate, with 429s a small share of the
// requests. (Measured on 2 cores: about 85-90 % of the rate, 3-6 % 429s; the
// bounds leave room for a loaded machine.)
func TestAdaptivePushingTracksAThrottledPlatformsRate(t *testing.T) {
	const (
		users        = 480 // under slapd's default size limit of 500
		adaptiveRate = 50  // requests per second the platform admits
	)
	e := newCrashEnv(t, users, crashOpts{})
	e.plat.SetLatency(5 * time.Millisecond)
	e.plat.SetThrottle(adaptiveRate, adaptiveRate/10)
	// The crash env's config has rate_limit: 1000.
	e.writeConfig(crashOpts{target: "  concurrency: 16\n  max_retries: 0\n"})

	start := time.Now()
	r := e.run("sync", "--log-level", "debug")
	wall := time.Since(start)
	if r.code != 0 {
		t.Fatalf("sync against a throttled platform failed (%d requests, %d throttled):\n%s", e.plat.Count(""), e.plat.Throttled(), r)
	}
	created := len(e.plat.Users())
	if created != users {
		t.Fatalf("%d of %d users created in one run", created, users)
	}
	e.crashAssertConverged()

	// The rate over the push: from the platform's first request to its last
	// (the directory read and the process start are not the platform's).
	log := e.plat.Requests()
	push := log[len(log)-1].At.Sub(log[0].At)
	requests, throttled := len(log), e.plat.Throttled()
	achieved := float64(created) / push.Seconds()
	share := float64(throttled) / float64(requests)
	t.Logf("%d users in %s (run %s): %.0f changes/s of %d allowed (%.0f %%); %d of %d requests answered 429 (%.1f %%)",
		created, push.Round(time.Millisecond), wall.Round(time.Millisecond), achieved, adaptiveRate, 100*achieved/adaptiveRate, throttled, requests, 100*share)
	if achieved < 0.7*adaptiveRate {
		for _, l := range strings.Split(r.stderr, "\n") {
			if strings.Contains(l, "throttl") {
				t.Log(l)
			}
		}
		t.Errorf("achieved %.0f changes/s, want at least 70 %% of the %d req/s the platform allows", achieved, adaptiveRate)
	}
	if throttled == 0 {
		t.Error("the platform never throttled: the test did not exercise the adaptation")
	}
	if share > 0.20 {
		t.Errorf("%.1f %% of requests were answered 429, want at most 20 %%: the client kept hammering", 100*share)
	}
	// The adaptation is logged: once at info when it starts, and a summary.
	crashWantContains(t, "stderr", r.stderr, "the platform is throttling: slowing down", "platform throttling summary")
	if n := strings.Count(r.stderr, "slowing down"); n != 1 {
		t.Errorf("%d info lines about slowing down, want 1 per run", n)
	}
}

// TestAPlatformThatOnlyThrottlesStopsTheRun answers every request with 429:
// the requests wait out Retry-After (not counted as retries) for at most
// target.throttle_timeout, then fail, and the circuit breaker stops the run
// with a message that says why — rather than waiting forever.
func TestAPlatformThatOnlyThrottlesStopsTheRun(t *testing.T) {
	// Few enough users that each create is looked up on its own (no
	// listing up front): the changes fail one by one, for the breaker.
	e := newCrashEnv(t, 12, crashOpts{})
	e.plat.FailNext(1_000_000, 429, "1")
	e.writeConfig(crashOpts{target: "  throttle_timeout: 3s\n", sync: "  circuit_breaker: 5\n"})
	start := time.Now()
	r := e.crashMustRun(1, "sync")
	took := time.Since(start)
	crashWantContains(t, "stderr", r.stderr, "circuit breaker", "429", "target.throttle_timeout", "planned again on the next run")
	if took > 30*time.Second {
		t.Errorf("the run took %s to give up, want about target.throttle_timeout (3s) and the breaker", took)
	}
	if len(e.plat.Users()) != 0 {
		t.Errorf("%d users on a platform that answered only 429", len(e.plat.Users()))
	}
	// Throttled requests waited Retry-After (1s) rather than hammering:
	// concurrency 4 for ~3s, then a failure per request until the breaker.
	if n := e.plat.Count(""); n > 100 {
		t.Errorf("%d requests to a platform that answers only 429 in %s: the client hammered it", n, took.Round(time.Millisecond))
	}
	t.Logf("stopped after %s and %d requests", took.Round(time.Millisecond), e.plat.Count(""))
}
