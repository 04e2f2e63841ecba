package state

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/user"
)

var _ dsync.Store = (*DB)(nil)

// testClock is a clock that moves one second per call.
type testClock struct{ t time.Time }

func (c *testClock) now() time.Time {
	c.t = c.t.Add(time.Second)
	return c.t
}

func newClock() *testClock {
	return &testClock{t: time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)}
}

// openTest opens a read-write store in a fresh directory and closes it at the
// end of the test.
func openTest(t *testing.T, opts ...Option) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := Open(context.Background(), path, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

func fullRecord(id string) user.Record {
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

func mustBegin(t *testing.T, db *DB) int64 {
	t.Helper()
	run, err := db.BeginRun(context.Background(), "sync")
	if err != nil {
		t.Fatalf("BeginRun: %v", err)
	}
	return run
}

func mustSnapshot(t *testing.T, db *DB) []user.Record {
	t.Helper()
	recs, err := db.Snapshot(context.Background())
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	return recs
}

func hashFile(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func TestSaveSnapshot_RoundTripsEveryRecordField(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	run := mustBegin(t, db)

	want := fullRecord("guid-1")
	minimal := user.Record{User: user.User{ID: "guid-0", Username: "min"}, Status: user.StatusPending}
	for _, r := range []user.Record{want, minimal} {
		if err := db.Save(ctx, run, user.Entry{Op: user.OpCreate, UserID: r.User.ID}, &r); err != nil {
			t.Fatalf("Save: %v", err)
		}
	}

	got := mustSnapshot(t, db)
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

func TestSave_UpsertKeepsFirstSeen(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	run := mustBegin(t, db)
	rec := fullRecord("guid-1")
	first := rec.FirstSeen
	if err := db.Save(ctx, run, user.Entry{Op: user.OpCreate, UserID: "guid-1"}, &rec); err != nil {
		t.Fatal(err)
	}
	rec.FirstSeen = first.Add(48 * time.Hour)
	rec.User.Email = "ada@new.example.com"
	rec.Status, rec.Attempts, rec.LastError, rec.ArchivedAt = user.StatusActive, 0, "", time.Time{}
	if err := db.Save(ctx, run, user.Entry{Op: user.OpUpdate, UserID: "guid-1"}, &rec); err != nil {
		t.Fatal(err)
	}
	got := mustSnapshot(t, db)[0]
	if !got.FirstSeen.Equal(first) {
		t.Errorf("FirstSeen = %v, want the first one %v", got.FirstSeen, first)
	}
	if got.User.Email != "ada@new.example.com" || got.Status != user.StatusActive || got.Attempts != 0 ||
		got.LastError != "" || !got.ArchivedAt.IsZero() {
		t.Errorf("update not applied: %+v", got)
	}
}

func TestSave_SetsFirstSeenWhenStoredOneIsMissing(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	run := mustBegin(t, db)
	rec := user.Record{User: user.User{ID: "g"}, Status: user.StatusPending}
	if err := db.Save(ctx, run, user.Entry{Op: user.OpCreate, UserID: "g"}, &rec); err != nil {
		t.Fatal(err)
	}
	rec.FirstSeen = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := db.Save(ctx, run, user.Entry{Op: user.OpCreate, UserID: "g"}, &rec); err != nil {
		t.Fatal(err)
	}
	if got := mustSnapshot(t, db)[0].FirstSeen; !got.Equal(rec.FirstSeen) {
		t.Errorf("FirstSeen = %v, want %v", got, rec.FirstSeen)
	}
}

func TestSave_JournalAndRecordAreAtomic(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	run := mustBegin(t, db)

	// The journal row is inserted first; the record then violates the status
	// check, so the whole transaction must roll back.
	bad := fullRecord("guid-1")
	bad.Status = "bogus"
	err := db.Save(ctx, run, user.Entry{Op: user.OpCreate, UserID: "guid-1", Username: "ada"}, &bad)
	if err == nil {
		t.Fatal("Save of an invalid record: no error")
	}
	if !strings.Contains(err.Error(), "guid-1") || !strings.Contains(err.Error(), db.Path()) {
		t.Errorf("error %q does not name the user and the file", err)
	}
	if recs := mustSnapshot(t, db); len(recs) != 0 {
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
	good := fullRecord("guid-2")
	if err := db.Save(ctx, run+100, user.Entry{Op: user.OpCreate, UserID: "guid-2"}, &good); err == nil {
		t.Fatal("Save for an unknown run: no error")
	}
	if recs := mustSnapshot(t, db); len(recs) != 0 {
		t.Errorf("record saved although its journal row failed: %+v", recs)
	}
}

func TestSave_WithoutRecordOnlyJournals(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t, WithClock(newClock().now))
	run := mustBegin(t, db)
	if err := db.Save(ctx, run, user.Entry{Op: user.OpArchive, UserID: "g", Error: "HTTP 503"}, nil); err != nil {
		t.Fatal(err)
	}
	if recs := mustSnapshot(t, db); len(recs) != 0 {
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

func TestSave_ConcurrentWorkersAllLand(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	run := mustBegin(t, db)
	const workers, each = 8, 50
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			for i := range each {
				rec := fullRecord(string(rune('a'+w)) + "-" + time.Duration(i).String())
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
	if n := len(mustSnapshot(t, db)); n != workers*each {
		t.Errorf("Snapshot: %d records, want %d", n, workers*each)
	}
}

func TestRunsFailingJournal(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	db, _ := openTest(t, WithClock(clock.now))

	run1 := mustBegin(t, db)
	ok := fullRecord("ok")
	ok.Attempts, ok.LastError = 0, ""
	fields := []user.FieldChange{{Field: user.FieldEmail, Old: "a@x", New: "b@x"}}
	e1 := user.Entry{At: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC), Op: user.OpUpdate, UserID: "ok",
		Username: "ada", PlatformID: "p-ok", Fields: fields, Reason: "email changed"}
	if err := db.Save(ctx, run1, e1, &ok); err != nil {
		t.Fatal(err)
	}
	if err := db.FinishRun(ctx, run1, "success", map[string]int{"update": 1, "in_scope": 2}, ""); err != nil {
		t.Fatal(err)
	}

	run2 := mustBegin(t, db)
	bad := fullRecord("bad")
	bad.Status, bad.Attempts, bad.LastError = user.StatusPending, 1, "HTTP 500"
	e2 := user.Entry{At: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC), Op: user.OpCreate, UserID: "bad",
		Username: "bob", Error: "HTTP 500"}
	if err := db.Save(ctx, run2, e2, &bad); err != nil {
		t.Fatal(err)
	}
	onlyErr := fullRecord("err-only")
	onlyErr.Attempts = 0 // last_error alone also counts as failing
	if err := db.Save(ctx, run2, user.Entry{Op: user.OpUpdate, UserID: "err-only"}, &onlyErr); err != nil {
		t.Fatal(err)
	}
	if err := db.FinishRun(ctx, run2, "partial", map[string]int{"failed": 1}, "1 change failed"); err != nil {
		t.Fatal(err)
	}
	run3 := mustBegin(t, db) // still running

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
	want := Stats{Users: map[user.Status]int{user.StatusArchived: 2, user.StatusPending: 1}, Failing: 2, Runs: 3, SchemaVersion: latestVersion}
	if !reflect.DeepEqual(st, want) {
		t.Errorf("Stats = %+v, want %+v", st, want)
	}
}

func TestFinishRun_UnknownRunIsAnError(t *testing.T) {
	db, _ := openTest(t)
	if err := db.FinishRun(context.Background(), 42, "success", nil, ""); err == nil {
		t.Error("FinishRun of an unknown run: no error")
	}
}

func TestOpen_MarksRunsOfADeadProcessInterrupted(t *testing.T) {
	ctx := context.Background()
	db, path := openTest(t)
	run := mustBegin(t, db)
	db.Close() // the process "died" without FinishRun

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	runs, err := db.Runs(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if runs[0].ID != run || runs[0].Outcome != OutcomeInterrupted || !runs[0].Finished.IsZero() {
		t.Errorf("run = %+v, want it interrupted", runs[0])
	}
}

func TestMeta_SetGetReplace(t *testing.T) {
	ctx := context.Background()
	db, path := openTest(t)
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
	ro, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if v, ok, err := ro.GetMeta(ctx, "ldap.cookie"); err != nil || !ok || v != "c2" {
		t.Errorf("read-only GetMeta = %q, %v, %v; want c2", v, ok, err)
	}
	if err := ro.SetMeta(ctx, "k", "v"); !errors.Is(err, ErrReadOnly) {
		t.Errorf("read-only SetMeta: %v, want ErrReadOnly", err)
	}
}
