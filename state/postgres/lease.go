package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultLeaseTTL is how long a lease lasts unless renewed. Its holder renews
// it every fifth of that; a standby takes over at most this long (plus its
// retry interval) after the holder died or lost the database.
const DefaultLeaseTTL = 10 * time.Second

// leaseName is the one lease's row: one writer per database.
const leaseName = "dirsync"

// createLease creates the lease table. It is not part of the snapshot's
// migrations (SQLite has no lease: its file lock plays that part).
const createLease = `CREATE TABLE IF NOT EXISTS dirsync_lease (
    name        TEXT        NOT NULL PRIMARY KEY,
    holder      TEXT        NOT NULL,
    token       BIGINT      NOT NULL,
    acquired_at TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
)`

// ErrLeaseLost is the error of a write under a lease that is no longer held:
// it expired (the process was paused, or could not reach the database to
// renew it) or another process took it over.
var ErrLeaseLost = errors.New("this process no longer holds the lease: another dirsync may be the writer now")

// Lease is the right to write the snapshot: a row in the database holding
// the holder's name, a fencing token that grows with every new holder, and
// an expiry in the database's clock. The holder renews it in the background;
// every write checks it in its own transaction (fence). It is lost when a
// renewal finds another token, or when none succeeded for (nearly) a TTL:
// the holder then gives up before anyone else can take over.
type Lease struct {
	pool   *pgxpool.Pool
	table  string // the lease table, schema-qualified
	holder string
	token  int64
	ttl    time.Duration

	mu       sync.Mutex
	deadline time.Time // when the lease is lost unless renewed, in this process's clock
	lost     chan struct{}
	lostErr  error

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// heldError is Acquire's answer when another process holds the lease.
type heldError struct{ holder string }

func (e *heldError) Error() string { return "already running on " + e.holder }

// IsHeld reports whether err is Acquire's "another process holds the lease",
// and by whom.
func IsHeld(err error) (holder string, ok bool) {
	var h *heldError
	if errors.As(err, &h) {
		return h.holder, true
	}
	return "", false
}

// DefaultHolder names this process: host name and pid.
func DefaultHolder() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown host"
	}
	return fmt.Sprintf("%s (pid %d)", host, os.Getpid())
}

// Acquire takes the lease of the database at rawURL for holder, once: when
// another process holds it, the error is a heldError naming that process
// (IsHeld). ttl <= 0 means DefaultLeaseTTL.
func Acquire(ctx context.Context, rawURL, holder string, ttl time.Duration) (*Lease, error) {
	pool, table, err := leasePool(ctx, rawURL, ttl)
	if err != nil {
		return nil, err
	}
	l, err := tryAcquire(ctx, pool, table, holder, ttl)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return l, nil
}

// Campaign waits until it takes the lease of the database at rawURL for
// holder, trying every retry (the database being unreachable is retried as
// well), until ctx ends. ttl <= 0 means DefaultLeaseTTL.
func Campaign(ctx context.Context, rawURL, holder string, ttl, retry time.Duration) (*Lease, error) {
	l := &Leader{URL: rawURL, Holder: holder, TTL: ttl, Retry: retry}
	return l.Campaign(ctx)
}

// leasePool opens the lease's own connections, so that renewals never wait
// behind the store's writes for a connection.
//
// A renewal or a takeover waits for the lease row at most a fifth of the
// TTL (a writer's transaction holds it for a moment; a paused writer's until
// the server ends it): it is tried again rather than left hanging.
//
// The lease is the database's: its table is in the schema of the URL
// without a search_path (every target's snapshot, each in its own schema,
// is written under the one lease). table is its schema-qualified name.
func leasePool(ctx context.Context, rawURL string, ttl time.Duration) (pool *pgxpool.Pool, table string, err error) {
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	pool, err = connect(ctx, BaseURL(rawURL), 2, idleTimeout(ttl), ttl/5)
	if err != nil {
		return nil, "", fmt.Errorf("lease: %w", err)
	}
	if _, err := pool.Exec(ctx, createLease); err != nil && !isDuplicateTable(err) {
		pool.Close()
		return nil, "", fmt.Errorf("lease: create table: %w", err)
	}
	var schema *string
	if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil || schema == nil {
		pool.Close()
		if err == nil {
			err = errors.New("no schema in the search_path")
		}
		return nil, "", fmt.Errorf("lease: %w", err)
	}
	return pool, pgx.Identifier{*schema, "dirsync_lease"}.Sanitize(), nil
}

// isDuplicateTable reports whether err is a CREATE TABLE IF NOT EXISTS that
// raced another (PostgreSQL checks the name before it locks the catalog).
func isDuplicateTable(err error) bool {
	var pe interface{ SQLState() string }
	return errors.As(err, &pe) && (pe.SQLState() == "23505" || pe.SQLState() == "42P07")
}

func ttlMillis(ttl time.Duration) int64 { return ttl.Milliseconds() }

