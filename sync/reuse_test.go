package sync

import (
	"context"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/user"
)

func movesOf(p Plan) []string {
	var out []string
	for _, m := range p.IdentifierMoves {
		out = append(out, string(m.Op)+" "+m.ToUsername+" "+m.Field+"="+m.Value+" from "+m.FromID+" "+string(m.FromStatus))
	}
	return out
}

// runBoth plans dir over recs by the streamed path and by a whole read.
func runBoth(t *testing.T, dir Directory, recs []user.Record, check func(t *testing.T, p Plan)) {
	for _, path := range []string{"streamed", "whole read"} {
		t.Run(path, func(t *testing.T) {
			e, _, _ := setup(dir, recs...)
			var rep Report
			var err error
			if path == "streamed" {
				rep, err = e.Run(t.Context(), RunOptions{DryRun: true})
			} else {
				rep, err = e.Reconcile(t.Context(), RunOptions{DryRun: true}, dir)
			}
			if err != nil {
				t.Fatal(err)
			}
			check(t, rep.Plan)
		})
	}
}

func TestPlan_FlagsACreateOfANameHeldByAnArchivedAccount(t *testing.T) {
	leaver := person("id-old-jdoe", "jdoe")
	hire := with(person("id-new-jdoe", "jdoe"), func(u *user.User) { u.Email = "john.doe@example.com" })
	runBoth(t, Directory{Users: []user.User{hire}}, []user.Record{record(disabled(leaver), user.StatusArchived, "p-jdoe")},
		func(t *testing.T, p Plan) {
			got := movesOf(p)
			if len(got) != 1 || got[0] != "create jdoe username=jdoe from id-old-jdoe archived" {
				t.Fatalf("moves %q", got)
			}
			m := p.IdentifierMoves[0]
			if !strings.Contains(m.Problem(), "archived account of directory ID id-old-jdoe") ||
				!strings.Contains(m.Advice(), "sync.free_identifiers_on_archive") || !strings.Contains(m.Advice(), "sync.delete_after") {
				t.Errorf("problem %q, advice %q", m.Problem(), m.Advice())
			}
		})
}

func TestPlan_FlagsALeaversEmailGivenToANewHire(t *testing.T) {
	leaver := person("id-ann", "ann")
	hire := with(person("id-bea", "bea"), func(u *user.User) { u.Email = "ann@example.com" })
	stays := person("id-cid", "cid")
	runBoth(t, Directory{Users: []user.User{hire, stays}}, managed(leaver, stays), func(t *testing.T, p Plan) {
		got := movesOf(p)
		if len(got) != 1 || got[0] != "create bea email=ann@example.com from id-ann active" || !p.IdentifierMoves[0].FromLeaving {
			t.Fatalf("moves %q (%+v)", got, p.IdentifierMoves)
		}
		if !strings.Contains(p.IdentifierMoves[0].Problem(), "archived by this same plan") {
			t.Errorf("problem %q", p.IdentifierMoves[0].Problem())
		}
	})
}

func TestPlan_FlagsAnUpdateTakingAnotherUsersEmail(t *testing.T) {
	ann := person("id-ann", "ann")
	cid := person("id-cid", "cid")
	cidNew := mailTo(cid, "ANN@example.com")
	recs := append(managed(cid), record(disabled(ann), user.StatusArchived, "p-ann"))
	runBoth(t, Directory{Users: []user.User{cidNew}}, recs, func(t *testing.T, p Plan) {
		if got := movesOf(p); len(got) != 1 || got[0] != "update cid email=ANN@example.com from id-ann archived" {
			t.Fatalf("moves %q", got)
		}
	})
}

func TestPlan_NoMoveForAUsersOwnNameOrAPendingHolder(t *testing.T) {
	ann := person("id-ann", "ann")
	never := person("id-never", "bea") // its create failed: not on the platform
	bea := person("id-bea", "bea")
	recs := append(managed(mailTo(ann, "a@example.com")), record(never, user.StatusPending, ""))
	runBoth(t, Directory{Users: []user.User{ann, bea}}, recs, func(t *testing.T, p Plan) {
		if got := movesOf(p); len(got) != 0 {
			t.Fatalf("moves %q", got)
		}
	})
}

// TestRun_AnEmailChangeIsNotPushedBeforeThePlanChecksIt: an update of a
// username or email waits for the plan, which flags the move, instead of
// being pushed while the directory is read.
func TestRun_AnEmailChangeIsNotPushedBeforeThePlanChecksIt(t *testing.T) {
	ann := person("id-ann", "ann")
	cid := person("id-cid", "cid")
	recs := append(managed(cid), record(disabled(ann), user.StatusArchived, "p-ann"))
	e, _, _ := setup(Directory{Users: []user.User{mailTo(cid, "ann@example.com")}}, recs...)
	rep := mustRun(t, e, RunOptions{})
	if got := movesOf(rep.Plan); len(got) != 1 {
		t.Fatalf("moves %q", got)
	}
	if rep.Applied[user.OpUpdate] != 1 {
		t.Errorf("applied %v", rep.Applied)
	}
}

