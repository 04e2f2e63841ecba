package sync

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/dirsync/dirsync/user"
)

// only narrows a whole directory read and the whole snapshot to the user
// named (RunOptions.Only): by username or email, case-insensitively, or by
// directory ID. The skipped entries that protect (or, disabled, archive) the
// user's record go with it, as in a run over every user: the entries holding
// its ID (or one of their IDs) or, when their ID could not be read, its DN.
// The plan of the narrowed read holds that user's change only, so nobody
// else can be archived.
func only(name string, dir Directory, records []user.Record) (Directory, []user.Record, error) {
	if len(dir.Users) == 0 {
		// The whole read is empty: a wrong base DN or filter, not a leaver.
		return Directory{}, nil, errors.New("--user: the directory returned no users in scope at all; check ldap.base_dn and ldap.user_filter (`dirsync check`)")
	}
	matches := func(u user.User) bool {
		return strings.EqualFold(u.Username, name) || strings.EqualFold(u.Email, name) || u.ID == name
	}
	var out Directory
	for _, u := range dir.Users {
		if matches(u) {
			out.Users = append(out.Users, u)
		}
	}
	if len(out.Users) > 1 {
		return Directory{}, nil, fmt.Errorf("--user %s: %d directory users match; name one by username or directory ID", name, len(out.Users))
	}
	// The user's records: the one of its directory ID once the read found
	// it, else those whose username, email or ID is the name.
	id := ""
	if len(out.Users) == 1 {
		id = out.Users[0].ID
	}
	var recs []user.Record
	for _, r := range records {
		if (id != "" && r.User.ID == id) || (id == "" && matches(r.User)) {
			recs = append(recs, r)
		}
	}
	ids, dns := map[string]bool{name: true}, map[string]bool{}
	for _, r := range recs {
		ids[r.User.ID] = true
		if r.User.DN != "" {
			dns[strings.ToLower(r.User.DN)] = true
		}
	}
	for _, sk := range dir.Skipped {
		if ids[sk.ID] || slices.ContainsFunc(sk.IDs, func(id string) bool { return ids[id] }) || (sk.DN != "" && dns[strings.ToLower(sk.DN)]) {
			out.Skipped = append(out.Skipped, sk)
		}
	}
	if id == "" && len(recs) == 0 && len(out.Skipped) == 0 {
		return Directory{}, nil, fmt.Errorf("--user %s: no such user in the directory's scope or in the snapshot (match is by username, email or directory ID)", name)
	}
	if len(recs) > 1 {
		return Directory{}, nil, fmt.Errorf("--user %s: %d snapshot records match; name one by directory ID", name, len(recs))
	}
	return out, recs, nil
}
