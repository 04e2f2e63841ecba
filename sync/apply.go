package sync

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dirsync/dirsync/user"
)

// listThreshold is the number of creates above which the reconciler reads the
// whole platform once (Lister) to find accounts to adopt, instead of looking each
// one up.
const listThreshold = 20

// ErrStore marks a snapshot write that failed: the run stops, because a change
// the platform accepted could not be recorded.
var ErrStore = errors.New("snapshot write")

// applier applies one plan. It is safe for use by several workers.
type applier struct {
	e   *Engine
	run int64
	now func() time.Time

	mu sync.Mutex
	// linked says who the snapshot links each platform account to, once
	// loaded; claimed holds the links this run made or dropped ("" for
	// dropped) over it, and fresh those of the accounts it created.
	linked  links
	claimed map[string]string
	fresh   freshLinks
	// claims loads linked; it is called once, when a create first needs it.
	claims        func() (links, error)
	claimsLoaded  bool
	claimsLoadErr error
	index         *accountIndex // nil unless the platform was listed for adoption
	applied       map[user.Op]int
	failed        []Failure
	// refused holds the adopt_by keys the platform refused to look up by
	// (see Target.Lookup); listing is its listing, read once when first
	// needed instead of those lookups.
	refused   map[string]bool
	listMu    sync.Mutex
	listing   *accountIndex
	listedErr error
	// consecutive counts platform-down failures in a row (circuit breaker).
	consecutive int
	tripped     bool
}

// apply runs plan's changes: creates, updates and reactivations first, then
// removals. Each outcome is saved at once. It returns early only when the
// snapshot cannot be written or ctx ends; failures of single changes are
// collected in a.failed.
//
// claims returns the platform ID of every account linked in the snapshot,
// mapped to its directory ID (see claimsOf). It is called only if a change
// may link an account (a create or an adoption), so a plan of updates and
// removals never loads it; apply updates the map as it links accounts.
func (a *applier) apply(ctx context.Context, plan Plan, claims func() (links, error)) error {
	a.claims = claims
	if a.applied == nil {
		a.applied = map[user.Op]int{}
	}

	var grant, remove []Change
	for _, c := range plan.Changes {
		if removal(c.Op) {
			remove = append(remove, c)
		} else {
			grant = append(grant, c)
		}
	}
	if n := plan.Count(user.OpCreate); n > listThreshold && len(a.e.adoptBy()) > 0 {
		if l, ok := a.e.Target.(Lister); ok {
			idx, err := buildIndex(ctx, l)
			if err != nil {
				err = fmt.Errorf("list platform accounts for adoption: %w", err)
				if IsPlatformFault(err) {
					return &PlatformError{Err: err, NotTried: len(plan.Changes)}
				}
				return err
			}
			a.index = idx
		}
	}
	if err := a.each(ctx, grant); err != nil {
		return err
	}
	if err := a.streamCreates(ctx, plan.spill); err != nil {
		return err
	}
	return a.each(ctx, remove)
}

// streamCreates applies the creates of spill, as they are read from it.
func (a *applier) streamCreates(ctx context.Context, spill *createSpill) error {
	if spill.len() == 0 {
		return nil
	}
	var readErr error
	err := a.stream(ctx, a.workers(), func(yield func(Change) bool) {
		stop := errors.New("stopped")
		readErr = spill.each(a.workers()*64, func(batch []user.User) error {
			for _, u := range batch {
				if !yield(Change{Op: user.OpCreate, User: u}) {
					return stop
				}
			}
			return nil
		})
		if errors.Is(readErr, stop) {
			readErr = nil
		}
	})
	if err == nil {
		err = readErr
	}
	return err
}

// report puts what a applied and what failed in rep.
func (a *applier) report(rep *Report) {
	a.mu.Lock()
	defer a.mu.Unlock()
	rep.Applied, rep.Failed = maps.Clone(a.applied), slices.Clone(a.failed)
}

