package sync

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/user"
)

func TestRunChanged_TouchesOnlyTheUsersNamed(t *testing.T) {
	many := numbered("staff", 40)
	records := managed(many...)
	e, ft, st := setup(Directory{}, records...)
	e.Policy = Policy{MaxArchive: 5, MaxArchivePercent: 10}

	renamed := mailTo(many[0], "new@example.com")
	newcomer := person("id-new", "newcomer")
	rep, err := e.RunChanged(t.Context(), RunOptions{}, Changed{
		Users: []user.User{renamed, newcomer},
		Gone:  []string{many[1].ID, "id-never-synced"},
	})
	if err != nil {
		t.Fatalf("RunChanged: %v", err)
	}
	got := summaries(rep.Plan)
	want := []string{"create newcomer", "update " + many[0].Username + " @p-" + many[0].Username + " [email]",
		"archive " + many[1].Username + " @p-" + many[1].Username + " (removed)"}
	if !slices.Equal(got, want) {
		t.Fatalf("plan = %q, want %q (nobody else: the other 38 users were not named)", got, want)
	}
	if rep.Plan.Managed != 40 {
		t.Errorf("Managed = %d, want 40 (the limits are measured against every managed user)", rep.Plan.Managed)
	}
	if n := len(ft.writes()); n != 3 {
		t.Errorf("%d platform writes, want 3: %v", n, ft.writes())
	}
	if run := st.lastRun(t); run.Outcome != OutcomeSuccess {
		t.Errorf("run recorded %+v, want success", run)
	}
	if st.begun[len(st.begun)-1] != "watch" {
		t.Errorf("run mode %q, want watch", st.begun[len(st.begun)-1])
	}
}

func TestRunChanged_PriorRemovalsCountAgainstTheLimits(t *testing.T) {
	many := numbered("staff", 100)
	records := managed(many...)
	e, ft, st := setup(Directory{}, records...)
	e.Policy = Policy{MaxArchive: 5, MaxArchivePercent: 50}

	// One removal alone is within the limits...
	if _, err := e.RunChanged(t.Context(), RunOptions{DryRun: true}, Changed{Gone: []string{many[0].ID}}); err != nil {
		t.Fatalf("one removal: %v", err)
	}
	// ...but not after five earlier event runs each removed one.
	setRemovals(t, st, 5)
	_, err := e.RunChanged(t.Context(), RunOptions{}, Changed{Gone: []string{many[0].ID}})
	var se *SafetyError
	if !errors.As(err, &se) || se.Removals != 6 || se.Prior != 5 || !strings.Contains(err.Error(), "change events") {
		t.Fatalf("err = %v, want a safety refusal counting 5 prior + 1 removals", err)
	}
	// A plan that removes nobody is not held back by earlier removals.
	setRemovals(t, st, 50)
	if _, err := e.RunChanged(t.Context(), RunOptions{}, Changed{Users: []user.User{mailTo(many[2], "x@example.com")}}); err != nil {
		t.Fatalf("an update after many removals: %v", err)
	}
	if n := len(ft.writes()); n != 1 {
		t.Errorf("%d platform writes, want the one update: %v", n, ft.writes())
	}
}

// setRemovals sets the removals made since the last full directory read.
func setRemovals(t *testing.T, st *fakeStore, n int) {
	t.Helper()
	if err := st.SetMeta(t.Context(), metaRemovalsSinceFullRead, strconv.Itoa(n)); err != nil {
		t.Fatal(err)
	}
}

// withdrawingSource emits every user, then withdraws some.
type withdrawingSource struct {
	users    []user.User
	withdraw map[string]string // ID → DN
}

func (w withdrawingSource) Read(ctx context.Context) (Directory, error) {
	panic("the streaming path must not call Read")
}

func (w withdrawingSource) Reread(context.Context, []string, []string) (Changed, error) {
	panic("the streaming path must not call Reread")
}

