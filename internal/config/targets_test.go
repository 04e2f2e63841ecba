package config

import (
	"strings"
	"testing"
	"time"
)

const ldapOnly = `
ldap:
  url: ldaps://ldap.example.com
  bind_dn: cn=svc,dc=example,dc=com
  bind_password: secret
  base_dn: dc=example,dc=com
state:
  path: /var/lib/dirsync/state.db
sync:
  max_archive: 50
  max_archive_percent: 10
`

func TestLoad_TargetsAreDecodedOverTheDefaultsWithTheirSyncOverrides(t *testing.T) {
	cfg, err := Load(writeConfig(t, ldapOnly+`
targets:
  - name: helpdesk
    url: https://helpdesk.example.com/scim/v2
    token: ${HELPDESK_TOKEN}
  - name: crm
    type: rest
    url: https://api.crm.example.com
    token: t2
    timeout: 5s
    rest:
      list: {path: /api/v1/users, pagination: cursor, cursor_param: cursor, items: data, next_cursor: next_cursor}
      id: id
      fields: {email: email}
      active: status
      active_values: [active]
      match_by: [email]
      headers: {X-Api-Version: "2"}
      create: {method: POST, path: /api/v1/users, body: '{"email": "{{email}}"}'}
      deactivate: {method: POST, path: "/api/v1/users/{id}/archive"}
      reactivate: {method: POST, path: "/api/v1/users/{id}/unarchive"}
    sync: {max_archive: 20}
    scope: "(memberOf=cn=crm-users,ou=groups,dc=example,dc=com)"
`), MapEnv(map[string]string{"HELPDESK_TOKEN": "from-env"}))
	if err != nil {
		t.Fatal(err)
	}
	list := cfg.TargetList()
	if len(list) != 2 || list[0].Name != "helpdesk" || list[1].Name != "crm" {
		t.Fatalf("targets: %+v", list)
	}
	h, c := list[0], list[1]
	if h.Target.Type != "scim" || h.Target.Token != "from-env" || h.Target.Timeout != cfg.Target.Timeout || h.Target.Concurrency == 0 {
		t.Errorf("helpdesk: not decoded over the target defaults: type %q token %q timeout %v concurrency %d",
			h.Target.Type, h.Target.Token, h.Target.Timeout, h.Target.Concurrency)
	}
	if h.Sync.MaxArchive != 50 || c.Sync.MaxArchive != 20 || c.Sync.MaxArchivePercent != 10 {
		t.Errorf("sync: helpdesk max_archive %d (want the sync section's 50), crm %d (want its override 20) and percent %v (want 10)",
			h.Sync.MaxArchive, c.Sync.MaxArchive, c.Sync.MaxArchivePercent)
	}
	if c.Target.Timeout != 5*time.Second || c.Scope == "" {
		t.Errorf("crm: timeout %v scope %q", c.Target.Timeout, c.Scope)
	}
	if _, ok := c.Target.Rest.Headers["X-Api-Version"]; !ok {
		t.Errorf("crm: header name folded to lower case: %v", c.Target.Rest.Headers)
	}
	if h.State.Path != "/var/lib/dirsync/state.helpdesk.db" || c.State.Path != "/var/lib/dirsync/state.crm.db" {
		t.Errorf("snapshots: %s and %s, want one file per target next to state.path", h.State.Path, c.State.Path)
	}
	if got, err := cfg.SelectTargets("crm"); err != nil || len(got) != 1 || got[0].Name != "crm" {
		t.Errorf("SelectTargets(crm) = %v, %v", got, err)
	}
	if _, err := cfg.SelectTargets("nope"); err == nil || !strings.Contains(err.Error(), "helpdesk, crm") {
		t.Errorf("SelectTargets(nope): %v, want an error naming the targets", err)
	}
}

func TestLoad_TheTargetSectionIsTheTargetNamedDefault(t *testing.T) {
	cfg, err := Load(writeConfig(t, minimalConfig), MapEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	list := cfg.TargetList()
	if len(list) != 1 || list[0].Name != DefaultTarget || list[0].State != cfg.State || list[0].Target.URL != cfg.Target.URL {
		t.Errorf("TargetList() = %+v, want the target: section as %q with state.path", list, DefaultTarget)
	}
}

func TestLoad_TargetsProblemsAreNamedByTheirTarget(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, problem string
	}{
		{"both", minimalConfig + "targets:\n  - name: a\n    url: https://a.example.com\n    token: t\n", "set target: (one platform) or targets: (several), not both"},
		{"no name", ldapOnly + "targets:\n  - url: https://a.example.com\n    token: t\n", "targets[0].name: must be set"},
		{"bad name", ldapOnly + "targets:\n  - name: Help Desk\n    url: https://a.example.com\n    token: t\n", `targets[0].name: "Help Desk" must be lower-case`},
		{"same name", ldapOnly + "targets:\n  - name: a\n    url: https://a.example.com\n    token: t\n  - name: a\n    url: https://b.example.com\n    token: t\n", `targets[1].name: "a" names two targets`},
		{"no url", ldapOnly + "targets:\n  - name: a\n    token: t\n", "targets[a].url: "},
		{"unknown key", ldapOnly + "targets:\n  - name: a\n    url: https://a.example.com\n    tokn: t\n", "targets[0].tokn: unknown key (did you mean targets[0].token?)"},
		{"unknown sync key", ldapOnly + "targets:\n  - name: a\n    url: https://a.example.com\n    token: t\n    sync: {max_archiv: 3}\n", "targets[0].sync.max_archiv: unknown key (did you mean targets[0].sync.max_archive?)"},
		{"bad sync value", ldapOnly + "targets:\n  - name: a\n    url: https://a.example.com\n    token: t\n    sync: {on_removed: drop}\n", `targets[a].sync.on_removed: "drop" is not one of`},
		{"duration without unit", ldapOnly + "targets:\n  - name: a\n    url: https://a.example.com\n    token: t\n    timeout: 30\n", "timeout: 30 has no unit"},
		{"bad scope", ldapOnly + "targets:\n  - name: a\n    url: https://a.example.com\n    token: t\n    scope: memberOf=x\n", "targets[a].scope: \"memberOf=x\" is not an LDAP filter"},
		{"not a list", ldapOnly + "targets: {name: a}\n", "targets: must be a list"},
	} {
		_, err := Load(writeConfig(t, tc.yaml), MapEnv(nil))
		if err == nil || !strings.Contains(err.Error(), tc.problem) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.problem)
		}
	}
}

func TestConfig_RedactedHidesEveryTargetsToken(t *testing.T) {
	cfg, err := Load(writeConfig(t, ldapOnly+"targets:\n  - name: a\n    url: https://a.example.com\n    token: s3cr3t-a\n"), MapEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.String(); strings.Contains(s, "s3cr3t-a") {
		t.Errorf("printed config holds a target's token: %s", s)
	}
	if cfg.Targets[0].Token != "s3cr3t-a" {
		t.Errorf("Redacted changed the config itself")
	}
}
