package state

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/dirsync/dirsync/user"
)

// dayClock is a clock set by hand: a run a day.
type dayClock struct{ t time.Time }

func (c *dayClock) now() time.Time { return c.t }

func runIDs(t *testing.T, db *DB) map[int64]bool {
	t.Helper()
	runs, err := db.Runs(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[int64]bool{}
	for _, r := range runs {
		ids[r.ID] = true
	}
	return ids
}

func TestPrune_DropsOldRunsButKeepsWhatTheSnapshotNeeds(t *testing.T) {
	ctx := context.Background()
	clock := &dayClock{t: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
	db, _ := openTest(t, WithClock(clock.now), WithRetention(30*24*time.Hour))
	rec := func(id string, st user.Status, attempts int, lastErr string) *user.Record {
		return &user.Record{User: user.User{ID: id, Username: id, Active: st == user.StatusActive}, PlatformID: "p-" + id,
			Status: st, Attempts: attempts, LastError: lastErr}
	}
	run := func(entries ...func(run int64)) int64 {
		t.Helper()
		id, err := db.BeginRun(ctx, "sync")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			e(id)
		}
		if err := db.FinishRun(ctx, id, "success", nil, ""); err != nil {
			t.Fatal(err)
		}
		clock.t = clock.t.Add(24 * time.Hour)
		return id
	}
	save := func(op user.Op, r *user.Record, errText string) func(int64) {
		return func(run int64) {
			if err := db.Save(ctx, run, user.Entry{Op: op, UserID: r.User.ID, Username: r.User.Username, Error: errText}, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Day 0: three creates. Day 1: gone is archived (and stays so); day 2:
	// back is archived, then reactivated on day 3; day 4: failing fails.
	old := run(save(user.OpCreate, rec("gone", user.StatusActive, 0, ""), ""),
		save(user.OpCreate, rec("back", user.StatusActive, 0, ""), ""),
		save(user.OpCreate, rec("failing", user.StatusActive, 0, ""), ""))
	archived := run(save(user.OpArchive, rec("gone", user.StatusArchived, 0, ""), ""))
	run(save(user.OpArchive, rec("back", user.StatusArchived, 0, ""), ""))
	run(save(user.OpReactivate, rec("back", user.StatusActive, 0, ""), ""))
	failed := run(save(user.OpUpdate, rec("failing", user.StatusActive, 1, "boom"), "boom"))
	// 40 days of empty runs, then one more with a change.
	for range 40 {
		run()
	}
	last := run(save(user.OpUpdate, rec("back", user.StatusActive, 0, ""), ""))
	before := mustSnapshot(t, db)

	res, err := db.PruneHistory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := runIDs(t, db)
	if ids[old] {
		t.Errorf("run %d (older than the retention, nothing needed) was kept", old)
	}
	if !ids[archived] || !ids[failed] || !ids[last] {
		t.Errorf("runs kept %v: want the archive of a still-archived user (%d), the failure of a failing user (%d) and the last run (%d)",
			ids, archived, failed, last)
	}
	got := journalOf(t, db, JournalFilter{User: "gone"})
	if fmt.Sprint(got) != "[archive gone]" {
		t.Errorf("gone's journal after prune: %q, want its archive only (undo needs it)", got)
	}
	if got := journalOf(t, db, JournalFilter{User: "failing"}); fmt.Sprint(got) != "[update failing]" {
		t.Errorf("failing's journal: %q, want its failed update only", got)
	}
	if got := journalOf(t, db, JournalFilter{User: "back"}); fmt.Sprint(got) != "[update back]" {
		t.Errorf("back's journal: %q, want the last run's update only (its archive was undone)", got)
	}
	if res.Runs == 0 || res.Entries != 5 {
		t.Errorf("result %+v: want 5 entries pruned and some runs", res)
	}
	// The recent runs (within 30 days) are kept whole.
	for id := last - 29; id <= last; id++ {
		if !ids[id] {
			t.Errorf("run %d, within the retention, was pruned", id)
		}
	}
	if after := mustSnapshot(t, db); len(after) != len(before) {
		t.Errorf("snapshot went from %d to %d records", len(before), len(after))
	}
}

func TestPrune_KeepsTheLastRunsWhateverTheirAge(t *testing.T) {
	ctx := context.Background()
	clock := &dayClock{t: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}
	db, _ := openTest(t, WithClock(clock.now), WithRetention(24*time.Hour))
	for range 15 {
		id := mustBegin(t, db)
		if err := db.FinishRun(ctx, id, "success", nil, ""); err != nil {
			t.Fatal(err)
		}
	}
	clock.t = clock.t.AddDate(5, 0, 0) // dirsync did not run for years
	if _, err := db.PruneHistory(ctx); err != nil {
		t.Fatal(err)
	}
	if ids := runIDs(t, db); len(ids) != KeepRuns {
		t.Errorf("kept %d runs, want the last %d", len(ids), KeepRuns)
	}
}

func TestPrune_ZeroRetentionKeepsEverything(t *testing.T) {
	ctx := context.Background()
	clock := &dayClock{t: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}
	db, _ := openTest(t, WithClock(clock.now), WithRetention(0))
	for range 15 {
		id := mustBegin(t, db)
		if err := db.FinishRun(ctx, id, "success", nil, ""); err != nil {
			t.Fatal(err)
		}
	}
	clock.t = clock.t.AddDate(5, 0, 0)
	if _, err := db.PruneHistory(ctx); err != nil {
		t.Fatal(err)
	}
	if ids := runIDs(t, db); len(ids) != 15 {
		t.Errorf("kept %d runs, want all 15", len(ids))
	}
}

// soakMaxBytes bounds the state file of the soak test: 200 users and a year
// and a bit of daily runs' history. soakMaxWAL bounds its WAL while the store
// is open (SQLite checkpoints it every 1000 pages; Close removes it).
const (
	soakMaxBytes = 1 << 20
	soakMaxWAL   = 8 << 20
)

// TestPrune_SoakOf10000RunsKeepsTheFileBounded records 10,000 small runs, a
// day apart (27 years of daily syncs), pruning at the end of each as a sync
// does, and checks the file stops growing once the retention is reached.
func TestPrune_SoakOf10000RunsKeepsTheFileBounded(t *testing.T) {
	ctx := context.Background()
	clock := &dayClock{t: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}
	db, path := openTest(t, WithClock(clock.now)) // default retention
	size := func(suffix string) int64 {
		fi, err := os.Stat(path + suffix)
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	const users = 200
	var atRetention, peak, peakWAL int64
	for i := range 10_000 {
		run, err := db.BeginRun(ctx, "sync")
		if err != nil {
			t.Fatal(err)
		}
		// Five changes a run: updates, and every tenth run an archive
		// (undone ten runs later) and a failure.
		for k := range 5 {
			id := fmt.Sprintf("u%03d", (i*5+k)%users)
			op, st, errText := user.OpUpdate, user.StatusActive, ""
			switch {
			case k == 0 && i%10 == 0:
				op, st = user.OpArchive, user.StatusArchived
			case k == 1 && i%10 == 0:
				errText = "500 from the platform"
			}
			r := &user.Record{User: user.User{ID: id, Username: id, Email: id + "@example.com", DisplayName: fmt.Sprintf("User %d", i),
				Active: st == user.StatusActive}, PlatformID: "p-" + id, Status: st}
			if errText != "" {
				r.Attempts, r.LastError = 1, errText
			}
			e := user.Entry{Op: op, UserID: id, Username: id, Error: errText,
				Fields: []user.FieldChange{{Field: user.FieldDisplayName, Old: fmt.Sprintf("User %d", i-1), New: fmt.Sprintf("User %d", i)}}}
			if err := db.Save(ctx, run, e, r); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.FinishRun(ctx, run, "success", map[string]int{"update": 5}, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := db.PruneHistory(ctx); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		clock.t = clock.t.Add(24 * time.Hour)
		if i == 500 {
			atRetention = size("")
		}
		if i > 500 {
			peak, peakWAL = max(peak, size("")), max(peakWAL, size("-wal"))
		}
	}
	t.Logf("state file after 500 runs: %d bytes; largest after: %d bytes (WAL: %d)", atRetention, peak, peakWAL)
	if peak > soakMaxBytes || peakWAL > soakMaxWAL {
		t.Errorf("the state file reached %d bytes (WAL %d), over %d (%d)", peak, peakWAL, soakMaxBytes, soakMaxWAL)
	}
	st, err := db.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Runs > 400+KeepRuns+users {
		t.Errorf("%d runs kept, want at most the retention's 400 and those the snapshot needs", st.Runs)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if n := size(""); n > soakMaxBytes || size("-wal") != 0 {
		t.Errorf("closed, the state file is %d bytes (WAL %d)", n, size("-wal"))
	}
}

// TestPrune_ShrinksAFileMadeBeforeAutoVacuum prunes a file created without
// auto_vacuum (by an earlier dirsync): it is converted once and given back
// the space of what was pruned.
func TestPrune_ShrinksAFileMadeBeforeAutoVacuum(t *testing.T) {
	ctx := context.Background()
	clock := &dayClock{t: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}
	db, path := openTest(t, WithClock(clock.now), WithRetention(24*time.Hour))
	for _, q := range []string{`PRAGMA auto_vacuum = NONE`, `VACUUM`} {
		if _, err := db.sql.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 200 {
		run := mustBegin(t, db)
		for k := range 20 {
			e := user.Entry{Op: user.OpUpdate, UserID: fmt.Sprintf("u%d", k), Reason: fmt.Sprintf("%0500d", i)}
			if err := db.Save(ctx, run, e, nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.FinishRun(ctx, run, "success", nil, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.sql.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	before := fi.Size()
	clock.t = clock.t.AddDate(1, 0, 0)
	if _, err := db.PruneHistory(ctx); err != nil {
		t.Fatal(err)
	}
	var mode int
	if err := db.sql.QueryRowContext(ctx, `PRAGMA auto_vacuum`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if fi, err = os.Stat(path); err != nil {
		t.Fatal(err)
	}
	if mode != autoVacuumIncremental || fi.Size() > before/4 {
		t.Errorf("after prune: auto_vacuum %d, %d bytes (was %d): want incremental and a file under a quarter of it", mode, fi.Size(), before)
	}
}