// attempted counts the changes applied or failed so far.
func (a *applier) attempted() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := len(a.failed)
	for _, k := range a.applied {
		n += k
	}
	return n
}

// loadClaims loads a.claimed on first use and returns the load's error.
func (a *applier) loadClaims() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.claimsLoaded {
		a.claimsLoaded = true
		a.linked, a.claimsLoadErr = a.claims()
		a.claimed = map[string]string{}
		if a.claimsLoadErr != nil {
			a.claimsLoadErr = fmt.Errorf("read the snapshot's linked accounts: %w", a.claimsLoadErr)
		}
	}
	return a.claimsLoadErr
}

// claimsOf returns the platform IDs linked by records, to their directory IDs.
func claimsOf(records []user.Record) linkMap {
	claimed := make(linkMap, len(records))
	for _, r := range records {
		if r.PlatformID != "" && r.Status != user.StatusDeleted {
			claimed[r.PlatformID] = r.User.ID
		}
	}
	return claimed
}

// each applies changes with bounded concurrency.
func (a *applier) each(ctx context.Context, changes []Change) error {
	return a.stream(ctx, min(a.workers(), len(changes)), slices.Values(changes))
}

// workers is the number of changes applied at once.
func (a *applier) workers() int {
	if n := a.e.Concurrency; n > 0 {
		return n
	}
	return 8
}

// stream applies the changes of seq with n workers, as seq yields them.
func (a *applier) stream(ctx context.Context, n int, seq iter.Seq[Change]) error {
	work := make(chan Change)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		fatalErr error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				if ctx.Err() != nil {
					// Stopped (cancelled, or the snapshot failed): start
					// nothing more; the change is planned again next run.
					continue
				}
				if err := a.one(ctx, c); err != nil {
					errOnce.Do(func() { fatalErr = err; cancel() })
				}
			}
		}()
	}
	for c := range seq {
		if ctx.Err() != nil {
			break
		}
		select {
		case work <- c:
			continue
		case <-ctx.Done():
		}
		break
	}
	close(work)
	wg.Wait()
	if fatalErr != nil {
		return fatalErr
	}
	return ctx.Err()
}

// one applies a single change and saves its outcome. It returns an error only
// when the outcome could not be saved.
func (a *applier) one(ctx context.Context, c Change) error {
	entry, rec, err := a.do(ctx, c)
	now := a.now().UTC()
	entry.At = now
	if entry.Op == "" {
		entry.Op = c.Op
	}
	entry.UserID, entry.Username = c.User.ID, c.User.Username
	if entry.Reason == "" { // do may have said more (a vanished account)
		entry.Reason = c.Reason
	}
	if entry.Fields == nil {
		entry.Fields = c.Fields
	}
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			// Stopped, not failed: the change is planned again next run.
			return nil
		}
		if IsPlatformFault(err) {
			// Not this user's failure: record nothing, stop the run.
			return &PlatformError{Err: err}
		}
		entry.Error = err.Error()
		if !c.notOurs() { // no record for an account not ours
			rec = failedRecord(c, err, now)
		}
	} else if rec != nil {
		rec.LastSeen = now
		rec.FirstSeen = now
		if c.prev != nil && !c.prev.FirstSeen.IsZero() {
			rec.FirstSeen = c.prev.FirstSeen
		}
		rec.Hash = rec.User.Hash()
	}
	// Record even when ctx was cancelled after the platform accepted: the
	// snapshot must not miss a change that landed.
	if serr := a.e.Store.Save(context.WithoutCancel(ctx), a.run, entry, rec); serr != nil {
		return fmt.Errorf("%w for %s %s: %w", ErrStore, c.Op, c.User.Username, serr)
	}
	a.mu.Lock()
	if err != nil {
		a.failed = append(a.failed, Failure{Change: c, Error: err.Error()})
	} else {
		a.applied[entry.Op]++
	}
	open := a.breakerLocked(err)
	a.mu.Unlock()
	if a.e.Observe != nil {
		c.Op = entry.Op
		a.e.Observe(c, err)
	}
	return open
}

