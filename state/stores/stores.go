// Package stores opens the snapshot store the `state:` config section names:
// the SQLite file (package state) or PostgreSQL (state/postgres). The
// commands and the service open stores here and hold a state.Store.
package stores

import (
	"context"
	"fmt"

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
		var opts []postgres.Option
		if o.Config.LeaseTTL > 0 {
			opts = append(opts, postgres.WithLeaseTTL(o.Config.LeaseTTL))
		}
		if o.Lease != nil {
			l := o.Lease()
			if l == nil {
				return nil, fmt.Errorf("state %s: %w", o.Config.RedactedURL(), postgres.ErrLeaseLost)
			}
			opts = append(opts, postgres.WithLease(l))
		}
		return postgres.Open(ctx, o.Config.URL, opts...)
	default:
		return state.Open(ctx, o.Config.Path)
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
