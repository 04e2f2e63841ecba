package sync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dirsync/dirsync/user"
)

// Options configure the reconciler.
type Options struct {
	// OnRemoved: what happens to accounts of users removed from the directory.
	// Default RemovedArchive.
	OnRemoved OnRemoved
	// AdoptBy lists the keys, in order, used to find an existing platform account
	// before creating one. Default: externalId, userName, email.
	AdoptBy []string
	// Concurrency bounds the changes applied at once. Default 8.
	Concurrency int
	// CircuitBreaker stops the apply after this many consecutive failures that
	// say the platform is down (5xx, 429, network, 401/403). 0: never.
	CircuitBreaker int
	// QuarantineAfter: a user whose last QuarantineAfter changes failed is
	// not tried again (Plan.Quarantined) until RunOptions.RetryQuarantined.
	// 0: never.
	QuarantineAfter int
	// Unmanaged: what a full reconcile does with accounts no directory user
	// owns. Default UnmanagedReport.
	Unmanaged Unmanaged
	// OnMissing: what happens to a managed user whose account was deleted on
	// the platform by hand. Default MissingRecreate.
	OnMissing OnMissing
	// Policy holds the safety limits.
	Policy Policy
	// FreeIdentifiers, when set, is the template (see CheckFreeTemplate) an
	// archive renames the account's username and email by, so that they can
	// be given to someone else. The Target must be an IdentifierFreer.
	FreeIdentifiers string
	// DeleteAfter deletes the accounts dirsync archived this long ago that are
	// still archived (see planExpiredDeletes). 0: never.
	DeleteAfter time.Duration
	// Observe, when set, is called after each change is applied (err is nil on
	// success). It is called from several goroutines at once.
	Observe func(c Change, err error)
	// Warn, when set, is told what the operator should know of a run that
	// goes on all the same (a lookup the platform refused), once per run and
	// cause. It is called from several goroutines at once.
	Warn func(msg string)
	// OnPlan, when set, is called with the plan about to be applied (not in a
	// dry run, not when it is empty), before the first change. For progress.
	OnPlan func(p Plan)
	// Now returns the current time; default time.Now.
	Now func() time.Time
}

// Engine runs reconciliations.
type Engine struct {
	Source Source
	Target Target
	Store  Store
	Options
	// Groups, when set, pushes directory groups after the users (the
	// group pass, groups.go): the Target must be a GroupTarget.
	Groups *Groups

	// listCreates, when not 0, is listedCreates (for tests).
	listCreates int

	// summariesLoaded, when set, is called once a run has loaded the
	// snapshot's summaries (for tests).
	summariesLoaded func()
}

// RunOptions are the per-run choices an operator makes on the command line.
type RunOptions struct {
	// Mode is recorded with the run ("sync", "full", …).
	Mode string
	// DryRun computes and returns the plan and changes nothing: no platform write,
	// no snapshot write (not even a run row).
	DryRun bool
	// AllowMassArchive overrides the max_archive / max_archive_percent limits for
	// this run.
	AllowMassArchive bool
	// AllowEmptyDirectory lets an empty directory read archive every managed user.
	AllowEmptyDirectory bool
	// RetryQuarantined tries the quarantined users' changes again.
	RetryQuarantined bool
	// Full lists the platform (the Target must be a Lister) and corrects
	// drift: managed accounts edited or deactivated by hand. An ordinary run
	// does not read the platform.
	Full bool
	// Only, when set, narrows the run to one user, named by username or
	// email (case-insensitively) or directory ID: the whole directory is
	// read, but the plan holds that user's change only, with the skipped
	// entries that protect its record as in a run over every user. An empty
	// directory read is refused; one user is never a mass archive, but the
	// absolute limit (sync.max_archive) still holds. It cannot be Full, and
	// it does not count as a full read of the directory.
	Only string
	// ApprovedGroups is a group plan an operator approved (dirsync apply):
	// the group pass may make its deletions and membership removals over
	// the group limits, and no others.
	ApprovedGroups *GroupPlan
	// FullBestEffort, with Full, goes on as an ordinary run when the platform
	// cannot be listed (a scheduled full reconcile), noting why in
	// Report.FullSkipped, instead of failing the run.
	FullBestEffort bool
}

// Failure is a change the platform did not accept.
type Failure struct {
	Change Change `json:"change"`
	Error  string `json:"error"`
}

