package sync

import (
	"context"
	"fmt"
)

// ApplyPlan applies exactly plan's changes — a plan computed earlier by a dry
// run and approved by an operator — as one recorded run with the given mode.
// The safety policy is not checked again: the approval stands in for it. The
// caller makes sure plan is still what a run would do now (dirsync apply
// compares fingerprints of the snapshot and the directory read, and the plan
// recomputed from them). Failures of single changes are in Report.Failed, as
// with Run.
func (e *Engine) ApplyPlan(ctx context.Context, mode string, plan Plan) (rep Report, err error) {
	return e.ApplyPlans(ctx, mode, plan, nil)
}

// ApplyPlans is ApplyPlan followed, when the engine pushes groups, by the
// group pass of the same run: its deletions and membership removals over
// the group limits are made only when groups, the group plan approved with
// plan, holds them.
func (e *Engine) ApplyPlans(ctx context.Context, mode string, plan Plan, groups *GroupPlan) (rep Report, err error) {
	done := e.startRun(ctx, &rep, &err, mode, false)
	defer done()
	rep.Plan = plan
	if err != nil {
		return rep, err
	}
	if err = e.applyApproved(ctx, &rep, plan); err != nil {
		return rep, err
	}
	if e.Groups != nil {
		err = e.groupPass(ctx, &rep, RunOptions{Mode: mode, ApprovedGroups: groups})
	}
	return rep, err
}

// applyApproved applies exactly plan's changes, approved already (no policy
// checked), over the snapshot's links, into rep.
func (e *Engine) applyApproved(ctx context.Context, rep *Report, plan Plan) error {
	if len(plan.Changes) == 0 {
		return nil
	}
	records, err := e.Store.Snapshot(ctx)
	if err != nil {
		return fmt.Errorf("read snapshot: %w", err)
	}
	return e.applyPlan(ctx, rep, func() (links, error) { return claimsOf(records), nil }, nil, plan)
}
