package e2e

import (
	"testing"

	"github.com/dirsync/dirsync/internal/slapdtest"
)

// The names under ldap.attributes.extra reach the platform as written in the
// config file: employeeNumber and costCenter once arrived lower-cased (the
// config loader lower-cased every key) and were silently never pushed.
func TestSync_PushesExtraAttributesUnderTheirConfiguredNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.cfg.ldapAttributes = `  attributes:
    extra:
      title: title
      employeeNumber: employeeNumber
      costCenter: departmentNumber
`
	e.writeConfig()
	dn := e.ldap.AddUser(t, e.ou, slapdtest.UserSpec{UID: "alice", Mail: "alice@example.com", Attrs: map[string][]string{
		"title": {"Engineer"}, "employeeNumber": {"E42"}, "departmentNumber": {"CC-7"},
	}})

	e.mustRun(0, "sync")
	a := e.account("alice")
	if a.Title != "Engineer" || a.Enterprise["employeeNumber"] != "E42" || a.Enterprise["costCenter"] != "CC-7" {
		t.Fatalf("want title, employeeNumber and costCenter pushed, got title %q, enterprise %v", a.Title, a.Enterprise)
	}

	e.ldap.Modify(t, dn, map[string][]string{"employeeNumber": {"E43"}})
	r := e.mustRun(0, "sync")
	wantContains(t, "stdout", r.stdout, "employeeNumber: E42 → E43", "1 updated")
	if got := e.account("alice").Enterprise["employeeNumber"]; got != "E43" {
		t.Errorf("employeeNumber on the platform is %q after the update", got)
	}
}
