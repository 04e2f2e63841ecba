package service

import (
	"context"
	gosync "sync"
	"testing"
	"time"
)

// fakeClock is a Clock that moves only when told. Each timer made is sent
// on made, so that a test knows when the code under test waits.
type fakeClock struct {
	mu     gosync.Mutex
	now    time.Time
	timers []*fakeTimer
	made   chan *fakeTimer
}

type fakeTimer struct {
	at      time.Time
	c       chan time.Time
	stopped bool
}

func newFakeClock(now time.Time) *fakeClock {
	return &fakeClock{now: now, made: make(chan *fakeTimer, 16)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	t := &fakeTimer{at: c.now.Add(d), c: make(chan time.Time, 1)}
	c.timers = append(c.timers, t)
	c.mu.Unlock()
	c.made <- t
	return &fakeTimerHandle{c: c, t: t}
}

// set moves the clock to now and fires the timers whose time has come.
func (c *fakeClock) set(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
	kept := c.timers[:0]
	for _, t := range c.timers {
		if !t.stopped && !t.at.After(now) {
			t.c <- now
			continue
		}
		if !t.stopped {
			kept = append(kept, t)
		}
	}
	c.timers = kept
}

type fakeTimerHandle struct {
	c *fakeClock
	t *fakeTimer
}

func (h *fakeTimerHandle) C() <-chan time.Time { return h.t.c }

func (h *fakeTimerHandle) Stop() bool {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	was := !h.t.stopped && len(h.t.c) == 0
	h.t.stopped = true
	return was
}

// startScheduler starts a scheduler on spec at clock, sending each fire on
// the returned channel, until the test ends.
func startScheduler(t *testing.T, spec string, clock *fakeClock) (*Scheduler, chan time.Time) {
	t.Helper()
	fired := make(chan time.Time, 16)
	s, err := NewScheduler(spec, func() { fired <- clock.Now() }, clock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Start after its context is done: %v, want nil", err)
		}
	})
	return s, fired
}

func TestScheduler_FiresAtTheScheduleTimesOnly(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 3, 4, h, m, 0, 0, time.Local) }
	clock := newFakeClock(at(10, 7))
	s, fired := startScheduler(t, "*/15 * * * *", clock)
	timer := <-clock.made
	if want := at(10, 15); !timer.at.Equal(want) || !s.Next().Equal(want) {
		t.Fatalf("waits until %s (next %s), want %s", timer.at, s.Next(), want)
	}
	clock.set(at(10, 14))
	clock.set(at(10, 15))
	if got := <-fired; !got.Equal(at(10, 15)) {
		t.Fatalf("fired at %s, want 10:15", got)
	}
	if timer = <-clock.made; !timer.at.Equal(at(10, 30)) {
		t.Fatalf("after 10:15, waits until %s, want 10:30", timer.at)
	}
	if len(fired) != 0 {
		t.Fatalf("fired %d more times at 10:15, want once", len(fired))
	}
}

func TestScheduler_ANewScheduleIsInForceAtOnce(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 3, 4, h, m, 0, 0, time.Local) }
	clock := newFakeClock(at(10, 7))
	s, fired := startScheduler(t, "*/15 * * * *", clock)
	<-clock.made
	if err := s.SetSchedule("not a schedule"); err == nil {
		t.Fatal("SetSchedule took an invalid schedule")
	}
	if err := s.SetSchedule("0 * * * *"); err != nil {
		t.Fatal(err)
	}
	if timer := <-clock.made; !timer.at.Equal(at(11, 0)) {
		t.Fatalf("after the new schedule, waits until %s, want 11:00", timer.at)
	}
	clock.set(at(10, 30)) // a time of the old schedule only
	clock.set(at(11, 0))
	if got := <-fired; !got.Equal(at(11, 0)) {
		t.Fatalf("fired at %s, want 11:00 only", got)
	}
}

func TestScheduler_AClockSetBackDoesNotFireEarly(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 3, 4, h, m, 0, 0, time.Local) }
	clock := newFakeClock(at(10, 7))
	_, fired := startScheduler(t, "*/15 * * * *", clock)
	timer := <-clock.made
	// The timer fires (its duration has passed) but the wall clock says it
	// is still before 10:15: the scheduler waits again for 10:15.
	clock.mu.Lock()
	timer.c <- at(10, 15)
	timer.stopped = true
	clock.now = at(10, 10)
	clock.mu.Unlock()
	if timer = <-clock.made; !timer.at.Equal(at(10, 15)) {
		t.Fatalf("after an early timer, waits until %s, want 10:15", timer.at)
	}
	if len(fired) != 0 {
		t.Fatal("fired before 10:15")
	}
	clock.set(at(10, 15))
	<-fired
}
