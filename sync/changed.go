package sync

import (
	"cmp"
	"context"
	"errors"
	"fmt"

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
	// The snapshot's links are read only if a change may link an account.
	claims := func() (map[string]string, error) {
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
