package rest_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/target/fake"
	"github.com/dirsync/dirsync/target/rest"
	"github.com/dirsync/dirsync/user"
)

var (
	_ dsync.GroupTarget = (*rest.Client)(nil)
)

// groupSource is a directory's groups, fixed by the test.
type groupSource struct{ groups []user.Group }

func (g *groupSource) ReadGroups(context.Context) ([]user.Group, error) {
	return slices.Clone(g.groups), nil
}

func lifecycleGroups(t *testing.T, users ...user.User) (*harness, *fake.REST, *groupSource) {
	t.Helper()
	p, srv, _ := restPlatform(t, fake.StyleLifecycle, "lifecycle.yaml", "lc-token", map[string]string{"LIFECYCLE_API_TOKEN": "lc-token"}, true, true)
	h := newHarness(t, p, users...)
	gs := &groupSource{}
	pol := dsync.DefaultGroups()
	pol.MaxMembershipRemovalPercent, pol.MaxGroupDeletePercent = 100, 100
	h.eng.Groups = &dsync.Groups{Source: gs, OnRemoved: dsync.RemovedDelete, Policy: pol.GroupPolicy()}
	return h, srv, gs
}

func restGroup(t *testing.T, srv *fake.REST, ext string) fake.RESTGroup {
	t.Helper()
	for _, g := range srv.Groups() {
		if g.ExternalID == ext {
			return g
		}
	}
	t.Fatalf("no platform group with externalId %s among %+v", ext, srv.Groups())
	return fake.RESTGroup{}
}

func idsOf(t *testing.T, srv *fake.REST, emails ...string) []string {
	t.Helper()
	var ids []string
	for _, e := range emails {
		u, ok := srv.ByEmail(e)
		if !ok {
			t.Fatalf("no account %s", e)
		}
		ids = append(ids, u.ID)
	}
	slices.Sort(ids)
	return ids
}

func TestGroupPush_LifecycleProfileCreatesRenamesChangesMembersAdoptsAndDeletes(t *testing.T) {
	a, b, c := person("u1", "Ada", "Lovelace"), person("u2", "Bob", "Builder"), person("u3", "Cy", "Young")
	h, srv, gs := lifecycleGroups(t, a, b, c)
	adopted := srv.PutGroup("Sales", "") // made by hand: adopted by name
	gs.groups = []user.Group{
		{ID: "g-eng", Name: "eng", Members: []string{"u1", "u2", "u3"}},
		{ID: "g-sales", Name: "Sales", Members: []string{"u1"}},
	}
	rep := h.runClean()
	if rep.Groups == nil || len(rep.Groups.Failed) > 0 {
		t.Fatalf("group pass: %+v", rep.Groups)
	}
	eng := restGroup(t, srv, "g-eng")
	if eng.Name != "eng" || !slices.Equal(eng.Members, idsOf(t, srv, a.Email, b.Email, c.Email)) {
		t.Fatalf("eng = %+v; want all three", eng)
	}
	if len(srv.Groups()) != 2 {
		t.Fatalf("groups = %+v; want Sales adopted, not duplicated", srv.Groups())
	}
	var sales fake.RESTGroup
	for _, g := range srv.Groups() {
		if g.ID == adopted {
			sales = g
		}
	}
	if !slices.Equal(sales.Members, idsOf(t, srv, a.Email)) {
		t.Errorf("sales = %+v; want Ada", sales)
	}

	// Renamed (the externalId kept), Ada left; members read back over
	// several pages of the members listing.
	gs.groups[0] = user.Group{ID: "g-eng", Name: "engineering", Members: []string{"u2", "u3"}}
	h.runClean()
	eng = restGroup(t, srv, "g-eng")
	if eng.Name != "engineering" || !slices.Equal(eng.Members, idsOf(t, srv, b.Email, c.Email)) {
		t.Fatalf("eng = %+v; want engineering with Bob and Cy", eng)
	}

	// Drift: Ada added by hand; a full reconcile takes her out.
	srv.EditGroup(eng.ID, "", idsOf(t, srv, a.Email), nil)
	rep, err := h.eng.Run(context.Background(), dsync.RunOptions{Full: true, Mode: "full", AllowMassArchive: true})
	if err != nil {
		t.Fatal(err)
	}
	if eng = restGroup(t, srv, "g-eng"); !slices.Equal(eng.Members, idsOf(t, srv, b.Email, c.Email)) || rep.Groups.Plan.Drifted != 1 {
		t.Fatalf("after --full: %+v (drifted %d); want Bob and Cy", eng, rep.Groups.Plan.Drifted)
	}

	gs.groups = gs.groups[1:]
	h.runClean()
	for _, g := range srv.Groups() {
		if g.ExternalID == "g-eng" {
			t.Fatalf("eng not deleted: %+v", srv.Groups())
		}
	}
}

func TestGroupPush_LifecycleProfileRefusesAMassMembershipRemoval(t *testing.T) {
	var users []user.User
	var ids []string
	for _, n := range []string{"a", "b", "c", "d", "e", "f"} {
		u := person("u-"+n, strings.ToUpper(n), "Doe")
		users = append(users, u)
		ids = append(ids, u.ID)
	}
	h, srv, gs := lifecycleGroups(t, users...)
	gs.groups = []user.Group{{ID: "g", Name: "g", Members: ids}}
	h.runClean()
	h.eng.Groups.Policy.MaxRemoval = 2
	gs.groups[0].Members = ids[:1]
	_, err := h.eng.Run(context.Background(), dsync.RunOptions{})
	var se *dsync.GroupSafetyError
	if !errors.As(err, &se) || se.Removals != 5 {
		t.Fatalf("run = %v; want 5 removals refused", err)
	}
	if g := restGroup(t, srv, "g"); len(g.Members) != 6 {
		t.Fatalf("members = %v after a refused run", g.Members)
	}
}

func TestGroupPush_ProfileGroupEndpointsAreValidated(t *testing.T) {
	srv := fake.NewREST(fake.RESTOptions{Style: fake.StyleLifecycle})
	cfg := loadProfile(t, "lifecycle.yaml", srv.StartT(t), map[string]string{"LIFECYCLE_API_TOKEN": "x"})
	cfg.Rest.Groups.AddMember.Path = "/api/v1/groups/{id}/users"
	cfg.Rest.Groups.Rename.Body = `{"name": "{{email}}"}`
	cfg.Rest.Groups.Members.Path = ""
	err := cfg.Validate()
	for _, want := range []string{"target.rest.groups.add_member: must name the member", "target.rest.groups.rename.body", "target.rest.groups.members.path"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v; want %q", err, want)
		}
	}
}
