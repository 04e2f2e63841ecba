package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"go.uber.org/zap"

	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/user"
)

// fullDue reports whether this run reconciles fully: asked with --full, or
// sync.full_reconcile_every has passed since the last full reconcile (the
// reconciler's rule, see dsync.Engine.FullReconcileDue).
func fullDue(ctx context.Context, a *app, every time.Duration, asked, dryRun bool, log *zap.Logger) bool {
	if asked {
		return true
	}
	due, err := a.engine.FullReconcileDue(ctx, every, dryRun)
	if err != nil {
		log.Warn("cannot tell when the last full reconcile ran; doing one now", zap.Error(err))
		return true
	}
	return due
}

// markFull records that a full reconcile succeeded now.
func markFull(ctx context.Context, a *app, log *zap.Logger) {
	if err := a.engine.MarkFullReconcile(ctx); err != nil {
		log.Warn("cannot record the full reconcile; the next run does one again", zap.Error(err))
	}
}

// writeUnmanaged lists the platform accounts no directory user owns.
func writeUnmanaged(w io.Writer, accts []user.Account) {
	if len(accts) == 0 {
		return
	}
	fmt.Fprintf(w, "\nUnmanaged platform accounts (%d; no directory user owns them; archived only with sync.unmanaged: archive):\n", len(accts))
	for _, a := range accts {
		state := "active"
		if !a.User.Active {
			state = "inactive"
		}
		fmt.Fprintf(w, "  ? %s (id %s, %s)\n", a.User.Username, a.PlatformID, state)
	}
}

// writeMissing lists the managed users whose account was deleted on the
// platform by hand and, under sync.on_missing: report, left so.
func writeMissing(w io.Writer, missing []dsync.Change) {
	if len(missing) == 0 {
		return
	}
	fmt.Fprintf(w, "\nMissing on the platform (%d; managed users whose account was deleted there by hand; "+
		"recreated only with sync.on_missing: recreate):\n", len(missing))
	for _, c := range missing {
		fmt.Fprintf(w, "  ! %s (was id %s)\n", c.User.Username, c.PlatformID)
	}
}
