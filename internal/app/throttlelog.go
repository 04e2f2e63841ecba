package app

import (
	"math"
	gosync "sync"

	"go.uber.org/zap"

	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/target"
)

// throttleLog logs how the platform client adapts to throttling without
// flooding the log: the first slow-down of a run at info, later ones at
// debug, and one summary line when the run ends.
type throttleLog struct {
	log *zap.Logger

	mu      gosync.Mutex
	answers int64 // 429 answers seen by the request observer
	cuts    int
	lowest  float64 // the lowest rate limit cut to
	maxRate float64
}

func newThrottleLog(log *zap.Logger) *throttleLog {
	return &throttleLog{log: log.With(zap.String(keyComponent, "target"))}
}

// event is the client's target.WithThrottleObserver.
func (l *throttleLog) event(e target.ThrottleEvent) {
	l.mu.Lock()
	first := e.Cut && l.cuts == 0
	if e.Cut {
		l.cuts++
		if first || e.Rate < l.lowest {
			l.lowest = e.Rate
		}
		l.maxRate = e.MaxRate
	}
	l.mu.Unlock()
	fields := []zap.Field{
		zap.Float64("rate", round1(e.Rate)), zap.Float64("max_rate", e.MaxRate),
		zap.Int("concurrency", e.Concurrency), zap.Int64("throttled", e.Throttled),
	}
	switch {
	case first:
		l.log.Info("the platform is throttling: slowing down (the rate limit is regained as answers succeed)",
			append(fields, zap.Int("status", e.Status), zap.String("retry_after", e.RetryAfter))...)
	case e.Cut:
		l.log.Debug("platform throttling: rate limit cut", append(fields, zap.Int("status", e.Status), zap.String("retry_after", e.RetryAfter))...)
	case e.Recovered:
		l.log.Debug("platform throttling: back at target.rate_limit", fields...)
	}
}

// change is part of observer; throttling is about requests only.
func (l *throttleLog) Change(dsync.Change, error) {}

// request counts the 429 answers, retried ones included.
func (l *throttleLog) Request(a target.Attempt) {
	if a.Status == 429 {
		l.mu.Lock()
		l.answers++
		l.mu.Unlock()
	}
}

// summary logs one line when the platform throttled this run, and starts
// counting afresh for the next run of a client that outlives the run.
func (l *throttleLog) summary() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.answers == 0 && l.cuts == 0 {
		return
	}
	l.log.Info("platform throttling summary",
		zap.Int64("answers_429", l.answers), zap.Int("rate_cuts", l.cuts),
		zap.Float64("lowest_rate", round1(l.lowest)), zap.Float64("max_rate", l.maxRate))
	l.answers, l.cuts, l.lowest, l.maxRate = 0, 0, 0, 0
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }
