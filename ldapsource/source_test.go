package ldapsource

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/dirsync/dirsync/internal/slapdtest"
	"github.com/dirsync/dirsync/user"
)

// readerConfig is a configuration reading base as the server's reader
// account over plain LDAP on loopback.
func readerConfig(srv *slapdtest.Server, base string) Config {
	c := Default()
	c.URL = srv.URL()
	c.AllowPlaintext = true
	c.BindDN = srv.ReaderDN()
	c.BindPassword = srv.ReaderPassword()
	c.BaseDN = base
	c.UserFilter = "(objectClass=inetOrgPerson)"
	return c
}

func newSource(t *testing.T, c Config) *Source {
	t.Helper()
	s, err := New(c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func fetch(t *testing.T, c Config) ([]user.User, []Skipped) {
	t.Helper()
	users, skipped, err := newSource(t, c).Fetch(context.Background())
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	return users, skipped
}

func usernames(users []user.User) []string {
	var out []string
	for _, u := range users {
		out = append(out, u.Username)
	}
	slices.Sort(out)
	return out
}

func addUsers(t *testing.T, srv *slapdtest.Server, ou string, n int) []string {
	t.Helper()
	var dns []string
	for i := range n {
		uid := fmt.Sprintf("user%d", i)
		dns = append(dns, srv.AddUser(t, ou, slapdtest.UserSpec{UID: uid, Mail: uid + "@example.com", SN: "Doe"}))
	}
	return dns
}

func TestFetch_ReadsEveryUserAcrossPages(t *testing.T) {
	srv := slapdtest.Start(t)
	ou := srv.AddOU(t, "paging")
	dns := addUsers(t, srv, ou, 7)
	srv.AddOU(t, "elsewhere") // out of scope

	c := readerConfig(srv, ou)
	c.PageSize = 3
	s := newSource(t, c)
	var pages []int
	s.OnPage = func(n int) { pages = append(pages, n) }
	users, skipped, err := s.Fetch(context.Background())
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if len(skipped) != 0 {
		t.Errorf("skipped = %+v", skipped)
	}
	if want := []int{3, 3, 1}; !slices.Equal(pages, want) {
		t.Errorf("pages = %v, want %v", pages, want)
	}
	if len(users) != 7 {
		t.Fatalf("got %d users, want 7: %v", len(users), usernames(users))
	}
	byDN := make(map[string]user.User)
	for _, u := range users {
		byDN[u.DN] = u
	}
	for _, dn := range dns {
		u, ok := byDN[dn]
		if !ok {
			t.Errorf("%s missing", dn)
			continue
		}
		if want := srv.EntryUUID(t, dn); u.ID != want {
			t.Errorf("%s: ID = %q, want its entryUUID %q", dn, u.ID, want)
		}
		if !u.Active {
			t.Errorf("%s is inactive", dn)
		}
	}
	if !slices.IsSortedFunc(users, func(a, b user.User) int { return strings.Compare(a.ID, b.ID) }) {
		t.Error("users are not sorted by ID")
	}
}

func TestFetch_MapsConfiguredAttributes(t *testing.T) {
	srv := slapdtest.Start(t)
	ou := srv.AddOU(t, "mapping")
	full := srv.AddUser(t, ou, slapdtest.UserSpec{
		UID: "alice", Mail: " Alice@Example.com ", GivenName: "Alice", SN: "Liddell", DisplayName: "Alice L.",
		Attrs: map[string][]string{"title": {"Engineer"}, "departmentNumber": {"42"}},
	})
	noDisplay := srv.AddUser(t, ou, slapdtest.UserSpec{UID: "bob", CN: "Bob Common", SN: "Builder"})
	group := srv.AddGroup(t, ou, "Staff", full)

	c := readerConfig(srv, ou)
	c.Attributes.Extra = map[string]string{"title": "title", "department": "departmentNumber", "missing": "employeeType"}
	users, _ := fetch(t, c)
	if len(users) != 2 {
		t.Fatalf("got %v", usernames(users))
	}
	got := map[string]user.User{users[0].DN: users[0], users[1].DN: users[1]}

	want := user.User{
		ID: srv.EntryUUID(t, full), DN: full, Username: "alice", Email: "Alice@Example.com",
		GivenName: "Alice", FamilyName: "Liddell", DisplayName: "Alice L.", Active: true,
		Extra: map[string]string{"title": "Engineer", "department": "42"},
	}
	if srv.HasMemberOf() {
		want.Groups = []string{strings.ToLower(group)}
	}
	if a := got[full]; a.Hash() != want.Hash() || a.DN != want.DN {
		t.Errorf("alice =\n%+v\nwant\n%+v", a, want)
	}
	if b := got[noDisplay]; b.DisplayName != "Bob Common" || b.GivenName != "" || b.Extra != nil {
		t.Errorf("bob = %+v, want display name from cn, no given name, no extra", b)
	}
}

func TestFetch_DisabledFilterMarksUsersInactive(t *testing.T) {
	srv := slapdtest.Start(t)
	ou := srv.AddOU(t, "disabled")
	srv.AddUser(t, ou, slapdtest.UserSpec{UID: "active", Mail: "active@example.com"})
	srv.AddUser(t, ou, slapdtest.UserSpec{UID: "locked", Mail: "locked@example.com", Locked: true})

	c := readerConfig(srv, ou)
	c.DisabledFilter = srv.LockedFilter()
	users, skipped := fetch(t, c)
	if len(users) != 2 || len(skipped) != 0 {
		t.Fatalf("users %v, skipped %+v: want both users returned", usernames(users), skipped)
	}
	for _, u := range users {
		if want := u.Username == "active"; u.Active != want {
			t.Errorf("%s: Active = %v, want %v", u.Username, u.Active, want)
		}
	}
}

func TestFetch_MemberOfKeepsDirectAndNestedMembersAndSurvivesCycles(t *testing.T) {
	srv := slapdtest.Start(t)
	ou := srv.AddOU(t, "scope")
	d := addUsers(t, srv, ou, 5)
	outside := srv.AddOU(t, "scope-outside")
	stranger := srv.AddUser(t, outside, slapdtest.UserSpec{UID: "stranger"})

	inner := srv.AddGroup(t, ou, "inner", d[1])
	middle := srv.AddGroup(t, ou, "middle", d[2], inner)
	root := srv.AddGroup(t, ou, "root", d[0], middle, stranger, "uid=gone,"+ou)
	srv.AddMembers(t, inner, root) // cycle: root > middle > inner > root
	srv.AddGroup(t, ou, "unrelated", d[3])

	c := readerConfig(srv, ou)
	c.MemberOf = root
	users, _ := fetch(t, c)
	if got, want := usernames(users), []string{"user0", "user1", "user2"}; !slices.Equal(got, want) {
		t.Errorf("users = %v, want %v", got, want)
	}
}

func TestFetch_MemberOfGroupDNWithFilterSpecialCharacters(t *testing.T) {
	srv := slapdtest.Start(t)
	ou := srv.AddOU(t, "special")
	d := addUsers(t, srv, ou, 3)
	nested := srv.AddGroup(t, ou, `nested *) (uid=*`, d[1])
	group := srv.AddGroup(t, ou, `R&D (core) * \ team`, d[0], nested)

	c := readerConfig(srv, ou)
	c.MemberOf = group
	users, _ := fetch(t, c)
	if got, want := usernames(users), []string{"user0", "user1"}; !slices.Equal(got, want) {
		t.Errorf("users = %v, want %v (member_of %s)", got, want, group)
	}
}

func TestFetch_MemberOfMissingGroupIsAnError(t *testing.T) {
	srv := slapdtest.Start(t)
	ou := srv.AddOU(t, "nogroup")
	addUsers(t, srv, ou, 2)
	c := readerConfig(srv, ou)
	c.MemberOf = "cn=nope," + ou
	users, _, err := newSource(t, c).Fetch(context.Background())
	if err == nil || !strings.Contains(err.Error(), "ldap.member_of") {
		t.Fatalf("Fetch = %d users, %v; want an ldap.member_of error", len(users), err)
	}
}

func TestFetch_SkipsUnmappableEntriesWithReasonAndID(t *testing.T) {
	srv := slapdtest.Start(t)
	ou := srv.AddOU(t, "skips")
	good := srv.AddUser(t, ou, slapdtest.UserSpec{UID: "good", Mail: "good@example.com"})
	noUID := srv.AddUser(t, ou, slapdtest.UserSpec{CN: "No Username", Mail: "nouid@example.com"})
	dupA := srv.AddUser(t, ou, slapdtest.UserSpec{UID: "twin", Mail: "twin1@example.com"})
	dupB := "cn=twin2," + ou
	srv.Add(t, dupB, map[string][]string{"objectClass": {"inetOrgPerson"}, "cn": {"twin2"}, "sn": {"x"}, "uid": {"TWIN"}, "mail": {"twin2@example.com"}})
	mailA := srv.AddUser(t, ou, slapdtest.UserSpec{UID: "m1", Mail: "shared@example.com"})
	mailB := srv.AddUser(t, ou, slapdtest.UserSpec{UID: "m2", Mail: "Shared@Example.COM"})
	badUTF8 := srv.AddUser(t, ou, slapdtest.UserSpec{UID: "binary", Attrs: map[string][]string{"audio": {"\xff\xfe\xfd"}}})

	c := readerConfig(srv, ou)
	c.Attributes.Extra = map[string]string{"audio": "audio"}
	users, skipped := fetch(t, c)
	if len(users) != 1 || users[0].DN != good {
		t.Errorf("users = %v, want only good", usernames(users))
	}
	want := map[string]string{
		noUID:   "missing username",
		dupA:    "duplicate username",
		dupB:    "duplicate username",
		mailA:   "duplicate email",
		mailB:   "duplicate email",
		badUTF8: "invalid UTF-8 in audio",
	}
	for _, s := range skipped {
		w, ok := want[s.DN]
		if !ok {
			t.Errorf("unexpected skip %+v", s)
			continue
		}
		delete(want, s.DN)
		if !strings.Contains(s.Reason, w) {
			t.Errorf("%s skipped for %q, want %q", s.DN, s.Reason, w)
		}
		if id := srv.EntryUUID(t, s.DN); s.ID != id {
			t.Errorf("%s skipped with ID %q, want %q so its record stays protected", s.DN, s.ID, id)
		}
	}
	for dn, w := range want {
		t.Errorf("%s not skipped, want %q", dn, w)
	}
}

func TestFetch_SeveralBaseDNsAreReadOnceEach(t *testing.T) {
	srv := slapdtest.Start(t)
	a := srv.AddOU(t, "base-a")
	b := srv.AddOU(t, "base-b")
	srv.AddUser(t, a, slapdtest.UserSpec{UID: "ann"})
	srv.AddUser(t, b, slapdtest.UserSpec{UID: "ben"})
	c := readerConfig(srv, a)
	c.BaseDNs = []string{b, srv.BaseDN()} // the suffix overlaps both
	users, skipped := fetch(t, c)
	if got := usernames(users); !slices.Equal(got, []string{"ann", "ben"}) || len(skipped) != 0 {
		t.Errorf("users %v, skipped %+v; want ann and ben once", got, skipped)
	}
}

func TestFetch_MissingBaseDNIsAnError(t *testing.T) {
	srv := slapdtest.Start(t)
	c := readerConfig(srv, "ou=missing,"+srv.BaseDN())
	users, _, err := newSource(t, c).Fetch(context.Background())
	if err == nil || !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) || !strings.Contains(err.Error(), "ldap search ou=missing") {
		t.Fatalf("Fetch = %d users, %v; want a no-such-object error naming the base", len(users), err)
	}
}

func TestFetch_UnreachableServerIsAnError(t *testing.T) {
	srv := slapdtest.Start(t)
	ou := srv.AddOU(t, "gone")
	addUsers(t, srv, ou, 2)
	srv.Stop()
	users, _, err := newSource(t, readerConfig(srv, ou)).Fetch(context.Background())
	if err == nil || users != nil {
		t.Fatalf("Fetch = %d users, %v; want an error", len(users), err)
	}
}

func TestFetch_ServerStoppingMidReadIsAnErrorNotAPartialResult(t *testing.T) {
	srv := slapdtest.Start(t)
	ou := srv.AddOU(t, "drop")
	addUsers(t, srv, ou, 7)
	c := readerConfig(srv, ou)
	c.PageSize = 3
	s := newSource(t, c)
	pages := 0
	s.OnPage = func(int) {
		if pages++; pages == 1 {
			srv.Stop()
		}
	}
	users, _, err := s.Fetch(context.Background())
	if err == nil || users != nil {
		t.Fatalf("Fetch = %d users, %v; want an error", len(users), err)
	}
	if pages != 1 {
		t.Errorf("read %d pages, want 1 before the error", pages)
	}
	if !errors.Is(err, errConnectionLost) {
		t.Errorf("error = %v, want it to say the connection was lost", err)
	}
}

func TestFetch_CancelledMidReadIsAnErrorNotAPartialResult(t *testing.T) {
	srv := slapdtest.Start(t)
	ou := srv.AddOU(t, "cancel")
	addUsers(t, srv, ou, 7)
	c := readerConfig(srv, ou)
	c.PageSize = 3
	s := newSource(t, c)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.OnPage = func(int) { cancel() }
	users, _, err := s.Fetch(ctx)
	if !errors.Is(err, context.Canceled) || users != nil {
		t.Fatalf("Fetch = %d users, %v; want context.Canceled", len(users), err)
	}
}

func TestFetch_ServerSizeLimitIsAnError(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.WithSizeLimit(5))
	ou := srv.AddOU(t, "limited")
	addUsers(t, srv, ou, 7)
	c := readerConfig(srv, ou)
	c.PageSize = 3
	users, _, err := newSource(t, c).Fetch(context.Background())
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) || users != nil {
		t.Fatalf("Fetch = %d users, %v; want a size limit error", len(users), err)
	}
	if !strings.Contains(err.Error(), "size limit") {
		t.Errorf("error %q does not say what happened", err)
	}
}

