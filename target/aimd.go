package target

import (
	"context"
	"math"
	gosync "sync"
)

// window is an adaptive bound on the requests in flight: additive increase,
// multiplicative decrease (AIMD), after a slow start (see slowStart). A
// throttled answer (429, or a 503 with Retry-After) halves it, at most once
// per window's worth of answers; every other answer grows it by 1/window, so
// it regains one slot per full window of successes, up to the configured
// concurrency. Against a throttled platform the
// client settles near the concurrency the platform allows instead of
// hammering it or stalling.
type window struct {
	mu       gosync.Mutex
	limit    float64
	max      float64
	inFlight int
	// cooldown counts the answers still to come, after a decrease, from
	// requests sent before it: they do not decrease the window again.
	cooldown int
	// slowStart: until the first throttled answer, the window starts at
	// windowStart and grows by one per answer (doubling per round trip), so
	// that a run does not open with a burst of target.concurrency requests
	// at once.
	slowStart bool
	changed   chan struct{}
}

// windowStart is the window's size at the start.
const windowStart = 2

func newWindow(n int) *window {
	n = max(n, 1)
	return &window{limit: float64(min(n, windowStart)), max: float64(n), slowStart: true, changed: make(chan struct{})}
}

// acquire waits for a slot.
func (w *window) acquire(ctx context.Context) error {
	for {
		w.mu.Lock()
		if float64(w.inFlight) < math.Floor(w.limit) {
			w.inFlight++
			w.mu.Unlock()
			return nil
		}
		ch := w.changed
		w.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release frees a slot and adapts the window to the answer.
func (w *window) release(throttled bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.inFlight--
	switch {
	case throttled && w.cooldown == 0:
		w.slowStart = false
		w.limit = max(1, w.limit/2)
		w.cooldown = w.inFlight
	case w.slowStart:
		w.limit = min(w.max, w.limit+1)
	case throttled:
		w.cooldown--
	default:
		w.cooldown = max(w.cooldown-1, 0)
		w.limit = min(w.max, w.limit+1/w.limit)
	}
	close(w.changed)
	w.changed = make(chan struct{})
}

// abandon frees a slot that was not used to send a request, without adapting.
func (w *window) abandon() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.inFlight--
	close(w.changed)
	w.changed = make(chan struct{})
}

// size returns the current bound.
func (w *window) size() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return int(math.Floor(w.limit))
}
