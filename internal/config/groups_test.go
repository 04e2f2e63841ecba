package config

import (
	"strings"
	"testing"

	dsync "github.com/dirsync/dirsync/sync"
)

func TestLoad_GroupsSectionIsDecodedWithDefaults(t *testing.T) {
	p := writeConfig(t, minimalConfig+`groups:
  push: true
  base_dn: ou=groups,dc=example,dc=com
  filter: (objectClass=groupOfNames)
  max_membership_removal: 7
`)
	cfg, err := Load(p, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	g := cfg.Groups
	if !g.Push || g.BaseDN != "ou=groups,dc=example,dc=com" || g.MaxMembershipRemoval != 7 {
		t.Errorf("groups = %+v: keys not decoded", g)
	}
	if g.NameAttribute != "cn" || g.Nested != dsync.NestedFlatten || g.OnRemoved != dsync.RemovedDelete ||
		g.MaxGroupDelete != 5 || g.MaxGroupDeletePercent != 10 || g.MaxMembershipRemovalPercent != 10 {
		t.Errorf("groups = %+v: defaults lost", g)
	}
	if q := cfg.GroupSearch(); !q.Flatten || q.Filter != "(objectClass=groupOfNames)" {
		t.Errorf("GroupSearch = %+v", q)
	}
}

func TestLoad_GroupsProblemsAreNamedByKey(t *testing.T) {
	p := writeConfig(t, minimalConfig+`groups:
  push: true
  filter: (cn=broken
  nested: deep
  on_removed: archive
  max_group_delete: -1
  max_membership_removal_percent: 150
`)
	_, err := Load(p, nil)
	if err == nil {
		t.Fatal("Load accepted a broken groups section")
	}
	for _, key := range []string{"groups.filter", "groups.nested", "groups.on_removed", "groups.max_group_delete:", "groups.max_membership_removal_percent"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error does not name %s:\n%v", key, err)
		}
	}
}

func TestLoad_GroupsFilterIsCheckedOnlyWhenPushed(t *testing.T) {
	p := writeConfig(t, minimalConfig+"groups:\n  filter: (cn=broken\n")
	if _, err := Load(p, nil); err != nil {
		t.Fatalf("Load: %v; a filter of groups not pushed is not read", err)
	}
}

func TestLoad_GroupPushToARestProfileWithoutGroupEndpointsIsRefused(t *testing.T) {
	p := writeConfig(t, `
ldap:
  url: ldaps://ldap.example.com
  bind_dn: cn=svc,dc=example,dc=com
  bind_password: secret
  base_dn: dc=example,dc=com
target:
  type: rest
  url: https://platform.example.com
  token: tok
  rest:
    list: {path: /users}
    id: id
    fields: {email: email}
    active: active
    create: {method: POST, path: /users, body: '{"email": "{{email}}"}'}
    delete: {method: DELETE, path: "/users/{id}"}
state:
  path: /tmp/state.db
groups:
  push: true
`)
	_, err := Load(p, nil)
	if err == nil || !strings.Contains(err.Error(), "groups.push: target.rest.groups must declare") {
		t.Fatalf("Load = %v; want the missing group endpoints named", err)
	}
}

func TestLoad_GroupPushNamesEachRestTargetWithoutGroupEndpoints(t *testing.T) {
	_, err := Load(writeConfig(t, ldapOnly+`
targets:
  - name: helpdesk
    url: https://helpdesk.example.com/scim/v2
    token: t1
  - name: crm
    type: rest
    url: https://api.crm.example.com
    token: t2
    rest:
      list: {path: /api/v1/users}
      id: id
      fields: {email: email}
      active: status
      create: {method: POST, path: /api/v1/users, body: '{"email": "{{email}}"}'}
      delete: {method: DELETE, path: "/api/v1/users/{id}"}
groups:
  push: true
`), nil)
	if err == nil || !strings.Contains(err.Error(), "groups.push: targets[crm].rest.groups must declare") || strings.Contains(err.Error(), "helpdesk") {
		t.Fatalf("Load = %v; want crm, and only crm, named", err)
	}
}
