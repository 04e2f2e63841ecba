package state

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dirsync/dirsync/user"
)

// ArchivedBefore returns the records still archived whose archive time is
// before t, ordered by ID: the accounts sync.delete_after deletes. A record
// with no archive time is not returned.
func (d *DB) ArchivedBefore(ctx context.Context, t time.Time) ([]user.Record, error) {
	if d.sql == nil {
		return nil, nil
	}
	recs, err := d.queryRecords(ctx, 0, `SELECT `+recordColumns+` FROM users
		WHERE status = 'archived' AND archived_at IS NOT NULL AND archived_at < ? ORDER BY id`, formatTime(t))
	if err != nil {
		return nil, fmt.Errorf("state %s: archived records: %w", d.path, err)
	}
	return recs, nil
}

// holdingChunk is how many values one RecordsHolding query asks for; past
// holdingScan values, the records are scanned once instead.
const (
	holdingChunk = 400
	holdingScan  = 4000
)

// RecordsHolding returns the records, active, archived or deleted, whose
// username or email is one of values, compared without regard to case: who holds the
// names a plan gives out (sync.IdentifierStore).
func (d *DB) RecordsHolding(ctx context.Context, values []string) ([]user.Record, error) {
	if d.sql == nil || len(values) == 0 {
		return nil, nil
	}
	wrap := func(err error) error {
		return fmt.Errorf("state %s: records holding usernames or emails: %w", d.path, err)
	}
	const base = `SELECT ` + recordColumns + ` FROM users WHERE status IN ('active', 'archived', 'deleted')`
	if len(values) > holdingScan {
		want := make(map[string]bool, len(values))
		for _, v := range values {
			want[strings.ToLower(v)] = true
		}
		rows, err := d.sql.QueryContext(ctx, base)
		if err != nil {
			return nil, wrap(classify(err))
		}
		defer rows.Close()
		var out []user.Record
		for rows.Next() {
			var r user.Record
			if err := scanRecord(rows, &r); err != nil {
				return nil, wrap(err)
			}
			if want[strings.ToLower(r.User.Username)] || want[strings.ToLower(r.User.Email)] {
				out = append(out, r)
			}
		}
		if err := rows.Err(); err != nil {
			return nil, wrap(classify(err))
		}
		return out, nil
	}
	var out []user.Record
	for chunk := range slices.Chunk(values, holdingChunk) {
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", ")
		args := make([]any, 0, 2*len(chunk))
		for range 2 {
			for _, v := range chunk {
				args = append(args, v)
			}
		}
		recs, err := d.queryRecords(ctx, 0, base+` AND (username COLLATE NOCASE IN (`+marks+`) OR email COLLATE NOCASE IN (`+marks+`))`, args...)
		if err != nil {
			return nil, wrap(err)
		}
		out = append(out, recs...)
	}
	return out, nil
}
