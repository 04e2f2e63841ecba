package ldapsource

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"
)

// FuzzMapEntry feeds entries with attribute values of any bytes, huge values
// and duplicated attributes to the entry → user mapping. It must never panic,
// and every user it accepts must be usable: an ID, a username, valid UTF-8
// throughout, already normalized.
func FuzzMapEntry(f *testing.F) {
	f.Add("1b4e28ba-2fa1-11d2-883f-0016d3cca427", "jdoe", "jdoe@example.com", "John", "Doe", "cn=staff,dc=example,dc=com", "512", false, false)
	f.Add("id", "ana", "", "", "", "", "514", true, false)
	f.Add("  ", "\xff\xfe", "x@\x00", "\u00e9", strings.Repeat("a", 70000), "", "not-a-number", false, true)
	f.Add("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10", "guid", "", "", "", "", "", false, true)
	f.Fuzz(func(t *testing.T, id, uid, mail, given, family, group, uac string, dup, guid bool) {
		attrs := map[string][]string{
			"entryUUID": {id}, "objectGUID": {id},
			"uid": {uid}, "mail": {mail}, "givenName": {given}, "sn": {family},
			"memberOf": {group, group}, "userAccountControl": {uac},
		}
		if dup {
			attrs["UID"] = []string{family}
			attrs["entryUUID"] = append(attrs["entryUUID"], uid)
		}
		cfg := Default()
		if guid {
			cfg.IDAttribute = "objectGUID"
		}
		e := ldap.NewEntry("uid=x,ou=people,dc=example,dc=com", attrs)
		m := newMapper(cfg).mapEntry(e, "key", false)
		if m.reason != "" {
			return
		}
		u := m.u
		if u.ID == "" || u.Username == "" {
			t.Fatalf("accepted a user without ID or username: %+v", u)
		}
		for _, s := range []string{u.ID, u.Username, u.Email, u.GivenName, u.FamilyName, u.DisplayName} {
			if !utf8.ValidString(s) {
				t.Fatalf("accepted invalid UTF-8 %q in %+v", s, u)
			}
		}
		if n := u.Normalize(); !reflect.DeepEqual(n, u) {
			t.Fatalf("accepted user is not normalized:\n got %+v\nnorm %+v", u, n)
		}
		_ = u.Hash()
	})
}
