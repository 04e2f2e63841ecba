package service

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"
)

// Elector elects one leader among the dirsync processes that share a
// snapshot (state.driver: postgres).
type Elector interface {
	// Campaign waits until this process leads, and returns its term; it
	// returns an error when ctx ends first, or when it cannot go on trying.
	Campaign(ctx context.Context) (Term, error)
}

// ElectorFunc is a function that is an Elector.
type ElectorFunc func(ctx context.Context) (Term, error)

// Campaign calls f.
func (f ElectorFunc) Campaign(ctx context.Context) (Term, error) { return f(ctx) }

// Term is one period of leadership (a lease, state/postgres.Lease).
type Term interface {
	// Lost is closed when the term ended: the lease expired, was taken over
	// or was released.
	Lost() <-chan struct{}
	// Err says why the term ended; nil while it goes on.
	Err() error
	// Release ends the term at once, so that a standby may lead without
	// waiting for the lease to expire.
	Release(ctx context.Context) error
}

// LeaderGate is the runnable that runs Lead only while this process leads:
// it campaigns, starts Lead when elected with a context that ends with the
// term, and campaigns again when the term ends. Lead (the scheduler, the
// watcher, the run in flight) need not know: it is started and cancelled
// as the service starts and stops it. While it stands by, the process only
// serves its listener; Metrics' dirsync_leader says which it is.
type LeaderGate struct {
	Elector Elector
	// Lead is what only the leader runs. Its Start must return once its
	// context is done, its writes over.
	Lead Runnable
	Log  *zap.Logger
	// Metrics, when not nil, gets dirsync_leader.
	Metrics *Metrics
	// OnChange, when not nil, is told each time the process starts or stops
	// leading (for Status).
	OnChange func(leading bool)
	// Retry is how long to wait after a failed campaign (the database
	// unreachable) before the next. Default 2s.
	Retry time.Duration
	// ReleaseTimeout bounds the release of the lease when the service
	// stops. Default 5s.
	ReleaseTimeout time.Duration
}

// Start campaigns and leads, in turn, until ctx is done; it then stops Lead
// and releases the lease. It returns Lead's error, if Lead fails.
func (g *LeaderGate) Start(ctx context.Context) error {
	retry := g.Retry
	if retry <= 0 {
		retry = 2 * time.Second
	}
	g.set(false)
	for {
		term, err := g.Elector.Campaign(ctx)
		if ctx.Err() != nil {
			if err == nil {
				g.release(term)
			}
			return nil
		}
		if err != nil {
			g.Log.Warn("leader election: cannot campaign; trying again", zap.Error(err), zap.Duration("retry", retry))
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(retry):
			}
			continue
		}
		g.Log.Info("leading: this process runs the syncs")
		g.set(true)
		err = g.lead(ctx, term)
		g.set(false)
		if err != nil {
			g.release(term)
			return err
		}
		if ctx.Err() != nil {
			g.release(term)
			g.Log.Info("stopped leading: the service stops; the lease is released")
			return nil
		}
		g.Log.Warn("lost the leadership: the syncs and the watch are stopped; standing by", zap.Error(term.Err()))
		g.release(term)
	}
}

// lead runs Lead until the term or ctx ends, then cancels it and waits.
func (g *LeaderGate) lead(ctx context.Context, term Term) error {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- g.Lead.Start(lctx) }()
	select {
	case err := <-done:
		if err == nil && lctx.Err() == nil {
			err = errors.New("the leader's parts stopped by themselves")
		}
		return err
	case <-term.Lost():
	case <-ctx.Done():
	}
	cancel()
	return <-done
}

func (g *LeaderGate) release(term Term) {
	timeout := g.ReleaseTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := term.Release(ctx); err != nil {
		g.Log.Warn("could not release the lease; a standby takes over when it expires", zap.Error(err))
	}
}

func (g *LeaderGate) set(leading bool) {
	if g.Metrics != nil {
		v := 0.0
		if leading {
			v = 1
		}
		g.Metrics.Leader.Set(v)
	}
	if g.OnChange != nil {
		g.OnChange(leading)
	}
}
