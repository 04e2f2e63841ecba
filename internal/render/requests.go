package render

import (
	"fmt"
	"io"
	"net/http"
	gosync "sync"

	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/target"
)

// RequestPrinter prints each platform request's outcome as it comes.
type RequestPrinter struct {
	mu *gosync.Mutex
	w  io.Writer
}

func NewRequestPrinter(w io.Writer) RequestPrinter { return RequestPrinter{mu: &gosync.Mutex{}, w: w} }

func (p RequestPrinter) Change(dsync.Change, error) {}

func (p RequestPrinter) Request(a target.Attempt) {
	p.mu.Lock()
	defer p.mu.Unlock()
	outcome := fmt.Sprintf("%d %s", a.Status, http.StatusText(a.Status))
	if a.Status == 0 {
		outcome = fmt.Sprintf("no answer: %v", a.Err)
	}
	fmt.Fprintf(p.w, "  %s %s → %s  (%s)\n", a.Method, a.URL, outcome, a.Op)
}
