package sync

import (
	"errors"
	"fmt"
	"time"

	"github.com/dirsync/dirsync/user"
)

// Config is the `sync:` section of the config file.
//
//	sync:
//	  on_removed: archive          # archive | delete | ignore
//	  max_archive: 50              # most removals in one run without --allow-mass-archive
//	  max_archive_percent: 10      # same, as a percentage of managed users
//	  adopt_by: [externalId, userName, email]
//	  circuit_breaker: 10          # stop a run after this many platform failures in a row (0: never)
//	  quarantine_after: 5          # stop retrying a user after this many failed runs (0: never)
//	  full_reconcile_every: 24h    # list the platform and correct drift this often (0: only with --full)
//	  unmanaged: report            # report | archive: accounts on the platform no directory user owns
//	  on_missing: recreate         # recreate | report: managed accounts deleted on the platform by hand
//	  delete_after: 30d            # delete accounts dirsync archived this long ago (0: never; default)
//	  free_identifiers_on_archive: "{username}.left-{date}"  # rename on archive ("": never; default)
type Config struct {
	// OnRemoved: archive (default), delete or ignore.
	OnRemoved OnRemoved `mapstructure:"on_removed"`
	// MaxArchive: default 50.
	MaxArchive int `mapstructure:"max_archive"`
	// MaxArchivePercent: default 10.
	MaxArchivePercent float64 `mapstructure:"max_archive_percent"`
	// AdoptBy: default [externalId, userName, email]; [] turns adoption off.
	AdoptBy []string `mapstructure:"adopt_by"`
	// CircuitBreaker: default 10 consecutive platform-down failures; 0 never.
	CircuitBreaker int `mapstructure:"circuit_breaker"`
	// QuarantineAfter: default 5 consecutive failed attempts; 0 never.
	QuarantineAfter int `mapstructure:"quarantine_after"`
	// FullReconcileEvery: default 24h; 0 only with `sync --full`.
	FullReconcileEvery time.Duration `mapstructure:"full_reconcile_every"`
	// Unmanaged: report (default) or archive.
	Unmanaged Unmanaged `mapstructure:"unmanaged"`
	// OnMissing: recreate (default) or report.
	OnMissing OnMissing `mapstructure:"on_missing"`
	// DeleteAfter: default 0 (never). An account dirsync archived that is
	// still archived this long after is deleted (counted by the safety limits).
	DeleteAfter time.Duration `mapstructure:"delete_after"`
	// FreeIdentifiersOnArchive: default "" (never). A template (see
	// CheckFreeTemplate) an archive renames the account's username and email
	// by, so that they can be given to someone else.
	FreeIdentifiersOnArchive string `mapstructure:"free_identifiers_on_archive"`
}

// Default returns the defaults documented on Config.
func Default() Config {
	return Config{
		OnRemoved:         RemovedArchive,
		MaxArchive:        50,
		MaxArchivePercent: 10,
		AdoptBy:           []string{user.MatchExternalID, user.MatchUserName, user.MatchEmail},
		CircuitBreaker:    10,
		QuarantineAfter:   5,

		FullReconcileEvery: 24 * time.Hour,
		Unmanaged:          UnmanagedReport,
		OnMissing:          MissingRecreate,
	}
}

// Validate reports every problem, each named by its config key.
func (c Config) Validate() error {
	var errs []error
	switch c.OnRemoved {
	case RemovedArchive, RemovedDelete, RemovedIgnore:
	default:
		errs = append(errs, fmt.Errorf("sync.on_removed: %q is not one of archive, delete, ignore", c.OnRemoved))
	}
	if c.MaxArchive < 0 {
		errs = append(errs, fmt.Errorf("sync.max_archive: %d is negative; use 0 to require --allow-mass-archive for every removal", c.MaxArchive))
	}
	if c.MaxArchivePercent < 0 || c.MaxArchivePercent > 100 {
		errs = append(errs, fmt.Errorf("sync.max_archive_percent: %g is not between 0 and 100", c.MaxArchivePercent))
	}
	if c.CircuitBreaker < 0 {
		errs = append(errs, fmt.Errorf("sync.circuit_breaker: %d is negative; use 0 to never stop a run early", c.CircuitBreaker))
	}
	if c.QuarantineAfter < 0 {
		errs = append(errs, fmt.Errorf("sync.quarantine_after: %d is negative; use 0 to retry failing users on every run", c.QuarantineAfter))
	}
	if c.FullReconcileEvery < 0 {
		errs = append(errs, fmt.Errorf("sync.full_reconcile_every: %v is negative; use 0 to reconcile fully only with --full", c.FullReconcileEvery))
	}
	switch c.Unmanaged {
	case "", UnmanagedReport, UnmanagedArchive:
	default:
		errs = append(errs, fmt.Errorf("sync.unmanaged: %q is not one of report, archive", c.Unmanaged))
	}
	switch c.OnMissing {
	case "", MissingRecreate, MissingReport:
	default:
		errs = append(errs, fmt.Errorf("sync.on_missing: %q is not one of recreate, report", c.OnMissing))
	}
	if c.DeleteAfter < 0 {
		errs = append(errs, fmt.Errorf("sync.delete_after: %v is negative; use 0 to never delete archived accounts", c.DeleteAfter))
	}
	if c.FreeIdentifiersOnArchive != "" {
		if err := CheckFreeTemplate(c.FreeIdentifiersOnArchive); err != nil {
			errs = append(errs, fmt.Errorf("sync.free_identifiers_on_archive: %q %w", c.FreeIdentifiersOnArchive, err))
		}
	}
	for _, k := range c.AdoptBy {
		switch k {
		case user.MatchExternalID, user.MatchUserName, user.MatchEmail:
		default:
			errs = append(errs, fmt.Errorf("sync.adopt_by: %q is not one of externalId, userName, email", k))
		}
	}
	return errors.Join(errs...)
}

// Options returns the reconciler options this config sets.
func (c Config) Options() Options {
	adopt := c.AdoptBy
	if adopt == nil {
		adopt = []string{}
	}
	return Options{
		OnRemoved: c.OnRemoved,
		AdoptBy:   adopt,
		Policy:    Policy{MaxArchive: c.MaxArchive, MaxArchivePercent: c.MaxArchivePercent},

		CircuitBreaker:  c.CircuitBreaker,
		QuarantineAfter: c.QuarantineAfter,
		Unmanaged:       c.Unmanaged,
		OnMissing:       c.OnMissing,
		DeleteAfter:     c.DeleteAfter,
		FreeIdentifiers: c.FreeIdentifiersOnArchive,
	}
}
