// Package gctune bounds how far the Go heap grows past its live data.
//
// The runtime's GOGC lets the heap grow by a fixed share of the live data
// between collections: at GOGC=50 a run holding 200 MB of snapshot summaries
// and duplicate-detection state (a directory of a million users) may reach
// 300 MB before a collection, though what a directory read throws away
// between two collections is a few pages of decoded entries. dirsync's live
// data is almost all pointer-free chunks, which a collection marks without
// scanning, so collecting more often costs little. Start keeps the growth
// allowed to the smaller of the share and a fixed headroom: after each
// collection it sets the GC percentage to headroom/live, never above the
// share nor below a floor.
package gctune

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Percent returns the GC percentage that lets a heap of live bytes grow by
// headroom bytes, within [floor, share].
func Percent(live, headroom uint64, floor, share int) int {
	if live == 0 {
		return share
	}
	p := int(min(headroom*100/live, uint64(share)))
	return max(p, floor)
}

// Tuner is started by Start.
type Tuner struct {
	headroom     uint64
	floor, share int

	mu      sync.Mutex
	stopped bool
	current int
	samples []metrics.Sample
}

// Start sets the GC percentage to share and, after each collection, to
// Percent(live heap, headroom, floor, share). Stop ends it.
func Start(share int, headroom uint64, floor int) *Tuner {
	t := &Tuner{headroom: headroom, floor: floor, share: share, current: share,
		samples: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	debug.SetGCPercent(share)
	t.arm()
	return t
}

// arm sets a finalizer on a fresh object, which the next collection runs:
// each run tunes and arms again.
func (t *Tuner) arm() {
	s := new(sentinel)
	runtime.SetFinalizer(s, func(*sentinel) { t.tune() })
}

type sentinel struct{ _ [16]byte } // not a tiny allocation: finalized alone

func (t *Tuner) tune() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	metrics.Read(t.samples)
	live := uint64(0)
	if v := t.samples[0].Value; v.Kind() == metrics.KindUint64 {
		live = v.Uint64()
	}
	if p := Percent(live, t.headroom, t.floor, t.share); p != t.current {
		t.current = p
		debug.SetGCPercent(p)
	}
	t.arm()
}

// Current returns the GC percentage the tuner set last.
func (t *Tuner) Current() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.current
}

// Stop stops tuning and puts the GC percentage back to share.
func (t *Tuner) Stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	debug.SetGCPercent(t.share)
}
