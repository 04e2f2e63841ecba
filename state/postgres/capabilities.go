package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dirsync/dirsync/state"
	"github.com/dirsync/dirsync/user"
)

// What the reconciler and the commands need besides the records: pruning
// (state.retention), the archived records (sync.delete_after), who holds
// usernames and emails (reuse checks), the groups (groups.push) and the
// journal query (`dirsync journal`). Each does what the SQLite store's
// method of the same name does (package state), with the same SQL where the
// dialects agree.

// WithRetention sets how long Prune keeps runs and journal entries; 0 keeps
// them forever. Default state.DefaultRetention.
func WithRetention(d time.Duration) Option { return func(o *options) { o.retention = d } }

// Prune is PruneHistory for the sync engine (sync.Pruner).
func (d *DB) Prune(ctx context.Context) error {
	_, err := d.PruneHistory(ctx)
	return err
}

// pgParams turns SQLite's numbered parameters ?1, ?2 into PostgreSQL's.
var pgParams = strings.NewReplacer("?1", "$1", "?2", "$2")

// positional numbers SQLite's positional parameters ? for PostgreSQL:
// $1, $2, … in their order.
func positional(sql string) string {
	var b strings.Builder
	n := 0
	for _, r := range sql {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// The statements that write, shared with the SQLite store.
var (
	upsertRecordSQL = positional(state.UpsertRecordSQL)
	insertEntrySQL  = positional(state.InsertEntrySQL)
	upsertGroupSQL  = positional(state.UpsertGroupSQL)
)

// pruneJournalSQL is SQLite's journal prune, with the needed entries kept by
// NOT EXISTS rather than NOT IN: PostgreSQL plans it as an anti-join, which
// stays fast however many records are archived or failing (a NOT IN over a
// subquery too large for work_mem is rescanned for every row).
var pruneJournalSQL = pgParams.Replace(`WITH prunable AS (` + state.PrunableRunsSQL + `),
	needed AS (` + state.NeededEntriesSQL + `)
	DELETE FROM journal WHERE run_id IN (SELECT id FROM prunable)
	AND NOT EXISTS (SELECT 1 FROM needed WHERE needed.id = journal.id)`)

// PruneHistory removes the runs and journal entries older than the
// retention, keeping what state.DB.PruneHistory keeps: the latest
// state.KeepRuns runs, a run in progress, the archive entry of each record
// still archived, the latest failure of each failing record, and the run of
// any entry kept. Unlike SQLite, nothing needs vacuuming by hand: PostgreSQL's
// autovacuum reuses the space of the deleted rows.
func (d *DB) PruneHistory(ctx context.Context) (state.Pruned, error) {
	var p state.Pruned
	if err := d.writable("prune"); err != nil {
		return p, err
	}
	if d.retention <= 0 {
		return p, nil
	}
	cutoff := state.FormatTime(d.now().Add(-d.retention))
	err := d.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, pruneJournalSQL, cutoff, state.KeepRuns)
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		p.Entries = tag.RowsAffected()
		if tag, err = tx.Exec(ctx, pgParams.Replace(state.PruneRunsSQL), cutoff, state.KeepRuns); err != nil {
			return fmt.Errorf("runs: %w", err)
		}
		p.Runs = tag.RowsAffected()
		return nil
	})
	if err != nil {
		return state.Pruned{}, d.wrap("prune", err)
	}
	return p, nil
}

// ArchivedBefore returns the records still archived whose archive time is
// before t, ordered by ID: the accounts sync.delete_after deletes. A record
// with no archive time is not returned.
func (d *DB) ArchivedBefore(ctx context.Context, t time.Time) ([]user.Record, error) {
	if d.empty {
		return nil, nil
	}
	recs, err := d.queryRecords(ctx, `SELECT `+state.RecordColumns+` FROM users
		WHERE status = 'archived' AND archived_at IS NOT NULL AND archived_at < $1 ORDER BY id`, state.FormatTime(t))
	if err != nil {
		return nil, d.wrap("archived records", err)
	}
	return recs, nil
}

// RecordsHolding returns the records, active, archived or deleted, whose
// username or email is one of values, compared without regard to case: who
// holds the names a plan gives out (sync.IdentifierStore). The values are
// sent as one array, whatever their number.
func (d *DB) RecordsHolding(ctx context.Context, values []string) ([]user.Record, error) {
	if d.empty || len(values) == 0 {
		return nil, nil
	}
	lower := make([]string, len(values))
	for i, v := range values {
		lower[i] = strings.ToLower(v)
	}
	recs, err := d.queryRecords(ctx, `SELECT `+state.RecordColumns+` FROM users
		WHERE status IN ('active', 'archived', 'deleted') AND (lower(username) = ANY($1) OR lower(email) = ANY($1))
		ORDER BY id`, lower)
	if err != nil {
		return nil, d.wrap("records holding usernames or emails", err)
	}
	return recs, nil
}

