package sync

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/user"
)

func TestRun_OnlyPlansTheNamedUserAlone(t *testing.T) {
	alice, bob, carol := person("id-alice", "alice"), person("id-bob", "bob"), person("id-carol", "carol")
	// bob is new and carol left: neither is touched by a run for alice.
	for _, name := range []string{"alice", "ALICE@example.com", "id-alice"} {
		e, ft, _ := setup(dirOf(alice, bob), record(carol, user.StatusActive, "p-carol"))
		rep, err := e.Run(t.Context(), RunOptions{Only: name})
		if err != nil {
			t.Fatalf("Only %q: %v", name, err)
		}
		if got, want := summaries(rep.Plan), []string{"create alice"}; !slices.Equal(got, want) {
			t.Errorf("Only %q: plan %q, want %q", name, got, want)
		}
		if n := len(ft.writes()); n != 1 {
			t.Errorf("Only %q: %d platform writes, want 1: %v", name, n, ft.writes())
		}
	}
}

func TestRun_OnlyArchivesTheNamedLeaverWithinTheAbsoluteLimitOnly(t *testing.T) {
	alice, bob := person("id-alice", "alice"), person("id-bob", "bob")
	e, ft, st := setup(dirOf(bob), managed(alice, bob)...)
	// One user of two is 50%: over the percentage, which a run for one
	// user does not apply.
	e.Policy = Policy{MaxArchive: 5, MaxArchivePercent: 10}
	setRemovals(t, st, 3)
	rep := mustRun(t, e, RunOptions{Only: "alice"})
	if got, want := summaries(rep.Plan), []string{"archive alice @p-alice (removed)"}; !slices.Equal(got, want) {
		t.Fatalf("plan %q, want %q", got, want)
	}
	if a, _ := ft.account("p-bob"); !a.User.Active {
		t.Error("bob was changed by a run for alice")
	}
	// A run for one user is no full directory read.
	if v, _, _ := st.GetMeta(t.Context(), metaRemovalsSinceFullRead); v != "3" {
		t.Errorf("removals since the last full read = %q after a run for one user, want 3", v)
	}

	e, _, _ = setup(dirOf(bob), managed(alice, bob)...)
	e.Policy = Policy{MaxArchive: 0, MaxArchivePercent: 10}
	var se *SafetyError
	if _, err := e.Run(t.Context(), RunOptions{Only: "alice"}); !errors.As(err, &se) {
		t.Fatalf("sync.max_archive: 0, a run for one leaver: err = %v, want a safety refusal", err)
	}
}

func TestRun_OnlyKeepsTheSkippedEntriesThatProtectTheUser(t *testing.T) {
	alice, bob, carol := person("id-alice", "alice"), person("id-bob", "bob"), person("id-carol", "carol")
	dup := Skip{DN: bob.DN, ID: bob.ID, Reason: "duplicate email"}
	other := Skip{DN: carol.DN, ID: carol.ID, Reason: "duplicate email"}
	dir := Directory{Users: []user.User{alice}, Skipped: []Skip{dup, other}}
	for _, name := range []string{"bob", "bob@example.com", "id-bob"} {
		e, ft, _ := setup(dir, managed(bob, carol)...)
		rep := mustRun(t, e, RunOptions{Only: name})
		if len(rep.Plan.Changes) != 0 || len(rep.Plan.Skipped) != 1 || rep.Plan.Skipped[0].ID != bob.ID {
			t.Errorf("Only %q: plan %q, skipped %+v; want nothing planned and bob's entry skipped", name, summaries(rep.Plan), rep.Plan.Skipped)
		}
		if n := len(ft.writes()); n != 0 {
			t.Errorf("Only %q: %d platform writes, want none", name, n)
		}
	}
	// Disabled, the skipped entry takes bob's access away; carol's stays.
	dup.Disabled = true
	e, ft, _ := setup(Directory{Users: []user.User{alice}, Skipped: []Skip{dup, other}}, managed(bob, carol)...)
	rep := mustRun(t, e, RunOptions{Only: "bob"})
	if got := summaries(rep.Plan); len(got) != 1 || !strings.HasPrefix(got[0], "archive bob") {
		t.Fatalf("plan %q, want bob archived", got)
	}
	if a, _ := ft.account("p-carol"); !a.User.Active {
		t.Error("carol was archived by a run for bob")
	}
}

func TestRun_OnlyRefusesWhatItCannotNarrow(t *testing.T) {
	alice, bob := person("id-alice", "alice"), person("id-bob", "bob")
	twin := person("id-twin", "twin")
	twin.Email = alice.Email
	tests := []struct {
		name, only, want string
		dir              Directory
	}{
		{"empty directory", "alice", "the directory returned no users in scope at all", Directory{}},
		{"no such user", "nobody", "--user nobody: no such user", dirOf(alice, bob)},
		{"blank name", "  ", "--user: empty name", dirOf(alice, bob)},
		{"two users match", "alice@example.com", "2 directory users match", dirOf(alice, twin)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ft, _ := setup(tt.dir, managed(alice, bob)...)
			_, err := e.Run(t.Context(), RunOptions{Only: tt.only})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if n := len(ft.writes()); n != 0 {
				t.Errorf("%d platform writes, want none", n)
			}
		})
	}
}

// TestRun_OnlyAdoptsNoAccountLinkedToAnotherUser: a run for one user links
// accounts as a run over every user does, knowing every record's account.
func TestRun_OnlyAdoptsNoAccountLinkedToAnotherUser(t *testing.T) {
	alice, carol := person("id-alice", "alice"), person("id-carol", "carol")
	// carol's account carries alice's username and no externalId
	// (edited by hand): only the snapshot says it is carol's.
	rc := record(carol, user.StatusActive, "p-carol")
	e, ft, st := setup(dirOf(alice, carol), rc)
	acct := accountOf(rc)
	acct.User.Username, acct.User.ID = "alice", ""
	ft.put(acct)
	rep, err := e.Run(t.Context(), RunOptions{Only: "alice"})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rec := st.records[alice.ID]; rec.PlatformID == "p-carol" {
		t.Fatalf("alice was linked to carol's account: %+v (failed %+v)", rec, rep.Failed)
	}
	if len(rep.Failed) != 1 || !strings.Contains(rep.Failed[0].Error, "already linked to another directory user") {
		t.Errorf("failed %+v, want alice's adoption refused", rep.Failed)
	}
}
