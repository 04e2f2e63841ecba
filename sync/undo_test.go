package sync

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/dirsync/dirsync/user"
)

// archivedBy returns the journal entry of run archiving r's account.
func archivedBy(r user.Record, reason string) user.Entry {
	return user.Entry{At: t0, Op: user.OpArchive, UserID: r.User.ID, Username: r.User.Username, PlatformID: r.PlatformID, Reason: reason}
}

func TestUndoArchives_ReactivatesWhatTheRunArchivedAndIsStillArchived(t *testing.T) {
	alice, bob, carol := person("id-alice", "alice"), person("id-bob", "bob"), person("id-carol", "carol")
	ra, rb, rc := record(alice, user.StatusArchived, "p-alice"), record(bob, user.StatusActive, "p-bob"), record(carol, user.StatusArchived, "p-carol")
	failed := archivedBy(rc, ReasonRemoved)
	failed.Error = "503"
	unmanaged := user.Entry{Op: user.OpArchive, Username: "stray", PlatformID: "p-stray", Reason: ReasonUnmanaged}
	journal := []user.Entry{
		archivedBy(ra, ReasonRemoved),
		archivedBy(ra, ReasonRemoved),  // twice: once
		archivedBy(rb, ReasonDisabled), // reactivated since
		failed,                         // never archived by this run
		{Op: user.OpUpdate, UserID: alice.ID, PlatformID: "p-alice"},
		unmanaged,
	}
	plan := UndoArchives(7, journal, []user.Record{ra, rb, rc})
	if got, want := summaries(plan), []string{"reactivate alice @p-alice (undo of run 7)", "reactivate stray @p-stray (undo of run 7)"}; !slices.Equal(got, want) {
		t.Fatalf("plan %q, want %q", got, want)
	}
}

func TestApplyPlan_UndoRestoresTheRecordAsARunReactivates(t *testing.T) {
	alice, bob := person("id-alice", "alice"), person("id-bob", "bob")
	ra := record(alice, user.StatusArchived, "p-alice")
	ra.Attempts, ra.LastError = 0, ""
	e, ft, st := setup(Directory{}, ra, record(bob, user.StatusActive, "p-bob"))
	ft.put(user.Account{PlatformID: "p-stray", User: user.User{Username: "stray"}})
	journal := []user.Entry{archivedBy(ra, ReasonRemoved), {Op: user.OpArchive, Username: "stray", PlatformID: "p-stray", Reason: ReasonUnmanaged}}

	rep, err := e.ApplyPlan(t.Context(), "undo", UndoArchives(7, journal, snapshotOf(t, st)))
	if err != nil || len(rep.Failed) != 0 || rep.Applied[user.OpReactivate] != 2 {
		t.Fatalf("ApplyPlan: %v, %+v", err, rep)
	}
	// The data last pushed goes back with the account, even unchanged:
	// the platform may have dropped it (groups) on deactivation.
	want := []string{"set_active p-alice true", "update p-alice", "set_active p-stray true"}
	var got []string
	for _, c := range ft.writes() {
		if c.Method == "set_active" {
			got = append(got, c.Method+" "+c.ID+" "+c.Arg)
		} else {
			got = append(got, c.Method+" "+c.ID)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("platform writes %q, want %q", got, want)
	}
	rec := st.records["id-alice"]
	if rec.Status != user.StatusActive || !rec.ArchivedAt.IsZero() || !rec.User.Active || rec.Hash != rec.User.Hash() || rec.FirstSeen != t0 {
		t.Errorf("alice's record after undo: %+v", rec)
	}
	if _, ok := st.records[""]; ok || len(st.records) != 2 {
		t.Errorf("undo of an account not ours kept a record: %v", st.records)
	}
	if s := st.onlySave(t, "id-alice"); s.Entry.Reason != "undo of run 7" || s.Entry.Op != user.OpReactivate {
		t.Errorf("journal entry %+v", s.Entry)
	}
}

func TestApplyPlan_FailedUndoIsRecordedAsAnyFailedChange(t *testing.T) {
	alice := person("id-alice", "alice")
	ra := record(alice, user.StatusArchived, "p-alice")
	e, ft, st := setup(Directory{}, ra)
	ft.put(user.Account{PlatformID: "p-stray", User: user.User{Username: "stray"}})
	ft.onSetActive = func(_ context.Context, id string, _ bool) error { return errors.New("400 refused") }
	journal := []user.Entry{archivedBy(ra, ReasonRemoved), {Op: user.OpArchive, Username: "stray", PlatformID: "p-stray", Reason: ReasonUnmanaged}}

	rep, err := e.ApplyPlan(t.Context(), "undo", UndoArchives(7, journal, snapshotOf(t, st)))
	if err != nil || len(rep.Failed) != 2 {
		t.Fatalf("ApplyPlan: %v, failed %+v; want both reactivations failed", err, rep.Failed)
	}
	rec := st.records["id-alice"]
	if rec.Status != user.StatusArchived || rec.Attempts != 1 || rec.LastError == "" {
		t.Errorf("alice's record after a failed undo: %+v; want archived with the failure counted", rec)
	}
	if len(st.records) != 1 {
		t.Errorf("a failed undo of an account not ours kept a record: %v", st.records)
	}
}

func snapshotOf(t *testing.T, st *fakeStore) []user.Record {
	t.Helper()
	recs, err := st.Snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return recs
}
