package sync

import (
	"errors"
	"slices"
	"testing"

	"github.com/dirsync/dirsync/user"
)

// TestReconcile_OneReadFeedsAnEnginePerTarget: the directory is read once
// and the read reconciled against two platforms, each with its own
// snapshot: each gets the plan a run of its own would make.
func TestReconcile_OneReadFeedsAnEnginePerTarget(t *testing.T) {
	alice, bob, carol := person("id-alice", "alice"), person("id-bob", "bob"), person("id-carol", "carol")
	src := &fakeSource{dir: dirOf(alice, bob)}
	dir, err := src.Read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// Platform one knows alice and carol (who left); platform two nobody.
	one, ftOne, _ := setup(Directory{}, managed(alice, carol)...)
	two, ftTwo, stTwo := setup(Directory{})
	one.Source, two.Source = nil, nil // the read is given, not made
	repOne, err := one.Reconcile(t.Context(), RunOptions{}, dir)
	if err != nil {
		t.Fatalf("platform one: %v", err)
	}
	repTwo, err := two.Reconcile(t.Context(), RunOptions{}, dir)
	if err != nil {
		t.Fatalf("platform two: %v", err)
	}
	if got, want := summaries(repOne.Plan), []string{"create bob", "archive carol @p-carol (removed)"}; !slices.Equal(got, want) {
		t.Errorf("platform one: plan %q, want %q", got, want)
	}
	if got, want := summaries(repTwo.Plan), []string{"create alice", "create bob"}; !slices.Equal(got, want) {
		t.Errorf("platform two: plan %q, want %q", got, want)
	}
	if ftOne.numAccounts() != 3 || ftTwo.numAccounts() != 2 {
		t.Errorf("accounts: %d and %d, want 3 and 2", ftOne.numAccounts(), ftTwo.numAccounts())
	}
	if run := stTwo.lastRun(t); run.Outcome != OutcomeSuccess {
		t.Errorf("platform two's run recorded %+v", run)
	}
	if !slices.EqualFunc(dir.Users, []user.User{alice, bob}, user.Equal) {
		t.Error("a reconcile changed the read it was given")
	}
}

// TestReconcile_TheSafetyRulesHold: a read given is checked as a read made.
func TestReconcile_TheSafetyRulesHold(t *testing.T) {
	many := numbered("staff", 10)
	e, ft, _ := setup(Directory{}, managed(many...)...)
	e.Policy = Policy{MaxArchive: 2, MaxArchivePercent: 10}
	var se *SafetyError
	if _, err := e.Reconcile(t.Context(), RunOptions{}, Directory{}); !errors.As(err, &se) {
		t.Errorf("an empty read: err = %v, want a safety refusal", err)
	}
	if _, err := e.Reconcile(t.Context(), RunOptions{}, dirOf(many[5:]...)); !errors.As(err, &se) {
		t.Errorf("a read missing half the users: err = %v, want a safety refusal", err)
	}
	if n := len(ft.writes()); n != 0 {
		t.Errorf("%d platform writes, want none", n)
	}
}
