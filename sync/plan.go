package sync

import (
	"github.com/dirsync/dirsync/user"
)

// OnRemoved says what happens to a platform account whose user left the directory
// (config `sync.on_removed`).
type OnRemoved string

const (
	RemovedArchive OnRemoved = "archive" // deactivate on the platform (default)
	RemovedDelete  OnRemoved = "delete"  // delete from the platform
	RemovedIgnore  OnRemoved = "ignore"  // leave the account as it is
)

// Reasons given with archives.
const (
	ReasonDisabled = "disabled in the directory"
	ReasonRemoved  = "removed from the directory"
)

// Change is one planned change to the platform.
type Change struct {
	Op user.Op `json:"op"`
	// User is the desired user; for a removal, the user as last pushed.
	User user.User `json:"user"`
	// PlatformID is the account's platform ID; "" for a create.
	PlatformID string `json:"platform_id,omitempty"`
	// Fields lists what changes (update, reactivate), old → new.
	Fields []user.FieldChange `json:"fields,omitempty"`
	Reason string             `json:"reason,omitempty"`
	// Attempts is how many times this user's last change has failed before.
	Attempts int `json:"attempts,omitempty"`
	// Adopt, in a dry run's create, is the existing platform account the
	// create would adopt instead (see Plan.Adoptions).
	Adopt *user.Account `json:"adopt,omitempty"`

	prev *user.Record
	// restore, in a reactivation, pushes the user's data back even when no
	// field changed (undo: the platform may have dropped it on
	// deactivation); with no prev, the account is not ours and keeps no
	// record.
	restore bool
}

// notOurs reports whether c's account is one no directory user owns: c
// leaves no record, applied or failed.
func (c Change) notOurs() bool {
	return c.Reason == ReasonUnmanaged || (c.restore && c.prev == nil)
}

// Plan is the difference between the directory and the snapshot.
type Plan struct {
	Changes []Change `json:"changes"`
	Skipped []Skip   `json:"skipped,omitempty"`
	// InScope counts the users read from the directory (active and disabled).
	InScope int `json:"in_scope"`
	// Managed counts snapshot records active on the platform.
	Managed int `json:"managed"`
	// Unchanged counts users already in step.
	Unchanged int `json:"unchanged"`
	// Quarantined lists changes not tried because the user's last
	// attempts all failed (see Options.QuarantineAfter).
	Quarantined []Change `json:"quarantined,omitempty"`
	// Drifted counts managed accounts a full reconcile found changed on the
	// platform by hand (their corrections are in Changes).
	Drifted int `json:"drifted,omitempty"`
	// Unmanaged lists the platform accounts no directory user owns (full
	// reconcile only).
	Unmanaged []user.Account `json:"unmanaged,omitempty"`
	// Missing lists the managed users whose account a full reconcile did not
	// find on the platform (deleted there by hand) and, with OnMissing
	// MissingReport, left as they are; with MissingRecreate their creates are
	// in Changes.
	Missing []Change `json:"missing,omitempty"`
	// Adoptions counts the creates of a dry run that would adopt an existing
	// platform account (Change.Adopt): found only when the target can list
	// its accounts. AdoptionsUnknown says why they could not be looked for.
	Adoptions        int    `json:"adoptions,omitempty"`
	AdoptionsUnknown string `json:"adoptions_unknown,omitempty"`
	// IdentifierMoves lists the usernames and emails the changes give a
	// directory user while the snapshot holds them for another (see
	// IdentifierMove).
	IdentifierMoves []IdentifierMove `json:"identifier_moves,omitempty"`
	// Streamed counts the creates not listed in Changes: a run that is not
	// a dry run lists its first creates (see listedCreates) and writes the
	// others, read from the directory, to a spill file, from which they are
	// applied. The journal records each.
	Streamed int `json:"streamed_creates,omitempty"`
	spill    *createSpill
}

// Size returns how many changes the plan holds, the streamed creates included.
func (p Plan) Size() int { return len(p.Changes) + p.Streamed }

// Count returns how many changes of kind op the plan holds.
func (p Plan) Count(op user.Op) int {
	n := 0
	if op == user.OpCreate {
		n = p.Streamed
	}
	for _, c := range p.Changes {
		if c.Op == op {
			n++
		}
	}
	return n
}

// Removals counts archives and deletes: the changes that take access away.
func (p Plan) Removals() int { return p.Count(user.OpArchive) + p.Count(user.OpDelete) }
