// Package storetest is the contract of a snapshot store (state.Store, and so
// the reconciler's sync.Store), as tests every implementation runs: the
// SQLite file (package state) and PostgreSQL (state/postgres). A behaviour
// the reconciler or the commands rely on is asserted here, once, not in one
// implementation's tests.
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

// Backend opens the stores of one implementation.
type Backend struct {
	// New makes an empty place for a store (a file path, a database URL),
	// removed when t ends.
	New func(t testing.TB) string
	// Open opens the store at where read-write, with the given clock
	// (nil: time.Now).
	Open func(ctx context.Context, where string, now func() time.Time) (state.Store, error)
	// OpenReadOnly opens the store at where for reading only.
	OpenReadOnly func(ctx context.Context, where string) (state.Store, error)
}

// Run runs every contract test against b, each as a subtest.
func Run(t *testing.T, b Backend) {
	tests := []struct {
		name string
		fn   func(*testing.T, *env)
	}{
		{"SaveSnapshot_RoundTripsEveryRecordField", testRoundTrip},
		{"Save_UpsertKeepsFirstSeen", testUpsertKeepsFirstSeen},
		{"Save_SetsFirstSeenWhenStoredOneIsMissing", testSetsFirstSeen},
		{"Save_JournalAndRecordAreAtomic", testAtomic},
		{"Save_WithoutRecordOnlyJournals", testOnlyJournal},
		{"Save_ConcurrentWorkersAllLand", testConcurrent},
		{"Save_KeepsTheKindOfTheFailedChange", testFailedOp},
		{"SaveIntent_UpsertsWithoutAJournalEntry", testSaveIntent},
		{"Unsettled_ListsPendingIntentsAndFailedChangesOnly", testUnsettled},
		{"RunsFailingJournalStats", testRunsFailingJournal},
		{"FinishRun_UnknownRunIsAnError", testFinishUnknown},
		{"Open_MarksRunsOfADeadWriterInterrupted", testInterrupted},
		{"Open_SecondWriterIsLockedOutUntilClose", testSecondWriter},
		{"Meta_SetGetReplaceAndReadOnly", testMeta},
		{"OpenReadOnly_NothingWrittenYetIsAnEmptyStore", testEmptyReadOnly},
		{"OpenReadOnly_SeesCommitsOfARunningWriter", testReaderSeesWriter},
		{"SummariesAndRecords_AgreeWithSnapshot", testSummariesRecords},
		{"Summaries_CallbackErrorStopsTheRead", testSummariesStop},
		{"Managed_CountsActiveRecords", testManaged},
		{"IDs_AreOrderedByteByByte", testOrder},
		{"Prune_DropsOldHistoryButWhatTheSnapshotNeeds", testPrune},
		{"ArchivedBefore_ListsOnlyRecordsStillArchivedBeforeTheTime", testArchivedBefore},
		{"RecordsHolding_MatchesUsernamesAndEmailsIgnoringCase", testRecordsHolding},
		{"FormerHolders_FindsValuesAUserGaveUp", testFormerHolders},
		{"Groups_SaveRoundTripUpsertStatsAndReadOnly", testGroups},
		{"QueryJournal_FiltersByUserAcrossRenamesRunSinceAndKind", testQueryJournal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, &env{b: b, where: b.New(t)})
		})
	}
}

type env struct {
	b     Backend
	where string
}

