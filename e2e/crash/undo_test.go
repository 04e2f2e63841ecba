package crash

import (
	"fmt"
	"regexp"
	"slices"
	"testing"
)

func TestUndoReactivatesEveryoneAWrongRunArchived(t *testing.T) {
	// Every user is in the directory group eng, mapped to the platform's
	// SCIM group g-eng.
	groups := "  groups:\n    - group: eng\n      value: g-eng\n"
	e := newCrashEnv(t, 12, crashOpts{target: groups})
	var members []string
	for i := range 12 {
		members = append(members, fmt.Sprintf("uid=people-user-%06d,%s", i, e.ou))
	}
	e.ldap.AddGroup(t, e.ou, "eng", members...)
	e.plat.AddGroup("g-eng")
	e.crashMustRun(0, "sync")
	if got := e.plat.Members("g-eng"); len(got) != 12 {
		t.Fatalf("g-eng has %d members after the first sync, want 12", len(got))
	}
	// A wrong filter makes half the directory vanish: a mass archive,
	// approved by mistake.
	e.writeConfig(crashOpts{target: groups, sync: "  unmanaged: report\n"})
	for i := range 6 {
		e.ldap.Modify(t, fmt.Sprintf("uid=people-user-%06d,%s", i, e.ou), map[string][]string{"employeeType": {"contractor"}})
	}
	yaml := e.configPath()
	e.writeConfigFilter(yaml, "(&(objectClass=inetOrgPerson)(!(employeeType=contractor)))")
	r := e.crashMustRun(0, "sync", "--allow-mass-archive")
	if _, archived := e.crashCounts(); archived != 6 {
		t.Fatalf("%d archived by the wrong run, want 6\n%s", archived, r)
	}
	runID := e.crashLastRun()
	// The platform drops the memberships of the accounts it deactivated
	// (as some do).
	var archivedIDs []string
	for _, r := range e.plat.Users() {
		if !r.Active {
			archivedIDs = append(archivedIDs, r.ID)
			e.plat.RemoveMember("g-eng", r.ID)
		}
	}
	if got := e.plat.Members("g-eng"); len(got) != 6 {
		t.Fatalf("g-eng has %d members after the archive, want 6", len(got))
	}

	dry := e.crashMustRun(2, "undo", "--run", runID, "--dry-run")
	crashWantContains(t, "undo --dry-run", dry.stdout, "6 to reactivate", "people-user-000000", "people-user-000005")
	if _, archived := e.crashCounts(); archived != 6 {
		t.Fatal("undo --dry-run changed the platform")
	}

	// The filter is fixed, then the run undone.
	e.writeConfigFilter(yaml, "(objectClass=inetOrgPerson)")
	e.crashMustRun(0, "undo", "--run", runID)
	if active, archived := e.crashCounts(); archived != 0 || active != 12 {
		t.Errorf("after undo: %d active, %d archived; want 12 and 0", active, archived)
	}
	// Their mapped groups are back.
	got := e.plat.Members("g-eng")
	for _, id := range archivedIDs {
		if !slices.Contains(got, id) {
			t.Errorf("after undo, reactivated account %s is not back in g-eng (members %v)", id, got)
		}
	}
	if len(got) != 12 {
		t.Errorf("after undo g-eng has %d members, want 12", len(got))
	}
	// The snapshot agrees: nothing left to do, and the undo is journalled.
	if plan := e.run("plan"); plan.code != 0 {
		t.Errorf("plan after undo has changes:\n%s", plan)
	}
	st := e.crashMustRun(0, "status")
	crashWantContains(t, "status", st.stdout, "undo")
	e.crashAssertConverged()
}

// crashCounts returns how many platform accounts are active and archived.
func (e *crashEnv) crashCounts() (active, archived int) {
	for _, r := range e.plat.Users() {
		if r.Active {
			active++
		} else {
			archived++
		}
	}
	return active, archived
}

// crashLastRun returns the ID of the latest run, from `dirsync status`.
func (e *crashEnv) crashLastRun() string {
	e.t.Helper()
	st := e.crashMustRun(0, "status", "--runs", "1")
	m := regexp.MustCompile(`(?m)^(\d+)\s+sync`).FindStringSubmatch(st.stdout)
	if m == nil {
		e.t.Fatalf("no run in status:\n%s", st.stdout)
	}
	return m[1]
}
