// Package state keeps dirsync's snapshot in a SQLite file: what dirsync last
// pushed to the platform for each directory user, the runs, and the journal of
// every change (the audit trail). It implements the reconciler's Store.
//
// A read-write store (Open) is held by one process at a time: a second sync on
// the same file fails at once with ErrLocked. A read-only store (OpenReadOnly),
// for dry-runs and `dirsync status`, never writes the file, never takes the lock
// and may be used while a sync runs.
//
// The schema is versioned: numbered migrations embedded in the binary are applied
// when a read-write store is opened (migrate.go).
//
// Where each part of the reconciler's Store is: store.go (Snapshot, runs, Save:
// a record and its journal entry in one transaction), partial.go (the compact
// Summaries and Records by ID that streamed and change-event runs read),
// query.go (meta values, and the journal and run queries of status, report and
// undo), intent.go (the pending record saved before a create), lock_unix.go
// (the single-writer lock), config.go (the `state:` config section).
package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	sqlite3 "modernc.org/sqlite/lib"
)

// DefaultBusyTimeout is how long a statement waits for a lock another connection
// holds (a reader checkpointing, a writer committing) before it fails.
const DefaultBusyTimeout = 5 * time.Second

// OutcomeInterrupted is the outcome recorded for a run that never finished: its
// process died. Open records it, since holding the lock proves that no other
// process is still running that run.
const OutcomeInterrupted = "interrupted"

// DB is the snapshot. Its methods are safe for concurrent use; writes are
// serialized on a single connection.
type DB struct {
	path     string
	sql      *sql.DB // nil for a read-only store over a file that does not exist
	readOnly bool
	lock     *fileLock
	now      func() time.Time
	version  int
	// retention is how long Prune keeps runs and journal entries.
	retention time.Duration

	// Prepared once: Save runs for every change of a run.
	insertEntry  *sql.Stmt
	upsertRecord *sql.Stmt

	// group gathers concurrent Saves into one transaction.
	group groupCommit

	closeOnce sync.Once
	closeErr  error
}

// Option changes how a store is opened.
type Option func(*options)

type options struct {
	now         func() time.Time
	busyTimeout time.Duration
	retention   time.Duration
}

// WithClock sets the clock used for the times the store itself records (run
// start and end, migration and meta times, an Entry without At). Default
// time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithBusyTimeout sets how long a statement waits for a lock held by another
// connection. Default DefaultBusyTimeout.
func WithBusyTimeout(d time.Duration) Option {
	return func(o *options) { o.busyTimeout = d }
}

func newOptions(opts []Option) options {
	o := options{now: time.Now, busyTimeout: DefaultBusyTimeout, retention: DefaultRetention}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// Open opens the state file at path read-write, creating it (0600) and its
// directory (0700) when missing, and brings its schema up to date. It fails at
// once with an error matching ErrLocked when another process has the file open
// read-write; the lock is released by Close, or by the kernel if the process
// dies. A file written by a newer dirsync fails with ErrSchemaTooNew; a file
// that is not a dirsync state file with ErrNotState or ErrCorrupt.
func Open(ctx context.Context, path string, opts ...Option) (*DB, error) {
	o := newOptions(opts)
	abs, err := absPath(path)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("state %s: create directory: %w", abs, err)
	}
	l, err := lock(abs)
	if err != nil {
		var le *lockedError
		if errors.As(err, &le) {
			return nil, err // the message names the path already
		}
		return nil, fmt.Errorf("state %s: %w", abs, err)
	}
	d, err := openWriter(ctx, abs, o)
	if err != nil {
		l.unlock() //nolint:errcheck // the open error is the one to report
		return nil, fmt.Errorf("state %s: %w", abs, err)
	}
	d.lock = l
	return d, nil
}

// synchronous=NORMAL: in WAL mode a commit is appended to the -wal file and
// fsynced only at checkpoints. A committed Save survives the process being
// killed at any point (the data is in the kernel's page cache), and the file is
// never corrupted by a crash; only an OS crash or power loss can lose the last
// few commits. That is acceptable for a snapshot that is a cache of the
// platform: a lost record makes the next run plan the change again, and creates
// are idempotent (the existing account is adopted). FULL would cost an fsync
// per change applied.
//
// journal_mode=WAL is set by initWriter, once the file is known to be ours: it
// rewrites the file's header.
const writerPragmas = "&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"

