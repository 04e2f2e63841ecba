package state

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/dirsync/dirsync/user"
)

// TestUnsettled_ListsPendingIntentsAndFailedChangesOnly: the status page's
// "pending and failed changes" are the records a create was asked for (an
// intent, not yet known to have landed) and those whose last change failed;
// settled records are not listed.
func TestUnsettled_ListsPendingIntentsAndFailedChangesOnly(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	run := mustBegin(t, db)
	intent := fullRecord("a-intent")
	intent.Status, intent.PlatformID = user.StatusPending, ""
	if err := db.SaveIntent(ctx, &intent); err != nil {
		t.Fatal(err)
	}
	failed := fullRecord("b-failed")
	failed.Attempts, failed.LastError, failed.FailedOp = 1, "HTTP 500", user.OpUpdate
	settled := fullRecord("c-settled")
	settled.Attempts, settled.LastError = 0, ""
	for _, rec := range []*user.Record{&failed, &settled} {
		if err := db.Save(ctx, run, user.Entry{Op: user.OpUpdate, UserID: rec.User.ID, Error: rec.LastError}, rec); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := db.Unsettled(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.User.ID)
	}
	if want := []string{"a-intent", "b-failed"}; !slices.Equal(ids, want) {
		t.Fatalf("Unsettled = %v, want %v", ids, want)
	}
	if recs[0].Status != user.StatusPending || recs[1].FailedOp != user.OpUpdate || recs[1].LastError != "HTTP 500" {
		t.Errorf("Unsettled records %+v: want the intent pending and the failure's op and error", recs)
	}
}

// TestRunDuration_IsTheFinishedRunsTimeAndZeroWhileRunning: the status page
// charts each run's duration from what Runs returns.
func TestRunDuration_IsTheFinishedRunsTimeAndZeroWhileRunning(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	db, _ := openTest(t, WithClock(func() time.Time { return now }))
	run := mustBegin(t, db)
	now = now.Add(1500 * time.Millisecond)
	if err := db.FinishRun(ctx, run, "success", map[string]int{"create": 2}, ""); err != nil {
		t.Fatal(err)
	}
	mustBegin(t, db)
	runs, err := db.Runs(ctx, 100)
	if err != nil || len(runs) != 2 {
		t.Fatalf("Runs = %+v, %v", runs, err)
	}
	if d := runs[1].Duration(); d != 1500*time.Millisecond {
		t.Errorf("duration of the finished run = %v, want 1.5s", d)
	}
	if d := runs[0].Duration(); d != 0 {
		t.Errorf("duration of the run in progress = %v, want 0", d)
	}
}
