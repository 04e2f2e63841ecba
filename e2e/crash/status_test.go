package crash

import (
	"strings"
	"testing"
)

// TestStatusDoesNotCallAFailingArchiveQuarantined: removals are never
// quarantined — an archive that keeps failing is tried at every run, since
// taking access away matters most — so status must not label such a user
// QUARANTINED (nor send the operator to --retry-quarantined for it), however
// many attempts failed; a create failing as often still is.
func TestStatusDoesNotCallAFailingArchiveQuarantined(t *testing.T) {
	e := newCrashEnv(t, 5, crashOpts{sync: "  quarantine_after: 2\n"})
	e.crashMustRun(0, "sync")
	leaver, bad := "people-user-000001", "people-user-000003"
	e.ldap.Delete(t, "uid="+leaver+","+e.ou)
	e.plat.FailUser(leaver, 400)
	e.plat.FailUser(bad, 400)
	e.ldap.Modify(t, "uid="+bad+","+e.ou, map[string][]string{"sn": {"Changed"}})
	for range 3 {
		e.crashMustRun(1, "sync")
	}
	// The archive was tried at each of the 3 runs; the update only twice.
	st := e.crashMustRun(0, "status")
	var leaverLine, badLine string
	for _, l := range strings.Split(st.stdout, "\n") {
		switch {
		case strings.HasPrefix(l, leaver+" "):
			leaverLine = l
		case strings.HasPrefix(l, bad+" "):
			badLine = l
		}
	}
	if leaverLine == "" || badLine == "" {
		t.Fatalf("status does not list both failing users:\n%s", st.stdout)
	}
	if strings.Contains(leaverLine, "QUARANTINED") || !strings.Contains(leaverLine, " 3 ") {
		t.Errorf("a user whose archive failed 3 times (tried at every run) is shown as %q; want 3 attempts and not QUARANTINED:\n%s", leaverLine, st.stdout)
	}
	if !strings.Contains(badLine, "QUARANTINED") {
		t.Errorf("a user whose update failed twice (quarantine_after 2) is shown as %q; want QUARANTINED:\n%s", badLine, st.stdout)
	}
	crashWantContains(t, "status", st.stdout, "1 quarantined after sync.quarantine_after")

	// Fixed: the archive goes through at the next run.
	e.plat.FailUser(leaver, 0)
	e.plat.FailUser(bad, 0)
	e.crashMustRun(0, "sync", "--retry-quarantined")
	e.crashAssertConverged()
}
