package sync

import (
	"context"
	"fmt"
	"strings"

	"github.com/dirsync/dirsync/user"
)

// UndoGroups returns the group changes that undo run's group deletions and
// membership removals, read from its journal: the members a run removed
// (without error) from a group still active with the same platform id are
// added back, and a group it deleted that is still deleted is created again
// (adopted by externalId if it exists) with the members it had. Renames and
// additions are not undone. Applied with ApplyPlanWithGroupChanges; the next
// sync removes them again unless the directory now keeps them.
func UndoGroups(run int64, journal []user.Entry, records []user.GroupRecord) GroupPlan {
	byID := make(map[string]*user.GroupRecord, len(records))
	for i := range records {
		byID[records[i].Group.ID] = &records[i]
	}
	reason := fmt.Sprintf("undo of run %d", run)
	var plan GroupPlan
	for _, e := range journal {
		if e.Error != "" || (e.Op != user.OpGroupUpdate && e.Op != user.OpGroupDelete) {
			continue
		}
		removed := removedMembers(e.Fields)
		rec := byID[e.UserID]
		switch {
		case rec == nil:
		case e.Op == user.OpGroupDelete && rec.Status == user.GroupDeleted:
			plan.Changes = append(plan.Changes, GroupChange{Op: user.OpGroupCreate, Group: rec.Group, Add: removed,
				Reason: reason, prev: rec})
		case e.Op == user.OpGroupUpdate && len(removed) > 0 && rec.Status == user.GroupActive && rec.PlatformID == e.PlatformID:
			add, _ := setDiff(removed, rec.Members)
			if len(add) > 0 {
				plan.Changes = append(plan.Changes, GroupChange{Op: user.OpGroupUpdate, Group: rec.Group, PlatformID: rec.PlatformID,
					Add: add, Reason: reason, Attempts: rec.Attempts, prev: rec})
			}
		}
	}
	sortGroupChanges(plan.Changes)
	return plan
}

// removedMembers reads the platform ids a journal entry's members.removed
// field lists ("N: id id …").
func removedMembers(fields []user.FieldChange) []string {
	for _, f := range fields {
		if f.Field != user.FieldGroupRemoved {
			continue
		}
		_, ids, ok := strings.Cut(f.Old, ": ")
		if !ok {
			return nil
		}
		return user.SortedSet(strings.Fields(ids))
	}
	return nil
}

// ApplyPlanWithGroupChanges applies exactly plan's changes and then exactly
// groups' (undo), as one recorded run: no directory is read and no policy
// checked.
func (e *Engine) ApplyPlanWithGroupChanges(ctx context.Context, mode string, plan Plan, groups GroupPlan) (rep Report, err error) {
	done := e.startRun(ctx, &rep, &err, mode, false)
	defer done()
	rep.Plan = plan
	if err != nil {
		return rep, err
	}
	if err := e.applyApproved(ctx, &rep, plan); err != nil {
		return rep, err
	}
	if len(groups.Changes) == 0 {
		return rep, nil
	}
	gt, ok := e.Target.(GroupTarget)
	if !ok {
		return rep, fmt.Errorf("the target cannot manage groups")
	}
	gs := e.Store
	rep.Groups = &GroupReport{Plan: groups, Applied: map[user.Op]int{}}
	ga := &groupApplier{e: e, t: gt, s: gs, run: rep.RunID, rep: rep.Groups, claimed: map[string]string{}}
	records, err := gs.Groups(ctx)
	if err != nil {
		return rep, fmt.Errorf("%w: read snapshot groups: %w", ErrStore, err)
	}
	for _, r := range records {
		if r.PlatformID != "" && r.Status == user.GroupActive {
			ga.claimed[r.PlatformID] = r.Group.ID
		}
	}
	for _, c := range groups.Changes {
		if err := ga.one(ctx, c); err != nil {
			return rep, err
		}
	}
	return rep, nil
}