func (w withdrawingSource) Stream(ctx context.Context, emit func(user.User) error) ([]Skip, error) {
	for _, u := range w.users {
		if err := emit(u); err != nil {
			return nil, err
		}
	}
	var out []Skip
	for id, dn := range w.withdraw {
		out = append(out, Skip{ID: id, DN: dn, Reason: "duplicate username", Withdrawn: true})
	}
	return out, nil
}

func TestRun_StreamedUserWithdrawnLaterIsSkippedNotSynced(t *testing.T) {
	// alice is in step, bob is new, carol changed: all three are withdrawn
	// after being emitted (a later duplicate). Nobody may be created,
	// updated or archived for them, and the counts must not include them.
	records := []user.Record{record(alice, user.StatusActive, "p-a"), record(carol, user.StatusActive, "p-c"), record(dave, user.StatusActive, "p-d")}
	e, ft, _ := setup(Directory{}, records...)
	e.Source = withdrawingSource{
		users:    []user.User{alice, bob, mailTo(carol, "c2@example.com"), dave, erin},
		withdraw: map[string]string{alice.ID: alice.DN, bob.ID: bob.DN, carol.ID: carol.DN},
	}
	rep := mustRun(t, e, RunOptions{DryRun: true})
	if got := summaries(rep.Plan); !slices.Equal(got, []string{"create erin"}) {
		t.Errorf("plan = %q, want only erin's create", got)
	}
	if rep.Plan.InScope != 2 || rep.Plan.Unchanged != 1 || len(rep.Plan.Skipped) != 3 {
		t.Errorf("in scope %d, unchanged %d, skipped %d; want 2, 1 (dave), 3", rep.Plan.InScope, rep.Plan.Unchanged, len(rep.Plan.Skipped))
	}
	for _, s := range rep.Plan.Skipped {
		if s.Withdrawn {
			t.Errorf("skip %+v still marked withdrawn in the plan", s)
		}
	}
	if n := len(ft.writes()); n != 0 {
		t.Errorf("a dry run wrote %v", ft.writes())
	}
}

func TestRunChanged_ReadsTheSnapshotsLinksOnlyForACreate(t *testing.T) {
	e, _, st := setup(Directory{}, record(alice, user.StatusActive, "p-a"), record(bob, user.StatusActive, "p-b"))
	if _, err := e.RunChanged(t.Context(), RunOptions{}, Changed{Users: []user.User{mailTo(alice, "a2@example.com")}, Gone: []string{bob.ID}}); err != nil {
		t.Fatal(err)
	}
	if st.summaryReads != 0 {
		t.Errorf("an update and an archive read the summaries %d times, want 0", st.summaryReads)
	}
	rep, err := e.RunChanged(t.Context(), RunOptions{}, Changed{Users: []user.User{carol}})
	if err != nil || rep.Applied[user.OpCreate] != 1 {
		t.Fatalf("create: %v, applied %v", err, rep.Applied)
	}
	if st.summaryReads != 1 {
		t.Errorf("a create read the summaries %d times, want 1 (to know which accounts are linked)", st.summaryReads)
	}
}

// TestRunEvents_EntryWithClearedIDIsFoundAtItsRecordsDN: a changed user
// whose ID attribute was cleared is read again at the DN its snapshot
// record holds, found there as a skipped entry, and keeps its account; a
// user that left the directory is archived.
func TestRunEvents_EntryWithClearedIDIsFoundAtItsRecordsDN(t *testing.T) {
	alice, bob, carol := person("id-a", "alice"), person("id-b", "bob"), person("id-c", "carol")
	dir := Directory{
		Users:   []user.User{carol},
		Skipped: []Skip{{DN: alice.DN, Reason: "no ID"}},
	}
	e, ft, st := setup(dir, managed(alice, bob, carol)...)

	rep, err := e.RunEvents(t.Context(), RunOptions{}, []string{alice.ID, bob.ID}, nil)
	if err != nil {
		t.Fatalf("RunEvents: %v", err)
	}
	got := summaries(rep.Plan)
	want := []string{"archive bob @p-bob (removed)"}
	if !slices.Equal(got, want) {
		t.Fatalf("plan = %q, want %q (alice's entry is at her record's DN: not gone)", got, want)
	}
	if len(rep.Plan.Skipped) != 1 || rep.Plan.Skipped[0].DN != alice.DN {
		t.Errorf("skipped = %+v, want alice's entry", rep.Plan.Skipped)
	}
	if a, ok := ft.account("p-alice"); !ok || !a.User.Active {
		t.Errorf("alice's account = %+v, want active", a)
	}
	if run := st.lastRun(t); run.Outcome != OutcomeSuccess {
		t.Errorf("run recorded %+v, want success", run)
	}
}

