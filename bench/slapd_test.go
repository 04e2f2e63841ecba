package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// heldDirectoryLDIF is the benchmark directory built the simple way, in
// memory: each user's groups, and each group's members collected from them.
func heldDirectoryLDIF(n, m int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dn: %s\nobjectClass: organizationalUnit\nou: people\n\n", peopleOU)
	fmt.Fprintf(&b, "dn: %s\nobjectClass: organizationalUnit\nou: groups\n\n", groupsOU)
	members := make([][]string, m)
	for i := range n {
		uid := userUID(i)
		dn := "uid=" + uid + "," + peopleOU
		fmt.Fprintf(&b, "dn: %s\nobjectClass: inetOrgPerson\nuid: %s\ncn: User %d\nsn: Number %d\n"+
			"givenName: User\ndisplayName: User %d\nmail: %s@example.com\ndepartmentNumber: Dept %d\ntitle: Engineer\n",
			dn, uid, i, i, i, uid, i%20)
		var gs []int
		for k := range min(3, m) {
			if g := (i + k*7) % m; !slices.Contains(gs, g) {
				gs = append(gs, g)
			}
		}
		for _, g := range gs {
			fmt.Fprintf(&b, "memberOf: %s\n", groupDN(g))
			members[g] = append(members[g], dn)
		}
		b.WriteString("\n")
	}
	for g := range m {
		fmt.Fprintf(&b, "dn: %s\nobjectClass: groupOfNames\ncn: group-%d\n", groupDN(g), g)
		if len(members[g]) == 0 {
			fmt.Fprintf(&b, "member: %s\n", peopleOU)
		}
		for _, dn := range members[g] {
			fmt.Fprintf(&b, "member: %s\n", dn)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestWriteDirectoryLDIF_WritesTheDirectoryWithoutHoldingItsGroups(t *testing.T) {
	for _, n := range []int{0, 1, 5, 13, 1000} {
		for _, m := range []int{0, 1, 2, 3, 7, 14, 20, 21, 200} {
			var b strings.Builder
			if err := writeDirectoryLDIF(&b, n, m); err != nil {
				t.Fatal(err)
			}
			if want := heldDirectoryLDIF(n, m); b.String() != want {
				t.Errorf("n=%d m=%d: the streamed LDIF differs from the one held in memory", n, m)
			}
		}
	}
}
