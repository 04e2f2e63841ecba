package state

import (
	"context"
	"fmt"
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
