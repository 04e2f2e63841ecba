package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// configProblems reads body as a config file and returns its problems.
func configProblems(t *testing.T, body string) (string, []string) {
	t.Helper()
	p := writeConfig(t, body)
	_, err := Load(p, nil)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("want *Error, got %v", err)
	}
	return err.Error(), ce.Problems
}

func TestLoad_LDAPProblemIsCountedOnce(t *testing.T) {
	msg, probs := configProblems(t, strings.Replace(minimalConfig, "ldaps://ldap.example.com", "htp://ldap.example.com", 1))
	if len(probs) != 1 || !strings.HasPrefix(probs[0], `ldap.url: scheme "htp"`) {
		t.Fatalf("want the one problem ldap.url, got %q", probs)
	}
	if strings.Contains(msg, "problems") || !strings.HasSuffix(msg, `: ldap.url: scheme "htp": want ldaps:// or ldap://`) {
		t.Errorf("one problem reported as %q", msg)
	}
}

func TestLoad_EverySectionReportsOneLinePerProblem(t *testing.T) {
	body := strings.NewReplacer(
		"ldaps://ldap.example.com", "htp://ldap.example.com",
		"base_dn: dc=example,dc=com", "base_dn: dc=example,dc=com\n  page_size: 0",
		"token: tok", "token: tok\n  concurrency: -1",
		"path: /tmp/state.db", `path: " /tmp/state.db"`,
	).Replace(minimalConfig) + "sync:\n  on_removed: purge\nlog:\n  level: loud\n"
	msg, probs := configProblems(t, body)
	want := []string{"ldap.url:", "ldap.page_size:", "target.concurrency:", "state.path:", "sync.on_removed:", "log.level:"}
	if len(probs) != len(want) {
		t.Errorf("%d problems, want %d: %q", len(probs), len(want), probs)
	}
	for _, p := range probs {
		if !slices.ContainsFunc(want, func(k string) bool { return strings.HasPrefix(p, k) }) {
			t.Errorf("problem %q is not named by one of the keys %q", p, want)
		}
	}
	if !strings.Contains(msg, "has 6 problems:") {
		t.Errorf("count in %q", msg)
	}
}

func TestLoad_UnknownKeySuggestionAtEveryLevel(t *testing.T) {
	for _, tc := range []struct{ name, add, want string }{
		{"top level", "schedle: \"*/5 * * * *\"\n", "schedle: unknown key (did you mean schedule?)"},
		{"section", "lgo:\n  level: info\n", "lgo.level: unknown key (did you mean log.level?)"},
		{"under a misspelt parent of a map",
			"ldap:\n  atributes:\n    extra:\n      department: department\n",
			"ldap.atributes.extra.department: unknown key (did you mean ldap.attributes.extra.department?)"},
		{"nested struct", "target:\n  rest:\n    lst:\n      path: /users\n",
			"target.rest.lst.path: unknown key (did you mean target.rest.list.path?)"},
		{"deep leaf", "target:\n  rest:\n    list:\n      pagesize: 10\n",
			"target.rest.list.pagesize: unknown key (did you mean target.rest.list.page_size?)"},
		{"inside a list", "target:\n  groups:\n    - grop: staff\n      value: g1\n",
			"target.groups[0].grop: unknown key (did you mean target.groups[0].group?)"},
		{"inside a map of structs", "target:\n  rest:\n    resolve:\n      department:\n        pth: /departments\n",
			"target.rest.resolve.department.pth: unknown key (did you mean target.rest.resolve.department.path?)"},
		{"among the keys a struct squashes in", "target:\n  rest:\n    auth:\n      schme: SSWS\n",
			"target.rest.auth.schme: unknown key (did you mean target.rest.auth.scheme?)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := minimalConfig
			// Merge the addition into its section when the section is already there.
			if sec, rest, ok := strings.Cut(tc.add, ":\n"); ok && strings.Contains(body, "\n"+sec+":\n") {
				body = strings.Replace(body, "\n"+sec+":\n", "\n"+sec+":\n"+rest, 1)
			} else {
				body += tc.add
			}
			_, probs := configProblems(t, body)
			if !slices.Contains(probs, tc.want) {
				t.Errorf("want problem %q, got %q", tc.want, probs)
			}
		})
	}
}

func TestLoad_YAMLErrorNamesTheLineAtFault(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		line       string
	}{
		{"indentation", "ldap:\n  url: ldaps://x\n  base_dn: dc=x\n\n\ntarget:\n  url: https://x\n token: t\n", "line 8:"},
		{"unclosed list", "# comment\nldap:\n  url: ldaps://x\n  base_dns: [dc=x\n\n\ntarget:\n  url: https://x\n", "line 4:"},
		{"unclosed quote", "ldap:\n  url: ldaps://x\n\ntarget:\n  url: \"https://x\n  token: t\n", "line 5:"},
		{"tab", "ldap:\n  url: ldaps://x\ntarget:\n\turl: https://x\n", "line 4:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeConfig(t, tc.body)
			_, err := Load(p, nil)
			if err == nil || !strings.Contains(err.Error(), p+": "+tc.line) {
				t.Errorf("want the error at %s, got %v", tc.line, err)
			}
		})
	}
}
