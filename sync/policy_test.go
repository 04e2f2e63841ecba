package sync

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/user"
)

// planWith returns a plan of managed active users, inScope directory users,
// archives and deletes (plus one update, which is never limited).
func planWith(managed, inScope, archives, deletes int) Plan {
	p := Plan{Managed: managed, InScope: inScope}
	p.Changes = append(p.Changes, Change{Op: user.OpUpdate})
	for i := range archives {
		p.Changes = append(p.Changes, Change{Op: user.OpArchive, User: user.User{ID: fmt.Sprint("a", i)}})
	}
	for i := range deletes {
		p.Changes = append(p.Changes, Change{Op: user.OpDelete, User: user.User{ID: fmt.Sprint("d", i)}})
	}
	return p
}

func TestPolicy_Check(t *testing.T) {
	tests := []struct {
		name       string
		policy     Policy
		plan       Plan
		allowMass  bool
		allowEmpty bool
		refused    bool
		empty      bool
	}{
		{"max_archive reached", Policy{MaxArchive: 5, MaxArchivePercent: 100}, planWith(100, 100, 5, 0), false, false, false, false},
		{"max_archive exceeded by one", Policy{MaxArchive: 5, MaxArchivePercent: 100}, planWith(100, 100, 6, 0), false, false, true, false},
		{"deletes count as removals", Policy{MaxArchive: 5, MaxArchivePercent: 100}, planWith(100, 100, 3, 3), false, false, true, false},
		{"percent reached", Policy{MaxArchive: 1000, MaxArchivePercent: 10}, planWith(100, 100, 10, 0), false, false, false, false},
		{"percent exceeded by one", Policy{MaxArchive: 1000, MaxArchivePercent: 10}, planWith(100, 100, 11, 0), false, false, true, false},
		{"fractional percent reached", Policy{MaxArchive: 1000, MaxArchivePercent: 2.5}, planWith(200, 200, 5, 0), false, false, false, false},
		{"fractional percent exceeded", Policy{MaxArchive: 1000, MaxArchivePercent: 2.5}, planWith(200, 200, 6, 0), false, false, true, false},
		{"percent of a non-round total", Policy{MaxArchive: 1000, MaxArchivePercent: 10}, planWith(7, 7, 1, 0), false, false, true, false},
		{"zero limits refuse one removal", Policy{}, planWith(100, 100, 1, 0), false, false, true, false},
		{"zero max_archive alone refuses", Policy{MaxArchive: 0, MaxArchivePercent: 100}, planWith(100, 100, 1, 0), false, false, true, false},
		{"zero percent alone refuses", Policy{MaxArchive: 1000, MaxArchivePercent: 0}, planWith(100, 100, 1, 0), false, false, true, false},
		{"zero percent refuses with no managed user", Policy{MaxArchive: 1000, MaxArchivePercent: 0}, planWith(0, 5, 0, 2), false, false, true, false},
		{"zero limits allow plans without removals", Policy{}, planWith(100, 100, 0, 0), false, false, false, false},
		{"allowMass overrides max_archive", Policy{MaxArchive: 5, MaxArchivePercent: 100}, planWith(100, 100, 60, 0), true, false, false, false},
		{"allowMass overrides percent", Policy{MaxArchive: 1000, MaxArchivePercent: 10}, planWith(100, 100, 60, 0), true, false, false, false},
		{"allowMass overrides zero limits", Policy{}, planWith(100, 100, 1, 0), true, false, false, false},
		{"empty directory refused", Policy{MaxArchive: 1000, MaxArchivePercent: 100}, planWith(3, 0, 3, 0), false, false, true, true},
		{"empty directory refused even with allowMass", Policy{MaxArchive: 1000, MaxArchivePercent: 100}, planWith(3, 0, 3, 0), true, false, true, true},
		{"every entry skipped refused", Policy{MaxArchive: 1000, MaxArchivePercent: 100}, planWith(3, 0, 0, 0), false, false, true, true},
		{"allowEmpty overrides", Policy{MaxArchive: 1000, MaxArchivePercent: 100}, planWith(3, 0, 3, 0), false, true, false, false},
		{"allowEmpty leaves the mass limits", Policy{MaxArchive: 2, MaxArchivePercent: 100}, planWith(3, 0, 3, 0), false, true, true, false},
		{"allowEmpty and allowMass", Policy{MaxArchive: 2, MaxArchivePercent: 10}, planWith(3, 0, 3, 0), true, true, false, false},
		{"empty directory and empty snapshot", Policy{}, planWith(0, 0, 0, 0), false, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Check(tt.plan, tt.allowMass, tt.allowEmpty)
			if !tt.refused {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			var se *SafetyError
			if !errors.As(err, &se) {
				t.Fatalf("Check = %v, want a *SafetyError", err)
			}
			if se.EmptyDirectory != tt.empty {
				t.Errorf("EmptyDirectory = %v, want %v", se.EmptyDirectory, tt.empty)
			}
			if se.Removals != tt.plan.Removals() || se.Managed != tt.plan.Managed || se.Policy != tt.policy {
				t.Errorf("SafetyError = %+v, want removals %d, managed %d, policy %+v", se, tt.plan.Removals(), tt.plan.Managed, tt.policy)
			}
		})
	}
}