// do performs c against the platform and returns the journal entry and the
// record to save on success.
func (a *applier) do(ctx context.Context, c Change) (user.Entry, *user.Record, error) {
	t := a.e.Target
	u := c.User
	switch c.Op {
	case user.OpCreate:
		if err := a.saveIntent(ctx, c); err != nil {
			return user.Entry{}, nil, fmt.Errorf("create %s: record the intent: %w", u.Username, err)
		}
		return a.create(ctx, u)
	case user.OpUpdate, user.OpReactivate:
		if c.Op == user.OpReactivate {
			if err := t.SetActive(ctx, c.PlatformID, true); err != nil {
				if IsNotFound(err) && !c.notOurs() {
					return a.recreate(ctx, c)
				}
				return user.Entry{PlatformID: c.PlatformID}, nil, fmt.Errorf("reactivate %s: %w", u.Username, err)
			}
			if c.notOurs() {
				return user.Entry{PlatformID: c.PlatformID}, nil, nil
			}
		}
		if c.Op == user.OpUpdate || c.restore || hasDataChange(c.Fields) {
			if err := t.Update(ctx, c.PlatformID, u); err != nil {
				if IsNotFound(err) {
					return a.recreate(ctx, c)
				}
				return user.Entry{PlatformID: c.PlatformID}, nil, fmt.Errorf("update %s: %w", u.Username, err)
			}
		}
		return user.Entry{PlatformID: c.PlatformID}, &user.Record{User: u, PlatformID: c.PlatformID, Status: user.StatusActive}, nil
	case user.OpArchive:
		if c.Reason == ReasonUnmanaged {
			// Not ours: archive it, journal it, keep no record.
			if err := t.SetActive(ctx, c.PlatformID, false); err != nil && !IsNotFound(err) {
				return user.Entry{PlatformID: c.PlatformID}, nil, fmt.Errorf("archive unmanaged %s: %w", u.Username, err)
			}
			return user.Entry{PlatformID: c.PlatformID}, nil, nil
		}
		if c.PlatformID == "" {
			e, rec, err := a.archivePending(ctx, c)
			if err != nil {
				return e, nil, fmt.Errorf("archive %s: %w", u.Username, err)
			}
			return e, rec, nil
		}
		err := t.SetActive(ctx, c.PlatformID, false)
		entry := user.Entry{PlatformID: c.PlatformID}
		gone := IsNotFound(err)
		if gone {
			// Gone from the platform: access is removed all the same.
			entry.Reason = c.Reason + "; the account no longer exists on the platform"
			err = nil
		}
		if err != nil {
			return entry, nil, fmt.Errorf("archive %s: %w", u.Username, err)
		}
		if a.e.FreeIdentifiers != "" && !gone {
			// Access is gone already; the names are freed after, and a
			// failure leaves the archive to be tried again.
			freed, err := a.free(ctx, c.PlatformID, u)
			if err != nil {
				return entry, nil, fmt.Errorf("archive %s: the account is deactivated, but its username and email were not freed "+
					"(sync.free_identifiers_on_archive): %w", u.Username, err)
			}
			base := c.User
			if c.prev != nil {
				base = c.prev.User
			}
			u, entry.Fields = freed, user.Compare(base, freed)
		}
		return entry, &user.Record{User: u, PlatformID: c.PlatformID, Status: user.StatusArchived, ArchivedAt: a.now().UTC()}, nil
	case user.OpDelete:
		err := t.Delete(ctx, c.PlatformID)
		if err != nil && !IsNotFound(err) {
			return user.Entry{PlatformID: c.PlatformID}, nil, fmt.Errorf("delete %s: %w", u.Username, err)
		}
		return user.Entry{PlatformID: c.PlatformID}, &user.Record{User: u, PlatformID: c.PlatformID, Status: user.StatusDeleted, ArchivedAt: a.now().UTC()}, nil
	}
	return user.Entry{}, nil, fmt.Errorf("unknown change %q", c.Op)
}

