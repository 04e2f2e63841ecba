// Package sync is dirsync's reconciler. It reads the desired state from a Source
// (the directory), compares it with the snapshot in a Store, computes a Plan
// (Diff), checks it against the safety Policy, and applies it to a Target (the
// platform), recording every success at once.
//
// The package knows nothing of LDAP, HTTP or SQLite: it declares the small
// interfaces below and adapters implement them. Adapters exchange only values from
// package user, so they never import sync.
//
// Every sync rule lives here; the commands and the service only choose the
// run. Where each part is:
//
//   - engine.go: Engine, RunOptions and Report; Run (reads the directory
//     itself) and Reconcile (over a Directory read already, so one read can
//     feed one engine per target); the choice of the streamed or the whole
//     read; run bookkeeping.
//   - stream.go: the streamed read of every ordinary run: users stream past
//     the Store's summaries and only the changed ones are held. early.go:
//     the updates of users who stay active, applied while the read goes on;
//     everything that grants or removes access waits for the policy.
//   - diff.go, plan.go: Diff, the one source of the rules, and Plan/Change.
//     Every read path must give the plan Diff gives.
//   - policy.go: the safety limits (empty read, max_archive,
//     max_archive_percent); meta.go: what they count across runs (removals
//     since the last full read) and the full reconcile's schedule, in the
//     Store's meta.
//   - full.go: the full reconcile (RunOptions.Full): the platform listed,
//     drift corrected, unmanaged and deleted accounts handled.
//   - changed.go: RunEvents, the run over a directory change stream's users
//     (re-read with Source.Reread), and RunChanged, its diff and apply.
//   - only.go: RunOptions.Only, a run for one user.
//   - apply.go: the applier: bounded workers, adoption before create, one
//     account linked to one user, each success saved at once; intent.go: the
//     pending record saved before a create; resilience.go: the platform-fault
//     stop, the circuit breaker and quarantine (Quarantined).
//   - approved.go: ApplyPlan, a plan approved earlier; undo.go:
//     UndoArchives, the plan that reverses a run's archives; preview.go: the
//     adoptions a dry run shows.
//   - config.go: the `sync:` config section and its Options.
package sync

import (
	"context"
	"errors"

	"github.com/dirsync/dirsync/user"
)

// Source reads the directory.
type Source interface {
	// Read returns every user in scope, active and disabled, normalized.
	//
	// Error contract: Read returns an error, and never a partial Directory, when
	// the read was incomplete for any reason (connection lost, cancelled, size or
	// time limit, referral, broken paging). The reconciler treats an error as
	// "archive nobody". Entries that could not be mapped (no ID, duplicates,
	// invalid data) are not errors: they are listed in Directory.Skipped.
	Read(ctx context.Context) (Directory, error)

	// Reread reads again the entries a directory change stream named: those
	// with the given directory IDs, and those at dns (the DNs the snapshot
	// holds for ids, and entries the stream named only by DN). It gives them
	// as a full read would: Users are those still in scope, normalized;
	// Skipped the entries that cannot be mapped (duplicates of any entry in
	// scope included); Gone the ids that the searches, all complete, found
	// nowhere in scope. An entry whose ID can no longer be read is found at
	// its DN only: it is skipped, and its former ID is gone. A DN out of
	// scope, or where no entry is, adds nothing. Every user reaches the
	// reconciler through Read, Stream or Reread.
	//
	// Error contract: as Read's. An error means the re-read was incomplete:
	// nothing may be concluded from it and no ID is gone.
	Reread(ctx context.Context, ids, dns []string) (Changed, error)
}

// Directory is a complete read of the users in scope.
type Directory struct {
	Users   []user.User `json:"users"`
	Skipped []Skip      `json:"skipped,omitempty"`
}

// Skip is a directory entry left out of the sync, with the reason. A skipped
// entry's existing platform account is never created, updated, reactivated
// or archived as removed for it — with one exception: a skipped entry known
// to be disabled still takes access away (see Disabled).
type Skip struct {
	DN string `json:"dn"`
	// ID is the entry's stable ID when it could be read, so that its snapshot
	// record is protected from archiving. A duplicate ID is given too: each
	// entry holding it is skipped.
	ID string `json:"id,omitempty"`
	// IDs are the values of an ID attribute that holds several (the entry's
	// ID is one of them, which one cannot be known): the records of each are
	// protected, or, for Disabled, archived as for ID. A Changed holding such
	// an entry holds every entry in scope with any of its values.
	IDs    []string `json:"ids,omitempty"`
	Reason string   `json:"reason"`
	// Disabled says the entry is known to be disabled in the directory. A
	// duplicate must never keep anyone's access: the record of ID, when every
	// skipped entry holding ID is disabled, is archived like a disabled user's
	// (counted by the safety limits), and so is the record found by DN (held
	// by no skipped entry's ID) when every skipped entry at DN is disabled: a
	// disabled entry's DN protects nothing. Creates, reactivations and updates of a
	// skipped entry still wait until it can be mapped.
	Disabled bool `json:"disabled,omitempty"`
	// Withdrawn marks an entry a Streamer had already emitted as a user before
	// finding it must be skipped (see Streamer).
	Withdrawn bool `json:"-"`
}

// Streamer is implemented by sources that can hand over users one at a time
// as they are read, so that a run need not hold the whole directory. The
// reconciler uses it, with the Store's summaries, for every run but a full
// reconcile.
type Streamer interface {
	// Stream calls emit for every user in scope (normalized, in no
	// particular order) and returns the skipped entries. An error from emit
	// stops the read and is returned.
	//
	// Error contract: as Read's. An error means the read was incomplete and
	// nothing emitted may be taken as the directory.
	//
	// A user can be withdrawn after it was emitted, when a later entry shares
	// its ID, username or email: both are then skipped, and the emitted one is
	// in the returned list with Withdrawn set and its ID.
	Stream(ctx context.Context, emit func(user.User) error) ([]Skip, error)
}

