package sync_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/slapdtest"
	"github.com/dirsync/dirsync/ldapsource"
	"github.com/dirsync/dirsync/state"
	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/target"
	"github.com/dirsync/dirsync/target/fake"
	"github.com/dirsync/dirsync/target/scim"
	"github.com/dirsync/dirsync/user"
)

// dirSource is a directory of fixed users and groups.
type dirSource struct {
	users    []user.User
	groups   []user.Group
	groupErr error
}

func (d *dirSource) Read(context.Context) (dsync.Directory, error) {
	return dsync.Directory{Users: slices.Clone(d.users)}, nil
}

func (d *dirSource) Reread(context.Context, []string, []string) (dsync.Changed, error) {
	return dsync.Changed{}, errors.New("not a change stream")
}

func (d *dirSource) ReadGroups(context.Context) ([]user.Group, error) {
	if d.groupErr != nil {
		return nil, d.groupErr
	}
	return slices.Clone(d.groups), nil
}

// groupEnv is the engine over a fake SCIM platform and a real snapshot.
type groupEnv struct {
	t      *testing.T
	fake   *fake.Server
	db     *state.DB
	dir    *dirSource
	engine *dsync.Engine
}

func newGroupEnv(t *testing.T, users int) *groupEnv {
	t.Helper()
	f := fake.New(fake.Options{Token: "tok"})
	cfg := target.Default()
	cfg.URL, cfg.Token, cfg.RateLimit = f.StartT(t), "tok", 0
	c, err := scim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db, err := state.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	dir := &dirSource{}
	for i := range users {
		dir.users = append(dir.users, user.User{ID: fmt.Sprintf("u%04d", i), Username: fmt.Sprintf("user%d", i),
			Email: fmt.Sprintf("user%d@example.com", i), Active: true})
	}
	opts := dsync.Default().Options()
	opts.Policy.MaxArchivePercent = 100
	groups := dsync.DefaultGroups()
	groups.MaxGroupDeletePercent, groups.MaxMembershipRemovalPercent = 100, 100
	e := &dsync.Engine{Source: dir, Target: c, Store: db, Options: opts,
		Groups: &dsync.Groups{Source: dir, OnRemoved: dsync.RemovedDelete, Policy: groups.GroupPolicy()}}
	return &groupEnv{t: t, fake: f, db: db, dir: dir, engine: e}
}

func (e *groupEnv) run(ro dsync.RunOptions) (dsync.Report, error) {
	e.t.Helper()
	return e.engine.Run(context.Background(), ro)
}

func (e *groupEnv) mustRun(ro dsync.RunOptions) dsync.Report {
	e.t.Helper()
	rep, err := e.run(ro)
	if err != nil {
		e.t.Fatalf("run: %v", err)
	}
	if rep.Groups != nil && len(rep.Groups.Failed) > 0 {
		e.t.Fatalf("group changes failed: %+v", rep.Groups.Failed)
	}
	return rep
}

// pid returns the platform id of directory user id.
func (e *groupEnv) pid(id string) string {
	e.t.Helper()
	recs, err := e.db.Records(context.Background(), []string{id})
	if err != nil || len(recs) != 1 || recs[0].PlatformID == "" {
		e.t.Fatalf("record of %s: %+v, %v", id, recs, err)
	}
	return recs[0].PlatformID
}

func (e *groupEnv) pids(ids ...string) []string {
	var out []string
	for _, id := range ids {
		out = append(out, e.pid(id))
	}
	return user.SortedSet(out)
}

// platformGroup returns the one platform group with externalId ext.
func (e *groupEnv) platformGroup(ext string) fake.GroupInfo {
	e.t.Helper()
	var found []fake.GroupInfo
	for _, g := range e.fake.Groups() {
		if g.ExternalID == ext {
			found = append(found, g)
		}
	}
	if len(found) != 1 {
		e.t.Fatalf("platform groups with externalId %s: %+v (all: %+v)", ext, found, e.fake.Groups())
	}
	return found[0]
}

