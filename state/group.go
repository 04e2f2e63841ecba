package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// groupCommit gathers the writes of callers waiting at the same time into
// one transaction. A run applies its changes with several workers, each
// recording its change the moment the platform accepted it; one SQLite
// transaction per change wrote the same table and index pages to the WAL
// again for every change, and took most of an initial sync's CPU. Each
// caller still returns only once its write is committed, so a change is
// never reported recorded before it is; a write that fails rolls back
// alone (a savepoint each), the others of its transaction stand.
//
// The first caller to find no transaction under way commits: the writes
// pending then, its own among them. Writes arriving meanwhile wait; when
// it is done, the first of them commits those, and so on.
type groupCommit struct {
	mu      sync.Mutex
	pending []*groupWrite
	busy    bool
	commits atomic.Int64 // transactions committed (for tests)
}

type groupWrite struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx *sql.Tx) error
	err  error
	done chan struct{} // closed once committed or failed
	lead chan struct{} // told to commit the pending writes
}

// maxGroup bounds the writes of one transaction.
const maxGroup = 256

// inGroup runs fn in a transaction it may share with other callers' writes
// and returns once that transaction has committed (or fn failed).
func (d *DB) inGroup(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	g := &d.group
	w := &groupWrite{ctx: ctx, fn: fn, done: make(chan struct{}), lead: make(chan struct{}, 1)}
	g.mu.Lock()
	g.pending = append(g.pending, w)
	if g.busy {
		g.mu.Unlock()
		select {
		case <-w.done:
			return w.err
		case <-w.lead:
		}
		g.mu.Lock()
	}
	g.busy = true
	batch := g.pending[:min(len(g.pending), maxGroup)]
	g.pending = g.pending[len(batch):]
	g.mu.Unlock()

	d.commitGroup(batch)

	g.mu.Lock()
	if len(g.pending) > 0 {
		g.pending[0].lead <- struct{}{}
	} else {
		g.busy = false
	}
	g.mu.Unlock()
	<-w.done
	return w.err
}

// commitGroup runs batch's writes in one transaction, each in a savepoint
// of its own, and tells each writer how it ended.
func (d *DB) commitGroup(batch []*groupWrite) {
	finish := func(err error) {
		for _, w := range batch {
			if w.err == nil {
				w.err = err
			}
			close(w.done)
		}
	}
	// The transaction is everyone's: no one caller's cancellation ends it.
	ctx := context.WithoutCancel(batch[0].ctx)
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		finish(err)
		return
	}
	ok := 0
	for _, w := range batch {
		if _, err := tx.ExecContext(ctx, "SAVEPOINT w"); err != nil {
			finish(errors.Join(err, tx.Rollback()))
			return
		}
		if w.err = w.fn(w.ctx, tx); w.err != nil {
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO w"); err != nil {
				finish(errors.Join(fmt.Errorf("roll back a failed write: %w", err), tx.Rollback()))
				return
			}
		} else {
			ok++
		}
		if _, err := tx.ExecContext(ctx, "RELEASE w"); err != nil {
			finish(errors.Join(err, tx.Rollback()))
			return
		}
	}
	if ok == 0 {
		finish(tx.Rollback())
		return
	}
	d.group.commits.Add(1)
	finish(tx.Commit())
}
