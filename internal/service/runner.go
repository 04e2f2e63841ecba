package service

import (
	gosync "sync"

	"go.uber.org/zap"
)

// Runner runs the service's runs one at a time: the scheduled ones, the one
// at start-up and the change-event runs of ldap.watch. A run that comes
// while another is going is skipped (and counted), except that an ordinary
// run that comes during a change-event run goes next, so that a steady
// stream of changes cannot keep the scheduled runs from ever running.
type Runner struct {
	run  func(reason string) // an ordinary run
	idle func()              // told when the runs are over: more work may wait
	log  *zap.Logger
	m    *Metrics

	mu       gosync.Mutex
	busy     bool   // a run is going
	stopping bool   // no run starts any more
	eventRun bool   // the run going is a change-event run
	deferred string // the reason of a run that waits for the event run going
	runs     gosync.WaitGroup
}

// NewRunner returns a runner whose ordinary runs call run with their
// reason. idle, if not nil, is called when a run ends and none follows it.
func NewRunner(run func(reason string), idle func(), log *zap.Logger, m *Metrics) *Runner {
	return &Runner{run: run, idle: idle, log: log, m: m}
}

// Trigger starts an ordinary run for reason unless one is going (then it is
// skipped, or deferred after a change-event run) or the runner is stopping.
func (r *Runner) Trigger(reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.stopping:
	case !r.busy:
		r.busy = true
		r.launch(false, func() { r.run(reason) })
	case r.eventRun:
		if r.deferred == "" {
			r.log.Info("run deferred: a change-event run is going; this run goes next", zap.String("reason", reason))
		}
		r.deferred = reason
	default:
		r.m.Skipped.Inc()
		r.log.Warn("run skipped: the previous run is still going", zap.String("reason", reason))
	}
}

// Go runs fn as the one run going (event: a change-event run), unless a run
// is going or the runner is stopping, and reports whether it did.
func (r *Runner) Go(event bool, fn func()) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopping || r.busy {
		return false
	}
	r.busy = true
	r.launch(event, fn)
	return true
}

// launch runs fn in the background as the run going; busy is held and r.mu
// locked. When fn ends, a run deferred meanwhile starts at once (busy passes
// to it); otherwise busy is released and idle is told, so that work that
// came meanwhile is handled.
func (r *Runner) launch(event bool, fn func()) {
	r.eventRun = event
	r.runs.Add(1)
	go func() {
		defer r.runs.Done()
		fn()
		r.mu.Lock()
		if next := r.deferred; next != "" && !r.stopping {
			r.deferred = ""
			r.launch(false, func() { r.run(next) })
			r.mu.Unlock()
			return
		}
		r.eventRun = false
		r.busy = false
		r.mu.Unlock()
		if r.idle != nil {
			r.idle()
		}
	}()
}

// Stop starts no run any more; the run going goes on (see Wait).
func (r *Runner) Stop() {
	r.mu.Lock()
	r.stopping = true
	r.mu.Unlock()
}

// Wait waits for the runs going, and those they hand over to, to end.
func (r *Runner) Wait() {
	r.runs.Wait()
}
