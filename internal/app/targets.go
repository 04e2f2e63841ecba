package app

import (
	"context"
	"errors"
	"fmt"
	gosync "sync"

	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/user"
)

// Result is one target's run.
type Result struct {
	App    *App
	Report dsync.Report
	Err    error
}

// Outcome is the run's outcome (see dsync.Report.Outcome).
func (r Result) Outcome() string { return r.Report.Outcome(r.Err) }

// RunEach runs run for every app at once and returns their results in the
// apps' order: one target that fails, is refused or is slow neither stops
// nor delays the others (they share the directory read, and only it).
func RunEach(apps []*App, run func(a *App) (dsync.Report, error)) []Result {
	out := make([]Result, len(apps))
	var wg gosync.WaitGroup
	for i, a := range apps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep, err := run(a)
			out[i] = Result{App: a, Report: rep, Err: err}
		}()
	}
	wg.Wait()
	return out
}

// appSet is the apps of a run taken together: what the change-event queue
// of ldap.watch needs of them (see svc.EventRun), and where the change
// streams' cookies are kept (every target's snapshot, each its own).
type appSet []*App

// Snapshot returns the records of every target's snapshot.
func (s appSet) Snapshot(ctx context.Context) ([]user.Record, error) {
	var all []user.Record
	for _, a := range s {
		recs, err := a.Engine.Store.Snapshot(ctx)
		if err != nil {
			return nil, err
		}
		all = append(all, recs...)
	}
	return all, nil
}

// GetMeta reads key from the first target's snapshot: every target's
// holds the same cookies (SetMeta).
func (s appSet) GetMeta(ctx context.Context, key string) (string, bool, error) {
	return s[0].Engine.Store.GetMeta(ctx, key)
}

// SetMeta keeps key in every target's snapshot.
func (s appSet) SetMeta(ctx context.Context, key, value string) error {
	for _, a := range s {
		if err := a.Engine.Store.SetMeta(ctx, key, value); err != nil {
			return fmt.Errorf("target %s: %w", a.Name, err)
		}
	}
	return nil
}

// RunEvents re-reads and applies the changed entries for every target at
// once; the report sums theirs and the error names each target's.
func (s appSet) RunEvents(ctx context.Context, ro dsync.RunOptions, ids, dns []string) (dsync.Report, error) {
	res := RunEach(s, func(a *App) (dsync.Report, error) { return a.Engine.RunEvents(ctx, ro, ids, dns) })
	return Merge(res)
}

// Close closes every target's snapshot.
func (s appSet) Close() error {
	var errs []error
	for _, a := range s {
		errs = append(errs, a.Close())
	}
	return errors.Join(errs...)
}

// Merge sums the results of one run over several targets into one report,
// for what looks at the run as a whole (its summary line, the watcher's
// retry): the changes and counts of all, and an error naming each target
// that did not complete. With one result it is that result.
func Merge(res []Result) (dsync.Report, error) {
	if len(res) == 1 {
		return res[0].Report, res[0].Err
	}
	var rep dsync.Report
	rep.Applied = map[user.Op]int{}
	var errs []error
	for _, r := range res {
		rep.Plan.Changes = append(rep.Plan.Changes, r.Report.Plan.Changes...)
		rep.Plan.Streamed += r.Report.Plan.Streamed
		rep.Plan.Skipped = append(rep.Plan.Skipped, r.Report.Plan.Skipped...)
		rep.Plan.Quarantined = append(rep.Plan.Quarantined, r.Report.Plan.Quarantined...)
		rep.Plan.InScope = max(rep.Plan.InScope, r.Report.Plan.InScope)
		rep.Plan.Unchanged += r.Report.Plan.Unchanged
		rep.Failed = append(rep.Failed, r.Report.Failed...)
		for op, n := range r.Report.Applied {
			rep.Applied[op] += n
		}
		rep.Duration = max(rep.Duration, r.Report.Duration)
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("target %s: %w", r.App.Name, r.Err))
		}
	}
	return rep, errors.Join(errs...)
}