// TestRunEvents_EntryNamedByDNIsRead: an entry the change stream named only
// by its DN is read again and synced.
func TestRunEvents_EntryNamedByDNIsRead(t *testing.T) {
	dave := person("id-d", "dave")
	e, _, _ := setup(Directory{Users: []user.User{dave}})

	rep, err := e.RunEvents(t.Context(), RunOptions{DryRun: true}, nil, []string{dave.DN})
	if err != nil {
		t.Fatalf("RunEvents: %v", err)
	}
	if got, want := summaries(rep.Plan), []string{"create dave"}; !slices.Equal(got, want) {
		t.Fatalf("plan = %q, want %q", got, want)
	}
}

// TestRunEvents_FailedRereadArchivesNobody: a re-read that fails is
// returned as the run's error; nothing is applied and no run recorded.
func TestRunEvents_FailedRereadArchivesNobody(t *testing.T) {
	alice := person("id-a", "alice")
	e, ft, st := setup(Directory{}, managed(alice)...)
	e.Source = &fakeSource{err: errors.New("connection lost")}

	_, err := e.RunEvents(t.Context(), RunOptions{}, []string{alice.ID}, nil)
	if err == nil || !strings.Contains(err.Error(), "reread the changed users: connection lost") {
		t.Fatalf("err = %v, want the re-read's error", err)
	}
	if n := len(ft.writes()); n != 0 {
		t.Errorf("%d platform writes, want none: %v", n, ft.writes())
	}
	if len(st.begun) != 0 {
		t.Errorf("runs begun %q, want none", st.begun)
	}
}

// TestDirectoryChanged_AnswersAReread: a complete read answers a re-read
// as a directory would: the users and skipped entries named by ID, by one
// of several IDs or by DN, and as gone only the IDs held by none of them.
func TestDirectoryChanged_AnswersAReread(t *testing.T) {
	alice, bob, carol := person("id-a", "alice"), person("id-b", "bob"), person("id-c", "carol")
	dir := Directory{
		Users: []user.User{alice, bob, carol},
		Skipped: []Skip{
			{DN: "CN=dup,OU=Staff", ID: "id-dup", Reason: "duplicate"},
			{DN: "CN=multi,OU=Staff", IDs: []string{"id-m1", "id-m2"}, Reason: "several IDs"},
			{DN: "CN=noid,OU=Staff", Reason: "no ID"},
		},
	}
	ch := dir.Changed([]string{"ID-A", "id-dup", "id-m2", "id-left", "id-left"}, []string{strings.ToLower(carol.DN), "cn=noid,ou=staff"})
	var users []string
	for _, u := range ch.Users {
		users = append(users, u.Username)
	}
	if want := []string{"alice", "carol"}; !slices.Equal(users, want) {
		t.Errorf("users = %q, want %q", users, want)
	}
	var skipped []string
	for _, s := range ch.Skipped {
		skipped = append(skipped, s.DN)
	}
	if want := []string{"CN=dup,OU=Staff", "CN=multi,OU=Staff", "CN=noid,OU=Staff"}; !slices.Equal(skipped, want) {
		t.Errorf("skipped = %q, want %q", skipped, want)
	}
	if want := []string{"id-left"}; !slices.Equal(ch.Gone, want) {
		t.Errorf("gone = %q, want %q", ch.Gone, want)
	}
}