func tryAcquire(ctx context.Context, pool *pgxpool.Pool, table, holder string, ttl time.Duration) (*Lease, error) {
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	start := time.Now()
	var token int64
	err := pool.QueryRow(ctx, `
		INSERT INTO `+table+` (name, holder, token, acquired_at, expires_at)
		VALUES ($1, $2, 1, clock_timestamp(), clock_timestamp() + $3 * interval '1 millisecond')
		ON CONFLICT (name) DO UPDATE SET
			holder = excluded.holder, token = dirsync_lease.token + 1,
			acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
		WHERE dirsync_lease.expires_at <= clock_timestamp()
		RETURNING token`, leaseName, holder, ttlMillis(ttl)).Scan(&token)
	if errors.Is(err, pgx.ErrNoRows) {
		var other string
		if err := pool.QueryRow(ctx, `SELECT holder FROM `+table+` WHERE name = $1`, leaseName).Scan(&other); err != nil {
			return nil, fmt.Errorf("lease: %w", err)
		}
		return nil, &heldError{holder: other}
	}
	if err != nil {
		return nil, fmt.Errorf("lease: %w", err)
	}
	l := &Lease{
		pool: pool, table: table, holder: holder, token: token, ttl: ttl,
		deadline: start.Add(margin(ttl)),
		lost:     make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{}),
	}
	go l.renew()
	return l, nil
}

// margin is how long after a renewal was sent the holder still counts on the
// lease: the database's expiry is at least ttl after it, less a tenth for
// clocks running at slightly different rates.
func margin(ttl time.Duration) time.Duration { return ttl - ttl/10 }

// renew renews the lease every fifth of its TTL until it is released or lost.
func (l *Lease) renew() {
	defer close(l.done)
	tick := time.NewTicker(l.ttl / 5)
	defer tick.Stop()
	for {
		l.mu.Lock()
		left := time.Until(l.deadline)
		l.mu.Unlock()
		if left <= 0 {
			l.lose(fmt.Errorf("%w: not renewed within %s", ErrLeaseLost, margin(l.ttl)))
			return
		}
		expire := time.NewTimer(left)
		select {
		case <-l.stop:
			expire.Stop()
			return
		case <-expire.C:
			continue // lost: see above
		case <-tick.C:
			expire.Stop()
		}
		if err := l.renewOnce(left); err != nil {
			if errors.Is(err, ErrLeaseLost) {
				l.lose(err)
				return
			}
			// Unreachable, for now: try again at the next tick, until the
			// deadline.
		}
	}
}

func (l *Lease) renewOnce(left time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), left)
	defer cancel()
	start := time.Now()
	tag, err := l.pool.Exec(ctx, `
		UPDATE `+l.table+` SET expires_at = clock_timestamp() + $3 * interval '1 millisecond'
		WHERE name = $1 AND token = $2 AND expires_at > clock_timestamp()`,
		leaseName, l.token, ttlMillis(l.ttl))
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: it expired or was taken over", ErrLeaseLost)
	}
	l.mu.Lock()
	l.deadline = start.Add(margin(l.ttl))
	l.mu.Unlock()
	return nil
}

func (l *Lease) lose(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lostErr == nil {
		l.lostErr = err
		close(l.lost)
	}
}

// Lost is closed when the lease is lost or released: the holder must stop
// writing (every write is refused from then on anyway).
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// Err is why the lease was lost; nil while it is held.
func (l *Lease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lostErr
}

// Check returns nil while the lease is held: not lost, and renewed recently
// enough in this process's clock (a process resumed after a pause sees its
// lease gone at once, before the renewal notices). What the holder does
// outside the database (a platform write) checks it first.
func (l *Lease) Check() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lostErr != nil {
		return l.lostErr
	}
	if !time.Now().Before(l.deadline) {
		return fmt.Errorf("%w: not renewed within %s", ErrLeaseLost, margin(l.ttl))
	}
	return nil
}

// Token is the lease's fencing token: each new holder's is greater.
func (l *Lease) Token() int64 { return l.token }

// Holder is the name the lease was taken under.
func (l *Lease) Holder() string { return l.holder }

// fence checks, inside a write's transaction, that the lease is still held,
// and holds its row (FOR SHARE) until the transaction ends: a takeover waits
// for the write to commit, and a write after a takeover is refused.
func (l *Lease) fence(ctx context.Context, tx pgx.Tx) error {
	if err := l.Err(); err != nil {
		return err
	}
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM `+l.table+`
		WHERE name = $1 AND token = $2 AND expires_at > clock_timestamp() FOR SHARE`,
		leaseName, l.token).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		err = fmt.Errorf("%w: it expired or was taken over", ErrLeaseLost)
		l.lose(err)
		return err
	}
	return err
}

// Release gives the lease up at once (a standby may take over without
// waiting for it to expire) and stops renewing it. It is safe to call more
// than once.
func (l *Lease) Release(ctx context.Context) error {
	var err error
	l.stopOnce.Do(func() {
		close(l.stop)
		<-l.done
		_, err = l.pool.Exec(ctx, `UPDATE `+l.table+` SET expires_at = clock_timestamp()
			WHERE name = $1 AND token = $2`, leaseName, l.token)
		l.lose(errors.New("the lease was released"))
		l.pool.Close()
		if err != nil {
			err = fmt.Errorf("release the lease: %w", err)
		}
	})
	return err
}
