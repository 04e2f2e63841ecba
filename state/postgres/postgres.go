// Package postgres keeps dirsync's snapshot in a PostgreSQL database
// (state.driver: postgres), which several `dirsync run` processes share: one
// of them, the leader, writes; the others stand by. It implements the same
// Store as the SQLite file (state.Store, and so the reconciler's sync.Store),
// with the same tables, columns and row encodings (state.ScanRecord,
// state.RecordArgs); its migrations are numbered as SQLite's and a schema
// change is made in both.
//
// One writer at a time is the lease's (lease.go): a row holding the current
// holder, a fencing token and an expiry. A read-write store holds the lease
// (its own, taken by Open, or the leader's, WithLease), and every write checks,
// in its own transaction, that the lease is still this store's: a writer
// that was paused past the lease's expiry (a stopped process, a cut network)
// and another that took over never both write.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dirsync/dirsync/state"
	"github.com/dirsync/dirsync/user"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

var migrations = func() []state.Migration {
	ms, err := state.LoadMigrations(migrationFiles)
	if err != nil {
		panic("state/postgres: " + err.Error())
	}
	return ms
}()

// latestVersion is the schema version this build writes and reads.
var latestVersion = migrations[len(migrations)-1].Version

// migrateLock is the advisory lock key held while the schema is created or
// migrated, so that two processes starting together do not both migrate.
const migrateLock = 0x64697273796e63 // "dirsync"

// DB is the snapshot in PostgreSQL. Its methods are safe for concurrent use.
type DB struct {
	where    string // the URL without its password, for messages
	pool     *pgxpool.Pool
	readOnly bool
	empty    bool // read-only over a database without the schema yet
	now      func() time.Time
	version  int
	// retention is how long Prune keeps runs and journal entries.
	retention time.Duration

	lease     *Lease
	ownsLease bool

	closeOnce sync.Once
	closeErr  error
}

var _ state.Store = (*DB)(nil)

// Option changes how a store is opened.
type Option func(*options)

type options struct {
	now       func() time.Time
	lease     *Lease
	holder    string
	ttl       time.Duration
	retention time.Duration
}

// WithClock sets the clock used for the times the store itself records (run
// start and end, migration and meta times, an Entry without At). Default
// time.Now. The lease's times are the database's.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithLease makes a read-write store write under l, a lease its caller holds
// (the leader's): Open then takes no lease of its own, and Close leaves l held.
func WithLease(l *Lease) Option { return func(o *options) { o.lease = l } }

// WithHolder names this process in the lease Open takes (default: host name
// and pid), as the next one's error message shows it.
func WithHolder(name string) Option { return func(o *options) { o.holder = name } }

// WithLeaseTTL sets how long the lease Open takes lasts unless renewed
// (default DefaultLeaseTTL).
func WithLeaseTTL(d time.Duration) Option { return func(o *options) { o.ttl = d } }

func newOptions(opts []Option) options {
	o := options{now: time.Now, ttl: DefaultLeaseTTL, retention: state.DefaultRetention}
	for _, opt := range opts {
		opt(&o)
	}
	if o.holder == "" {
		o.holder = DefaultHolder()
	}
	return o
}

// idleTimeout is how long a writer's transaction may wait for its client:
// half the lease's TTL, so that a paused writer's locks are gone soon after
// its lease expired.
func idleTimeout(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	return max(ttl/2, 500*time.Millisecond)
}

// schemaOf is the schema a URL's search_path names first, "" for none.
func schemaOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	first, _, _ := strings.Cut(u.Query().Get("search_path"), ",")
	return strings.Trim(strings.TrimSpace(first), `"`)
}

// BaseURL is rawURL without a search_path: the database's, where the lease
// is kept for every target's schema.
func BaseURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	q := u.Query()
	if !q.Has("search_path") {
		return rawURL
	}
	q.Del("search_path")
	u.RawQuery = q.Encode()
	return u.String()
}

// Redact returns rawURL without its password.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(state.url)"
	}
	return u.Redacted()
}

