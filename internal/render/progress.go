package render

import (
	"fmt"
	"io"
	"os"
	gosync "sync"
	"time"

	"go.uber.org/zap"

	svc "github.com/dirsync/dirsync/internal/service"
	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/target"
)

// progress reports a run's fetch (directory entries read) and apply (changes
// done of the plan's) as they go: on a terminal, one line redrawn in place at
// most every tick; otherwise (the service), a log line every tick.
type Progress struct {
	tty  *termLine   // the terminal, or nil
	log  *zap.Logger // when not on a terminal
	tick time.Duration
	now  func() time.Time

	mu      gosync.Mutex
	phase   string
	done    int
	total   int // 0 while unknown (fetch)
	started time.Time
	shown   time.Time
}

// minRateWindow is how long a phase runs before its rate (and ETA) is shown:
// over a shorter time the rate says nothing (a first page read in a few
// microseconds made millions a second).
const minRateWindow = time.Second

func NewTerminalProgress(w io.Writer) *Progress {
	return &Progress{tty: Terminal(w), tick: 200 * time.Millisecond, now: time.Now}
}

func NewLogProgress(log *zap.Logger, every time.Duration) *Progress {
	return &Progress{log: log, tick: every, now: time.Now}
}

func (p *Progress) Page(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.phase != svc.PhaseFetch {
		p.phase, p.done, p.total, p.started = svc.PhaseFetch, 0, 0, p.now()
	}
	p.done += n
	p.showLocked(false)
}

func (p *Progress) Plan(pl dsync.Plan) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	p.phase, p.done, p.total, p.started = svc.PhaseApply, 0, pl.Size(), p.now()
	p.showLocked(true)
}

func (p *Progress) Change(dsync.Change, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.phase != svc.PhaseApply {
		return // an update applied during the read: the fetch's count is of entries
	}
	p.done++
	p.showLocked(p.done == p.total)
}

func (p *Progress) Request(target.Attempt) {}

// Finish clears the terminal line, if one is drawn.
func (p *Progress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
}

func (p *Progress) clearLocked() {
	if p.tty != nil {
		p.tty.clear()
	}
}

// showLocked reports the progress if a tick has passed since the last report,
// or when forced.
func (p *Progress) showLocked(force bool) {
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
		if p.phase == svc.PhaseFetch {
			line += " directory entries read"
		} else {
			line += fmt.Sprintf("/%d changes", p.total)
		}
		if elapsed >= minRateWindow {
			line += fmt.Sprintf(" (%.0f/s", rate)
			if p.total > 0 {
				line += fmt.Sprintf(", ETA %s", eta)
			}
			line += ")"
		}
		p.tty.draw(line)
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

// termLine is a terminal whose last line progress redraws in place. Every
// write to the terminal goes through it (the logger's too), and a write first
// clears a drawn line: a log line then starts at the left margin instead of
// after the progress text.
type termLine struct {
	mu    gosync.Mutex
	w     io.Writer
	drawn bool
}

var (
	terminalsMu gosync.Mutex
	terminals   = map[*os.File]*termLine{}
)

// Terminal returns the termLine writing to w: for a file, the one for that
// file, so that the progress line and the logger writing to the same stderr
// share it.
func Terminal(w io.Writer) *termLine {
	f, ok := w.(*os.File)
	if !ok {
		if t, ok := w.(*termLine); ok {
			return t
		}
		return &termLine{w: w}
	}
	terminalsMu.Lock()
	defer terminalsMu.Unlock()
	t, ok := terminals[f]
	if !ok {
		t = &termLine{w: f}
		terminals[f] = t
	}
	return t
}

func (t *termLine) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.clearLocked()
	return t.w.Write(b)
}

// Sync flushes w when it can be (a file).
func (t *termLine) Sync() error {
	if s, ok := t.w.(interface{ Sync() error }); ok {
		_ = s.Sync() // a terminal cannot be synced: not an error worth a log line
	}
	return nil
}

// draw replaces the last line with line.
func (t *termLine) draw(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprint(t.w, "\r\033[K"+line)
	t.drawn = true
}

// clear erases a drawn line.
func (t *termLine) clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.clearLocked()
}

func (t *termLine) clearLocked() {
	if t.drawn {
		fmt.Fprint(t.w, "\r\033[K")
		t.drawn = false
	}
}

// IsTerminal reports whether f is a character device (a terminal).
func IsTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
