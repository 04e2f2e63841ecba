package target

import (
	"context"
	"testing"
	"time"
)

func TestWindow_SlowStartThenHalvesOnThrottlingOncePerWindowAndRecoversAdditively(t *testing.T) {
	w := newWindow(8)
	ctx := context.Background()
	// Slow start: a run opens with windowStart requests in flight, one more
	// per answer, up to the configured 8.
	if got := w.size(); got != windowStart {
		t.Fatalf("initial window %d, want %d", got, windowStart)
	}
	for range 8 - windowStart {
		w.acquire(ctx) //nolint:errcheck // background ctx
		w.release(false)
	}
	if got := w.size(); got != 8 {
		t.Fatalf("after %d answers in slow start the window is %d, want 8", 8-windowStart, got)
	}
	for range 8 {
		if err := w.acquire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// A burst: all 8 in flight come back 429. Only the first halves the
	// window; the others were sent before the decrease.
	for range 8 {
		w.release(true)
	}
	if got := w.size(); got != 4 {
		t.Fatalf("after a burst of 429s the window is %d, want 4 (one halving)", got)
	}
	// A second burst, later, halves again, down to 1 at least.
	for range 3 {
		w.acquire(ctx) //nolint:errcheck // background ctx
		w.release(true)
	}
	if got := w.size(); got != 1 {
		t.Fatalf("after three more 429s one at a time the window is %d, want 1", got)
	}
	// Successes grow it back, one slot per window of answers, to the cap.
	steps := 0
	for w.size() < 8 {
		w.acquire(ctx) //nolint:errcheck // background ctx
		w.release(false)
		steps++
		if steps > 1000 {
			t.Fatal("the window never recovered")
		}
	}
	if steps < 20 || steps > 40 {
		t.Errorf("recovering from 1 to 8 took %d successes, want additive increase (about 1+2+…+7 = 28)", steps)
	}
	for range 100 {
		w.acquire(ctx) //nolint:errcheck // background ctx
		w.release(false)
	}
	if got := w.size(); got != 8 {
		t.Errorf("window grew to %d, past the configured 8", got)
	}
}

func TestWindow_AcquireWaitsForASlotAndHonoursCancellation(t *testing.T) {
	w := newWindow(1)
	if err := w.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() { got <- w.acquire(ctx) }()
	cancel()
	if err := <-got; err == nil {
		t.Fatal("acquire on a full window returned a slot after its context was cancelled")
	}
	go func() { got <- w.acquire(context.Background()) }()
	w.release(false)
	if err := <-got; err != nil {
		t.Fatalf("acquire after a release: %v", err)
	}
}

// paceClock is a settable clock for the adaptive rate.
type paceClock struct{ t time.Time }

func (c *paceClock) now() time.Time { return c.t }

func TestPace_CutsOncePerRoundTripAndRecoversAdditively(t *testing.T) {
	clk := &paceClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	p := newPace(100, clk.now)
	sent := clk.t
	clk.t = clk.t.Add(10 * time.Millisecond)
	if cut, r := p.throttled(sent); !cut || r != 100*paceDecrease {
		t.Fatalf("first 429: cut %t, rate %g; want a cut to %g", cut, r, 100*paceDecrease)
	}
	// A 429 to a request sent after the cut, but at once: the gateway is
	// still paying off the same overload.
	first := sent
	clk.t = clk.t.Add(time.Millisecond)
	sent = clk.t
	if cut, _ := p.throttled(sent); cut {
		t.Fatalf("a second cut %s after the first, want at most one per %s", time.Millisecond, paceCutInterval)
	}
	// More 429s for requests sent before the cut: the same overload.
	for range 5 {
		clk.t = clk.t.Add(paceCutInterval)
		if cut, _ := p.throttled(first); cut {
			t.Fatal("a 429 to a request sent before the cut cut the rate again")
		}
	}
	want := 100 * paceDecrease * paceDecrease
	if cut, r := p.throttled(sent); !cut || r != want {
		t.Fatalf("a 429 to a request sent after the cut: cut %t, rate %g; want %g", cut, r, want)
	}
	// Additive: each answer adds paceIncrease × the rate before the cut (80)
	// ÷ the rate, so about 12 req/s per second's worth (64–100) of answers:
	// from 64 to 100 in about 3 seconds' worth, ~250 answers.
	answers := 0
	for p.current() < 100 {
		p.answered()
		answers++
		if answers > 10_000 {
			t.Fatal("the rate never recovered")
		}
	}
	if answers < 150 || answers > 400 {
		t.Errorf("recovering from %g to 100 took %d answers, want additive increase (~250)", want, answers)
	}
	for range 100 {
		p.answered()
	}
	if got := p.current(); got != 100 {
		t.Errorf("rate %g after recovery, want the configured 100 and never more", got)
	}
	if cuts, lowest := p.stats(); cuts != 2 || lowest != want {
		t.Errorf("stats: %d cuts, lowest %g; want 2 and %g", cuts, lowest, want)
	}
}

func TestPace_CutsFromTheMeasuredRateAndNeverBelowTheFloor(t *testing.T) {
	clk := &paceClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	p := newPace(1000, clk.now)
	// 20 requests a second for 2 seconds: the limit of 1000 is not what
	// the platform saw.
	for range 40 {
		clk.t = clk.t.Add(50 * time.Millisecond)
		p.sends.add(clk.t)
	}
	// The limit was not binding: the cut goes towards the measured rate,
	// but halves the limit at most.
	if cut, r := p.throttled(clk.t.Add(-time.Millisecond)); !cut || r != 500 {
		t.Fatalf("cut %t to %g, want 500 (half the limit: the measured 20/s spans idling)", cut, r)
	}
	clk.t = clk.t.Add(paceCutInterval)
	for range 5 {
		clk.t = clk.t.Add(50 * time.Millisecond)
		p.sends.add(clk.t)
	}
	clk.t = clk.t.Add(paceCutInterval)
	if cut, r := p.throttled(clk.t.Add(-time.Millisecond)); !cut || r != 250 {
		t.Fatalf("second cut %t to %g, want 250", cut, r)
	}
	// The platform served 200 a second: no cut goes below 0.8 × that.
	for range 200 {
		clk.t = clk.t.Add(5 * time.Millisecond)
		p.answered()
	}
	p.rate = 220
	clk.t = clk.t.Add(paceCutInterval)
	if cut, r := p.throttled(clk.t.Add(-time.Millisecond)); !cut || r < 200*paceDecrease-10 || r > 200*paceDecrease+10 {
		t.Fatalf("cut %t to %g, want about %g × the 200/s the platform served", cut, r, paceDecrease)
	}
	for range 20 {
		clk.t = clk.t.Add(time.Second)
		p.throttled(clk.t.Add(-time.Millisecond))
	}
	if got := p.current(); got != paceFloor {
		t.Errorf("after many cuts the rate is %g, want the floor %g", got, paceFloor)
	}
	if newPace(0, clk.now) != nil {
		t.Error("rate_limit 0 has an adaptive limit; want none")
	}
}