// FormerHolders returns the usernames and emails among values that a
// journalled update or reactivation took from a directory user and replaced
// by another (sync.FormerHolderStore); see state.DB.FormerHolders.
func (d *DB) FormerHolders(ctx context.Context, values []string) ([]user.FormerHolder, error) {
	if d.empty || len(values) == 0 {
		return nil, nil
	}
	want := make(map[string]bool, len(values))
	for _, v := range values {
		want[strings.ToLower(v)] = true
	}
	rows, err := d.pool.Query(ctx, state.FormerHoldersSQL)
	if err != nil {
		return nil, d.wrap("former holders", err)
	}
	defer rows.Close()
	var out []user.FormerHolder
	for rows.Next() {
		var id, name, at, fields string
		if err := rows.Scan(&id, &name, &at, &fields); err != nil {
			return nil, d.wrap("former holders", err)
		}
		fh, err := state.FormerHoldersOf(id, name, at, fields, want)
		if err != nil {
			return nil, d.wrap("former holders", err)
		}
		out = append(out, fh...)
	}
	if err := rows.Err(); err != nil {
		return nil, d.wrap("former holders", err)
	}
	return out, nil
}

// Groups returns every group record, ordered by ID.
func (d *DB) Groups(ctx context.Context) ([]user.GroupRecord, error) {
	if d.empty {
		return nil, nil
	}
	rows, err := d.pool.Query(ctx, `SELECT `+state.GroupColumns+` FROM groups ORDER BY id`)
	if err != nil {
		return nil, d.wrap("groups", err)
	}
	defer rows.Close()
	var out []user.GroupRecord
	for rows.Next() {
		r, err := state.ScanGroup(rows)
		if err != nil {
			return nil, d.wrap("groups", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, d.wrap("groups", err)
	}
	return out, nil
}

// SaveGroup appends e to run's journal and, when rec is not nil, upserts rec
// keyed by rec.Group.ID, in one transaction that also checks the lease, as
// Save does for users. An existing record's FirstSeen is kept.
func (d *DB) SaveGroup(ctx context.Context, run int64, e user.Entry, rec *user.GroupRecord) error {
	var args func() ([]any, error)
	if rec != nil {
		args = func() ([]any, error) { return state.GroupArgs(rec) }
	}
	return d.save(ctx, "save group", run, e, upsertGroupSQL, "group record", args)
}

// GroupStats summarizes the snapshot's groups for `dirsync status`.
func (d *DB) GroupStats(ctx context.Context) (state.GroupStats, error) {
	recs, err := d.Groups(ctx)
	if err != nil {
		return state.GroupStats{Groups: map[user.GroupStatus]int{}}, err
	}
	return state.CountGroups(recs), nil
}

// QueryJournal calls fn with every journal entry f selects, oldest first (in
// the order they were saved), read one at a time; see state.DB.QueryJournal.
// It stops at fn's first error and returns it.
func (d *DB) QueryJournal(ctx context.Context, f state.JournalFilter, fn func(state.JournalRow) error) error {
	if d.empty {
		return nil
	}
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.User != "" {
		who := arg(f.User)
		lower := arg(strings.ToLower(f.User))
		where = append(where, `j.user_id IN (
			SELECT `+who+`::text UNION
			SELECT id FROM users WHERE lower(username) = `+lower+` OR lower(email) = `+lower+` UNION
			SELECT user_id FROM journal WHERE lower(username) = `+lower+`)`)
	}
	if f.Run != 0 {
		where = append(where, `j.run_id = `+arg(f.Run))
	}
	if !f.Since.IsZero() {
		// Stored times are fixed-width UTC text: they compare as text.
		where = append(where, `j.at >= `+arg(state.FormatTime(f.Since)))
	}
	if f.Kind != "" {
		where = append(where, `j.op = `+arg(string(f.Kind)))
	}
	q := `SELECT j.run_id, j.at, j.op, j.user_id, j.username, j.platform_id, coalesce(j.fields, ''), j.reason, j.error
		FROM journal j`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY j.id`
	rows, err := d.pool.Query(ctx, q, args...)
	if err != nil {
		return d.wrap("journal", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := state.ScanJournalRow(rows)
		if err != nil {
			return d.wrap("journal", err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return d.wrap("journal", err)
	}
	return nil
}
