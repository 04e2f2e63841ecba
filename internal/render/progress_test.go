package render

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	zapobserver "go.uber.org/zap/zaptest/observer"

	dsync "github.com/dirsync/dirsync/sync"
)

// steppedClock returns a clock the test moves with its second result.
func steppedClock() (func() time.Time, func(time.Duration)) {
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time { return t }, func(d time.Duration) { t = t.Add(d) }
}

func TestProgress_TerminalLineShowsCountRateAndETA(t *testing.T) {
	var out strings.Builder
	p := NewTerminalProgress(&out)
	now, advance := steppedClock()
	p.now = now

	p.Page(100)
	advance(time.Second)
	p.Page(100)
	if !strings.HasSuffix(out.String(), "\r\033[K  fetch: 200 directory entries read (200/s)") {
		t.Errorf("fetch line: %q", out.String())
	}

	p.Plan(dsync.Plan{Changes: make([]dsync.Change, 4)})
	for range 2 {
		advance(time.Second)
		p.Change(dsync.Change{}, nil)
	}
	if !strings.HasSuffix(out.String(), "\r\033[K  apply: 2/4 changes (1/s, ETA 2s)") {
		t.Errorf("apply line: %q", out.String())
	}
	p.Finish()
	if !strings.HasSuffix(out.String(), ")\r\033[K") {
		t.Errorf("finish does not clear the line: %q", out.String())
	}
}

func TestProgress_ServiceLogsEveryTickOnly(t *testing.T) {
	core, logs := zapobserver.New(zap.InfoLevel)
	p := NewLogProgress(zap.New(core), 30*time.Second)
	now, advance := steppedClock()
	p.now = now

	p.Page(100) // starts the clock: nothing logged yet
	advance(10 * time.Second)
	p.Page(100)
	if n := logs.Len(); n != 0 {
		t.Fatalf("%d progress lines within the first tick", n)
	}
	advance(21 * time.Second)
	p.Page(100)
	got := logs.FilterMessage("progress").All()
	if len(got) != 1 {
		t.Fatalf("%d progress lines after a tick, want 1", len(got))
	}
	f := got[0].ContextMap()
	if f["phase"] != "fetch" || f["done"] != int64(300) {
		t.Errorf("progress fields %v", f)
	}

	p.Plan(dsync.Plan{Changes: make([]dsync.Change, 10)})
	advance(31 * time.Second)
	p.Change(dsync.Change{}, nil)
	got = logs.FilterMessage("progress").All()
	if len(got) != 2 || got[1].ContextMap()["total"] != int64(10) || got[1].ContextMap()["eta"] == nil {
		t.Errorf("apply progress lines %v, want one with total and eta", got)
	}
}
