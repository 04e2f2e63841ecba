package target_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/dirsync/dirsync/target"
	"github.com/dirsync/dirsync/target/fake"
)

// limitedPlatform serves 200 {} behind a fake API gateway admitting limit
// requests per second, telling its limit as opts say.
func limitedPlatform(t *testing.T, opts fake.RateLimitOptions) (*fake.RateLimiter, string) {
	t.Helper()
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("{}"))
	})
	l := fake.NewRateLimiter(ok, opts)
	srv := httptest.NewServer(l)
	t.Cleanup(srv.Close)
	return l, srv.URL
}

// sendAll sends n GETs from workers goroutines and fails the test on any error.
func sendAll(t *testing.T, c *target.HTTPClient, n, workers int) {
	t.Helper()
	jobs := make(chan int)
	var wg gosync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range jobs {
				if _, err := c.Do(context.Background(), target.Request{Op: "get", Method: http.MethodGet}); err != nil {
					t.Errorf("Do: %v", err)
				}
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
}

func TestHTTPClient_RemainingHeadersHoldRequestsUntilTheResetInsteadOf429(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts fake.RateLimitOptions
		cfg  target.RateLimitHeaders
	}{
		{"X-RateLimit epoch", fake.RateLimitOptions{Headers: fake.LimitRemaining}, target.RateLimitHeaders{}},
		{"X-Rate-Limit delta", fake.RateLimitOptions{Headers: fake.LimitRemaining, Prefix: "X-Rate-Limit-", ResetDelta: true}, target.RateLimitHeaders{}},
		{"X-RateLimit delta configured", fake.RateLimitOptions{Headers: fake.LimitRemaining, ResetDelta: true}, target.RateLimitHeaders{ResetFormat: target.ResetDelta}},
		{"IETF RateLimit", fake.RateLimitOptions{Headers: fake.LimitIETF}, target.RateLimitHeaders{}},
		{"IETF draft-06 RateLimit-Remaining", fake.RateLimitOptions{Headers: fake.LimitIETF06}, target.RateLimitHeaders{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.opts.Limit = 5
			l, url := limitedPlatform(t, tc.opts)
			cfg := target.Default()
			cfg.URL, cfg.RateLimit, cfg.Concurrency, cfg.RateLimitHeaders = url, 0, 4, tc.cfg
			c, err := target.NewHTTPClient(cfg, nil, target.WithBackoff(time.Millisecond, time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			sendAll(t, c, 12, 4)
			// Without the headers heeded, hundreds. A request overtaken on
			// its way may still reach the platform after the quota it was
			// counted in is spent: at most the two a run opens with, each
			// on a new connection.
			// On a loaded machine a few more (without the headers: hundreds).
			if got := l.Throttled(); got > 5 {
				t.Errorf("the platform answered 429 %d times; want at most five: the remaining count says when to wait", got)
			}
			if got := l.Served(); got != 12 {
				t.Errorf("served %d requests, want 12", got)
			}
			// 12 requests at 5 a window span at least two resets.
			if el := time.Since(start); el < time.Second {
				t.Errorf("12 requests at 5 per second took %s", el)
			}
		})
	}
}

func TestHTTPClient_ResetHeaderOn429HoldsEveryRequestUntilTheReset(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts fake.RateLimitOptions
		cfg  target.RateLimitHeaders
	}{
		{"epoch", fake.RateLimitOptions{Headers: fake.LimitReset}, target.RateLimitHeaders{}},
		{"epoch configured", fake.RateLimitOptions{Headers: fake.LimitReset}, target.RateLimitHeaders{ResetFormat: target.ResetEpoch}},
		{"delta", fake.RateLimitOptions{Headers: fake.LimitReset, ResetDelta: true}, target.RateLimitHeaders{ResetFormat: target.ResetDelta}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.opts.Limit = 4
			l, url := limitedPlatform(t, tc.opts)
			cfg := target.Default()
			cfg.URL, cfg.RateLimit, cfg.Concurrency, cfg.RateLimitHeaders = url, 0, 2, tc.cfg
			// Without the reset, a 429 would be sent again after this
			// backoff: hundreds of times a second.
			c, err := target.NewHTTPClient(cfg, nil, target.WithBackoff(time.Millisecond, time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			sendAll(t, c, 12, 2)
			if got := l.Served(); got != 12 {
				t.Errorf("served %d requests, want 12", got)
			}
			// At most the requests in flight when the first 429 came, per
			// window: 12 requests at 4 a window cross at most 3 resets.
			// 6 on a quiet machine, a few more on a loaded one; without
			// the reset heeded: thousands.
			if got := l.Throttled(); got > 12 {
				t.Errorf("the platform answered 429 %d times; want at most about 2 per window", got)
			}
		})
	}
}

func TestHTTPClient_QuotaSpentForLongerThanTheLongestWaitFailsAtOnce(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", "3600")
		_, _ = w.Write([]byte("{}"))
	}))
	t.Cleanup(srv.Close)
	cfg := target.Default()
	cfg.URL = srv.URL
	c, err := target.NewHTTPClient(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(context.Background(), target.Request{Op: "get", Method: http.MethodGet}); err != nil {
		t.Fatalf("first request: %v", err)
	}
	_, err = c.Do(context.Background(), target.Request{Op: "get", Method: http.MethodGet})
	if err == nil || !strings.Contains(err.Error(), "rate limit is spent") || !strings.Contains(err.Error(), "X-RateLimit-Reset") {
		t.Fatalf("second request: %v; want the spent quota named, not a wait of an hour", err)
	}
}

