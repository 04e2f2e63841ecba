package ldapsource

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/dirsync/dirsync/user"
)

// dedup hands mapped entries on as users as they arrive, and skips every
// entry that shares an ID, a username or an email (case-insensitively) with
// another: which one is right cannot be known. An entry is passed on when it
// arrives if nothing seen so far collides with it; when a later entry
// collides, the earlier one is withdrawn (see sync.Streamer).
//
// It keeps per entry its DN, its ID and three map keys, not the user.
type dedup struct {
	emit    func(user.User) error
	refs    []entryRef
	first   [len(dupFields)]map[string]int32   // value → first entry holding it
	groups  [len(dupFields)]map[string][]int32 // value → every entry holding it, when two or more do
	skipped []Skipped                          // entries with a reason of their own
}

type entryRef struct {
	dn, id  string
	emitted bool
}

// dupFields are the values that must be unique, in the order their reasons
// are given.
var dupFields = [...]struct {
	name string
	key  func(user.User) string
}{
	{"ID", func(u user.User) string { return u.ID }},
	{"username", func(u user.User) string { return strings.ToLower(u.Username) }},
	{"email", func(u user.User) string { return strings.ToLower(u.Email) }},
}

func newDedup(emit func(user.User) error) *dedup {
	d := &dedup{emit: emit}
	for f := range dupFields {
		d.first[f] = make(map[string]int32)
		d.groups[f] = make(map[string][]int32)
	}
	return d
}

// add takes the next entry.
func (d *dedup) add(e mapped) error {
	if e.reason != "" {
		d.skipped = append(d.skipped, Skipped{DN: e.u.DN, ID: e.u.ID, Reason: e.reason})
		return nil
	}
	i := int32(len(d.refs))
	d.refs = append(d.refs, entryRef{dn: e.u.DN, id: e.u.ID})
	dup := false
	for f, field := range dupFields {
		k := field.key(e.u)
		if k == "" {
			continue
		}
		j, seen := d.first[f][k]
		switch {
		case !seen:
			d.first[f][k] = i
			continue
		case d.groups[f][k] == nil:
			d.groups[f][k] = []int32{j, i}
		default:
			d.groups[f][k] = append(d.groups[f][k], i)
		}
		dup = true
	}
	if dup {
		return nil
	}
	d.refs[i].emitted = true
	return d.emit(e.u)
}

// result returns the skipped entries, ordered by DN; those already emitted
// are marked Withdrawn.
func (d *dedup) result() []Skipped {
	reasons := make(map[int32][]string)
	for f, field := range dupFields {
		for _, k := range slices.Sorted(maps.Keys(d.groups[f])) {
			idx := d.groups[f][k]
			for _, i := range idx {
				var others []string
				for _, j := range idx {
					if j != i {
						others = append(others, d.refs[j].dn)
					}
				}
				reasons[i] = append(reasons[i], fmt.Sprintf("duplicate %s %q (also on %s)", field.name, k, strings.Join(others, "; ")))
			}
		}
	}
	out := slices.Clip(d.skipped)
	for i, r := range d.refs {
		if rs := reasons[int32(i)]; len(rs) > 0 {
			out = append(out, Skipped{DN: r.dn, ID: r.id, Reason: strings.Join(rs, "; "), Withdrawn: r.emitted})
		}
	}
	slices.SortFunc(out, func(a, b Skipped) int { return strings.Compare(a.DN, b.DN) })
	return out
}

// resolveDuplicates splits entries into users, sorted by ID, and skipped
// entries, sorted by DN (see dedup).
func resolveDuplicates(entries []mapped) ([]user.User, []Skipped) {
	users := make([]user.User, 0, len(entries))
	d := newDedup(func(u user.User) error { users = append(users, u); return nil })
	for _, e := range entries {
		_ = d.add(e) // emit never fails
	}
	return withoutWithdrawn(users, d.result())
}

// withoutWithdrawn drops the withdrawn users and sorts the rest by ID.
func withoutWithdrawn(users []user.User, skipped []Skipped) ([]user.User, []Skipped) {
	withdrawn := make(map[string]bool)
	for i := range skipped {
		if skipped[i].Withdrawn {
			withdrawn[skipped[i].ID] = true
			skipped[i].Withdrawn = false
		}
	}
	if len(withdrawn) > 0 {
		users = slices.DeleteFunc(users, func(u user.User) bool { return withdrawn[u.ID] })
	}
	slices.SortFunc(users, func(a, b user.User) int { return strings.Compare(a.ID, b.ID) })
	return users, skipped
}
