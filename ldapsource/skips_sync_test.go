package ldapsource

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/dirsync/dirsync/internal/slapdtest"
	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/target/fake"
	"github.com/dirsync/dirsync/user"
)

// toSkips is Skipped as sync.Skip (what cmd/dirsync hands the reconciler).
func toSkips(skipped []Skipped) []dsync.Skip {
	out := make([]dsync.Skip, len(skipped))
	for i, s := range skipped {
		out[i] = dsync.Skip{DN: s.DN, ID: s.ID, IDs: s.IDs, Reason: s.Reason, Disabled: s.Disabled, Withdrawn: s.Withdrawn}
	}
	return out
}

// streamedDirectory is the Source as the reconciler's streamed read uses
// it (sync.Streamer); wholeDirectory is its whole read (sync.Source only).
type (
	streamedDirectory struct{ src *Source }
	wholeDirectory    struct{ src *Source }
)

func (d streamedDirectory) Read(ctx context.Context) (dsync.Directory, error) {
	return wholeDirectory(d).Read(ctx)
}

func (d streamedDirectory) Stream(ctx context.Context, emit func(user.User) error) ([]dsync.Skip, error) {
	skipped, err := d.src.Stream(ctx, emit)
	return toSkips(skipped), err
}

func (d wholeDirectory) Read(ctx context.Context) (dsync.Directory, error) {
	users, skipped, err := d.src.Fetch(ctx)
	if err != nil {
		return dsync.Directory{}, err
	}
	return dsync.Directory{Users: users, Skipped: toSkips(skipped)}, nil
}

// skipPlans returns the plans of the three ways a run reads the directory
// from slapd — whole, streamed, and a re-read of the given IDs (a change
// event run) — as summaries "op username reason", none applied.
func skipPlans(t *testing.T, rec *adReconciler, src *Source, ids ...string) map[string][]string {
	t.Helper()
	ctx := context.Background()
	plans := make(map[string][]string)
	summarize := func(p dsync.Plan) []string {
		var out []string
		for _, c := range p.Changes {
			out = append(out, string(c.Op)+" "+c.User.Username+" ("+c.Reason+")")
		}
		return out
	}
	for name, dir := range map[string]dsync.Source{"whole read": wholeDirectory{src}, "streamed read": streamedDirectory{src}} {
		rec.engine.Source = dir
		rep, err := rec.engine.Run(ctx, dsync.RunOptions{DryRun: true})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		plans[name] = summarize(rep.Plan)
	}
	users, gone, skipped, err := src.Reread(ctx, ids)
	if err != nil {
		t.Fatalf("Reread: %v", err)
	}
	rep, err := rec.engine.RunChanged(ctx, dsync.RunOptions{DryRun: true},
		dsync.Changed{Users: users, Gone: gone, Skipped: toSkips(skipped)})
	if err != nil {
		t.Fatalf("change-event run: %v", err)
	}
	plans["change-event re-read"] = summarize(rep.Plan)
	rec.engine.Source = streamedDirectory{src}
	return plans
}

func activeOnPlatform(t *testing.T, platform *fake.Server, username string) bool {
	t.Helper()
	r, ok := platform.FindByUserName(username)
	if !ok {
		t.Fatalf("no platform account %s; have %+v", username, platform.Users())
	}
	return r.Active
}

