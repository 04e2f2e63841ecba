package state

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/dirsync/dirsync/user"
)

func TestSaveGroup_KeepsTheGroupAndItsJournalEntryTogether(t *testing.T) {
	ctx := context.Background()
	db, path := openTest(t)
	run := mustBegin(t, db)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rec := user.GroupRecord{Group: user.Group{ID: "g1", DN: "cn=eng,ou=groups", Name: "eng"}, PlatformID: "p1",
		Status: user.GroupActive, Members: []string{"a", "b"}, MembersHash: user.MembersHash([]string{"a", "b"}),
		FirstSeen: at, LastSeen: at}
	e := user.Entry{Op: user.OpGroupCreate, UserID: "g1", Username: "eng", PlatformID: "p1",
		Fields: []user.FieldChange{{Field: user.FieldGroupAdded, New: "2: a b"}}}
	if err := db.SaveGroup(ctx, run, e, &rec); err != nil {
		t.Fatal(err)
	}
	// An update keeps first_seen.
	later := rec
	later.FirstSeen, later.LastSeen, later.Members = at.Add(time.Hour), at.Add(time.Hour), []string{"a"}
	if err := db.SaveGroup(ctx, run, user.Entry{Op: user.OpGroupUpdate, UserID: "g1"}, &later); err != nil {
		t.Fatal(err)
	}
	db.Close()

	ro, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	got, err := ro.Groups(ctx)
	if err != nil || len(got) != 1 {
		t.Fatalf("Groups = %+v, %v", got, err)
	}
	g := got[0]
	if g.Group.ID != "g1" || g.Group.DN != "cn=eng,ou=groups" || g.Group.Name != "eng" || g.PlatformID != "p1" ||
		g.Status != user.GroupActive || !slices.Equal(g.Members, []string{"a"}) || !g.FirstSeen.Equal(at) || !g.LastSeen.Equal(at.Add(time.Hour)) {
		t.Errorf("group = %+v", g)
	}
	j, err := ro.Journal(ctx, run)
	if err != nil || len(j) != 2 || j[0].Op != user.OpGroupCreate || j[0].Fields[0].New != "2: a b" {
		t.Errorf("journal = %+v, %v", j, err)
	}
	st, err := ro.GroupStats(ctx)
	if err != nil || st.Groups[user.GroupActive] != 1 || st.Memberships != 1 {
		t.Errorf("GroupStats = %+v, %v", st, err)
	}
}

func TestSaveGroup_ReadOnlyStoreRefusesToWrite(t *testing.T) {
	ctx := context.Background()
	_, path := openTest(t)
	ro, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	rec := user.GroupRecord{Group: user.Group{ID: "g"}, Status: user.GroupPending}
	if err := ro.SaveGroup(ctx, 1, user.Entry{Op: user.OpGroupCreate, UserID: "g"}, &rec); err == nil {
		t.Fatal("a read-only store saved a group")
	}
}
