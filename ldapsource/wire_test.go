package ldapsource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/dirsync/dirsync/internal/slapdtest"
)

// readBoth reads base with filter and attrs through the wire reader and
// through go-ldap (search, as every other read), and returns both reads'
// entries and page sizes.
// assertSameRead checks that the wire reader read what go-ldap did: the
// same pages and the same entries.
func assertSameRead(t *testing.T, wire, goldap []*ldap.Entry, wirePages, goldapPages []int) {
	t.Helper()
	if !slices.Equal(wirePages, goldapPages) {
		t.Errorf("pages: wire %v, go-ldap %v", wirePages, goldapPages)
	}
	if len(wire) != len(goldap) {
		t.Fatalf("wire read %d entries, go-ldap %d", len(wire), len(goldap))
	}
	for i := range wire {
		if !reflect.DeepEqual(wire[i], goldap[i]) {
			t.Errorf("entry %d differs:\nwire    %s\ngo-ldap %s", i, describe(wire[i]), describe(goldap[i]))
		}
	}
}

func readBoth(t *testing.T, s *Source, base, filter string, attrs []string) (wire, goldap []*ldap.Entry, wirePages, goldapPages []int) {
	t.Helper()
	ctx := context.Background()
	err := s.wireSearch(ctx, base, filter, attrs,
		func(e *ldap.Entry) { wire = append(wire, e) }, func(n int) { wirePages = append(wirePages, n) })
	if err != nil {
		t.Fatalf("wireSearch: %v", err)
	}
	conn, closeConn, err := s.connect(ctx)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer closeConn()
	err = s.search(ctx, conn, base, filter, attrs,
		func(e *ldap.Entry) { goldap = append(goldap, e) }, func(n int) { goldapPages = append(goldapPages, n) })
	if err != nil {
		t.Fatalf("search: %v", err)
	}
	return wire, goldap, wirePages, goldapPages
}

func TestWireSearch_EntriesEqualGoLDAPs(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.WithADSchema())
	ou := srv.AddOU(t, "wire")
	photo := make([]byte, 3<<20/2) // 1.5 MiB: more than one read chunk
	for i := range photo {
		photo[i] = byte(i * 7)
	}
	srv.AddUser(t, ou, slapdtest.UserSpec{UID: "big", Attrs: map[string][]string{"jpegPhoto": {string(photo)}}})
	srv.AddUser(t, ou, slapdtest.UserSpec{
		UID: "multi", Mail: "a@example.com", DisplayName: "Zoë Ñúñez 日本語 🙂",
		Attrs: map[string][]string{
			"mail":        {"a@example.com", "b@example.com", "c@example.com"},
			"description": {"third", "first", "second", "0", " x "},
			"cn":          {"Multi", "Multiple Values", "Ünïcödé"},
			"jpegPhoto":   {"\x00", "\xff\xfe\x00\x01", "\x30\x84\x00\x00\x00\x05"},
			"audio":       {"\x00\x00\x00"},
		},
	})
	guid := []byte{0xe0, 0x04, 0x25, 0x3f, 0x89, 0x4f, 0xd3, 0x11, 0x9a, 0x0c, 0x03, 0x05, 0xe8, 0x2c, 0x33, 0x01}
	for i := range 3 {
		attrs := slapdtest.ADUserAttrs(append(guid[:15:15], byte(i)), 512+2*i)
		name := fmt.Sprintf("ad%d", i)
		attrs["cn"], attrs["sn"], attrs["sAMAccountName"] = []string{name}, []string{name}, []string{name}
		srv.Add(t, "cn="+name+","+ou, attrs)
	}
	addUsers(t, srv, ou, 40)

	c := readerConfig(srv, ou)
	c.PageSize = 7
	s := newSource(t, c)
	for _, tc := range []struct {
		name, filter string
		attrs        []string
	}{
		{"all attributes", "(objectClass=*)", []string{"*", "+"}},
		{"the mapper's attributes", "(|(objectClass=inetOrgPerson)(objectClass=user))", newMapper(c).attributes()},
		{"DNs only", "(objectClass=*)", noAttributes},
		{"mixed-case names", "(objectClass=*)", []string{"OBJECTGUID", "Mail", "jpegphoto", "entryuuid"}},
		{"no match", "(uid=nobody)", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wire, goldap, wirePages, goldapPages := readBoth(t, s, ou, tc.filter, tc.attrs)
			if tc.name != "no match" && len(goldap) < 45 {
				t.Fatalf("go-ldap read %d entries, want at least 45", len(goldap))
			}
			assertSameRead(t, wire, goldap, wirePages, goldapPages)
		})
	}

	// The values survive what follows: later reads reuse the read buffer.
	wire, _, _, _ := readBoth(t, s, ou, "(uid=big)", []string{"jpegPhoto"})
	if len(wire) != 1 || !bytes.Equal(wire[0].GetRawAttributeValue("jpegPhoto"), photo) {
		t.Fatalf("the 1.5 MiB photo did not come back intact")
	}
}

