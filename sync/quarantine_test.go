package sync

import (
	"context"
	"testing"

	"github.com/dirsync/dirsync/user"
)

// TestQuarantined_TheRecordSaysWhatTheRunDoes: the record of a failing
// change carries the change's kind, and Quarantined, read from the record
// alone (as status reads it), names exactly the users the next run holds
// back: an update failing as often is quarantined, an archive never is.
func TestQuarantined_TheRecordSaysWhatTheRunDoes(t *testing.T) {
	alice, bob, carol := person("id-alice", "alice"), person("id-bob", "bob"), person("id-carol", "carol")
	changed := mailTo(bob, "bob2@example.com")
	e, ft, st := setup(dirOf(alice, changed), managed(alice, bob, carol)...)
	e.QuarantineAfter = 2
	ft.onUpdate = func(context.Context, string, user.User) error { return badRequest{} }
	ft.onSetActive = func(context.Context, string, bool) error { return badRequest{} }
	for range 2 {
		mustRun(t, e, RunOptions{})
	}
	if r := st.records[bob.ID]; r.FailedOp != user.OpUpdate || r.Attempts != 2 {
		t.Errorf("bob's record: failed op %q, attempts %d; want update, 2", r.FailedOp, r.Attempts)
	}
	if r := st.records[carol.ID]; r.FailedOp != user.OpArchive || r.Attempts != 2 {
		t.Errorf("carol's record: failed op %q, attempts %d; want archive, 2", r.FailedOp, r.Attempts)
	}
	var byRecord []string
	for _, r := range snapshotOf(t, st) {
		if Quarantined(r, e.QuarantineAfter) {
			byRecord = append(byRecord, r.User.Username)
		}
	}
	rep := mustRun(t, e, RunOptions{})
	var byRun []string
	for _, c := range rep.Plan.Quarantined {
		byRun = append(byRun, c.User.Username)
	}
	if len(byRecord) != 1 || byRecord[0] != "bob" || len(byRun) != 1 || byRun[0] != "bob" {
		t.Errorf("quarantined by the records %q, by the run %q; want bob for both", byRecord, byRun)
	}
	if Quarantined(st.records[bob.ID], 0) {
		t.Error("quarantined with sync.quarantine_after: 0")
	}

	// Once the change lands, the record holds no failure.
	ft.onUpdate, ft.onSetActive = nil, nil
	mustRun(t, e, RunOptions{RetryQuarantined: true})
	if r := st.records[bob.ID]; r.FailedOp != "" || r.Attempts != 0 || Quarantined(r, 2) {
		t.Errorf("bob's record after the update landed: failed op %q, attempts %d", r.FailedOp, r.Attempts)
	}
}