// connect opens a pool on rawURL and checks that the server answers.
//
// Its sessions have idle_in_transaction_session_timeout set to idle: a
// process paused (SIGSTOP) or cut off in the middle of a transaction holds
// its locks, the lease row's included, no longer than that; the server ends
// the transaction, and a standby can take the lease over. lockTimeout, when
// not zero, bounds each wait for a lock.
func connect(ctx context.Context, rawURL string, maxConns int32, idle, lockTimeout time.Duration) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		// pgx's message may quote the URL, password included.
		return nil, errors.New("state.url is not a valid PostgreSQL URL")
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	params := cfg.ConnConfig.RuntimeParams
	if idle > 0 {
		params["idle_in_transaction_session_timeout"] = strconv.FormatInt(max(idle.Milliseconds(), 1), 10)
	}
	if lockTimeout > 0 {
		params["lock_timeout"] = strconv.FormatInt(max(lockTimeout.Milliseconds(), 1), 10)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	return pool, nil
}

// Open opens the snapshot in the database at rawURL read-write: it creates
// or migrates the schema, then holds the lease (WithLease's, or its own, which
// it takes at once: when another process holds it, Open fails with an error
// matching state.ErrLocked that names the holder). A database written by a
// newer dirsync fails with state.ErrSchemaTooNew. Runs left unfinished by a
// writer that is gone are marked state.OutcomeInterrupted.
func Open(ctx context.Context, rawURL string, opts ...Option) (*DB, error) {
	o := newOptions(opts)
	where := Redact(rawURL)
	ttl := o.ttl
	if o.lease != nil {
		ttl = o.lease.ttl
	}
	pool, err := connect(ctx, rawURL, 0, idleTimeout(ttl), 0)
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", where, err)
	}
	d := &DB{where: where, pool: pool, now: o.now, retention: o.retention}
	if err := d.initWriter(ctx, rawURL, o); err != nil {
		pool.Close()
		var held *heldError
		if errors.As(err, &held) {
			return nil, state.NewLockedError(where, held.holder)
		}
		return nil, fmt.Errorf("state %s: %w", where, err)
	}
	return d, nil
}

func (d *DB) initWriter(ctx context.Context, rawURL string, o options) error {
	if err := setUp(ctx, d.pool, schemaOf(rawURL), o.now()); err != nil {
		return err
	}
	d.version = latestVersion
	if o.lease != nil {
		d.lease = o.lease
	} else {
		// The lease is the database's, whatever the schema: one writer
		// process for every target's snapshot.
		l, err := Acquire(ctx, BaseURL(rawURL), o.holder, o.ttl)
		if err != nil {
			return err
		}
		d.lease, d.ownsLease = l, true
	}
	err := d.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE runs SET outcome = $1 WHERE finished_at IS NULL AND outcome = ''`,
			state.OutcomeInterrupted)
		return err
	})
	if err != nil {
		if d.ownsLease {
			d.lease.Release(context.WithoutCancel(ctx)) //nolint:errcheck // the first error is reported
		}
		return fmt.Errorf("close interrupted runs: %w", err)
	}
	return nil
}

// setUp creates the schema (the search_path of a target's URL) and brings
// its tables up to date: in one
// transaction, under a transaction-level advisory lock (two processes
// starting together do not both migrate), all of it or nothing. A process
// paused in the middle holds no lock past idle_in_transaction_session_timeout
// (see connect). When the schema is up to date already, it only checks.
func setUp(ctx context.Context, pool *pgxpool.Pool, schema string, now time.Time) error {
	if v, err := schemaVersion(ctx, pool); err != nil {
		return err
	} else if v == latestVersion {
		return nil
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrateLock)); err != nil {
			return fmt.Errorf("lock the schema: %w", err)
		}
		if schema != "" {
			if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize()); err != nil {
				return fmt.Errorf("create schema %s: %w", schema, err)
			}
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at TEXT NOT NULL)`); err != nil {
			return err
		}
		current, err := schemaVersion(ctx, tx)
		if err != nil {
			return err
		}
		if current > latestVersion {
			return state.NewSchemaTooNewError(current)
		}
		for _, m := range migrations[current:] {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.Version, m.Name, state.FormatTime(now)); err != nil {
				return fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
			}
		}
		return nil
	})
}

