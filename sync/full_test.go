package sync

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/user"
)

func TestRun_FullPutsBackAccountsEditedOrDeactivatedByHand(t *testing.T) {
	alice, bob, carol := person("id-alice", "alice"), person("id-bob", "bob"), person("id-carol", "carol")
	e, ft, st := setup(dirOf(alice, bob, carol),
		record(alice, user.StatusActive, "p-alice"), record(bob, user.StatusActive, "p-bob"), record(carol, user.StatusActive, "p-carol"))
	lt := listingTarget{ft}
	e.Target = lt
	// By hand on the platform: alice renamed, bob deactivated. The platform
	// reports no groups at all: that is not drift.
	a, _ := ft.account("p-alice")
	a.User.DisplayName = "Mallory"
	a.User.Groups = nil
	ft.put(a)
	b, _ := ft.account("p-bob")
	b.User.Active = false
	ft.put(b)
	c, _ := ft.account("p-carol")
	c.User.Groups = nil
	ft.put(c)

	rep := mustRun(t, e, RunOptions{})
	if len(rep.Plan.Changes) != 0 || ft.count("list") != 0 {
		t.Fatalf("an ordinary run planned %d changes and listed %d times; it must not read the platform", len(rep.Plan.Changes), ft.count("list"))
	}
	rep = mustRun(t, e, RunOptions{Full: true})
	if rep.Plan.Drifted != 2 {
		t.Errorf("drifted = %d, want 2 (alice and bob, not carol)", rep.Plan.Drifted)
	}
	if a, _ := ft.account("p-alice"); a.User.DisplayName != alice.DisplayName {
		t.Errorf("alice's display name = %q, want %q put back", a.User.DisplayName, alice.DisplayName)
	}
	if b, _ := ft.account("p-bob"); !b.User.Active {
		t.Error("bob was not reactivated")
	}
	if rec := st.records["id-bob"]; rec.Status != user.StatusActive {
		t.Errorf("bob's record = %+v", rec)
	}
}

func TestRun_FullReportsUnmanagedAccountsAndArchivesThemOnlyWhenConfigured(t *testing.T) {
	alice := person("id-alice", "alice")
	e, ft, st := setup(dirOf(alice), record(alice, user.StatusActive, "p-alice"))
	e.Target = listingTarget{ft}
	ft.put(user.Account{PlatformID: "p-stranger", User: user.User{Username: "stranger", Active: true}})

	rep := mustRun(t, e, RunOptions{Full: true})
	if len(rep.Plan.Unmanaged) != 1 || rep.Plan.Unmanaged[0].PlatformID != "p-stranger" {
		t.Fatalf("unmanaged = %+v, want the stranger", rep.Plan.Unmanaged)
	}
	if s, _ := ft.account("p-stranger"); !s.User.Active {
		t.Fatal("an unmanaged account was archived without sync.unmanaged: archive")
	}

	e.Unmanaged = UnmanagedArchive
	rep = mustRun(t, e, RunOptions{Full: true})
	if s, _ := ft.account("p-stranger"); s.User.Active {
		t.Error("sync.unmanaged: archive left the unmanaged account active")
	}
	if rep.Applied[user.OpArchive] != 1 {
		t.Errorf("applied = %v", rep.Applied)
	}
	if _, ok := st.records[""]; ok || len(st.records) != 1 {
		t.Errorf("records = %+v; an unmanaged account gets no record", st.records)
	}
}

func TestRun_ScheduledFullGoesOnAsOrdinaryWhenThePlatformCannotBeListed(t *testing.T) {
	ana, bo := person("id-ana", "ana"), person("id-bo", "bo")
	e, ft, _ := setup(dirOf(ana, bo), record(ana, user.StatusActive, "p-ana"))
	e.Target = failingLister{listingTarget{ft}}
	rep, err := e.Run(t.Context(), RunOptions{Full: true, FullBestEffort: true})
	if err != nil {
		t.Fatalf("Run = %v, want the ordinary run to go on", err)
	}
	if rep.FullSkipped == "" || rep.Applied[user.OpCreate] != 1 {
		t.Errorf("FullSkipped %q, applied %v; want the reason and bob created", rep.FullSkipped, rep.Applied)
	}
	if _, err := e.Run(t.Context(), RunOptions{Full: true}); err == nil {
		t.Error("an explicit full reconcile that cannot list the platform succeeded")
	}
}

