package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/state"
	"github.com/dirsync/dirsync/user"
)

// The capabilities the reconciler and the commands need of every store
// besides the records: pruning, the archived and identifier lookups, former
// holders, the groups and the journal query.

func rec(id, username, email string, st user.Status) *user.Record {
	return &user.Record{User: user.User{ID: id, Username: username, Email: email, Active: st == user.StatusActive},
		PlatformID: "p-" + id, Status: st}
}

func ids(recs []user.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.User.ID)
	}
	return out
}

func journalOps(t *testing.T, st state.Store, run int64) []string {
	t.Helper()
	entries, err := st.Journal(context.Background(), run)
	if err != nil {
		t.Fatalf("Journal(%d): %v", run, err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, string(e.Op)+" "+e.UserID)
	}
	return out
}

func finish(t *testing.T, st state.Store, run int64) {
	t.Helper()
	if err := st.FinishRun(context.Background(), run, "success", nil, ""); err != nil {
		t.Fatalf("FinishRun %d: %v", run, err)
	}
}

func testPrune(t *testing.T, e *env) {
	ctx := context.Background()
	c := newClock()
	db := e.open(t, c.now)
	// The oldest run: two updates, nothing the snapshot needs.
	r1 := begin(t, db)
	save(t, db, r1, user.Entry{Op: user.OpUpdate, UserID: "b"}, rec("b", "bob", "bob@example.com", user.StatusActive))
	save(t, db, r1, user.Entry{Op: user.OpUpdate, UserID: "a"}, rec("a", "ann", "ann@example.com", user.StatusActive))
	finish(t, db, r1)
	// Then a's archive (a is still archived) and c's failure (c still fails).
	r2 := begin(t, db)
	save(t, db, r2, user.Entry{Op: user.OpUpdate, UserID: "b"}, rec("b", "bob", "bob@example.com", user.StatusActive))
	save(t, db, r2, user.Entry{Op: user.OpArchive, UserID: "a"}, rec("a", "ann", "ann@example.com", user.StatusArchived))
	failing := rec("c", "cy", "cy@example.com", user.StatusPending)
	failing.Attempts, failing.LastError, failing.FailedOp = 1, "HTTP 500", user.OpCreate
	save(t, db, r2, user.Entry{Op: user.OpCreate, UserID: "c", Error: "HTTP 500"}, failing)
	finish(t, db, r2)
	for range state.KeepRuns {
		finish(t, db, begin(t, db))
	}
	before := snapshot(t, db)

	// Within the retention, nothing goes.
	if p, err := db.PruneHistory(ctx); err != nil || p != (state.Pruned{}) {
		t.Fatalf("PruneHistory within the retention: %+v, %v; want nothing pruned", p, err)
	}
	c.t = c.t.Add(state.DefaultRetention + time.Hour)
	p, err := db.PruneHistory(ctx)
	if err != nil {
		t.Fatalf("PruneHistory: %v", err)
	}
	if want := (state.Pruned{Runs: 1, Entries: 3}); p != want {
		t.Errorf("pruned %+v, want %+v (r1 and its entries, r2's update of b)", p, want)
	}
	runs, err := db.Runs(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != state.KeepRuns+1 || runs[len(runs)-1].ID != r2 {
		t.Errorf("runs kept: %d, the oldest %d; want %d, the oldest %d", len(runs), runs[len(runs)-1].ID, state.KeepRuns+1, r2)
	}
	if got := journalOps(t, db, r1); got != nil {
		t.Errorf("journal of the pruned run: %q", got)
	}
	if got, want := journalOps(t, db, r2), []string{"archive a", "create c"}; !reflect.DeepEqual(got, want) {
		t.Errorf("journal of r2 after the prune: %q, want %q (the archive undo needs, the failure status shows)", got, want)
	}
	if after := snapshot(t, db); !reflect.DeepEqual(ids(after), ids(before)) {
		t.Errorf("records after the prune: %q, want %q: a prune never removes a record", ids(after), ids(before))
	}
	// Prune (the engine's) does the same, and a second one finds nothing.
	if err := db.Prune(ctx); err != nil {
		t.Fatalf("Prune: %v", err)
	}
	if got := journalOps(t, db, r2); len(got) != 2 {
		t.Errorf("journal of r2 after a second prune: %q", got)
	}
	ro := e.openReadOnly(t)
	if err := ro.Prune(ctx); !errors.Is(err, state.ErrReadOnly) {
		t.Errorf("Prune on a read-only store: %v, want ErrReadOnly", err)
	}
}

func testArchivedBefore(t *testing.T, e *env) {
	ctx := context.Background()
	db := e.open(t, nil)
	run := begin(t, db)
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	archived := func(id string, when time.Time, st user.Status) *user.Record {
		r := rec(id, id, id+"@example.com", st)
		r.ArchivedAt = when
		return r
	}
	for _, r := range []*user.Record{
		archived("old", at.Add(-time.Hour), user.StatusArchived),
		archived("older", at.AddDate(-1, 0, 0), user.StatusArchived),
		archived("just", at, user.StatusArchived), // not before
		archived("recent", at.Add(time.Nanosecond), user.StatusArchived),
		archived("untimed", time.Time{}, user.StatusArchived),
		archived("reactivated", at.Add(-time.Hour), user.StatusActive),
		archived("deleted", at.Add(-time.Hour), user.StatusDeleted),
	} {
		save(t, db, run, user.Entry{Op: user.OpArchive, UserID: r.User.ID}, r)
	}
	got, err := db.ArchivedBefore(ctx, at)
	if err != nil {
		t.Fatalf("ArchivedBefore: %v", err)
	}
	if want := []string{"old", "older"}; !reflect.DeepEqual(ids(got), want) {
		t.Errorf("ArchivedBefore: %q, want %q", ids(got), want)
	}
	if len(got) > 0 && !got[0].ArchivedAt.Equal(at.Add(-time.Hour)) {
		t.Errorf("ArchivedAt read back %v", got[0].ArchivedAt)
	}
}

func testRecordsHolding(t *testing.T, e *env) {
	ctx := context.Background()
	db := e.open(t, nil)
	run := begin(t, db)
	for _, r := range []*user.Record{
		rec("a", "Ann", "ann@example.com", user.StatusActive),
		rec("b", "bea", "BEA@Example.com", user.StatusArchived),
		rec("c", "cy", "cy@example.com", user.StatusDeleted),
		rec("d", "dee", "dee@example.com", user.StatusPending), // holds nothing on the platform yet
		rec("e", "eve", "eve@example.com", user.StatusActive),
	} {
		save(t, db, run, user.Entry{Op: user.OpCreate, UserID: r.User.ID}, r)
	}
	values := []string{"ann", "bea@example.com", "CY", "dee", "nobody@example.com"}
	sorted := func(recs []user.Record) []string { return slices.Sorted(slices.Values(ids(recs))) }
	got, err := db.RecordsHolding(ctx, values)
	if err != nil {
		t.Fatalf("RecordsHolding: %v", err)
	}
	want := []string{"a", "b", "c"}
	if !reflect.DeepEqual(sorted(got), want) {
		t.Errorf("RecordsHolding(%q): %q, want %q", values, sorted(got), want)
	}
	// Many values at once (a large first sync) find the same.
	many := slices.Clone(values)
	for i := range 5000 {
		many = append(many, fmt.Sprintf("filler%d@example.com", i))
	}
	if got, err = db.RecordsHolding(ctx, many); err != nil {
		t.Fatalf("RecordsHolding of %d values: %v", len(many), err)
	}
	if !reflect.DeepEqual(sorted(got), want) {
		t.Errorf("RecordsHolding of %d values: %q, want %q", len(many), sorted(got), want)
	}
	if got, err = db.RecordsHolding(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("RecordsHolding(nil): %q, %v", ids(got), err)
	}
}

func testFormerHolders(t *testing.T, e *env) {
	ctx := context.Background()
	db := e.open(t, newClock().now)
	run := begin(t, db)
	change := func(op user.Op, id, name, errText string, fields ...user.FieldChange) user.Entry {
		return user.Entry{Op: op, UserID: id, Username: name, Error: errText, Fields: fields}
	}
	saveEntry := func(en user.Entry) { save(t, db, run, en, nil) }
	saveEntry(change(user.OpUpdate, "ann", "ann", "",
		user.FieldChange{Field: user.FieldEmail, Old: "Ann@Example.com", New: "ann.smith@example.com"},
		user.FieldChange{Field: user.FieldDisplayName, Old: "Ann", New: "Ann Smith"}))
	saveEntry(change(user.OpReactivate, "cid", "cid2", "", user.FieldChange{Field: user.FieldUsername, Old: "cid", New: "cid2"}))
	saveEntry(change(user.OpUpdate, "dan", "dan2", "HTTP 500", user.FieldChange{Field: user.FieldUsername, Old: "dan", New: "dan2"}))
	saveEntry(change(user.OpUpdate, "eve", "EVE", "", user.FieldChange{Field: user.FieldUsername, Old: "eve", New: "EVE"}))
	saveEntry(change(user.OpArchive, "fay", "fay-archived", "", user.FieldChange{Field: user.FieldUsername, Old: "fay", New: "fay-archived"}))

	got, err := db.FormerHolders(ctx, []string{"ann@example.com", "CID", "dan", "eve", "fay", "nobody"})
	if err != nil {
		t.Fatalf("FormerHolders: %v", err)
	}
	var keys []string
	for _, h := range got {
		if h.Until.IsZero() {
			t.Errorf("%s: no time", h.ID)
		}
		keys = append(keys, h.ID+" "+h.Username+" "+h.Field+" "+h.Value)
	}
	want := []string{"ann ann email Ann@Example.com", "cid cid2 username cid"}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("FormerHolders: %q, want %q (not a failed change, a change of case, or an archive's rename)", keys, want)
	}
}

