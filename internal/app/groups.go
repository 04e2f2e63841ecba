package app

import (
	"context"

	"go.uber.org/zap"

	"github.com/dirsync/dirsync/internal/config"
	"github.com/dirsync/dirsync/ldapsource"
	"github.com/dirsync/dirsync/state"
	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/target/rest"
	"github.com/dirsync/dirsync/target/scim"
)

// The group push (groups.push) as it is wired.

var (
	_ dsync.GroupSource = ldapsource.GroupReader{}
	_ dsync.GroupTarget = (*scim.Client)(nil)
	_ dsync.GroupTarget = (*rest.Client)(nil)
	_ dsync.GroupStore  = (*state.DB)(nil)
)

// groupPass is the engine's group pass cfg sets: nil unless groups.push.
func groupPass(cfg Config, src *ldapsource.Source) *dsync.Groups {
	if !cfg.Groups.Push {
		return nil
	}
	return &dsync.Groups{Source: src.Groups(cfg.GroupSearch()), OnRemoved: cfg.Groups.OnRemoved, Policy: cfg.Groups.GroupPolicy()}
}

// groupSummaryFields are the group pass's fields of a run's summary log line.
func groupSummaryFields(rep dsync.Report) []zap.Field {
	g := rep.Groups
	if g == nil {
		return nil
	}
	added, removed := g.Plan.MembershipChanges()
	if !rep.DryRun {
		added, removed = g.Added, g.Removed
	}
	return []zap.Field{zap.Int("groups_in_scope", g.Plan.InScope), zap.Int("groups_changed", len(g.Plan.Changes)),
		zap.Int("group_members_added", added), zap.Int("group_members_removed", removed), zap.Int("groups_failed", len(g.Failed))}
}

// UndoGroupPlan returns the group changes that undo run's group deletions
// and membership removals (see dsync.UndoGroups).
func UndoGroupPlan(ctx context.Context, db state.Store, run int64) (dsync.GroupPlan, error) {
	entries, err := db.Journal(ctx, run)
	if err != nil {
		return dsync.GroupPlan{}, err
	}
	records, err := db.Groups(ctx)
	if err != nil {
		return dsync.GroupPlan{}, err
	}
	return dsync.UndoGroups(run, entries, records), nil
}

// ApplyUndoWithGroups is ApplyUndo that also applies groups, the group
// changes of the undo (UndoGroupPlan), in the same run.
func ApplyUndoWithGroups(ctx context.Context, t config.Target, log *zap.Logger, db dsync.Store, plan dsync.Plan, groups dsync.GroupPlan) (dsync.Report, error) {
	if len(groups.Changes) == 0 {
		return ApplyUndo(ctx, t, log, db, plan)
	}
	plat, err := NewPlatform(t.Target, log)
	if err != nil {
		return dsync.Report{}, err
	}
	eng := &dsync.Engine{Target: plat, Store: db, Options: targetOptions(t)}
	return eng.ApplyPlanWithGroupChanges(ctx, "undo", plan, groups)
}
