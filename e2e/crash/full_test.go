package crash

import (
	"strings"
	"testing"

	"github.com/dirsync/dirsync/target/fake"
	"github.com/dirsync/dirsync/user"
)

// crashUserGETs counts GETs of /Users (a listing or a lookup) the platform got.
func (e *crashEnv) crashUserGETs() int {
	n := 0
	for _, r := range e.plat.Requests() {
		if r.Method == "GET" && strings.HasPrefix(r.Path, "/Users") {
			n++
		}
	}
	return n
}

func TestFullReconcilePutsBackHandEditsWhileAnOrdinaryRunDoesNotReadThePlatform(t *testing.T) {
	e := newCrashEnv(t, 5, crashOpts{sync: "  full_reconcile_every: 24h\n"})
	// The first run starts the full_reconcile_every clock; the next ones
	// within 24h are ordinary.
	e.crashMustRun(0, "sync")

	edited, _ := e.plat.FindByUserName("people-user-000001")
	deactivated, _ := e.plat.FindByUserName("people-user-000002")
	if err := e.plat.Edit(edited.ID, func(r *fake.Resource) { r.DisplayName = "Edited By Hand"; r.FamilyName = "Hand" }); err != nil {
		t.Fatal(err)
	}
	if err := e.plat.SetActive(deactivated.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.plat.Seed(user.User{ID: "stranger-1", Username: "stranger", Email: "stranger@example.com", Active: true}); err != nil {
		t.Fatal(err)
	}

	e.plat.ResetLog()
	r := e.crashMustRun(0, "sync")
	if n := e.crashUserGETs(); n != 0 {
		t.Errorf("an ordinary run made %d GETs of /Users; it must not read the platform", n)
	}
	if got, _ := e.plat.Get(edited.ID); got.DisplayName != "Edited By Hand" {
		t.Fatalf("an ordinary run changed the hand edit: %+v\n%s", got, r)
	}

	r = e.crashMustRun(0, "sync", "--full")
	if got, _ := e.plat.Get(edited.ID); got.DisplayName == "Edited By Hand" || got.FamilyName == "Hand" {
		t.Errorf("the full run left the hand edit: %+v", got)
	}
	if got, _ := e.plat.Get(deactivated.ID); !got.Active {
		t.Error("the full run left the account deactivated by hand inactive")
	}
	crashWantContains(t, "full run output", r.stdout, "Unmanaged platform accounts (1", "stranger")
	if s, _ := e.plat.FindByUserName("stranger"); !s.Active {
		t.Error("an unmanaged account was archived without sync.unmanaged: archive")
	}
	// A second full run finds nothing to correct: the SCIM target's lack of
	// groups is not drift.
	r = e.crashMustRun(0, "sync", "--full", "--output", "json")
	crashWantContains(t, "second full run", r.stdout, `"changes": []`)

	e.writeConfig(crashOpts{sync: "  unmanaged: archive\n"})
	e.crashMustRun(0, "sync", "--full")
	if s, _ := e.plat.FindByUserName("stranger"); s.Active {
		t.Error("sync.unmanaged: archive left the unmanaged account active")
	}
	e.crashAssertConverged()
}