// TestRun_FullLeavesASkippedEntrysAccountAlone: an account no record links
// but whose externalId is a skipped directory entry's ID belongs to someone
// still in the directory: a full reconcile neither lists it as unmanaged nor
// archives it, even with sync.unmanaged: archive. Disabled, the entry's
// account is archived like any unmanaged one.
func TestRun_FullLeavesASkippedEntrysAccountAlone(t *testing.T) {
	alice := person("id-alice", "alice")
	e, ft, _ := setup(Directory{Users: []user.User{alice}, Skipped: []Skip{
		{DN: "CN=bob,OU=Staff", ID: "id-bob", Reason: "duplicate email"},
		{DN: "CN=cy,OU=Staff", IDs: []string{"id-cy", "id-cy2"}, Reason: "ID attribute has 2 values"},
		{DN: "CN=dee,OU=Staff", ID: "id-dee", Reason: "duplicate email", Disabled: true},
	}}, record(alice, user.StatusActive, "p-alice"))
	e.Target = listingTarget{ft}
	e.Unmanaged = UnmanagedArchive
	for _, a := range []user.Account{
		{PlatformID: "p-bob", User: user.User{ID: "id-bob", Username: "bob", Active: true}},
		{PlatformID: "p-cy", User: user.User{ID: "id-cy2", Username: "cy", Active: true}},
		{PlatformID: "p-dee", User: user.User{ID: "id-dee", Username: "dee", Active: true}},
	} {
		ft.put(a)
	}

	rep := mustRun(t, e, RunOptions{Full: true, AllowMassArchive: true})
	var unmanaged []string
	for _, a := range rep.Plan.Unmanaged {
		unmanaged = append(unmanaged, a.PlatformID)
	}
	if !slices.Equal(unmanaged, []string{"p-dee"}) {
		t.Errorf("unmanaged = %v, want only p-dee (disabled)", unmanaged)
	}
	for pid, want := range map[string]bool{"p-bob": true, "p-cy": true, "p-dee": false} {
		if a, _ := ft.account(pid); a.User.Active != want {
			t.Errorf("%s active = %v, want %v", pid, a.User.Active, want)
		}
	}
}

func TestRun_FullRefusesAPlatformThatListsNoneOfTheManagedAccounts(t *testing.T) {
	alice, bob := person("id-alice", "alice"), person("id-bob", "bob")
	e, ft, _ := setup(dirOf(alice, bob), record(alice, user.StatusActive, "p-alice"), record(bob, user.StatusActive, "p-bob"))
	e.Target = listingTarget{ft}
	ft.put(user.Account{PlatformID: "p-other", User: user.User{Username: "other", Active: true}})
	ft.mu.Lock()
	delete(ft.accounts, "p-alice")
	delete(ft.accounts, "p-bob")
	ft.mu.Unlock()

	rep, err := e.Run(t.Context(), RunOptions{Full: true})
	if err == nil || !strings.Contains(err.Error(), "lists none of the 2 accounts") {
		t.Fatalf("Run = %v, want a refusal naming the 2 managed accounts", err)
	}
	if n := rep.Applied[user.OpCreate]; n != 0 || ft.count("create") != 0 {
		t.Errorf("created %d (%d calls) on a platform that lists none of the managed accounts", n, ft.count("create"))
	}
}