func TestRunChanged_FlagsACreateOfANameHeldByAnArchivedAccount(t *testing.T) {
	leaver := person("id-old-jdoe", "jdoe")
	hire := person("id-new-jdoe", "jdoe")
	e, _, _ := setup(Directory{}, record(disabled(leaver), user.StatusArchived, "p-jdoe"))
	rep, err := e.RunChanged(t.Context(), RunOptions{DryRun: true}, Changed{Users: []user.User{hire}})
	if err != nil {
		t.Fatal(err)
	}
	if got := movesOf(rep.Plan); len(got) != 2 {
		t.Errorf("moves %q, want the username and the email", got)
	}
}

func TestPlan_FlagsANameOfADeletedAccountGivenToSomeoneElse(t *testing.T) {
	leaver := person("id-old", "jdoe")
	hire := with(person("id-new", "jdoe2"), func(u *user.User) { u.Email = "jdoe@example.com" })
	rec := record(disabled(leaver), user.StatusDeleted, "p-jdoe")
	runBoth(t, Directory{Users: []user.User{hire}}, []user.Record{rec}, func(t *testing.T, p Plan) {
		if got := movesOf(p); len(got) != 1 || got[0] != "create jdoe2 email=jdoe@example.com from id-old deleted" {
			t.Fatalf("moves %q", got)
		}
		m := p.IdentifierMoves[0]
		if !strings.Contains(m.Problem(), "deleted from the platform") || !strings.Contains(m.Advice(), "intended") {
			t.Errorf("problem %q, advice %q", m.Problem(), m.Advice())
		}
	})
}

func TestPlan_FlagsAnEmailPassedOnAsItsHolderGetsAnother(t *testing.T) {
	ann := person("id-ann", "ann")
	bea := person("id-bea", "bea")
	runBoth(t, Directory{Users: []user.User{mailTo(ann, "ann.smith@example.com"), mailTo(bea, "ann@example.com")}}, managed(ann, bea),
		func(t *testing.T, p Plan) {
			got := movesOf(p)
			if len(got) != 1 || got[0] != "update bea email=ann@example.com from id-ann active" || !p.IdentifierMoves[0].FromRenamed {
				t.Fatalf("moves %q %+v", got, p.IdentifierMoves)
			}
			if !strings.Contains(p.IdentifierMoves[0].Problem(), "gets another email in this same plan") {
				t.Errorf("problem %q", p.IdentifierMoves[0].Problem())
			}
		})
}

// formerStore is a fakeStore that remembers former usernames and emails.
type formerStore struct {
	*fakeStore
	formers []user.FormerHolder
}

func (f *formerStore) FormerHolders(ctx context.Context, values []string) ([]user.FormerHolder, error) {
	return f.formers, nil
}

func TestPlan_FlagsAnEmailItsHolderGaveUpInAnEarlierRun(t *testing.T) {
	ann := mailTo(person("id-ann", "ann"), "ann.smith@example.com") // was ann@example.com until a month ago
	bea := mailTo(person("id-bea", "bea"), "ann@example.com")
	until := clock.AddDate(0, -1, 0)
	for _, path := range []string{"streamed", "whole read"} {
		t.Run(path, func(t *testing.T) {
			e, _, st := setup(Directory{Users: []user.User{ann, bea}}, managed(ann)...)
			e.Store = &formerStore{fakeStore: st, formers: []user.FormerHolder{
				{ID: "id-ann", Username: "ann", Field: user.FieldEmail, Value: "ann@example.com", Until: until},
				{ID: "id-bea", Username: "bea", Field: user.FieldEmail, Value: "ann@example.com", Until: until}, // its own: ignored
			}}
			var rep Report
			var err error
			if path == "streamed" {
				rep, err = e.Run(t.Context(), RunOptions{DryRun: true})
			} else {
				rep, err = e.Reconcile(t.Context(), RunOptions{DryRun: true}, Directory{Users: []user.User{ann, bea}})
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := movesOf(rep.Plan); len(got) != 1 || got[0] != "create bea email=ann@example.com from id-ann " {
				t.Fatalf("moves %q", got)
			}
			m := rep.Plan.IdentifierMoves[0]
			if !m.FromUntil.Equal(until) || !strings.Contains(m.Problem(), "was held by directory ID id-ann (ann) until") ||
				!strings.Contains(m.Advice(), "intended") {
				t.Errorf("move %+v: problem %q advice %q", m, m.Problem(), m.Advice())
			}
		})
	}
}
