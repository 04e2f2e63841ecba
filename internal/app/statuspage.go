package app

import (
	"time"

	svc "github.com/dirsync/dirsync/internal/service"
	dsync "github.com/dirsync/dirsync/sync"
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
			Source:          svc.SnapshotFile(t.State.Path),
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
