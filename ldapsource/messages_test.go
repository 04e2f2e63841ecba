package ldapsource

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/dirsync/dirsync/internal/slapdtest"
)

// wantErrorSaysWhatToDo fails unless err is a complete sentence: it holds
// every part and does not end with an empty LDAP diagnostic (`"No Such
// Object": `).
func wantErrorSaysWhatToDo(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	t.Logf("error: %s", msg)
	if strings.HasSuffix(strings.TrimSpace(msg), ":") || strings.Contains(msg, `": :`) || strings.Contains(msg, `": (`) ||
		strings.Contains(msg, `": )`) {
		t.Errorf("error has an empty LDAP diagnostic: %q", msg)
	}
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("error %q does not contain %q", msg, p)
		}
	}
}

func TestFetch_MissingBaseDNSaysToCheckTheBaseDN(t *testing.T) {
	srv := slapdtest.Start(t)
	for _, fast := range []bool{true, false} {
		c := readerConfig(srv, "ou=missing,"+srv.BaseDN())
		c.FastRead = fast
		_, _, err := newSource(t, c).Fetch(context.Background())
		if !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			t.Fatalf("fast_read %v: error %v, want no such object", fast, err)
		}
		wantErrorSaysWhatToDo(t, err, "ou=missing,"+srv.BaseDN(), "does not exist", "ldap.base_dn")
	}
}

func TestFetch_MissingBaseDNWithDisabledFilterIsABaseDNProblem(t *testing.T) {
	srv := slapdtest.Start(t)
	c := readerConfig(srv, "ou=missing,"+srv.BaseDN())
	c.DisabledFilter = srv.LockedFilter()
	_, _, err := newSource(t, c).Fetch(context.Background())
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		t.Fatalf("error %v, want no such object", err)
	}
	wantErrorSaysWhatToDo(t, err, "ldap.base_dn")
	if strings.Contains(err.Error(), "disabled") {
		t.Errorf("a missing base DN blamed on the disabled users' search: %v", err)
	}
}

func TestFetch_LDAPSToAPlainPortSaysTheServerDidNotSpeakTLS(t *testing.T) {
	srv := slapdtest.Start(t)
	u, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	c := readerConfig(srv, srv.BaseDN())
	c.URL = "ldaps://" + u.Host
	c.AllowPlaintext = false
	_, _, err = newSource(t, c).Fetch(context.Background())
	wantErrorSaysWhatToDo(t, err, c.URL, "did not speak TLS", "start_tls", "636")
}
