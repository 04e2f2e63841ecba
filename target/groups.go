package target

import (
	"slices"
	"strings"

	"github.com/dirsync/dirsync/target/rest/profile"
)

// GroupMapping maps a directory group, by DN or by CN (case-insensitive), to a
// platform value; group "*" maps every user. It is the element of
// target.groups (SCIM Groups) and of a REST profile's mappings, one type
// declared with the profile's schema.
type GroupMapping = profile.GroupMapping

// Mapped returns the values of the mappings whose group is among groups (DNs),
// in the mappings' order, without duplicates. Group "*" matches every user.
func Mapped(maps []GroupMapping, groups []string) []string {
	out := []string{}
	for _, m := range maps {
		if strings.TrimSpace(m.Group) == "*" && !slices.Contains(out, m.Value) {
			out = append(out, m.Value)
			continue
		}
		for _, g := range groups {
			if groupMatches(m.Group, g) && !slices.Contains(out, m.Value) {
				out = append(out, m.Value)
			}
		}
	}
	return out
}

func groupMatches(want, dn string) bool {
	want, dn = strings.ToLower(strings.TrimSpace(want)), strings.ToLower(strings.TrimSpace(dn))
	if want == "*" {
		return true
	}
	if strings.Contains(want, "=") {
		return want == dn
	}
	first, _, _ := strings.Cut(dn, ",")
	cn, ok := strings.CutPrefix(first, "cn=")
	return ok && cn == want
}
