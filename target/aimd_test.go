package target

import (
	"context"
	"testing"
)

func TestWindow_HalvesOnThrottlingOncePerWindowAndRecoversAdditively(t *testing.T) {
	w := newWindow(8)
	ctx := context.Background()
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
