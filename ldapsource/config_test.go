package ldapsource

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func validConfig() Config {
	c := Default()
	c.URL = "ldaps://dc1.corp.example.com"
	c.BindDN = "cn=svc,dc=example,dc=com"
	c.BindPassword = "hunter2"
	c.BaseDN = "ou=people,dc=example,dc=com"
	return c
}

func TestValidate_DefaultsWithURLAndBaseAreValid(t *testing.T) {
	if err := validConfig().Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
}

func TestValidate_ReportsEveryProblemByKey(t *testing.T) {
	c := Default()
	c.URL = "ldap://dc1.corp.example.com"
	c.BindDN = "not a dn"
	c.BaseDNs = []string{"ou=ok,dc=example,dc=com", ""}
	c.UserFilter = "(objectClass=person"
	c.DisabledFilter = "pwdAccountLockedTime=*)"
	c.PageSize = 0
	c.MemberOf = "cn=broken,,"
	c.Timeout = 0
	c.Attributes.Username = ""
	c.Attributes.Extra = map[string]string{"dept": "bad attr!"}

	err := c.Validate()
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("Validate() = %v, want a *ValidationError", err)
	}
	wantKeys := []string{
		"ldap.url:", "ldap.bind_dn:", "ldap.bind_password:", "ldap.base_dns[1]:", "ldap.user_filter:",
		"ldap.disabled_filter:", "ldap.page_size:", "ldap.member_of:", "ldap.timeout:",
		"ldap.attributes.username:", "ldap.attributes.extra.dept:",
	}
	for _, k := range wantKeys {
		if !strings.Contains(err.Error(), "\n  "+k) {
			t.Errorf("error does not report %s\n%v", k, err)
		}
	}
	if len(verr.Problems) != len(wantKeys) {
		t.Errorf("got %d problems, want %d:\n%v", len(verr.Problems), len(wantKeys), err)
	}
}

func TestValidate_PlaintextNeedsStartTLSOrOptIn(t *testing.T) {
	c := validConfig()
	c.URL = "ldap://dc1.corp.example.com:389"
	err := c.Validate()
	if err == nil {
		t.Fatal("ldap:// without start_tls or allow_plaintext validated")
	}
	for _, want := range []string{"ldap.url:", "ldap.start_tls: true", "ldap.allow_plaintext: true"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, err := New(c); err == nil {
		t.Error("New accepted ldap:// without start_tls or allow_plaintext")
	}
	for _, fix := range []func(*Config){
		func(c *Config) { c.StartTLS = true },
		func(c *Config) { c.AllowPlaintext = true },
	} {
		c := c
		fix(&c)
		if err := c.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", c, err)
		}
	}
}

func TestValidate_StartTLSWithLDAPSIsAnError(t *testing.T) {
	c := validConfig()
	c.StartTLS = true
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "ldap.start_tls:") {
		t.Fatalf("Validate() = %v, want an ldap.start_tls problem", err)
	}
}

func TestValidate_PageSizeBounds(t *testing.T) {
	for _, n := range []int{-1, 0, MaxPageSize + 1} {
		c := validConfig()
		c.PageSize = n
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "ldap.page_size:") {
			t.Errorf("page_size %d: Validate() = %v, want an ldap.page_size problem", n, err)
		}
	}
	for _, n := range []int{1, MaxPageSize} {
		c := validConfig()
		c.PageSize = n
		if err := c.Validate(); err != nil {
			t.Errorf("page_size %d: %v", n, err)
		}
	}
}

func TestValidate_MemberOfAcceptsDNsWithFilterSpecialCharacters(t *testing.T) {
	c := validConfig()
	c.MemberOf = `cn=R&D (core) * \5c team,ou=groups,dc=example,dc=com`
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
}

func TestValidate_BindPasswordAndFileAreExclusive(t *testing.T) {
	c := validConfig()
	c.BindPasswordFile = "/run/secrets/ldap"
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "ldap.bind_password: set either") {
		t.Fatalf("Validate() = %v, want an exclusive-password problem", err)
	}
}

func TestConfig_PrintingNeverShowsThePassword(t *testing.T) {
	c := validConfig()
	for _, s := range []string{c.String(), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%v", &c), c.Redacted().BindPassword} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("printed config shows the password: %s", s)
		}
	}
	if !strings.Contains(c.String(), "dc1.corp.example.com") {
		t.Errorf("String() = %q, want the rest of the config", c.String())
	}
	if c.BindPassword != "hunter2" {
		t.Error("Redacted modified the original")
	}
	src, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprintf("%+v %#v", src, src); strings.Contains(s, "hunter2") {
		t.Errorf("printed Source shows the password: %s", s)
	}
}

func TestValidate_BindDNAcceptsDNsUPNsAndDownLevelNames(t *testing.T) {
	for _, tc := range []struct{ bind, form string }{
		{"CN=svc-dirsync,OU=Service,DC=corp,DC=example,DC=com", BindFormDN},
		{"cn=reader,dc=example,dc=com", BindFormDN},
		{"svc-dirsync@corp.example.com", BindFormUPN},
		{"svc.dirsync@CORP", BindFormUPN},
		{`CORP\svc-dirsync`, BindFormDownLevel},
		{`corp-eu\svc.dirsync`, BindFormDownLevel},
	} {
		c := validConfig()
		c.BindDN = tc.bind
		if err := c.Validate(); err != nil {
			t.Errorf("bind_dn %q: Validate() = %v, want valid", tc.bind, err)
		}
		if form, err := BindNameForm(tc.bind); err != nil || form != tc.form {
			t.Errorf("BindNameForm(%q) = %q, %v; want %q", tc.bind, form, err, tc.form)
		}
	}
}

func TestValidate_BindDNRefusesMalformedNamesAndSaysWhichFormsAreAccepted(t *testing.T) {
	for _, bind := range []string{
		"not a dn",
		"svc-dirsync",
		"cn=svc,,dc=example",
		"@corp.example.com",
		"svc-dirsync@",
		"svc@corp..example.com",
		"svc@corp example.com",
		"svc@@corp.example.com",
		`\svc-dirsync`,
		`CORP\`,
		`CORP\svc\dirsync`,
		`CORP\svc@corp.example.com`,
		`CO*RP\svc`,
		`A-NETBIOS-NAME-TOO-LONG\svc`,
		`CORP\svc:x`,
	} {
		c := validConfig()
		c.BindDN = bind
		err := c.Validate()
		if err == nil {
			t.Errorf("bind_dn %q validated", bind)
			continue
		}
		for _, want := range []string{"ldap.bind_dn:", "CN=svc-dirsync,OU=Service,DC=corp,DC=example,DC=com", "svc-dirsync@corp.example.com", `CORP\svc-dirsync`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("bind_dn %q: error %q does not mention %q", bind, err, want)
			}
		}
	}
}
