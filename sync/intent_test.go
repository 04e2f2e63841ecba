package sync

import (
	"context"
	"testing"

	"github.com/dirsync/dirsync/user"
)

// intentStore is a fakeStore that also saves intents.
type intentStore struct {
	*fakeStore
	intents []user.Record
}

func (is *intentStore) SaveIntent(_ context.Context, rec *user.Record) error {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.intents = append(is.intents, *rec)
	is.records[rec.User.ID] = *rec
	return nil
}

func TestRun_CreateSavesPendingIntentBeforeThePlatformCreates(t *testing.T) {
	ana := person("id-ana", "ana")
	e, ft, st := setup(dirOf(ana))
	is := &intentStore{fakeStore: st}
	e.Store = is
	var pendingAtCreate bool
	ft.onCreate = func(context.Context, user.User) error {
		is.mu.Lock()
		defer is.mu.Unlock()
		pendingAtCreate = is.records["id-ana"].Status == user.StatusPending
		return nil
	}
	mustRun(t, e, RunOptions{})
	if !pendingAtCreate {
		t.Errorf("when the platform created ana the snapshot held no pending record; intents: %+v", is.intents)
	}
	if got := st.records["id-ana"]; got.Status != user.StatusActive || got.PlatformID == "" {
		t.Errorf("after the run ana's record is %+v, want active with a platform ID", got)
	}
}

func TestRun_PendingUserGoneFromDirectoryIsArchivedWhenItsCreateLanded(t *testing.T) {
	ana := person("id-ana", "ana")
	pending := record(ana, user.StatusPending, "")
	e, ft, st := setup(dirOf(person("id-bob", "bob")), pending)
	// The create landed on the platform but the run died before recording it.
	ft.put(user.Account{PlatformID: "p-ana", User: ana})
	rep := mustRun(t, e, RunOptions{})
	if acct, _ := ft.account("p-ana"); acct.User.Active {
		t.Error("ana's account, created by an interrupted run, is still active after she left the directory")
	}
	if rec := st.records["id-ana"]; rec.Status != user.StatusArchived || rec.PlatformID != "p-ana" {
		t.Errorf("ana's record = %+v, want archived on p-ana", rec)
	}
	if rep.Applied[user.OpArchive] != 1 {
		t.Errorf("applied = %v, want 1 archive", rep.Applied)
	}
}

func TestRun_PendingUserDisabledWhoseCreateNeverLandedChangesNothingOnThePlatform(t *testing.T) {
	ana := person("id-ana", "ana")
	e, ft, st := setup(dirOf(disabled(ana)), record(ana, user.StatusPending, ""))
	mustRun(t, e, RunOptions{})
	if w := ft.writes(); len(w) != 0 {
		t.Errorf("platform writes = %v, want none", w)
	}
	if rec := st.records["id-ana"]; rec.Status != user.StatusDeleted || rec.PlatformID != "" {
		t.Errorf("ana's record = %+v, want deleted with no platform ID", rec)
	}
	// A second run has nothing to do.
	if rep := mustRun(t, e, RunOptions{}); len(rep.Plan.Changes) != 0 {
		t.Errorf("second run plans %+v, want nothing", rep.Plan.Changes)
	}
}

func TestRun_PendingUserGoneIsArchivedOnlyIfItsAccountIsUnclaimed(t *testing.T) {
	ana, bob := person("id-ana", "ana"), person("id-bob", "bob")
	// ana's create may have landed on a platform that keeps no externalId:
	// found by userName, as her create would have adopted it.
	noExt := ana
	noExt.ID = ""
	// bob's userName is held by an account another record owns.
	carol := person("id-carol", "carol")
	carolRec := record(carol, user.StatusActive, "p-bob-name")
	e, ft, st := setup(dirOf(carol), record(ana, user.StatusPending, ""), record(bob, user.StatusPending, ""), carolRec)
	ft.put(user.Account{PlatformID: "p-ana", User: noExt})
	held, _ := ft.account("p-bob-name")
	held.User.Username = "bob"
	ft.put(held)

	// Both count as removals for the safety limits.
	mustRun(t, e, RunOptions{AllowMassArchive: true})
	if a, _ := ft.account("p-ana"); a.User.Active {
		t.Error("ana's account, found by userName, is still active")
	}
	if a, _ := ft.account("p-bob-name"); !a.User.Active {
		t.Error("an account linked to another user was archived for a pending user")
	}
	if rec := st.records["id-bob"]; rec.Status != user.StatusDeleted || rec.PlatformID != "" {
		t.Errorf("bob's record = %+v, want deleted with no platform ID", rec)
	}
}
