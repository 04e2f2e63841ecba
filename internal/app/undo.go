package app

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/dirsync/dirsync/internal/config"
	"github.com/dirsync/dirsync/state"
	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/user"
)

// UndoItem is one account to reactivate.
type UndoItem struct {
	UserID     string `json:"user_id"`
	Username   string `json:"username"`
	PlatformID string `json:"platform_id"`
	Reason     string `json:"reason,omitempty"` // why the run archived it
	Error      string `json:"error,omitempty"`
}

// UndoPlan returns the reactivations that undo run's archives (see
// dsync.UndoArchives), and the accounts they reactivate with why the run
// archived each.
func UndoPlan(ctx context.Context, db state.Store, run int64) (dsync.Plan, []UndoItem, error) {
	entries, err := db.Journal(ctx, run)
	if err != nil {
		return dsync.Plan{}, nil, err
	}
	if len(entries) == 0 {
		return dsync.Plan{}, nil, fmt.Errorf("run %d archived nobody, or does not exist (see `dirsync status --runs 50`)", run)
	}
	records, err := db.Snapshot(ctx)
	if err != nil {
		return dsync.Plan{}, nil, err
	}
	plan := dsync.UndoArchives(run, entries, records)
	why := map[string]user.Entry{}
	for _, e := range entries {
		if _, ok := why[e.PlatformID]; !ok && e.Op == user.OpArchive && e.Error == "" {
			why[e.PlatformID] = e
		}
	}
	items := make([]UndoItem, 0, len(plan.Changes))
	for _, c := range plan.Changes {
		e := why[c.PlatformID]
		items = append(items, UndoItem{UserID: e.UserID, Username: e.Username, PlatformID: c.PlatformID, Reason: e.Reason})
	}
	return plan, items, nil
}

// ApplyUndo applies an undo plan (see UndoPlan) to the platform of target
// t, recording it in db as a run of its own, as any run applies and records
// its changes.
func ApplyUndo(ctx context.Context, t config.Target, log *zap.Logger, db dsync.Store, plan dsync.Plan) (dsync.Report, error) {
	plat, err := NewPlatform(t.Target, log)
	if err != nil {
		return dsync.Report{}, err
	}
	eng := &dsync.Engine{Target: plat, Store: db, Options: targetOptions(t)}
	return eng.ApplyPlan(ctx, "undo", plan)
}
