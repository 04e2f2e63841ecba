package state

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/dirsync/dirsync/user"
)

func TestSummariesAndRecords_AgreeWithSnapshot(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	run := mustBegin(t, db)
	// More records than one Records chunk, saved out of order.
	n := recordsChunk + 37
	for i := n - 1; i >= 0; i-- {
		r := fullRecord(fmt.Sprintf("guid-%04d", i))
		if i%3 == 0 {
			r.Status, r.PlatformID = user.StatusPending, ""
		}
		if err := db.Save(ctx, run, user.Entry{Op: user.OpCreate, UserID: r.User.ID}, &r); err != nil {
			t.Fatal(err)
		}
	}
	snap := mustSnapshot(t, db)

	var sums []user.Summary
	if err := db.Summaries(ctx, func(s user.Summary) error { sums = append(sums, s); return nil }); err != nil {
		t.Fatalf("Summaries: %v", err)
	}
	if len(sums) != n {
		t.Fatalf("Summaries: %d, want %d", len(sums), n)
	}
	for i, s := range sums {
		r := snap[i]
		want := user.Summary{ID: r.User.ID, PlatformID: r.PlatformID, Status: r.Status, Hash: r.Hash}
		if s != want {
			t.Fatalf("summary %d = %+v, want %+v", i, s, want)
		}
	}

	// Every other ID, one unknown, one repeated, spanning chunks.
	var ids []string
	var want []user.Record
	for i := n - 1; i >= 0; i -= 2 {
		ids = append(ids, snap[i].User.ID)
		want = append([]user.Record{snap[i]}, want...)
	}
	ids = append(ids, "no-such-id", snap[n-1].User.ID)
	got, err := db.Records(ctx, ids)
	if err != nil {
		t.Fatalf("Records: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Records: %d records, want %d (the snapshot's, ordered by ID)", len(got), len(want))
	}
	if got, err := db.Records(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("Records(nil) = %d, %v; want none", len(got), err)
	}
}

func TestSummaries_CallbackErrorStopsTheRead(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	run := mustBegin(t, db)
	for _, id := range []string{"a", "b", "c"} {
		r := fullRecord(id)
		if err := db.Save(ctx, run, user.Entry{Op: user.OpCreate, UserID: id}, &r); err != nil {
			t.Fatal(err)
		}
	}
	stop := errors.New("stop")
	calls := 0
	err := db.Summaries(ctx, func(user.Summary) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("Summaries = %v after %d calls, want the callback's error after 1", err, calls)
	}
}

func TestManaged_CountsActiveRecords(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	run := mustBegin(t, db)
	for i, st := range []user.Status{user.StatusActive, user.StatusArchived, user.StatusActive, user.StatusPending, user.StatusDeleted} {
		r := fullRecord(fmt.Sprintf("g%d", i))
		r.Status = st
		if err := db.Save(ctx, run, user.Entry{Op: user.OpCreate, UserID: r.User.ID}, &r); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := db.Managed(ctx); err != nil || n != 2 {
		t.Errorf("Managed = %d, %v; want 2", n, err)
	}
}