// Report is what a run did.
type Report struct {
	RunID   int64           `json:"run_id,omitempty"`
	DryRun  bool            `json:"dry_run"`
	Plan    Plan            `json:"plan"`
	Applied map[user.Op]int `json:"applied"`
	// Failed lists the changes that failed; they are retried on the next run.
	Failed []Failure `json:"failed,omitempty"`
	// Groups is the group pass's report, when it ran.
	Groups *GroupReport `json:"groups,omitempty"`
	// FullSkipped says why a best-effort full reconcile did not happen.
	FullSkipped string        `json:"full_skipped,omitempty"`
	Duration    time.Duration `json:"duration_ns"`
	// Phases is the time spent in each phase; a phase not reached is zero.
	Phases Phases `json:"phases"`
}

// Phases are the durations of a run's phases.
type Phases struct {
	// Fetch is the directory read, with the snapshot summaries loaded and
	// the updates applied while it went on (see earlyPush).
	Fetch time.Duration `json:"fetch_ns"`
	// Diff is the snapshot read, the diff and the safety check.
	Diff time.Duration `json:"diff_ns"`
	// Apply is the platform writes after the diff and their recording.
	Apply time.Duration `json:"apply_ns"`
}

// Outcomes recorded for a run.
const (
	OutcomeSuccess = "success" // every planned change landed
	OutcomePartial = "partial" // some changes failed; they are retried next run
	OutcomeFailed  = "failed"  // the run could not complete (read, snapshot or cancelled)
	OutcomeRefused = "refused" // the safety policy refused the plan
)

func (e *Engine) adoptBy() []string {
	if e.AdoptBy == nil {
		return []string{user.MatchExternalID, user.MatchUserName, user.MatchEmail}
	}
	return e.AdoptBy
}

// listed returns how many creates a run holds in its plan before it
// spills the others (see listedCreates).
func (e *Engine) listed() int { return cmp.Or(e.listCreates, listedCreates) }

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// Outcome is the run's outcome by its report and error.
func (r Report) Outcome(err error) string {
	var se *SafetyError
	var gse *GroupSafetyError
	switch {
	case errors.As(err, &se), errors.As(err, &gse):
		return OutcomeRefused
	case err != nil:
		return OutcomeFailed
	case len(r.Failed) > 0, r.Groups != nil && len(r.Groups.Failed) > 0:
		return OutcomePartial
	}
	return OutcomeSuccess
}

// Counts returns the report's counts by kind, as recorded with the run.
func (r Report) Counts() map[string]int {
	m := map[string]int{"in_scope": r.Plan.InScope, "skipped": len(r.Plan.Skipped), "unchanged": r.Plan.Unchanged, "failed": len(r.Failed)}
	if n := len(r.Plan.Quarantined); n > 0 {
		m["quarantined"] = n
	}
	for op, n := range r.Applied {
		m[string(op)] = n
	}
	if g := r.Groups; g != nil {
		for op, n := range g.Applied {
			m[string(op)] = n
		}
		if len(g.Failed) > 0 {
			m["group-failed"] = len(g.Failed)
		}
	}
	return m
}

// Run reads the directory, diffs it against the snapshot, checks the plan against
// the policy and, unless ro.DryRun, applies it. The report is returned with the
// error: a *SafetyError when refused (nothing changed), a read or snapshot error
// when the run could not complete. Failures of single changes are not errors:
// they are in Report.Failed (outcome "partial") and retried next run.
func (e *Engine) Run(ctx context.Context, ro RunOptions) (Report, error) {
	return e.run(ctx, ro, nil)
}

// Reconcile is Run over dir, a complete read of the directory made already
// (see Source.Read's error contract), instead of a read of its own: one read
// can feed one engine per target. The engine's Source is not used, and dir
// is not modified. Every rule of Run holds, the safety limits included.
func (e *Engine) Reconcile(ctx context.Context, ro RunOptions, dir Directory) (Report, error) {
	return e.run(ctx, ro, &dir)
}

