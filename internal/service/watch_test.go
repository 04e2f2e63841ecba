package service

import (
	"context"
	"slices"
	"testing"

	"go.uber.org/zap"

	"github.com/dirsync/dirsync/ldapsource"
)

// memMeta is a metaStore in memory.
type memMeta map[string]string

func (m memMeta) GetMeta(_ context.Context, k string) (string, bool, error) {
	v, ok := m[k]
	return v, ok, nil
}

func (m memMeta) SetMeta(_ context.Context, k, v string) error {
	m[k] = v
	return nil
}

func newTestWatcher() *Watcher {
	return &Watcher{
		d: WatchDeps{Metrics: NewMetrics("test")}, log: zap.NewNop(), kick: make(chan struct{}, 1),
		ids: map[string]bool{}, dns: map[string]bool{}, cookies: map[string][]byte{},
		resync: map[string]bool{}, connected: map[string]bool{},
	}
}

func TestWatcher_AnEventRunKeepsNoCookieOfAStreamAwaitingAFullRead(t *testing.T) {
	w := newTestWatcher()
	w.onChange(ldapsource.Change{Stream: "a", IDs: []string{"1"}, Cookie: []byte("a1")})
	w.onChange(ldapsource.Change{Stream: "b", Resync: true, Cookie: []byte("b1")})
	w.onChange(ldapsource.Change{Stream: "b", IDs: []string{"2"}, Cookie: []byte("b2")})

	ev := w.take(false)
	slices.Sort(ev.ids)
	if !slices.Equal(ev.ids, []string{"1", "2"}) || len(ev.resync) != 0 {
		t.Fatalf("event take: ids %v, resync %v", ev.ids, ev.resync)
	}
	if _, ok := ev.cookies["b"]; ok || string(ev.cookies["a"]) != "a1" {
		t.Errorf("event take cookies %q: want a's only (b awaits a full read)", ev.cookies)
	}
	meta := memMeta{}
	if err := w.saveCookies(context.Background(), meta, ev); err != nil {
		t.Fatal(err)
	}
	if _, ok := meta["b"]; ok || meta["a"] == "" {
		t.Errorf("kept cookies %v", meta)
	}

	// The full read takes b's cookie and its resync; when it fails, the
	// resync goes back and b's cookie is still not kept.
	full := w.take(true)
	if !full.resync["b"] || string(full.cookies["b"]) != "b2" {
		t.Fatalf("full take: %+v", full)
	}
	w.giveBack(full)
	if !w.resync["b"] {
		t.Errorf("a failed full read lost the resync")
	}
	full = w.take(true)
	if err := w.saveCookies(context.Background(), meta, full); err != nil {
		t.Fatal(err)
	}
	if meta["b"] == "" || len(w.resync) != 0 {
		t.Errorf("after a full read: kept %v, resync %v", meta, w.resync)
	}
}

func TestWatcher_AFailedEventRunGivesItsEventsBack(t *testing.T) {
	w := newTestWatcher()
	w.onChange(ldapsource.Change{Stream: "a", IDs: []string{"1"}, DNs: []string{"uid=x,dc=example,dc=com"}, Cookie: []byte("a1")})
	ev := w.take(false)
	w.onChange(ldapsource.Change{Stream: "a", IDs: []string{"3"}, Cookie: []byte("a2")})
	w.giveBack(ev)
	again := w.take(false)
	slices.Sort(again.ids)
	if !slices.Equal(again.ids, []string{"1", "3"}) || len(again.dns) != 1 || string(again.cookies["a"]) != "a2" {
		t.Errorf("after give-back: %+v", again)
	}
	if d := w.backoff(); d != watchRetryMin {
		t.Errorf("first retry in %v, want %v", d, watchRetryMin)
	}
	if d := w.backoff(); d != 2*watchRetryMin {
		t.Errorf("second retry in %v, want %v", d, 2*watchRetryMin)
	}
	w.retry.Stop()
}