func openWriter(ctx context.Context, path string, o options) (*DB, error) {
	// Create the file ourselves so that it is 0600 from the start; SQLite gives
	// -wal and -shm the database file's permissions.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	err = checkHeader(f)
	f.Close()
	if err != nil {
		return nil, err
	}

	dsn := fileURI(path) + "?_txlock=immediate" + busyPragma(o.busyTimeout) + writerPragmas
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	// One connection: every write is serialized in this process, and there is
	// only ever one writing process (the lock). It stays open for the life of
	// the store, so the WAL is not checkpointed and removed between statements.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)

	d := &DB{path: path, sql: db, now: o.now, retention: o.retention}
	if err := d.initWriter(ctx); err != nil {
		db.Close()
		return nil, classify(err)
	}
	return d, nil
}

func (d *DB) initWriter(ctx context.Context) error {
	current, err := schemaVersion(ctx, d.sql)
	if err != nil {
		return err
	}
	if current > latestVersion {
		return &schemaTooNewError{version: current}
	}
	if current == 0 {
		// A new file: pages freed by Prune go back to the file system
		// (auto_vacuum must be set before the first table is created).
		if _, err := d.sql.ExecContext(ctx, "PRAGMA auto_vacuum = INCREMENTAL"); err != nil {
			return fmt.Errorf("set auto_vacuum: %w", err)
		}
	}
	// WAL: readers (dry-runs, status) never block the writer nor it them.
	if _, err := d.sql.ExecContext(ctx, "PRAGMA journal_mode = WAL"); err != nil {
		return fmt.Errorf("set WAL mode: %w", err)
	}
	if err := migrate(ctx, d.sql, current, d.now()); err != nil {
		return err
	}
	d.version = latestVersion
	if _, err := d.sql.ExecContext(ctx,
		`UPDATE runs SET outcome = ? WHERE finished_at IS NULL AND outcome = ''`,
		OutcomeInterrupted); err != nil {
		return fmt.Errorf("close interrupted runs: %w", err)
	}
	if d.insertEntry, err = d.sql.PrepareContext(ctx, insertEntrySQL); err != nil {
		return err
	}
	if d.upsertRecord, err = d.sql.PrepareContext(ctx, upsertRecordSQL); err != nil {
		return err
	}
	return nil
}

// OpenReadOnly opens the state file at path for reading only, for dry-runs and
// `dirsync status`. It never writes the database file, never takes the lock and
// never creates anything that does not exist: when the file is missing, it
// returns an empty store (no records, no runs). It may be used while a sync
// runs. The writing methods return ErrReadOnly.
func OpenReadOnly(ctx context.Context, path string, opts ...Option) (*DB, error) {
	o := newOptions(opts)
	abs, err := absPath(path)
	if err != nil {
		return nil, err
	}
	empty := &DB{path: abs, readOnly: true, now: o.now}
	f, err := os.Open(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return empty, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", abs, err)
	}
	fi, err := f.Stat()
	if err == nil && fi.IsDir() {
		err = errors.New("is a directory; check state.path")
	}
	if err == nil {
		err = checkHeader(f)
	}
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", abs, err)
	}
	if fi.Size() == 0 {
		return empty, nil
	}
	db, version, err := openReader(ctx, abs, o)
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", abs, err)
	}
	if version == 0 {
		db.Close()
		return empty, nil
	}
	return &DB{path: abs, sql: db, readOnly: true, now: o.now, version: version}, nil
}

// openReader opens path read-only and returns its schema version.
//
// mode=ro keeps SQLite from writing the database file. A file left in WAL mode
// needs a -shm (and -wal) file next to it; when they are missing and the
// directory is not writable (`dirsync status` run by another user), SQLite
// cannot read it in WAL mode. Close switches the file back to rollback mode to
// avoid that, but a writer that was killed leaves it in WAL mode. Then, if there
// is no -wal file, the database file holds every committed change and is read
// as immutable: without locks, which is safe unless a writer starts and
// checkpoints more than the WAL's auto-checkpoint size while we read.
func openReader(ctx context.Context, path string, o options) (*sql.DB, int, error) {
	params := "?mode=ro" + busyPragma(o.busyTimeout) + "&_pragma=query_only(1)"
	db, version, err := probeReader(ctx, fileURI(path)+params)
	if err == nil {
		return db, version, nil
	}
	code := sqliteExtendedCode(err)
	if code != sqlite3.SQLITE_READONLY_DIRECTORY && code&0xff != sqlite3.SQLITE_CANTOPEN {
		return nil, 0, err
	}
	if _, serr := os.Stat(path + "-wal"); !errors.Is(serr, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("%w (a sync may be running, or one was killed: the next sync, or a read by a user allowed to write %s, recovers it)", err, filepath.Dir(path))
	}
	return probeReader(ctx, fileURI(path)+params+"&immutable=1")
}

