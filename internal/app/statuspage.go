package app

import (
	"context"
	"time"

	svc "github.com/dirsync/dirsync/internal/service"
	"github.com/dirsync/dirsync/state"
	"github.com/dirsync/dirsync/state/stores"
	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/user"
)

// statusPage returns the status page of cfg (status_page), nil when it is
// off. A token file that cannot be read is an error.
func statusPage(cfg Config) (*svc.Page, error) {
	if !cfg.StatusPage {
		return nil, nil
	}
	token, err := cfg.StatusPageSecret()
	if err != nil {
		return nil, err
	}
	var targets []svc.PageTarget
	for _, t := range cfg.TargetList() {
		targets = append(targets, svc.PageTarget{
			Name:            t.Name,
			QuarantineAfter: t.Sync.QuarantineAfter,
			Source:          snapshotSource{t.State},
		})
	}
	return svc.NewPage(svc.PageOptions{Token: token, Targets: targets}), nil
}

// targetStatus is what the service keeps of an ordinary run of the target name
// for the status page: the entries it skipped, when it read the whole
// directory (it completed, or the policy refused its plan); ok is false when
// the read did not complete.
func targetStatus(name string, rep dsync.Report, outcome string, end time.Time) (svc.TargetStatus, bool) {
	if outcome != dsync.OutcomeSuccess && outcome != dsync.OutcomePartial && outcome != dsync.OutcomeRefused {
		return svc.TargetStatus{}, false
	}
	return svc.TargetStatus{Name: name, Run: rep.RunID, Finished: end, Skipped: rep.Plan.Skipped}, true
}

// snapshotSource is the status page's StatusSource of one target's
// snapshot, SQLite or PostgreSQL: each read opens it read-only (without
// locking it), as `dirsync status` does.
type snapshotSource struct{ cfg state.Config }

// Runs returns the latest limit runs of the snapshot, newest first.
func (s snapshotSource) Runs(ctx context.Context, limit int) ([]state.Run, error) {
	if s.cfg.Driver != state.DriverPostgres {
		return svc.SnapshotFile(s.cfg.Path).Runs(ctx, limit)
	}
	db, err := stores.OpenReadOnly(ctx, s.cfg)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return db.Runs(ctx, limit)
}

// Unsettled returns the snapshot's pending and failing records.
func (s snapshotSource) Unsettled(ctx context.Context) ([]user.Record, error) {
	if s.cfg.Driver != state.DriverPostgres {
		return svc.SnapshotFile(s.cfg.Path).Unsettled(ctx)
	}
	db, err := stores.OpenReadOnly(ctx, s.cfg)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return db.Unsettled(ctx)
}
