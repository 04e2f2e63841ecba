package sync

import "fmt"

// Policy holds the safety limits on removals (archives and deletes) in one run.
type Policy struct {
	// MaxArchive is the most removals one run may make (config sync.max_archive,
	// default 50). 0 means every removal needs an explicit override.
	MaxArchive int
	// MaxArchivePercent is the most removals one run may make as a percentage of
	// the managed (active) users in the snapshot (config sync.max_archive_percent,
	// default 10). 0 means every removal needs an explicit override.
	MaxArchivePercent float64
}

// SafetyError is a run refused by the Policy. Nobody was archived or
// deleted; nothing else was changed either, but for Pushed updates.
type SafetyError struct {
	// Removals is how many archives and deletes the plan holds.
	Removals int
	// Managed is how many users are active on the platform per the snapshot.
	Managed int
	// EmptyDirectory is set when the directory returned nobody in scope.
	EmptyDirectory bool
	// Prior is how many of Removals change-event runs already made since the
	// directory was last read in full (kept in the snapshot's meta by RunChanged).
	Prior int
	// Pushed counts the updates applied while the directory was read, before
	// the plan was refused (see earlyPush). No removal is made.
	Pushed int
	Policy Policy
}

func (e *SafetyError) Error() string {
	if e.EmptyDirectory {
		flags := "--allow-empty-directory"
		if e.Policy.over(e.Removals, e.Managed) {
			// Both checks refuse: name both flags, or the operator who follows
			// this advice is refused again.
			flags += fmt.Sprintf(" --allow-mass-archive (the %d removals are also over sync.max_archive: %d, "+
				"sync.max_archive_percent: %g)", e.Removals, e.Policy.MaxArchive, e.Policy.MaxArchivePercent)
		}
		return fmt.Sprintf("safety: the directory returned no users in scope while %d users are managed on the platform; "+
			"refusing to archive anyone. Check ldap.base_dn and ldap.user_filter (and `dirsync check`). "+
			"To remove everyone deliberately, run again with %s", e.Managed, flags)
	}
	pct := 0.0
	if e.Managed > 0 {
		pct = float64(e.Removals) * 100 / float64(e.Managed)
	}
	if e.Prior > 0 {
		return fmt.Sprintf("safety: directory change events would archive or delete %d of %d managed users (%.1f%%) "+
			"since the directory was last read in full (%d already done), over the limit (sync.max_archive: %d, "+
			"sync.max_archive_percent: %g). These removals wait for the next scheduled run, whose own plan is checked "+
			"(or `dirsync sync --allow-mass-archive` if they are right)",
			e.Removals, e.Managed, pct, e.Prior, e.Policy.MaxArchive, e.Policy.MaxArchivePercent)
	}
	done := "Nothing was changed."
	if e.Pushed > 0 {
		done = fmt.Sprintf("Nobody was archived or deleted (only the data of %d active users, updated as the directory was read).", e.Pushed)
	}
	return fmt.Sprintf("safety: the plan would archive or delete %d of %d managed users (%.1f%%), over the limit "+
		"(sync.max_archive: %d, sync.max_archive_percent: %g). %s Review the plan with `dirsync plan`; "+
		"if it is right, run again with --allow-mass-archive for this one run",
		e.Removals, e.Managed, pct, e.Policy.MaxArchive, e.Policy.MaxArchivePercent, done)
}

// Check returns a *SafetyError when plan removes more than the policy allows, or
// when the directory came back empty while users are managed. allowMass and
// allowEmpty are the operator's explicit per-run overrides.
func (p Policy) Check(plan Plan, allowMass, allowEmpty bool) error {
	return p.check(plan, allowMass, allowEmpty, 0)
}

// check is Check counting prior removals (made by change-event runs since the
// last full directory read) with the
// plan's against the limits.
func (p Policy) check(plan Plan, allowMass, allowEmpty bool, prior int) error {
	removals := plan.Removals()
	if removals > 0 { // prior removals count only against a plan that removes
		removals += prior
	} else {
		prior = 0
	}
	// No usable entry at all (an empty read, or every entry skipped) while users
	// are managed is almost always a wrong base DN or filter, not a company
	// that let everyone go.
	if plan.InScope == 0 && plan.Managed > 0 && !allowEmpty {
		return &SafetyError{Removals: removals, Managed: plan.Managed, EmptyDirectory: true, Policy: p}
	}
	if !allowMass && p.over(removals, plan.Managed) {
		return &SafetyError{Removals: removals, Managed: plan.Managed, Prior: prior, Policy: p}
	}
	return nil
}

// over reports whether removals exceed the limits, with managed users active on
// the platform.
func (p Policy) over(removals, managed int) bool {
	switch {
	case removals == 0:
		return false
	case removals > p.MaxArchive, p.MaxArchivePercent <= 0:
		// A zero percentage means every removal needs the override, also when
		// no user is active (deleting archived accounts).
		return true
	}
	return managed > 0 && float64(removals)*100/float64(managed) > p.MaxArchivePercent
}
