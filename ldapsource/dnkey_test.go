package ldapsource

import (
	"fmt"
	"testing"
)

// dnKeyCases are DNs whose keys must match the ldap.ParseDN canonical form.
var dnKeyCases = []string{
	// The common case: plain, already canonical, mixed case, spaces.
	"uid=jdoe,ou=people,dc=example,dc=com",
	"UID=JDoe,OU=People,DC=Example,DC=Com",
	"uid = jdoe , ou=people,  dc=example ,dc=com",
	"  uid=jdoe,ou=people,dc=example,dc=com  ",
	"CN=John Doe,OU=Sales Team,DC=corp,DC=example",
	"cn=John  Doe ,ou= Sales Team,dc=corp",
	"cn=a=b,dc=example",     // '=' inside a value
	"cn=a = b,dc=example",   // spaces around a '=' inside a value
	"c n=x,dc=example",      // space inside a type
	"cn=,dc=example",        // empty value
	"cn=   ,dc=example",     // value of spaces only
	"cn=x",                  // one RDN
	"2.5.4.3=John,dc=com",   // numeric OID type
	"cn=O'Brien (ext),dc=x", // punctuation that needs no escaping
	// Escapes and quoting: ParseDN's path.
	`cn=Doe\, John,ou=people,dc=example,dc=com`,
	`cn=Doe\2C John,ou=people,dc=example,dc=com`,
	`cn=Doe\2c John,ou=people,dc=example,dc=com`,
	`cn=\ lead and trail\ ,dc=x`,
	`cn=trailing backslash\\ ,dc=x`,
	`cn=\#hash,dc=x`,
	`cn=a#b,dc=x`,
	`cn=#04024869,dc=x`, // BER-encoded value
	`cn=caf\C3\A9,dc=x`, // hex-escaped UTF-8
	"cn=café,dc=x",      // raw UTF-8
	"CN=CAFÉ,DC=X",
	`cn=a\+b,dc=x`,
	`cn=quote\"d,dc=x`,
	// Multi-valued RDNs: attribute order is not significant.
	"cn=John+uid=jdoe,dc=example",
	"uid=jdoe+cn=John,dc=example",
	"UID=jdoe + CN=John,DC=example",
	// Other separators and malformed DNs: ParseDN's path, including its error
	// fallback.
	"cn=a;dc=example",
	"",
	"   ",
	"cn",
	"cn=a,",
	"=a,dc=x",
	"cn=a, =b",
	",cn=a",
	"cn=a\tb,dc=x",
	`cn=a<b,dc=x`,
}

func TestDNKey_MatchesParseDNCanonicalForm(t *testing.T) {
	for _, dn := range dnKeyCases {
		if got, want := dnKey(dn), parsedDNKey(dn); got != want {
			t.Errorf("dnKey(%q) = %q, want %q (ParseDN)", dn, got, want)
		}
	}
}

func TestDNKey_EqualDNsGetEqualKeys(t *testing.T) {
	// Member values and entry DNs from the same server may differ in case and
	// insignificant spaces and escapes, and in RDN attribute order.
	groups := [][]string{
		{"uid=jdoe,ou=people,dc=example,dc=com", "UID=jdoe, OU=People, DC=example, DC=com", " uid = JDOE ,ou=people,dc=example,dc=com"},
		{`cn=Doe\, John,dc=x`, `CN=doe\2c john,dc=x`, `cn = Doe\2C John , dc=X`},
		{"cn=John+uid=jdoe,dc=x", "uid=jdoe+cn=john,dc=x", "UID = jdoe + CN = John , dc=x"},
		{"cn=café,dc=x", `cn=caf\c3\a9,dc=x`},
	}
	for _, g := range groups {
		for _, dn := range g[1:] {
			if a, b := dnKey(g[0]), dnKey(dn); a != b {
				t.Errorf("dnKey(%q) = %q but dnKey(%q) = %q: same DN, different keys", g[0], a, dn, b)
			}
		}
	}
	if dnKey("uid=jdoe,ou=people,dc=example,dc=com") == dnKey("uid=jdoe2,ou=people,dc=example,dc=com") {
		t.Error("different DNs got the same key")
	}
}

func TestFastDNKey_TakesTheCommonCaseAndDeclinesEscapes(t *testing.T) {
	for _, dn := range []string{"uid=jdoe,ou=people,dc=example,dc=com", "CN=John Doe, OU=Sales, DC=corp"} {
		if _, ok := fastDNKey(dn); !ok {
			t.Errorf("fastDNKey(%q) declined a plain DN", dn)
		}
	}
	for _, dn := range []string{`cn=Doe\, John,dc=x`, "cn=a+uid=b,dc=x", "cn=café,dc=x", "cn=#04024869,dc=x", "cn=a;dc=x", "", "cn=a,"} {
		if _, ok := fastDNKey(dn); ok {
			t.Errorf("fastDNKey(%q) took a DN that needs ParseDN", dn)
		}
	}
}

// FuzzDNKey checks the fast path against ParseDN on any input it accepts.
func FuzzDNKey(f *testing.F) {
	for _, dn := range dnKeyCases {
		f.Add(dn)
	}
	f.Fuzz(func(t *testing.T, dn string) {
		if got, ok := fastDNKey(dn); ok {
			if want := parsedDNKey(dn); got != want {
				t.Errorf("fastDNKey(%q) = %q, ParseDN gives %q", dn, got, want)
			}
		}
	})
}

func BenchmarkDNKey(b *testing.B) {
	dns := make([]string, 1000)
	for i := range dns {
		dns[i] = fmt.Sprintf("uid=user%06d,ou=People,dc=bench,dc=test", i)
	}
	b.Run("fast", func(b *testing.B) {
		for i := range b.N {
			_ = dnKey(dns[i%len(dns)])
		}
	})
	b.Run("ParseDN", func(b *testing.B) {
		for i := range b.N {
			_ = parsedDNKey(dns[i%len(dns)])
		}
	})
}
