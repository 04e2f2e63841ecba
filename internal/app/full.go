package app

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// fullDue reports whether this run reconciles fully: asked with --full, or
// sync.full_reconcile_every has passed since the last full reconcile (the
// reconciler's rule, see dsync.Engine.FullReconcileDue).
func FullDue(ctx context.Context, a *App, every time.Duration, asked, dryRun bool, log *zap.Logger) bool {
	if asked {
		return true
	}
	due, err := a.Engine.FullReconcileDue(ctx, every, dryRun)
	if err != nil {
		log.Warn("cannot tell when the last full reconcile ran; doing one now", zap.Error(err))
		return true
	}
	return due
}

// markFull records that a full reconcile succeeded now.
func MarkFull(ctx context.Context, a *App, log *zap.Logger) {
	if err := a.Engine.MarkFullReconcile(ctx); err != nil {
		log.Warn("cannot record the full reconcile; the next run does one again", zap.Error(err))
	}
}
