package state

import (
	"context"
	"time"

	"github.com/dirsync/dirsync/user"
)

// Store is a snapshot store: the SQLite file (*DB) or a PostgreSQL database
// (package state/postgres). It is the reconciler's Store (sync.Store, which
// cmd/dirsync asserts at build time), plus what the commands read: runs,
// failing records, a run's journal and counts. The commands and the service
// hold a Store, never a particular implementation; state/stores opens the one
// state.driver names.
type Store interface {
	// The reconciler's sync.Store, method for method.
	Summaries(ctx context.Context, fn func(user.Summary) error) error
	Records(ctx context.Context, ids []string) ([]user.Record, error)
	Managed(ctx context.Context) (int, error)
	GetMeta(ctx context.Context, key string) (string, bool, error)
	SetMeta(ctx context.Context, key, value string) error
	SaveIntent(ctx context.Context, rec *user.Record) error
	Snapshot(ctx context.Context) ([]user.Record, error)
	BeginRun(ctx context.Context, mode string) (int64, error)
	Save(ctx context.Context, run int64, e user.Entry, rec *user.Record) error
	FinishRun(ctx context.Context, run int64, outcome string, counts map[string]int, errText string) error
	Prune(ctx context.Context) error
	ArchivedBefore(ctx context.Context, t time.Time) ([]user.Record, error)
	RecordsHolding(ctx context.Context, values []string) ([]user.Record, error)
	FormerHolders(ctx context.Context, values []string) ([]user.FormerHolder, error)
	Groups(ctx context.Context) ([]user.GroupRecord, error)
	SaveGroup(ctx context.Context, run int64, e user.Entry, rec *user.GroupRecord) error

	// Runs returns the latest limit runs, newest first; limit <= 0 means all.
	Runs(ctx context.Context, limit int) ([]Run, error)
	// Failing returns the records whose last change failed, ordered by ID.
	Failing(ctx context.Context) ([]user.Record, error)
	// Unsettled returns the pending records and the failing ones, ordered
	// by ID.
	Unsettled(ctx context.Context) ([]user.Record, error)
	// Journal returns a run's journal in the order the changes were saved.
	Journal(ctx context.Context, runID int64) ([]user.Entry, error)
	// Stats counts the records by status, the failing ones and the runs.
	Stats(ctx context.Context) (Stats, error)
	// GroupStats counts the group records by status, the failing ones and
	// the memberships of the active ones.
	GroupStats(ctx context.Context) (GroupStats, error)
	// QueryJournal calls fn with every journal entry f selects, oldest
	// first, one at a time; it stops at fn's first error and returns it.
	QueryJournal(ctx context.Context, f JournalFilter, fn func(JournalRow) error) error
	// PruneHistory removes the runs and journal entries past the retention
	// (see DB.PruneHistory for what is always kept) and says how many.
	PruneHistory(ctx context.Context) (Pruned, error)

	// Path names the store in messages: the SQLite file, or the PostgreSQL
	// database's URL without its password.
	Path() string
	// ReadOnly reports whether the store was opened for reading only.
	ReadOnly() bool
	// Close releases the store (and its single-writer lock). It is safe to
	// call more than once.
	Close() error
}

var _ Store = (*DB)(nil)
