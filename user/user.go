// Package user holds the normalized person record that flows from the directory,
// through the reconciler, to the platform. It is pure data: no I/O.
//
// user.go holds User, its normalization and its canonical hash (what tells a
// changed user); record.go the types the snapshot and the platform exchange
// with the reconciler (Account, Record, Summary, Entry, Op, Status, match keys);
// platformid.go CheckPlatformID, which refuses an account id that is not one
// URL path segment. Every other package may import it; it imports no other.
package user

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"maps"
	"slices"
	"sort"
	"strings"
)

// User is one person as dirsync sees them. ID is the directory's stable identifier
// (AD objectGUID, OpenLDAP entryUUID, or a configured attribute) and never changes
// for the life of the account: a new username, email or DN is an update, not a
// new user.
type User struct {
	// ID is the stable directory ID. It becomes the platform's externalId.
	ID string `json:"id"`
	// DN is where the entry was found. It is informational: renames and moves
	// change it, and it is not part of the hash.
	DN          string `json:"dn,omitempty"`
	Username    string `json:"username"`
	Email       string `json:"email,omitempty"`
	GivenName   string `json:"given_name,omitempty"`
	FamilyName  string `json:"family_name,omitempty"`
	DisplayName string `json:"display_name,omitempty"`
	// Active is false for accounts disabled in the directory.
	Active bool `json:"active"`
	// Groups are the DNs of the groups the user belongs to (sorted, lower-cased
	// by Normalize), used for scope and role mapping.
	Groups []string `json:"groups,omitempty"`
	// Extra holds additional mapped attributes by their configured name.
	Extra map[string]string `json:"extra,omitempty"`
}

// Field names used in FieldChange.Field and in plans.
const (
	FieldUsername    = "username"
	FieldEmail       = "email"
	FieldGivenName   = "given_name"
	FieldFamilyName  = "family_name"
	FieldDisplayName = "display_name"
	FieldActive      = "active"
	FieldGroups      = "groups"
	FieldExtraPrefix = "extra."
)

// Normalize returns u in canonical form: surrounding white space trimmed, groups
// lower-cased, sorted and de-duplicated, empty extra values dropped. Two users that
// mean the same thing normalize to equal values and so hash the same.
func (u User) Normalize() User {
	u.ID = strings.TrimSpace(u.ID)
	u.Username = strings.TrimSpace(u.Username)
	u.Email = strings.TrimSpace(u.Email)
	u.GivenName = strings.TrimSpace(u.GivenName)
	u.FamilyName = strings.TrimSpace(u.FamilyName)
	u.DisplayName = strings.TrimSpace(u.DisplayName)
	if len(u.Groups) > 0 {
		gs := make([]string, 0, len(u.Groups))
		for _, g := range u.Groups {
			if g = strings.ToLower(strings.TrimSpace(g)); g != "" {
				gs = append(gs, g)
			}
		}
		sort.Strings(gs)
		u.Groups = slices.Compact(gs)
		if len(u.Groups) == 0 {
			u.Groups = nil
		}
	} else {
		u.Groups = nil
	}
	if len(u.Extra) > 0 {
		ex := make(map[string]string, len(u.Extra))
		for k, v := range u.Extra {
			if v = strings.TrimSpace(v); v != "" {
				ex[k] = v
			}
		}
		u.Extra = ex
		if len(ex) == 0 {
			u.Extra = nil
		}
	} else {
		u.Extra = nil
	}
	return u
}

// Hash is a canonical digest of everything dirsync pushes to the platform (DN
// excluded). Equal hashes mean nothing needs pushing. Call it on a normalized user.
//
// Every value is written length-prefixed and byte for byte (an encoding such as
// JSON would replace invalid UTF-8 and so make different values hash the same),
// groups in their order and extra attributes sorted by name.
func (u User) Hash() string {
	// The encoding is built in one buffer and hashed once: a directory read
	// hashes every user, and many small writes to a hash.Hash cost more than
	// the digest itself.
	var stack [512]byte
	b := stack[:0]
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	for _, s := range []string{u.ID, u.Username, u.Email, u.GivenName, u.FamilyName, u.DisplayName} {
		str(s)
	}
	if u.Active {
		b = binary.AppendUvarint(b, 1)
	} else {
		b = binary.AppendUvarint(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(u.Groups)))
	for _, g := range u.Groups {
		str(g)
	}
	b = binary.AppendUvarint(b, uint64(len(u.Extra)))
	if len(u.Extra) > 0 {
		for _, k := range slices.Sorted(maps.Keys(u.Extra)) {
			str(k)
			str(u.Extra[k])
		}
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// FieldChange is one field that differs between two versions of a user.
type FieldChange struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// Compare lists the fields that differ from old to new, in a fixed order. DN is
// not compared.
func Compare(old, new User) []FieldChange {
	var out []FieldChange
	add := func(field, a, b string) {
		if a != b {
			out = append(out, FieldChange{Field: field, Old: a, New: b})
		}
	}
	add(FieldUsername, old.Username, new.Username)
	add(FieldEmail, old.Email, new.Email)
	add(FieldGivenName, old.GivenName, new.GivenName)
	add(FieldFamilyName, old.FamilyName, new.FamilyName)
	add(FieldDisplayName, old.DisplayName, new.DisplayName)
	if old.Active != new.Active {
		out = append(out, FieldChange{Field: FieldActive, Old: boolString(old.Active), New: boolString(new.Active)})
	}
	add(FieldGroups, strings.Join(old.Groups, "; "), strings.Join(new.Groups, "; "))
	keys := make([]string, 0, len(old.Extra)+len(new.Extra))
	for k := range old.Extra {
		keys = append(keys, k)
	}
	for k := range new.Extra {
		if _, ok := old.Extra[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		add(FieldExtraPrefix+k, old.Extra[k], new.Extra[k])
	}
	return out
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// Equal reports whether a and b carry the same pushed data (DN excluded). It is
// the cheap form of a.Hash() == b.Hash() for normalized users.
func Equal(a, b User) bool {
	if a.ID != b.ID || a.Username != b.Username || a.Email != b.Email ||
		a.GivenName != b.GivenName || a.FamilyName != b.FamilyName ||
		a.DisplayName != b.DisplayName || a.Active != b.Active ||
		len(a.Groups) != len(b.Groups) || len(a.Extra) != len(b.Extra) {
		return false
	}
	for i := range a.Groups {
		if a.Groups[i] != b.Groups[i] {
			return false
		}
	}
	for k, v := range a.Extra {
		if bv, ok := b.Extra[k]; !ok || bv != v {
			return false
		}
	}
	return true
}