// schemaVersion is the highest migration applied; 0 when there is no
// schema_migrations table.
func schemaVersion(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}) (int, error) {
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil || !exists {
		return 0, err
	}
	var v int
	err := q.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

// OpenReadOnly opens the snapshot in the database at rawURL for reading only
// (dry-runs, `dirsync status`): it creates nothing and takes no lease, and its
// writing methods return state.ErrReadOnly. A database without dirsync's
// schema yet is an empty store.
func OpenReadOnly(ctx context.Context, rawURL string, opts ...Option) (*DB, error) {
	o := newOptions(opts)
	where := Redact(rawURL)
	pool, err := connect(ctx, rawURL, 4, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", where, err)
	}
	version, err := schemaVersion(ctx, pool)
	if err == nil && version > latestVersion {
		err = state.NewSchemaTooNewError(version)
	}
	if err == nil && version > 0 && version < latestVersion {
		err = fmt.Errorf("schema version %d is older than this dirsync's (%d); a sync that is not a dry-run upgrades it", version, latestVersion)
	}
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("state %s: %w", where, err)
	}
	return &DB{where: where, pool: pool, readOnly: true, empty: version == 0, now: o.now, version: version}, nil
}

// Close closes the store and releases the lease it took. It is safe to call
// more than once.
func (d *DB) Close() error {
	d.closeOnce.Do(func() {
		if d.ownsLease {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := d.lease.Release(ctx); err != nil {
				d.closeErr = fmt.Errorf("state %s: close: %w", d.where, err)
			}
		}
		d.pool.Close()
	})
	return d.closeErr
}

// Path names the store: its URL without the password.
func (d *DB) Path() string { return d.where }

// ReadOnly reports whether d was opened with OpenReadOnly.
func (d *DB) ReadOnly() bool { return d.readOnly }

// Lease is the lease d writes under; nil for a read-only store.
func (d *DB) Lease() *Lease { return d.lease }

// write runs fn in a transaction that first checks, holding the lease row,
// that the lease is still d's: a writer that lost it never commits.
func (d *DB) write(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		if err := d.lease.fence(ctx, tx); err != nil {
			return err
		}
		return fn(tx)
	})
}

func (d *DB) writable(op string) error {
	if d.readOnly {
		return fmt.Errorf("state %s: %s: %w", d.where, op, state.ErrReadOnly)
	}
	return nil
}

func (d *DB) wrap(op string, err error) error {
	return fmt.Errorf("state %s: %s: %w", d.where, op, err)
}

// Snapshot returns every record, ordered by user ID.
func (d *DB) Snapshot(ctx context.Context) ([]user.Record, error) {
	if d.empty {
		return nil, nil
	}
	recs, err := d.queryRecords(ctx, `SELECT `+state.RecordColumns+` FROM users ORDER BY id`)
	if err != nil {
		return nil, d.wrap("snapshot", err)
	}
	return recs, nil
}

func (d *DB) queryRecords(ctx context.Context, query string, args ...any) ([]user.Record, error) {
	rows, err := d.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []user.Record
	for rows.Next() {
		out = append(out, user.Record{})
		if err := state.ScanRecord(rows, &out[len(out)-1]); err != nil {
			return nil, err
		}
	}
	return out, rows.Err()
}

