package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/slapdtest"
)

// wantLine fails unless one line of out contains every part.
func wantLine(t *testing.T, out string, parts ...string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return
		}
	}
	t.Errorf("no line has all of %q:\n%s", parts, out)
}

// editConfig replaces old with new in the env's config file; old must occur.
func (e *env) editConfig(old, new string) {
	e.t.Helper()
	s := mustRead(e.t, e.configPath())
	if !strings.Contains(s, old) {
		e.t.Fatalf("config has no %q:\n%s", old, s)
	}
	if err := os.WriteFile(e.configPath(), []byte(strings.Replace(s, old, new, 1)), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

func TestSync_OverStartTLSAndLDAPSWithSecretsFromFilesAndEnvironment(t *testing.T) {
	t.Parallel()
	e := newEnv(t, slapdtest.WithTLS())
	pwFile := filepath.Join(e.dir, "ldap-password")
	tokenFile := filepath.Join(e.dir, "platform-token")
	for name, v := range map[string]string{pwFile: e.ldap.ReaderPassword() + "\n", tokenFile: token + "\n"} {
		if err := os.WriteFile(name, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e.editConfig("  allow_plaintext: true\n", "  start_tls: true\n  ca_file: "+e.ldap.CAFile()+"\n  page_size: 1\n")
	e.editConfig(`bind_password: "`+e.ldap.ReaderPassword()+`"`, "bind_password_file: "+pwFile)
	e.editConfig(`token: "`+token+`"`, `token: "${E2E_PLATFORM_TOKEN}"`)
	e.environ = []string{"E2E_PLATFORM_TOKEN=" + token}

	// Pages of one entry each, over StartTLS, token from the environment.
	syncUsers(t, e, "alice", "bob", "carol")

	// LDAPS, token from a file.
	e.editConfig(`url: "`+e.ldap.URL()+`"`, `url: "`+e.ldap.LDAPSURL()+`"`)
	e.editConfig("  start_tls: true\n", "")
	e.editConfig(`token: "${E2E_PLATFORM_TOKEN}"`, "token_file: "+tokenFile)
	e.addUser("dan", false)
	r := e.mustRun(0, "sync")
	wantContains(t, "stdout", r.stdout, "Plan: 1 to create (4 in scope, 3 unchanged", "1 created")
	e.account("dan")
}

func TestSync_OnRemovedDeleteDeletesLeaversAndArchivesDisabledUsers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.editConfig("sync:\n", "sync:\n  on_removed: delete\n")
	dns := syncUsers(t, e, "alice", "bob", "carol")
	bobID := e.account("bob").ID

	e.ldap.Delete(t, dns["bob"])
	e.setLocked(dns["carol"], true)
	r := e.mustRun(0, "sync")
	wantContains(t, "stdout", r.stdout, "1 archived, 1 deleted")
	wantLine(t, r.stdout, "x delete", "bob", "removed from the directory")
	wantLine(t, r.stdout, "- archive", "carol", "disabled in the directory")
	if _, ok := e.plat.Get(bobID); ok {
		t.Error("bob's account is still on the platform")
	}
	if c := e.account("carol"); c.Active {
		t.Errorf("carol: want archived, got %+v", c)
	}
	if n := len(e.plat.Accounts()); n != 2 {
		t.Errorf("want 2 accounts, got %+v", e.plat.Accounts())
	}
	e.mustRun(0, "plan")
}

func TestSync_MemberOfLimitsScopeToAGroupAndItsNestedGroups(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.addUser("alice", false)
	bob := e.addUser("bob", false)
	carol := e.addUser("carol", false)
	inner := e.ldap.AddGroup(t, e.ou, "inner", bob)
	outer := e.ldap.AddGroup(t, e.ou, "outer", alice, inner)
	e.editConfig("  timeout: 5s\n", "  timeout: 5s\n  member_of: \""+outer+"\"\n")

	r := e.mustRun(0, "sync")
	wantContains(t, "stdout", r.stdout, "2 created")
	e.account("alice")
	e.account("bob")
	if _, ok := e.plat.FindByUserName("carol"); ok {
		t.Error("carol, in no group, was created")
	}

	// Joining the nested group brings carol in scope.
	e.ldap.AddMembers(t, inner, carol)
	r = e.mustRun(0, "sync")
	wantContains(t, "stdout", r.stdout, "1 created")
	wantLine(t, r.stdout, "+ create", "carol")
}
