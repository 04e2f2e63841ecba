package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/dirsync/dirsync/user"
)

// Run is one recorded sync, as `dirsync status` shows it.
type Run struct {
	ID   int64  `json:"id"`
	Mode string `json:"mode"`
	// Started and Finished are UTC; Finished is zero while the run is in progress
	// or when its process died (Outcome is then "" or OutcomeInterrupted).
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
	// Outcome is what FinishRun recorded ("success", "partial", "failed",
	// "refused"), OutcomeInterrupted, or "" while the run is in progress.
	Outcome string         `json:"outcome"`
	Counts  map[string]int `json:"counts,omitempty"`
	Error   string         `json:"error,omitempty"`
}

// Duration is how long the run took; zero while it is in progress or when
// its process died.
func (r Run) Duration() time.Duration {
	if r.Finished.IsZero() {
		return 0
	}
	return r.Finished.Sub(r.Started)
}

// Runs returns the latest limit runs, newest first; limit <= 0 means all.
func (d *DB) Runs(ctx context.Context, limit int) ([]Run, error) {
	if d.sql == nil {
		return nil, nil
	}
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := d.sql.QueryContext(ctx,
		`SELECT id, mode, started_at, coalesce(finished_at, ''), outcome, coalesce(counts, ''), error
		 FROM runs ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("state %s: runs: %w", d.path, classify(err))
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := ScanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("state %s: run %d: %w", d.path, r.ID, classify(err))
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("state %s: runs: %w", d.path, classify(err))
	}
	return out, nil
}

// Failing returns the records whose last change failed (Attempts > 0 or
// LastError set), ordered by user ID: the changes the next run retries.
func (d *DB) Failing(ctx context.Context) ([]user.Record, error) {
	if d.sql == nil {
		return nil, nil
	}
	// The WHERE clause matches the partial index users_failing.
	recs, err := d.queryRecords(ctx, 0,
		`SELECT `+recordColumns+` FROM users WHERE attempts > 0 OR last_error <> '' ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("state %s: failing: %w", d.path, err)
	}
	return recs, nil
}

// Unsettled returns the records whose change is not settled, ordered by
// user ID: the pending ones (a create was asked for and is not known to have
// landed: its intent) and those whose last change failed (see Failing).
func (d *DB) Unsettled(ctx context.Context) ([]user.Record, error) {
	if d.sql == nil {
		return nil, nil
	}
	// Each side of the OR matches an index: users_status, users_failing.
	recs, err := d.queryRecords(ctx, 0,
		`SELECT `+recordColumns+` FROM users WHERE status = 'pending' OR attempts > 0 OR last_error <> '' ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("state %s: unsettled: %w", d.path, err)
	}
	return recs, nil
}

// Journal returns run's journal in the order the changes were saved.
func (d *DB) Journal(ctx context.Context, runID int64) ([]user.Entry, error) {
	if d.sql == nil {
		return nil, nil
	}
	rows, err := d.sql.QueryContext(ctx,
		`SELECT at, op, user_id, username, platform_id, coalesce(fields, ''), reason, error
		 FROM journal WHERE run_id = ? ORDER BY id`, runID)
	if err != nil {
		return nil, fmt.Errorf("state %s: journal of run %d: %w", d.path, runID, classify(err))
	}
	defer rows.Close()
	var out []user.Entry
	for rows.Next() {
		e, err := ScanEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("state %s: journal of run %d: %s: %w", d.path, runID, e.UserID, classify(err))
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("state %s: journal of run %d: %w", d.path, runID, classify(err))
	}
	return out, nil
}

// Stats summarizes the snapshot for `dirsync status` and `dirsync check`.
type Stats struct {
	// Users counts the records by status.
	Users map[user.Status]int `json:"users"`
	// Failing counts the records whose last change failed.
	Failing int `json:"failing"`
	// Runs counts the recorded runs.
	Runs int `json:"runs"`
	// SchemaVersion is the file's schema version; 0 when there is no file yet.
	SchemaVersion int `json:"schema_version"`
}

// Stats counts the records by status, the failing ones and the runs.
func (d *DB) Stats(ctx context.Context) (Stats, error) {
	s := Stats{Users: map[user.Status]int{}, SchemaVersion: d.version}
	if d.sql == nil {
		return s, nil
	}
	wrap := func(err error) error { return fmt.Errorf("state %s: stats: %w", d.path, classify(err)) }
	rows, err := d.sql.QueryContext(ctx, `SELECT status, count(*) FROM users GROUP BY status`)
	if err != nil {
		return s, wrap(err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			st string
			n  int
		)
		if err := rows.Scan(&st, &n); err != nil {
			return s, wrap(err)
		}
		s.Users[user.Status(st)] = n
	}
	if err := rows.Err(); err != nil {
		return s, wrap(err)
	}
	err = d.sql.QueryRowContext(ctx,
		`SELECT (SELECT count(*) FROM users WHERE attempts > 0 OR last_error <> ''),
		        (SELECT count(*) FROM runs)`).Scan(&s.Failing, &s.Runs)
	if err != nil {
		return s, wrap(err)
	}
	return s, nil
}

// GetMeta returns the value stored under key, and whether there is one.
func (d *DB) GetMeta(ctx context.Context, key string) (string, bool, error) {
	if d.sql == nil {
		return "", false, nil
	}
	var v string
	err := d.sql.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("state %s: get meta %s: %w", d.path, key, classify(err))
	}
	return v, true, nil
}

// SetMeta stores value under key, replacing any previous value.
func (d *DB) SetMeta(ctx context.Context, key, value string) error {
	if err := d.writable("set meta " + key); err != nil {
		return err
	}
	_, err := d.sql.ExecContext(ctx,
		`INSERT INTO meta (key, value, updated_at) VALUES (?, ?, ?)
		 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		key, value, formatTime(d.now()))
	if err != nil {
		return fmt.Errorf("state %s: set meta %s: %w", d.path, key, classify(err))
	}
	return nil
}
