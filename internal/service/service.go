// Package service is the long-running side of dirsync (`dirsync run`): the
// parts that run until the process stops, as runnables, and the one Status
// snapshot that readiness reads.
//
// A Runnable is started with a context and runs until that context is done
// (controller-runtime's manager model): a part that should run only under a
// condition, such as holding a leader lease, is wrapped in a Runnable that
// starts the inner one when the condition holds and cancels it when it does
// not, without the inner one knowing.
package service

import (
	"context"
	"fmt"
	"time"

	dsync "github.com/dirsync/dirsync/sync"
)

// Runnable is a part of the service. Start runs it until ctx is done, and
// returns nil then; an error means it could not go on.
type Runnable interface {
	Start(ctx context.Context) error
}

// Status is a snapshot of the service's state, taken at once, which
// readiness (and what reports on the service) reads.
type Status struct {
	// Started is when the service started.
	Started time.Time
	// LastOutcome is the outcome of the last run that finished, "" before
	// the first one.
	LastOutcome string
	// LastSuccess is when the last completed run finished (see Completed),
	// zero when none has.
	LastSuccess time.Time
	// ReadinessStaleness is how long runs may fail before the service is
	// not ready (the config's readiness_staleness).
	ReadinessStaleness time.Duration
	// WatchRefused, when not empty, says why the directory refuses the
	// change stream of ldap.watch.
	WatchRefused string
	// Watch is the mode of ldap.watch the service follows the directory
	// with ("syncrepl", "dirsync", "poll"), "" when it does not.
	Watch string
	// NextRun is the time of the next scheduled run, zero when none is
	// scheduled.
	NextRun time.Time
	// Leader is this instance's part among the instances sharing a state
	// store: RoleUnknown while no leader is elected.
	Leader Role
	// LeaderID names the instance holding the lead, "" when unknown.
	LeaderID string
	// Targets is what the last runs reported, per target.
	Targets []TargetStatus
}

// Role is an instance's part among the instances sharing a state store.
type Role string

const (
	// RoleUnknown: no leader is elected (one instance, SQLite state).
	RoleUnknown Role = ""
	// RoleLeader: this instance runs the syncs and the watch.
	RoleLeader Role = "leader"
	// RoleStandby: another instance leads; this one waits to take over.
	RoleStandby Role = "standby"
)

// TargetStatus is what the service keeps of a target's last ordinary run
// (one that read the whole directory).
type TargetStatus struct {
	// Name is the target's name.
	Name string
	// Run is the run's ID in the target's snapshot, 0 when it recorded none.
	Run int64
	// Finished is when the run finished, zero before the first one.
	Finished time.Time
	// Skipped are the directory entries the run left out, with the reasons.
	Skipped []dsync.Skip
}

// Target returns the status of the target named name, and whether there is one.
func (s Status) Target(name string) (TargetStatus, bool) {
	for _, t := range s.Targets {
		if t.Name == name {
			return t, true
		}
	}
	return TargetStatus{}, false
}

// Ready reports whether the service is ready at now, and why: a standby is;
// the leader (or the only instance) is unless
// the directory refuses the change stream of ldap.watch, or the last run
// failed (or was refused) and no run has completed for ReadinessStaleness.
func (s Status) Ready(now time.Time) (bool, string) {
	if s.Leader == RoleStandby {
		return true, "ok: standing by (another dirsync leads)"
	}
	if s.WatchRefused != "" {
		return false, "not ready: " + s.WatchRefused
	}
	switch {
	case s.LastOutcome == "":
		return true, "ok: no run has finished yet"
	case Completed(s.LastOutcome):
		return true, "ok: last run " + s.LastOutcome
	}
	since, what := s.LastSuccess, "the last completed run"
	if since.IsZero() {
		since, what = s.Started, "start-up"
	}
	age := now.Sub(since).Round(time.Second)
	if now.Sub(since) > s.ReadinessStaleness {
		return false, fmt.Sprintf("not ready: last run %s, and no run has completed since %s %s ago (readiness_staleness %s); see the logs",
			s.LastOutcome, what, age, s.ReadinessStaleness)
	}
	return true, fmt.Sprintf("ok: last run %s, within readiness_staleness %s of %s", s.LastOutcome, s.ReadinessStaleness, what)
}
