package service

import (
	"context"
	gosync "sync"
	"time"

	"github.com/robfig/cron/v3"
)

// Scheduler is the Runnable that calls fire at the times of a cron
// schedule (the config's schedule key), until its context is done. A fire
// whose time comes while the previous one is still being called waits for
// it: fire should only start a run, not make it.
type Scheduler struct {
	fire  func()
	clock Clock

	mu      gosync.Mutex
	sched   cron.Schedule
	changed chan struct{} // the schedule changed: wake Start
}

// NewScheduler returns a scheduler calling fire on the cron schedule spec
// ("*/15 * * * *", "@hourly"), at clock's times.
func NewScheduler(spec string, fire func(), clock Clock) (*Scheduler, error) {
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, err
	}
	return &Scheduler{fire: fire, clock: clock, sched: sched, changed: make(chan struct{}, 1)}, nil
}

// SetSchedule puts spec in force from now on, unless it is invalid.
func (s *Scheduler) SetSchedule(spec string) error {
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.sched = sched
	s.mu.Unlock()
	select {
	case s.changed <- struct{}{}:
	default:
	}
	return nil
}

// Next is the next time of the schedule in force.
func (s *Scheduler) Next() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sched.Next(s.clock.Now())
}

// Start calls fire at each time of the schedule until ctx is done.
func (s *Scheduler) Start(ctx context.Context) error {
	for {
		s.mu.Lock()
		now := s.clock.Now()
		next := s.sched.Next(now)
		s.mu.Unlock()
		t := s.clock.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-s.changed:
			t.Stop()
		case <-t.C():
			// A clock set back meanwhile: the time has not come yet.
			if !s.clock.Now().Before(next) {
				s.fire()
			}
		}
	}
}
