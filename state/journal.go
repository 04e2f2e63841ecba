package state

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/dirsync/dirsync/user"
)

// JournalRow is one journal entry with the run that made it, as `dirsync
// journal` lists it. Entry.Fields holds each changed field's old and new value
// as they were when the change was made.
type JournalRow struct {
	Run int64 `json:"run"`
	user.Entry
}

// JournalFilter selects journal entries; its zero value selects them all.
type JournalFilter struct {
	// User selects a person's whole history: the entries of every directory
	// ID that User is (the ID itself), that the snapshot knows by that username
	// or email, or that a journal entry names by that username, matched
	// without regard to case. A renamed user is found by the old name and by
	// the new one, with all their entries.
	User string
	// Run selects one run's entries (0: every run).
	Run int64
	// Since selects the entries made at or after it (zero: from the first).
	Since time.Time
	// Kind selects one kind of change ("": every kind).
	Kind user.Op
}

// QueryJournal calls fn with every journal entry f selects, oldest first (in
// the order they were saved). It stops at fn's first error and returns it.
// Entries are read one at a time, so a long journal is never held in memory.
func (d *DB) QueryJournal(ctx context.Context, f JournalFilter, fn func(JournalRow) error) error {
	if d.sql == nil {
		return nil
	}
	var (
		where []string
		args  []any
	)
	if f.User != "" {
		where = append(where, `j.user_id IN (
			SELECT ? UNION
			SELECT id FROM users WHERE username = ? COLLATE NOCASE OR email = ? COLLATE NOCASE UNION
			SELECT user_id FROM journal WHERE username = ? COLLATE NOCASE)`)
		args = append(args, f.User, f.User, f.User, f.User)
	}
	if f.Run != 0 {
		where = append(where, `j.run_id = ?`)
		args = append(args, f.Run)
	}
	if !f.Since.IsZero() {
		// Stored times are fixed-width UTC text: they compare as text.
		where = append(where, `j.at >= ?`)
		args = append(args, formatTime(f.Since))
	}
	if f.Kind != "" {
		where = append(where, `j.op = ?`)
		args = append(args, string(f.Kind))
	}
	q := `SELECT j.run_id, j.at, j.op, j.user_id, j.username, j.platform_id, coalesce(j.fields, ''), j.reason, j.error
		FROM journal j`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY j.id`
	wrap := func(err error) error { return fmt.Errorf("state %s: journal: %w", d.path, err) }
	rows, err := d.sql.QueryContext(ctx, q, args...)
	if err != nil {
		return wrap(classify(err))
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanJournalRow(rows)
		if err != nil {
			return wrap(classify(err))
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return wrap(classify(err))
	}
	return nil
}

// scanJournalRow reads one row of run_id, at, op, user_id, username,
// platform_id, fields (NULL as the empty string), reason, error.
func scanJournalRow(row RowScanner) (JournalRow, error) {
	var (
		r          JournalRow
		at, fields string
	)
	if err := row.Scan(&r.Run, &at, &r.Op, &r.UserID, &r.Username, &r.PlatformID, &fields, &r.Reason, &r.Error); err != nil {
		return r, err
	}
	var err error
	if r.At, err = parseTime(at); err == nil && fields != "" {
		err = json.Unmarshal([]byte(fields), &r.Fields)
	}
	if err != nil {
		return r, fmt.Errorf("run %d, %s: %w", r.Run, r.UserID, err)
	}
	return r, nil
}

// FormerHolders returns the usernames and emails among values (compared
// without regard to case) that a journalled update or reactivation took from
// a directory user and replaced by another: who held a value before
// (the sync.FormerHolderStore of the reconciler). Only what the journal still holds (see
// state.retention) is known. Renames made by an archive that freed the
// names (sync.free_identifiers_on_archive) are not returned: freeing them
// is consent to their reuse.
func (d *DB) FormerHolders(ctx context.Context, values []string) ([]user.FormerHolder, error) {
	if d.sql == nil || len(values) == 0 {
		return nil, nil
	}
	want := make(map[string]bool, len(values))
	for _, v := range values {
		want[strings.ToLower(v)] = true
	}
	wrap := func(err error) error { return fmt.Errorf("state %s: former holders: %w", d.path, err) }
	rows, err := d.sql.QueryContext(ctx, formerHoldersSQL)
	if err != nil {
		return nil, wrap(classify(err))
	}
	defer rows.Close()
	var out []user.FormerHolder
	for rows.Next() {
		var id, name, at, fields string
		if err := rows.Scan(&id, &name, &at, &fields); err != nil {
			return nil, wrap(classify(err))
		}
		fh, err := formerHolders(id, name, at, fields, want)
		if err != nil {
			return nil, wrap(err)
		}
		out = append(out, fh...)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(classify(err))
	}
	return out, nil
}

// formerHoldersSQL selects the journal entries FormerHolders reads: few
// entries change a username or email, the LIKEs leave those, and the fields
// are matched by formerHolders.
const formerHoldersSQL = `SELECT user_id, username, at, fields FROM journal
	WHERE op IN ('update', 'reactivate') AND error = '' AND fields IS NOT NULL
	AND (fields LIKE '%"field":"username"%' OR fields LIKE '%"field":"email"%') ORDER BY id`

// formerHolders returns the former holders one journal entry of
// formerHoldersSQL gives, of the values want holds (lower case).
func formerHolders(id, name, at, fields string, want map[string]bool) ([]user.FormerHolder, error) {
	var (
		changes []user.FieldChange
		out     []user.FormerHolder
	)
	if err := json.Unmarshal([]byte(fields), &changes); err != nil {
		return nil, fmt.Errorf("%s: fields: %w", id, err)
	}
	for _, f := range changes {
		if (f.Field != user.FieldUsername && f.Field != user.FieldEmail) || f.Old == "" ||
			strings.EqualFold(f.Old, f.New) || !want[strings.ToLower(f.Old)] {
			continue
		}
		t, err := parseTime(at)
		if err != nil {
			return nil, fmt.Errorf("%s: at: %w", id, err)
		}
		out = append(out, user.FormerHolder{ID: id, Username: name, Field: f.Field, Value: f.Old, Until: t})
	}
	return out, nil
}
