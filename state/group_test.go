package state

import (
	"fmt"
	"strings"
	gosync "sync"
	"testing"

	"github.com/dirsync/dirsync/user"
)

// TestSave_ConcurrentSavesAreEachRecordedAndAFailedOneAlone: many workers
// saving at once share transactions; every save that returned nil is in
// the snapshot and the journal, and a save that fails (its run does not
// exist) fails alone, taking none of the others with it.
func TestSave_ConcurrentSavesAreEachRecordedAndAFailedOneAlone(t *testing.T) {
	db, _ := openTest(t)
	ctx := t.Context()
	run, err := db.BeginRun(ctx, "sync")
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 16, 100
	errs := make([]error, workers*each)
	var wg gosync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				n := w*each + i
				rec := fullRecord(fmt.Sprintf("id-%04d", n))
				r := run
				if n%97 == 0 {
					r = run + 1000 // no such run: the journal entry's foreign key fails
				}
				if n%2 == 0 {
					// A create's intent first, as the apply records it.
					if err := db.SaveIntent(ctx, &rec); err != nil {
						errs[n] = err
						continue
					}
				}
				errs[n] = db.Save(ctx, r, user.Entry{Op: user.OpCreate, UserID: rec.User.ID}, &rec)
			}
		}()
	}
	wg.Wait()
	recs, err := db.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, r := range recs {
		have[r.User.ID] = true
	}
	failed := 0
	for n, err := range errs {
		id := fmt.Sprintf("id-%04d", n)
		switch {
		case n%97 == 0:
			failed++
			if err == nil || !strings.Contains(err.Error(), "journal") {
				t.Errorf("save %d with a journal entry of no run: %v, want a journal error", n, err)
			}
			if n%2 == 1 && have[id] {
				t.Errorf("the failed save %d left its record", n)
			}
		case err != nil:
			t.Errorf("save %d: %v", n, err)
		case !have[id]:
			t.Errorf("save %d returned nil but its record is missing", n)
		}
	}
	// 2,400 writes (saves and intents) in far fewer transactions.
	if c := db.group.commits.Load(); c == 0 || c >= workers*each {
		t.Errorf("%d transactions for %d saves and %d intents: the writes waiting together were not grouped", c, workers*each, workers*each/2)
	}
	t.Logf("%d transactions", db.group.commits.Load())
	entries, err := db.Journal(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	if want := workers*each - failed; len(entries) != want {
		t.Errorf("the run's journal holds %d entries, want %d", len(entries), want)
	}
}
