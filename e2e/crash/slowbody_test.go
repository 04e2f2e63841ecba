package crash

import (
	"testing"
	"time"

	"github.com/dirsync/dirsync/internal/slapdtest"
)

// TestSlowBodiesFailCleanlyAndAreRetriedOnTheNextRun has the platform answer
// at once but trickle every response body over 2s, past target.timeout
// (300ms): each request fails on its timeout while the body is being read —
// a clean failure of that change, not a hang, a crash or a half-read answer
// taken for a good one. Nobody in the directory is archived, and once the
// platform is well again the next run applies what failed.
func TestSlowBodiesFailCleanlyAndAreRetriedOnTheNextRun(t *testing.T) {
	e := newCrashEnv(t, 10, crashOpts{target: "  max_retries: 0\n  timeout: 300ms\n"})
	e.crashMustRun(0, "sync")
	// A change of every kind for the slow run.
	e.ldap.Modify(t, "uid=people-user-000001,"+e.ou, map[string][]string{"sn": {"Changed"}})
	e.ldap.Delete(t, "uid=people-user-000002,"+e.ou)
	e.ldap.AddUser(t, e.ou, slapdtest.UserSpec{UID: "newcomer", Mail: "newcomer@example.com", GivenName: "New", SN: "Comer"})

	e.plat.SetSlowBodies(2 * time.Second)
	start := time.Now()
	r := e.crashMustRun(1, "sync")
	if took := time.Since(start); took > time.Minute {
		t.Errorf("the run under slow bodies took %s; each request should end at its 300ms timeout", took)
	}
	crashWantContains(t, "stderr", r.stderr, "read response", "deadline exceeded", "on the next run")
	for _, u := range e.plat.Users() {
		if !u.Active && u.UserName != "people-user-000002" {
			t.Errorf("under slow bodies, %s was archived", u.UserName)
		}
	}
	// The failures are recorded, for the next run and for the operator.
	st := e.crashMustRun(0, "status")
	crashWantContains(t, "status", st.stdout, "Failing (3", "retried on the next run", "people-user-000001", "people-user-000002", "newcomer")

	e.plat.SetSlowBodies(0)
	e.crashMustRun(0, "sync")
	e.crashAssertConverged()
	if u, ok := e.plat.FindByUserName("newcomer"); !ok || !u.Active {
		t.Error("the newcomer was not created by the run after the slow bodies")
	}
}
