package sync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/dirsync/dirsync/user"
)

const (
	// earlyBatch bounds the users whose records one snapshot query reads
	// while the directory is read.
	earlyBatch = 128
	// earlyQueue bounds the users waiting to be pushed while the directory
	// is read. Past it, a changed user waits for the end of the read like
	// any other change: the read is never held up by the platform.
	earlyQueue = 4096
)

// earlyPush applies, while the directory is still being read, the updates
// of users who are active on the platform and stay active: changes of their
// data that neither grant nor take away access (but for a username or email
// the snapshot holds for another directory user: that waits for the plan,
// which flags it). Everything else — creates,
// reactivations, archives and deletes — waits for the whole read, the diff
// and the safety check, as in any run. The platform's rate limit bounds the
// apply, so pushing updates during the read ends a run with many of them up
// to the read's time sooner.
//
// An update pushed this way stands even if the run then fails or is refused
// (its user was read, and the update is the account's own directory data),
// and even if a later entry of the same read shares its username or email:
// both entries are then skipped as duplicates and reported, as in any run.
type earlyPush struct {
	e        *Engine
	a        *applier
	st       SummaryStore
	retry    bool // RunOptions.RetryQuarantined
	in       chan user.User
	done     chan struct{}
	stopRead context.CancelCauseFunc

	// Set by the pushing goroutine; read once done is closed.
	changes []Change // the updates handed to the applier
	err     error    // why pushing stopped the run, if it did
}

// startEarly starts pushing the updates offered to it. stopRead stops the
// directory read when pushing cannot go on (the snapshot cannot be written,
// the circuit breaker opened).
func (e *Engine) startEarly(ctx context.Context, a *applier, st SummaryStore, ro RunOptions, stopRead context.CancelCauseFunc) *earlyPush {
	p := &earlyPush{e: e, a: a, st: st, retry: ro.RetryQuarantined, stopRead: stopRead,
		in: make(chan user.User, earlyQueue), done: make(chan struct{})}
	go p.run(ctx)
	return p
}

// offer hands over u, a directory user whose summary says it is active on
// the platform and whose data changed. It never blocks: when the queue is
// full, u waits for the end of the read.
func (p *earlyPush) offer(u user.User) {
	select {
	case p.in <- u:
	default:
	}
}

// finish waits until every offered user is pushed and returns why pushing
// stopped the run, if it did.
func (p *earlyPush) finish() error {
	close(p.in)
	<-p.done
	return p.err
}

func (p *earlyPush) run(ctx context.Context) {
	defer close(p.done)
	var diffErr error
	err := p.a.stream(ctx, p.a.workers(), func(yield func(Change) bool) {
		for u := range p.in {
			batch := []user.User{u}
		more:
			for len(batch) < earlyBatch {
				select {
				case v, ok := <-p.in:
					if !ok {
						break more
					}
					batch = append(batch, v)
				default:
					break more
				}
			}
			updates, err := p.updates(ctx, batch)
			if err != nil {
				diffErr = err
				return
			}
			for _, c := range updates {
				p.changes = append(p.changes, c)
				if !yield(c) {
					return
				}
			}
		}
	})
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		err = nil // the run was cancelled: the read says so
	}
	if p.err = cmp.Or(diffErr, err); p.err != nil {
		p.stopRead(p.err)
	}
}

// updates diffs batch against its users' records, as Diff does in the
// whole run, and returns the updates among the changes.
func (p *earlyPush) updates(ctx context.Context, batch []user.User) ([]Change, error) {
	ids := make([]string, len(batch))
	for i, u := range batch {
		ids[i] = u.ID
	}
	recs, err := p.st.Records(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	// Every record given is of a user in batch, so Diff removes nobody.
	plan := Diff(Directory{Users: batch}, recs, p.e.OnRemoved)
	quarantine(&plan, p.e.QuarantineAfter, p.retry)
	// The others go through the run's diff, and so does an update giving
	// a username or email the snapshot holds for another directory user:
	// the plan flags it first (see IdentifierMove).
	ups := slices.DeleteFunc(plan.Changes, func(c Change) bool { return c.Op != user.OpUpdate })
	moves, err := p.e.moves(ctx, ups, ups)
	if err != nil {
		return nil, err
	}
	moved := map[string]bool{}
	for _, m := range moves {
		moved[m.ToID] = true
	}
	return slices.DeleteFunc(ups, func(c Change) bool { return moved[c.User.ID] }), nil
}

// count returns how many updates were handed to the applier during the read
// (0 for a nil p: no push during the read).
func (p *earlyPush) count() int {
	if p == nil {
		return 0
	}
	return len(p.changes)
}

// users returns the IDs of the users whose update was handed to the applier
// (none for a nil p). Call it after finish.
func (p *earlyPush) users() map[string]bool {
	if p == nil {
		return nil
	}
	ids := make(map[string]bool, len(p.changes))
	for _, c := range p.changes {
		ids[c.User.ID] = true
	}
	return ids
}