func TestSafetyError_MassMessageStatesCountsAndFlag(t *testing.T) {
	err := Policy{MaxArchive: 5, MaxArchivePercent: 10}.Check(planWith(40, 40, 6, 0), false, false)
	if err == nil {
		t.Fatal("Check = nil, want refusal")
	}
	msg := err.Error()
	for _, want := range []string{"6 of 40", "15.0%", "sync.max_archive: 5", "sync.max_archive_percent: 10", "--allow-mass-archive", "Nothing was changed"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
}

func TestSafetyError_EmptyMessageStatesCountsAndFlag(t *testing.T) {
	err := Policy{MaxArchive: 1000, MaxArchivePercent: 100}.Check(planWith(12, 0, 12, 0), false, false)
	if err == nil {
		t.Fatal("Check = nil, want refusal")
	}
	msg := err.Error()
	for _, want := range []string{"no users in scope", "12 users are managed", "--allow-empty-directory"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
	// With these limits --allow-empty-directory alone is enough: don't send
	// the operator after a flag they do not need.
	if strings.Contains(msg, "--allow-mass-archive") {
		t.Errorf("message names --allow-mass-archive, which this plan does not need: %s", msg)
	}
}

// An operator who follows the message must not be refused again: when the
// removals are also over the limits, the message names both flags.
func TestSafetyError_EmptyMessageNamesEveryFlagNeeded(t *testing.T) {
	p := Policy{MaxArchive: 50, MaxArchivePercent: 10}
	plan := planWith(12, 0, 12, 0)
	err := p.Check(plan, false, false)
	if err == nil {
		t.Fatal("Check = nil, want refusal")
	}
	msg := err.Error()
	for _, want := range []string{"12 users are managed", "--allow-empty-directory", "--allow-mass-archive"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
	// Following the advice works.
	if err := p.Check(plan, true, true); err != nil {
		t.Fatalf("with both flags: %v", err)
	}
	if err := p.Check(plan, false, true); err == nil {
		t.Fatal("with --allow-empty-directory alone the mass limits still apply; Check = nil")
	}
}

func TestPlan_CountAndRemovals(t *testing.T) {
	p := planWith(10, 10, 2, 3)
	p.Changes = append(p.Changes, Change{Op: user.OpCreate}, Change{Op: user.OpReactivate})
	if p.Count(user.OpArchive) != 2 || p.Count(user.OpDelete) != 3 || p.Count(user.OpCreate) != 1 || p.Removals() != 5 {
		t.Fatalf("counts: archive %d delete %d create %d removals %d", p.Count(user.OpArchive), p.Count(user.OpDelete), p.Count(user.OpCreate), p.Removals())
	}
}
