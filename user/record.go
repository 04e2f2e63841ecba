package user

import "time"

// Match keys: how an existing platform account is found for a directory user
// (config `sync.adopt_by`). Targets accept these in Lookup.
const (
	MatchExternalID = "externalId"
	MatchUserName   = "userName"
	MatchEmail      = "email"
)

// Account is a user as the platform holds it.
type Account struct {
	// PlatformID is the platform's own identifier for the account.
	PlatformID string `json:"platform_id"`
	// User is the platform's view mapped back to dirsync's fields. User.ID is the
	// account's externalId ("" when it has none). User.Active is the platform's state.
	User User `json:"user"`
}

// Status is a snapshot record's state on the platform.
type Status string

const (
	// StatusPending: seen in the directory, not yet on the platform (a create failed).
	StatusPending Status = "pending"
	// StatusActive: on the platform and active.
	StatusActive Status = "active"
	// StatusArchived: on the platform and deactivated by dirsync.
	StatusArchived Status = "archived"
	// StatusDeleted: deleted from the platform by dirsync (on_removed: delete).
	StatusDeleted Status = "deleted"
)

// Record is one row of the snapshot: what dirsync last pushed for a directory user.
type Record struct {
	// User is the record as last accepted by the platform (normalized); User.ID is
	// the snapshot key. For a pending record it is the user dirsync tried to create.
	User       User      `json:"user"`
	Hash       string    `json:"hash"`
	PlatformID string    `json:"platform_id,omitempty"`
	Status     Status    `json:"status"`
	FirstSeen  time.Time `json:"first_seen"`
	LastSeen   time.Time `json:"last_seen"`
	ArchivedAt time.Time `json:"archived_at,omitzero"`
	// Attempts counts consecutive failed changes; LastError is the latest one
	// and FailedOp its kind.
	Attempts  int    `json:"attempts,omitempty"`
	LastError string `json:"last_error,omitempty"`
	FailedOp  Op     `json:"failed_op,omitempty"`
}

// Op is the kind of a change to the platform.
type Op string

const (
	OpCreate     Op = "create"
	OpAdopt      Op = "adopt" // an existing platform account was linked instead of created
	OpUpdate     Op = "update"
	OpReactivate Op = "reactivate"
	OpArchive    Op = "archive"
	OpDelete     Op = "delete"
)

// Entry is one line of the journal, the audit trail: who, what, when, result.
type Entry struct {
	At         time.Time     `json:"at"`
	Op         Op            `json:"op"`
	UserID     string        `json:"user_id"`
	Username   string        `json:"username"`
	PlatformID string        `json:"platform_id,omitempty"`
	Fields     []FieldChange `json:"fields,omitempty"`
	Reason     string        `json:"reason,omitempty"`
	// Error is empty when the platform accepted the change.
	Error string `json:"error,omitempty"`
}

// Summary is the compact form of a snapshot record: enough to tell whether a
// directory user changed since dirsync last pushed it, without loading the
// record. A reconciler holds one per managed user in memory.
type Summary struct {
	ID         string `json:"id"`
	PlatformID string `json:"platform_id,omitempty"`
	Status     Status `json:"status"`
	// Hash is the record's User.Hash().
	Hash string `json:"hash"`
}

// FormerHolder is a username or email (Field is FieldUsername or FieldEmail)
// that directory user ID held until a change gave it another, at Until, as
// the journal tells.
type FormerHolder struct {
	ID       string    `json:"id"`
	Username string    `json:"username"`
	Field    string    `json:"field"`
	Value    string    `json:"value"`
	Until    time.Time `json:"until"`
}