// recreate handles an account that vanished from the platform while the
// snapshot still links it: the link is dropped and the user created (or adopted)
// again.
func (a *applier) recreate(ctx context.Context, c Change) (user.Entry, *user.Record, error) {
	if a.e.OnMissing == MissingReport {
		return user.Entry{PlatformID: c.PlatformID}, nil, fmt.Errorf("%s %s: account %s no longer exists on the platform (deleted by hand?); "+
			"sync.on_missing: report leaves it so: set sync.on_missing: recreate to create it again", c.Op, c.User.Username, c.PlatformID)
	}
	if err := a.loadClaims(); err != nil {
		return user.Entry{Op: user.OpCreate}, nil, err
	}
	a.mu.Lock()
	a.claimed[c.PlatformID] = "" // the link is dropped
	a.mu.Unlock()
	e, rec, err := a.create(ctx, c.User)
	if err == nil {
		e.Reason = "the account no longer existed on the platform"
	}
	return e, rec, err
}

// create adopts a matching platform account, or creates one. A conflict on
// create (the account appeared meanwhile) leads to the same lookup and adoption.
func (a *applier) create(ctx context.Context, u user.User) (user.Entry, *user.Record, error) {
	if err := a.loadClaims(); err != nil {
		return user.Entry{Op: user.OpCreate}, nil, err
	}
	acct, found, err := a.find(ctx, u, a.index)
	if err != nil {
		return user.Entry{Op: user.OpCreate}, nil, fmt.Errorf("look up %s before create: %w", u.Username, err)
	}
	if !found {
		acct, err = a.e.Target.Create(ctx, u)
		if err == nil {
			if err := checkPlatformID(acct); err != nil {
				return user.Entry{Op: user.OpCreate}, nil, fmt.Errorf("create %s: %w", u.Username, err)
			}
			a.claim(acct.PlatformID, u.ID, true)
			return user.Entry{Op: user.OpCreate, PlatformID: acct.PlatformID, Fields: user.Compare(user.User{}, u)},
				&user.Record{User: u, PlatformID: acct.PlatformID, Status: user.StatusActive}, nil
		}
		if !IsConflict(err) {
			return user.Entry{Op: user.OpCreate}, nil, fmt.Errorf("create %s: %w", u.Username, err)
		}
		// Someone holds the name: find who, on the platform itself.
		var lerr error
		acct, found, lerr = a.find(ctx, u, nil)
		if lerr != nil {
			return user.Entry{Op: user.OpCreate}, nil, fmt.Errorf("create %s: %w (and the search for an account to adopt failed: %w)",
				u.Username, err, lerr)
		}
		if !found {
			return user.Entry{Op: user.OpCreate}, nil, fmt.Errorf("create %s: %w (and no account matching by %s was found to adopt)",
				u.Username, err, strings.Join(a.e.adoptBy(), ", "))
		}
	}
	return a.adopt(ctx, u, acct)
}

// adopt links an existing platform account to u and brings it in step.
func (a *applier) adopt(ctx context.Context, u user.User, acct user.Account) (user.Entry, *user.Record, error) {
	entry := user.Entry{Op: user.OpAdopt, PlatformID: acct.PlatformID, Fields: user.Compare(acct.User, u)}
	if !a.claim(acct.PlatformID, u.ID, false) {
		return entry, nil, fmt.Errorf("adopt %s: platform account %s (%s) is already linked to another directory user",
			u.Username, acct.PlatformID, acct.User.Username)
	}
	if acct.User.ID != "" && acct.User.ID != u.ID {
		// Matched by name or email, but the account belongs to another directory
		// identity: linking it would hand one person's account to another.
		a.unclaim(acct.PlatformID, u.ID)
		return entry, nil, fmt.Errorf("adopt %s: platform account %s (%s) has externalId %q, not this user's directory ID %q; "+
			"not adopting it. If it is the same person, clear the account's externalId on the platform",
			u.Username, acct.PlatformID, acct.User.Username, acct.User.ID, u.ID)
	}
	if err := a.e.Target.Update(ctx, acct.PlatformID, u); err != nil {
		a.unclaim(acct.PlatformID, u.ID)
		return entry, nil, fmt.Errorf("adopt %s: update: %w", u.Username, err)
	}
	if !acct.User.Active {
		if err := a.e.Target.SetActive(ctx, acct.PlatformID, true); err != nil {
			a.unclaim(acct.PlatformID, u.ID)
			return entry, nil, fmt.Errorf("adopt %s: activate: %w", u.Username, err)
		}
	}
	return entry, &user.Record{User: u, PlatformID: acct.PlatformID, Status: user.StatusActive}, nil
}

