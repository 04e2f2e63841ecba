package state

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"
)

// migrationFiles holds the schema, one numbered file per change:
// migrations/NNNN_name.sql. A released file is never edited; a change to the
// schema is a new file with the next number.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations is the parsed content of migrationFiles, in version order.
var migrations = mustLoadMigrations(migrationFiles)

// latestVersion is the schema version this build writes and reads.
var latestVersion = migrations[len(migrations)-1].version

// mustLoadMigrations parses the embedded migrations. They are part of the
// binary, so a bad file is a programming error caught by every test run.
func mustLoadMigrations(fsys fs.FS) []migration {
	ms, err := loadMigrations(fsys)
	if err != nil {
		panic("state: " + err.Error())
	}
	return ms
}

func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	// fs.Glob returns names sorted, so zero-padded versions come in order.
	var ms []migration
	for _, name := range names {
		base := strings.TrimSuffix(path.Base(name), ".sql")
		num, label, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || label == "" {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", name)
		}
		if want := len(ms) + 1; v != want {
			return nil, fmt.Errorf("migration %s: version %d, want %d (versions are consecutive from 1)", name, v, want)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: label, sql: string(b)})
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("no migrations")
	}
	return ms, nil
}

const createSchemaMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
)`

// schemaVersion returns the highest migration applied to db: 0 for an empty
// database. A database that holds tables but no schema_migrations is not a
// dirsync state file, and that is an error.
func schemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	var hasMigrations, tables int
	err := db.QueryRowContext(ctx,
		`SELECT count(*) FILTER (WHERE name = 'schema_migrations'), count(*)
		 FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`,
	).Scan(&hasMigrations, &tables)
	if err != nil {
		return 0, err
	}
	if hasMigrations == 0 {
		if tables > 0 {
			return 0, errNotState
		}
		return 0, nil
	}
	var v int
	if err := db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, err
	}
	return v, nil
}

// migrate applies the migrations db lacks, each in its own transaction together
// with its schema_migrations row and PRAGMA user_version (a copy of the version
// for the sqlite3 shell), so a migration is applied whole or not at all.
// Reopening an up-to-date database changes nothing.
// current is the version schemaVersion returned.
func migrate(ctx context.Context, db *sql.DB, current int, now time.Time) error {
	for _, m := range migrations[current:] {
		if err := applyMigration(ctx, db, m, now); err != nil {
			return fmt.Errorf("migration %04d_%s: %w", m.version, m.name, err)
		}
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, m migration, now time.Time) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, createSchemaMigrations); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.version, m.name, formatTime(now)); err != nil {
		return err
	}
	// PRAGMA takes no bound parameters; the version is an int from the binary.
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(m.version)); err != nil {
		return err
	}
	return tx.Commit()
}
