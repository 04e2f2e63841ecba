package sync

import (
	"errors"
	"fmt"

	"github.com/dirsync/dirsync/user"
)

// CircuitError stops a run that keeps failing against the platform: after
// Options.CircuitBreaker consecutive failures that say the platform is
// unavailable or refuses the credentials, the applier starts no more changes.
// Everything not applied is planned again on the next run.
type CircuitError struct {
	// Failures is the number of consecutive failures that opened the circuit.
	Failures int
	// Last is the last failure's error text.
	Last string
	// NotTried counts the planned changes that were not attempted.
	NotTried int
}

func (e *CircuitError) Error() string {
	return fmt.Sprintf("circuit breaker: stopped after %d consecutive failures against the platform (sync.circuit_breaker); "+
		"%d planned changes were not tried and are planned again on the next run. Last error: %s. "+
		"Check the platform's status and credentials (`dirsync check`)", e.Failures, e.NotTried, e.Last)
}

// PlatformError stops a run at the first change that failed because the
// platform as a whole cannot be used (see IsPlatformFault): a wrong or
// expired token, a TLS failure, a platform that cannot be reached. Trying the
// other changes would only fail them too, and a user's change must not count
// as failed (nor lead to quarantine) for what is the platform's fault: no
// attempt is recorded for it. Everything not applied is planned again on the
// next run.
type PlatformError struct {
	// Err is the failure of the change that stopped the run.
	Err error
	// NotTried counts the planned changes that were not applied.
	NotTried int
}

func (e *PlatformError) Error() string {
	what := "the platform cannot be used"
	var r interface{ Remedy() string }
	if errors.As(e.Err, &r) && r.Remedy() != "" {
		what = r.Remedy()
	}
	rest := "every change not applied is"
	if e.NotTried > 0 {
		rest = fmt.Sprintf("the %d changes not applied are", e.NotTried)
	}
	return fmt.Sprintf("%s. The run stopped; no user was counted as failing, and %s planned again "+
		"on the next run (`dirsync check` tests the connection). Error: %v", what, rest, e.Err)
}

func (e *PlatformError) Unwrap() error { return e.Err }

// platformDown reports whether err says the platform as a whole is failing
// (temporarily unavailable, throttling, or refusing the credentials) rather
// than this one change being wrong.
func platformDown(err error) bool {
	var t interface{ Temporary() bool }
	if errors.As(err, &t) && t.Temporary() {
		return true
	}
	var u interface{ Unauthorized() bool }
	return errors.As(err, &u) && u.Unauthorized()
}

// breaker counts consecutive platform-down failures. It returns a
// *CircuitError when the limit is reached; callers hold a.mu.
func (a *applier) breakerLocked(err error) error {
	limit := a.e.CircuitBreaker
	if limit <= 0 {
		return nil
	}
	if err == nil || !platformDown(err) {
		a.consecutive = 0
		return nil
	}
	a.consecutive++
	if a.consecutive < limit || a.tripped {
		return nil
	}
	a.tripped = true
	return &CircuitError{Failures: a.consecutive, Last: err.Error()}
}

// Quarantined reports whether the user of rec is quarantined under
// Options.QuarantineAfter after (0: never), as the record says: its last
// after (or more) changes failed, and the one that failed last gives or
// keeps access. Removals are never quarantined: taking access away is
// always tried. A run holds back the change of a user so quarantined (see
// quarantine), unless the change is now a removal.
func Quarantined(rec user.Record, after int) bool {
	return quarantined(rec.FailedOp, rec.Attempts, after)
}

// quarantined is the one rule: a change of kind op whose last attempts
// failed is not tried again.
func quarantined(op user.Op, attempts, after int) bool {
	return after > 0 && attempts >= after && !removal(op)
}

// quarantine moves out of plan the changes of users whose last
// Options.QuarantineAfter attempts failed: they are listed in
// Plan.Quarantined and not tried, until the operator asks for them
// (RunOptions.RetryQuarantined), the change succeeds, or — for a user never
// created — the user's directory data changes. Removals are never
// quarantined: taking access away is always tried.
func quarantine(plan *Plan, after int, retry bool) {
	if after <= 0 || retry {
		return
	}
	kept := plan.Changes[:0]
	for _, c := range plan.Changes {
		if quarantined(c.Op, c.Attempts, after) && !desiredChanged(c) {
			plan.Quarantined = append(plan.Quarantined, c)
			continue
		}
		kept = append(kept, c)
	}
	plan.Changes = kept
}

// desiredChanged reports whether a failing create now wants different data
// than the attempts that failed (a pending record holds the user tried).
func desiredChanged(c Change) bool {
	return c.prev != nil && c.prev.Status == user.StatusPending && !user.Equal(c.prev.User, c.User)
}
