package sync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/dirsync/dirsync/user"
)

// Changed is what a directory change stream reported, re-read from the
// directory.
type Changed struct {
	// Users are the users the events named that are still in scope, re-read
	// in full and normalized.
	Users []user.User
	// Gone are the directory IDs verified, by a re-read, to be no longer in
	// scope: deleted, moved out of the base DNs, or filtered out.
	Gone []string
	// Skipped are the entries the events named that could not be mapped, as
	// in Directory.
	Skipped []Skip
}

// Changed answers Source.Reread from d, a complete read, for sources that
// hold the whole directory: Users are d's users whose ID is one of ids or
// whose DN is one of dns, Skipped d's skipped entries named likewise (by ID,
// IDs or DN), and Gone the ids that no user or skipped entry of d holds. IDs
// and DNs compare case-insensitively, DNs as strings.
func (d Directory) Changed(ids, dns []string) Changed {
	wantID, wantDN := lowerSet(ids), lowerSet(dns)
	named := func(id, dn string) bool {
		return wantID[strings.ToLower(id)] || wantDN[strings.ToLower(dn)]
	}
	var ch Changed
	inScope := make(map[string]bool)
	for _, u := range d.Users {
		if named(u.ID, u.DN) {
			ch.Users = append(ch.Users, u)
			inScope[strings.ToLower(u.ID)] = true
		}
	}
	for _, s := range d.Skipped {
		if !named(s.ID, s.DN) && !slices.ContainsFunc(s.IDs, func(v string) bool { return wantID[strings.ToLower(v)] }) {
			continue
		}
		ch.Skipped = append(ch.Skipped, s)
		inScope[strings.ToLower(s.ID)] = true
		for _, v := range s.IDs {
			inScope[strings.ToLower(v)] = true
		}
	}
	for _, id := range ids {
		if k := strings.ToLower(id); id != "" && !inScope[k] {
			inScope[k] = true // once
			ch.Gone = append(ch.Gone, id)
		}
	}
	return ch
}

// lowerSet holds the lower-cased non-empty values of vals.
func lowerSet(vals []string) map[string]bool {
	set := make(map[string]bool, len(vals))
	for _, v := range vals {
		if v != "" {
			set[strings.ToLower(v)] = true
		}
	}
	return set
}

// RunEvents is the run over the entries a directory change stream named:
// the users with the given directory IDs, and the entries at dns (those the
// stream named only by DN). It reads them again with Source.Reread, at the
// DNs of their snapshot records too (an entry whose ID was cleared is found
// there, skipped as in a full read, not gone), and runs RunChanged over
// what the re-read found. A re-read that fails archives nobody: its error is
// returned and no run is recorded.
func (e *Engine) RunEvents(ctx context.Context, ro RunOptions, ids, dns []string) (Report, error) {
	if ro.Full {
		return Report{}, errors.New("a change-event run cannot be a full reconcile")
	}
	var at []string
	if len(ids) > 0 {
		recs, err := e.Store.Records(ctx, ids)
		if err != nil {
			return Report{}, fmt.Errorf("read snapshot: %w", err)
		}
		for _, r := range recs {
			if r.User.DN != "" {
				at = append(at, r.User.DN)
			}
		}
	}
	ch, err := e.Source.Reread(ctx, ids, append(at, dns...))
	if err != nil {
		return Report{}, fmt.Errorf("reread the changed users: %w", err)
	}
	return e.RunChanged(ctx, ro, ch)
}

// RunChanged diffs just the users in ch against their snapshot records,
// checks the plan against the safety policy — the percentage limit against
// every managed user, and the removals earlier change-event runs made since
// the directory was last read in full counted with the plan's — and, unless
// ro.DryRun, applies it, adding its removals to that count. The run is
// recorded and journalled like any run, with ro.Mode (default "watch").
func (e *Engine) RunChanged(ctx context.Context, ro RunOptions, ch Changed) (rep Report, err error) {
	st := e.Store
	if ro.Full {
		return rep, errors.New("a change-event run cannot be a full reconcile")
	}
	done := e.startRun(ctx, &rep, &err, cmp.Or(ro.Mode, "watch"), ro.DryRun)
	defer done()
	if err != nil {
		return rep, err
	}

	phase := e.now()
	prior, err := e.priorRemovals(ctx)
	if err != nil {
		return rep, err
	}
	managed, err := st.Managed(ctx)
	if err != nil {
		return rep, fmt.Errorf("read snapshot: %w", err)
	}
	ids := make([]string, 0, len(ch.Users)+len(ch.Gone))
	for _, u := range ch.Users {
		ids = append(ids, u.ID)
	}
	ids = append(ids, ch.Gone...)
	ids = appendDisabledSkips(ids, ch.Skipped, nil)
	records, err := st.Records(ctx, ids)
	if err != nil {
		return rep, fmt.Errorf("read snapshot: %w", err)
	}
	// Only the records of these IDs are given, so the only ones Diff can
	// remove are those of Gone and of the disabled skipped entries.
	rep.Plan = Diff(Directory{Users: ch.Users, Skipped: ch.Skipped}, records, e.OnRemoved)
	rep.Plan.Managed = managed
	if err := e.flagIdentifierMoves(ctx, &rep.Plan); err != nil {
		return rep, err
	}
	// The snapshot's links are read only if a change may link an account.
	claims := func() (links, error) {
		sums, err := loadSummaries(ctx, st)
		if err != nil {
			return nil, err
		}
		return sums.claims()
	}
	// An event run reads a few users, not the directory: the empty-directory
	// rule is for full reads.
	err = e.checkAndApply(ctx, &rep, ro, claims, phase, true, nil, prior)
	if !ro.DryRun && completed(rep.Outcome(err)) {
		e.countRemovals(ctx, prior, &rep)
	}
	return rep, err
}
