package state

import (
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

var (
	// ErrLocked means another process holds the state file open read-write: only
	// one sync may run at a time.
	ErrLocked = errors.New("state file is locked")
	// ErrReadOnly is returned by the writing methods of a store opened with
	// OpenReadOnly.
	ErrReadOnly = errors.New("state is open read-only")
	// ErrSchemaTooNew means the state file was written by a newer dirsync.
	ErrSchemaTooNew = errors.New("state file schema is newer than this dirsync")
	// ErrNotState means the file is not a dirsync state file: not SQLite, or a
	// SQLite database of something else.
	ErrNotState = errors.New("not a dirsync state file")
	// ErrCorrupt means SQLite found the state file damaged.
	ErrCorrupt = errors.New("file is corrupt")
)

// errNotState is schemaVersion's answer for a database with foreign tables.
var errNotState = fmt.Errorf("%w: it holds tables but no schema_migrations; check state.path", ErrNotState)

// lockedError is the ErrLocked a second read-write Open gets.
type lockedError struct {
	path string
	pid  int // 0 when the holder has not written it (yet)
}

func (e *lockedError) Error() string {
	holder := "pid unknown"
	if e.pid > 0 {
		holder = fmt.Sprintf("pid %d", e.pid)
	}
	return fmt.Sprintf("state %s is in use by another dirsync process (%s); only one sync may run at a time", e.path, holder)
}

func (e *lockedError) Is(target error) bool { return target == ErrLocked }

// schemaTooNewError is the ErrSchemaTooNew for a file at version.
type schemaTooNewError struct{ version int }

func (e *schemaTooNewError) Error() string {
	return fmt.Sprintf("state file schema version %d is newer than this dirsync supports (%d); upgrade dirsync", e.version, latestVersion)
}

func (e *schemaTooNewError) Is(target error) bool { return target == ErrSchemaTooNew }

// sqliteCode returns the primary SQLite result code in err's chain, or 0.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() & 0xff
	}
	return 0
}

// sqliteExtendedCode returns the extended SQLite result code in err's chain, or 0.
func sqliteExtendedCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

// classify adds what an operator should know to SQLite errors that mean the file
// itself is bad; other errors are returned as they are.
func classify(err error) error {
	switch sqliteCode(err) {
	case sqlite3.SQLITE_NOTADB:
		return fmt.Errorf("%w: %w; check state.path", ErrNotState, err)
	case sqlite3.SQLITE_CORRUPT:
		return fmt.Errorf("%w: %w; restore it from a backup, or move it away and the next sync rebuilds it (adopting the platform's existing accounts)", ErrCorrupt, err)
	}
	return err
}