func describe(e *ldap.Entry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%q", e.DN)
	for _, a := range e.Attributes {
		fmt.Fprintf(&b, " %s=%q", a.Name, a.Values)
	}
	return b.String()
}

func TestWireSearch_FetchIsTheSameThroughEitherReader(t *testing.T) {
	srv := slapdtest.Start(t)
	ou := srv.AddOU(t, "either")
	addUsers(t, srv, ou, 25)
	srv.AddUser(t, ou, slapdtest.UserSpec{UID: "locked", Mail: "locked@example.com", Locked: true})
	srv.AddUser(t, ou, slapdtest.UserSpec{UID: "twin", Mail: "t1@example.com"})
	srv.AddUser(t, ou, slapdtest.UserSpec{UID: "TWIN2", Mail: "T1@example.com"})
	c := readerConfig(srv, ou)
	c.PageSize = 4
	c.DisabledFilter = srv.LockedFilter()
	if !c.FastRead {
		t.Fatal("ldap.fast_read is not on by default")
	}
	users, skipped, err := newSource(t, c).Fetch(context.Background())
	if err != nil {
		t.Fatalf("Fetch (wire): %v", err)
	}
	c.FastRead = false
	wantUsers, wantSkipped, err := newSource(t, c).Fetch(context.Background())
	if err != nil {
		t.Fatalf("Fetch (go-ldap): %v", err)
	}
	if len(users) != 26 || len(skipped) != 2 {
		t.Fatalf("read %d users, %d skipped; want 26 and 2", len(users), len(skipped))
	}
	if !reflect.DeepEqual(users, wantUsers) || !reflect.DeepEqual(skipped, wantSkipped) {
		t.Errorf("the readers differ:\nwire    %+v\n%+v\ngo-ldap %+v\n%+v", users, skipped, wantUsers, wantSkipped)
	}
}

func TestWireSearch_WrongPasswordIsAnError(t *testing.T) {
	srv := slapdtest.Start(t)
	ou := srv.AddOU(t, "wrongpw")
	addUsers(t, srv, ou, 2)
	c := readerConfig(srv, ou)
	c.BindPassword = "not-the-password-xyzzy"
	err := newSource(t, c).wireSearch(context.Background(), ou, c.UserFilter, nil, func(*ldap.Entry) {
		t.Error("an entry was read without a valid bind")
	}, nil)
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) || !strings.Contains(err.Error(), "invalid credentials (check ldap.bind_dn") {
		t.Fatalf("wireSearch error = %v, want invalid credentials naming ldap.bind_dn", err)
	}
	if strings.Contains(err.Error(), c.BindPassword) {
		t.Errorf("error shows the password: %v", err)
	}
}

