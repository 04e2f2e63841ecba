package ldapsource

import (
	"testing"

	"github.com/dirsync/dirsync/internal/sambatest"
)

// The wire reader against a real Samba AD DC: binary attributes (objectGUID,
// objectSid), AD's attribute set, and, reading from the domain's root, the
// references to the configuration and DNS partitions, which both readers
// skip. Runs only with DIRSYNC_AD_TESTS=1, like ad_test.go.
func TestAD_WireReaderEqualsGoLDAP(t *testing.T) {
	s := sambatest.Start(t)
	ou := s.AddOU(t, "wire")
	s.AddUsers(t, ou, "wire", 40)
	c := adConfig(s, ou)
	c.PageSize = 9
	src := newSource(t, c)
	for _, tc := range []struct {
		name, base, filter string
		attrs              []string
		min                int
	}{
		{"users, every attribute", ou, "(objectClass=*)", []string{"*"}, 41},
		{"users, the mapper's attributes", ou, c.UserFilter, newMapper(c).attributes(), 40},
		{"the whole domain from its root, DNs", s.BaseDN(), "(objectClass=*)", noAttributes, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wire, goldap, wirePages, goldapPages := readBoth(t, src, tc.base, tc.filter, tc.attrs)
			if len(goldap) < tc.min {
				t.Fatalf("go-ldap read %d entries, want at least %d", len(goldap), tc.min)
			}
			assertSameRead(t, wire, goldap, wirePages, goldapPages)
		})
	}
}
