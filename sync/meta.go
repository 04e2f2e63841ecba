package sync

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/dirsync/dirsync/user"
)

// Snapshot meta keys the reconciler owns (see MetaStore). Their names are
// kept as earlier versions wrote them.
const (
	// metaLastFull holds when the last full reconcile succeeded (RFC 3339).
	metaLastFull = "last_full_reconcile"
	// metaRemovalsSinceFullRead counts the archives and deletes change-event
	// runs (RunChanged) made since the directory was last read in full.
	metaRemovalsSinceFullRead = "watch.removals_since_full_read"
)

// FullReconcileDue reports whether a full reconcile (RunOptions.Full) is due:
// every has passed since the last one succeeded (MarkFullReconcile). every
// <= 0 turns scheduled full reconciles off. The first run, when no full
// reconcile was ever recorded, starts the clock (it adopts existing accounts
// anyway) unless it is a dry run, and is not due. A recorded time that cannot
// be read makes one due. An error means the snapshot could not be read; the
// caller may do a full reconcile to be safe.
func (e *Engine) FullReconcileDue(ctx context.Context, every time.Duration, dryRun bool) (bool, error) {
	if every <= 0 {
		return false, nil
	}
	v, found, err := e.Store.GetMeta(ctx, metaLastFull)
	if err != nil {
		return false, fmt.Errorf("read when the last full reconcile ran: %w", err)
	}
	if !found {
		if dryRun {
			return false, nil
		}
		return false, e.MarkFullReconcile(ctx)
	}
	last, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return true, nil
	}
	return e.now().Sub(last) >= every, nil
}

// MarkFullReconcile records that a full reconcile succeeded now.
func (e *Engine) MarkFullReconcile(ctx context.Context) error {
	if err := e.Store.SetMeta(ctx, metaLastFull, e.now().UTC().Format(time.RFC3339)); err != nil {
		return fmt.Errorf("record the full reconcile: %w", err)
	}
	return nil
}

// priorRemovals returns the removals change-event runs made since the
// directory was last read in full. A count that cannot be read is an error:
// the safety limits cannot be checked without it.
func (e *Engine) priorRemovals(ctx context.Context) (int, error) {
	v, found, err := e.Store.GetMeta(ctx, metaRemovalsSinceFullRead)
	if err != nil {
		return 0, fmt.Errorf("read snapshot meta %s (the removals made since the last full directory read): %w", metaRemovalsSinceFullRead, err)
	}
	if !found {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("snapshot meta %s: %q is not a count; a run over the whole directory (`dirsync sync`) resets it",
			metaRemovalsSinceFullRead, v)
	}
	return n, nil
}

// countRemovals adds the removals rep applied to those made since the last
// full directory read. A failure is told to Warn: the changes landed.
func (e *Engine) countRemovals(ctx context.Context, prior int, rep *Report) {
	removed := rep.Applied[user.OpArchive] + rep.Applied[user.OpDelete]
	if removed == 0 {
		return
	}
	if err := e.Store.SetMeta(context.WithoutCancel(ctx), metaRemovalsSinceFullRead, strconv.Itoa(prior+removed)); err != nil {
		e.warn(fmt.Sprintf("cannot count the event run's removals for the safety limits: %v", err))
	}
}

// fullReadDone starts the count of removals since the last full directory
// read again, after a run that read the whole directory completed.
func (e *Engine) fullReadDone(ctx context.Context) {
	if err := e.Store.SetMeta(context.WithoutCancel(ctx), metaRemovalsSinceFullRead, "0"); err != nil {
		e.warn(fmt.Sprintf("cannot reset the event runs' removal count: %v", err))
	}
}

// warn tells e.Warn, if set, msg.
func (e *Engine) warn(msg string) {
	if e.Warn != nil {
		e.Warn(msg)
	}
}