func TestWireSearch_TLSVerifiesTheServerCertificate(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.WithTLS())
	ou := srv.AddOU(t, "wiretls")
	addUsers(t, srv, ou, 3)

	startTLS := readerConfig(srv, ou)
	startTLS.AllowPlaintext = false
	startTLS.StartTLS = true
	startTLS.CAFile = srv.CAFile()
	ldaps := startTLS
	ldaps.StartTLS = false
	ldaps.URL = srv.LDAPSURL()
	untrusted := ldaps
	untrusted.CAFile = ""
	wrongName := ldaps
	wrongName.ServerName = "dc1.corp.example.com"
	untrustedStartTLS := startTLS
	untrustedStartTLS.CAFile = ""
	skip := untrusted
	skip.InsecureSkipVerify = true

	for _, tc := range []struct {
		name    string
		c       Config
		wantErr string
	}{
		{"starttls", startTLS, ""},
		{"ldaps", ldaps, ""},
		{"insecure_skip_verify", skip, ""},
		{"ldaps, no CA", untrusted, "certificate"},
		{"ldaps, wrong server name", wrongName, "dc1.corp.example.com"},
		{"starttls, no CA", untrustedStartTLS, "certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			err := newSource(t, tc.c).wireSearch(context.Background(), ou, tc.c.UserFilter, []string{"uid"},
				func(*ldap.Entry) { n++ }, nil)
			if tc.wantErr == "" {
				if err != nil || n != 3 {
					t.Fatalf("read %d entries, %v; want 3", n, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || n != 0 {
				t.Fatalf("read %d entries, error %v; want a TLS error mentioning %q", n, err, tc.wantErr)
			}
		})
	}
}

func TestWireSearch_StartTLSAgainstServerWithoutTLSIsAnError(t *testing.T) {
	srv := slapdtest.Start(t)
	ou := srv.AddOU(t, "wirenotls")
	c := readerConfig(srv, ou)
	c.AllowPlaintext = false
	c.StartTLS = true
	err := newSource(t, c).wireSearch(context.Background(), ou, c.UserFilter, nil, func(*ldap.Entry) {}, nil)
	if err == nil || !strings.Contains(err.Error(), "ldap starttls") {
		t.Fatalf("wireSearch error = %v, want a StartTLS error", err)
	}
}

func TestWireSearch_CancelledWithinAPageIsAnError(t *testing.T) {
	srv := slapdtest.Start(t)
	ou := srv.AddOU(t, "wirecancel")
	addUsers(t, srv, ou, 30)
	c := readerConfig(srv, ou)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	err := newSource(t, c).wireSearch(ctx, ou, c.UserFilter, nil, func(*ldap.Entry) {
		if n++; n == 5 {
			cancel()
		}
	}, func(int) { t.Error("a page ended after the read was cancelled") })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("wireSearch error = %v, want context.Canceled", err)
	}
}

// BenchmarkUserSearch20k reads 20,000 users from a local slapd, discarding
// the entries, through each reader: the cost of decoding alone.
func BenchmarkUserSearch20k(b *testing.B) {
	const n = 20_000
	srv := slapdtest.Start(b, slapdtest.WithLDIF(slapdtest.UsersLDIF("bench", n)), slapdtest.WithSizeLimit(n+100))
	base := "ou=bench," + srv.BaseDN()
	c := readerConfig(srv, base)
	attrs := newMapper(c).attributes()
	for _, wire := range []bool{true, false} {
		name := map[bool]string{true: "wire", false: "go-ldap"}[wire]
		b.Run(name, func(b *testing.B) {
			c.FastRead = wire
			s, err := New(c)
			if err != nil {
				b.Fatalf("New: %v", err)
			}
			ctx := context.Background()
			conn, closeConn, err := s.connect(ctx)
			if err != nil {
				b.Fatalf("connect: %v", err)
			}
			defer closeConn()
			b.ReportAllocs()
			for b.Loop() {
				got := 0
				err := s.searchUsers(ctx, conn, base, c.UserFilter, attrs, func(*ldap.Entry) { got++ }, nil)
				if err != nil || got != n {
					b.Fatalf("read %d entries, %v; want %d", got, err, n)
				}
			}
		})
	}
}