// Summaries calls fn with every record's summary, ordered by user ID. An
// error from fn stops the read and is returned.
func (d *DB) Summaries(ctx context.Context, fn func(user.Summary) error) error {
	if d.empty {
		return nil
	}
	rows, err := d.pool.Query(ctx, `SELECT id, platform_id, status, hash FROM users ORDER BY id`)
	if err != nil {
		return d.wrap("summaries", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s user.Summary
		var status string
		if err := rows.Scan(&s.ID, &s.PlatformID, &status, &s.Hash); err != nil {
			return d.wrap("summaries", err)
		}
		s.Status = state.InternStatus(status)
		if err := fn(s); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return d.wrap("summaries", err)
	}
	return nil
}

// Records returns the records of the given user IDs that exist, ordered by
// user ID.
func (d *DB) Records(ctx context.Context, ids []string) ([]user.Record, error) {
	if d.empty || len(ids) == 0 {
		return nil, nil
	}
	recs, err := d.queryRecords(ctx, `SELECT `+state.RecordColumns+` FROM users WHERE id = ANY($1) ORDER BY id`, ids)
	if err != nil {
		return nil, d.wrap("records", err)
	}
	return recs, nil
}

// Managed counts the records active on the platform.
func (d *DB) Managed(ctx context.Context) (int, error) {
	if d.empty {
		return 0, nil
	}
	var n int
	if err := d.pool.QueryRow(ctx, `SELECT count(*) FROM users WHERE status = $1`, string(user.StatusActive)).Scan(&n); err != nil {
		return 0, d.wrap("count managed users", err)
	}
	return n, nil
}

// BeginRun records the start of a run and returns its ID.
func (d *DB) BeginRun(ctx context.Context, mode string) (int64, error) {
	if err := d.writable("begin run"); err != nil {
		return 0, err
	}
	var id int64
	err := d.write(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO runs (mode, started_at) VALUES ($1, $2) RETURNING id`,
			mode, state.FormatTime(d.now())).Scan(&id)
	})
	if err != nil {
		return 0, d.wrap("begin run", err)
	}
	return id, nil
}

// Save appends e to run's journal and, when rec is not nil, upserts rec keyed
// by rec.User.ID, in one transaction that also checks the lease: both are
// recorded or neither is. An existing record's FirstSeen is kept.
func (d *DB) Save(ctx context.Context, run int64, e user.Entry, rec *user.Record) error {
	var args func() ([]any, error)
	if rec != nil {
		args = func() ([]any, error) { return state.RecordArgs(rec) }
	}
	return d.save(ctx, "save", run, e, upsertRecordSQL, "record", args)
}

// save appends e to run's journal and, when recArgs is not nil, upserts the
// record whose arguments it returns with upsert, in one transaction that
// also checks the lease. what names the record in errors.
func (d *DB) save(ctx context.Context, name string, run int64, e user.Entry, upsert, what string, recArgs func() ([]any, error)) error {
	if err := d.writable(name); err != nil {
		return err
	}
	op := fmt.Sprintf("save %s %s (run %d)", e.Op, e.UserID, run)
	entryArgs, err := state.EntryArgs(run, e, d.now)
	if err != nil {
		return d.wrap(op, err)
	}
	var args []any
	if recArgs != nil {
		if args, err = recArgs(); err != nil {
			return d.wrap(op, err)
		}
	}
	err = d.write(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, insertEntrySQL, entryArgs...); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		if args != nil {
			if _, err := tx.Exec(ctx, upsert, args...); err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
		}
		return nil
	})
	if err != nil {
		return d.wrap(op, err)
	}
	return nil
}

// SaveIntent upserts rec without a journal entry (see sync.IntentStore).
func (d *DB) SaveIntent(ctx context.Context, rec *user.Record) error {
	if err := d.writable("save intent"); err != nil {
		return err
	}
	args, err := state.RecordArgs(rec)
	if err == nil {
		err = d.write(ctx, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, upsertRecordSQL, args...)
			return err
		})
	}
	if err != nil {
		return d.wrap("save intent "+rec.User.ID, err)
	}
	return nil
}

// FinishRun records a run's outcome, its counts by kind and its error text.
func (d *DB) FinishRun(ctx context.Context, run int64, outcome string, counts map[string]int, errText string) error {
	if err := d.writable("finish run"); err != nil {
		return err
	}
	op := fmt.Sprintf("finish run %d", run)
	c, err := state.EncodeCounts(counts)
	if err != nil {
		return d.wrap(op, err)
	}
	err = d.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx,
			`UPDATE runs SET finished_at = $1, outcome = $2, counts = $3, error = $4 WHERE id = $5`,
			state.FormatTime(d.now()), outcome, c, errText, run)
		if err == nil && tag.RowsAffected() == 0 {
			err = errors.New("no such run")
		}
		return err
	})
	if err != nil {
		return d.wrap(op, err)
	}
	return nil
}

// Runs returns the latest limit runs, newest first; limit <= 0 means all.
func (d *DB) Runs(ctx context.Context, limit int) ([]state.Run, error) {
	if d.empty {
		return nil, nil
	}
	var lim any // NULL: no limit
	if limit > 0 {
		lim = limit
	}
	rows, err := d.pool.Query(ctx,
		`SELECT id, mode, started_at, coalesce(finished_at, ''), outcome, coalesce(counts, ''), error
		 FROM runs ORDER BY id DESC LIMIT $1`, lim)
	if err != nil {
		return nil, d.wrap("runs", err)
	}
	defer rows.Close()
	var out []state.Run
	for rows.Next() {
		r, err := state.ScanRun(rows)
		if err != nil {
			return nil, d.wrap(fmt.Sprintf("run %d", r.ID), err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, d.wrap("runs", err)
	}
	return out, nil
}

// Failing returns the records whose last change failed, ordered by user ID.
func (d *DB) Failing(ctx context.Context) ([]user.Record, error) {
	if d.empty {
		return nil, nil
	}
	recs, err := d.queryRecords(ctx,
		`SELECT `+state.RecordColumns+` FROM users WHERE attempts > 0 OR last_error <> '' ORDER BY id`)
	if err != nil {
		return nil, d.wrap("failing", err)
	}
	return recs, nil
}

// Unsettled returns the records whose change is not settled, ordered by
// user ID: the pending ones and those whose last change failed.
func (d *DB) Unsettled(ctx context.Context) ([]user.Record, error) {
	if d.empty {
		return nil, nil
	}
	recs, err := d.queryRecords(ctx,
		`SELECT `+state.RecordColumns+` FROM users WHERE status = 'pending' OR attempts > 0 OR last_error <> '' ORDER BY id`)
	if err != nil {
		return nil, d.wrap("unsettled", err)
	}
	return recs, nil
}

// Journal returns run's journal in the order the changes were saved.
func (d *DB) Journal(ctx context.Context, runID int64) ([]user.Entry, error) {
	if d.empty {
		return nil, nil
	}
	op := fmt.Sprintf("journal of run %d", runID)
	rows, err := d.pool.Query(ctx,
		`SELECT at, op, user_id, username, platform_id, coalesce(fields, ''), reason, error
		 FROM journal WHERE run_id = $1 ORDER BY id`, runID)
	if err != nil {
		return nil, d.wrap(op, err)
	}
	defer rows.Close()
	var out []user.Entry
	for rows.Next() {
		e, err := state.ScanEntry(rows)
		if err != nil {
			return nil, d.wrap(op+": "+e.UserID, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, d.wrap(op, err)
	}
	return out, nil
}

// Stats counts the records by status, the failing ones and the runs.
func (d *DB) Stats(ctx context.Context) (state.Stats, error) {
	s := state.Stats{Users: map[user.Status]int{}, SchemaVersion: d.version}
	if d.empty {
		return s, nil
	}
	rows, err := d.pool.Query(ctx, `SELECT status, count(*) FROM users GROUP BY status`)
	if err != nil {
		return s, d.wrap("stats", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			st string
			n  int
		)
		if err := rows.Scan(&st, &n); err != nil {
			return s, d.wrap("stats", err)
		}
		s.Users[user.Status(st)] = n
	}
	if err := rows.Err(); err != nil {
		return s, d.wrap("stats", err)
	}
	err = d.pool.QueryRow(ctx,
		`SELECT (SELECT count(*) FROM users WHERE attempts > 0 OR last_error <> ''),
		        (SELECT count(*) FROM runs)`).Scan(&s.Failing, &s.Runs)
	if err != nil {
		return s, d.wrap("stats", err)
	}
	return s, nil
}

// GetMeta returns the value stored under key, and whether there is one.
func (d *DB) GetMeta(ctx context.Context, key string) (string, bool, error) {
	if d.empty {
		return "", false, nil
	}
	var v string
	err := d.pool.QueryRow(ctx, `SELECT value FROM meta WHERE key = $1`, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, d.wrap("get meta "+key, err)
	}
	return v, true, nil
}

// SetMeta stores value under key, replacing any previous value.
func (d *DB) SetMeta(ctx context.Context, key, value string) error {
	if err := d.writable("set meta " + key); err != nil {
		return err
	}
	err := d.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx,
			`INSERT INTO meta (key, value, updated_at) VALUES ($1, $2, $3)
			 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
			key, value, state.FormatTime(d.now()))
		return err
	})
	if err != nil {
		return d.wrap("set meta "+key, err)
	}
	return nil
}