func TestFetch_StartTLSAgainstServerWithoutTLSIsAnError(t *testing.T) {
	srv := slapdtest.Start(t)
	ou := srv.AddOU(t, "notls")
	c := readerConfig(srv, ou)
	c.AllowPlaintext = false
	c.StartTLS = true
	_, _, err := newSource(t, c).Fetch(context.Background())
	if err == nil || !strings.Contains(err.Error(), "ldap starttls") {
		t.Fatalf("Fetch error = %v, want a StartTLS error", err)
	}
}

func TestFetch_TLSVerifiesTheServerCertificate(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.WithTLS())
	ou := srv.AddOU(t, "tls")
	srv.AddUser(t, ou, slapdtest.UserSpec{UID: "secure"})

	startTLS := readerConfig(srv, ou)
	startTLS.AllowPlaintext = false
	startTLS.StartTLS = true
	startTLS.CAFile = srv.CAFile()
	ldaps := startTLS
	ldaps.StartTLS = false
	ldaps.URL = srv.LDAPSURL()
	for name, c := range map[string]Config{"starttls": startTLS, "ldaps": ldaps} {
		if users, _ := fetch(t, c); len(users) != 1 {
			t.Errorf("%s: got %v, want the one user", name, usernames(users))
		}
	}

	untrusted := ldaps
	untrusted.CAFile = ""
	wrongName := ldaps
	wrongName.ServerName = "dc1.corp.example.com"
	for name, c := range map[string]Config{"no CA": untrusted, "wrong server name": wrongName} {
		if _, _, err := newSource(t, c).Fetch(context.Background()); err == nil {
			t.Errorf("%s: Fetch succeeded, want a certificate error", name)
		}
	}
	skip := untrusted
	skip.InsecureSkipVerify = true
	if users, _ := fetch(t, skip); len(users) != 1 {
		t.Errorf("insecure_skip_verify: got %v", usernames(users))
	}
}

