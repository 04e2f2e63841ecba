package sync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/dirsync/dirsync/user"
)

// The group pass: directory groups pushed to the platform as groups
// (config `groups:`). It runs after the user pass of an ordinary or full run
// has gone through, so that its members, the users dirsync manages, have
// their platform accounts: a group's platform members are the accounts of
// its members active in the snapshot. Like the user pass it diffs the read
// against the snapshot's groups (DiffGroups), checks the plan against its
// own limits (GroupPolicy) and applies it, each success saved at once with
// its journal entry.

// GroupSource reads the directory's groups.
type GroupSource interface {
	// ReadGroups returns every group pushed, with its members: the
	// directory IDs of its users in scope (nested groups flattened when so
	// configured).
	//
	// Error contract: as Source.Read's. An incomplete read (of any group
	// or of any group's members) is an error, never fewer groups or
	// members: the reconciler then changes no group.
	ReadGroups(ctx context.Context) ([]user.Group, error)
}

// GroupTarget is the platform's group API. Its errors follow Target's
// contract (NotFound, Conflict, PlatformFault, LookupRefused).
type GroupTarget interface {
	// CreateGroup creates an empty group: g.ID is its externalId, g.Name
	// its displayName.
	CreateGroup(ctx context.Context, g user.Group) (user.PlatformGroup, error)
	// RenameGroup sets the displayName of group platformID to g.Name (g.ID
	// is its externalId, for platforms that replace both at once).
	RenameGroup(ctx context.Context, platformID string, g user.Group) error
	// DeleteGroup deletes group platformID.
	DeleteGroup(ctx context.Context, platformID string) error
	// PatchGroupMembers adds the accounts add and removes the accounts
	// remove (platform ids) from group platformID, in as many requests as
	// the platform needs. Adding a member or removing a non-member changes
	// nothing. An error may leave some of the changes made.
	PatchGroupMembers(ctx context.Context, platformID string, add, remove []string) error
	// LookupGroup finds the group whose key (user.MatchGroupExternalID or
	// user.MatchGroupName) equals value, with its members; a NotFound
	// error when there is none.
	LookupGroup(ctx context.Context, key, value string) (user.PlatformGroup, error)
	// GetGroup reads group platformID with its members; a NotFound error
	// when it is gone.
	GetGroup(ctx context.Context, platformID string) (user.PlatformGroup, error)
}

// GroupStore is the snapshot's groups; it is part of every Store.
type GroupStore interface {
	// Groups returns every group record, ordered by ID.
	Groups(ctx context.Context) ([]user.GroupRecord, error)
	// SaveGroup appends e to run's journal and, when rec is not nil,
	// upserts rec (keyed by rec.Group.ID), both in one transaction.
	SaveGroup(ctx context.Context, run int64, e user.Entry, rec *user.GroupRecord) error
}

// Groups configures the group pass of an Engine.
type Groups struct {
	Source GroupSource
	// OnRemoved: RemovedDelete or RemovedIgnore.
	OnRemoved OnRemoved
	Policy    GroupPolicy
}

// GroupChange is one planned change to a platform group.
type GroupChange struct {
	// Op is user.OpGroupCreate, OpGroupUpdate or OpGroupDelete.
	Op user.Op `json:"op"`
	// Group is the directory group; for a deletion, the group as last pushed.
	Group user.Group `json:"group"`
	// PlatformID is the group's platform id; "" for a create.
	PlatformID string `json:"platform_id,omitempty"`
	// OldName, when not "", is the name the group is renamed from.
	OldName string `json:"old_name,omitempty"`
	// Add and Remove are the platform ids of the accounts made members and
	// taken out (a deletion takes out every member dirsync made).
	Add    []string `json:"add,omitempty"`
	Remove []string `json:"remove,omitempty"`
	Reason string   `json:"reason,omitempty"`
	// Attempts is how many times this group's last change failed before.
	Attempts int `json:"attempts,omitempty"`

	prev *user.GroupRecord
}

// Reasons of group changes.
const (
	ReasonGroupRemoved = "group removed from the directory"
	ReasonGroupDrift   = "changed on the platform by hand"
	ReasonGroupMissing = "deleted on the platform by hand"
)

