package sync

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/dirsync/dirsync/user"
)

// ArchivedStore finds the records archived before a time without reading
// the whole snapshot; it is part of every Store.
type ArchivedStore interface {
	// ArchivedBefore returns the records of status archived whose ArchivedAt
	// is before t (not zero), ordered by ID.
	ArchivedBefore(ctx context.Context, t time.Time) ([]user.Record, error)
}

// planExpiredDeletes adds to plan the delete of every account dirsync
// archived more than Options.DeleteAfter ago that is still archived (sync
// delete_after): its user is gone from the directory or still disabled
// there. A record the plan changes already (its user is active again: a
// reactivation) and one a skipped directory entry protects are left alone,
// and so is a record with no archive time (archived before dirsync kept
// it). The deletes are removals: the safety policy counts them.
func (e *Engine) planExpiredDeletes(ctx context.Context, plan *Plan) error {
	if e.DeleteAfter <= 0 {
		return nil
	}
	now := e.now()
	expired, err := e.Store.ArchivedBefore(ctx, now.Add(-e.DeleteAfter))
	if err != nil {
		return fmt.Errorf("read snapshot: archived records: %w", err)
	}
	if len(expired) == 0 {
		return nil
	}
	planned := make(map[string]bool, len(plan.Changes))
	for _, c := range plan.Changes {
		planned[c.User.ID] = true
	}
	for _, c := range plan.Quarantined {
		planned[c.User.ID] = true
	}
	protectedID, protectedDN, disabledID, disabledDN := skipIndex(plan.Skipped)
	added := 0
	for i := range expired {
		r := &expired[i]
		if planned[r.User.ID] || r.PlatformID == "" {
			continue
		}
		_, byID := protectedID[r.User.ID]
		skippedDisabled := disabledID[r.User.ID] || (!byID && r.User.DN != "" && disabledDN[strings.ToLower(r.User.DN)])
		if !skippedDisabled && protected(r, protectedID, protectedDN) {
			continue // an entry that could not be read may be active again
		}
		days := int(now.Sub(r.ArchivedAt) / (24 * time.Hour))
		plan.Changes = append(plan.Changes, Change{Op: user.OpDelete, User: r.User, PlatformID: r.PlatformID,
			Reason: fmt.Sprintf("archived %d days ago", days), Attempts: r.Attempts, prev: r})
		added++
	}
	if added > 0 {
		sortChanges(plan.Changes)
	}
	return nil
}
