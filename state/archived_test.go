package state

import (
	"context"
	"fmt"
	"slices"
	"strings"
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

var _ dsync.IdentifierStore = (*DB)(nil)

func TestRecordsHolding_FindsActiveArchivedAndDeletedByUsernameOrEmail(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	run := mustBegin(t, db)
	for _, r := range []user.Record{
		{User: user.User{ID: "a", Username: "jdoe", Email: "jdoe@example.com"}, PlatformID: "p1", Status: user.StatusArchived},
		{User: user.User{ID: "b", Username: "ann", Email: "ann@example.com"}, PlatformID: "p2", Status: user.StatusActive},
		{User: user.User{ID: "c", Username: "bea", Email: "bea@example.com"}, PlatformID: "p3", Status: user.StatusDeleted},
		{User: user.User{ID: "d", Username: "cid", Email: "cid@example.com"}, PlatformID: "p4", Status: user.StatusActive},
	} {
		if err := db.Save(ctx, run, user.Entry{Op: user.OpCreate, UserID: r.User.ID}, &r); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(recs []user.Record) string {
		var s []string
		for _, r := range recs {
			s = append(s, r.User.ID)
		}
		slices.Sort(s)
		return strings.Join(s, ",")
	}
	got, err := db.RecordsHolding(ctx, []string{"JDOE", "Ann@Example.com", "bea"})
	if err != nil {
		t.Fatal(err)
	}
	if ids(got) != "a,b,c" {
		t.Errorf("holders %q, want a (username), b (email) and the deleted c (username)", ids(got))
	}
	// Many values: one scan, same answer.
	many := []string{"JDOE", "Ann@Example.com", "bea"}
	for i := range holdingScan {
		many = append(many, fmt.Sprintf("nobody%d", i))
	}
	if got, err = db.RecordsHolding(ctx, many); err != nil || ids(got) != "a,b,c" {
		t.Errorf("with %d values: %q, %v", len(many), ids(got), err)
	}
}