// GroupPlan is the difference between the directory's groups and the snapshot's.
type GroupPlan struct {
	Changes []GroupChange `json:"changes"`
	// InScope counts the groups read from the directory.
	InScope int `json:"in_scope"`
	// Managed counts the groups active on the platform per the snapshot.
	Managed int `json:"managed"`
	// Memberships counts the memberships dirsync made in them.
	Memberships int `json:"memberships"`
	Unchanged   int `json:"unchanged"`
	// Drifted counts the groups a full reconcile found changed on the
	// platform by hand (their corrections are in Changes).
	Drifted int `json:"drifted,omitempty"`
}

// Count returns how many changes of kind op the plan holds.
func (p GroupPlan) Count(op user.Op) int {
	n := 0
	for _, c := range p.Changes {
		if c.Op == op {
			n++
		}
	}
	return n
}

// MembershipChanges returns the memberships the plan adds and removes.
func (p GroupPlan) MembershipChanges() (added, removed int) {
	for _, c := range p.Changes {
		added += len(c.Add)
		removed += len(c.Remove)
	}
	return added, removed
}

// DiffGroups computes the group plan: groups, the directory's; records, the
// snapshot's; accounts, the platform id of every user active on the platform
// by directory ID (the only users a group's platform members can be).
// onRemoved says what becomes of a group gone from the directory.
func DiffGroups(groups []user.Group, records []user.GroupRecord, accounts map[string]string, onRemoved OnRemoved) GroupPlan {
	var plan GroupPlan
	byID := make(map[string]*user.GroupRecord, len(records))
	for i := range records {
		r := &records[i]
		byID[r.Group.ID] = r
		if r.Status == user.GroupActive {
			plan.Managed++
			plan.Memberships += len(r.Members)
		}
	}
	seen := make(map[string]bool, len(groups))
	for _, g := range groups {
		g = g.Normalize()
		if g.ID == "" || seen[g.ID] {
			continue
		}
		seen[g.ID] = true
		plan.InScope++
		want := platformMembers(g.Members, accounts)
		r := byID[g.ID]
		if r == nil || r.Status != user.GroupActive || r.PlatformID == "" {
			c := GroupChange{Op: user.OpGroupCreate, Group: g, Add: want, prev: r}
			if r != nil {
				c.Attempts = r.Attempts
			}
			plan.Changes = append(plan.Changes, c)
			continue
		}
		add, remove := setDiff(want, r.Members)
		c := GroupChange{Op: user.OpGroupUpdate, Group: g, PlatformID: r.PlatformID, Add: add, Remove: remove,
			Attempts: r.Attempts, prev: r}
		if r.Group.Name != g.Name {
			c.OldName = r.Group.Name
		}
		if c.OldName == "" && len(add) == 0 && len(remove) == 0 {
			plan.Unchanged++
			continue
		}
		plan.Changes = append(plan.Changes, c)
	}
	if onRemoved == RemovedDelete {
		for i := range records {
			r := &records[i]
			if r.Status != user.GroupActive || seen[r.Group.ID] {
				continue
			}
			plan.Changes = append(plan.Changes, GroupChange{Op: user.OpGroupDelete, Group: r.Group, PlatformID: r.PlatformID,
				Remove: r.Members, Reason: ReasonGroupRemoved, Attempts: r.Attempts, prev: r})
		}
	}
	sortGroupChanges(plan.Changes)
	return plan
}

// platformMembers maps directory IDs to the platform ids of accounts,
// sorted; members without an active account are left out.
func platformMembers(ids []string, accounts map[string]string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if pid, ok := accounts[id]; ok && pid != "" {
			out = append(out, pid)
		}
	}
	return user.SortedSet(out)
}

// setDiff returns the values of want not in have, and of have not in want;
// both are sorted sets.
func setDiff(want, have []string) (add, remove []string) {
	i, j := 0, 0
	for i < len(want) || j < len(have) {
		switch {
		case j == len(have) || (i < len(want) && want[i] < have[j]):
			add = append(add, want[i])
			i++
		case i == len(want) || have[j] < want[i]:
			remove = append(remove, have[j])
			j++
		default:
			i++
			j++
		}
	}
	return add, remove
}

// sortGroupChanges orders changes by group name, then ID.
func sortGroupChanges(cs []GroupChange) {
	slices.SortStableFunc(cs, func(a, b GroupChange) int {
		return cmp.Or(cmp.Compare(a.Group.Name, b.Group.Name), cmp.Compare(a.Group.ID, b.Group.ID))
	})
}

