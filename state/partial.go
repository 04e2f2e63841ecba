package state

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/dirsync/dirsync/user"
)

// Summaries calls fn with every record's summary, ordered by user ID. An
// error from fn stops the read and is returned. It reads four short columns
// per row, so a reconciler can keep the whole snapshot's summaries in memory
// where the full records would not fit comfortably.
func (d *DB) Summaries(ctx context.Context, fn func(user.Summary) error) error {
	if d.sql == nil {
		return nil
	}
	rows, err := d.sql.QueryContext(ctx, `SELECT id, platform_id, status, hash FROM users ORDER BY id`)
	if err != nil {
		return fmt.Errorf("state %s: summaries: %w", d.path, classify(err))
	}
	defer rows.Close()
	for rows.Next() {
		var s user.Summary
		var status string
		if err := rows.Scan(&s.ID, &s.PlatformID, &status, &s.Hash); err != nil {
			return fmt.Errorf("state %s: summaries: %w", d.path, classify(err))
		}
		s.Status = internStatus(status)
		if err := fn(s); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("state %s: summaries: %w", d.path, classify(err))
	}
	return nil
}

// internStatus returns the package constant equal to status, so that a
// reader holding many summaries does not hold a copy of the word per record.
func internStatus(status string) user.Status {
	for _, st := range []user.Status{user.StatusActive, user.StatusArchived, user.StatusPending, user.StatusDeleted} {
		if string(st) == status {
			return st
		}
	}
	return user.Status(status)
}

// Managed counts the records active on the platform.
func (d *DB) Managed(ctx context.Context) (int, error) {
	if d.sql == nil {
		return 0, nil
	}
	var n int
	if err := d.sql.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE status = ?`, string(user.StatusActive)).Scan(&n); err != nil {
		return 0, fmt.Errorf("state %s: count managed users: %w", d.path, classify(err))
	}
	return n, nil
}

// recordsChunk bounds the IDs bound into one query (SQLite's limit on
// variables is far higher; this keeps statements short).
const recordsChunk = 500

// Records returns the records of the given user IDs that exist, ordered by
// user ID. IDs with no record are left out; repeated IDs are read once.
func (d *DB) Records(ctx context.Context, ids []string) ([]user.Record, error) {
	if d.sql == nil || len(ids) == 0 {
		return nil, nil
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	out := make([]user.Record, 0, len(ids))
	for chunk := range slices.Chunk(ids, recordsChunk) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		query := `SELECT ` + recordColumns + ` FROM users WHERE id IN (?` +
			strings.Repeat(", ?", len(chunk)-1) + `) ORDER BY id`
		recs, err := d.queryRecords(ctx, len(chunk), query, args...)
		if err != nil {
			return nil, fmt.Errorf("state %s: records: %w", d.path, err)
		}
		out = append(out, recs...)
	}
	return out, nil
}
