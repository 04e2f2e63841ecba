package sync

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/user"
)

// TestRun_CreatesPastTheListedOnesAreAppliedFromTheSpill: a run that is not
// a dry run lists its first creates and applies the others from the spill
// file: every new user gets an account and a record, the report counts them
// all, and the plan lists only the first.
func TestRun_CreatesPastTheListedOnesAreAppliedFromTheSpill(t *testing.T) {
	stays := person("id-stays", "stays")
	users := append([]user.User{stays}, numbered("new", 25)...)
	e, ft, st := setup(Directory{Users: users}, managed(stays)...)
	e.listCreates = 4
	e.Concurrency = 3
	rep := mustRun(t, e, RunOptions{})
	if n := len(rep.Plan.Changes); n != 4 {
		t.Errorf("plan lists %d changes, want the first 4 creates", n)
	}
	if rep.Plan.Streamed != 21 || rep.Plan.Count(user.OpCreate) != 25 || rep.Plan.Size() != 25 {
		t.Errorf("streamed %d, creates %d, size %d; want 21, 25, 25", rep.Plan.Streamed, rep.Plan.Count(user.OpCreate), rep.Plan.Size())
	}
	if rep.Applied[user.OpCreate] != 25 || len(rep.Failed) != 0 {
		t.Errorf("applied %v, failed %v; want 25 creates", rep.Applied, rep.Failed)
	}
	if rep.Plan.InScope != 26 || rep.Plan.Unchanged != 1 {
		t.Errorf("in scope %d, unchanged %d; want 26, 1", rep.Plan.InScope, rep.Plan.Unchanged)
	}
	for _, u := range users[1:] {
		if _, ok := ft.byUserName(u.Username); !ok {
			t.Errorf("%s has no account", u.Username)
		}
		if s := st.savedFor(u.ID); len(s) != 1 || s[0].Rec == nil || s[0].Rec.Status != user.StatusActive {
			t.Errorf("%s: saved %+v, want one active record", u.Username, s)
		}
	}
	if rep.Plan.spill != nil {
		t.Error("the report still holds the spill after the run")
	}
}

// TestRun_DryRunListsEveryCreate: a plan is for review: nothing is spilled.
func TestRun_DryRunListsEveryCreate(t *testing.T) {
	e, _, _ := setup(Directory{Users: numbered("new", 10)})
	e.listCreates = 2
	rep := mustRun(t, e, RunOptions{DryRun: true})
	if rep.Plan.Streamed != 0 || len(rep.Plan.Changes) != 10 {
		t.Errorf("streamed %d, listed %d; want 0 and 10", rep.Plan.Streamed, len(rep.Plan.Changes))
	}
}

// TestRun_SpilledCreateWithdrawnLaterIsNotCreated: a user spilled, then
// withdrawn by the read (a later duplicate), is a skipped entry: no account.
func TestRun_SpilledCreateWithdrawnLaterIsNotCreated(t *testing.T) {
	users := numbered("new", 6)
	e, ft, _ := setup(Directory{})
	e.listCreates = 2
	gone := users[4]
	e.Source = withdrawingSource{users: users, withdraw: map[string]string{gone.ID: gone.DN}}
	rep := mustRun(t, e, RunOptions{})
	if _, ok := ft.byUserName(gone.Username); ok {
		t.Errorf("%s was created though withdrawn", gone.Username)
	}
	if rep.Applied[user.OpCreate] != 5 || rep.Plan.Streamed != 3 || rep.Plan.InScope != 5 || rep.Plan.Unchanged != 0 {
		t.Errorf("applied %v, streamed %d, in scope %d, unchanged %d; want 5 creates, 3, 5, 0",
			rep.Applied, rep.Plan.Streamed, rep.Plan.InScope, rep.Plan.Unchanged)
	}
}

// TestRun_SpilledCreateOfAnArchivedAccountsNameIsFlagged: the reuse check
// covers the creates in the spill, before any write.
func TestRun_SpilledCreateOfAnArchivedAccountsNameIsFlagged(t *testing.T) {
	leaver := person("id-old-jdoe", "jdoe")
	hire := with(person("id-new-jdoe", "jdoe"), func(u *user.User) { u.Email = "john.doe@example.com" })
	users := append(numbered("new", 3), hire)
	e, _, _ := setup(Directory{Users: users}, record(disabled(leaver), user.StatusArchived, "p-jdoe"))
	e.listCreates = 1
	rep, _ := e.Run(t.Context(), RunOptions{})
	if got := movesOf(rep.Plan); !slices.Equal(got, []string{"create jdoe username=jdoe from id-old-jdoe archived"}) {
		t.Fatalf("moves %q (streamed %d)", got, rep.Plan.Streamed)
	}
}

// TestRun_RefusedPlanAppliesNoSpilledCreate: the safety check comes before
// any create, streamed or not.
func TestRun_RefusedPlanAppliesNoSpilledCreate(t *testing.T) {
	old := numbered("old", 5)
	e, ft, _ := setup(Directory{Users: numbered("new", 8)}, managed(old...)...)
	e.listCreates = 2
	e.Policy = Policy{MaxArchive: 1, MaxArchivePercent: 100}
	_, err := e.Run(t.Context(), RunOptions{})
	var se *SafetyError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want a refusal", err)
	}
	if n := ft.count("create"); n != 0 {
		t.Errorf("%d creates were sent by a refused run", n)
	}
}

// TestRun_WithoutASpillFileTheCreatesAreHeldAndTheOperatorWarned: TMPDIR
// unusable is no reason to fail a sync: the creates are held in memory, and
// the warning says what to set.
func TestRun_WithoutASpillFileTheCreatesAreHeldAndTheOperatorWarned(t *testing.T) {
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
	e, _, _ := setup(Directory{Users: numbered("new", 6)})
	e.listCreates = 2
	var warned []string
	e.Warn = func(msg string) { warned = append(warned, msg) }
	rep := mustRun(t, e, RunOptions{})
	if rep.Applied[user.OpCreate] != 6 || rep.Plan.Streamed != 0 || len(rep.Plan.Changes) != 6 {
		t.Errorf("applied %v, streamed %d, listed %d; want 6 creates, all listed", rep.Applied, rep.Plan.Streamed, len(rep.Plan.Changes))
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "set TMPDIR to a writable directory") {
		t.Errorf("warnings %q, want one naming TMPDIR", warned)
	}
}

// TestRun_AnAccountCreatedThisRunIsNotAdoptedByAnotherUser: the links of
// the accounts a run creates are kept (compactly) for the rest of the run:
// a later user matching one by name is refused it.
func TestRun_AnAccountCreatedThisRunIsNotAdoptedByAnotherUser(t *testing.T) {
	jo, jo2 := person("id-1", "jo"), with(person("id-2", "jo"), func(u *user.User) { u.Username, u.Email = "JO", "jo2@example.com" })
	e, ft, _ := setup(dirOf(jo, jo2))
	e.AdoptBy = []string{user.MatchUserName}
	rep, err := e.Run(t.Context(), RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Applied[user.OpCreate] != 1 || len(rep.Failed) != 1 || !strings.Contains(rep.Failed[0].Error, "already linked to another directory user") {
		t.Errorf("applied %v, failed %+v; want jo created and JO refused the account", rep.Applied, rep.Failed)
	}
	if n := ft.numAccounts(); n != 1 {
		t.Errorf("%d accounts, want 1", n)
	}
}