// GroupPolicy holds the safety limits of the group pass: removing a
// membership takes access away as surely as an archive.
type GroupPolicy struct {
	// MaxDelete, MaxDeletePercent: the most group deletions in one run, and
	// as a percentage of the groups managed. 0 means every deletion needs
	// the override.
	MaxDelete        int
	MaxDeletePercent float64
	// MaxRemoval, MaxRemovalPercent: the most memberships removed in one
	// run (deletions included), and as a percentage of the memberships
	// managed. 0 means every removal needs the override.
	MaxRemoval        int
	MaxRemovalPercent float64
}

// GroupSafetyError is a group plan refused by the GroupPolicy: no group was
// changed.
type GroupSafetyError struct {
	Deletes, Managed      int
	Removals, Memberships int
	Policy                GroupPolicy
}

func (e *GroupSafetyError) Error() string {
	var over string
	if (Policy{MaxArchive: e.Policy.MaxDelete, MaxArchivePercent: e.Policy.MaxDeletePercent}).over(e.Deletes, e.Managed) {
		over = fmt.Sprintf("delete %d of %d managed groups (groups.max_group_delete: %d, groups.max_group_delete_percent: %g)",
			e.Deletes, e.Managed, e.Policy.MaxDelete, e.Policy.MaxDeletePercent)
	} else {
		over = fmt.Sprintf("remove %d of %d managed group memberships (groups.max_membership_removal: %d, groups.max_membership_removal_percent: %g)",
			e.Removals, e.Memberships, e.Policy.MaxRemoval, e.Policy.MaxRemovalPercent)
	}
	return "safety: the group plan would " + over + ", over the limit. No group was changed. " +
		"Check groups.base_dn and groups.filter, review the plan with `dirsync plan`; if it is right, run again with --allow-mass-archive for this one run"
}

// Check returns a *GroupSafetyError when plan deletes more groups or removes
// more memberships than the policy allows; allowMass is the operator's
// per-run override.
func (p GroupPolicy) Check(plan GroupPlan, allowMass bool) error {
	if allowMass {
		return nil
	}
	deletes := plan.Count(user.OpGroupDelete)
	_, removals := plan.MembershipChanges()
	del := Policy{MaxArchive: p.MaxDelete, MaxArchivePercent: p.MaxDeletePercent}
	rem := Policy{MaxArchive: p.MaxRemoval, MaxArchivePercent: p.MaxRemovalPercent}
	if del.over(deletes, plan.Managed) || rem.over(removals, plan.Memberships) {
		return &GroupSafetyError{Deletes: deletes, Managed: plan.Managed, Removals: removals, Memberships: plan.Memberships, Policy: p}
	}
	return nil
}

// GroupFailure is a group change the platform did not accept.
type GroupFailure struct {
	Change GroupChange `json:"change"`
	Error  string      `json:"error"`
}

// GroupReport is what the group pass of a run did.
type GroupReport struct {
	Plan    GroupPlan       `json:"plan"`
	Applied map[user.Op]int `json:"applied"`
	// Added and Removed count the memberships changed.
	Added   int            `json:"added"`
	Removed int            `json:"removed"`
	Failed  []GroupFailure `json:"failed,omitempty"`
}

