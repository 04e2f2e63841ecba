package sync

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/dirsync/dirsync/user"
)

// Unmanaged says what a full reconcile does with platform accounts that no
// directory user owns (config `sync.unmanaged`).
type Unmanaged string

const (
	UnmanagedReport  Unmanaged = "report"  // list them (default)
	UnmanagedArchive Unmanaged = "archive" // deactivate them (counted by the safety limits)
)

// OnMissing says what happens to a managed user whose platform account was
// deleted by hand (config `sync.on_missing`).
type OnMissing string

const (
	MissingRecreate OnMissing = "recreate" // create the account again (default)
	MissingReport   OnMissing = "report"   // list the user, change nothing
)

// Reasons given by a full reconcile.
const (
	ReasonMissing   = "its account was deleted on the platform by hand; created again"
	ReasonDrift     = "changed on the platform by hand; put back"
	ReasonUnmanaged = "not managed by dirsync (sync.unmanaged: archive)"
)

// fullReconcile lists the platform and adds to plan what puts back the
// accounts of managed users edited or deactivated by hand (drift), and lists
// (or, with UnmanagedArchive, archives) the accounts no directory user owns
// (an account whose externalId is a skipped entry's ID is that entry's: left
// alone unless the entry is disabled; one a planned create may adopt is that
// user's).
// Only the fields the target reports are compared: a target that returns no
// groups, or only some extra attributes, is not taken for drift on the others.
func (e *Engine) fullReconcile(ctx context.Context, plan *Plan, dir Directory, records []user.Record) error {
	l, ok := e.Target.(Lister)
	if !ok {
		return fmt.Errorf("the platform's target cannot list its accounts, which a full reconcile needs")
	}
	accounts := map[string]user.Account{}
	var order []string
	if err := l.List(ctx, func(a user.Account) error {
		if err := checkPlatformID(a); err != nil {
			return err
		}
		if _, dup := accounts[a.PlatformID]; !dup {
			order = append(order, a.PlatformID)
		}
		accounts[a.PlatformID] = a
		return nil
	}); err != nil {
		return err
	}

	byID := make(map[string]*user.Record, len(records))
	owned := map[string]bool{}
	for i := range records {
		r := &records[i]
		byID[r.User.ID] = r
		if r.PlatformID != "" && r.Status != user.StatusDeleted {
			owned[r.PlatformID] = true
		}
	}
	planned := map[string]int{}
	for i, c := range plan.Changes {
		planned[c.User.ID] = i
	}
	var missing []int // indexes in dir.Users of the users whose account is gone
	checked := 0
	for i, u := range dir.Users {
		r := byID[u.ID]
		if !u.Active || r == nil || r.Status != user.StatusActive || r.PlatformID == "" {
			continue
		}
		checked++
		if _, ok := accounts[r.PlatformID]; !ok {
			missing = append(missing, i)
		}
	}
	if checked > 1 && len(missing) == checked {
		return fmt.Errorf("the platform lists none of the %d accounts dirsync manages (%d accounts listed): "+
			"is target.url the platform dirsync synced to? Nothing was changed", checked, len(accounts))
	}
	for _, i := range missing {
		u := dir.Users[i]
		e.planMissing(plan, planned, u, byID[u.ID])
	}
	for _, u := range dir.Users {
		r := byID[u.ID]
		if !u.Active || r == nil || r.Status != user.StatusActive || r.PlatformID == "" {
			continue
		}
		acct, ok := accounts[r.PlatformID]
		if !ok {
			continue // missing: planned above
		}
		op, fields := drift(acct, u)
		if len(fields) == 0 {
			continue
		}
		if i, ok := planned[u.ID]; ok {
			// Already changing: make sure the change also reactivates.
			if op == user.OpReactivate && plan.Changes[i].Op == user.OpUpdate {
				plan.Changes[i].Op = user.OpReactivate
				plan.Changes[i].Fields = append(plan.Changes[i].Fields, user.FieldChange{Field: user.FieldActive, Old: "false", New: "true"})
			}
			continue
		}
		plan.Unchanged--
		plan.Drifted++
		plan.Changes = append(plan.Changes, Change{Op: op, User: u, PlatformID: r.PlatformID, Fields: fields,
			Reason: ReasonDrift, Attempts: r.Attempts, prev: r})
	}
	// An account a planned create may adopt (by any adopt_by key: a
	// snapshot rebuilt, an account made before) is that user's.
	adoptable, err := e.adoptionKeys(*plan)
	if err != nil {
		return err
	}
	// An account of a skipped entry is someone's still in the directory,
	// unless the entry is disabled.
	skippedID, _, disabledID, _ := skipIndex(dir.Skipped)
	for _, id := range order {
		acct := accounts[id]
		if owned[id] || adoptable(acct.User) {
			continue
		}
		if _, ok := skippedID[acct.User.ID]; ok && acct.User.ID != "" && !disabledID[acct.User.ID] {
			continue
		}
		if r := byID[acct.User.ID]; acct.User.ID != "" && r != nil && r.Status == user.StatusPending {
			continue // a create that may have landed: the pending record handles it
		}
		plan.Unmanaged = append(plan.Unmanaged, acct)
		if e.Unmanaged == UnmanagedArchive && acct.User.Active {
			plan.Changes = append(plan.Changes, Change{Op: user.OpArchive, User: acct.User, PlatformID: id, Reason: ReasonUnmanaged})
		}
	}
	sortChanges(plan.Changes)
	return nil
}

