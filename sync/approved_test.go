package sync

import (
	"errors"
	"testing"

	"github.com/dirsync/dirsync/user"
)

func TestApplyPlan_AppliesAnApprovedMassArchiveTheLimitsRefuse(t *testing.T) {
	users := numbered("u", 4)
	records := managed(users...)
	// Two of four leave: over a 1-archive limit.
	e, _, st := setup(dirOf(users[2:]...), records...)
	e.Policy.MaxArchive = 1
	_, err := e.Run(t.Context(), RunOptions{DryRun: true})
	var se *SafetyError
	if !errors.As(err, &se) {
		t.Fatalf("dry run = %v, want a safety refusal", err)
	}
	plan, err := e.Run(t.Context(), RunOptions{DryRun: true, AllowMassArchive: true})
	if err != nil {
		t.Fatal(err)
	}

	rep, err := e.ApplyPlan(t.Context(), "apply", plan.Plan)
	if err != nil {
		t.Fatalf("ApplyPlan: %v", err)
	}
	if rep.Applied[user.OpArchive] != 2 || len(rep.Failed) != 0 {
		t.Errorf("applied %v, failed %v; want the plan's 2 archives", rep.Applied, rep.Failed)
	}
	if len(st.begun) != 1 || st.begun[0] != "apply" {
		t.Errorf("runs begun %v, want one in mode apply", st.begun)
	}
	if run := st.lastRun(t); run.Outcome != OutcomeSuccess || run.Counts["archive"] != 2 {
		t.Errorf("run recorded as %+v", run)
	}
}

func TestApplyPlan_EmptyPlanRecordsARunAndWritesNothing(t *testing.T) {
	e, ft, st := setup(dirOf(alice), record(alice, user.StatusActive, "p-alice"))
	rep, err := e.ApplyPlan(t.Context(), "apply", Plan{})
	if err != nil || len(rep.Applied) != 0 {
		t.Fatalf("ApplyPlan = %+v, %v", rep, err)
	}
	if len(ft.log()) != 0 || len(st.savedList()) != 0 {
		t.Errorf("calls %v, saves %v for an empty plan", ft.log(), st.savedList())
	}
	if run := st.lastRun(t); run.Outcome != OutcomeSuccess {
		t.Errorf("run recorded as %+v", run)
	}
}
