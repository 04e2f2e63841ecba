package app

import (
	"go.uber.org/zap"

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