// run is Run, over dir when it is not nil.
func (e *Engine) run(ctx context.Context, ro RunOptions, dir *Directory) (rep Report, err error) {
	if ro.Only != "" && strings.TrimSpace(ro.Only) == "" {
		// A blank name must not become a run over every user.
		return rep, errors.New("--user: empty name; give the username, email or directory ID of one user")
	}
	if ro.Only != "" && ro.Full {
		return rep, errors.New("a run for one user cannot be a full reconcile")
	}
	done := e.startRun(ctx, &rep, &err, cmp.Or(ro.Mode, "sync"), ro.DryRun)
	defer done()
	if err != nil {
		return rep, err
	}

	// A full reconcile compares every account, so it needs the whole
	// directory and snapshot, and so does a run for one user (it is cut
	// from them); any other run streams the directory past the snapshot's
	// summaries and holds only the users that changed. A read given is
	// whole already.
	src, canStream := e.Source.(Streamer)
	read := func(ctx context.Context) (Directory, error) { return e.Source.Read(ctx) }
	if dir != nil {
		canStream = false
		read = func(context.Context) (Directory, error) { return *dir, nil }
	}
	var claims func() (links, error)
	var diffStart time.Time
	var early *earlyPush
	if canStream && ro.Only == "" {
		claims, diffStart, early, err = e.streamPlan(ctx, &rep, ro, src, e.Store)
		// The spill of creates, if any, is read until the plan is applied.
		defer func() { rep.Plan.spill.close(); rep.Plan.spill = nil }()
		if early != nil {
			// Updates applied during the read are reported whatever
			// happens next (this runs before done records the run).
			defer early.a.report(&rep)
		}
	} else {
		claims, diffStart, err = e.readPlan(ctx, &rep, ro, read)
	}
	if err == nil && ro.Only == "" {
		err = e.planExpiredDeletes(ctx, &rep.Plan)
	}
	if err == nil {
		err = e.flagIdentifierMoves(ctx, &rep.Plan)
	}
	if err != nil {
		if !diffStart.IsZero() {
			rep.Phases.Diff = e.now().Sub(diffStart)
		}
		return rep, err
	}
	// A run for one user has refused an empty read already.
	err = e.checkAndApply(ctx, &rep, ro, claims, diffStart, ro.AllowEmptyDirectory || ro.Only != "", early, 0)
	if !ro.DryRun && ro.Only == "" && completed(rep.Outcome(err)) {
		// The whole directory was read: the removals of change-event runs
		// count from here.
		e.fullReadDone(ctx)
	}
	if err == nil && e.Groups != nil && ro.Only == "" {
		// The users' changes went through: their accounts are the
		// groups' members.
		err = e.groupPass(ctx, &rep, ro)
	}
	return rep, err
}

// completed reports whether a run of outcome went through to the end: every
// planned change was tried.
func completed(outcome string) bool {
	return outcome == OutcomeSuccess || outcome == OutcomePartial
}

// readPlan reads the whole directory with read and the snapshot and diffs
// them into rep.Plan, correcting drift when ro.Full. It returns the
// snapshot's claims and when the diff phase began (zero when the read
// failed).
func (e *Engine) readPlan(ctx context.Context, rep *Report, ro RunOptions, read func(context.Context) (Directory, error)) (claims func() (links, error), diffStart time.Time, err error) {
	phase := e.now()
	dir, err := read(ctx)
	if err := e.fetched(ctx, rep, phase, err, 0); err != nil {
		return nil, time.Time{}, err
	}
	diffStart = e.now()
	records, err := e.Store.Snapshot(ctx)
	if err != nil {
		return nil, diffStart, fmt.Errorf("read snapshot: %w", err)
	}
	// Accounts are linked as the whole snapshot links them.
	all := records
	claims = func() (links, error) { return claimsOf(all), nil }
	if ro.Only != "" {
		if dir, records, err = only(ro.Only, dir, records); err != nil {
			return nil, diffStart, err
		}
	}
	rep.Plan = Diff(dir, records, e.OnRemoved)
	if ro.Full {
		if err := e.fullReconcile(ctx, &rep.Plan, dir, records); err != nil {
			if err := e.fullFailed(ctx, rep, ro, err); err != nil {
				return nil, diffStart, err
			}
			rep.Plan = Diff(dir, records, e.OnRemoved) // drop any partial additions
		}
	}
	return claims, diffStart, nil
}

// fullFailed returns the run's error for a full reconcile that failed with
// err, or, when the run goes on as an ordinary one (a best-effort full
// reconcile), notes why in rep and returns nil.
func (e *Engine) fullFailed(ctx context.Context, rep *Report, ro RunOptions, err error) error {
	if !ro.FullBestEffort || ctx.Err() != nil {
		err = fmt.Errorf("full reconcile: list the platform's accounts (nothing was changed): %w", err)
		if IsPlatformFault(err) {
			err = &PlatformError{Err: err}
		}
		return err
	}
	rep.FullSkipped = err.Error()
	return nil
}

