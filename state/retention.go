package state

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// DefaultRetention is how long runs and journal entries are kept unless
// state.retention says otherwise: a little over a year, for a yearly audit.
const DefaultRetention = 400 * 24 * time.Hour

// KeepRuns is how many of the latest runs Prune keeps whatever their age, so
// that `dirsync status` and `dirsync undo` of the last runs work after dirsync
// was stopped for longer than the retention.
const KeepRuns = 10

// WithRetention sets how long Prune keeps runs and journal entries; 0 keeps
// them forever. Default DefaultRetention.
func WithRetention(d time.Duration) Option {
	return func(o *options) { o.retention = d }
}

// Pruned is what one Prune removed.
type Pruned struct {
	Runs    int64 `json:"runs"`
	Entries int64 `json:"entries"`
}

// Prune is PruneHistory for the sync engine (sync.Pruner), which calls it at
// the end of every run it recorded.
func (d *DB) Prune(ctx context.Context) error {
	_, err := d.PruneHistory(ctx)
	return err
}

// PruneHistory removes the runs and journal entries older than the
// retention, and gives the space back to the file system.
//
// It never removes a snapshot record, and never what the snapshot still
// needs, whatever its age:
//   - the latest KeepRuns runs (status, undo of the last runs);
//   - a run still in progress;
//   - for each record still archived, the journal entry of its archive: `dirsync
//     undo --run N` reads the run's journal to find whom to reactivate;
//   - for each failing record, the journal entry of its latest failure (what
//     `dirsync journal --user` shows for the error the next run retries);
//   - the run of any entry kept.
//
// So the file holds at most the retention's runs plus one entry per record:
// it does not grow without bound.
func (d *DB) PruneHistory(ctx context.Context) (Pruned, error) {
	var p Pruned
	if err := d.writable("prune"); err != nil {
		return p, err
	}
	if d.retention <= 0 {
		return p, nil
	}
	wrap := func(err error) error { return fmt.Errorf("state %s: prune: %w", d.path, classify(err)) }
	cutoff := formatTime(d.now().Add(-d.retention))
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return p, wrap(err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if p.Entries, err = execCount(ctx, tx, pruneJournalSQL, cutoff, KeepRuns); err != nil {
		return p, wrap(err)
	}
	if p.Runs, err = execCount(ctx, tx, pruneRunsSQL, cutoff, KeepRuns); err != nil {
		return p, wrap(err)
	}
	if err := tx.Commit(); err != nil {
		return p, wrap(err)
	}
	if p.Entries > 0 || p.Runs > 0 {
		if err := d.reclaim(ctx); err != nil {
			return p, wrap(err)
		}
	}
	return p, nil
}

// prunableRuns selects the runs older than the cutoff (?1) that are over (an
// outcome recorded: finished or interrupted) and not among the latest ?2.
const prunableRuns = `SELECT id FROM runs WHERE started_at < ?1 AND outcome <> ''
	AND id NOT IN (SELECT id FROM runs ORDER BY id DESC LIMIT ?2)`

// neededEntries selects the journal entries the snapshot still needs: the
// archive of each record still archived and the latest failure of each
// failing record (see Prune). Both use the index journal_user.
const neededEntries = `SELECT id FROM (
	SELECT (SELECT j.id FROM journal j WHERE j.user_id = u.id AND j.op = 'archive' AND j.error = ''
	        ORDER BY j.id DESC LIMIT 1) AS id
	FROM users u WHERE u.status = 'archived'
	UNION ALL
	SELECT (SELECT j.id FROM journal j WHERE j.user_id = u.id AND j.error <> ''
	        ORDER BY j.id DESC LIMIT 1)
	FROM users u WHERE u.attempts > 0 OR u.last_error <> ''
) AS needed WHERE id IS NOT NULL`

const pruneJournalSQL = `DELETE FROM journal WHERE run_id IN (` + prunableRuns + `)
	AND id NOT IN (` + neededEntries + `)`

const pruneRunsSQL = `DELETE FROM runs WHERE id IN (` + prunableRuns + `)
	AND NOT EXISTS (SELECT 1 FROM journal WHERE journal.run_id = runs.id)`

func execCount(ctx context.Context, tx *sql.Tx, query string, args ...any) (int64, error) {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// reclaim gives the pages freed by prunes back to the file system once they
// are a good part of the file: SQLite files never shrink by themselves, and
// the free pages are reused by the next runs' journal meanwhile. A file
// created before auto_vacuum was set is converted once, by a VACUUM (which
// rewrites the file: it takes as long as copying it). The WAL is then
// checkpointed and truncated, so that it does not keep the size of the
// largest prune.
func (d *DB) reclaim(ctx context.Context) error {
	var mode, free, pages int64
	if err := d.sql.QueryRowContext(ctx, `SELECT * FROM pragma_auto_vacuum, pragma_freelist_count, pragma_page_count`).
		Scan(&mode, &free, &pages); err != nil {
		return err
	}
	if free < reclaimMinPages || free*reclaimFraction < pages {
		return nil
	}
	if mode != autoVacuumIncremental {
		if _, err := d.sql.ExecContext(ctx, `PRAGMA auto_vacuum = INCREMENTAL`); err != nil {
			return err
		}
		if _, err := d.sql.ExecContext(ctx, `VACUUM`); err != nil {
			return fmt.Errorf("vacuum: %w", err)
		}
	} else if _, err := d.sql.ExecContext(ctx, `PRAGMA incremental_vacuum`); err != nil {
		return fmt.Errorf("incremental vacuum: %w", err)
	}
	if _, err := d.sql.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// A prune gives free pages back when there are at least reclaimMinPages of
// them and they are at least 1/reclaimFraction of the file.
const (
	reclaimMinPages = 256
	reclaimFraction = 8
)

// autoVacuumIncremental is PRAGMA auto_vacuum's value for INCREMENTAL.
const autoVacuumIncremental = 2
