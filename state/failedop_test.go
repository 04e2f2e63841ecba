package state

import (
	"context"
	"testing"

	"github.com/dirsync/dirsync/user"
)

func TestSave_KeepsTheKindOfTheFailedChange(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	run := mustBegin(t, db)
	rec := fullRecord("g")
	rec.Attempts, rec.LastError, rec.FailedOp = 2, "400", user.OpArchive
	if err := db.Save(ctx, run, user.Entry{Op: user.OpArchive, UserID: "g", Error: "400"}, &rec); err != nil {
		t.Fatal(err)
	}
	for name, read := range map[string]func() ([]user.Record, error){
		"Snapshot": func() ([]user.Record, error) { return db.Snapshot(ctx) },
		"Failing":  func() ([]user.Record, error) { return db.Failing(ctx) },
		"Records":  func() ([]user.Record, error) { return db.Records(ctx, []string{"g"}) },
	} {
		recs, err := read()
		if err != nil || len(recs) != 1 || recs[0].FailedOp != user.OpArchive {
			t.Errorf("%s: %+v, %v; want the failed op archive", name, recs, err)
		}
	}
}

// TestOpen_UpgradeTakesTheFailedOpFromTheJournal: a snapshot written before
// records kept the kind of their failed change gets it from the journal's
// latest failed entry of each failing user.
func TestOpen_UpgradeTakesTheFailedOpFromTheJournal(t *testing.T) {
	ctx := context.Background()
	db, path := openTest(t)
	run := mustBegin(t, db)
	failing, ok := fullRecord("f"), fullRecord("ok")
	failing.Attempts, failing.LastError = 2, "400"
	ok.User.Username, ok.Attempts, ok.LastError = "ok", 0, ""
	for _, s := range []struct {
		e   user.Entry
		rec *user.Record
	}{
		{user.Entry{Op: user.OpUpdate, UserID: "f", Error: "500"}, nil},
		{user.Entry{Op: user.OpArchive, UserID: "f", Error: "400"}, &failing},
		{user.Entry{Op: user.OpUpdate, UserID: "ok", Error: "500"}, nil},
		{user.Entry{Op: user.OpUpdate, UserID: "ok"}, &ok},
	} {
		if err := db.Save(ctx, run, s.e, s.rec); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	// Back to the first schema, as an older dirsync left it.
	raw := rawDB(t, path)
	for _, q := range []string{
		`ALTER TABLE users DROP COLUMN failed_op`,
		`DROP TABLE groups`,
		`DELETE FROM schema_migrations WHERE version > 1`,
		`PRAGMA user_version = 1`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	raw.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got := map[string]user.Op{}
	for _, r := range mustSnapshot(t, db) {
		got[r.User.ID] = r.FailedOp
	}
	if got["f"] != user.OpArchive || got["ok"] != "" {
		t.Errorf("failed ops after the upgrade %v; want f: archive, ok: none", got)
	}
}