// SummaryStore reads the snapshot in its compact form and single records by
// ID. It is part of every Store: with a Streamer, the reconciler holds one
// user.Summary per managed user and full records only for the users that
// changed, and a change-event run reads only the records it names.
type SummaryStore interface {
	// Summaries calls fn with every record's summary, ordered by ID.
	Summaries(ctx context.Context, fn func(user.Summary) error) error
	// Records returns the records of the given IDs that exist, ordered by ID.
	Records(ctx context.Context, ids []string) ([]user.Record, error)
	// Managed counts the records active on the platform.
	Managed(ctx context.Context) (int, error)
}

// Target is the platform's User Management API.
//
// Error contract: an error whose chain holds a value with a method
// `NotFound() bool` returning true means the account does not exist; one with
// `Conflict() bool` returning true means a create collided with an existing
// account (SCIM 409, uniqueness); one with `PlatformFault() bool` returning
// true means the platform as a whole cannot be used (credentials refused, TLS
// failure, unreachable): the apply stops at the first one and counts it
// against no user (see PlatformError); a `Remedy() string` method on the same
// value, if any, says what to fix. Every other error is a failure of that one
// change: it is recorded and retried on the next run.
type Target interface {
	// Create creates u (u.ID becomes the externalId) and returns the new account.
	Create(ctx context.Context, u user.User) (user.Account, error)
	// Update replaces the managed attributes of account platformID with u's.
	// It need not change the account's active state.
	Update(ctx context.Context, platformID string, u user.User) error
	// SetActive activates or deactivates (archives) an account.
	SetActive(ctx context.Context, platformID string, active bool) error
	// Delete removes an account (on_removed: delete).
	Delete(ctx context.Context, platformID string) error
	// Lookup finds the account whose key (user.MatchExternalID, MatchUserName or
	// MatchEmail; userName and email compare case-insensitively) equals value.
	// It returns a NotFound error when there is none, and an error whose
	// chain holds a value with `LookupRefused() bool` returning true when the
	// platform cannot look accounts up by key (it refused the filter): the
	// reconciler then tries its next key and looks in a listing (Lister).
	Lookup(ctx context.Context, key, value string) (user.Account, error)
}

// Lister is implemented by targets that can list every account. The reconciler
// uses it to adopt many accounts with one paged read instead of one Lookup each.
type Lister interface {
	// List calls fn for every account on the platform. An error from fn stops
	// the listing and is returned.
	List(ctx context.Context, fn func(user.Account) error) error
}

// MetaStore keeps small named values with the snapshot. It is part of every
// Store: the reconciler keeps there what its safety rules need across runs
// (the removals made since the directory was last read in full, when the
// last full reconcile ran).
type MetaStore interface {
	// GetMeta returns the value stored under key, and whether there is one.
	// An error means the value could not be read, not that there is none.
	GetMeta(ctx context.Context, key string) (string, bool, error)
	// SetMeta stores value under key, replacing any previous value. When it
	// returns nil the value is durable.
	SetMeta(ctx context.Context, key, value string) error
}

// Pruner keeps the Store's history bounded; it is part of every Store: the
// engine calls Prune at the end of every run it recorded (not in a dry run),
// to drop the runs and journal entries past their retention. A failure is
// told to Options.Warn: the run itself is done.
type Pruner interface {
	Prune(ctx context.Context) error
}

// Store is the snapshot: what dirsync last pushed, plus runs and the journal.
// Every capability a run's safety depends on is part of it, so that a store
// lacking one does not build (never a fallback to reading every record, or
// a check silently skipped).
type Store interface {
	SummaryStore
	MetaStore
	IntentStore
	Pruner
	ArchivedStore
	IdentifierStore
	FormerHolderStore
	GroupStore
	// Snapshot returns every record.
	Snapshot(ctx context.Context) ([]user.Record, error)
	// BeginRun records the start of a run and returns its ID.
	BeginRun(ctx context.Context, mode string) (int64, error)
	// Save appends e to run's journal and, when rec is not nil, upserts rec (keyed
	// by rec.User.ID), both in one transaction. When Save returns nil both are
	// durable.
	Save(ctx context.Context, run int64, e user.Entry, rec *user.Record) error
	// FinishRun records a run's outcome ("success", "failed", "refused"), its
	// counts by kind and its error text.
	FinishRun(ctx context.Context, run int64, outcome string, counts map[string]int, errText string) error
}

// IsNotFound reports whether err means "no such account" (see Target).
func IsNotFound(err error) bool {
	var e interface{ NotFound() bool }
	return errors.As(err, &e) && e.NotFound()
}

// IsConflict reports whether err means "the account already exists" (see Target).
func IsConflict(err error) bool {
	var e interface{ Conflict() bool }
	return errors.As(err, &e) && e.Conflict()
}

// IsPlatformFault reports whether err means the platform as a whole cannot be
// used (see Target).
func IsPlatformFault(err error) bool {
	var e interface{ PlatformFault() bool }
	return errors.As(err, &e) && e.PlatformFault()
}

// IsLookupRefused reports whether err means the platform cannot look accounts
// up by the key asked (see Target.Lookup).
func IsLookupRefused(err error) bool {
	var e interface{ LookupRefused() bool }
	return errors.As(err, &e) && e.LookupRefused()
}
