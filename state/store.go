package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dirsync/dirsync/user"
)

// recordColumns are the users columns in the order scanRecord reads them.
const recordColumns = `id, platform_id, status, hash, dn, username, email, given_name,
	family_name, display_name, active, coalesce(groups_json, ''), coalesce(extra_json, ''),
	coalesce(first_seen, ''), coalesce(last_seen, ''), coalesce(archived_at, ''),
	attempts, last_error, failed_op`

const upsertRecordSQL = `INSERT INTO users (id, platform_id, status, hash, dn, username, email,
	given_name, family_name, display_name, active, groups_json, extra_json, first_seen,
	last_seen, archived_at, attempts, last_error, failed_op)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
	platform_id  = excluded.platform_id,
	status       = excluded.status,
	hash         = excluded.hash,
	dn           = excluded.dn,
	username     = excluded.username,
	email        = excluded.email,
	given_name   = excluded.given_name,
	family_name  = excluded.family_name,
	display_name = excluded.display_name,
	active       = excluded.active,
	groups_json  = excluded.groups_json,
	extra_json   = excluded.extra_json,
	first_seen   = coalesce(users.first_seen, excluded.first_seen),
	last_seen    = excluded.last_seen,
	archived_at  = excluded.archived_at,
	attempts     = excluded.attempts,
	last_error   = excluded.last_error,
	failed_op    = excluded.failed_op`

const insertEntrySQL = `INSERT INTO journal (run_id, at, op, user_id, username, platform_id,
	fields, reason, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`

