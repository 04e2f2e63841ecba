package sync

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/user"
)

func groupRecord(id, name, pid string, members ...string) user.GroupRecord {
	return user.GroupRecord{Group: user.Group{ID: id, Name: name}, PlatformID: pid, Status: user.GroupActive,
		Members: user.SortedSet(members), MembersHash: user.MembersHash(user.SortedSet(members))}
}

func TestDiffGroups_PlansCreateRenameMembershipAndDelete(t *testing.T) {
	accounts := map[string]string{"u1": "p1", "u2": "p2", "u3": "p3"}
	groups := []user.Group{
		{ID: "new", Name: "new", Members: []string{"u1", "u2", "gone-user"}},
		{ID: "ren", Name: "renamed", Members: []string{"u1"}},
		{ID: "mem", Name: "mem", Members: []string{"u1", "u3"}},
		{ID: "same", Name: "same", Members: []string{"u2"}},
	}
	records := []user.GroupRecord{
		groupRecord("ren", "old name", "g-ren", "p1"),
		groupRecord("mem", "mem", "g-mem", "p1", "p2"),
		groupRecord("same", "same", "g-same", "p2"),
		groupRecord("left", "left", "g-left", "p1", "p2", "p3"),
	}
	plan := DiffGroups(groups, records, accounts, RemovedDelete)
	byID := map[string]GroupChange{}
	for _, c := range plan.Changes {
		byID[c.Group.ID] = c
	}
	if c := byID["new"]; c.Op != user.OpGroupCreate || !slices.Equal(c.Add, []string{"p1", "p2"}) {
		t.Errorf("new = %+v; want a create adding p1, p2 (a member without an active account is left out)", c)
	}
	if c := byID["ren"]; c.Op != user.OpGroupUpdate || c.OldName != "old name" || len(c.Add)+len(c.Remove) != 0 {
		t.Errorf("ren = %+v; want a rename only", c)
	}
	if c := byID["mem"]; !slices.Equal(c.Add, []string{"p3"}) || !slices.Equal(c.Remove, []string{"p2"}) || c.OldName != "" {
		t.Errorf("mem = %+v; want +p3 -p2", c)
	}
	if c := byID["left"]; c.Op != user.OpGroupDelete || len(c.Remove) != 3 || c.PlatformID != "g-left" {
		t.Errorf("left = %+v; want a delete removing its 3 members", c)
	}
	if _, ok := byID["same"]; ok || plan.Unchanged != 1 {
		t.Errorf("same planned, or unchanged = %d, want 1", plan.Unchanged)
	}
	if plan.InScope != 4 || plan.Managed != 4 || plan.Memberships != 7 {
		t.Errorf("plan counts = in scope %d, managed %d, memberships %d; want 4, 4, 7", plan.InScope, plan.Managed, plan.Memberships)
	}
	if added, removed := plan.MembershipChanges(); added != 3 || removed != 4 {
		t.Errorf("membership changes = +%d -%d, want +3 -4", added, removed)
	}

	ignore := DiffGroups(groups, records, accounts, RemovedIgnore)
	if ignore.Count(user.OpGroupDelete) != 0 {
		t.Errorf("on_removed ignore planned a delete: %+v", ignore.Changes)
	}
}

func TestDiffGroups_AFailedCreateIsPlannedAgain(t *testing.T) {
	pending := user.GroupRecord{Group: user.Group{ID: "g", Name: "g"}, Status: user.GroupPending, Attempts: 2}
	plan := DiffGroups([]user.Group{{ID: "g", Name: "g"}}, []user.GroupRecord{pending}, nil, RemovedDelete)
	if len(plan.Changes) != 1 || plan.Changes[0].Op != user.OpGroupCreate || plan.Changes[0].Attempts != 2 {
		t.Fatalf("plan = %+v; want the create again", plan.Changes)
	}
	if plan.Managed != 0 {
		t.Errorf("managed = %d; a pending group is not on the platform", plan.Managed)
	}
}

func TestGroupPolicy_RefusesAMassMembershipRemovalUnlessAllowed(t *testing.T) {
	p := GroupPolicy{MaxDelete: 5, MaxDeletePercent: 50, MaxRemoval: 10, MaxRemovalPercent: 10}
	records := []user.GroupRecord{groupRecord("g", "g", "pg")}
	var members []string
	for i := range 200 {
		members = append(members, fmt.Sprintf("p%03d", i))
	}
	records[0].Members = user.SortedSet(members)
	plan := DiffGroups([]user.Group{{ID: "g", Name: "g"}}, records, nil, RemovedDelete)
	err := p.Check(plan, false)
	var se *GroupSafetyError
	if !errors.As(err, &se) || se.Removals != 200 || !strings.Contains(err.Error(), "groups.max_membership_removal") {
		t.Fatalf("Check = %v; want a refusal naming groups.max_membership_removal", err)
	}
	if err := p.Check(plan, true); err != nil {
		t.Errorf("Check with --allow-mass-archive = %v", err)
	}
	small := DiffGroups([]user.Group{{ID: "g", Name: "g", Members: nil}}, []user.GroupRecord{groupRecord("g", "g", "pg", "p1")},
		nil, RemovedDelete)
	p.MaxRemovalPercent = 100
	if err := p.Check(small, false); err != nil {
		t.Errorf("one removal refused: %v", err)
	}
}

func TestGroupPolicy_RefusesDeletingEveryGroupWhenTheReadIsEmpty(t *testing.T) {
	p := GroupPolicy{MaxDelete: 5, MaxDeletePercent: 10, MaxRemoval: 100, MaxRemovalPercent: 100}
	records := []user.GroupRecord{groupRecord("a", "a", "pa"), groupRecord("b", "b", "pb")}
	plan := DiffGroups(nil, records, nil, RemovedDelete)
	err := p.Check(plan, false)
	var se *GroupSafetyError
	if !errors.As(err, &se) || se.Deletes != 2 || !strings.Contains(err.Error(), "groups.max_group_delete") {
		t.Fatalf("Check = %v; want a refusal of 2 deletions", err)
	}
	if o := (Report{}).Outcome(err); o != OutcomeRefused {
		t.Errorf("outcome = %s, want refused", o)
	}
}

func TestWriteGroupReport_ShowsEachChangeWithItsMembershipCounts(t *testing.T) {
	accounts := map[string]string{"u1": "p1", "u2": "p2", "u3": "p3", "u4": "p4"}
	plan := DiffGroups([]user.Group{
		{ID: "new", Name: "eng", Members: []string{"u1", "u2", "u3"}},
		{ID: "ops", Name: "ops", Members: []string{"u1", "u2", "u3", "u4"}},
	}, []user.GroupRecord{groupRecord("ops", "operations", "g-ops", "p1", "p9"), groupRecord("old", "old", "g-old", "p1")},
		accounts, RemovedDelete)
	var b strings.Builder
	WriteGroupReport(&b, &GroupReport{Plan: plan})
	for _, want := range []string{
		"Groups: 1 to create, 1 to update, 1 to delete, members +6 −2",
		"+ group eng  members: +3\n",
		`~ group ops  renamed from "operations", members: +3 −1` + "\n",
		"- group old  members: −1, group removed from the directory\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}