// checkAndApply quarantines, checks rep.Plan against the safety policy
// (counting priorRemovals made since the last full directory read) and,
// unless a dry run, applies it. early, when not nil, holds the updates
// already applied during the read: they join the reported plan, and its
// applier applies the rest.
// The diff phase, which began at diffStart, ends with the check.
func (e *Engine) checkAndApply(ctx context.Context, rep *Report, ro RunOptions, claims func() (links, error),
	diffStart time.Time, allowEmpty bool, early *earlyPush, priorRemovals int) error {
	quarantine(&rep.Plan, e.QuarantineAfter, ro.RetryQuarantined)
	policy := e.Policy
	if ro.Only != "" && policy.MaxArchivePercent > 0 {
		// One user is never a mass archive; the absolute limit (0: every
		// removal needs --allow-mass-archive) still holds.
		policy.MaxArchivePercent = 100
	}
	err := policy.check(rep.Plan, ro.AllowMassArchive, allowEmpty, priorRemovals)
	rep.Phases.Diff = e.now().Sub(diffStart)
	rest := rep.Plan.Changes
	var a *applier
	if early != nil {
		a = early.a
		if len(early.changes) > 0 {
			rep.Plan.Changes = append(slices.Clone(early.changes), rest...)
			sortChanges(rep.Plan.Changes)
		}
	}
	if err != nil {
		var se *SafetyError
		if errors.As(err, &se) {
			se.Pushed = early.count()
		}
		return err
	}
	if ro.DryRun {
		e.previewAdoptions(ctx, &rep.Plan, claims)
		return nil
	}
	if len(rest) == 0 {
		return nil
	}
	plan := rep.Plan
	plan.Changes = rest
	return e.applyPlan(ctx, rep, claims, a, plan)
}

// startRun starts *rep and, unless dryRun, records the start of a run of
// mode; a failure to record it is left in *err. The caller defers the
// returned func, which sets the run's duration and records its outcome
// (see finishRun) once the caller has set *rep and *err.
func (e *Engine) startRun(ctx context.Context, rep *Report, err *error, mode string, dryRun bool) (done func()) {
	start := e.now()
	rep.DryRun, rep.Applied = dryRun, map[user.Op]int{}
	recorded := false
	if !dryRun {
		if rep.RunID, *err = e.Store.BeginRun(ctx, mode); *err != nil {
			*err = fmt.Errorf("%w: begin run: %w", ErrStore, *err)
		} else {
			recorded = true
		}
	}
	return func() {
		if recorded {
			e.finishRun(ctx, rep, err)
		}
		rep.Duration = e.now().Sub(start)
	}
}

// fetched ends a fetch phase begun at phase that ended with readErr: it
// records the phase's time and returns the run's error, if any. A read that
// ended because ctx did is not complete. pushed counts the updates applied
// during the read (see earlyPush).
func (e *Engine) fetched(ctx context.Context, rep *Report, phase time.Time, readErr error, pushed int) error {
	rep.Phases.Fetch = e.now().Sub(phase)
	if readErr == nil {
		readErr = ctx.Err()
	}
	switch {
	case readErr == nil:
		return nil
	case pushed > 0:
		return fmt.Errorf("read directory (nobody was archived; the updates of %d users read before it stopped were applied): %w", pushed, readErr)
	default:
		return fmt.Errorf("read directory (nothing was changed): %w", readErr)
	}
}

// finishRun records the run's outcome, even when the run was cancelled. A
// failure to record it becomes the run's error when it had none.
func (e *Engine) finishRun(ctx context.Context, rep *Report, err *error) {
	errText := ""
	if *err != nil {
		errText = (*err).Error()
	}
	ferr := e.Store.FinishRun(context.WithoutCancel(ctx), rep.RunID, rep.Outcome(*err), rep.Counts(), errText)
	if ferr != nil && *err == nil {
		*err = fmt.Errorf("%w: finish run: %w", ErrStore, ferr)
	}
	if ferr == nil {
		if perr := e.Store.Prune(context.WithoutCancel(ctx)); perr != nil {
			e.warn(fmt.Sprintf("the run is recorded, but older runs and journal entries could not be pruned "+
				"(state.retention; tried again at the end of the next run): %v", perr))
		}
	}
}

// newApplier returns an applier for run.
func (e *Engine) newApplier(run int64) *applier {
	return &applier{e: e, run: run, now: e.now, applied: map[user.Op]int{}}
}

// applyPlan applies plan's changes with a (a new applier when nil) and
// fills in what was applied and what failed. rep.Plan is plan, or plan and
// the changes a applied before. claims is as for applier.apply.
func (e *Engine) applyPlan(ctx context.Context, rep *Report, claims func() (links, error), a *applier, plan Plan) error {
	if e.OnPlan != nil {
		e.OnPlan(plan)
	}
	phase := e.now()
	if a == nil {
		a = e.newApplier(rep.RunID)
	}
	err := a.apply(ctx, plan, claims)
	rep.Phases.Apply = e.now().Sub(phase)
	a.report(rep)
	var ce *CircuitError
	if errors.As(err, &ce) {
		ce.NotTried = max(len(rep.Plan.Changes)-a.attempted(), 0)
		return err
	}
	var pe *PlatformError
	if errors.As(err, &pe) {
		pe.NotTried = max(len(rep.Plan.Changes)-a.attempted(), 0)
		return err
	}
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	return nil
}
