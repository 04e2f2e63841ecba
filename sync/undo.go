package sync

import (
	"fmt"

	"github.com/dirsync/dirsync/user"
)

// UndoArchives returns the plan that undoes run's archives, read from its
// journal: a reactivation of every account the run archived (without error)
// that is still archived in the snapshot records, putting back the data last
// pushed for it. An account no record holds (an unmanaged account the run
// archived) is reactivated and keeps no record. Applied with ApplyPlan, each
// reactivation changes the snapshot as a run's does.
func UndoArchives(run int64, journal []user.Entry, records []user.Record) Plan {
	byID := make(map[string]*user.Record, len(records))
	for i := range records {
		byID[records[i].User.ID] = &records[i]
	}
	reason := fmt.Sprintf("undo of run %d", run)
	var plan Plan
	seen := map[string]bool{}
	for _, e := range journal {
		if e.Op != user.OpArchive || e.Error != "" || e.PlatformID == "" || seen[e.PlatformID] {
			continue
		}
		seen[e.PlatformID] = true
		rec := byID[e.UserID]
		if rec != nil && (rec.Status != user.StatusArchived || rec.PlatformID != e.PlatformID) {
			continue // reactivated or changed since: nothing to undo
		}
		c := Change{Op: user.OpReactivate, PlatformID: e.PlatformID, Reason: reason, prev: rec, restore: true}
		if rec != nil {
			c.User, c.Attempts = rec.User, rec.Attempts
			// An archive that freed the username and email
			// (free_identifiers_on_archive) journalled the names it
			// replaced: they are put back.
			for _, f := range e.Fields {
				switch {
				case f.Field == user.FieldUsername && f.New == c.User.Username:
					c.User.Username = f.Old
				case f.Field == user.FieldEmail && f.New == c.User.Email:
					c.User.Email = f.Old
				}
			}
		} else {
			c.User = user.User{ID: e.UserID, Username: e.Username}
		}
		c.User.Active = true
		plan.Changes = append(plan.Changes, c)
	}
	sortChanges(plan.Changes)
	return plan
}