// claim links platformID to directory user id; false if another user holds it,
// or if the snapshot's links were not loaded (loadClaims comes first). An
// account created by this run (created) is noted compactly: an initial
// sync creates every account.
func (a *applier) claim(platformID, id string, created bool) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.claimed == nil {
		return false
	}
	if linked, byID := a.holderLocked(platformID, id); linked && !byID {
		return false
	}
	if created {
		a.fresh.add(platformID, id)
	} else {
		a.claimed[platformID] = id
	}
	return true
}

// holderLocked says whether platformID is linked to a directory user, and
// whether to id.
func (a *applier) holderLocked(platformID, id string) (linked, byID bool) {
	if owner, ok := a.claimed[platformID]; ok {
		return owner != "", owner == id
	}
	if linked, byID := a.fresh.holder(platformID, id); linked {
		return true, byID
	}
	if a.linked != nil {
		if owner, ok := a.linked.owner(platformID); ok {
			return true, owner == id
		}
	}
	return false, false
}

func (a *applier) unclaim(platformID, id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, byID := a.holderLocked(platformID, id); byID {
		a.claimed[platformID] = ""
	}
}

// find looks for an account to adopt by the adopt_by keys in order, in idx when
// given, else on the platform. From the first key the platform refuses to
// look up by, it looks in a listing of the platform instead.
func (a *applier) find(ctx context.Context, u user.User, idx *accountIndex) (user.Account, bool, error) {
	for _, key := range a.e.adoptBy() {
		value := matchValue(u, key)
		if value == "" {
			continue
		}
		if idx == nil && a.isRefused(key) {
			l, err := a.listed(ctx, key)
			if err != nil {
				return user.Account{}, false, err
			}
			idx = l
		}
		if idx != nil {
			if acct, ok := idx.get(key, value); ok {
				return acct, true, nil
			}
			continue
		}
		acct, err := a.e.Target.Lookup(ctx, key, value)
		if IsNotFound(err) {
			continue
		}
		if IsLookupRefused(err) {
			a.refuse(key, err)
			if idx, err = a.listed(ctx, key); err != nil {
				return user.Account{}, false, err
			}
			if acct, ok := idx.get(key, value); ok {
				return acct, true, nil
			}
			continue
		}
		if err != nil {
			return user.Account{}, false, fmt.Errorf("by %s: %w", key, err)
		}
		if err := checkPlatformID(acct); err != nil {
			return user.Account{}, false, fmt.Errorf("by %s: %w", key, err)
		}
		return acct, true, nil
	}
	return user.Account{}, false, nil
}

// checkPlatformID returns an error when acct's platform id, as the platform
// answered it, cannot be used (see user.CheckPlatformID).
func checkPlatformID(acct user.Account) error {
	if err := user.CheckPlatformID(acct.PlatformID); err != nil {
		return fmt.Errorf("the platform answered account id %q (userName %q), which dirsync refuses: %w; "+
			"an id must be one URL path segment: correct the account on the platform", acct.PlatformID, acct.User.Username, err)
	}
	return nil
}

func (a *applier) isRefused(key string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.refused[key]
}