func (e *groupEnv) groupRequests(method string) int {
	n := 0
	for _, r := range e.fake.Requests() {
		if r.Method == method && strings.HasPrefix(r.Path, "/Groups") {
			n++
		}
	}
	return n
}

func TestGroupPush_CreatesRenamesChangesMembersAndDeletesThroughSCIM(t *testing.T) {
	e := newGroupEnv(t, 4)
	e.dir.groups = []user.Group{{ID: "g-eng", Name: "eng", Members: []string{"u0000", "u0001", "not-in-scope"}}}
	rep := e.mustRun(dsync.RunOptions{})
	g := e.platformGroup("g-eng")
	if g.DisplayName != "eng" || !slices.Equal(g.Members, e.pids("u0000", "u0001")) {
		t.Fatalf("platform group = %+v; want eng with user0 and user1", g)
	}
	if rep.Groups.Applied[user.OpGroupCreate] != 1 || rep.Groups.Added != 2 {
		t.Errorf("report = %+v; want one create adding 2 members", rep.Groups)
	}

	// Renamed, user0 left, user2 and user3 joined.
	e.dir.groups = []user.Group{{ID: "g-eng", Name: "engineering", Members: []string{"u0001", "u0002", "u0003"}}}
	dry := e.mustRun(dsync.RunOptions{DryRun: true})
	if c := dry.Groups.Plan.Changes; len(c) != 1 || c[0].OldName != "eng" || len(c[0].Add) != 2 || len(c[0].Remove) != 1 {
		t.Fatalf("dry-run plan = %+v; want a rename, +2 −1", c)
	}
	if got := e.platformGroup("g-eng"); got.DisplayName != "eng" {
		t.Fatalf("a dry run changed the group: %+v", got)
	}
	e.mustRun(dsync.RunOptions{})
	g = e.platformGroup("g-eng")
	if g.DisplayName != "engineering" || !slices.Equal(g.Members, e.pids("u0001", "u0002", "u0003")) {
		t.Fatalf("platform group = %+v; want engineering with user1..3", g)
	}

	// No change: no group request at all.
	before := len(e.fake.Requests())
	rep = e.mustRun(dsync.RunOptions{})
	if n := len(e.fake.Requests()) - before; n != 0 || rep.Groups.Plan.Unchanged != 1 {
		t.Errorf("a run with nothing to do made %d requests, unchanged %d", n, rep.Groups.Plan.Unchanged)
	}

	// The group leaves the directory.
	e.dir.groups = nil
	rep = e.mustRun(dsync.RunOptions{})
	if _, ok := e.fake.GroupByName("engineering"); ok || rep.Groups.Applied[user.OpGroupDelete] != 1 {
		t.Fatalf("group not deleted: %+v, report %+v", e.fake.Groups(), rep.Groups)
	}
	recs, err := e.db.Groups(context.Background())
	if err != nil || len(recs) != 1 || recs[0].Status != user.GroupDeleted {
		t.Errorf("snapshot groups = %+v, %v; want g-eng deleted", recs, err)
	}
	j, err := e.db.Journal(context.Background(), rep.RunID)
	if err != nil || len(j) != 1 || j[0].Op != user.OpGroupDelete || j[0].UserID != "g-eng" {
		t.Errorf("journal = %+v, %v; want the group's deletion", j, err)
	}
}

func TestGroupPush_ChunksTheMembersOfALargeGroup(t *testing.T) {
	e := newGroupEnv(t, 250)
	var ids []string
	for _, u := range e.dir.users {
		ids = append(ids, u.ID)
	}
	e.dir.groups = []user.Group{{ID: "g-all", Name: "all", Members: ids}}
	e.mustRun(dsync.RunOptions{})
	if g := e.platformGroup("g-all"); len(g.Members) != 250 {
		t.Fatalf("members = %d, want 250", len(g.Members))
	}
	if n := e.groupRequests("PATCH"); n != 3 {
		t.Errorf("%d PATCH requests for 250 members; want 3 (of at most %d)", n, scim.MemberChunk)
	}
}

