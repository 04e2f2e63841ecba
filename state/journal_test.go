package state

import (
	"context"
	"reflect"
	"testing"
	"time"

	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/user"
)

// journalOf returns the (run, op, user ID) of every entry f selects.
func journalOf(t *testing.T, db *DB, f JournalFilter) []string {
	t.Helper()
	var got []string
	err := db.QueryJournal(context.Background(), f, func(r JournalRow) error {
		got = append(got, string(r.Op)+" "+r.UserID)
		return nil
	})
	if err != nil {
		t.Fatalf("QueryJournal(%+v): %v", f, err)
	}
	return got
}

func TestQueryJournal_FiltersByUserAcrossRenamesRunSinceAndKind(t *testing.T) {
	ctx := context.Background()
	clock := &testClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	db, _ := openTest(t, WithClock(clock.now))
	save := func(run int64, e user.Entry, rec *user.Record) {
		t.Helper()
		if err := db.Save(ctx, run, e, rec); err != nil {
			t.Fatal(err)
		}
	}
	rec := func(id, name, mail string, st user.Status) *user.Record {
		return &user.Record{User: user.User{ID: id, Username: name, Email: mail, Active: st == user.StatusActive}, PlatformID: "p-" + id, Status: st}
	}
	r1, _ := db.BeginRun(ctx, "sync")
	save(r1, user.Entry{Op: user.OpCreate, UserID: "u1", Username: "jdoe"}, rec("u1", "jdoe", "jdoe@example.com", user.StatusActive))
	save(r1, user.Entry{Op: user.OpCreate, UserID: "u2", Username: "asmith"}, rec("u2", "asmith", "asmith@example.com", user.StatusActive))
	clock.t = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	r2, _ := db.BeginRun(ctx, "sync")
	save(r2, user.Entry{Op: user.OpUpdate, UserID: "u1", Username: "john.doe",
		Fields: []user.FieldChange{{Field: user.FieldUsername, Old: "jdoe", New: "john.doe"}}},
		rec("u1", "john.doe", "john.doe@example.com", user.StatusActive))
	save(r2, user.Entry{Op: user.OpArchive, UserID: "u2", Username: "asmith", Reason: "removed from the directory"},
		rec("u2", "asmith", "asmith@example.com", user.StatusArchived))
	save(r2, user.Entry{Op: user.OpCreate, UserID: "u3", Username: "bfail", Error: "409 conflict"}, nil)

	for _, tc := range []struct {
		name string
		f    JournalFilter
		want []string
	}{
		{"all", JournalFilter{}, []string{"create u1", "create u2", "update u1", "archive u2", "create u3"}},
		{"old username", JournalFilter{User: "JDOE"}, []string{"create u1", "update u1"}},
		{"new username", JournalFilter{User: "john.doe"}, []string{"create u1", "update u1"}},
		{"email", JournalFilter{User: "asmith@example.com"}, []string{"create u2", "archive u2"}},
		{"directory ID", JournalFilter{User: "u3"}, []string{"create u3"}},
		{"run", JournalFilter{Run: r1}, []string{"create u1", "create u2"}},
		{"since", JournalFilter{Since: time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)}, []string{"update u1", "archive u2", "create u3"}},
		{"kind", JournalFilter{Kind: user.OpArchive}, []string{"archive u2"}},
		{"combined", JournalFilter{User: "jdoe", Run: r2, Kind: user.OpUpdate}, []string{"update u1"}},
		{"nobody", JournalFilter{User: "nobody"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := journalOf(t, db, tc.f); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}

	var rows []JournalRow
	if err := db.QueryJournal(ctx, JournalFilter{Kind: user.OpUpdate}, func(r JournalRow) error { rows = append(rows, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Run != r2 || len(rows[0].Fields) != 1 || rows[0].Fields[0].Old != "jdoe" || rows[0].Fields[0].New != "john.doe" {
		t.Errorf("update row: %+v", rows)
	}
}

var _ dsync.FormerHolderStore = (*DB)(nil)

func TestFormerHolders_FindsUsernamesAndEmailsAUserGaveUp(t *testing.T) {
	ctx := context.Background()
	clock := &testClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	db, _ := openTest(t, WithClock(clock.now))
	run := mustBegin(t, db)
	save := func(e user.Entry) {
		t.Helper()
		if err := db.Save(ctx, run, e, nil); err != nil {
			t.Fatal(err)
		}
	}
	save(user.Entry{Op: user.OpUpdate, UserID: "ann", Username: "ann", Fields: []user.FieldChange{
		{Field: user.FieldEmail, Old: "Ann@Example.com", New: "ann.smith@example.com"},
		{Field: user.FieldDisplayName, Old: "Ann", New: "Ann Smith"}}})
	save(user.Entry{Op: user.OpUpdate, UserID: "cid", Username: "cid2", Fields: []user.FieldChange{
		{Field: user.FieldUsername, Old: "cid", New: "cid2"}}})
	// Not a giving up: a failed update, an archive that freed the name, a
	// create, another field.
	save(user.Entry{Op: user.OpUpdate, UserID: "dan", Username: "dan", Error: "500",
		Fields: []user.FieldChange{{Field: user.FieldEmail, Old: "dan@example.com", New: "d@example.com"}}})
	save(user.Entry{Op: user.OpArchive, UserID: "eve", Username: "eve", Fields: []user.FieldChange{
		{Field: user.FieldUsername, Old: "eve", New: "eve.left-2026-01-01"}}})
	save(user.Entry{Op: user.OpCreate, UserID: "fay", Username: "fay", Fields: []user.FieldChange{
		{Field: user.FieldUsername, Old: "", New: "fay"}}})
	save(user.Entry{Op: user.OpUpdate, UserID: "gus", Username: "gus", Fields: []user.FieldChange{
		{Field: user.FieldDisplayName, Old: "cid", New: "Gus"}}})

	got, err := db.FormerHolders(ctx, []string{"ann@example.com", "CID", "dan@example.com", "eve", "fay", "nobody"})
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, f := range got {
		s = append(s, f.ID+" "+f.Field+"="+f.Value)
		if f.Until.IsZero() {
			t.Errorf("%+v has no time", f)
		}
	}
	if want := []string{"ann email=Ann@Example.com", "cid username=cid"}; !reflect.DeepEqual(s, want) {
		t.Errorf("got %q, want %q", s, want)
	}
}