// Snapshot returns every record, ordered by user ID. A read-only store over a
// missing file has none.
func (d *DB) Snapshot(ctx context.Context) ([]user.Record, error) {
	if d.sql == nil {
		return nil, nil
	}
	var n int
	if err := d.sql.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return nil, fmt.Errorf("state %s: snapshot: %w", d.path, classify(err))
	}
	recs, err := d.queryRecords(ctx, n, `SELECT `+recordColumns+` FROM users ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("state %s: snapshot: %w", d.path, err)
	}
	return recs, nil
}

// queryRecords runs query, which selects recordColumns, with room for n records.
func (d *DB) queryRecords(ctx context.Context, n int, query string, args ...any) ([]user.Record, error) {
	rows, err := d.sql.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	out := make([]user.Record, 0, n)
	for rows.Next() {
		out = append(out, user.Record{})
		if err := scanRecord(rows, &out[len(out)-1]); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, classify(err)
	}
	return out, nil
}

// scanRecord reads one row of recordColumns into r. It is the inner loop of
// Snapshot: plain strings and integers, JSON only for groups and extra.
func scanRecord(rows RowScanner, r *user.Record) error {
	var (
		status, groups, extra, first, last, archived, failedOp string
		active, attempts                                       int64
		u                                                      = &r.User
	)
	if err := rows.Scan(&u.ID, &r.PlatformID, &status, &r.Hash, &u.DN, &u.Username, &u.Email,
		&u.GivenName, &u.FamilyName, &u.DisplayName, &active, &groups, &extra,
		&first, &last, &archived, &attempts, &r.LastError, &failedOp); err != nil {
		return classify(err)
	}
	r.Status = user.Status(status)
	u.Active = active != 0
	r.Attempts = int(attempts)
	r.FailedOp = user.Op(failedOp)
	var err error
	if u.Groups, err = decodeStrings(groups); err != nil {
		return fmt.Errorf("user %s: groups: %w", u.ID, err)
	}
	if u.Extra, err = decodeMap(extra); err != nil {
		return fmt.Errorf("user %s: extra: %w", u.ID, err)
	}
	if r.FirstSeen, err = parseTime(first); err != nil {
		return fmt.Errorf("user %s: first_seen: %w", u.ID, err)
	}
	if r.LastSeen, err = parseTime(last); err != nil {
		return fmt.Errorf("user %s: last_seen: %w", u.ID, err)
	}
	if r.ArchivedAt, err = parseTime(archived); err != nil {
		return fmt.Errorf("user %s: archived_at: %w", u.ID, err)
	}
	return nil
}

// BeginRun records the start of a run and returns its ID.
func (d *DB) BeginRun(ctx context.Context, mode string) (int64, error) {
	if err := d.writable("begin run"); err != nil {
		return 0, err
	}
	res, err := d.sql.ExecContext(ctx, `INSERT INTO runs (mode, started_at) VALUES (?, ?)`,
		mode, formatTime(d.now()))
	if err != nil {
		return 0, fmt.Errorf("state %s: begin run: %w", d.path, classify(err))
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("state %s: begin run: %w", d.path, err)
	}
	return id, nil
}

// Save appends e to run's journal and, when rec is not nil, upserts rec keyed by
// rec.User.ID, in one transaction: both are recorded or neither is. An existing
// record's FirstSeen is kept. When Save returns nil the change survives the
// process dying (see synchronous=NORMAL in Open). An Entry without At is stamped
// with the store's clock.
func (d *DB) Save(ctx context.Context, run int64, e user.Entry, rec *user.Record) error {
	if err := d.writable("save"); err != nil {
		return err
	}
	if err := d.save(ctx, run, e, rec); err != nil {
		return fmt.Errorf("state %s: save %s %s (run %d): %w", d.path, e.Op, e.UserID, run, classify(err))
	}
	return nil
}

func (d *DB) save(ctx context.Context, run int64, e user.Entry, rec *user.Record) error {
	if rec == nil {
		return d.saveEntry(ctx, run, e, nil)
	}
	args, err := recordArgs(rec)
	if err != nil {
		return err
	}
	return d.saveEntry(ctx, run, e, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.StmtContext(ctx, d.upsertRecord).ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("record: %w", err)
		}
		return nil
	})
}

// saveEntry appends e to run's journal and, when upsert is not nil, runs it
// (a record's upsert), in one transaction it may share with concurrent saves
// (see groupCommit).
func (d *DB) saveEntry(ctx context.Context, run int64, e user.Entry, upsert func(ctx context.Context, tx *sql.Tx) error) error {
	// Encode before the transaction, to keep it short.
	entryArgs, err := EntryArgs(run, e, d.now)
	if err != nil {
		return err
	}
	return d.inGroup(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.StmtContext(ctx, d.insertEntry).ExecContext(ctx, entryArgs...); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		if upsert == nil {
			return nil
		}
		return upsert(ctx, tx)
	})
}

// recordArgs returns rec as the arguments of upsertRecordSQL.
func recordArgs(rec *user.Record) ([]any, error) {
	u := &rec.User
	if u.ID == "" {
		return nil, errors.New("record has no user ID")
	}
	groups, err := marshalJSON(u.Groups, len(u.Groups) == 0)
	if err != nil {
		return nil, err
	}
	extra, err := marshalJSON(u.Extra, len(u.Extra) == 0)
	if err != nil {
		return nil, err
	}
	active := 0
	if u.Active {
		active = 1
	}
	return []any{u.ID, rec.PlatformID, string(rec.Status), rec.Hash, u.DN, u.Username, u.Email,
		u.GivenName, u.FamilyName, u.DisplayName, active, groups, extra,
		nullTime(rec.FirstSeen), nullTime(rec.LastSeen), nullTime(rec.ArchivedAt),
		rec.Attempts, rec.LastError, string(rec.FailedOp)}, nil
}

// FinishRun records a run's outcome, its counts by kind and its error text.
func (d *DB) FinishRun(ctx context.Context, run int64, outcome string, counts map[string]int, errText string) error {
	if err := d.writable("finish run"); err != nil {
		return err
	}
	c, err := marshalJSON(counts, len(counts) == 0)
	if err != nil {
		return fmt.Errorf("state %s: finish run %d: %w", d.path, run, err)
	}
	res, err := d.sql.ExecContext(ctx,
		`UPDATE runs SET finished_at = ?, outcome = ?, counts = ?, error = ? WHERE id = ?`,
		formatTime(d.now()), outcome, c, errText, run)
	if err != nil {
		return fmt.Errorf("state %s: finish run %d: %w", d.path, run, classify(err))
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("state %s: finish run %d: no such run", d.path, run)
	}
	return nil
}

// decodeCounts reads a run's counts column.
func decodeCounts(s string) (map[string]int, error) {
	if s == "" {
		return nil, nil
	}
	var m map[string]int
	err := json.Unmarshal([]byte(s), &m)
	return m, err
}
