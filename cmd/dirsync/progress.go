package main

import (
	"fmt"
	"io"
	gosync "sync"
	"time"

	"go.uber.org/zap"

	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/target"
)

// progress reports a run's fetch (directory entries read) and apply (changes
// done of the plan's) as they go: on a terminal, one line redrawn in place at
// most every tick; otherwise (the service), a log line every tick.
type progress struct {
	tty  io.Writer   // the terminal, or nil
	log  *zap.Logger // when not on a terminal
	tick time.Duration
	now  func() time.Time

	mu      gosync.Mutex
	phase   string
	done    int
	total   int // 0 while unknown (fetch)
	started time.Time
	shown   time.Time
	drawn   bool // a line is on the terminal
}

func newTerminalProgress(w io.Writer) *progress {
	return &progress{tty: w, tick: 200 * time.Millisecond, now: time.Now}
}

func newLogProgress(log *zap.Logger, every time.Duration) *progress {
	return &progress{log: log, tick: every, now: time.Now}
}

// attach hooks p into a's directory read and apply.
func (p *progress) attach(a *app) {
	if src, ok := a.engine.Source.(ldapSource); ok {
		src.s.OnPage = p.page
	}
	a.engine.OnPlan = p.plan
	prev := a.engine.Observe
	a.engine.Observe = func(c dsync.Change, err error) {
		if prev != nil {
			prev(c, err)
		}
		p.change(c, err)
	}
}

func (p *progress) page(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.phase != phaseFetch {
		p.phase, p.done, p.total, p.started = phaseFetch, 0, 0, p.now()
	}
	p.done += n
	p.showLocked(false)
}

func (p *progress) plan(pl dsync.Plan) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	p.phase, p.done, p.total, p.started = phaseApply, 0, len(pl.Changes), p.now()
	p.showLocked(true)
}

func (p *progress) change(dsync.Change, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.phase != phaseApply {
		return // an update applied during the read: the fetch's count is of entries
	}
	p.done++
	p.showLocked(p.done == p.total)
}

func (p *progress) request(target.Attempt) {}

// finish clears the terminal line, if one is drawn.
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
}

func (p *progress) clearLocked() {
	if p.tty != nil && p.drawn {
		fmt.Fprint(p.tty, "\r\033[K")
		p.drawn = false
	}
}

// showLocked reports the progress if a tick has passed since the last report,
// or when forced.
func (p *progress) showLocked(force bool) {
	now := p.now()
	if !force && now.Sub(p.shown) < p.tick {
		return
	}
	if p.tty == nil && !force && p.shown.IsZero() {
		// The first log line comes a tick after the phase starts: short runs
		// log none.
		p.shown = now
		return
	}
	p.shown = now
	elapsed := now.Sub(p.started)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(p.done) / elapsed.Seconds()
	}
	var eta time.Duration
	if p.total > 0 && rate > 0 {
		eta = time.Duration(float64(p.total-p.done) / rate * float64(time.Second)).Round(time.Second)
	}
	if p.tty != nil {
		line := fmt.Sprintf("  %s: %d", p.phase, p.done)
		if p.phase == phaseFetch {
			line += " directory entries read"
		} else {
			line += fmt.Sprintf("/%d changes", p.total)
		}
		line += fmt.Sprintf(" (%.0f/s", rate)
		if p.total > 0 {
			line += fmt.Sprintf(", ETA %s", eta)
		}
		fmt.Fprint(p.tty, "\r\033[K"+line+")")
		p.drawn = true
		return
	}
	if force {
		return // the run's summary line says the rest
	}
	fields := []zap.Field{zap.String("phase", p.phase), zap.Int("done", p.done), zap.Float64("per_second", rate)}
	if p.total > 0 {
		fields = append(fields, zap.Int("total", p.total), zap.Duration("eta", eta))
	}
	p.log.Info("progress", fields...)
}
