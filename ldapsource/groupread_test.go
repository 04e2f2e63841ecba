package ldapsource

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/dirsync/dirsync/internal/slapdtest"
	"github.com/dirsync/dirsync/user"
)

func readGroups(t *testing.T, c Config, q GroupSearch) []user.Group {
	t.Helper()
	groups, err := newSource(t, c).Groups(q).ReadGroups(context.Background())
	if err != nil {
		t.Fatalf("ReadGroups: %v", err)
	}
	return groups
}

func groupByName(t *testing.T, groups []user.Group, name string) user.Group {
	t.Helper()
	for _, g := range groups {
		if g.Name == name {
			return g
		}
	}
	t.Fatalf("no group %q among %+v", name, groups)
	return user.Group{}
}

func TestReadGroups_FlattensNestedGroupsComparesEscapedDNsAndSurvivesCycles(t *testing.T) {
	srv := slapdtest.Start(t)
	people := srv.AddOU(t, "people")
	groupsOU := srv.AddOU(t, "groups")
	alice := srv.AddUser(t, people, slapdtest.UserSpec{UID: "alice"})
	bob := srv.AddUser(t, people, slapdtest.UserSpec{UID: "bob"})
	smith := "cn=Smith\\, John," + people
	srv.Add(t, smith, map[string][]string{"objectClass": {"inetOrgPerson"}, "cn": {"Smith, John"}, "sn": {"Smith"}, "uid": {"jsmith"}})
	outside := srv.AddUser(t, srv.AddOU(t, "elsewhere"), slapdtest.UserSpec{UID: "stranger"})

	// The same DN written another way: hex escape, other case, spaces.
	smithOther := "CN=Smith\\2C John, OU=People,DC=example,DC=com"
	inner := srv.AddGroup(t, groupsOU, "inner", smithOther)
	eng := srv.AddGroup(t, groupsOU, "eng", alice, inner, outside, "uid=gone,"+people)
	srv.AddMembers(t, inner, eng) // cycle: eng > inner > eng
	uniq := "cn=uniq," + groupsOU
	srv.Add(t, uniq, map[string][]string{"objectClass": {"groupOfUniqueNames"}, "cn": {"uniq"},
		"uniqueMember": {bob + "#'0101'B", strings.ToUpper(alice)}})

	c := readerConfig(srv, people)
	q := GroupSearch{BaseDN: groupsOU, Filter: "(|(cn=eng)(cn=uniq))", NameAttribute: "cn", Flatten: true}
	groups := readGroups(t, c, q)
	if len(groups) != 2 {
		t.Fatalf("groups = %+v, want eng and uniq (inner is not selected by the filter)", groups)
	}
	id := func(dn string) string { return srv.EntryUUID(t, dn) }
	g := groupByName(t, groups, "eng")
	if want := user.SortedSet([]string{id(alice), id(smith)}); !slices.Equal(g.Members, want) {
		t.Errorf("eng members = %v, want alice and Smith, John %v", g.Members, want)
	}
	if g.ID != id(eng) || g.DN != eng {
		t.Errorf("eng = %+v, want ID %s (its entryUUID) and DN %s", g, id(eng), eng)
	}
	if u := groupByName(t, groups, "uniq"); !slices.Equal(u.Members, user.SortedSet([]string{id(alice), id(bob)})) {
		t.Errorf("uniq members = %v, want alice and bob", u.Members)
	}

	q.Flatten = false
	g = groupByName(t, readGroups(t, c, q), "eng")
	if want := []string{id(alice)}; !slices.Equal(g.Members, want) {
		t.Errorf("direct eng members = %v, want only alice %v", g.Members, want)
	}
}

func TestReadGroups_ReadsEveryMemberOfA5000MemberGroup(t *testing.T) {
	const n = 5000
	srv := slapdtest.Start(t, slapdtest.WithLDIF(slapdtest.UsersLDIF("big", n)), slapdtest.WithUnlimitedPagedReads())
	ou := "ou=big," + srv.BaseDN()
	members := make([]string, n)
	for i := range n {
		members[i] = fmt.Sprintf("uid=big-user-%06d,%s", i, ou)
	}
	groupsOU := srv.AddOU(t, "groups")
	srv.AddGroup(t, groupsOU, "everyone", members...)

	c := readerConfig(srv, ou)
	groups := readGroups(t, c, GroupSearch{BaseDN: groupsOU, Filter: "(objectClass=groupOfNames)", NameAttribute: "cn", Flatten: true})
	if len(groups) != 1 || len(groups[0].Members) != n {
		t.Fatalf("got %d groups, first with %d members; want 1 group of %d", len(groups), len(groups[0].Members), n)
	}
	if want := srv.EntryUUID(t, members[4321]); !slices.Contains(groups[0].Members, want) {
		t.Errorf("member %s (%s) missing", members[4321], want)
	}
}

func TestReadGroups_GroupWithoutNameFailsTheWholeRead(t *testing.T) {
	srv := slapdtest.Start(t)
	people := srv.AddOU(t, "people")
	groupsOU := srv.AddOU(t, "groups")
	alice := srv.AddUser(t, people, slapdtest.UserSpec{UID: "alice"})
	srv.AddGroup(t, groupsOU, "fine", alice)
	srv.AddGroup(t, groupsOU, "nameless", alice)

	c := readerConfig(srv, people)
	q := GroupSearch{BaseDN: groupsOU, Filter: "(objectClass=groupOfNames)", NameAttribute: "description", Flatten: true}
	groups, err := newSource(t, c).Groups(q).ReadGroups(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no name (attribute description)") || groups != nil {
		t.Fatalf("ReadGroups = %+v, %v; want no groups and an error naming the attribute", groups, err)
	}
}

