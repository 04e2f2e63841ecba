package sync

import (
	"cmp"
	"slices"
	"strings"

	"github.com/dirsync/dirsync/user"
)

// Diff computes the changes that bring the platform in step with dir, given the
// snapshot records. It is pure: no I/O, no clock. Users in dir must be normalized
// and have unique IDs (Source guarantees both).
//
// The rules, for a directory user u and its snapshot record r:
//   - u active, no r (or r pending or deleted): create.
//   - u active, r active: update when anything pushed differs.
//   - u active, r archived: reactivate (with the fields that changed meanwhile).
//   - u disabled, r active: archive. u disabled and never provisioned: nothing.
//   - r active and no u: archive (or delete, or nothing, by onRemoved) — unless r
//     belongs to a skipped directory entry (by ID, or by DN when the entry's ID
//     could not be read), which is left as it is.
//   - r belongs, by ID, to skipped entries that are all disabled (Skip.Disabled),
//     or, held by no skipped entry's ID, by DN to skipped entries that are all
//     disabled: archive as disabled, whatever onRemoved says; a skip never
//     keeps access.
//   - r archived and no u: nothing (delete when onRemoved is delete).
func Diff(dir Directory, records []user.Record, onRemoved OnRemoved) Plan {
	if onRemoved == "" {
		onRemoved = RemovedArchive
	}
	byID := make(map[string]*user.Record, len(records))
	plan := Plan{InScope: len(dir.Users), Skipped: dir.Skipped}
	for i := range records {
		r := &records[i]
		byID[r.User.ID] = r
		if r.Status == user.StatusActive {
			plan.Managed++
		}
	}

	seen := make(map[string]struct{}, len(dir.Users))
	for _, u := range dir.Users {
		seen[u.ID] = struct{}{}
		r := byID[u.ID]
		provisioned := r != nil && r.PlatformID != "" &&
			(r.Status == user.StatusActive || r.Status == user.StatusArchived)
		c := Change{User: u, prev: r}
		if r != nil {
			c.Attempts = r.Attempts
		}
		switch {
		case u.Active && !provisioned:
			c.Op = user.OpCreate
		case u.Active && r.Status == user.StatusActive:
			if user.Equal(r.User, u) {
				plan.Unchanged++
				continue
			}
			c.Op, c.PlatformID, c.Fields = user.OpUpdate, r.PlatformID, user.Compare(r.User, u)
		case u.Active: // archived on the platform
			c.Op, c.PlatformID, c.Fields = user.OpReactivate, r.PlatformID, user.Compare(r.User, u)
		case provisioned && r.Status == user.StatusActive: // disabled in the directory
			c.Op, c.PlatformID, c.Reason = user.OpArchive, r.PlatformID, ReasonDisabled
			c.Fields = user.Compare(r.User, u)
		case r != nil && r.Status == user.StatusPending && r.PlatformID == "":
			// Disabled after a create that may have landed (see IntentStore).
			c.Op, c.Reason = user.OpArchive, ReasonInterrupted
		default: // disabled and not on the platform, or already archived
			plan.Unchanged++
			continue
		}
		plan.Changes = append(plan.Changes, c)
	}

	protectedID, protectedDN, disabledID, disabledDN := skipIndex(dir.Skipped)
	for i := range records {
		r := &records[i]
		if _, ok := seen[r.User.ID]; ok {
			continue
		}
		_, byID := protectedID[r.User.ID]
		if disabledID[r.User.ID] || (!byID && r.User.DN != "" && disabledDN[strings.ToLower(r.User.DN)]) {
			// Disabled, though skipped: access goes as for a disabled user.
			if c, ok := archiveDisabledSkip(r); ok {
				plan.Changes = append(plan.Changes, c)
			}
			continue
		}
		if r.PlatformID == "" {
			// A pending user gone from the directory: its create may have
			// landed before the run that sent it died (see IntentStore).
			if r.Status == user.StatusPending && onRemoved != RemovedIgnore && !protected(r, protectedID, protectedDN) {
				plan.Changes = append(plan.Changes, Change{Op: user.OpArchive, User: r.User, Reason: ReasonInterrupted, Attempts: r.Attempts, prev: r})
			}
			continue
		}
		if _, ok := protectedID[r.User.ID]; ok {
			continue
		}
		if _, ok := protectedDN[strings.ToLower(r.User.DN)]; ok && r.User.DN != "" {
			continue
		}
		c := Change{User: r.User, PlatformID: r.PlatformID, Reason: ReasonRemoved, Attempts: r.Attempts, prev: r}
		switch {
		case r.Status == user.StatusActive && onRemoved == RemovedArchive:
			c.Op = user.OpArchive
		case (r.Status == user.StatusActive || r.Status == user.StatusArchived) && onRemoved == RemovedDelete:
			c.Op = user.OpDelete
		default:
			continue
		}
		plan.Changes = append(plan.Changes, c)
	}

	sortChanges(plan.Changes)
	return plan
}