// refuse notes that the platform refused to look up by key, and says so once.
func (a *applier) refuse(key string, err error) {
	a.mu.Lock()
	first := !a.refused[key]
	if a.refused == nil {
		a.refused = map[string]bool{}
	}
	a.refused[key] = true
	a.mu.Unlock()
	if first && a.e.Warn != nil {
		a.e.Warn(fmt.Sprintf("the platform refused the lookup by %s; finding accounts to adopt by %s in a listing of the platform instead, "+
			"read once per run (remove %s from sync.adopt_by to skip it): %v", key, key, key, err))
	}
}

// listingError is a failed listing that stands in for refused lookups: every
// create needs it, so it fails the run (a platform fault), not each user.
type listingError struct{ err error }

func (e *listingError) Error() string       { return e.err.Error() }
func (e *listingError) Unwrap() error       { return e.err }
func (e *listingError) PlatformFault() bool { return true }

// listed returns an index of every platform account, listing the platform
// on first use; key is the lookup it stands in for.
func (a *applier) listed(ctx context.Context, key string) (*accountIndex, error) {
	a.listMu.Lock()
	defer a.listMu.Unlock()
	if a.listing == nil && a.listedErr == nil {
		l, ok := a.e.Target.(Lister)
		if !ok {
			return nil, fmt.Errorf("the platform refused the lookup by %s and cannot list its accounts: remove %s from sync.adopt_by", key, key)
		}
		idx, err := buildIndex(ctx, l)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err // not remembered: stopped, not failed
			}
			a.listedErr = &listingError{fmt.Errorf("the platform refused the lookup by %s, and listing its accounts instead failed: %w", key, err)}
		}
		a.listing = idx
	}
	if a.listedErr != nil {
		return nil, a.listedErr
	}
	return a.listing, nil
}

func matchValue(u user.User, key string) string {
	switch key {
	case user.MatchExternalID:
		return u.ID
	case user.MatchUserName:
		return u.Username
	case user.MatchEmail:
		return u.Email
	}
	return ""
}

// accountIndex holds every platform account by its match keys.
type accountIndex struct {
	by map[string]map[string]user.Account
}

func buildIndex(ctx context.Context, l Lister) (*accountIndex, error) {
	idx := &accountIndex{by: map[string]map[string]user.Account{
		user.MatchExternalID: {}, user.MatchUserName: {}, user.MatchEmail: {},
	}}
	err := l.List(ctx, func(acct user.Account) error {
		if err := checkPlatformID(acct); err != nil {
			return err
		}
		for _, key := range []string{user.MatchExternalID, user.MatchUserName, user.MatchEmail} {
			if v := matchValue(acct.User, key); v != "" {
				idx.by[key][indexKey(key, v)] = acct
			}
		}
		return nil
	})
	return idx, err
}

func (idx *accountIndex) get(key, value string) (user.Account, bool) {
	acct, ok := idx.by[key][indexKey(key, value)]
	return acct, ok
}

func indexKey(key, v string) string {
	if key == user.MatchExternalID {
		return v
	}
	return strings.ToLower(v)
}

// hasDataChange reports whether fields hold more than the active flag.
func hasDataChange(fields []user.FieldChange) bool {
	for _, f := range fields {
		if f.Field != user.FieldActive {
			return true
		}
	}
	return false
}

// failedRecord is the record saved when c failed: the previous record, or a
// pending one for a user never created, with the attempt counted.
func failedRecord(c Change, err error, now time.Time) *user.Record {
	var rec user.Record
	if c.prev != nil {
		rec = *c.prev
	} else {
		rec = user.Record{User: c.User, Status: user.StatusPending, FirstSeen: now, LastSeen: now}
		rec.Hash = rec.User.Hash()
	}
	if c.Op == user.OpCreate && (rec.Status == user.StatusDeleted || rec.Status == user.StatusPending) {
		rec.Status, rec.User, rec.Hash = user.StatusPending, c.User, c.User.Hash()
	}
	rec.Attempts++
	rec.LastError, rec.FailedOp = err.Error(), c.Op
	return &rec
}