func testGroups(t *testing.T, e *env) {
	ctx := context.Background()
	db := e.open(t, newClock().now)
	if got, err := db.Groups(ctx); err != nil || len(got) != 0 {
		t.Fatalf("Groups of a new store: %v, %v", got, err)
	}
	run := begin(t, db)
	first := time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC)
	eng := user.GroupRecord{
		Group:       user.Group{ID: "g-eng", Name: "Engineering <&> \"R,D\"", DN: "CN=Eng,OU=Groups,DC=corp"},
		PlatformID:  "pg-1",
		Status:      user.GroupActive,
		Members:     []string{"p-a", "p-b", "p-ünï"},
		MembersHash: "h1",
		FirstSeen:   first,
		LastSeen:    first.Add(time.Hour),
	}
	saveGroup := func(en user.Entry, r *user.GroupRecord) {
		t.Helper()
		if err := db.SaveGroup(ctx, run, en, r); err != nil {
			t.Fatalf("SaveGroup %s: %v", en.UserID, err)
		}
	}
	saveGroup(user.Entry{Op: user.OpGroupCreate, UserID: "g-eng", Username: eng.Group.Name}, &eng)
	failing := user.GroupRecord{Group: user.Group{ID: "g-ops", Name: "Ops"}, Status: user.GroupPending, Attempts: 2, LastError: "HTTP 500"}
	saveGroup(user.Entry{Op: user.OpGroupCreate, UserID: "g-ops", Error: "HTTP 500"}, &failing)
	gone := user.GroupRecord{Group: user.Group{ID: "g-old", Name: "Old"}, PlatformID: "pg-0", Status: user.GroupDeleted}
	saveGroup(user.Entry{Op: user.OpGroupDelete, UserID: "g-old"}, &gone)
	saveGroup(user.Entry{Op: user.OpGroupUpdate, UserID: "g-eng", Error: "HTTP 502"}, nil) // journal only

	got, err := db.Groups(ctx)
	if err != nil {
		t.Fatalf("Groups: %v", err)
	}
	if len(got) != 3 || got[0].Group.ID != "g-eng" || got[1].Group.ID != "g-old" || got[2].Group.ID != "g-ops" {
		t.Fatalf("Groups: %+v, want g-eng, g-old, g-ops", got)
	}
	if !reflect.DeepEqual(got[0], eng) {
		t.Errorf("group round trip:\n got %+v\nwant %+v", got[0], eng)
	}
	if got, want := journalOps(t, db, run), []string{"group-create g-eng", "group-create g-ops", "group-delete g-old", "group-update g-eng"}; !reflect.DeepEqual(got, want) {
		t.Errorf("journal: %q, want %q", got, want)
	}

	// An upsert keeps FirstSeen.
	renamed := eng
	renamed.Group.Name, renamed.Members, renamed.FirstSeen = "Eng", nil, first.AddDate(1, 0, 0)
	saveGroup(user.Entry{Op: user.OpGroupUpdate, UserID: "g-eng"}, &renamed)
	if got, err = db.Groups(ctx); err != nil {
		t.Fatal(err)
	}
	if got[0].Group.Name != "Eng" || got[0].Members != nil || !got[0].FirstSeen.Equal(first) {
		t.Errorf("after the upsert: %+v, want name Eng, no members, FirstSeen %v kept", got[0], first)
	}
	stats, err := db.GroupStats(ctx)
	if err != nil {
		t.Fatalf("GroupStats: %v", err)
	}
	want := state.GroupStats{Groups: map[user.GroupStatus]int{user.GroupActive: 1, user.GroupPending: 1, user.GroupDeleted: 1}, Failing: 1}
	if !reflect.DeepEqual(stats, want) {
		t.Errorf("GroupStats: %+v, want %+v", stats, want)
	}

	ro := e.openReadOnly(t)
	if got, err := ro.Groups(ctx); err != nil || len(got) != 3 {
		t.Errorf("Groups of a reader: %d, %v", len(got), err)
	}
	if err := ro.SaveGroup(ctx, run, user.Entry{Op: user.OpGroupCreate, UserID: "g-x"}, nil); !errors.Is(err, state.ErrReadOnly) {
		t.Errorf("SaveGroup on a read-only store: %v, want ErrReadOnly", err)
	}
	if err := db.SaveGroup(ctx, run, user.Entry{Op: user.OpGroupCreate}, &user.GroupRecord{Status: user.GroupActive}); err == nil {
		t.Error("SaveGroup of a group without an ID succeeded")
	}
}