// groupPass runs the group pass of a run: read, diff, check, apply (unless
// a dry run). full reads every managed group's members on the platform and
// corrects drift.
func (e *Engine) groupPass(ctx context.Context, rep *Report, ro RunOptions) error {
	g := e.Groups
	gt, ok := e.Target.(GroupTarget)
	if !ok {
		return errors.New("groups.push: the target cannot manage groups; set groups.push: false or use a target that can (scim, or a rest profile with group endpoints)")
	}
	gs := e.Store
	rep.Groups = &GroupReport{Applied: map[user.Op]int{}}
	groups, err := g.Source.ReadGroups(ctx)
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("read directory groups (no group was changed): %w", err)
	}
	records, err := gs.Groups(ctx)
	if err != nil {
		return fmt.Errorf("%w: read snapshot groups: %w", ErrStore, err)
	}
	accounts := make(map[string]string)
	err = e.Store.Summaries(ctx, func(s user.Summary) error {
		if s.Status == user.StatusActive && s.PlatformID != "" {
			accounts[s.ID] = s.PlatformID
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: read snapshot: %w", ErrStore, err)
	}
	// A full reconcile reads every managed group back from the platform;
	// any run reads back the groups whose last change failed (it may have
	// been made in part).
	if drifted, err := e.groupDrift(ctx, gt, records, ro.Full); err != nil {
		return fmt.Errorf("read the platform's groups (no group was changed): %w", err)
	} else if ro.Full {
		rep.Groups.Plan.Drifted = drifted
	}
	plan := DiffGroups(groups, records, accounts, g.OnRemoved)
	plan.Drifted = rep.Groups.Plan.Drifted
	rep.Groups.Plan = plan
	if err := g.Policy.Check(plan, ro.AllowMassArchive || approved(ro.ApprovedGroups, plan)); err != nil {
		return err
	}
	if ro.DryRun {
		return nil
	}
	ga := &groupApplier{e: e, t: gt, s: gs, run: rep.RunID, rep: rep.Groups, claimed: map[string]string{}}
	for _, r := range records {
		if r.PlatformID != "" && r.Status == user.GroupActive {
			ga.claimed[r.PlatformID] = r.Group.ID
		}
	}
	for _, c := range plan.Changes {
		if err := ga.one(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// groupDrift replaces the members and names of records, the snapshot's
// active groups, by what the platform holds, so that the diff corrects
// them; a group deleted on the platform becomes pending (created again). It
// returns how many groups differ.
func (e *Engine) groupDrift(ctx context.Context, t GroupTarget, records []user.GroupRecord, all bool) (int, error) {
	drifted := 0
	for i := range records {
		r := &records[i]
		if r.Status != user.GroupActive || r.PlatformID == "" || (!all && r.Attempts == 0) {
			continue
		}
		pg, err := t.GetGroup(ctx, r.PlatformID)
		if IsNotFound(err) {
			r.Status, r.PlatformID, r.Members = user.GroupPending, "", nil
			drifted++
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("group %s (%s): %w", r.Group.Name, r.PlatformID, err)
		}
		members := user.SortedSet(pg.Members)
		if pg.Name != r.Group.Name || !slices.Equal(members, r.Members) {
			drifted++
		}
		r.Group.Name, r.Members = pg.Name, members
	}
	return drifted, nil
}

// groupApplier applies a group plan, one change at a time.
type groupApplier struct {
	e   *Engine
	t   GroupTarget
	s   GroupStore
	run int64
	rep *GroupReport
	// claimed maps the platform ids of groups linked to a directory group
	// to its ID: a platform group is linked to one directory group.
	claimed map[string]string
}

// one applies c and records it; only a platform fault or a snapshot
// failure is returned (the pass stops); c's own failure is recorded.
func (a *groupApplier) one(ctx context.Context, c GroupChange) error {
	e, rec, err := a.do(ctx, c)
	e.At = a.e.now()
	e.UserID, e.Username = c.Group.ID, c.Group.Name
	if err != nil {
		e.Error = err.Error()
		a.rep.Failed = append(a.rep.Failed, GroupFailure{Change: c, Error: err.Error()})
		if rec == nil {
			rec = a.failedRecord(c)
		}
		rec.Attempts = c.Attempts + 1
		rec.LastError = err.Error()
	} else {
		a.rep.Applied[e.Op]++
	}
	if serr := a.s.SaveGroup(ctx, a.run, e, rec); serr != nil {
		return fmt.Errorf("%w: save group %s: %w", ErrStore, c.Group.Name, serr)
	}
	if err != nil && IsPlatformFault(err) {
		return &PlatformError{Err: fmt.Errorf("group %s: %w", c.Group.Name, err)}
	}
	return ctx.Err()
}

// failedRecord is the record of a group whose change failed before the
// platform changed anything.
func (a *groupApplier) failedRecord(c GroupChange) *user.GroupRecord {
	if c.prev != nil {
		r := *c.prev
		return &r
	}
	now := a.e.now()
	return &user.GroupRecord{Group: withoutMembers(c.Group), Status: user.GroupPending, FirstSeen: now, LastSeen: now}
}

func withoutMembers(g user.Group) user.Group {
	g.Members = nil
	return g
}

// do makes c on the platform and returns the journal entry and the record
// to save (nil: failedRecord).
func (a *groupApplier) do(ctx context.Context, c GroupChange) (user.Entry, *user.GroupRecord, error) {
	switch c.Op {
	case user.OpGroupDelete:
		e := user.Entry{Op: user.OpGroupDelete, PlatformID: c.PlatformID, Reason: c.Reason,
			Fields: membersFields(nil, c.Remove)}
		if err := a.t.DeleteGroup(ctx, c.PlatformID); err != nil && !IsNotFound(err) {
			return e, nil, err
		}
		a.rep.Removed += len(c.Remove)
		r := *c.prev
		r.Status, r.Members, r.MembersHash, r.Attempts, r.LastError = user.GroupDeleted, nil, "", 0, ""
		return e, &r, nil
	case user.OpGroupCreate:
		return a.create(ctx, c)
	default:
		return a.update(ctx, c)
	}
}

// create adopts the platform group with c's externalId, else one with its
// name that belongs to no other directory group, else creates it; then sets
// its members. An adopted group's members dirsync did not add are left (a
// full reconcile, whose plan is checked, takes them out).
func (a *groupApplier) create(ctx context.Context, c GroupChange) (user.Entry, *user.GroupRecord, error) {
	e := user.Entry{Op: user.OpGroupCreate, Reason: c.Reason}
	pg, found, err := a.find(ctx, c.Group)
	if err != nil {
		return e, nil, fmt.Errorf("look for an existing group to adopt: %w", err)
	}
	if found {
		e.Op = user.OpGroupAdopt
	} else if pg, err = a.t.CreateGroup(ctx, c.Group); err != nil {
		return e, nil, err
	}
	if err := user.CheckPlatformID(pg.PlatformID); err != nil {
		return e, nil, fmt.Errorf("the platform gave group id %q, which cannot be used: %v", pg.PlatformID, err)
	}
	a.claimed[pg.PlatformID] = c.Group.ID
	e.PlatformID = pg.PlatformID
	t := a.e.now()
	rec := &user.GroupRecord{Group: withoutMembers(c.Group), PlatformID: pg.PlatformID, Status: user.GroupActive,
		FirstSeen: t, LastSeen: t}
	if c.prev != nil {
		rec.FirstSeen = c.prev.FirstSeen
	}
	have := user.SortedSet(pg.Members)
	add, _ := setDiff(c.Add, have)
	if e.Op == user.OpGroupAdopt && pg.Name != c.Group.Name {
		if err := a.t.RenameGroup(ctx, pg.PlatformID, c.Group); err != nil {
			rec.Group.Name = pg.Name
			return e, rec, err
		}
		e.Fields = append(e.Fields, user.FieldChange{Field: user.FieldGroupName, Old: pg.Name, New: c.Group.Name})
	}
	e.Fields = append(e.Fields, membersFields(add, nil)...)
	if len(add) > 0 {
		if err := a.t.PatchGroupMembers(ctx, pg.PlatformID, add, nil); err != nil {
			// Some may have been added: count them as members, so that
			// they are taken out when they leave.
			// Some may have been added: they count as members (the next
			// run reads the group back, as the record is failing).
			rec.Members = c.Add
			rec.MembersHash = user.MembersHash(rec.Members)
			return e, rec, err
		}
	}
	a.rep.Added += len(add)
	rec.Members = c.Add
	rec.MembersHash = user.MembersHash(rec.Members)
	return e, rec, nil
}

// find looks for the platform group c's group should be linked to: by
// externalId, then by displayName when that group has no other externalId
// and no other directory group is linked to it. A lookup the platform
// refuses counts as not found.
func (a *groupApplier) find(ctx context.Context, g user.Group) (user.PlatformGroup, bool, error) {
	pg, err := a.t.LookupGroup(ctx, user.MatchGroupExternalID, g.ID)
	switch {
	case err == nil:
		if owner, ok := a.claimed[pg.PlatformID]; ok && owner != g.ID {
			return pg, false, fmt.Errorf("platform group %s has externalId %s but is linked to directory group %s", pg.PlatformID, g.ID, owner)
		}
		return pg, true, nil
	case !IsNotFound(err) && !IsLookupRefused(err):
		return pg, false, err
	}
	pg, err = a.t.LookupGroup(ctx, user.MatchGroupName, g.Name)
	switch {
	case err == nil:
		if pg.ExternalID != "" && pg.ExternalID != g.ID {
			return pg, false, fmt.Errorf("platform group %q (%s) belongs to another directory group (externalId %s); rename one of them", g.Name, pg.PlatformID, pg.ExternalID)
		}
		if owner, ok := a.claimed[pg.PlatformID]; ok && owner != g.ID {
			return pg, false, fmt.Errorf("platform group %q (%s) is linked to directory group %s already; two directory groups have this name", g.Name, pg.PlatformID, owner)
		}
		return pg, true, nil
	case IsNotFound(err) || IsLookupRefused(err):
		return pg, false, nil
	}
	return pg, false, err
}

// update renames c's group and changes its members.
func (a *groupApplier) update(ctx context.Context, c GroupChange) (user.Entry, *user.GroupRecord, error) {
	e := user.Entry{Op: user.OpGroupUpdate, PlatformID: c.PlatformID, Reason: c.Reason}
	rec := *c.prev
	rec.LastSeen, rec.Attempts, rec.LastError = a.e.now(), 0, ""
	rec.Group.DN = c.Group.DN
	if c.OldName != "" {
		e.Fields = append(e.Fields, user.FieldChange{Field: user.FieldGroupName, Old: c.OldName, New: c.Group.Name})
		if err := a.t.RenameGroup(ctx, c.PlatformID, c.Group); err != nil {
			return e, nil, err
		}
		rec.Group.Name = c.Group.Name
	}
	e.Fields = append(e.Fields, membersFields(c.Add, c.Remove)...)
	if len(c.Add)+len(c.Remove) > 0 {
		if err := a.t.PatchGroupMembers(ctx, c.PlatformID, c.Add, c.Remove); err != nil {
			if IsNotFound(err) {
				// Deleted on the platform: create it again next run.
				rec.Status, rec.PlatformID, rec.Members, rec.MembersHash = user.GroupPending, "", nil, ""
				return e, &rec, err
			}
			// Some may have been made: the added count as members, the
			// removed too (the next run reads the group back, as the
			// record is failing).
			rec.Members = user.SortedSet(append(slices.Clone(rec.Members), c.Add...))
			rec.MembersHash = user.MembersHash(rec.Members)
			return e, &rec, err
		}
	}
	a.rep.Added += len(c.Add)
	a.rep.Removed += len(c.Remove)
	rec.Members, _ = setDiff(user.SortedSet(append(slices.Clone(rec.Members), c.Add...)), user.SortedSet(c.Remove))
	rec.MembersHash = user.MembersHash(rec.Members)
	return e, &rec, nil
}

// membersFields lists the membership changes of a journal entry: the counts,
// then the platform ids.
func membersFields(add, remove []string) []user.FieldChange {
	var fs []user.FieldChange
	if len(add) > 0 {
		fs = append(fs, user.FieldChange{Field: user.FieldGroupAdded, New: strconv.Itoa(len(add)) + ": " + joinIDs(add)})
	}
	if len(remove) > 0 {
		fs = append(fs, user.FieldChange{Field: user.FieldGroupRemoved, Old: strconv.Itoa(len(remove)) + ": " + joinIDs(remove)})
	}
	return fs
}

func joinIDs(ids []string) string {
	b := make([]byte, 0, 40*len(ids))
	for i, id := range ids {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, id...)
	}
	return string(b)
}

// approved reports whether every deletion and membership removal of plan is
// in ok, a plan approved earlier.
func approved(ok *GroupPlan, plan GroupPlan) bool {
	if ok == nil {
		return false
	}
	type removal struct{ group, member string }
	allowed := map[removal]bool{}
	for _, c := range ok.Changes {
		if c.Op == user.OpGroupDelete {
			allowed[removal{c.Group.ID, ""}] = true
		}
		for _, m := range c.Remove {
			allowed[removal{c.Group.ID, m}] = true
		}
	}
	for _, c := range plan.Changes {
		if c.Op == user.OpGroupDelete && !allowed[removal{c.Group.ID, ""}] {
			return false
		}
		for _, m := range c.Remove {
			if !allowed[removal{c.Group.ID, m}] {
				return false
			}
		}
	}
	return true
}