// TestSync_DisabledDuplicateIsArchivedOnEveryReadPath: a leaver disabled
// in the directory whose entry also collides with another's email is
// skipped as a duplicate, and still loses access, however the directory is
// read; the other holder of the email keeps its account untouched.
func TestSync_DisabledDuplicateIsArchivedOnEveryReadPath(t *testing.T) {
	srv := slapdtest.Start(t)
	ctx := context.Background()
	ou := srv.AddOU(t, "dupleaver")
	alice := srv.AddUser(t, ou, slapdtest.UserSpec{UID: "alice", Mail: "alice@example.com"})
	bob := srv.AddUser(t, ou, slapdtest.UserSpec{UID: "bob", Mail: "bob@example.com"})
	srv.AddUser(t, ou, slapdtest.UserSpec{UID: "carol", Mail: "carol@example.com"})
	c := readerConfig(srv, ou)
	c.DisabledFilter = "(employeeType=disabled)"
	src := newSource(t, c)
	rec := newADReconciler(t, src)
	rec.engine.Source = streamedDirectory{src}
	if rep, err := rec.engine.Run(ctx, dsync.RunOptions{}); err != nil || rep.Applied[user.OpCreate] != 3 {
		t.Fatalf("first run: %v, applied %v", err, rep.Applied)
	}

	// bob leaves (disabled) and his entry now shares alice's email.
	srv.Modify(t, bob, map[string][]string{"employeeType": {"disabled"}, "mail": {"Alice@example.com"}})
	want := []string{"archive bob (" + dsync.ReasonDisabled + ")"}
	for path, got := range skipPlans(t, rec, src, srv.EntryUUID(t, alice), srv.EntryUUID(t, bob)) {
		if !slices.Equal(got, want) {
			t.Errorf("%s: plan %q, want %q", path, got, want)
		}
	}
	rep, err := rec.engine.Run(ctx, dsync.RunOptions{})
	if err != nil || rep.Applied[user.OpArchive] != 1 || len(rep.Failed) > 0 {
		t.Fatalf("run: %v, applied %v, failed %+v", err, rep.Applied, rep.Failed)
	}
	if activeOnPlatform(t, rec.platform, "bob") {
		t.Error("bob, disabled, is still active on the platform")
	}
	if !activeOnPlatform(t, rec.platform, "alice") || !activeOnPlatform(t, rec.platform, "carol") {
		t.Error("alice or carol lost access")
	}
	// Archived, still a duplicate: nothing more to do.
	for path, got := range skipPlans(t, rec, src, srv.EntryUUID(t, alice), srv.EntryUUID(t, bob)) {
		if len(got) != 0 {
			t.Errorf("%s after the archive: plan %q, want none", path, got)
		}
	}
}

// TestSync_SkippedAndRenamedEntryKeepsItsAccount: an entry skipped and
// renamed in the same interval is protected by its ID, not only its old DN
// — also when the ID attribute gained a second value (which of the two is
// the ID cannot be known, so each is protected).
func TestSync_SkippedAndRenamedEntryKeepsItsAccount(t *testing.T) {
	srv := slapdtest.Start(t)
	ctx := context.Background()
	ou := srv.AddOU(t, "skiprename")
	alice := srv.AddUser(t, ou, slapdtest.UserSpec{UID: "alice", Mail: "alice@example.com", Attrs: map[string][]string{"roomNumber": {"1001"}}})
	bob := srv.AddUser(t, ou, slapdtest.UserSpec{UID: "bob", Mail: "bob@example.com", Attrs: map[string][]string{"roomNumber": {"1002"}}})
	srv.AddUser(t, ou, slapdtest.UserSpec{UID: "carol", Mail: "carol@example.com", Attrs: map[string][]string{"roomNumber": {"1003"}}})
	c := readerConfig(srv, ou)
	// roomNumber stands for an ID attribute the schema lets hold several
	// values (employeeNumber, entryUUID and objectGUID cannot).
	c.IDAttribute = "roomNumber"
	c.Attributes.Extra = map[string]string{"audio": "audio"}
	src := newSource(t, c)
	rec := newADReconciler(t, src)
	rec.engine.Source = streamedDirectory{src}
	if rep, err := rec.engine.Run(ctx, dsync.RunOptions{}); err != nil || rep.Applied[user.OpCreate] != 3 {
		t.Fatalf("first run: %v, applied %v", err, rep.Applied)
	}

	// alice's ID attribute gains a second value; bob's entry gets data
	// that cannot be read. Both are renamed.
	srv.Modify(t, alice, map[string][]string{"roomNumber": {"1001", "9001"}})
	srv.Rename(t, alice, "uid=alice.renamed")
	srv.Modify(t, bob, map[string][]string{"audio": {"\xff\xfe"}})
	srv.Rename(t, bob, "uid=bob.renamed")
	for path, got := range skipPlans(t, rec, src, "1001", "1002") {
		if len(got) != 0 {
			t.Errorf("%s: plan %q, want none (both entries are skipped, still in the directory)", path, got)
		}
	}
	if _, err := rec.engine.Run(ctx, dsync.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"alice", "bob", "carol"} {
		if !activeOnPlatform(t, rec.platform, name) {
			t.Errorf("%s was archived while still in the directory", name)
		}
	}
}