func TestGroupPush_AdoptsByExternalIDThenDisplayNameNeverDuplicates(t *testing.T) {
	e := newGroupEnv(t, 2)
	byName := e.fake.PutGroup("Sales", "")
	byExt := e.fake.PutGroup("old ops name", "g-ops")
	e.fake.PutGroup("Finance", "another-directory-group")
	e.dir.groups = []user.Group{
		{ID: "g-sales", Name: "sales", Members: []string{"u0000"}},
		{ID: "g-ops", Name: "ops", Members: []string{"u0001"}},
		{ID: "g-fin", Name: "finance"},
	}
	rep, err := e.run(dsync.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := e.groupRequests("POST"); n != 0 {
		t.Errorf("%d groups created; want none", n)
	}
	if s, _ := e.fake.Group(byName); !slices.Equal(s.Members, e.pids("u0000")) || s.DisplayName != "sales" {
		t.Errorf("sales = %+v; want adopted by name, with user0", s)
	}
	if o, _ := e.fake.Group(byExt); o.DisplayName != "ops" || !slices.Equal(o.Members, e.pids("u0001")) {
		t.Errorf("ops = %+v; want adopted by externalId, renamed ops, with user1", o)
	}
	if rep.Groups.Applied[user.OpGroupAdopt] != 2 {
		t.Errorf("applied = %v; want 2 adoptions", rep.Groups.Applied)
	}
	// finance collides with a platform group owned by another directory
	// group: its create fails, reported, and nothing is duplicated.
	if len(rep.Groups.Failed) != 1 || rep.Groups.Failed[0].Change.Group.ID != "g-fin" || rep.Outcome(err) != dsync.OutcomePartial {
		t.Errorf("failed = %+v; want finance's create failed", rep.Groups.Failed)
	}
	if len(e.fake.Groups()) != 3 {
		t.Errorf("platform groups = %+v; want 3", e.fake.Groups())
	}
}

func TestGroupPush_RefusesAMassMembershipRemoval(t *testing.T) {
	e := newGroupEnv(t, 20)
	var ids []string
	for _, u := range e.dir.users {
		ids = append(ids, u.ID)
	}
	e.dir.groups = []user.Group{{ID: "g", Name: "g", Members: ids}}
	e.mustRun(dsync.RunOptions{})
	e.engine.Groups.Policy.MaxRemoval = 5

	e.dir.groups = []user.Group{{ID: "g", Name: "g", Members: ids[:2]}}
	rep, err := e.run(dsync.RunOptions{})
	var se *dsync.GroupSafetyError
	if !errors.As(err, &se) || se.Removals != 18 || rep.Outcome(err) != dsync.OutcomeRefused {
		t.Fatalf("run = %v; want a refusal of 18 removals", err)
	}
	if g := e.platformGroup("g"); len(g.Members) != 20 {
		t.Fatalf("a refused run removed members: %d left", len(g.Members))
	}
	e.mustRun(dsync.RunOptions{AllowMassArchive: true})
	if g := e.platformGroup("g"); !slices.Equal(g.Members, e.pids(ids[:2]...)) {
		t.Fatalf("members = %v after --allow-mass-archive; want the 2 left", g.Members)
	}
}

func TestGroupPush_FailedGroupReadChangesNoGroup(t *testing.T) {
	e := newGroupEnv(t, 2)
	e.dir.groups = []user.Group{{ID: "g", Name: "g", Members: []string{"u0000", "u0001"}}}
	e.mustRun(dsync.RunOptions{})
	e.dir.groupErr = errors.New("connection lost")
	e.dir.groups = nil
	rep, err := e.run(dsync.RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "no group was changed") || rep.Outcome(err) != dsync.OutcomeFailed {
		t.Fatalf("run = %v; want the group read's error", err)
	}
	if g := e.platformGroup("g"); len(g.Members) != 2 {
		t.Fatalf("group changed after a failed read: %+v", g)
	}
}

func TestGroupPush_FullReconcileRepairsDrift(t *testing.T) {
	e := newGroupEnv(t, 3)
	e.dir.groups = []user.Group{
		{ID: "g", Name: "g", Members: []string{"u0000", "u0001"}},
		{ID: "gone", Name: "gone", Members: []string{"u0002"}},
	}
	e.mustRun(dsync.RunOptions{})
	g := e.platformGroup("g")
	// By hand: renamed, user0 removed, user2 added; "gone" deleted.
	e.fake.EditGroup(g.ID, "renamed by hand", []string{e.pid("u0002")}, []string{e.pid("u0000")})
	e.fake.DeleteGroup(e.platformGroup("gone").ID)

	// An ordinary run does not read the platform.
	e.mustRun(dsync.RunOptions{})
	if got, _ := e.fake.Group(g.ID); got.DisplayName != "renamed by hand" {
		t.Fatalf("an ordinary run touched the group: %+v", got)
	}
	rep := e.mustRun(dsync.RunOptions{Full: true, Mode: "full"})
	got, _ := e.fake.Group(g.ID)
	if got.DisplayName != "g" || !slices.Equal(got.Members, e.pids("u0000", "u0001")) {
		t.Errorf("after --full: %+v; want g with user0 and user1", got)
	}
	if gone := e.platformGroup("gone"); !slices.Equal(gone.Members, e.pids("u0002")) {
		t.Errorf("gone = %+v; want created again with user2", gone)
	}
	if rep.Groups.Plan.Drifted != 2 {
		t.Errorf("drifted = %d, want 2", rep.Groups.Plan.Drifted)
	}
}

// ldapDirectory is a sync.Source over a real directory.
type ldapDirectory struct{ s *ldapsource.Source }

func (d ldapDirectory) Read(ctx context.Context) (dsync.Directory, error) {
	users, _, err := d.s.Fetch(ctx)
	return dsync.Directory{Users: users}, err
}

func (d ldapDirectory) Reread(context.Context, []string, []string) (dsync.Changed, error) {
	return dsync.Changed{}, errors.New("not a change stream")
}

func TestGroupPush_NestedDirectoryGroupsReachThePlatformFlattened(t *testing.T) {
	srv := slapdtest.Start(t)
	people := srv.AddOU(t, "people")
	groups := srv.AddOU(t, "groups")
	alice := srv.AddUser(t, people, slapdtest.UserSpec{UID: "alice", Mail: "alice@example.com"})
	bob := srv.AddUser(t, people, slapdtest.UserSpec{UID: "bob", Mail: "bob@example.com"})
	smith := "cn=Smith\\, John," + people
	srv.Add(t, smith, map[string][]string{"objectClass": {"inetOrgPerson"}, "cn": {"Smith, John"}, "sn": {"Smith"},
		"uid": {"jsmith"}, "mail": {"jsmith@example.com"}})
	team := srv.AddGroup(t, groups, "team", bob, "CN=Smith\\2C John,"+people)
	eng := srv.AddGroup(t, groups, "eng", alice, team)
	srv.AddMembers(t, team, eng) // a cycle

	c := ldapsource.Default()
	c.URL, c.AllowPlaintext = srv.URL(), true
	c.BindDN, c.BindPassword = srv.ReaderDN(), srv.ReaderPassword()
	c.BaseDN, c.UserFilter = people, "(objectClass=inetOrgPerson)"
	src, err := ldapsource.New(c)
	if err != nil {
		t.Fatal(err)
	}
	e := newGroupEnv(t, 0)
	e.engine.Source = ldapDirectory{src}
	e.engine.Groups.Source = src.Groups(ldapsource.GroupSearch{BaseDN: groups, Filter: "(cn=eng)", NameAttribute: "cn", Flatten: true})
	e.mustRun(dsync.RunOptions{})
	g := e.platformGroup(srv.EntryUUID(t, eng))
	want := e.pids(srv.EntryUUID(t, alice), srv.EntryUUID(t, bob), srv.EntryUUID(t, smith))
	if g.DisplayName != "eng" || !slices.Equal(g.Members, want) {
		t.Fatalf("platform group = %+v; want eng with alice, bob and Smith, John (through team)", g)
	}
	if len(e.fake.Groups()) != 1 {
		t.Errorf("platform groups = %+v; want only eng (the filter selects it)", e.fake.Groups())
	}
}

func TestGroupPush_AnApprovedPlanMakesItsRemovalsAndNoOthers(t *testing.T) {
	e := newGroupEnv(t, 10)
	var ids []string
	for _, u := range e.dir.users {
		ids = append(ids, u.ID)
	}
	e.dir.groups = []user.Group{{ID: "g", Name: "g", Members: ids}}
	e.mustRun(dsync.RunOptions{})
	e.engine.Groups.Policy.MaxRemoval = 2

	// The plan an operator reviews: 5 removals, over the limit.
	e.dir.groups[0].Members = ids[:5]
	dry, err := e.run(dsync.RunOptions{DryRun: true, AllowMassArchive: true})
	if err != nil {
		t.Fatal(err)
	}
	approvedPlan := dry.Groups.Plan

	// Meanwhile one more member left: that removal was not approved.
	e.dir.groups[0].Members = ids[:4]
	_, err = e.engine.ApplyPlans(context.Background(), "apply", dry.Plan, &approvedPlan)
	var se *dsync.GroupSafetyError
	if !errors.As(err, &se) {
		t.Fatalf("apply = %v; want a refusal of the removal not approved", err)
	}
	if g := e.platformGroup("g"); len(g.Members) != 10 {
		t.Fatalf("members = %d after a refused apply, want 10", len(g.Members))
	}

	e.dir.groups[0].Members = ids[:5]
	if _, err := e.engine.ApplyPlans(context.Background(), "apply", dry.Plan, &approvedPlan); err != nil {
		t.Fatalf("apply of the approved plan: %v", err)
	}
	if g := e.platformGroup("g"); !slices.Equal(g.Members, e.pids(ids[:5]...)) {
		t.Fatalf("members = %v, want the 5 left", g.Members)
	}
}

func TestGroupPush_UndoPutsBackARunsRemovedMembersAndDeletedGroups(t *testing.T) {
	e := newGroupEnv(t, 6)
	ids := []string{"u0000", "u0001", "u0002", "u0003", "u0004", "u0005"}
	e.dir.groups = []user.Group{{ID: "g", Name: "g", Members: ids}, {ID: "h", Name: "h", Members: ids[:2]}}
	e.mustRun(dsync.RunOptions{})

	// A wrong run: g loses 4 members, h is deleted.
	e.dir.groups = []user.Group{{ID: "g", Name: "g", Members: ids[:2]}}
	wrong := e.mustRun(dsync.RunOptions{AllowMassArchive: true})
	if len(e.platformGroup("g").Members) != 2 || len(e.fake.Groups()) != 1 {
		t.Fatalf("the wrong run did not happen: %+v", e.fake.Groups())
	}

	ctx := context.Background()
	journal, err := e.db.Journal(ctx, wrong.RunID)
	if err != nil {
		t.Fatal(err)
	}
	records, err := e.db.Groups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	plan := dsync.UndoGroups(wrong.RunID, journal, records)
	if len(plan.Changes) != 2 {
		t.Fatalf("undo plan = %+v; want g's members back and h created again", plan.Changes)
	}
	rep, err := e.engine.ApplyPlanWithGroupChanges(ctx, "undo", dsync.Plan{}, plan)
	if err != nil || len(rep.Groups.Failed) > 0 {
		t.Fatalf("undo: %v, %+v", err, rep.Groups)
	}
	if g := e.platformGroup("g"); !slices.Equal(g.Members, e.pids(ids...)) {
		t.Errorf("g = %v after undo, want all 6", g.Members)
	}
	if h := e.platformGroup("h"); !slices.Equal(h.Members, e.pids(ids[:2]...)) {
		t.Errorf("h = %+v after undo, want it back with its 2 members", h)
	}
	// Undone twice: nothing left to do.
	records, _ = e.db.Groups(ctx)
	if again := dsync.UndoGroups(wrong.RunID, journal, records); len(again.Changes) != 0 {
		t.Errorf("second undo plan = %+v, want none", again.Changes)
	}
}