func probeReader(ctx context.Context, dsn string) (*sql.DB, int, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, 0, err
	}
	db.SetMaxOpenConns(4)
	version, err := schemaVersion(ctx, db)
	if err == nil && version > latestVersion {
		err = &schemaTooNewError{version: version}
	}
	if err == nil && version > 0 && version < latestVersion {
		err = fmt.Errorf("schema version %d is older than this dirsync's (%d); a sync that is not a dry-run upgrades it", version, latestVersion)
	}
	if err != nil {
		db.Close()
		return nil, 0, classify(err)
	}
	return db, version, nil
}

// Close closes the store and releases the lock. It is safe to call more than
// once.
func (d *DB) Close() error {
	d.closeOnce.Do(func() {
		var errs []error
		if d.sql != nil {
			if !d.readOnly {
				d.leaveWAL()
			}
			for _, st := range []*sql.Stmt{d.insertEntry, d.upsertRecord} {
				if st != nil {
					errs = append(errs, st.Close())
				}
			}
			errs = append(errs, d.sql.Close())
		}
		errs = append(errs, d.lock.unlock())
		if err := errors.Join(errs...); err != nil {
			d.closeErr = fmt.Errorf("state %s: close: %w", d.path, err)
		}
	})
	return d.closeErr
}

// leaveWAL checkpoints the WAL and switches the file back to rollback mode, so
// that at rest it is one self-contained file that a reader can open without
// creating -wal and -shm files. It needs a moment with no reader; if a reader is
// there, the file simply stays in WAL mode (still correct, Open handles it), so
// errors are deliberately ignored.
func (d *DB) leaveWAL() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := d.sql.ExecContext(ctx, "PRAGMA busy_timeout = 100"); err != nil {
		return
	}
	d.sql.ExecContext(ctx, "PRAGMA journal_mode = DELETE") //nolint:errcheck // see above
}

// Path returns the absolute path of the state file.
func (d *DB) Path() string { return d.path }

// ReadOnly reports whether d was opened with OpenReadOnly.
func (d *DB) ReadOnly() bool { return d.readOnly }

func (d *DB) writable(op string) error {
	if d.readOnly {
		return fmt.Errorf("state %s: %s: %w", d.path, op, ErrReadOnly)
	}
	return nil
}

// sqliteMagic starts every SQLite 3 database file.
const sqliteMagic = "SQLite format 3\x00"

// checkHeader reports an error when f is neither empty nor a SQLite database, so
// that a mistyped state.path is not taken for a corrupt database.
func checkHeader(f *os.File) error {
	var b [len(sqliteMagic)]byte
	n, err := io.ReadFull(f, b[:])
	switch {
	case n == 0 && errors.Is(err, io.EOF):
		return nil // a new, empty file
	case errors.Is(err, io.ErrUnexpectedEOF) || (err == nil && string(b[:]) != sqliteMagic):
		return fmt.Errorf("%w: not a SQLite database; check state.path", ErrNotState)
	case err != nil:
		return err
	}
	return nil
}

func absPath(path string) (string, error) {
	if path == "" {
		return "", errors.New("state: no path (set state.path)")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("state %s: %w", path, err)
	}
	return abs, nil
}

// fileURI returns the SQLite URI of an absolute path, escaped so that '?', '#'
// and '%' in a file name are taken literally.
func fileURI(path string) string {
	p := filepath.ToSlash(path)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive: file:/C:/...
	}
	return "file:" + (&url.URL{Path: p}).EscapedPath()
}

func busyPragma(d time.Duration) string {
	return "&_pragma=busy_timeout(" + strconv.FormatInt(d.Milliseconds(), 10) + ")"
}