func TestFetch_BindPasswordFileAndWrongPassword(t *testing.T) {
	srv := slapdtest.Start(t)
	ou := srv.AddOU(t, "bind")
	srv.AddUser(t, ou, slapdtest.UserSpec{UID: "someone"})

	file := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(file, []byte(srv.ReaderPassword()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := readerConfig(srv, ou)
	c.BindPassword = ""
	c.BindPasswordFile = file
	if users, _ := fetch(t, c); len(users) != 1 {
		t.Errorf("got %v", usernames(users))
	}

	wrong := readerConfig(srv, ou)
	wrong.BindPassword = "not-the-password-xyzzy"
	_, _, err := newSource(t, wrong).Fetch(context.Background())
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		t.Fatalf("Fetch error = %v, want invalid credentials", err)
	}
	if strings.Contains(err.Error(), wrong.BindPassword) {
		t.Errorf("error shows the password: %v", err)
	}
}

func TestFetch_ActiveDirectoryGUIDAndUserAccountControl(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.WithADSchema())
	ou := srv.AddOU(t, "ad")
	guid := []byte{0xe0, 0x04, 0x25, 0x3f, 0x89, 0x4f, 0xd3, 0x11, 0x9a, 0x0c, 0x03, 0x05, 0xe8, 0x2c, 0x33, 0x01}
	adUser := func(name string, guid []byte, uac int) {
		attrs := slapdtest.ADUserAttrs(guid, uac)
		attrs["cn"] = []string{name}
		attrs["sn"] = []string{name}
		attrs["sAMAccountName"] = []string{name}
		attrs["mail"] = []string{name + "@corp.example.com"}
		srv.Add(t, "cn="+name+","+ou, attrs)
	}
	adUser("jdoe", guid, 512)        // NORMAL_ACCOUNT
	adUser("gone", guid2(guid), 514) // NORMAL_ACCOUNT | ACCOUNTDISABLE

	c := readerConfig(srv, ou)
	c.UserFilter = "(objectClass=user)"
	c.IDAttribute = "objectGUID"
	c.Attributes.Username = "sAMAccountName"
	users, skipped := fetch(t, c)
	if len(users) != 2 || len(skipped) != 0 {
		t.Fatalf("users %v, skipped %+v", usernames(users), skipped)
	}
	for _, u := range users {
		switch u.Username {
		case "jdoe":
			if u.ID != "3f2504e0-4f89-11d3-9a0c-0305e82c3301" || !u.Active {
				t.Errorf("jdoe = %+v, want the formatted GUID and active", u)
			}
		case "gone":
			if u.Active {
				t.Errorf("gone = %+v, want inactive (userAccountControl 514)", u)
			}
		}
	}
}

func guid2(g []byte) []byte {
	out := slices.Clone(g)
	out[15]++
	return out
}