func TestRun_FullWithOnMissingReportDropsTheMissingUsersChangesOnly(t *testing.T) {
	ann, bea, cid := person("id-ann", "ann"), person("id-bea", "bea"), person("id-cid", "cid")
	// All three changed in the directory; bea's account was deleted by hand.
	e, ft, _ := setup(dirOf(mailTo(ann, "ann@new.example"), mailTo(bea, "bea@new.example"), mailTo(cid, "cid@new.example")),
		record(ann, user.StatusActive, "p-ann"), record(bea, user.StatusActive, "p-bea"), record(cid, user.StatusActive, "p-cid"))
	e.Target = listingTarget{ft}
	e.OnMissing = MissingReport
	ft.mu.Lock()
	delete(ft.accounts, "p-bea")
	ft.mu.Unlock()

	rep, err := e.Run(t.Context(), RunOptions{Full: true, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := summaries(rep.Plan); !slices.Equal(got, []string{"update ann @p-ann [email]", "update cid @p-cid [email]"}) {
		t.Errorf("plan = %q, want the updates of ann and cid only", got)
	}
	if len(rep.Plan.Missing) != 1 || rep.Plan.Missing[0].User.Username != "bea" || rep.Plan.Missing[0].PlatformID != "p-bea" {
		t.Errorf("missing = %+v, want bea (p-bea)", rep.Plan.Missing)
	}

	e.OnMissing = MissingRecreate
	rep = mustRun(t, e, RunOptions{Full: true})
	if rep.Applied[user.OpCreate] != 1 || rep.Applied[user.OpUpdate] != 2 {
		t.Errorf("applied = %v, want bea created again and two updates", rep.Applied)
	}
	if a, ok := ft.byUserName("bea"); !ok || a.User.Email != "bea@new.example" {
		t.Errorf("bea = %+v, %v; want her account created again with her new email", a, ok)
	}
}

// TestRun_FullLeavesTheAccountADirectoryUserAdoptsAlone: with
// sync.unmanaged: archive, an account no record links (a snapshot rebuilt)
// that a directory user adopts — by externalId, user name or email — is
// that user's: the run links it and leaves it active, never archives it as
// unmanaged.
func TestRun_FullLeavesTheAccountADirectoryUserAdoptsAlone(t *testing.T) {
	for _, listed := range []int{0, 1} {
		t.Run(fmt.Sprintf("creates listed %d", listed), func(t *testing.T) { testFullLeavesAdoptedAlone(t, listed) })
	}
}

// testFullLeavesAdoptedAlone is the test with the plan listing the first
// listed creates (0: the default) and spilling the others.
func testFullLeavesAdoptedAlone(t *testing.T, listed int) {
	alice, bob, carol := person("id-alice", "alice"), person("id-bob", "bob"), person("id-carol", "carol")
	e, ft, _ := setup(dirOf(alice, bob, carol), record(alice, user.StatusActive, "p-alice"))
	e.listCreates = listed
	e.Target = listingTarget{ft}
	e.Unmanaged = UnmanagedArchive
	for _, a := range []user.Account{
		{PlatformID: "p-bob", User: user.User{ID: "id-bob", Username: "bob", Active: true}},
		{PlatformID: "p-carol", User: user.User{Username: "CAROL", Active: true}},
		{PlatformID: "p-stranger", User: user.User{ID: "id-stranger", Username: "stranger", Active: true}},
	} {
		ft.put(a)
	}

	rep := mustRun(t, e, RunOptions{Full: true, AllowMassArchive: true})
	if listed > 0 && rep.Plan.Streamed != 1 {
		t.Errorf("streamed %d creates, want 1", rep.Plan.Streamed)
	}
	var unmanaged []string
	for _, a := range rep.Plan.Unmanaged {
		unmanaged = append(unmanaged, a.PlatformID)
	}
	if !slices.Equal(unmanaged, []string{"p-stranger"}) {
		t.Errorf("unmanaged = %v, want only p-stranger", unmanaged)
	}
	for pid, want := range map[string]bool{"p-alice": true, "p-bob": true, "p-carol": true, "p-stranger": false} {
		if a, _ := ft.account(pid); a.User.Active != want {
			t.Errorf("%s active = %v, want %v", pid, a.User.Active, want)
		}
	}
}