func TestHTTPClient_A403WithNoneRemainingIsThrottlingAndWaitsForTheReset(t *testing.T) {
	var mu gosync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			// GitHub's primary rate limit: 403, none remaining, a reset.
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", "0.05")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"message":"API rate limit exceeded"}`))
			return
		}
		_, _ = w.Write([]byte("{}"))
	}))
	t.Cleanup(srv.Close)
	cfg := target.Default()
	cfg.URL = srv.URL
	cfg.RateLimitHeaders.ResetFormat = target.ResetDelta
	c, err := target.NewHTTPClient(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(context.Background(), target.Request{Op: "get", Method: http.MethodGet}); err != nil {
		t.Fatalf("Do: %v; want the request sent again after the reset", err)
	}
	if got := c.Throttling().Throttled; got != 1 {
		t.Errorf("%d throttled answers counted, want the 403", got)
	}
}

func TestHTTPClient_QuotaToldOnlyBy429sIsLearnedAndSpentWithout429s(t *testing.T) {
	// A platform admitting 10 requests a second, telling only the reset on
	// its 429s (no Retry-After, nothing on other answers).
	l, url := limitedPlatform(t, fake.RateLimitOptions{Limit: 10, Headers: fake.LimitReset})
	cfg := target.Default()
	cfg.URL, cfg.RateLimit, cfg.Concurrency = url, 1000, 4
	c, err := target.NewHTTPClient(cfg, nil, target.WithBackoff(time.Millisecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	sendAll(t, c, 70, 4)
	elapsed := time.Since(start)
	// The first window's requests in flight, and one probe in the second;
	// from the third window on the learned quota is spent without a 429.
	// That is 6 on a quiet machine; a loaded one delays requests across a
	// window's edge now and then. Without the learning: 16 in 86.
	if got := l.Throttled(); got > 10 {
		t.Errorf("the platform answered 429 %d times in %d requests; want at most 10: the quota is learned in two windows", got, l.Served()+got)
	}
	// 70 requests at 10 a window take 7 windows at least. The bound only
	// catches a client that stalls (the rate itself is measured in bench/,
	// scenario 6).
	if elapsed > 30*time.Second {
		t.Errorf("70 requests took %s at 10 per second: the client stalls", elapsed)
	}
}

func TestConfig_RateLimitHeadersResetFormatIsCheckedByKey(t *testing.T) {
	cfg := target.Default()
	cfg.URL, cfg.Token = "https://platform.example.com/scim/v2", "t"
	cfg.RateLimitHeaders.ResetFormat = "unix"
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "target.rate_limit_headers.reset_format") {
		t.Fatalf("got %v, want the key named", err)
	}
	for _, f := range []string{"", target.ResetAuto, target.ResetEpoch, target.ResetEpochMS, target.ResetDelta} {
		cfg.RateLimitHeaders.ResetFormat = f
		if err := cfg.Validate(); err != nil {
			t.Errorf("reset_format %q: %v", f, err)
		}
	}
}
