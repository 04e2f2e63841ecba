package sync

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/user"
)

// changedDirectory returns users upd00–upd02 (active, records active, mail
// changed), new00 (to create) and off00 (active on the platform, disabled
// in the directory), in that order, and the snapshot records.
func changedDirectory() ([]user.User, []user.Record) {
	users, records := mailChanged(3)
	users = append(users, numbered("new", 1)...)
	off := numbered("off", 1)[0]
	records = append(records, record(off, user.StatusActive, "p-off00"))
	users = append(users, disabled(off))
	return users, records
}

// mailChanged returns n users upd00, upd01, … whose records are active on
// the platform, with a new mail in the directory, and their records.
func mailChanged(n int) ([]user.User, []user.Record) {
	before := numbered("upd", n)
	var users []user.User
	for _, u := range before {
		users = append(users, mailTo(u, u.Username+"@new.example.com"))
	}
	return users, managed(before...)
}

// removals counts the platform calls that took access away.
func removals(ft *fakeTarget) int {
	n := 0
	for _, c := range ft.log() {
		if c.removal() {
			n++
		}
	}
	return n
}

// summariesFirst makes e's fake source emit its first user only once the
// run has loaded the snapshot's summaries, so that no user is held back
// while they load: each is handled as it is read.
func summariesFirst(e *Engine) {
	loaded := make(chan struct{})
	e.summariesLoaded = func() { close(loaded) }
	e.Source.(*fakeSource).beforeEmit = func(ctx context.Context) error {
		select {
		case <-loaded:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Second):
			return errors.New("the summaries were not loaded")
		}
	}
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(ctx context.Context, cond func() bool) bool {
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

func TestRun_PushesUpdatesWhileTheDirectoryIsRead(t *testing.T) {
	users, records := changedDirectory()
	e, ft, st := setup(dirOf(users...), records...)
	summariesFirst(e)
	src := e.Source.(*fakeSource)
	// The read goes on only once the platform has the first update: the
	// update is applied while the directory is being read.
	src.afterEmit = func(ctx context.Context, n int) error {
		if n == 1 && !waitFor(ctx, func() bool { return ft.count("update") == 1 }) {
			return errors.New("the first update was not applied while the directory was read")
		}
		if n == len(users) && ft.count("create")+removals(ft) > 0 {
			return errors.New("a create or archive was applied before the read ended")
		}
		return nil
	}

	rep := mustRun(t, e, RunOptions{})

	want := map[user.Op]int{user.OpUpdate: 3, user.OpCreate: 1, user.OpArchive: 1}
	for op, n := range want {
		if rep.Applied[op] != n {
			t.Errorf("Applied = %v, want %v", rep.Applied, want)
			break
		}
	}
	if got := summaries(rep.Plan); len(got) != 5 || rep.Plan.Count(user.OpUpdate) != 3 {
		t.Errorf("plan = %q, want the 3 updates with the create and the archive", got)
	}
	if rep.Plan.InScope != 5 || rep.Plan.Unchanged != 0 {
		t.Errorf("in scope %d, unchanged %d; want 5 and 0", rep.Plan.InScope, rep.Plan.Unchanged)
	}
	if s := st.onlySave(t, "id-upd00"); s.Rec == nil || s.Rec.User.Email != "upd00@new.example.com" {
		t.Errorf("the update's record was saved as %+v", s.Rec)
	}
	if run := st.lastRun(t); run.Outcome != OutcomeSuccess || run.Counts["update"] != 3 {
		t.Errorf("run recorded as %+v", run)
	}
}

func TestRun_ReadFailingAfterPushedUpdatesArchivesNobody(t *testing.T) {
	users, records := changedDirectory()
	// Records of users not read at all: a partial read must not archive them.
	records = append(records, managed(numbered("gone", 2)...)...)
	e, ft, st := setup(dirOf(users...), records...)
	summariesFirst(e)
	src := e.Source.(*fakeSource)
	errLost := errors.New("connection lost")
	src.afterEmit = func(ctx context.Context, n int) error {
		if n == 3 {
			if !waitFor(ctx, func() bool { return ft.count("update") == 3 }) {
				return errors.New("the updates were not applied while the directory was read")
			}
			return errLost
		}
		return nil
	}

	rep, err := e.Run(t.Context(), RunOptions{})
	if !errors.Is(err, errLost) {
		t.Fatalf("Run = %v, want the read's error", err)
	}
	for _, want := range []string{"nobody was archived", "3 users"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if n := removals(ft) + ft.count("create"); n != 0 {
		t.Errorf("platform saw %d creates, archives or deletes after a failed read: %v", n, ft.log())
	}
	if rep.Applied[user.OpUpdate] != 3 || len(rep.Applied) != 1 {
		t.Errorf("Applied = %v, want the 3 updates", rep.Applied)
	}
	if run := st.lastRun(t); run.Outcome != OutcomeFailed || run.Counts["update"] != 3 {
		t.Errorf("run recorded as %+v, want failed with 3 updates", run)
	}
}

func TestRun_DryRunPushesNothing(t *testing.T) {
	users, records := changedDirectory()
	e, ft, st := setup(dirOf(users...), records...)
	rep := mustRun(t, e, RunOptions{DryRun: true})
	if n := len(ft.log()); n != 0 {
		t.Errorf("a dry run made %d platform calls: %v", n, ft.log())
	}
	if len(st.saves) != 0 {
		t.Errorf("a dry run saved %d records", len(st.saves))
	}
	if rep.Plan.Count(user.OpUpdate) != 3 {
		t.Errorf("plan = %q, want the 3 updates", summaries(rep.Plan))
	}
}

func TestRun_RefusedPlanKeepsPushedUpdatesAndArchivesNobody(t *testing.T) {
	users, records := changedDirectory()
	records = append(records, managed(numbered("gone", 6)...)...)
	e, ft, st := setup(dirOf(users...), records...)
	e.Policy = Policy{MaxArchive: 2, MaxArchivePercent: 100}

	rep, err := e.Run(t.Context(), RunOptions{})
	var se *SafetyError
	if !errors.As(err, &se) {
		t.Fatalf("Run = %v, want a *SafetyError", err)
	}
	if se.Pushed != 3 || !strings.Contains(err.Error(), "Nobody was archived or deleted") || strings.Contains(err.Error(), "Nothing was changed") {
		t.Errorf("refusal = %q (pushed %d), want it to say 3 updates were applied and nobody archived", err, se.Pushed)
	}
	if n := removals(ft) + ft.count("create"); n != 0 {
		t.Errorf("a refused run made %d creates or archives", n)
	}
	if ft.count("update") != 3 || rep.Applied[user.OpUpdate] != 3 {
		t.Errorf("platform saw %d updates, report %v; want the 3 pushed during the read", ft.count("update"), rep.Applied)
	}
	if run := st.lastRun(t); run.Outcome != OutcomeRefused {
		t.Errorf("run recorded as %+v, want refused", run)
	}
}

func TestRun_QuarantinedUpdateIsNotPushedDuringTheRead(t *testing.T) {
	u := numbered("upd", 1)[0]
	r := record(u, user.StatusActive, "p-upd00")
	r.Attempts = 3
	e, ft, _ := setup(dirOf(mailTo(u, "x@new.example.com")), r)
	e.QuarantineAfter = 3
	rep := mustRun(t, e, RunOptions{})
	if n := ft.count("update"); n != 0 {
		t.Errorf("platform saw %d updates of a quarantined user", n)
	}
	if len(rep.Plan.Quarantined) != 1 || len(rep.Plan.Changes) != 0 {
		t.Errorf("plan: %d quarantined, changes %q; want the update quarantined", len(rep.Plan.Quarantined), summaries(rep.Plan))
	}
}

func TestRun_PushedUpdateOfALaterDuplicateIsReportedSkipped(t *testing.T) {
	users, records := changedDirectory()
	e, ft, _ := setup(dirOf(users...), records...)
	// The source finds, at the end of the read, that upd00's new email is
	// also on another entry: both are skipped, upd00 withdrawn.
	e.Source.(*fakeSource).dir.Skipped = []Skip{
		{DN: users[0].DN, ID: users[0].ID, Reason: `duplicate email "upd00@new.example.com"`, Withdrawn: true},
		{DN: "CN=other,OU=Staff", ID: "id-other", Reason: `duplicate email "upd00@new.example.com"`},
	}
	rep := mustRun(t, e, RunOptions{})
	if ft.count("update") != 3 || rep.Applied[user.OpUpdate] != 3 {
		t.Errorf("platform saw %d updates, report %v; want 3 (pushed before the duplicate was known)", ft.count("update"), rep.Applied)
	}
	if len(rep.Plan.Skipped) != 2 || rep.Plan.InScope != 4 || rep.Plan.Unchanged != 0 {
		t.Errorf("skipped %d, in scope %d, unchanged %d; want 2, 4, 0", len(rep.Plan.Skipped), rep.Plan.InScope, rep.Plan.Unchanged)
	}
	for _, s := range rep.Plan.Skipped {
		if s.Withdrawn {
			t.Errorf("skipped entry %s still marked withdrawn", s.DN)
		}
	}
}

func TestRun_CircuitOpeningDuringTheReadStopsIt(t *testing.T) {
	users, records := mailChanged(30)
	users = append(users, numbered("new", 5)...)
	e, ft, st := setup(dirOf(users...), records...)
	e.CircuitBreaker = 3
	ft.onUpdate = func(context.Context, string, user.User) error { return unavailable{} }
	summariesFirst(e)
	src := e.Source.(*fakeSource)
	src.afterEmit = func(ctx context.Context, n int) error {
		if n == 30 {
			// Hold the read until the circuit has stopped it.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(5 * time.Second):
				t.Error("the circuit did not stop the read")
				return errors.New("the circuit did not stop the read")
			}
		}
		return nil
	}

	_, err := e.Run(t.Context(), RunOptions{})
	var ce *CircuitError
	if !errors.As(err, &ce) {
		t.Fatalf("Run = %v, want a *CircuitError", err)
	}
	if ft.count("update") != 3 || ft.count("create") != 0 {
		t.Errorf("platform saw %d updates and %d creates; want 3 updates, then the circuit opened", ft.count("update"), ft.count("create"))
	}
	if ce.NotTried != 27 {
		t.Errorf("not tried = %d, want the 27 other updates read", ce.NotTried)
	}
	if run := st.lastRun(t); run.Outcome != OutcomeFailed || !strings.Contains(run.ErrText, "circuit breaker") {
		t.Errorf("run recorded as %+v", run)
	}
}
