package render

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/config"
	dsync "github.com/dirsync/dirsync/sync"
)

func TestProgress_NoRateBeforeASecondHasPassed(t *testing.T) {
	var out strings.Builder
	p := NewTerminalProgress(&out)
	now, advance := steppedClock()
	p.now = now

	advance(time.Microsecond)
	p.Page(26) // no clock move between the phase's start and its first page
	if !strings.HasSuffix(out.String(), "\r\033[K  fetch: 26 directory entries read") {
		t.Errorf("fetch line at once: %q, want the count alone", out.String())
	}
	advance(300 * time.Millisecond)
	p.Page(26)
	if strings.Contains(out.String(), "/s") {
		t.Errorf("a rate within the first second: %q", out.String())
	}
	advance(time.Second)
	p.Page(78)
	if !strings.HasSuffix(out.String(), "\r\033[K  fetch: 130 directory entries read (100/s)") {
		t.Errorf("fetch line after a second: %q", out.String())
	}

	p.Plan(dsync.Plan{Changes: make([]dsync.Change, 4)})
	if !strings.HasSuffix(out.String(), "\r\033[K  apply: 0/4 changes") {
		t.Errorf("apply line at once: %q, want no rate and no ETA", out.String())
	}
}

func TestProgress_LogLineClearsTheProgressLineFirst(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = w
	t.Cleanup(func() { os.Stderr = stderr })

	p := NewTerminalProgress(os.Stderr)
	log, err := NewLogger(config.Log{Level: "info", Format: "console"})
	if err != nil {
		t.Fatal(err)
	}
	p.Page(100)
	log.Warn("the directory is slow")
	w.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	i := strings.Index(got, "the directory is slow")
	if i < 0 {
		t.Fatalf("no log line in %q", got)
	}
	if cleared := strings.Index(got, "  fetch: 100 directory entries read\r\033[K"); cleared < 0 || cleared > i {
		t.Errorf("the log line was not written on a cleared line: %q", got)
	}
}
