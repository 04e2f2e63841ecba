package state

import (
	"encoding/json"
	"io/fs"
	"time"

	"github.com/dirsync/dirsync/user"
)

// What another Store implementation (state/postgres) shares with this one, so
// that both keep the same columns, encodings and migration rules. The
// snapshot's tables have the same columns in every implementation: a row is
// encoded and decoded here, once.

// RecordColumns are the users columns in the order ScanRecord reads them.
const RecordColumns = recordColumns

// RowScanner is a result row: *sql.Rows, pgx.Rows, pgx.Row.
type RowScanner interface {
	Scan(dest ...any) error
}

// ScanRecord reads one row of RecordColumns into r.
func ScanRecord(row RowScanner, r *user.Record) error { return scanRecord(row, r) }

// RecordArgs returns rec as the 19 values of the users columns, in the order
// of RecordColumns (without the coalesce). A record without a user ID is an
// error.
func RecordArgs(rec *user.Record) ([]any, error) { return recordArgs(rec) }

// EntryArgs returns e as the values of the journal columns run_id, at, op,
// user_id, username, platform_id, fields, reason and error. An entry without
// At is stamped with now.
func EntryArgs(run int64, e user.Entry, now func() time.Time) ([]any, error) {
	if e.At.IsZero() {
		e.At = now()
	}
	fields, err := marshalJSON(e.Fields, len(e.Fields) == 0)
	if err != nil {
		return nil, err
	}
	return []any{run, formatTime(e.At), string(e.Op), e.UserID, e.Username, e.PlatformID, fields, e.Reason, e.Error}, nil
}

// ScanEntry reads one journal row of at, op, user_id, username, platform_id,
// fields, reason, error, with a NULL fields selected as the empty string.
func ScanEntry(row RowScanner) (user.Entry, error) {
	var (
		e          user.Entry
		at, fields string
	)
	if err := row.Scan(&at, &e.Op, &e.UserID, &e.Username, &e.PlatformID, &fields, &e.Reason, &e.Error); err != nil {
		return e, err
	}
	var err error
	if e.At, err = parseTime(at); err == nil && fields != "" {
		err = json.Unmarshal([]byte(fields), &e.Fields)
	}
	return e, err
}

// ScanRun reads one runs row of id, mode, started_at, finished_at, outcome,
// counts, error, with NULLs selected as the empty string.
func ScanRun(row RowScanner) (Run, error) {
	var (
		r                        Run
		started, finished, count string
	)
	if err := row.Scan(&r.ID, &r.Mode, &started, &finished, &r.Outcome, &count, &r.Error); err != nil {
		return r, err
	}
	var err error
	if r.Started, err = parseTime(started); err == nil {
		r.Finished, err = parseTime(finished)
	}
	if err == nil {
		r.Counts, err = decodeCounts(count)
	}
	return r, err
}

// FormatTime is t as stored: UTC text, fixed width, sorting as the time does.
func FormatTime(t time.Time) string { return formatTime(t) }

// EncodeCounts is a run's counts as stored (nil for none).
func EncodeCounts(counts map[string]int) (any, error) {
	return marshalJSON(counts, len(counts) == 0)
}

// InternStatus returns the user.Status constant equal to status.
func InternStatus(status string) user.Status { return internStatus(status) }

// Migration is one numbered schema change, NNNN_name.sql.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// LoadMigrations parses the migrations/NNNN_name.sql files of fsys, by the
// rules of this package's own: versions consecutive from 1.
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	ms, err := loadMigrations(fsys)
	if err != nil {
		return nil, err
	}
	out := make([]Migration, len(ms))
	for i, m := range ms {
		out[i] = Migration{Version: m.version, Name: m.name, SQL: m.sql}
	}
	return out, nil
}

// SchemaVersion is the schema version this build's SQLite migrations reach.
// Every implementation's migrations reach the same version.
func SchemaVersion() int { return latestVersion }

// NewLockedError is the ErrLocked error of a store held by another process:
// where names the store, holder who holds it (e.g. "host db1, pid 4242").
func NewLockedError(where, holder string) error {
	return &heldError{where: where, holder: holder}
}

type heldError struct{ where, holder string }

func (e *heldError) Error() string {
	return "state " + e.where + " is in use: already running on " + e.holder + "; only one sync may run at a time"
}

func (e *heldError) Is(target error) bool { return target == ErrLocked }

// NewSchemaTooNewError is the ErrSchemaTooNew error of a store at version.
func NewSchemaTooNewError(version int) error { return &schemaTooNewError{version: version} }

// GroupColumns are the groups columns in the order ScanGroup reads them.
const GroupColumns = groupColumns

// ScanGroup reads one row of GroupColumns.
func ScanGroup(row RowScanner) (user.GroupRecord, error) { return scanGroup(row) }

// GroupArgs returns rec as the 11 values of the groups columns, in the order
// of GroupColumns (without the coalesce). A record without a group ID is an
// error.
func GroupArgs(rec *user.GroupRecord) ([]any, error) { return groupArgs(rec) }

// ScanJournalRow reads one row of journal run_id, at, op, user_id, username,
// platform_id, fields (NULL selected as the empty string), reason, error.
func ScanJournalRow(row RowScanner) (JournalRow, error) { return scanJournalRow(row) }

// FormerHoldersSQL selects the journal entries (user_id, username, at,
// fields) that may hold a former holder; FormerHoldersOf reads each.
const FormerHoldersSQL = formerHoldersSQL

// FormerHoldersOf returns the former holders of the values want holds (in
// lower case) that one row of FormerHoldersSQL gives.
func FormerHoldersOf(id, name, at, fields string, want map[string]bool) ([]user.FormerHolder, error) {
	return formerHolders(id, name, at, fields, want)
}

// PrunableRunsSQL selects the ids of the runs Prune may remove (?1 the
// cutoff time, ?2 KeepRuns), NeededEntriesSQL the ids of the journal entries
// it keeps whatever their age, and PruneRunsSQL removes the prunable runs
// left without entries; see DB.PruneHistory for what they keep.
const (
	PrunableRunsSQL  = prunableRuns
	NeededEntriesSQL = neededEntries
	PruneRunsSQL     = pruneRunsSQL
)

// UpsertRecordSQL, InsertEntrySQL and UpsertGroupSQL are the statements that
// write a record, a journal entry and a group record, with SQLite's ?
// parameters in the order RecordArgs, EntryArgs and GroupArgs give them.
const (
	UpsertRecordSQL = upsertRecordSQL
	InsertEntrySQL  = insertEntrySQL
	UpsertGroupSQL  = upsertGroupSQL
)
