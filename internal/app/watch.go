package app

import (
	"context"
	"fmt"
	"os"

	"go.uber.org/zap"

	svc "github.com/dirsync/dirsync/internal/service"
	"github.com/dirsync/dirsync/state"
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
func (s *Daemon) startWatcher(cfg Config) *watcher {
	if !s.leading() {
		return nil // the leader's (see leader.go)
	}
	w := svc.NewWatcher(cfg.LDAP, svc.WatchDeps{
		Log:      s.root.With(zap.String(keyComponent, "watch")),
		Metrics:  s.m,
		Runner:   s.runner,
		RunCtx:   s.termRunCtx(),
		FullRead: func() { s.runOnce("watch: full read") },
		OpenRun: func(ctx context.Context) (svc.EventRun, error) {
			apps, err := s.wire(ctx, s.config())
			if err != nil {
				return nil, err
			}
			return eventRun{appSet(apps), s}, nil
		},
		Settle:   func(string) {}, // each target's, by eventRun
		OpenMeta: s.openMeta(cfg),
		Summary:  SummaryFields,
	})
	if w == nil {
		return nil
	}
	return &watcher{Watcher: w, halt: s.background(s.runCtx, "watch", w)}
}

// eventRun is the targets' apps as the watcher's change-event run: each
// target re-reads and applies the changes, and its platform client is
// settled by its own outcome.
type eventRun struct {
	appSet
	s *Daemon
}

func (r eventRun) RunEvents(ctx context.Context, ro dsync.RunOptions, ids, dns []string) (dsync.Report, error) {
	res := RunEach(r.appSet, func(a *App) (dsync.Report, error) { return a.Engine.RunEvents(ctx, ro, ids, dns) })
	for _, x := range res {
		r.s.settlePlatform(x.App.Name, x.Outcome())
	}
	return Merge(res)
}

// fullReadTake is what an ordinary run takes from the watcher, if one is
// running: every event and cookie gathered before its directory read (see
// svc.Watcher.FullReadTake).
func (s *Daemon) fullReadTake() *svc.WatchTake {
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
func (s *Daemon) fullReadDone(ctx context.Context, apps []*App, t *svc.WatchTake, ok bool) {
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
	if len(apps) > 0 {
		ms = appSet(apps)
	}
	w.FullReadDone(ctx, ms, t, ok)
}

// openMeta opens the meta of cfg's snapshot for the watcher (see
// svc.WatchDeps.OpenMeta): the first target's, where the streams' cookies
// are read back (every target's snapshot keeps them) and their refusals
// recorded; with postgres, under the leader's lease.
func (s *Daemon) openMeta(cfg Config) func(ctx context.Context, readOnly bool) (svc.Meta, error) {
	st := cfg.TargetList()[0].State
	return func(ctx context.Context, readOnly bool) (svc.Meta, error) {
		if st.Driver != state.DriverPostgres && readOnly {
			if _, err := os.Stat(st.Path); err != nil {
				return nil, fmt.Errorf("state: %w", err)
			}
		}
		return openStore(s.withLease(ctx), st, readOnly)
	}
}
