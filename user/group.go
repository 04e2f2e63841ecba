package user

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strings"
	"time"
)

// Group is a directory group as dirsync pushes it to the platform. ID is the
// group's stable directory ID (entryUUID, objectGUID): it becomes the
// platform group's externalId, so a rename or a move is an update.
type Group struct {
	ID string `json:"id"`
	// DN is where the group was found; informational, like User.DN.
	DN string `json:"dn,omitempty"`
	// Name becomes the platform group's displayName.
	Name string `json:"name"`
	// Members are the directory IDs of the users in scope that belong to
	// the group (with nested flattening, through its subgroups too),
	// sorted and unique.
	Members []string `json:"members,omitempty"`
}

// Normalize returns g with its name trimmed and its members sorted and unique.
func (g Group) Normalize() Group {
	g.ID = strings.TrimSpace(g.ID)
	g.Name = strings.TrimSpace(g.Name)
	g.Members = SortedSet(g.Members)
	return g
}

// SortedSet returns ids sorted, without duplicates or empty values (nil when
// none are left). ids is not modified.
func SortedSet(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) == 0 {
		return nil
	}
	return out
}

// MembersHash is a digest of a sorted member set: equal hashes mean equal sets.
func MembersHash(members []string) string {
	var b []byte
	for _, m := range members {
		b = binary.AppendUvarint(b, uint64(len(m)))
		b = append(b, m...)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// GroupStatus is a snapshot group's state on the platform.
type GroupStatus string

const (
	// GroupPending: read from the directory, not yet on the platform (a create failed).
	GroupPending GroupStatus = "pending"
	// GroupActive: on the platform, kept in step.
	GroupActive GroupStatus = "active"
	// GroupDeleted: deleted from the platform by dirsync.
	GroupDeleted GroupStatus = "deleted"
)

// GroupRecord is one group of the snapshot: what dirsync last pushed for a
// directory group.
type GroupRecord struct {
	// Group is the group as last pushed; Group.Members is unused (the
	// platform members are in Members).
	Group      Group       `json:"group"`
	PlatformID string      `json:"platform_id,omitempty"`
	Status     GroupStatus `json:"status"`
	// Members are the platform ids of the accounts dirsync made members,
	// sorted; MembersHash is their MembersHash.
	Members     []string  `json:"members,omitempty"`
	MembersHash string    `json:"members_hash,omitempty"`
	FirstSeen   time.Time `json:"first_seen"`
	LastSeen    time.Time `json:"last_seen"`
	Attempts    int       `json:"attempts,omitempty"`
	LastError   string    `json:"last_error,omitempty"`
}

// PlatformGroup is a group as the platform holds it.
type PlatformGroup struct {
	PlatformID string `json:"platform_id"`
	// ExternalID is "" when the group has none.
	ExternalID string `json:"external_id,omitempty"`
	Name       string `json:"name"`
	// Members are the platform ids of its member accounts, sorted; nil
	// when they were not read.
	Members []string `json:"members,omitempty"`
}

// Match keys of a group lookup (GroupTarget.LookupGroup).
const (
	MatchGroupExternalID = "externalId"
	MatchGroupName       = "displayName"
)

// Journal operations on groups. Entry.UserID holds the group's directory ID,
// Entry.Username its name.
const (
	OpGroupCreate  Op = "group-create"
	OpGroupAdopt   Op = "group-adopt"
	OpGroupUpdate  Op = "group-update"
	OpGroupDelete  Op = "group-delete"
	OpGroupRestore Op = "group-restore"
)

// IsGroupOp reports whether op is a change to a group.
func IsGroupOp(op Op) bool { return strings.HasPrefix(string(op), "group-") }

// Field names of group changes in FieldChange.Field.
const (
	FieldGroupName    = "name"
	FieldGroupAdded   = "members.added"
	FieldGroupRemoved = "members.removed"
)
