package sync

import (
	"errors"
	"testing"
	"time"
)

func TestRunChanged_RemovalsAddUpUntilAFullRead(t *testing.T) {
	many := numbered("staff", 100)
	e, _, st := setup(Directory{Users: many[3:]}, managed(many...)...)
	e.Policy = Policy{MaxArchive: 2, MaxArchivePercent: 50}

	for i := range 2 {
		if _, err := e.RunChanged(t.Context(), RunOptions{}, Changed{Gone: []string{many[i].ID}}); err != nil {
			t.Fatalf("event run %d: %v", i, err)
		}
	}
	// Two event runs removed one each: a third removal is over the limit.
	_, err := e.RunChanged(t.Context(), RunOptions{}, Changed{Gone: []string{many[2].ID}})
	var se *SafetyError
	if !errors.As(err, &se) || se.Prior != 2 || se.Removals != 3 {
		t.Fatalf("third event run: err = %v, want a refusal counting 2 prior removals", err)
	}
	// A dry run over the whole directory counts nothing and resets nothing.
	if _, err := e.Run(t.Context(), RunOptions{DryRun: true}); err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if v, _, _ := st.GetMeta(t.Context(), metaRemovalsSinceFullRead); v != "2" {
		t.Fatalf("after a dry run the count is %q, want 2", v)
	}
	// A completed run over the whole directory starts the count again.
	mustRun(t, e, RunOptions{})
	if v, _, _ := st.GetMeta(t.Context(), metaRemovalsSinceFullRead); v != "0" {
		t.Fatalf("after a full read the count is %q, want 0", v)
	}
}

func TestRunChanged_UnreadableRemovalCountFailsTheRun(t *testing.T) {
	many := numbered("staff", 10)
	e, ft, st := setup(Directory{}, managed(many...)...)
	if err := st.SetMeta(t.Context(), metaRemovalsSinceFullRead, "many"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.RunChanged(t.Context(), RunOptions{}, Changed{Gone: []string{many[0].ID}}); err == nil {
		t.Fatal("RunChanged with an unreadable removal count: no error")
	}
	if n := len(ft.writes()); n != 0 {
		t.Errorf("%d platform writes, want none: %v", n, ft.writes())
	}
}

func TestFullReconcileDue_FirstRunStartsTheClock(t *testing.T) {
	e, _, st := setup(Directory{})
	now := clock
	e.Now = func() time.Time { return now }
	const every = 24 * time.Hour

	if due, err := e.FullReconcileDue(t.Context(), every, true); err != nil || due {
		t.Fatalf("first dry run: due %v, %v; want false", due, err)
	}
	if _, ok, _ := st.GetMeta(t.Context(), metaLastFull); ok {
		t.Fatal("a dry run started the clock")
	}
	if due, err := e.FullReconcileDue(t.Context(), every, false); err != nil || due {
		t.Fatalf("first run: due %v, %v; want false", due, err)
	}
	now = now.Add(every - time.Minute)
	if due, _ := e.FullReconcileDue(t.Context(), every, false); due {
		t.Fatal("due before sync.full_reconcile_every has passed")
	}
	now = now.Add(time.Minute)
	if due, _ := e.FullReconcileDue(t.Context(), every, false); !due {
		t.Fatal("not due once sync.full_reconcile_every has passed")
	}
	if err := e.MarkFullReconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	if due, _ := e.FullReconcileDue(t.Context(), every, false); due {
		t.Fatal("due right after a full reconcile")
	}
	if due, _ := e.FullReconcileDue(t.Context(), 0, false); due {
		t.Fatal("due with sync.full_reconcile_every off")
	}
	if err := st.SetMeta(t.Context(), metaLastFull, "yesterday"); err != nil {
		t.Fatal(err)
	}
	if due, _ := e.FullReconcileDue(t.Context(), every, false); !due {
		t.Fatal("not due when the last full reconcile's time cannot be read")
	}
}
