package sync

import (
	"bytes"
	"context"
	"fmt"
	"hash/maphash"
	"math/bits"

	"github.com/dirsync/dirsync/user"
)

// fullBatch is how many listed accounts of managed users a streamed full
// reconcile compares at a time (one snapshot query each).
const fullBatch = 512

// streamFull is fullReconcile for a streamed run: it makes the same
// additions to plan without holding the directory, the snapshot or the
// platform's listing. The users in step were dropped as the directory
// streamed by; their records, read back a batch at a time as their
// accounts are listed, stand for them (a user in step is its record's user,
// but for the DN, which is not compared). sums holds every record, the
// directory users marked in it; withdrawn holds the IDs of users the read
// withdrew after it emitted them (skipped entries now). Nothing is added to
// plan unless the whole listing succeeds.
func (e *Engine) streamFull(ctx context.Context, plan *Plan, sums *summaryIndex, withdrawn map[string]bool) error {
	l, ok := e.Target.(Lister)
	if !ok {
		return fmt.Errorf("the platform's target cannot list its accounts, which a full reconcile needs")
	}
	planned := make(map[string]int, len(plan.Changes))
	for i, c := range plan.Changes {
		planned[c.User.ID] = i
	}
	// inDirectory reports whether record i's user is in the directory and
	// active (what fullReconcile checks the account of).
	inDirectory := func(i int32) bool {
		r := summaryRef{s: sums, i: i, found: true}
		if !sums.seen[i] || r.status() != user.StatusActive || !r.linked() {
			return false
		}
		id := r.id()
		if withdrawn[id] {
			return false
		}
		if j, ok := planned[id]; ok {
			return plan.Changes[j].Op != user.OpArchive && plan.Changes[j].Op != user.OpDelete
		}
		return true
	}
	adoptable, err := e.adoptionKeys(*plan)
	if err != nil {
		return err
	}
	skippedID, _, disabledID, _ := skipIndex(plan.Skipped)

	var (
		byPID     = sums.platformIDs()
		listed    = make([]bool, sums.n)
		accounts  = 0
		drifted   []Change
		reactive  = map[string]bool{} // planned updates whose account is inactive
		unmanaged []user.Account
		batch     []user.Account // accounts of users in step, to compare
	)
	compare := func() error {
		if len(batch) == 0 {
			return nil
		}
		ids := make([]string, len(batch))
		for i, a := range batch {
			ids[i] = byPID.lookup(a.PlatformID).id()
		}
		recs, err := e.Store.Records(ctx, ids)
		if err != nil {
			return fmt.Errorf("read snapshot: %w", err)
		}
		byID := make(map[string]*user.Record, len(recs))
		for i := range recs {
			byID[recs[i].User.ID] = &recs[i]
		}
		for i, a := range batch {
			r := byID[ids[i]]
			if r == nil {
				return fmt.Errorf("read snapshot: the record of %s (platform account %s) is gone", ids[i], a.PlatformID)
			}
			if op, fields := drift(a, r.User); len(fields) > 0 {
				drifted = append(drifted, Change{Op: op, User: r.User, PlatformID: r.PlatformID, Fields: fields,
					Reason: ReasonDrift, Attempts: r.Attempts, prev: r})
			}
		}
		batch = batch[:0]
		return nil
	}
	err = l.List(ctx, func(a user.Account) error {
		if err := checkPlatformID(a); err != nil {
			return err
		}
		accounts++
		r := byPID.lookup(a.PlatformID)
		if r.found && r.status() != user.StatusDeleted {
			if listed[r.i] {
				return nil // listed twice: the first stands
			}
			listed[r.i] = true
			if !inDirectory(r.i) {
				return nil
			}
			if j, ok := planned[r.id()]; ok {
				// Already changing: make sure the change also reactivates.
				if !a.User.Active && plan.Changes[j].Op == user.OpUpdate {
					reactive[r.id()] = true
				}
				return nil
			}
			if batch = append(batch, a); len(batch) == fullBatch {
				return compare()
			}
			return nil
		}
		// An account a planned create may adopt is that user's; one of a
		// skipped entry is someone's still in the directory, unless the
		// entry is disabled.
		if adoptable(a.User) {
			return nil
		}
		if _, ok := skippedID[a.User.ID]; ok && a.User.ID != "" && !disabledID[a.User.ID] {
			return nil
		}
		if a.User.ID != "" {
			if o := sums.lookup(a.User.ID); o.found && o.status() == user.StatusPending {
				return nil // a create that may have landed: the pending record handles it
			}
		}
		unmanaged = append(unmanaged, a)
		return nil
	})
	if err == nil {
		err = compare()
	}
	if err != nil {
		return err
	}

	// The listing is whole: the plan takes its findings.
	var missing []string // IDs of the users whose account is gone
	checked := 0
	for i := range int32(sums.n) {
		if !inDirectory(i) {
			continue
		}
		checked++
		if !listed[i] {
			missing = append(missing, summaryRef{s: sums, i: i}.id())
		}
	}
	if checked > 1 && len(missing) == checked {
		return fmt.Errorf("the platform lists none of the %d accounts dirsync manages (%d accounts listed): "+
			"is target.url the platform dirsync synced to? Nothing was changed", checked, accounts)
	}
	var gone []user.Record
	if len(missing) > 0 {
		if gone, err = e.Store.Records(ctx, missing); err != nil {
			return fmt.Errorf("read snapshot: %w", err)
		}
	}
	for id := range reactive {
		c := &plan.Changes[planned[id]]
		c.Op = user.OpReactivate
		c.Fields = append(c.Fields, user.FieldChange{Field: user.FieldActive, Old: "false", New: "true"})
	}
	for i := range gone {
		r := &gone[i]
		u := r.User
		if j, ok := planned[u.ID]; ok {
			u = plan.Changes[j].User
		}
		e.planMissing(plan, planned, u, r)
	}
	plan.Unchanged -= len(drifted)
	plan.Drifted += len(drifted)
	plan.Changes = append(plan.Changes, drifted...)
	for _, a := range unmanaged {
		plan.Unmanaged = append(plan.Unmanaged, a)
		if e.Unmanaged == UnmanagedArchive && a.User.Active {
			plan.Changes = append(plan.Changes, Change{Op: user.OpArchive, User: a.User, PlatformID: a.PlatformID, Reason: ReasonUnmanaged})
		}
	}
	sortChanges(plan.Changes)
	return nil
}