// open opens the store read-write and closes it when t ends.
func (e *env) open(t *testing.T, now func() time.Time) state.Store {
	t.Helper()
	st, err := e.b.Open(context.Background(), e.where, now)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func (e *env) openReadOnly(t *testing.T) state.Store {
	t.Helper()
	st, err := e.b.OpenReadOnly(context.Background(), e.where)
	if err != nil {
		t.Fatalf("OpenReadOnly: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// clock moves one second per call.
type clock struct{ t time.Time }

func (c *clock) now() time.Time {
	c.t = c.t.Add(time.Second)
	return c.t
}

func newClock() *clock { return &clock{t: time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)} }

// FullRecord is a record with every field set, in the awkward ways
// (escapes, non-ASCII, a nanosecond, a zone).
func FullRecord(id string) user.Record {
	u := user.User{
		ID:          id,
		DN:          "CN=Ada Lovelace,OU=Staff,DC=corp,DC=example,DC=com",
		Username:    "ada",
		Email:       "ada@example.com",
		GivenName:   "Ada",
		FamilyName:  "Lovelace",
		DisplayName: "Ada Lovelace <&> \"quoted\"",
		Active:      true,
		Groups:      []string{"cn=admins,dc=corp", `cn=r\,d,dc=corp`, "cn=ünïcode,dc=corp"},
		Extra:       map[string]string{"department": "Engineering", "title": "Countess"},
	}
	return user.Record{
		User:       u,
		Hash:       u.Hash(),
		PlatformID: "p-" + id,
		Status:     user.StatusArchived,
		FirstSeen:  time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC),
		LastSeen:   time.Date(2025, 1, 2, 3, 4, 5, 987654321, time.FixedZone("CET", 3600)),
		ArchivedAt: time.Date(2025, 2, 3, 4, 5, 6, 1, time.UTC),
		Attempts:   3,
		LastError:  "scim update user: HTTP 500",
	}
}

func begin(t *testing.T, st state.Store) int64 {
	t.Helper()
	run, err := st.BeginRun(context.Background(), "sync")
	if err != nil {
		t.Fatalf("BeginRun: %v", err)
	}
	return run
}

func save(t *testing.T, st state.Store, run int64, e user.Entry, rec *user.Record) {
	t.Helper()
	if err := st.Save(context.Background(), run, e, rec); err != nil {
		t.Fatalf("Save %s: %v", e.UserID, err)
	}
}

func snapshot(t *testing.T, st state.Store) []user.Record {
	t.Helper()
	recs, err := st.Snapshot(context.Background())
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	return recs
}

func testRoundTrip(t *testing.T, e *env) {
	db := e.open(t, nil)
	run := begin(t, db)
	want := FullRecord("guid-1")
	minimal := user.Record{User: user.User{ID: "guid-0", Username: "min"}, Status: user.StatusPending}
	for _, r := range []user.Record{want, minimal} {
		save(t, db, run, user.Entry{Op: user.OpCreate, UserID: r.User.ID}, &r)
	}
	got := snapshot(t, db)
	if len(got) != 2 {
		t.Fatalf("Snapshot: %d records, want 2", len(got))
	}
	// Times come back in UTC; compare instants, then everything else exactly.
	w := want
	w.LastSeen = w.LastSeen.UTC()
	if !reflect.DeepEqual(got[1], w) {
		t.Errorf("full record:\n got %+v\nwant %+v", got[1], w)
	}
	if !reflect.DeepEqual(got[0], minimal) {
		t.Errorf("minimal record:\n got %+v\nwant %+v", got[0], minimal)
	}
	if got[1].User.Hash() != want.Hash {
		t.Errorf("hash of the stored user changed")
	}
}

func testUpsertKeepsFirstSeen(t *testing.T, e *env) {
	db := e.open(t, nil)
	run := begin(t, db)
	rec := FullRecord("guid-1")
	first := rec.FirstSeen
	save(t, db, run, user.Entry{Op: user.OpCreate, UserID: "guid-1"}, &rec)
	rec.FirstSeen = first.Add(48 * time.Hour)
	rec.User.Email = "ada@new.example.com"
	rec.Status, rec.Attempts, rec.LastError, rec.ArchivedAt = user.StatusActive, 0, "", time.Time{}
	save(t, db, run, user.Entry{Op: user.OpUpdate, UserID: "guid-1"}, &rec)
	got := snapshot(t, db)[0]
	if !got.FirstSeen.Equal(first) {
		t.Errorf("FirstSeen = %v, want the first one %v", got.FirstSeen, first)
	}
	if got.User.Email != "ada@new.example.com" || got.Status != user.StatusActive || got.Attempts != 0 ||
		got.LastError != "" || !got.ArchivedAt.IsZero() {
		t.Errorf("update not applied: %+v", got)
	}
}

func testSetsFirstSeen(t *testing.T, e *env) {
	db := e.open(t, nil)
	run := begin(t, db)
	rec := user.Record{User: user.User{ID: "g"}, Status: user.StatusPending}
	save(t, db, run, user.Entry{Op: user.OpCreate, UserID: "g"}, &rec)
	rec.FirstSeen = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	save(t, db, run, user.Entry{Op: user.OpCreate, UserID: "g"}, &rec)
	if got := snapshot(t, db)[0].FirstSeen; !got.Equal(rec.FirstSeen) {
		t.Errorf("FirstSeen = %v, want %v", got, rec.FirstSeen)
	}
}

func testAtomic(t *testing.T, e *env) {
	ctx := context.Background()
	db := e.open(t, nil)
	run := begin(t, db)
	// The journal row is inserted first; the record then violates the status
	// check, so the whole transaction must roll back.
	bad := FullRecord("guid-1")
	bad.Status = "bogus"
	err := db.Save(ctx, run, user.Entry{Op: user.OpCreate, UserID: "guid-1", Username: "ada"}, &bad)
	if err == nil {
		t.Fatal("Save of an invalid record: no error")
	}
	if !strings.Contains(err.Error(), "guid-1") || !strings.Contains(err.Error(), db.Path()) {
		t.Errorf("error %q does not name the user and the store", err)
	}
	if recs := snapshot(t, db); len(recs) != 0 {
		t.Errorf("record saved despite the error: %+v", recs)
	}
	j, err := db.Journal(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	if len(j) != 0 {
		t.Errorf("journal row kept despite the error: %+v", j)
	}
	// And the other way: an unknown run fails the journal row (foreign key),
	// so the record is not saved either.
	good := FullRecord("guid-2")
	if err := db.Save(ctx, run+100, user.Entry{Op: user.OpCreate, UserID: "guid-2"}, &good); err == nil {
		t.Fatal("Save for an unknown run: no error")
	}
	if recs := snapshot(t, db); len(recs) != 0 {
		t.Errorf("record saved although its journal row failed: %+v", recs)
	}
}

func testOnlyJournal(t *testing.T, e *env) {
	ctx := context.Background()
	db := e.open(t, newClock().now)
	run := begin(t, db)
	save(t, db, run, user.Entry{Op: user.OpArchive, UserID: "g", Error: "HTTP 503"}, nil)
	if recs := snapshot(t, db); len(recs) != 0 {
		t.Errorf("records: %+v, want none", recs)
	}
	j, err := db.Journal(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	if len(j) != 1 || j[0].Error != "HTTP 503" || j[0].At.IsZero() {
		t.Errorf("journal = %+v, want one stamped entry with the error", j)
	}
}

func testConcurrent(t *testing.T, e *env) {
	ctx := context.Background()
	db := e.open(t, nil)
	run := begin(t, db)
	const workers, each = 8, 50
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			for i := range each {
				rec := FullRecord(fmt.Sprintf("%c-%d", 'a'+w, i))
				if err := db.Save(ctx, run, user.Entry{Op: user.OpCreate, UserID: rec.User.ID}, &rec); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := len(snapshot(t, db)); n != workers*each {
		t.Errorf("Snapshot: %d records, want %d", n, workers*each)
	}
	j, err := db.Journal(ctx, run)
	if err != nil || len(j) != workers*each {
		t.Errorf("Journal: %d entries, %v; want %d", len(j), err, workers*each)
	}
}

func testFailedOp(t *testing.T, e *env) {
	ctx := context.Background()
	db := e.open(t, nil)
	run := begin(t, db)
	rec := FullRecord("g")
	rec.Attempts, rec.LastError, rec.FailedOp = 2, "400", user.OpArchive
	save(t, db, run, user.Entry{Op: user.OpArchive, UserID: "g", Error: "400"}, &rec)
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

func testSaveIntent(t *testing.T, e *env) {
	ctx := context.Background()
	db := e.open(t, nil)
	run := begin(t, db)
	rec := user.Record{User: user.User{ID: "p", Username: "pat"}, Status: user.StatusPending,
		FirstSeen: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	if err := db.SaveIntent(ctx, &rec); err != nil {
		t.Fatalf("SaveIntent: %v", err)
	}
	if got := snapshot(t, db); len(got) != 1 || !reflect.DeepEqual(got[0], rec) {
		t.Errorf("Snapshot = %+v, want the pending record", got)
	}
	if j, err := db.Journal(ctx, run); err != nil || len(j) != 0 {
		t.Errorf("Journal = %+v, %v; an intent writes no entry", j, err)
	}
	if err := db.SaveIntent(ctx, &user.Record{Status: user.StatusPending}); err == nil {
		t.Error("SaveIntent of a record without an ID: no error")
	}
}

func testUnsettled(t *testing.T, e *env) {
	ctx := context.Background()
	db := e.open(t, nil)
	run := begin(t, db)
	intent := FullRecord("a-intent")
	intent.Status, intent.PlatformID = user.StatusPending, ""
	if err := db.SaveIntent(ctx, &intent); err != nil {
		t.Fatal(err)
	}
	failed := FullRecord("b-failed")
	failed.Attempts, failed.LastError, failed.FailedOp = 1, "HTTP 500", user.OpUpdate
	settled := FullRecord("c-settled")
	settled.Attempts, settled.LastError = 0, ""
	for _, rec := range []*user.Record{&failed, &settled} {
		save(t, db, run, user.Entry{Op: user.OpUpdate, UserID: rec.User.ID, Error: rec.LastError}, rec)
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

func testRunsFailingJournal(t *testing.T, e *env) {
	ctx := context.Background()
	db := e.open(t, newClock().now)

	run1 := begin(t, db)
	ok := FullRecord("ok")
	ok.Attempts, ok.LastError = 0, ""
	fields := []user.FieldChange{{Field: user.FieldEmail, Old: "a@x", New: "b@x"}}
	e1 := user.Entry{At: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC), Op: user.OpUpdate, UserID: "ok",
		Username: "ada", PlatformID: "p-ok", Fields: fields, Reason: "email changed"}
	save(t, db, run1, e1, &ok)
	if err := db.FinishRun(ctx, run1, "success", map[string]int{"update": 1, "in_scope": 2}, ""); err != nil {
		t.Fatal(err)
	}

	run2 := begin(t, db)
	bad := FullRecord("bad")
	bad.Status, bad.Attempts, bad.LastError = user.StatusPending, 1, "HTTP 500"
	e2 := user.Entry{At: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC), Op: user.OpCreate, UserID: "bad",
		Username: "bob", Error: "HTTP 500"}
	save(t, db, run2, e2, &bad)
	onlyErr := FullRecord("err-only")
	onlyErr.Attempts = 0 // last_error alone also counts as failing
	save(t, db, run2, user.Entry{Op: user.OpUpdate, UserID: "err-only"}, &onlyErr)
	if err := db.FinishRun(ctx, run2, "partial", map[string]int{"failed": 1}, "1 change failed"); err != nil {
		t.Fatal(err)
	}
	run3 := begin(t, db) // still running

	runs, err := db.Runs(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 3 || runs[0].ID != run3 || runs[1].ID != run2 || runs[2].ID != run1 {
		t.Fatalf("Runs = %+v, want runs %d, %d, %d (newest first)", runs, run3, run2, run1)
	}
	if r := runs[0]; r.Outcome != "" || !r.Finished.IsZero() || r.Counts != nil {
		t.Errorf("running run = %+v, want no outcome yet", r)
	}
	r2 := runs[1]
	if r2.Mode != "sync" || r2.Outcome != "partial" || r2.Error != "1 change failed" ||
		!reflect.DeepEqual(r2.Counts, map[string]int{"failed": 1}) ||
		r2.Started.IsZero() || !r2.Finished.After(r2.Started) || r2.Started.Location() != time.UTC {
		t.Errorf("run 2 = %+v", r2)
	}
	if limited, err := db.Runs(ctx, 1); err != nil || len(limited) != 1 || limited[0].ID != run3 {
		t.Errorf("Runs(1) = %+v, %v; want only the newest", limited, err)
	}

	failing, err := db.Failing(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(failing) != 2 || failing[0].User.ID != "bad" || failing[1].User.ID != "err-only" {
		t.Errorf("Failing = %+v, want bad and err-only", failing)
	}

	j1, err := db.Journal(ctx, run1)
	if err != nil {
		t.Fatal(err)
	}
	if len(j1) != 1 || !reflect.DeepEqual(j1[0], e1) {
		t.Errorf("Journal(run1) = %+v, want [%+v]", j1, e1)
	}
	j2, err := db.Journal(ctx, run2)
	if err != nil {
		t.Fatal(err)
	}
	if len(j2) != 2 || !reflect.DeepEqual(j2[0], e2) || j2[1].UserID != "err-only" {
		t.Errorf("Journal(run2) = %+v", j2)
	}

	st, err := db.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := state.Stats{Users: map[user.Status]int{user.StatusArchived: 2, user.StatusPending: 1}, Failing: 2, Runs: 3, SchemaVersion: state.SchemaVersion()}
	if !reflect.DeepEqual(st, want) {
		t.Errorf("Stats = %+v, want %+v", st, want)
	}
}

func testFinishUnknown(t *testing.T, e *env) {
	db := e.open(t, nil)
	if err := db.FinishRun(context.Background(), 42, "success", nil, ""); err == nil {
		t.Error("FinishRun of an unknown run: no error")
	}
}

func testInterrupted(t *testing.T, e *env) {
	ctx := context.Background()
	db := e.open(t, nil)
	run := begin(t, db)
	done := begin(t, db)
	if err := db.FinishRun(ctx, done, "success", nil, ""); err != nil {
		t.Fatal(err)
	}
	db.Close() // the process "died" without FinishRun

	db = e.open(t, nil)
	runs, err := db.Runs(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[1].ID != run || runs[1].Outcome != state.OutcomeInterrupted || !runs[1].Finished.IsZero() {
		t.Errorf("runs = %+v, want run %d interrupted", runs, run)
	}
	if runs[0].Outcome != "success" {
		t.Errorf("finished run = %+v, want it left as it was", runs[0])
	}
}

func testSecondWriter(t *testing.T, e *env) {
	ctx := context.Background()
	db := e.open(t, nil)
	second, err := e.b.Open(ctx, e.where, nil)
	if err == nil {
		second.Close()
		t.Fatal("a second read-write Open while the first is open: no error")
	}
	if !errors.Is(err, state.ErrLocked) {
		t.Errorf("second Open: %v, want ErrLocked", err)
	}
	// Reading is never locked out.
	ro := e.openReadOnly(t)
	if _, err := ro.Runs(ctx, 1); err != nil {
		t.Errorf("read-only Runs while a writer is open: %v", err)
	}
	db.Close()
	third, err := e.b.Open(ctx, e.where, nil)
	if err != nil {
		t.Fatalf("Open after the first was closed: %v", err)
	}
	third.Close()
}

func testMeta(t *testing.T, e *env) {
	ctx := context.Background()
	db := e.open(t, nil)
	if _, ok, err := db.GetMeta(ctx, "ldap.cookie"); err != nil || ok {
		t.Fatalf("GetMeta of a missing key = %v, %v", ok, err)
	}
	for _, v := range []string{"c1", "c2"} {
		if err := db.SetMeta(ctx, "ldap.cookie", v); err != nil {
			t.Fatal(err)
		}
	}
	if v, ok, err := db.GetMeta(ctx, "ldap.cookie"); err != nil || !ok || v != "c2" {
		t.Errorf("GetMeta = %q, %v, %v; want c2", v, ok, err)
	}
	db.Close()
	ro := e.openReadOnly(t)
	if !ro.ReadOnly() {
		t.Error("ReadOnly() = false for OpenReadOnly")
	}
	if v, ok, err := ro.GetMeta(ctx, "ldap.cookie"); err != nil || !ok || v != "c2" {
		t.Errorf("read-only GetMeta = %q, %v, %v; want c2", v, ok, err)
	}
	rec := FullRecord("g")
	for name, write := range map[string]func() error{
		"SetMeta":    func() error { return ro.SetMeta(ctx, "k", "v") },
		"BeginRun":   func() error { _, err := ro.BeginRun(ctx, "sync"); return err },
		"Save":       func() error { return ro.Save(ctx, 1, user.Entry{Op: user.OpCreate, UserID: "g"}, &rec) },
		"SaveIntent": func() error { return ro.SaveIntent(ctx, &rec) },
		"FinishRun":  func() error { return ro.FinishRun(ctx, 1, "success", nil, "") },
	} {
		if err := write(); !errors.Is(err, state.ErrReadOnly) {
			t.Errorf("read-only %s: %v, want ErrReadOnly", name, err)
		}
	}
}

func testEmptyReadOnly(t *testing.T, e *env) {
	ctx := context.Background()
	ro := e.openReadOnly(t)
	recs, err := ro.Snapshot(ctx)
	if err != nil || len(recs) != 0 {
		t.Errorf("Snapshot = %d, %v; want none", len(recs), err)
	}
	runs, err := ro.Runs(ctx, 0)
	if err != nil || len(runs) != 0 {
		t.Errorf("Runs = %d, %v; want none", len(runs), err)
	}
	if n, err := ro.Managed(ctx); err != nil || n != 0 {
		t.Errorf("Managed = %d, %v", n, err)
	}
	if st, err := ro.Stats(ctx); err != nil || st.Runs != 0 || st.SchemaVersion != 0 {
		t.Errorf("Stats = %+v, %v; want nothing, schema version 0", st, err)
	}
	if _, ok, err := ro.GetMeta(ctx, "k"); ok || err != nil {
		t.Errorf("GetMeta = %v, %v", ok, err)
	}
	ro.Close()
	// Nothing was created: a writer still starts from scratch.
	db := e.open(t, nil)
	if runs, err := db.Runs(ctx, 0); err != nil || len(runs) != 0 {
		t.Errorf("Runs after a read-only open = %d, %v", len(runs), err)
	}
}

func testReaderSeesWriter(t *testing.T, e *env) {
	ctx := context.Background()
	db := e.open(t, nil)
	run := begin(t, db)
	ro := e.openReadOnly(t)
	rec := FullRecord("g")
	save(t, db, run, user.Entry{Op: user.OpCreate, UserID: "g"}, &rec)
	got, err := ro.Records(ctx, []string{"g"})
	if err != nil || len(got) != 1 {
		t.Errorf("read-only Records after the writer's Save = %+v, %v", got, err)
	}
}

func testSummariesRecords(t *testing.T, e *env) {
	ctx := context.Background()
	db := e.open(t, nil)
	run := begin(t, db)
	// More records than a chunk of IDs, saved out of order.
	n := 537
	for i := n - 1; i >= 0; i-- {
		r := FullRecord(fmt.Sprintf("guid-%04d", i))
		if i%3 == 0 {
			r.Status, r.PlatformID = user.StatusPending, ""
		}
		save(t, db, run, user.Entry{Op: user.OpCreate, UserID: r.User.ID}, &r)
	}
	snap := snapshot(t, db)
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
	// Every other ID, one unknown, one repeated.
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

func testSummariesStop(t *testing.T, e *env) {
	ctx := context.Background()
	db := e.open(t, nil)
	run := begin(t, db)
	for _, id := range []string{"a", "b", "c"} {
		r := FullRecord(id)
		save(t, db, run, user.Entry{Op: user.OpCreate, UserID: id}, &r)
	}
	stop := errors.New("stop")
	calls := 0
	err := db.Summaries(ctx, func(user.Summary) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("Summaries = %v after %d calls, want the callback's error after 1", err, calls)
	}
}

func testManaged(t *testing.T, e *env) {
	ctx := context.Background()
	db := e.open(t, nil)
	run := begin(t, db)
	for i, st := range []user.Status{user.StatusActive, user.StatusArchived, user.StatusActive, user.StatusPending, user.StatusDeleted} {
		r := FullRecord(fmt.Sprintf("g%d", i))
		r.Status = st
		save(t, db, run, user.Entry{Op: user.OpCreate, UserID: r.User.ID}, &r)
	}
	if n, err := db.Managed(ctx); err != nil || n != 2 {
		t.Errorf("Managed = %d, %v; want 2", n, err)
	}
}

// testOrder: the reconciler walks summaries in ID order; every store orders
// IDs as bytes, whatever a database's collation would say.
func testOrder(t *testing.T, e *env) {
	ctx := context.Background()
	db := e.open(t, nil)
	run := begin(t, db)
	ids := []string{"é-1", "a-1", "B-1", "Z-1", "_-1", "a-10", "a-2"}
	for _, id := range ids {
		r := FullRecord(id)
		save(t, db, run, user.Entry{Op: user.OpCreate, UserID: id}, &r)
	}
	want := slices.Sorted(slices.Values(ids))
	var got []string
	if err := db.Summaries(ctx, func(s user.Summary) error { got = append(got, s.ID); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("Summaries order %q, want %q", got, want)
	}
	got = got[:0]
	for _, r := range snapshot(t, db) {
		got = append(got, r.User.ID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("Snapshot order %q, want %q", got, want)
	}
}