func TestReadGroups_UnreachableDirectoryIsAnErrorNotAnEmptyRead(t *testing.T) {
	srv := slapdtest.Start(t)
	people := srv.AddOU(t, "people")
	srv.AddGroup(t, srv.AddOU(t, "groups"), "g", srv.AddUser(t, people, slapdtest.UserSpec{UID: "alice"}))
	c := readerConfig(srv, people)
	s := newSource(t, c)
	srv.Stop()
	groups, err := s.Groups(GroupSearch{Filter: "(objectClass=groupOfNames)", NameAttribute: "cn"}).ReadGroups(context.Background())
	if err == nil || groups != nil {
		t.Fatalf("ReadGroups = %+v, %v; want an error", groups, err)
	}
}

func TestGroupSearch_ValidateNamesEachKey(t *testing.T) {
	err := GroupSearch{BaseDN: "not a dn", Filter: "(cn=x", NameAttribute: "c n"}.Validate()
	for _, key := range []string{"groups.base_dn", "groups.filter", "groups.name_attribute"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("Validate = %v; want %s named", err, key)
		}
	}
	if _, perr := ldap.ParseDN("cn=ok"); perr != nil || (GroupSearch{Filter: "(cn=*)", NameAttribute: "cn"}).Validate() != nil {
		t.Error("a valid search is refused")
	}
}

func TestFetch_NestedGroupsGiveEveryGroupThatHoldsTheUser(t *testing.T) {
	srv := slapdtest.Start(t)
	people := srv.AddOU(t, "people")
	groupsOU := srv.AddOU(t, "groups")
	alice := srv.AddUser(t, people, slapdtest.UserSpec{UID: "alice"})
	bob := srv.AddUser(t, people, slapdtest.UserSpec{UID: "bob"})
	team := srv.AddGroup(t, groupsOU, "team", alice)
	admins := srv.AddGroup(t, groupsOU, "admins", team)
	top := srv.AddGroup(t, groupsOU, "top", admins)
	srv.AddMembers(t, team, top) // a cycle
	srv.AddGroup(t, groupsOU, "other", bob)

	c := readerConfig(srv, people)
	c.NestedGroups, c.GroupBaseDN = true, groupsOU
	s := newSource(t, c)
	users, _, err := s.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, u := range users {
		got[u.Username] = u.Groups
	}
	lower := func(dns ...string) []string {
		var out []string
		for _, d := range dns {
			out = append(out, strings.ToLower(d))
		}
		slices.Sort(out)
		return out
	}
	if want := lower(team, admins, top); !slices.Equal(got["alice"], want) {
		t.Errorf("alice's groups = %v, want team, admins and top %v", got["alice"], want)
	}
	if want := lower(srv.AddGroup(t, groupsOU, "late", bob)); !slices.Contains(got["bob"], strings.ToLower("cn=other,"+groupsOU)) || slices.Contains(got["bob"], want[0]) {
		t.Errorf("bob's groups = %v, want other only (late was added after the read)", got["bob"])
	}

	// A re-read of a changed user maps it as the full read does.
	again, _, _, err := s.RereadAt(context.Background(), []string{srv.EntryUUID(t, alice)}, nil)
	if err != nil || len(again) != 1 || !slices.Equal(again[0].Groups, got["alice"]) {
		t.Fatalf("RereadAt = %+v, %v; want alice with the same groups", again, err)
	}

	c.NestedGroups = false
	users, _ = fetch(t, c)
	for _, u := range users {
		if u.Username == "alice" && slices.Contains(u.Groups, strings.ToLower(admins)) {
			t.Errorf("without nested_groups alice has %v", u.Groups)
		}
	}
}

func TestReadGroups_UsesTheUsersOfTheReadBeforeItOnce(t *testing.T) {
	srv := slapdtest.Start(t)
	people := srv.AddOU(t, "people")
	groupsOU := srv.AddOU(t, "groups")
	alice := srv.AddUser(t, people, slapdtest.UserSpec{UID: "alice"})
	g := srv.AddGroup(t, groupsOU, "g", alice)

	s := newSource(t, readerConfig(srv, people))
	r := s.Groups(GroupSearch{BaseDN: groupsOU, Filter: "(cn=g)", NameAttribute: "cn", Flatten: true})
	if _, _, err := s.Fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A user added after the user read is not yet in scope for this run's
	// group read, as it is not for the run's users.
	bob := srv.AddUser(t, people, slapdtest.UserSpec{UID: "bob"})
	srv.AddMembers(t, g, bob)
	groups, err := r.ReadGroups(context.Background())
	if err != nil || len(groups) != 1 || !slices.Equal(groups[0].Members, []string{srv.EntryUUID(t, alice)}) {
		t.Fatalf("ReadGroups after the user read = %+v, %v; want alice only", groups, err)
	}
	// Without a user read before it, the group read searches the users.
	groups, err = r.ReadGroups(context.Background())
	if err != nil || len(groups) != 1 || len(groups[0].Members) != 2 {
		t.Fatalf("ReadGroups on its own = %+v, %v; want alice and bob", groups, err)
	}
}
