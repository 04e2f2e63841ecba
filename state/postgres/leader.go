package postgres

import (
	"context"
	"sync"
	"time"
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

	mu  sync.Mutex
	cur *Lease
}

// Campaign waits until this process holds the lease, or ctx ends.
func (l *Leader) Campaign(ctx context.Context) (*Lease, error) {
	holder, retry := l.Holder, l.Retry
	if holder == "" {
		holder = DefaultHolder()
	}
	if retry <= 0 {
		retry = DefaultRetry
	}
	lease, err := Campaign(ctx, l.URL, holder, l.TTL, retry)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.cur = lease
	l.mu.Unlock()
	return lease, nil
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