// TestSync_SkippedEntryStillCountsInDuplicateDetection: an entry skipped for
// its own reason (invalid data) still holds its username and email. A valid
// entry sharing one of them (case aside) is skipped as a duplicate on every
// read path — also a change-event re-read that names only the valid entry —
// so it is never created and never adopts the skipped person's platform
// account (an account no record claims, without an externalId).
func TestSync_SkippedEntryStillCountsInDuplicateDetection(t *testing.T) {
	srv := slapdtest.Start(t)
	ctx := context.Background()
	ou1 := srv.AddOU(t, "skipdup1")
	ou2 := srv.AddOU(t, "skipdup2")
	bad := map[string][]string{"audio": {"\xff\xfe"}}
	srv.AddUser(t, ou1, slapdtest.UserSpec{UID: "bob", Mail: "bob@example.com", Attrs: bad})
	srv.AddUser(t, ou1, slapdtest.UserSpec{UID: "dana", Mail: "dana@example.com", Attrs: bad})
	mallory := srv.AddUser(t, ou1, slapdtest.UserSpec{UID: "mallory", Mail: "Bob@Example.COM"})
	dana2 := srv.AddUser(t, ou2, slapdtest.UserSpec{UID: "DANA", Mail: "dana2@example.com"})
	carol := srv.AddUser(t, ou1, slapdtest.UserSpec{UID: "carol", Mail: "carol@example.com"})
	c := readerConfig(srv, ou1)
	c.BaseDNs = []string{ou2}
	c.Attributes.Extra = map[string]string{"audio": "audio"}
	src := newSource(t, c)
	rec := newADReconciler(t, src)
	// bob's and dana's accounts predate dirsync: no externalId, no record.
	if _, err := rec.platform.Seed(
		user.User{Username: "bob", Email: "bob@example.com", Active: true},
		user.User{Username: "dana", Email: "dana@example.com", Active: true},
	); err != nil {
		t.Fatal(err)
	}

	want := []string{"create carol ()"}
	// The change-event run names only the valid entries, as when they were
	// just added: the skipped ones did not change.
	plans := skipPlans(t, rec, src, srv.EntryUUID(t, mallory), srv.EntryUUID(t, dana2), srv.EntryUUID(t, carol))
	for _, path := range []string{"whole read", "streamed read", "change-event re-read"} {
		if got := plans[path]; !slices.Equal(got, want) {
			t.Errorf("%s: plan %q, want %q", path, got, want)
		}
	}
	_, skipped, err := src.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reasons := make(map[string]string)
	for _, s := range skipped {
		reasons[s.DN] = s.Reason
	}
	wantReasons := map[string]string{
		"uid=bob," + ou1:     `invalid UTF-8 in audio; duplicate email "bob@example.com" (also on uid=mallory,` + ou1 + `)`,
		"uid=mallory," + ou1: `duplicate email "bob@example.com" (also on uid=bob,` + ou1 + `)`,
		"uid=dana," + ou1:    `invalid UTF-8 in audio; duplicate username "dana" (also on uid=DANA,` + ou2 + `)`,
		"uid=DANA," + ou2:    `duplicate username "dana" (also on uid=dana,` + ou1 + `)`,
	}
	if !maps.Equal(reasons, wantReasons) {
		t.Errorf("skipped:\n got %q\nwant %q", reasons, wantReasons)
	}

	if _, err := rec.engine.Run(ctx, dsync.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	// Three accounts: bob's and dana's untouched, carol's created.
	for _, r := range rec.platform.Users() {
		switch {
		case r.UserName == "carol":
		case (r.UserName == "bob" || r.UserName == "dana") && r.ExternalID == "" && r.Active:
		default:
			t.Errorf("account %+v: a duplicate was created or took over an account", r)
		}
	}
	if n := len(rec.platform.Users()); n != 3 {
		t.Errorf("%d accounts on the platform, want 3", n)
	}
}
