package state

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/dirsync/dirsync/user"
)

// SaveIntent upserts rec without a journal entry. The reconciler saves a
// pending record this way just before it asks the platform to create an
// account, so that an account created by a run killed before it could record
// the create is still known to the next run.
func (d *DB) SaveIntent(ctx context.Context, rec *user.Record) error {
	if err := d.writable("save intent"); err != nil {
		return err
	}
	args, err := recordArgs(rec)
	if err != nil {
		return fmt.Errorf("state %s: save intent %s: %w", d.path, rec.User.ID, err)
	}
	err = d.inGroup(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.StmtContext(ctx, d.upsertRecord).ExecContext(ctx, args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("state %s: save intent %s: %w", d.path, rec.User.ID, classify(err))
	}
	return nil
}