// planMissing plans what happens to u, whose account r links is not on the
// platform: a create (MissingRecreate), replacing any change planned for u,
// or (MissingReport) a line in plan.Missing and no change.
func (e *Engine) planMissing(plan *Plan, planned map[string]int, u user.User, r *user.Record) {
	c := Change{Op: user.OpCreate, User: u, Reason: ReasonMissing, Attempts: r.Attempts, prev: r}
	i, isPlanned := planned[u.ID]
	if e.OnMissing == MissingReport {
		c.PlatformID = r.PlatformID
		c.Reason = "its account " + r.PlatformID + " was deleted on the platform by hand; left as it is (sync.on_missing: report)"
		plan.Missing = append(plan.Missing, c)
		if isPlanned {
			plan.Changes = slices.Delete(plan.Changes, i, i+1)
			for id, j := range planned {
				if j > i {
					planned[id] = j - 1
				}
			}
			delete(planned, u.ID)
		} else {
			plan.Unchanged--
		}
		return
	}
	if isPlanned {
		plan.Changes[i] = c
		return
	}
	plan.Unchanged--
	plan.Changes = append(plan.Changes, c)
}

// drift returns what puts acct back in step with u, the user it should
// hold: an update or a reactivation of fields (none when in step). Only
// the fields the platform reported are compared (see platformView).
func drift(acct user.Account, u user.User) (user.Op, []user.FieldChange) {
	fields := user.Compare(platformView(acct.User, u), u)
	if !acct.User.Active {
		return user.OpReactivate, fields
	}
	return user.OpUpdate, fields
}

// platformView is desired with the fields the platform reported replaced by
// the platform's values: comparing it with desired shows drift only in fields
// the target manages and reads back.
func platformView(acct, desired user.User) user.User {
	v := desired
	v.Active = acct.Active
	if !strings.EqualFold(acct.Username, desired.Username) {
		v.Username = acct.Username
	}
	if !strings.EqualFold(acct.Email, desired.Email) {
		v.Email = acct.Email
	}
	v.GivenName, v.FamilyName, v.DisplayName = acct.GivenName, acct.FamilyName, acct.DisplayName
	if len(acct.Extra) > 0 {
		v.Extra = make(map[string]string, len(desired.Extra))
		for k, val := range desired.Extra {
			v.Extra[k] = val
		}
		for k, val := range acct.Extra {
			if _, ok := desired.Extra[k]; ok || val != "" {
				v.Extra[k] = val
			}
		}
	}
	return v
}
