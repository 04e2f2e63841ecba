package e2e

import (
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/slapdtest"
)

// 1200 users are three pages of ldap.page_size 500: every page is read, every
// user created once, and a second run changes nothing.
func TestSync_ADirectoryOfSeveralPagesSyncsCompletely(t *testing.T) {
	t.Parallel()
	const n = 1200
	// The reader's limit is raised above slapd's default of 500 entries, which
	// also caps the total of a paged search.
	e := newEnv(t, slapdtest.WithLDIF(slapdtest.UsersLDIF("many", n)), slapdtest.WithSizeLimit(5000))
	e.ou = "ou=many," + e.ldap.BaseDN()
	e.writeConfig()

	r := e.mustRun(0, "sync")
	// The report lists the first 1,000 creates; the others were applied
	// from the spill file, and the journal lists every one.
	wantContains(t, "stdout", r.stdout, "Plan: 1200 to create", "… and 200 more to create, not listed", "Run 1: 1200 created; 0 failed")
	if n := strings.Count(r.stdout, "+ create"); n != 1000 {
		t.Errorf("the report lists %d creates, want the first 1000", n)
	}
	j := e.mustRun(0, "journal", "--run", "1", "--kind", "create", "--output", "csv")
	if rows := strings.Count(strings.TrimSpace(j.stdout), "\n"); rows != n {
		t.Errorf("the journal lists %d creates of run 1, want %d", rows, n)
	}
	accts := e.plat.Accounts()
	if len(accts) != n {
		t.Fatalf("want %d accounts, got %d", n, len(accts))
	}
	ids := map[string]bool{}
	for _, a := range accts {
		if a.User.ID == "" || ids[a.User.ID] || !a.User.Active {
			t.Fatalf("account without a unique externalId, or inactive: %+v", a)
		}
		ids[a.User.ID] = true
	}

	writes := e.plat.Writes()
	r = e.mustRun(0, "sync")
	wantContains(t, "stdout", r.stdout, "Plan: no changes (1200 in scope, 1200 unchanged")
	if got := e.plat.Writes(); got != writes {
		t.Errorf("the second run wrote to the platform (%d → %d writes)", writes, got)
	}
}
