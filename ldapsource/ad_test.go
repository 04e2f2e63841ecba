// Samba's self-made certificate has a negative serial number; dirsync's main
// package accepts it (cmd/dirsync/main.go), and so must this test binary.
//
//go:debug x509negativeserial=1

package ldapsource

// Active Directory semantics, tested against a real Samba AD DC. These tests
// run only with DIRSYNC_AD_TESTS=1 (scripts/test-ad.sh); see internal/sambatest.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/dirsync/dirsync/internal/sambatest"
	"github.com/dirsync/dirsync/user"
)

// adConfig reads base as Administrator with the settings the README
// recommends for Active Directory.
func adConfig(s *sambatest.Server, base string) Config {
	c := Default()
	c.URL = s.URL()
	c.AllowPlaintext = true
	c.BindDN = s.AdminDN()
	c.BindPassword = s.AdminPassword()
	c.BaseDN = base
	c.UserFilter = "(&(objectCategory=person)(objectClass=user))"
	c.IDAttribute = "objectGUID"
	c.Attributes.Username = "sAMAccountName"
	return c
}

func guidOf(t *testing.T, s *sambatest.Server, dn string) string {
	t.Helper()
	id, err := FormatGUID(s.GetRaw(t, dn, "objectGUID"))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func byUsername(users []user.User, name string) (user.User, bool) {
	i := slices.IndexFunc(users, func(u user.User) bool { return strings.EqualFold(u.Username, name) })
	if i < 0 {
		return user.User{}, false
	}
	return users[i], true
}

func TestAD_ObjectGUIDIsTheIDAndSurvivesRenamesAndMoves(t *testing.T) {
	s := sambatest.Start(t)
	root := s.AddOU(t, "people")
	staff := "OU=staff," + root
	s.Add(t, staff, map[string][]string{"objectClass": {"organizationalUnit"}})
	dn := s.AddUser(t, root, sambatest.UserSpec{SAM: "jdoe", UPN: "jdoe@dirsync.test", Mail: "jdoe@dirsync.test", GivenName: "Jane", SN: "Doe"})
	id := guidOf(t, s, dn)

	users, _ := fetch(t, adConfig(s, root))
	if len(users) != 1 {
		t.Fatalf("read %d users, want 1", len(users))
	}
	u := users[0]
	if u.ID != id || u.Username != "jdoe" || u.Email != "jdoe@dirsync.test" || u.GivenName != "Jane" || u.FamilyName != "Doe" || !u.Active {
		t.Fatalf("user = %+v, want ID %s (objectGUID), jdoe, jdoe@dirsync.test, Jane Doe, active", u, id)
	}

	// Marriage: new sAMAccountName, UPN, mail and surname, and a move to
	// another OU with a new CN.
	s.Replace(t, dn, map[string][]string{
		"sAMAccountName":    {"jsmith"},
		"userPrincipalName": {"jsmith@dirsync.test"},
		"mail":              {"jsmith@dirsync.test"},
		"sn":                {"Smith"},
	})
	moved := s.Move(t, dn, "Jane Smith", staff)

	users, _ = fetch(t, adConfig(s, root))
	if len(users) != 1 {
		t.Fatalf("read %d users after the rename, want 1", len(users))
	}
	u = users[0]
	if u.ID != id {
		t.Fatalf("ID = %s after rename and move, want the unchanged objectGUID %s", u.ID, id)
	}
	if u.Username != "jsmith" || u.Email != "jsmith@dirsync.test" || u.FamilyName != "Smith" || dnKey(u.DN) != dnKey(moved) {
		t.Fatalf("user = %+v, want jsmith, jsmith@dirsync.test, Smith at %s", u, moved)
	}
}

func TestAD_DisabledBitMakesUsersInactiveAndComputersAreNotUsers(t *testing.T) {
	s := sambatest.Start(t)
	ou := s.AddOU(t, "uac")
	s.AddUser(t, ou, sambatest.UserSpec{SAM: "active", Mail: "active@dirsync.test", SN: "A"})
	s.AddUser(t, ou, sambatest.UserSpec{SAM: "off", Mail: "off@dirsync.test", SN: "B", Disabled: true})
	later := s.AddUser(t, ou, sambatest.UserSpec{SAM: "later", Mail: "later@dirsync.test", SN: "C"})
	s.Add(t, "CN=WS01,"+ou, map[string][]string{"objectClass": {"computer"}, "sAMAccountName": {"WS01$"}})

	users, skipped := fetch(t, adConfig(s, ou))
	if len(skipped) != 0 {
		t.Fatalf("skipped = %+v, want none", skipped)
	}
	if got, want := usernames(users), []string{"active", "later", "off"}; !slices.Equal(got, want) {
		t.Fatalf("usernames = %v, want %v (the computer account must not be read)", got, want)
	}
	for _, tc := range []struct {
		name   string
		active bool
	}{{"active", true}, {"off", false}, {"later", true}} {
		if u, _ := byUsername(users, tc.name); u.Active != tc.active {
			t.Errorf("%s: Active = %v, want %v", tc.name, u.Active, tc.active)
		}
	}

	s.Disable(t, later)
	users, _ = fetch(t, adConfig(s, ou))
	if u, _ := byUsername(users, "later"); u.Active {
		t.Fatalf("later: Active = true after its ACCOUNTDISABLE bit was set")
	}
}

// TestAD_LargeDirectory: 3,000 users, more than the server's MaxPageSize
// (1,000) and, as members of one group, more than its MaxValRange (1,500).
func TestAD_LargeDirectory(t *testing.T) {
	ldif, ou, dns := sambatest.UsersLDIF("bulk", "u", 3000)
	s := sambatest.Start(t, sambatest.WithLDIF(ldif))
	groups := s.AddOU(t, "groups")
	big := s.AddGroup(t, groups, "big", dns...)
	// Scope: platform-users holds "big" through an intermediate group, plus
	// one direct member; the users outside "big" are out of scope.
	outside := s.AddOU(t, "outside")
	extra := s.AddUsers(t, outside, "x", 2)
	mid := s.AddGroup(t, groups, "mid", big)
	scope := s.AddGroup(t, groups, "platform-users", mid, extra[0])
	s.AddMembers(t, big, scope) // a cycle

	t.Run("paged search reads every user whatever the page size", func(t *testing.T) {
		for _, size := range []int{2000, 500} {
			c := adConfig(s, ou)
			c.PageSize = size
			src := newSource(t, c)
			var pages []int
			src.OnPage = func(n int) { pages = append(pages, n) }
			users, skipped, err := src.Fetch(context.Background())
			if err != nil {
				t.Fatalf("page_size %d: Fetch: %v", size, err)
			}
			if len(users) != 3000 || len(skipped) != 0 {
				t.Fatalf("page_size %d: read %d users, %d skipped; want 3000, 0", size, len(users), len(skipped))
			}
			// Samba (4.17) does not cap pages at MaxPageSize as Windows
			// does; either way every page is followed to the end.
			t.Logf("page_size %d: pages %v", size, pages)
			if len(pages) < 2 {
				t.Errorf("page_size %d: pages %v, want the read to span pages", size, pages)
			}
		}
	})

	t.Run("ranged member retrieval reads all 3,000 members", func(t *testing.T) {
		conn := s.Conn(t)
		// Samba 4.17 returns every value of a plain read of member at
		// once, where Windows ranges them (member;range=0-1499): the loop
		// below asks for ranges itself, as dirsync does on Windows.
		res, err := conn.Search(ldap.NewSearchRequest(big, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", []string{"member"}, nil))
		if err != nil || len(res.Entries) != 1 {
			t.Fatalf("read member of %s: %v", big, err)
		}
		var names []string
		for _, a := range res.Entries[0].Attributes {
			names = append(names, fmt.Sprintf("%s (%d values)", a.Name, len(a.Values)))
		}
		t.Logf("plain read of member returns %v", names)
		for _, rangeSize := range []int{0, 1000, 1500} {
			src := newSource(t, adConfig(s, ou))
			src.memberRange = rangeSize
			values, found, err := src.readMembers(context.Background(), conn, big)
			if err != nil || !found {
				t.Fatalf("range %d: readMembers: found %v, %v", rangeSize, found, err)
			}
			if len(values) != 3001 {
				t.Fatalf("range %d: read %d members of %s, want 3001", rangeSize, len(values), big)
			}
			if want := append(slices.Clone(dns), scope); !sameDNs(values, want) {
				t.Fatalf("range %d: the members read are not the 3,000 users and platform-users", rangeSize)
			}
		}
	})

	t.Run("member_of follows nested groups across ranges and cycles", func(t *testing.T) {
		c := adConfig(s, s.BaseDN())
		c.MemberOf = scope
		src := newSource(t, c)
		src.memberRange = 1000 // as Windows would range "big"
		users, _, err := src.Fetch(context.Background())
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		if len(users) != 3001 {
			t.Fatalf("read %d users in scope, want 3001 (3,000 through nested groups, 1 direct)", len(users))
		}
		if _, ok := byUsername(users, "x1"); ok {
			t.Fatalf("x1, not a member, is in scope")
		}
		if _, ok := byUsername(users, "x0"); !ok {
			t.Fatalf("x0, a direct member, is not in scope")
		}
		// The walk gives the same users as AD's LDAP_MATCHING_RULE_IN_CHAIN.
		req := ldap.NewSearchRequest(s.BaseDN(), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			"(&"+c.UserFilter+"(memberOf:1.2.840.113556.1.4.1941:="+ldap.EscapeFilter(scope)+"))", []string{"1.1"}, nil)
		res, err := s.Conn(t).SearchWithPaging(req, 1000)
		if err != nil {
			t.Fatalf("in-chain search: %v", err)
		}
		var inChain, walked []string
		for _, e := range res.Entries {
			inChain = append(inChain, e.DN)
		}
		for _, u := range users {
			walked = append(walked, u.DN)
		}
		if len(inChain) != 3001 || !sameDNs(inChain, walked) {
			t.Fatalf("LDAP_MATCHING_RULE_IN_CHAIN finds %d users, the member walk %d; want the same 3001", len(inChain), len(walked))
		}
	})

	t.Run("the group push reads ranged members and nested groups", func(t *testing.T) {
		src := newSource(t, adConfig(s, ou))
		src.memberRange = 1000 // as Windows would range "big"
		steps := 0
		src.testMemberStep = func(int, *ldap.SearchResult) error { steps++; return nil }
		groups, err := src.Groups(GroupSearch{BaseDN: groups, Filter: "(|(cn=big)(cn=platform-users))", NameAttribute: "cn", Flatten: true}).
			ReadGroups(context.Background())
		if err != nil {
			t.Fatalf("ReadGroups: %v", err)
		}
		if len(groups) != 2 {
			t.Fatalf("groups = %d, want big and platform-users", len(groups))
		}
		if steps < 3 {
			t.Errorf("%d ranged member reads; want big read in ranges of 1,000", steps)
		}
		users, _, err := src.Fetch(context.Background())
		if err != nil || len(users) != len(dns) {
			t.Fatalf("Fetch: %d users, %v", len(users), err)
		}
		want := make([]string, 0, len(users))
		for _, u := range users {
			want = append(want, u.ID)
		}
		want = user.SortedSet(want)
		for _, g := range groups {
			// platform-users holds big through mid, and x0, out of scope.
			if !slices.Equal(g.Members, want) {
				t.Errorf("%s: %d members, want the 3,000 users in scope", g.Name, len(g.Members))
			}
			if g.ID != guidOf(t, s, g.DN) {
				t.Errorf("%s: ID %s, want its objectGUID", g.Name, g.ID)
			}
		}
	})

	// Last: it stops the server.
	t.Run("a connection lost mid paged read is an error, not a smaller directory", func(t *testing.T) {
		c := adConfig(s, ou)
		c.PageSize = 500
		src := newSource(t, c)
		pages := 0
		src.OnPage = func(int) {
			if pages++; pages == 1 {
				s.Stop()
			}
		}
		users, _, err := src.Fetch(context.Background())
		if err == nil {
			t.Fatalf("Fetch returned %d users and no error after the server stopped mid-read", len(users))
		}
		if users != nil {
			t.Fatalf("Fetch returned %d users with the error %v, want none", len(users), err)
		}
		if !errors.Is(err, errConnectionLost) {
			t.Fatalf("error = %v, want it to say the connection was lost", err)
		}
	})
}

func sameDNs(a, b []string) bool {
	key := func(l []string) []string {
		out := make([]string, len(l))
		for i, dn := range l {
			out[i] = dnKey(dn)
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(key(a), key(b))
}

// Samba's self-made LDAPS certificate names the DC only in its Common Name,
// which Go (like current clients generally) does not accept as a host name:
// verification fails with an error naming the problem, and a DC needs a
// certificate with a subjectAltName, as Windows' auto-enrolled ones have.
func TestAD_LDAPSWithSambasSelfMadeCertificate(t *testing.T) {
	s := sambatest.Start(t)
	ou := s.AddOU(t, "tls")
	s.AddUser(t, ou, sambatest.UserSpec{SAM: "tls1", SN: "T"})

	c := adConfig(s, ou)
	c.URL = s.LDAPSURL()
	c.AllowPlaintext = false
	c.CAFile = s.CAFile()
	c.ServerName = "VM.dirsync.test"
	_, _, err := newSource(t, c).Fetch(context.Background())
	if err == nil {
		t.Fatal("Fetch verified a certificate without a subjectAltName")
	}
	if !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("error = %v, want it to name the certificate problem", err)
	}
	t.Logf("verification error: %v", err)

	c.CAFile = ""
	c.ServerName = ""
	c.InsecureSkipVerify = true
	users, _ := fetch(t, c)
	if got := usernames(users); !slices.Equal(got, []string{"tls1"}) {
		t.Fatalf("over LDAPS read %v, want [tls1]", got)
	}
}

// A service account named as AD admins name it, by its user principal name
// or its down-level logon name, binds and reads, with either reader; a
// wrong password by UPN is refused as such.
func TestAD_BindsByUserPrincipalNameAndByDownLevelName(t *testing.T) {
	s := sambatest.Start(t)
	svcOU := s.AddOU(t, "service")
	const password = "Svc-Dirsync-Pa55!"
	s.AddServiceAccount(t, svcOU, "svc-dirsync", password)
	people := s.AddOU(t, "people")
	s.AddUser(t, people, sambatest.UserSpec{SAM: "alice", Mail: "alice@dirsync.test"})
	s.AddUser(t, people, sambatest.UserSpec{SAM: "bob", Mail: "bob@dirsync.test"})

	for _, bind := range []string{"svc-dirsync@dirsync.test", sambatest.Domain + `\svc-dirsync`} {
		for _, fast := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/fast_read=%v", bind, fast), func(t *testing.T) {
				c := adConfig(s, people)
				c.BindDN, c.BindPassword, c.FastRead = bind, password, fast
				users, skipped, err := newSource(t, c).Fetch(context.Background())
				if err != nil {
					t.Fatalf("Fetch bound as %s: %v", bind, err)
				}
				var names []string
				for _, u := range users {
					names = append(names, u.Username)
				}
				slices.Sort(names)
				if !slices.Equal(names, []string{"alice", "bob"}) || len(skipped) != 0 {
					t.Errorf("bound as %s: users %v, skipped %v; want alice and bob", bind, names, skipped)
				}
			})
		}
	}

	c := adConfig(s, people)
	c.BindDN, c.BindPassword = "svc-dirsync@dirsync.test", "wrong-Pa55!"
	_, _, err := newSource(t, c).Fetch(context.Background())
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) || !strings.Contains(err.Error(), "svc-dirsync@dirsync.test") {
		t.Errorf("Fetch with a wrong password = %v, want invalid credentials naming the UPN", err)
	}
}
