package service

import (
	"slices"
	gosync "sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
)

// newTestRunner returns a runner whose ordinary runs end at once, and the
// reasons of those that ran.
func newTestRunner(t *testing.T) (*Runner, func() []string) {
	t.Helper()
	var mu gosync.Mutex
	var ran []string
	r := NewRunner(func(reason string) {
		mu.Lock()
		ran = append(ran, reason)
		mu.Unlock()
	}, nil, zap.NewNop(), NewMetrics("test"))
	t.Cleanup(r.Wait)
	return r, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(ran)
	}
}

// startHeldRun starts a run (an event run when event is set) that holds
// until the returned channel is closed, and fails the test if the runner
// does not start it.
func startHeldRun(t *testing.T, r *Runner, event bool) chan struct{} {
	t.Helper()
	release := make(chan struct{})
	if !r.Go(event, func() { <-release }) {
		t.Fatal("the held run did not start")
	}
	return release
}

func TestRunner_ARunThatComesDuringAnEventRunGoesNextInsteadOfBeingSkipped(t *testing.T) {
	r, ran := newTestRunner(t)
	release := startHeldRun(t, r, true)
	r.Trigger("schedule")
	r.Trigger("schedule") // a second tick meanwhile: still one run next
	r.mu.Lock()
	deferred := r.deferred
	r.mu.Unlock()
	if deferred != "schedule" {
		t.Fatalf("deferred = %q, want the scheduled run", deferred)
	}
	close(release)
	r.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	if got := ran(); !slices.Equal(got, []string{"schedule"}) || r.busy || r.deferred != "" || r.eventRun {
		t.Errorf("after the event run: ran %q, busy %v, deferred %q, event run %v; want the scheduled run done and the runner idle",
			got, r.busy, r.deferred, r.eventRun)
	}
	if got := counterValue(t, r.m.Skipped); got != 0 {
		t.Errorf("dirsync_runs_skipped_total = %g, want 0", got)
	}
}

func TestRunner_ARunThatComesDuringAnOrdinaryRunIsSkipped(t *testing.T) {
	r, ran := newTestRunner(t)
	release := startHeldRun(t, r, false)
	r.Trigger("schedule")
	close(release)
	r.Wait()
	if got := counterValue(t, r.m.Skipped); got != 1 || r.deferred != "" || len(ran()) != 0 {
		t.Errorf("skipped %g, deferred %q, ran %q; want the tick skipped", got, r.deferred, ran())
	}
}

func TestRunner_NoRunStartsOnceStopping(t *testing.T) {
	r, ran := newTestRunner(t)
	release := startHeldRun(t, r, true)
	r.Trigger("schedule") // deferred after the event run
	r.Stop()
	close(release)
	r.Wait()
	r.Trigger("schedule")
	if r.Go(true, func() { t.Error("an event run started after Stop") }) {
		t.Error("Go started a run after Stop")
	}
	r.Wait()
	if got := ran(); len(got) != 0 {
		t.Errorf("ran %q after Stop, want none (the deferred run included)", got)
	}
}

func TestRunner_TellsIdleWhenTheRunsAreOver(t *testing.T) {
	idle := make(chan struct{}, 4)
	r := NewRunner(func(string) {}, func() { idle <- struct{}{} }, zap.NewNop(), NewMetrics("test"))
	release := startHeldRun(t, r, true)
	r.Trigger("schedule")
	close(release)
	r.Wait()
	<-idle // after the deferred run, not between the two
	if len(idle) != 0 {
		t.Errorf("idle told %d more times, want once after the last run", len(idle))
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
