package target

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestRateLimitHeaders_ParseReadsTheUsualFieldsAndResetFormats(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	epoch := now.Add(30 * time.Second).Unix()
	for _, tc := range []struct {
		name      string
		cfg       RateLimitHeaders
		hdr       map[string]string
		remaining int64
		reset     time.Duration // from now; 0: none
	}{
		{"GitHub epoch seconds", RateLimitHeaders{}, map[string]string{"X-RateLimit-Remaining": "7", "X-RateLimit-Reset": itoa(epoch)}, 7, 30 * time.Second},
		{"Okta epoch seconds", RateLimitHeaders{}, map[string]string{"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": itoa(epoch)}, 0, 30 * time.Second},
		{"auto reads a small value as a delta", RateLimitHeaders{}, map[string]string{"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "12"}, 3, 12 * time.Second},
		{"fractional delta", RateLimitHeaders{ResetFormat: ResetDelta}, map[string]string{"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "1.5"}, 3, 1500 * time.Millisecond},
		{"epoch milliseconds", RateLimitHeaders{}, map[string]string{"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": itoa(now.Add(2 * time.Second).UnixMilli())}, 3, 2 * time.Second},
		{"epoch_ms configured", RateLimitHeaders{ResetFormat: ResetEpochMS}, map[string]string{"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": itoa(now.Add(2 * time.Second).UnixMilli())}, 3, 2 * time.Second},
		{"IETF draft-06 fields are delta seconds", RateLimitHeaders{ResetFormat: ResetEpoch}, map[string]string{"RateLimit-Remaining": "9", "RateLimit-Reset": "4"}, 9, 4 * time.Second},
		{"IETF structured field: the lowest quota wins", RateLimitHeaders{}, map[string]string{"RateLimit": `"burst";r=40;t=1, "daily";r=5;t=600`}, 5, 600 * time.Second},
		{"IETF draft-07 dictionary", RateLimitHeaders{}, map[string]string{"RateLimit": "limit=100, remaining=50, reset=5"}, 50, 5 * time.Second},
		{"custom header names", RateLimitHeaders{Remaining: "X-Quota-Left", Reset: "X-Quota-Reset", ResetFormat: ResetDelta}, map[string]string{"X-Quota-Left": "2", "X-Quota-Reset": "8", "X-RateLimit-Remaining": "99"}, 2, 8 * time.Second},
		{"the platform's clock corrects an epoch reset", RateLimitHeaders{}, map[string]string{"X-RateLimit-Remaining": "1", "X-RateLimit-Reset": itoa(now.Add(time.Hour + 10*time.Second).Unix()), "Date": now.Add(time.Hour).Format(http.TimeFormat)}, 1, 10 * time.Second},
		{"an epoch in the past is no reset", RateLimitHeaders{ResetFormat: ResetEpoch}, map[string]string{"X-RateLimit-Remaining": "1", "X-RateLimit-Reset": "30"}, 1, 0},
		{"ignore", RateLimitHeaders{Ignore: true}, map[string]string{"X-RateLimit-Remaining": "1", "X-RateLimit-Reset": "30"}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tc.hdr {
				h.Set(k, v)
			}
			li := tc.cfg.parse(h, now)
			if tc.remaining != 0 || !tc.cfg.Ignore {
				if !li.hasRemaining || li.remaining != tc.remaining {
					t.Errorf("remaining = %d (%t), want %d", li.remaining, li.hasRemaining, tc.remaining)
				}
			}
			switch {
			case tc.reset == 0 && li.hasReset && li.reset.After(now):
				t.Errorf("reset = %s from now, want none", li.reset.Sub(now))
			case tc.reset != 0 && (!li.hasReset || li.reset.Sub(now) != tc.reset):
				t.Errorf("reset = %s from now (%t), want %s", li.reset.Sub(now), li.hasReset, tc.reset)
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestQuota_AProbeAnsweredAfterTheProbingEndedStillReleasesTheNextProbe(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	noSleep := func(context.Context, time.Duration) error { return nil }
	q := newQuota(RateLimitHeaders{})
	reset := func(d time.Duration) http.Header {
		return http.Header{"X-Ratelimit-Reset": {strconv.FormatInt(now.Add(d).Unix(), 10)}}
	}
	take := func() ticket {
		t.Helper()
		tk, err := q.take(context.Background(), clock, noSleep, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return tk
	}
	// Two requests of a window; the first is answered 429 with the reset.
	tk1, tk2 := take(), take()
	q.observe(tk1, reset(time.Second), true, now)
	// After the reset the quota probes: nothing was admitted.
	now = now.Add(time.Second + 50*time.Millisecond)
	probe := take()
	if !probe.probe {
		t.Fatalf("after a throttled window of unknown length, want a probe: %+v", probe)
	}
	// The straggler's 429 (the next window's reset) ends the probing while
	// the probe is in flight; then the probe is answered.
	q.observe(tk2, reset(time.Second), true, now)
	q.observe(probe, http.Header{}, false, now)
	// A later probing must not wait for that probe any more.
	q.mu.Lock()
	q.known, q.left, q.probing, q.probeEnd = true, 0, true, 10
	q.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tk, err := q.take(ctx, clock, noSleep, time.Minute)
	if err != nil || !tk.probe {
		t.Fatalf("take = %+v, %v; want a probe at once", tk, err)
	}
}