// sortChanges orders changes: grants first, then by username and ID.
func sortChanges(changes []Change) {
	slices.SortFunc(changes, func(a, b Change) int {
		return cmp.Or(
			cmp.Compare(opRank(a.Op), opRank(b.Op)),
			cmp.Compare(strings.ToLower(a.User.Username), strings.ToLower(b.User.Username)),
			cmp.Compare(a.User.ID, b.User.ID),
		)
	})
}

// skipIndex indexes skipped entries: the IDs (each value of an ID attribute
// holding several) and lower-cased DNs whose records are protected, and the
// IDs and DNs every skipped holder of which is disabled. A DN whose entries
// are all disabled protects nothing.
func skipIndex(skipped []Skip) (byID, byDN map[string]struct{}, disabledID, disabledDN map[string]bool) {
	byID = make(map[string]struct{}, len(skipped))
	byDN = make(map[string]struct{}, len(skipped))
	disabledID = make(map[string]bool)
	disabledDN = make(map[string]bool)
	// allDisabled notes one more holder of key: it stays disabled while
	// every holder is.
	allDisabled := func(m map[string]bool, key string, disabled bool) {
		if d, ok := m[key]; !ok || d {
			m[key] = disabled
		}
	}
	for _, s := range skipped {
		for _, id := range append([]string{s.ID}, s.IDs...) {
			if id != "" {
				byID[id] = struct{}{}
				allDisabled(disabledID, id, s.Disabled)
			}
		}
		if s.DN != "" {
			dn := strings.ToLower(s.DN)
			allDisabled(disabledDN, dn, s.Disabled)
			if !disabledDN[dn] {
				byDN[dn] = struct{}{}
			}
		}
	}
	return byID, byDN, disabledID, disabledDN
}

// archiveDisabledSkip returns the change that takes access away from r, the
// record of a skipped entry known to be disabled: what Diff does for a
// disabled directory user. The record's user, as last pushed, is kept
// (nothing of the skipped entry's data is pushed).
func archiveDisabledSkip(r *user.Record) (Change, bool) {
	u := r.User
	u.Active = false
	c := Change{User: u, Attempts: r.Attempts, prev: r}
	switch {
	case r.PlatformID != "" && r.Status == user.StatusActive:
		c.Op, c.PlatformID, c.Reason = user.OpArchive, r.PlatformID, ReasonDisabled
		c.Fields = user.Compare(r.User, u)
	case r.PlatformID == "" && r.Status == user.StatusPending:
		c.Op, c.User, c.Reason = user.OpArchive, r.User, ReasonInterrupted
	default:
		return Change{}, false
	}
	return c, true
}

// protected reports whether r belongs to a skipped directory entry.
func protected(r *user.Record, byID, byDN map[string]struct{}) bool {
	if _, ok := byID[r.User.ID]; ok {
		return true
	}
	_, ok := byDN[strings.ToLower(r.User.DN)]
	return ok && r.User.DN != ""
}

// opRank orders a plan: what grants or updates access first, removals last.
func opRank(op user.Op) int {
	switch op {
	case user.OpCreate, user.OpAdopt:
		return 0
	case user.OpUpdate:
		return 1
	case user.OpReactivate:
		return 2
	case user.OpArchive:
		return 3
	default:
		return 4
	}
}

// removal reports whether op takes access away.
func removal(op user.Op) bool { return op == user.OpArchive || op == user.OpDelete }
