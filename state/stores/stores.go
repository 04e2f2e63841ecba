// Package stores opens the snapshot store the `state:` config section names:
// the SQLite file (package state) or PostgreSQL (state/postgres). The
// commands and the service open stores here and hold a state.Store.
package stores

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/dirsync/dirsync/state"
	"github.com/dirsync/dirsync/state/postgres"
)

// Opener opens the store of Config.
type Opener struct {
	Config state.Config
	// Lease, when not nil, returns the lease a read-write PostgreSQL store
	// writes under: the leader's, while `dirsync run` leads. Without it, a
	// read-write Open takes a lease of its own, as a one-shot sync does.
	Lease func() *postgres.Lease
}

// Open opens the store read-write: it fails with an error matching
// state.ErrLocked when another process writes it.
func (o Opener) Open(ctx context.Context) (state.Store, error) {
	switch o.Config.Driver {
	case state.DriverPostgres:
		if o.Lease != nil {
			l := o.Lease()
			if l == nil {
				return nil, fmt.Errorf("state %s: %w", o.Config.RedactedURL(), postgres.ErrLeaseLost)
			}
			return postgres.Open(ctx, o.Config.URL, postgres.WithLease(l), postgres.WithRetention(o.Config.Retention))
		}
		// A one-shot writer: the process takes the database's lease once,
		// for every target's store it opens.
		l, release, err := oneShotLease(ctx, o.Config)
		if err != nil {
			return nil, err
		}
		db, err := postgres.Open(ctx, o.Config.URL, postgres.WithLease(l), postgres.WithRetention(o.Config.Retention))
		if err != nil {
			release()
			return nil, err
		}
		return &leased{DB: db, release: release}, nil
	default:
		return state.Open(ctx, o.Config.Path, o.Config.Options()...)
	}
}

// OpenReadOnly opens the store for reading only (dry-runs, status, report);
// it takes no lock and creates nothing.
func (o Opener) OpenReadOnly(ctx context.Context) (state.Store, error) {
	switch o.Config.Driver {
	case state.DriverPostgres:
		return postgres.OpenReadOnly(ctx, o.Config.URL)
	default:
		return state.OpenReadOnly(ctx, o.Config.Path)
	}
}

// Open opens the store of cfg read-write (see Opener.Open).
func Open(ctx context.Context, cfg state.Config) (state.Store, error) {
	return Opener{Config: cfg}.Open(ctx)
}

// OpenReadOnly opens the store of cfg for reading only (see
// Opener.OpenReadOnly).
func OpenReadOnly(ctx context.Context, cfg state.Config) (state.Store, error) {
	return Opener{Config: cfg}.OpenReadOnly(ctx)
}

// Where names the store of cfg in messages: the file, or the database's URL
// without its password.
func Where(cfg state.Config) string {
	if cfg.Driver == state.DriverPostgres {
		return cfg.RedactedURL()
	}
	return cfg.Path
}

// The lease of a one-shot writer (sync, apply, undo), shared by every store
// the process opens on one database and released when the last is closed.
var oneShot struct {
	sync.Mutex
	leases map[string]*sharedLease // by the database's URL
}

type sharedLease struct {
	l    *postgres.Lease
	refs int
	open map[string]bool // the stores open under it, by URL: one writer each
}

// oneShotLease returns the process's lease of cfg's database, taking it
// when no store holds it; release gives the caller's share back. Another
// process holding it is an error matching state.ErrLocked.
func oneShotLease(ctx context.Context, cfg state.Config) (*postgres.Lease, func(), error) {
	base := postgres.BaseURL(cfg.URL)
	oneShot.Lock()
	defer oneShot.Unlock()
	sl := oneShot.leases[base]
	if sl == nil || sl.l.Err() != nil {
		l, err := postgres.Acquire(ctx, base, postgres.DefaultHolder(), cfg.LeaseTTL)
		if holder, held := postgres.IsHeld(err); held {
			return nil, nil, state.NewLockedError(postgres.Redact(base), holder)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("state %s: %w", postgres.Redact(base), err)
		}
		if oneShot.leases == nil {
			oneShot.leases = map[string]*sharedLease{}
		}
		sl = &sharedLease{l: l, open: map[string]bool{}}
		oneShot.leases[base] = sl
	}
	if sl.open[cfg.URL] {
		return nil, nil, state.NewLockedError(cfg.RedactedURL(), "this process, by another of its stores")
	}
	sl.open[cfg.URL] = true
	sl.refs++
	var once sync.Once
	return sl.l, func() {
		once.Do(func() {
			oneShot.Lock()
			defer oneShot.Unlock()
			delete(sl.open, cfg.URL)
			if sl.refs--; sl.refs == 0 {
				if oneShot.leases[base] == sl {
					delete(oneShot.leases, base)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				sl.l.Release(ctx) //nolint:errcheck // a lease not released expires
			}
		})
	}, nil
}

// leased is a one-shot writer's store: closing it gives its share of the
// lease back.
type leased struct {
	*postgres.DB
	release func()
}

func (l *leased) Close() error {
	err := l.DB.Close()
	l.release()
	return err
}