// adoptionKeys returns whether a platform account matches, by an adopt_by
// key, a create of plan (the streamed ones included): such an account is
// that user's.
func (e *Engine) adoptionKeys(plan Plan) (func(user.User) bool, error) {
	if plan.Count(user.OpCreate) == 0 {
		return func(user.User) bool { return false }, nil
	}
	want := map[string]map[string]bool{}
	for _, key := range e.adoptBy() {
		want[key] = map[string]bool{}
	}
	add := func(u user.User) {
		for key, values := range want {
			if v := matchValue(u, key); v != "" {
				values[indexKey(key, v)] = true
			}
		}
	}
	for _, c := range plan.Changes {
		if c.Op == user.OpCreate {
			add(c.User)
		}
	}
	err := plan.spill.each(1024, func(batch []user.User) error {
		for _, u := range batch {
			add(u)
		}
		return nil
	})
	return func(u user.User) bool {
		for key, values := range want {
			if v := matchValue(u, key); v != "" && values[indexKey(key, v)] {
				return true
			}
		}
		return false
	}, err
}

// pidIndex finds records by platform ID (see summaryIndex.platformIDs):
// an open-addressing table of record numbers + 1 (linear probing, 0 in a
// free slot) at the hash of the packed platform ID, its size a power of two
// at least twice the linked records.
type pidIndex struct {
	s     *summaryIndex
	seed  maphash.Seed
	slots []int32
}

// platformIDs indexes the records by platform ID, once. Of two records
// linking one account, one not deleted is found.
func (s *summaryIndex) platformIDs() *pidIndex {
	s.pidsOnce.Do(func() { s.pids = s.indexPlatformIDs() })
	return s.pids
}

func (s *summaryIndex) indexPlatformIDs() *pidIndex {
	linked := 0
	for i := range int32(s.n) {
		if (summaryRef{s: s, i: i}).linked() {
			linked++
		}
	}
	x := &pidIndex{s: s, seed: maphash.MakeSeed(), slots: make([]int32, max(2, 1<<bits.Len(uint(2*linked))))}
	for i := range int32(s.n) {
		r := summaryRef{s: s, i: i, found: true}
		if !r.linked() {
			continue
		}
		j, held := x.find(r.packedPlatformID())
		if held && (summaryRef{s: s, i: x.slots[j] - 1}).status() != user.StatusDeleted {
			continue
		}
		x.slots[j] = i + 1
	}
	return x
}

// find returns the slot of the record linking packed platform ID p, or the
// free slot where it would go (held false).
func (x *pidIndex) find(p []byte) (slot uint64, held bool) {
	mask := uint64(len(x.slots) - 1)
	j := maphash.Bytes(x.seed, p) & mask
	for ; x.slots[j] != 0; j = (j + 1) & mask {
		if bytes.Equal((summaryRef{s: x.s, i: x.slots[j] - 1}).packedPlatformID(), p) {
			return j, true
		}
	}
	return j, false
}

// lookup returns the record linking platform ID pid; found is false when
// none does.
func (x *pidIndex) lookup(pid string) summaryRef {
	var buf [64]byte
	if j, ok := x.find(user.AppendPackedID(buf[:0], pid)); ok {
		return summaryRef{s: x.s, i: x.slots[j] - 1, found: true}
	}
	return summaryRef{}
}

// owner implements links: the directory ID of the record, not deleted,
// linking pid.
func (x *pidIndex) owner(pid string) (string, bool) {
	r := x.lookup(pid)
	if !r.found || r.status() == user.StatusDeleted {
		return "", false
	}
	return r.id(), true
}
