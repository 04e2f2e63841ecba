package e2e

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/slapdtest"
	"github.com/dirsync/dirsync/target/fake"
)

// A transform shapes what a REST platform receives; `check` shows it on
// the first users; a changed transform is planned as updates of exactly the
// users whose output changed, before any write.
func TestTransform_ShapesRESTFieldsAndAChangeIsPlannedBeforeAnyWrite(t *testing.T) {
	t.Parallel()
	const key = "ppo-key-0123456789"
	e := newEnv(t)
	plat := fake.NewREST(fake.RESTOptions{Style: fake.StylePPO, Secret: key, Seed: 1})
	useRESTProfile(t, e, "ppo.yaml", plat.StartT(t), map[string]string{"PPO_API_KEY": key})
	for _, p := range []struct{ uid, given, mail, badge string }{
		{"u1", "Alice", "Alice.Smith@Example.com", "B-1"},
		{"u2", "Bob", "Bob.Jones@Example.com", "B-2"},
		{"u3", "Carol", "Carol.White@Example.com", "B-3"},
	} {
		e.ldap.AddUser(t, e.ou, slapdtest.UserSpec{UID: p.uid, GivenName: p.given, SN: "Tester", Mail: p.mail,
			Attrs: map[string][]string{"employeeNumber": {p.badge}}})
	}
	transform := func(givenName string) {
		t.Helper()
		cfg := mustRead(t, e.configPath())
		if i := strings.Index(cfg, "transform:\n"); i >= 0 {
			cfg = cfg[:i]
		}
		cfg += "transform:\n  username: 'lower(split(email, \"@\")[0])'\n  email: lower(email)\n  given_name: '" + givenName + "'\n"
		if err := os.WriteFile(e.configPath(), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	transform(`upper(given_name) + " " + attr.employeeNumber`)

	r := e.mustRun(0, "check")
	wantContains(t, "check stdout", r.stdout,
		"transform: the first 3 users, each field as mapped → as transformed:",
		`username:      "u1" → "alice.smith"`,
		`given_name:    "Alice" → "ALICE B-1"`,
		`attr.employeeNumber: "B-1"`)
	e.mustRun(0, "sync")
	a, ok := plat.ByEmail("alice.smith@example.com")
	if !ok || a.UserName != "alice.smith" || a.GivenName != "ALICE B-1" {
		t.Fatalf("alice on the platform: %+v (found %t); accounts %+v", a, ok, plat.Users())
	}

	// Only Bob's output changes: one update is planned, nothing written.
	writes := func() int {
		n := 0
		for _, r := range plat.Requests() {
			if r.Method != http.MethodGet {
				n++
			}
		}
		return n
	}
	before := writes()
	transform(`given_name == "Bob" ? "Robert" : upper(given_name) + " " + attr.employeeNumber`)
	r = e.mustRun(2, "plan")
	wantContains(t, "plan stdout", r.stdout, "given_name: BOB B-2 → Robert", "1 to update")
	if strings.Contains(r.stdout, "alice.smith") || strings.Contains(r.stdout, "carol.white") {
		t.Errorf("plan updates users whose output did not change:\n%s", r.stdout)
	}
	if n := writes() - before; n != 0 {
		t.Errorf("plan made %d writes to the platform, want none", n)
	}
	e.mustRun(0, "sync")
	if b, _ := plat.ByEmail("bob.jones@example.com"); b.GivenName != "Robert" {
		t.Errorf("bob's first name on the platform = %q after the sync, want Robert", b.GivenName)
	}
	// The same output written differently: nothing to do.
	transform(`given_name == "Bob" ? "Robert" : join([upper(given_name), attr.employeeNumber], " ")`)
	e.mustRun(0, "plan")
}

// A bad transform is refused when the config is loaded, named by its key,
// with the expression and the position, before anything is read.
func TestTransform_BadExpressionIsAConfigError(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addUser("alice", false)
	e.cfg.extra = "transform:\n  usrname: lower(username)\n  email: 'lower(split(email \"@\")[0])'\n  given_name: 42\n"
	e.writeConfig()
	for _, cmd := range []string{"check", "sync"} {
		r := e.mustRun(1, cmd)
		wantContains(t, cmd+" output", r.stdout+r.stderr,
			"transform.usrname: unknown key (did you mean transform.username?)",
			`transform.email: "lower(split(email \"@\")[0])": unexpected token String("@") at line 1, column 19`,
			`transform.given_name: "42": gives int, want a string`)
	}
	if n := len(e.plat.Accounts()); n != 0 {
		t.Errorf("%d platform accounts after a refused config, want 0", n)
	}
}
