package state

import (
	"context"
	"testing"
	"time"

	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/user"
)

var _ dsync.ArchivedStore = (*DB)(nil)

func TestArchivedBefore_ReturnsOnlyRecordsArchivedEarlier(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	run := mustBegin(t, db)
	day := func(d int) time.Time { return time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC) }
	for _, r := range []user.Record{
		{User: user.User{ID: "old"}, PlatformID: "p1", Status: user.StatusArchived, ArchivedAt: day(1)},
		{User: user.User{ID: "new"}, PlatformID: "p2", Status: user.StatusArchived, ArchivedAt: day(20)},
		{User: user.User{ID: "undated"}, PlatformID: "p3", Status: user.StatusArchived},
		{User: user.User{ID: "deleted"}, PlatformID: "p4", Status: user.StatusDeleted, ArchivedAt: day(1)},
		{User: user.User{ID: "active"}, PlatformID: "p5", Status: user.StatusActive, ArchivedAt: day(1)},
	} {
		if err := db.Save(ctx, run, user.Entry{Op: user.OpArchive, UserID: r.User.ID}, &r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.ArchivedBefore(ctx, day(10))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].User.ID != "old" || !got[0].ArchivedAt.Equal(day(1)) {
		t.Errorf("got %+v, want old only", got)
	}
}