func testQueryJournal(t *testing.T, e *env) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	db := e.open(t, c.now)
	r1 := begin(t, db)
	save(t, db, r1, user.Entry{Op: user.OpCreate, UserID: "u1", Username: "jdoe"}, rec("u1", "jdoe", "jdoe@example.com", user.StatusActive))
	save(t, db, r1, user.Entry{Op: user.OpCreate, UserID: "u2", Username: "asmith"}, rec("u2", "asmith", "asmith@example.com", user.StatusActive))
	c.t = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	r2 := begin(t, db)
	save(t, db, r2, user.Entry{Op: user.OpUpdate, UserID: "u1", Username: "john.doe",
		Fields: []user.FieldChange{{Field: user.FieldUsername, Old: "jdoe", New: "john.doe"}}},
		rec("u1", "john.doe", "john.doe@example.com", user.StatusActive))
	save(t, db, r2, user.Entry{Op: user.OpArchive, UserID: "u2", Username: "asmith", Reason: "removed from the directory"},
		rec("u2", "asmith", "asmith@example.com", user.StatusArchived))
	save(t, db, r2, user.Entry{Op: user.OpCreate, UserID: "u3", Username: "bfail", Error: "409 conflict"}, nil)

	query := func(st state.Store, f state.JournalFilter) []string {
		t.Helper()
		var got []string
		if err := st.QueryJournal(ctx, f, func(r state.JournalRow) error {
			got = append(got, string(r.Op)+" "+r.UserID)
			return nil
		}); err != nil {
			t.Fatalf("QueryJournal(%+v): %v", f, err)
		}
		return got
	}
	ro := e.openReadOnly(t)
	for _, tc := range []struct {
		name string
		f    state.JournalFilter
		want []string
	}{
		{"all", state.JournalFilter{}, []string{"create u1", "create u2", "update u1", "archive u2", "create u3"}},
		{"old username", state.JournalFilter{User: "JDOE"}, []string{"create u1", "update u1"}},
		{"new username", state.JournalFilter{User: "john.doe"}, []string{"create u1", "update u1"}},
		{"email", state.JournalFilter{User: "ASmith@example.com"}, []string{"create u2", "archive u2"}},
		{"directory ID", state.JournalFilter{User: "u3"}, []string{"create u3"}},
		{"run", state.JournalFilter{Run: r1}, []string{"create u1", "create u2"}},
		{"since", state.JournalFilter{Since: time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)}, []string{"update u1", "archive u2", "create u3"}},
		{"kind", state.JournalFilter{Kind: user.OpArchive}, []string{"archive u2"}},
		{"combined", state.JournalFilter{User: "jdoe", Run: r2, Kind: user.OpUpdate}, []string{"update u1"}},
		{"nobody", state.JournalFilter{User: "nobody"}, nil},
	} {
		if got := query(ro, tc.f); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
	var rows []state.JournalRow
	if err := ro.QueryJournal(ctx, state.JournalFilter{Kind: user.OpUpdate}, func(r state.JournalRow) error { rows = append(rows, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Run != r2 || len(rows[0].Fields) != 1 || rows[0].Fields[0].Old != "jdoe" || !rows[0].At.Equal(time.Date(2026, 2, 1, 0, 0, 2, 0, time.UTC)) {
		t.Errorf("update row: %+v", rows)
	}
	stop := errors.New("stop")
	n := 0
	if err := ro.QueryJournal(ctx, state.JournalFilter{}, func(state.JournalRow) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("QueryJournal with a failing callback: %v after %d rows, want stop after 1", err, n)
	}
	if !strings.Contains(fmt.Sprint(query(db, state.JournalFilter{User: "u1"})), "update u1") {
		t.Error("the writer's QueryJournal does not see its own entries")
	}
}
