package sync

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/user"
)

// unavailable is a platform error saying the platform is down (a 503).
type unavailable struct{}

func (unavailable) Error() string   { return "HTTP 503 Service Unavailable" }
func (unavailable) Temporary() bool { return true }

// badRequest is a platform error about one change only (a 400).
type badRequest struct{}

func (badRequest) Error() string   { return "HTTP 400 Bad Request" }
func (badRequest) Temporary() bool { return false }

func TestRun_CircuitBreakerStopsAfterConsecutivePlatformFailures(t *testing.T) {
	users := numbered("new", 40)
	e, ft, st := setup(dirOf(users...))
	e.CircuitBreaker = 5
	ft.onCreate = func(context.Context, user.User) error { return unavailable{} }

	rep, err := e.Run(t.Context(), RunOptions{})
	var ce *CircuitError
	if !errors.As(err, &ce) {
		t.Fatalf("Run = %v, want a *CircuitError", err)
	}
	if ce.Failures != 5 || ce.NotTried != 35 {
		t.Errorf("circuit error = %+v, want 5 failures and 35 not tried", ce)
	}
	for _, want := range []string{"5 consecutive failures", "35 planned changes were not tried", "planned again on the next run", "503"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if n := ft.count("create"); n != 5 {
		t.Errorf("platform saw %d creates, want 5 (then the circuit opened)", n)
	}
	if len(rep.Failed) != 5 {
		t.Errorf("Failed = %d, want 5", len(rep.Failed))
	}
	if run := st.lastRun(t); run.Outcome != OutcomeFailed || !strings.Contains(run.ErrText, "circuit breaker") {
		t.Errorf("run recorded as %+v", run)
	}
}

func TestRun_CircuitBreakerIgnoresFailuresOfSingleChanges(t *testing.T) {
	users := numbered("new", 12)
	e, ft, _ := setup(dirOf(users...))
	e.CircuitBreaker = 3
	ft.onCreate = func(context.Context, user.User) error { return badRequest{} }
	rep, err := e.Run(t.Context(), RunOptions{})
	if err != nil {
		t.Fatalf("Run = %v; 400s are failures of single changes, not a platform outage", err)
	}
	if len(rep.Failed) != 12 {
		t.Errorf("Failed = %d, want all 12 tried and failed", len(rep.Failed))
	}
}

func TestRun_CircuitBreakerCountsOnlyFailuresInARow(t *testing.T) {
	users := numbered("new", 12)
	e, ft, _ := setup(dirOf(users...))
	e.CircuitBreaker = 3
	n := 0
	ft.onCreate = func(context.Context, user.User) error {
		n++ // one worker: calls are sequential
		if n%3 == 0 {
			return nil
		}
		return unavailable{}
	}
	rep, err := e.Run(t.Context(), RunOptions{})
	if err != nil {
		t.Fatalf("Run = %v; two failures then a success never reach 3 in a row", err)
	}
	if got := len(rep.Failed) + rep.Applied[user.OpCreate]; got != 12 {
		t.Errorf("%d changes tried, want 12", got)
	}
}

func TestRun_UserIsQuarantinedAfterRepeatedFailuresWhileOthersSync(t *testing.T) {
	alice, bob := person("id-alice", "alice"), person("id-bob", "bob")
	e, ft, st := setup(dirOf(alice, bob))
	e.QuarantineAfter = 3
	ft.onCreate = func(_ context.Context, u user.User) error {
		if u.Username == "alice" {
			return badRequest{}
		}
		return nil
	}
	for run := 1; run <= 3; run++ {
		rep := mustRun(t, e, RunOptions{})
		if len(rep.Plan.Quarantined) != 0 {
			t.Fatalf("run %d: quarantined %d, want none before 3 failures", run, len(rep.Plan.Quarantined))
		}
	}
	if rec := st.records[alice.ID]; rec.Attempts != 3 {
		t.Fatalf("alice's attempts = %d, want 3", rec.Attempts)
	}
	creates := ft.count("create")

	// Fourth run: alice is quarantined, not tried; a newcomer still syncs.
	carol := person("id-carol", "carol")
	e.Source = &fakeSource{dir: dirOf(alice, bob, carol)}
	rep := mustRun(t, e, RunOptions{})
	if len(rep.Plan.Quarantined) != 1 || rep.Plan.Quarantined[0].User.Username != "alice" {
		t.Fatalf("quarantined = %+v, want alice", rep.Plan.Quarantined)
	}
	if got := ft.count("create") - creates; got != 1 {
		t.Errorf("%d creates in the quarantined run, want 1 (carol only)", got)
	}
	if run := st.finishes[len(st.finishes)-1]; run.Counts["quarantined"] != 1 {
		t.Errorf("run counts = %v, want quarantined=1", run.Counts)
	}

	// The operator fixed the platform side and asks for a retry.
	ft.onCreate = nil
	rep = mustRun(t, e, RunOptions{RetryQuarantined: true})
	if rep.Applied[user.OpCreate] != 1 || len(rep.Plan.Quarantined) != 0 {
		t.Errorf("retry: applied %v, quarantined %d; want alice created", rep.Applied, len(rep.Plan.Quarantined))
	}
	if rec := st.records[alice.ID]; rec.Status != user.StatusActive || rec.Attempts != 0 {
		t.Errorf("alice's record after the retry = %+v, want active with no attempts", rec)
	}
}

func TestQuarantine_LiftedWhenAPendingUsersDataChanges(t *testing.T) {
	alice := person("id-alice", "alice")
	rec := record(alice, user.StatusPending, "")
	rec.Attempts = 5
	fixed := mailTo(alice, "alice.fixed@example.com")
	plan := Diff(dirOf(fixed), []user.Record{rec}, RemovedArchive)
	quarantine(&plan, 5, false)
	if len(plan.Quarantined) != 0 || len(plan.Changes) != 1 {
		t.Errorf("changed data: quarantined %d, changes %d; want the create tried again", len(plan.Quarantined), len(plan.Changes))
	}
	plan = Diff(dirOf(alice), []user.Record{rec}, RemovedArchive)
	quarantine(&plan, 5, false)
	if len(plan.Quarantined) != 1 || len(plan.Changes) != 0 {
		t.Errorf("same data: quarantined %d, changes %d; want it quarantined", len(plan.Quarantined), len(plan.Changes))
	}
}

func TestQuarantine_NeverHoldsBackARemoval(t *testing.T) {
	alice := person("id-alice", "alice")
	rec := record(alice, user.StatusActive, "p-alice")
	rec.Attempts = 9
	plan := Diff(dirOf(disabled(alice)), []user.Record{rec}, RemovedArchive)
	quarantine(&plan, 5, false)
	if len(plan.Quarantined) != 0 || len(plan.Changes) != 1 || plan.Changes[0].Op != user.OpArchive {
		t.Errorf("plan = %+v; an archive must always be tried", plan)
	}
}

// refusedToken is a platform error saying the credentials were refused (a 401).
type refusedToken struct{}

func (refusedToken) Error() string       { return "HTTP 401 Unauthorized" }
func (refusedToken) PlatformFault() bool { return true }
func (refusedToken) Remedy() string      { return "check target.token" }
func (refusedToken) Unauthorized() bool  { return true }

func TestRun_PlatformFaultStopsAtTheFirstAndCountsAgainstNobody(t *testing.T) {
	users := numbered("new", 30)
	e, ft, st := setup(dirOf(users...))
	e.Concurrency = 1
	e.QuarantineAfter = 1
	ft.onLookup = func(context.Context, string, string) error { return refusedToken{} }

	for run := range 3 {
		rep, err := e.Run(t.Context(), RunOptions{})
		var pe *PlatformError
		if !errors.As(err, &pe) {
			t.Fatalf("run %d: Run = %v, want a *PlatformError", run+1, err)
		}
		for _, want := range []string{"check target.token", "no user was counted as failing", "HTTP 401"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
		if len(rep.Failed) != 0 || len(rep.Plan.Quarantined) != 0 || rep.Outcome(err) != OutcomeFailed {
			t.Errorf("run %d: %d failed, %d quarantined, outcome %s; want none, none, failed",
				run+1, len(rep.Failed), len(rep.Plan.Quarantined), rep.Outcome(err))
		}
		if n := ft.count("lookup"); n != run+1 {
			t.Errorf("run %d: %d lookups in all, want the apply stopped at the first failure of each run", run+1, n)
		}
	}
	for _, s := range st.savedList() {
		if s.Rec != nil && (s.Rec.Attempts != 0 || s.Rec.LastError != "") {
			t.Errorf("saved %+v: a platform fault counted against a user", s.Rec)
		}
	}
}
