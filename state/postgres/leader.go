package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultRetry is how often a standby tries to take the lease over.
const DefaultRetry = 2 * time.Second

// Leader is the leader election of `dirsync run` processes sharing the
// database at URL: Campaign waits for the lease, and Current is the lease of
// the term in progress, for the stores opened during it (WithLease).
type Leader struct {
	URL    string
	Holder string        // default DefaultHolder()
	TTL    time.Duration // default DefaultLeaseTTL
	Retry  time.Duration // default DefaultRetry

	mu   sync.Mutex
	cur  *Lease
	seen string // the holder last seen
}

// Campaign waits until this process holds the lease, trying every Retry
// (the database being unreachable is retried as well), or ctx ends.
func (l *Leader) Campaign(ctx context.Context) (*Lease, error) {
	holder, retry := l.Holder, l.Retry
	if holder == "" {
		holder = DefaultHolder()
	}
	if retry <= 0 {
		retry = DefaultRetry
	}
	var (
		pool    *pgxpool.Pool
		table   string
		lastErr error
	)
	for {
		if pool == nil {
			pool, table, lastErr = leasePool(ctx, l.URL, l.TTL)
		}
		if pool != nil {
			lease, err := tryAcquire(ctx, pool, table, holder, l.TTL)
			if err == nil {
				l.mu.Lock()
				l.cur, l.seen = lease, holder
				l.mu.Unlock()
				return lease, nil
			}
			if h, held := IsHeld(err); held {
				l.mu.Lock()
				l.seen = h
				l.mu.Unlock()
			}
			lastErr = err
		}
		select {
		case <-ctx.Done():
			if pool != nil {
				pool.Close()
			}
			if _, held := IsHeld(lastErr); held || lastErr == nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("%w (last error: %w)", ctx.Err(), lastErr)
		case <-time.After(retry):
		}
	}
}

// SeenHolder is the holder of the lease when this process last looked: its
// own while it leads; "" before it looked.
func (l *Leader) SeenHolder() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seen
}

// Current is the lease held now, nil when this process does not lead.
func (l *Leader) Current() *Lease {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cur != nil && l.cur.Err() != nil {
		l.cur = nil
	}
	return l.cur
}
