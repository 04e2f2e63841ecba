package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/dirsync/dirsync/user"
)

const groupColumns = `id, platform_id, status, name, dn, members_hash, coalesce(members_json, ''),
	coalesce(first_seen, ''), coalesce(last_seen, ''), attempts, last_error`

const upsertGroupSQL = `INSERT INTO groups (id, platform_id, status, name, dn, members_hash,
	members_json, first_seen, last_seen, attempts, last_error)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
	platform_id  = excluded.platform_id,
	status       = excluded.status,
	name         = excluded.name,
	dn           = excluded.dn,
	members_hash = excluded.members_hash,
	members_json = excluded.members_json,
	first_seen   = coalesce(groups.first_seen, excluded.first_seen),
	last_seen    = excluded.last_seen,
	attempts     = excluded.attempts,
	last_error   = excluded.last_error`

// Groups returns every group record, ordered by ID. A read-only store over a
// missing file has none.
func (d *DB) Groups(ctx context.Context) ([]user.GroupRecord, error) {
	if d.sql == nil {
		return nil, nil
	}
	wrap := func(err error) error { return fmt.Errorf("state %s: groups: %w", d.path, err) }
	rows, err := d.sql.QueryContext(ctx, `SELECT `+groupColumns+` FROM groups ORDER BY id`)
	if err != nil {
		return nil, wrap(classify(err))
	}
	defer rows.Close()
	var out []user.GroupRecord
	for rows.Next() {
		r, err := scanGroup(rows)
		if err != nil {
			return nil, wrap(classify(err))
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(classify(err))
	}
	return out, nil
}

// scanGroup reads one row of groupColumns.
func scanGroup(row RowScanner) (user.GroupRecord, error) {
	var (
		r                          user.GroupRecord
		status, members, first, ls string
	)
	if err := row.Scan(&r.Group.ID, &r.PlatformID, &status, &r.Group.Name, &r.Group.DN, &r.MembersHash,
		&members, &first, &ls, &r.Attempts, &r.LastError); err != nil {
		return r, err
	}
	r.Status = user.GroupStatus(status)
	var err error
	if r.Members, err = decodeStrings(members); err != nil {
		return r, fmt.Errorf("group %s: members: %w", r.Group.ID, err)
	}
	if r.FirstSeen, err = parseTime(first); err != nil {
		return r, fmt.Errorf("group %s: first_seen: %w", r.Group.ID, err)
	}
	if r.LastSeen, err = parseTime(ls); err != nil {
		return r, fmt.Errorf("group %s: last_seen: %w", r.Group.ID, err)
	}
	return r, nil
}

// groupArgs returns rec as the values of the groups columns, in the order of
// upsertGroupSQL.
func groupArgs(rec *user.GroupRecord) ([]any, error) {
	if rec.Group.ID == "" {
		return nil, errors.New("group record has no ID")
	}
	members, err := marshalJSON(rec.Members, len(rec.Members) == 0)
	if err != nil {
		return nil, err
	}
	return []any{rec.Group.ID, rec.PlatformID, string(rec.Status), rec.Group.Name, rec.Group.DN, rec.MembersHash,
		members, nullTime(rec.FirstSeen), nullTime(rec.LastSeen), rec.Attempts, rec.LastError}, nil
}

// SaveGroup appends e to run's journal and, when rec is not nil, upserts rec
// keyed by rec.Group.ID, in one transaction, as Save does for users.
func (d *DB) SaveGroup(ctx context.Context, run int64, e user.Entry, rec *user.GroupRecord) error {
	if err := d.writable("save group"); err != nil {
		return err
	}
	if err := d.saveGroup(ctx, run, e, rec); err != nil {
		return fmt.Errorf("state %s: save %s %s (run %d): %w", d.path, e.Op, e.UserID, run, classify(err))
	}
	return nil
}

func (d *DB) saveGroup(ctx context.Context, run int64, e user.Entry, rec *user.GroupRecord) error {
	if rec == nil {
		return d.saveEntry(ctx, run, e, nil)
	}
	args, err := groupArgs(rec)
	if err != nil {
		return err
	}
	return d.saveEntry(ctx, run, e, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, upsertGroupSQL, args...); err != nil {
			return fmt.Errorf("group record: %w", err)
		}
		return nil
	})
}

// GroupStats counts the group records by status and the failing ones, and
// the memberships of the active ones.
type GroupStats struct {
	Groups      map[user.GroupStatus]int `json:"groups"`
	Failing     int                      `json:"failing"`
	Memberships int                      `json:"memberships"`
}

// GroupStats summarizes the snapshot's groups for `dirsync status`.
func (d *DB) GroupStats(ctx context.Context) (GroupStats, error) {
	recs, err := d.Groups(ctx)
	if err != nil {
		return GroupStats{Groups: map[user.GroupStatus]int{}}, err
	}
	return CountGroups(recs), nil
}

// CountGroups is the GroupStats of recs.
func CountGroups(recs []user.GroupRecord) GroupStats {
	s := GroupStats{Groups: map[user.GroupStatus]int{}}
	for _, r := range recs {
		s.Groups[r.Status]++
		if r.Attempts > 0 || r.LastError != "" {
			s.Failing++
		}
		if r.Status == user.GroupActive {
			s.Memberships += len(r.Members)
		}
	}
	return s
}
