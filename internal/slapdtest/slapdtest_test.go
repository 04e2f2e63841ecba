package slapdtest_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/slapdtest"
	"github.com/go-ldap/ldap/v3"
)

func TestStart_ServesEntriesAndMaintainsMemberOf(t *testing.T) {
	s := slapdtest.Start(t)
	ou := s.AddOU(t, "people")
	alice := s.AddUser(t, ou, slapdtest.UserSpec{UID: "alice", Mail: "alice@example.com"})
	group := s.AddGroup(t, ou, "staff", alice)
	if id := s.EntryUUID(t, alice); len(id) != 36 {
		t.Fatalf("entryUUID = %q, want a UUID", id)
	}
	if !s.HasMemberOf() {
		t.Skip("memberof overlay not available")
	}
	res, err := s.Conn(t).Search(ldap.NewSearchRequest(alice, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"memberOf"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Entries[0].GetAttributeValues("memberOf"); len(got) != 1 || !strings.EqualFold(got[0], group) {
		t.Fatalf("memberOf = %q, want [%s]", got, group)
	}
}

func TestStart_PreloadsLDIFAndLoadsUsersOnline(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.WithLDIF(slapdtest.UsersLDIF("bulk", 50)))
	online := s.AddOU(t, "online")
	s.LoadUsers(t, online, 20)
	for base, want := range map[string]int{"ou=bulk," + s.BaseDN(): 50, online: 20} {
		res, err := s.Conn(t).Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=inetOrgPerson)", []string{"uid"}, nil))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Entries) != want {
			t.Errorf("%s holds %d users, want %d", base, len(res.Entries), want)
		}
	}
}

func TestStart_WithTLSServesLDAPSAndStartTLS(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.WithTLS())
	pem, err := os.ReadFile(s.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	cfg := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	c, err := ldap.DialURL(s.LDAPSURL(), ldap.DialWithTLSConfig(cfg))
	if err != nil {
		t.Fatalf("ldaps: %v", err)
	}
	defer c.Close()
	if err := c.Bind(s.ReaderDN(), s.ReaderPassword()); err != nil {
		t.Fatalf("bind over ldaps: %v", err)
	}
	c2, err := ldap.DialURL(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.StartTLS(cfg); err != nil {
		t.Fatalf("starttls: %v", err)
	}
}

func TestStop_MakesTheServerUnreachable(t *testing.T) {
	s := slapdtest.Start(t)
	s.Stop()
	if c, err := ldap.DialURL(s.URL()); err == nil {
		c.Close()
		t.Fatal("dial after Stop succeeded")
	}
}

func TestEntriesSent_CountsTheEntriesOfSearches(t *testing.T) {
	s := slapdtest.Start(t, slapdtest.WithMonitor())
	ou := s.AddOU(t, "counted")
	s.LoadUsers(t, ou, 5)
	before := s.EntriesSent(t)
	res, err := s.Conn(t).Search(ldap.NewSearchRequest(ou, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=inetOrgPerson)", []string{"uid"}, nil))
	if err != nil || len(res.Entries) != 5 {
		t.Fatalf("search: %v entries, %v", len(res.Entries), err)
	}
	// The 5 users, and the entry of the first EntriesSent read.
	if got := s.EntriesSent(t) - before; got != 6 {
		t.Errorf("EntriesSent grew by %d over a search of 5 entries, want 6 (5 and the counter's own entry)", got)
	}
}

func TestWithLDIFFrom_LoadsWhatTheWriterWritesAfterWithLDIF(t *testing.T) {
	s := slapdtest.Start(t,
		slapdtest.WithLDIF(slapdtest.UsersLDIF("first", 3)),
		slapdtest.WithLDIFFrom(func(w io.Writer) error {
			if _, err := io.WriteString(w, "dn: ou=streamed,dc=example,dc=com\nobjectClass: organizationalUnit\nou: streamed\n\n"); err != nil {
				return err
			}
			for i := range 40 {
				if _, err := fmt.Fprintf(w, "dn: uid=s%d,ou=streamed,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: s%d\ncn: S %d\nsn: S\n\n", i, i, i); err != nil {
					return err
				}
			}
			return nil
		}))
	for base, want := range map[string]int{"ou=first," + s.BaseDN(): 3, "ou=streamed," + s.BaseDN(): 40} {
		res, err := s.Conn(t).Search(ldap.NewSearchRequest(base, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=inetOrgPerson)", []string{"1.1"}, nil))
		if err != nil {
			t.Fatalf("search %s: %v", base, err)
		}
		if len(res.Entries) != want {
			t.Errorf("%s holds %d users, want %d", base, len(res.Entries), want)
		}
	}
}

func TestWithMaxSize_SetsTheDatabasesMapSize(t *testing.T) {
	for _, c := range []struct {
		opts  []slapdtest.Option
		pages string // of 4 KiB
	}{
		{nil, "262144"}, // 1 GiB, the default
		{[]slapdtest.Option{slapdtest.WithMaxSize(8 << 30)}, "2097152"},
	} {
		s := slapdtest.Start(t, append(c.opts, slapdtest.WithMonitor())...)
		res, err := s.Conn(t).Search(ldap.NewSearchRequest("cn=Databases,cn=Monitor", ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
			"(olmMDBPagesMax=*)", []string{"olmMDBPagesMax"}, nil))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Entries) != 1 {
			t.Fatalf("%d mdb databases in cn=Monitor, want 1", len(res.Entries))
		}
		if got := res.Entries[0].GetAttributeValue("olmMDBPagesMax"); got != c.pages {
			t.Errorf("olmMDBPagesMax = %s, want %s", got, c.pages)
		}
	}
}
