package app

import (
	"time"

	svc "github.com/dirsync/dirsync/internal/service"
	dsync "github.com/dirsync/dirsync/sync"
)

// targetName is the name the service gives the config's one target: its
// type, or "default".
func targetName(cfg Config) string {
	if cfg.Target.Type != "" {
		return cfg.Target.Type
	}
	return "default"
}

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
	return svc.NewPage(svc.PageOptions{Token: token, Targets: []svc.PageTarget{{
		Name:            targetName(cfg),
		QuarantineAfter: cfg.Sync.QuarantineAfter,
		Source:          svc.SnapshotFile(cfg.State.Path),
	}}}), nil
}

// targetStatus is what the service keeps of an ordinary run of cfg's target
// for the status page: the entries it skipped, when it read the whole
// directory (it completed, or the policy refused its plan); ok is false when
// the read did not complete.
func targetStatus(cfg Config, rep dsync.Report, outcome string, end time.Time) (svc.TargetStatus, bool) {
	if outcome != dsync.OutcomeSuccess && outcome != dsync.OutcomePartial && outcome != dsync.OutcomeRefused {
		return svc.TargetStatus{}, false
	}
	return svc.TargetStatus{Name: targetName(cfg), Run: rep.RunID, Finished: end, Skipped: rep.Plan.Skipped}, true
}
