package sync

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/dirsync/dirsync/user"
)

// archivedFor returns u's record archived days before clock.
func archivedFor(u user.User, days int) user.Record {
	r := record(disabled(u), user.StatusArchived, "p-"+u.Username)
	r.ArchivedAt = clock.Add(-time.Duration(days) * 24 * time.Hour)
	return r
}

// expiryWorld is a directory and snapshot where some archived accounts are
// past sync.delete_after (30 days) and others are not, or must stay.
func expiryWorld() (Directory, []user.Record) {
	gone := person("id-gone", "gone")             // archived 31 days ago, not in the directory
	recent := person("id-recent", "recent")       // archived 5 days ago
	stillOff := person("id-stilloff", "stilloff") // archived 40 days ago, disabled in the directory
	back := person("id-back", "back")             // archived 40 days ago, active again
	shielded := person("id-shielded", "shielded") // archived 40 days ago, its entry skipped
	undated := person("id-undated", "undated")    // archived before archive times were kept
	u := archivedFor(undated, 0)
	u.ArchivedAt = time.Time{}
	dir := Directory{
		Users:   []user.User{disabled(stillOff), back},
		Skipped: []Skip{{DN: shielded.DN, ID: shielded.ID, Reason: "two mail values"}},
	}
	return dir, []user.Record{archivedFor(gone, 31), archivedFor(recent, 5), archivedFor(stillOff, 40),
		archivedFor(back, 40), archivedFor(shielded, 40), u}
}

func changesOf(p Plan) []string {
	var out []string
	for _, c := range p.Changes {
		out = append(out, string(c.Op)+" "+c.User.Username+" ("+c.Reason+")")
	}
	return out
}

func TestRun_DeletesAccountsArchivedLongerThanDeleteAfter(t *testing.T) {
	for _, path := range []string{"streamed", "whole read"} {
		t.Run(path, func(t *testing.T) {
			dir, recs := expiryWorld()
			e, ft, st := setup(dir, recs...)
			e.DeleteAfter = 30 * 24 * time.Hour
			run := func(dry bool) Report {
				if path == "streamed" {
					return mustRun(t, e, RunOptions{DryRun: dry})
				}
				rep, err := e.Reconcile(t.Context(), RunOptions{DryRun: dry}, dir)
				if err != nil {
					t.Fatal(err)
				}
				return rep
			}
			want := []string{"reactivate back ()", "delete gone (archived 31 days ago)", "delete stilloff (archived 40 days ago)"}
			plan := run(true)
			if got := changesOf(plan.Plan); !slices.Equal(got, want) {
				t.Fatalf("plan %q, want %q", got, want)
			}
			rep := run(false)
			if rep.Applied[user.OpDelete] != 2 {
				t.Errorf("applied %v", rep.Applied)
			}
			for _, id := range []string{"p-gone", "p-stilloff"} {
				if _, ok := ft.accounts[id]; ok {
					t.Errorf("%s still on the platform", id)
				}
			}
			for _, id := range []string{"p-recent", "p-shielded", "p-undated"} {
				if _, ok := ft.accounts[id]; !ok {
					t.Errorf("%s was deleted", id)
				}
			}
			if r := st.records["id-gone"]; r.Status != user.StatusDeleted {
				t.Errorf("gone's record: %+v", r)
			}
			if got := changesOf(run(true).Plan); len(got) != 0 {
				t.Errorf("after the run, plan %q", got)
			}
		})
	}
}

func TestRun_DeleteAfterOffDeletesNothing(t *testing.T) {
	dir, recs := expiryWorld()
	e, _, _ := setup(dir, recs...)
	rep := mustRun(t, e, RunOptions{DryRun: true})
	if got := changesOf(rep.Plan); !slices.Equal(got, []string{"reactivate back ()"}) {
		t.Errorf("plan %q", got)
	}
}

func TestRun_ExpiredDeletesCountAgainstTheSafetyLimits(t *testing.T) {
	dir, recs := expiryWorld()
	e, ft, _ := setup(dir, recs...)
	e.DeleteAfter = 30 * 24 * time.Hour
	e.Policy = Policy{MaxArchive: 1, MaxArchivePercent: 100}
	_, err := e.Run(t.Context(), RunOptions{})
	var se *SafetyError
	if !errors.As(err, &se) || se.Removals != 2 {
		t.Fatalf("err %v, want a safety refusal of 2 removals", err)
	}
	for _, c := range ft.calls {
		if c.Method == "delete" {
			t.Errorf("refused run deleted %s", c.ID)
		}
	}
	rep, err := e.Run(t.Context(), RunOptions{AllowMassArchive: true})
	if err != nil || rep.Applied[user.OpDelete] != 2 {
		t.Errorf("with --allow-mass-archive: %v, %v", rep.Applied, err)
	}
}
