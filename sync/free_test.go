package sync

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/user"
)

// freeingTarget is a fakeTarget that renames accounts.
type freeingTarget struct {
	*fakeTarget
	err error
}

func (f *freeingTarget) FreeIdentifiers(ctx context.Context, platformID string, u user.User) error {
	defer f.enter(call{Method: "free", ID: platformID})()
	if f.err != nil {
		return f.err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.accounts[platformID]
	if !ok {
		return notFound("account %s", platformID)
	}
	a.User.Username, a.User.Email = u.Username, u.Email
	f.accounts[platformID] = a
	return nil
}

func TestFreeIdentifiers_ExpandsTheTemplateInUsernameAndEmailLocalPart(t *testing.T) {
	u := person("id-jdoe", "jdoe")
	got, err := freeIdentifiers("{username}.left-{date}", u, clock)
	if err != nil {
		t.Fatal(err)
	}
	if got.Username != "jdoe.left-2026-11-23" || got.Email != "jdoe.left-2026-11-23@example.com" || got.ID != u.ID {
		t.Errorf("got %q %q", got.Username, got.Email)
	}
	for _, bad := range []string{"{username}", "left-{date}", "{user}.x", "{username}.{nope}"} {
		if err := CheckFreeTemplate(bad); err == nil {
			t.Errorf("CheckFreeTemplate(%q) accepted it", bad)
		}
	}
}

func TestRun_ArchiveFreesTheUsernameAndEmailForReuse(t *testing.T) {
	leaver := person("id-old", "jdoe")
	e, ft, st := setup(Directory{Users: []user.User{person("id-x", "x")}}, managed(leaver, person("id-x", "x"))...)
	frt := &freeingTarget{fakeTarget: ft}
	e.Target = frt
	e.FreeIdentifiers = "{username}.left-{date}"
	rep := mustRun(t, e, RunOptions{})
	if rep.Applied[user.OpArchive] != 1 {
		t.Fatalf("applied %v, failed %v", rep.Applied, rep.Failed)
	}
	a := ft.accounts["p-jdoe"]
	if a.User.Username != "jdoe.left-2026-11-23" || a.User.Email != "jdoe.left-2026-11-23@example.com" || a.User.Active {
		t.Errorf("platform account %+v", a)
	}
	r := st.records["id-old"]
	if r.Status != user.StatusArchived || r.User.Username != "jdoe.left-2026-11-23" {
		t.Errorf("record %+v: want archived under the freed name", r)
	}
	var fields []string
	for _, s := range st.saves {
		if s.Entry.Op == user.OpArchive {
			for _, f := range s.Entry.Fields {
				fields = append(fields, f.Field+": "+f.Old+" → "+f.New)
			}
		}
	}
	if j := strings.Join(fields, "; "); !strings.Contains(j, "username: jdoe → jdoe.left-2026-11-23") || !strings.Contains(j, "email: jdoe@example.com → jdoe.left-2026-11-23@example.com") {
		t.Errorf("archive journal fields %q", j)
	}

	// A new hire may now take the name: nothing is flagged, and the create lands.
	hire := person("id-new", "jdoe")
	e.Source = &fakeSource{dir: Directory{Users: []user.User{person("id-x", "x"), hire}}}
	rep = mustRun(t, e, RunOptions{})
	if len(rep.Plan.IdentifierMoves) != 0 || rep.Applied[user.OpCreate] != 1 {
		t.Errorf("moves %+v, applied %v, failed %v", rep.Plan.IdentifierMoves, rep.Applied, rep.Failed)
	}

	// The leaver returning gets the original name back... if it is free:
	// here the new hire holds it, so the plan flags it.
	e.Source = &fakeSource{dir: Directory{Users: []user.User{person("id-x", "x"), hire, leaver}}}
	rep, err := e.Run(t.Context(), RunOptions{DryRun: true})
	if err != nil || len(rep.Plan.IdentifierMoves) != 2 || rep.Plan.Count(user.OpReactivate) != 1 {
		t.Errorf("returning leaver: moves %+v, plan %q, %v", rep.Plan.IdentifierMoves, changesOf(rep.Plan), err)
	}
}

func TestRun_AFailedRenameLeavesTheArchiveToRetry(t *testing.T) {
	leaver := person("id-old", "jdoe")
	e, ft, st := setup(Directory{Users: []user.User{person("id-x", "x")}}, managed(leaver, person("id-x", "x"))...)
	e.Target = &freeingTarget{fakeTarget: ft, err: errors.New("400: userName is read-only")}
	e.FreeIdentifiers = "{username}.left-{date}"
	rep, _ := e.Run(t.Context(), RunOptions{})
	if len(rep.Failed) != 1 || !strings.Contains(rep.Failed[0].Error, "sync.free_identifiers_on_archive") {
		t.Fatalf("failed %+v", rep.Failed)
	}
	if r := st.records["id-old"]; r.Status != user.StatusActive || r.FailedOp != user.OpArchive || r.Attempts != 1 {
		t.Errorf("record %+v: want the archive to be retried", r)
	}
	if ft.accounts["p-jdoe"].User.Active {
		t.Error("the account is still active: access must go even when the rename fails")
	}
}

func TestRun_FreeIdentifiersWithATargetThatCannotRenameFailsTheArchive(t *testing.T) {
	leaver := person("id-old", "jdoe")
	e, _, _ := setup(Directory{Users: []user.User{person("id-x", "x")}}, managed(leaver, person("id-x", "x"))...)
	e.FreeIdentifiers = "{username}.left-{date}"
	rep, _ := e.Run(t.Context(), RunOptions{})
	if len(rep.Failed) != 1 || !strings.Contains(rep.Failed[0].Error, "cannot rename") {
		t.Fatalf("failed %+v", rep.Failed)
	}
}

// TestUndoArchives_PutsBackTheNamesAnArchiveFreed: undo of a run whose
// archive renamed the account gives it its names back (from the journal).
func TestUndoArchives_PutsBackTheNamesAnArchiveFreed(t *testing.T) {
	orig := person("id-old", "jdoe")
	freed, err := freeIdentifiers("{username}.left-{date}", orig, clock)
	if err != nil {
		t.Fatal(err)
	}
	rec := record(freed, user.StatusArchived, "p-jdoe")
	journal := []user.Entry{{Op: user.OpArchive, UserID: orig.ID, Username: orig.Username, PlatformID: "p-jdoe",
		Fields: user.Compare(orig, freed)}}
	plan := UndoArchives(2, journal, []user.Record{rec})
	if len(plan.Changes) != 1 {
		t.Fatalf("plan %+v", plan.Changes)
	}
	if u := plan.Changes[0].User; u.Username != "jdoe" || u.Email != "jdoe@example.com" || !u.Active {
		t.Errorf("undo pushes %q %q, want the original names back", u.Username, u.Email)
	}
}
