package main

import (
	"context"
	"fmt"
	"io"

	"go.uber.org/zap"

	svc "github.com/dirsync/dirsync/internal/service"
	dsync "github.com/dirsync/dirsync/sync"
)

// watcher is the change-event queue of ldap.watch (svc.Watcher) as
// `dirsync run` started it.
type watcher struct {
	*svc.Watcher
	halt func() // stops it (see startWatcher)
}

// stop stops following and waits for the stream to close.
func (w *watcher) stop() { w.halt() }

// startWatcher starts following the directory when ldap.watch asks for it.
func (s *service) startWatcher(cfg Config) *watcher {
	if !s.leading() {
		return nil // the leader's (see leader.go)
	}
	w := svc.NewWatcher(cfg.LDAP, cfg.State.Path, svc.WatchDeps{
		Log:      s.root.With(zap.String(keyComponent, "watch")),
		Metrics:  s.m,
		Runner:   s.runner,
		RunCtx:   s.termRunCtx(),
		State:    s.stateOpener(cfg),
		FullRead: func() { s.runOnce("watch: full read") },
		OpenRun: func(ctx context.Context) (svc.EventRun, error) {
			a, err := s.wire(ctx, s.config())
			if err != nil {
				return nil, err
			}
			return eventRun{a}, nil
		},
		Settle:  s.settlePlatform,
		Summary: summaryFields,
	})
	if w == nil {
		return nil
	}
	return &watcher{Watcher: w, halt: s.background(s.runCtx, "watch", w)}
}

// eventRun is a wired app as the watcher's change-event run.
type eventRun struct{ a *app }

func (r eventRun) Store() dsync.Store { return r.a.engine.Store }
func (r eventRun) Close() error       { return r.a.Close() }
func (r eventRun) RunEvents(ctx context.Context, ro dsync.RunOptions, ids, dns []string) (dsync.Report, error) {
	return r.a.engine.RunEvents(ctx, ro, ids, dns)
}

// fullReadTake is what an ordinary run takes from the watcher, if one is
// running: every event and cookie gathered before its directory read (see
// svc.Watcher.FullReadTake).
func (s *service) fullReadTake() *svc.WatchTake {
	s.mu.Lock()
	w := s.watch
	s.mu.Unlock()
	if w == nil {
		return nil
	}
	return w.FullReadTake(s.runCtx, 2*s.config().LDAP.Timeout)
}

// fullReadDone settles what an ordinary run took: on success the cookies
// are kept; otherwise the work goes back.
func (s *service) fullReadDone(ctx context.Context, a *app, t *svc.WatchTake, ok bool) {
	if t == nil {
		return
	}
	s.mu.Lock()
	w := s.watch
	s.mu.Unlock()
	if w == nil {
		return
	}
	var ms dsync.MetaStore
	if a != nil {
		ms = a.engine.Store
	}
	w.FullReadDone(ctx, ms, t, ok)
}

// writeWatchRefusals prints the refused change streams, if any.
func writeWatchRefusals(out io.Writer, list []svc.WatchRefusal) {
	for _, r := range list {
		fmt.Fprintf(out, "Change stream (ldap.watch) REFUSED by the directory since %s; changes wait for the scheduled runs:\n  %s\n\n",
			r.Since.Local().Format("2006-01-02 15:04:05"), r.Error)
	}
}
