package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"go.uber.org/zap"

	"github.com/dirsync/dirsync/ldapsource"
	"github.com/dirsync/dirsync/state"
	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/target/rest"
	"github.com/dirsync/dirsync/target/scim"
	"github.com/dirsync/dirsync/user"
)

// The group push (groups.push) as the commands wire and show it.

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

// groupOutcomeErr maps the group pass's result to the command's exit, or nil
// when runOutcomeErr decides.
func groupOutcomeErr(rep dsync.Report, err error) error {
	var se *dsync.GroupSafetyError
	switch {
	case errors.As(err, &se):
		return &exitError{code: exitRefused, err: err}
	case err == nil && rep.Groups != nil && len(rep.Groups.Failed) > 0:
		return &exitError{code: exitFailure, err: fmt.Errorf("%d of %d group changes failed; they are retried on the next run (see `dirsync status`)",
			len(rep.Groups.Failed), len(rep.Groups.Plan.Changes))}
	}
	return nil
}

// groupChanges counts the group changes a plan holds.
func groupChanges(rep dsync.Report) int {
	if rep.Groups == nil {
		return 0
	}
	return len(rep.Groups.Plan.Changes)
}

// writeGroupStatus prints the snapshot's groups for `dirsync status`, when
// there are any.
func writeGroupStatus(ctx context.Context, w io.Writer, db *state.DB) error {
	st, err := db.GroupStats(ctx)
	if err != nil {
		return err
	}
	if len(st.Groups) == 0 {
		return nil
	}
	fmt.Fprintf(w, "Groups: %d active (%d memberships), %d pending, %d deleted, %d failing\n\n",
		st.Groups[user.GroupActive], st.Memberships, st.Groups[user.GroupPending], st.Groups[user.GroupDeleted], st.Failing)
	return nil
}
