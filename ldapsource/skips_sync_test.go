package ldapsource

import (
	"context"
	"maps"
	"slices"
	"strings"
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

// Every capability the reconciler uses of the test adapters, checked when
// the tests are built.
var (
	_ dsync.Source   = streamedDirectory{}
	_ dsync.Streamer = streamedDirectory{}
	_ dsync.Source   = wholeDirectory{}
	_ dsync.Source   = adDirectory{}
)

// reread is src's re-read of the entries a change stream named, as the
// reconciler's Source.Reread gives it.
func reread(ctx context.Context, src *Source, ids, dns []string) (dsync.Changed, error) {
	users, gone, skipped, err := src.RereadAt(ctx, ids, dns)
	if err != nil {
		return dsync.Changed{}, err
	}
	return dsync.Changed{Users: users, Gone: gone, Skipped: toSkips(skipped)}, nil
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

func (d streamedDirectory) Reread(ctx context.Context, ids, dns []string) (dsync.Changed, error) {
	return reread(ctx, d.src, ids, dns)
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

func (d wholeDirectory) Reread(ctx context.Context, ids, dns []string) (dsync.Changed, error) {
	return reread(ctx, d.src, ids, dns)
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
	// As the watcher does: the records' DNs are read again too.
	rec.engine.Source = streamedDirectory{src}
	rep, err := rec.engine.RunEvents(ctx, dsync.RunOptions{DryRun: true}, ids, nil)
	if err != nil {
		t.Fatalf("change-event run: %v", err)
	}
	plans["change-event re-read"] = summarize(rep.Plan)
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
// its own reason (invalid data) still holds its ID, username and email. A
// valid entry sharing one of them (case aside), read before or after it, is
// skipped as a duplicate on every read path — also a change-event re-read
// that names only the valid entry — so it is never created, never adopts the
// skipped person's platform account (one no record claims, without an
// externalId) and never takes over the skipped person's record.
func TestSync_SkippedEntryStillCountsInDuplicateDetection(t *testing.T) {
	srv := slapdtest.Start(t)
	ctx := context.Background()
	ou1 := srv.AddOU(t, "skipdup1")
	ou2 := srv.AddOU(t, "skipdup2")
	add := func(ou, uid, mail, id string, bad bool) string {
		attrs := map[string][]string{"employeeNumber": {id}}
		if bad {
			attrs["audio"] = []string{"\xff\xfe"}
		}
		return srv.AddUser(t, ou, slapdtest.UserSpec{UID: uid, Mail: mail, Attrs: attrs})
	}
	gina := add(ou1, "gina", "gina@example.com", "7", false)
	ivan := add(ou1, "ivan", "ivan@example.com", "9", false)
	c := readerConfig(srv, ou1)
	c.BaseDNs = []string{ou2}
	c.IDAttribute = "employeeNumber"
	c.DisabledFilter = "(employeeType=disabled)"
	c.Attributes.Extra = map[string]string{"audio": "audio"}
	src := newSource(t, c)
	rec := newADReconciler(t, src)
	rec.engine.Source = streamedDirectory{src}
	if rep, err := rec.engine.Run(ctx, dsync.RunOptions{}); err != nil || rep.Applied[user.OpCreate] != 2 {
		t.Fatalf("first run: %v, applied %v", err, rep.Applied)
	}
	// bob's and dana's accounts predate dirsync: no externalId, no record.
	if _, err := rec.platform.Seed(
		user.User{Username: "bob", Email: "bob@example.com", Active: true},
		user.User{Username: "dana", Email: "dana@example.com", Active: true},
	); err != nil {
		t.Fatal(err)
	}

	// gina's and ivan's entries get data that cannot be read; new entries
	// share a value with a skipped one: erin (read first) with frank's
	// email, mallory with bob's, DANA with dana's username, hank with
	// gina's ID, ivy with ivan's email.
	srv.Modify(t, gina, map[string][]string{"audio": {"\xff\xfe"}})
	srv.Modify(t, ivan, map[string][]string{"audio": {"\xff\xfe"}})
	add(ou1, "erin", "erin@example.com", "1", false)
	add(ou1, "bob", "bob@example.com", "2", true)
	add(ou1, "dana", "dana@example.com", "3", true)
	add(ou1, "mallory", "Bob@Example.COM", "4", false)
	add(ou2, "DANA", "dana2@example.com", "5", false)
	add(ou1, "frank", "ERIN@example.com", "6", true)
	add(ou1, "hank", "hank@example.com", "7", false)
	add(ou1, "carol", "carol@example.com", "8", false)
	add(ou1, "ivy", "Ivan@example.com", "10", false)

	want := []string{"create carol ()"}
	// The change-event run names only the valid entries, as when they were
	// just added: the skipped ones did not change.
	plans := skipPlans(t, rec, src, "1", "4", "5", "7", "8", "10")
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
		reasons[strings.TrimSuffix(s.DN, ","+ou1)] = strings.ReplaceAll(s.Reason, ","+ou1, "")
	}
	wantReasons := map[string]string{
		"uid=gina":        `invalid UTF-8 in audio; duplicate ID "7" (also on uid=hank)`,
		"uid=hank":        `duplicate ID "7" (also on uid=gina)`,
		"uid=erin":        `duplicate email "erin@example.com" (also on uid=frank)`,
		"uid=frank":       `invalid UTF-8 in audio; duplicate email "erin@example.com" (also on uid=erin)`,
		"uid=bob":         `invalid UTF-8 in audio; duplicate email "bob@example.com" (also on uid=mallory)`,
		"uid=mallory":     `duplicate email "bob@example.com" (also on uid=bob)`,
		"uid=dana":        `invalid UTF-8 in audio; duplicate username "dana" (also on uid=DANA,` + ou2 + `)`,
		"uid=DANA," + ou2: `duplicate username "dana" (also on uid=dana)`,
		"uid=ivan":        `invalid UTF-8 in audio; duplicate email "ivan@example.com" (also on uid=ivy)`,
		"uid=ivy":         `duplicate email "ivan@example.com" (also on uid=ivan)`,
	}
	if !maps.Equal(reasons, wantReasons) {
		t.Errorf("skipped:\n got %q\nwant %q", reasons, wantReasons)
	}

	if _, err := rec.engine.Run(ctx, dsync.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	// Five accounts: gina's, ivan's, bob's and dana's as they were,
	// carol's created.
	for _, r := range rec.platform.Users() {
		switch {
		case r.UserName == "carol" && r.ExternalID == "8":
		case r.UserName == "gina" && r.ExternalID == "7" && r.PrimaryEmail() == "gina@example.com" && r.Active:
		case r.UserName == "ivan" && r.ExternalID == "9" && r.PrimaryEmail() == "ivan@example.com" && r.Active:
		case (r.UserName == "bob" || r.UserName == "dana") && r.ExternalID == "" && r.Active:
		default:
			t.Errorf("account %+v: a duplicate was created or took over an account", r)
		}
	}
	if n := len(rec.platform.Users()); n != 5 {
		t.Errorf("%d accounts on the platform, want 5", n)
	}

	// ivan leaves: skipped, his account is still archived; ivy's entry,
	// a duplicate of his, gets nothing.
	srv.Modify(t, ivan, map[string][]string{"employeeType": {"disabled"}})
	want = []string{"archive ivan (" + dsync.ReasonDisabled + ")"}
	for path, got := range skipPlans(t, rec, src, "9") {
		if !slices.Equal(got, want) {
			t.Errorf("%s after ivan left: plan %q, want %q", path, got, want)
		}
	}
}

// TestSync_DisabledSkipSharingAUsersIDArchivesNobody: an entry skipped for
// its data and disabled can hold the ID of a user read fine. The user is
// still in the directory and enabled: no read path archives it, whether it
// is in step or changed (then, as the skipped entry's duplicate, it waits).
func TestSync_DisabledSkipSharingAUsersIDArchivesNobody(t *testing.T) {
	srv := slapdtest.Start(t)
	ctx := context.Background()
	ou := srv.AddOU(t, "skipsharesid")
	alice := srv.AddUser(t, ou, slapdtest.UserSpec{UID: "alice", Mail: "alice@example.com", Attrs: map[string][]string{"roomNumber": {"1001"}}})
	srv.AddUser(t, ou, slapdtest.UserSpec{UID: "bob", Mail: "bob@example.com", Attrs: map[string][]string{"roomNumber": {"1002"}}})
	c := readerConfig(srv, ou)
	c.IDAttribute = "roomNumber" // an ID attribute the directory does not keep unique
	c.DisabledFilter = "(employeeType=disabled)"
	c.Attributes.Extra = map[string]string{"audio": "audio"}
	src := newSource(t, c)
	rec := newADReconciler(t, src)
	rec.engine.Source = streamedDirectory{src}
	if rep, err := rec.engine.Run(ctx, dsync.RunOptions{}); err != nil || rep.Applied[user.OpCreate] != 2 {
		t.Fatalf("first run: %v, applied %v", err, rep.Applied)
	}

	// An old, disabled entry with unreadable data holds alice's ID.
	srv.AddUser(t, ou, slapdtest.UserSpec{UID: "alice.old", Mail: "alice.old@example.com", Attrs: map[string][]string{
		"roomNumber": {"1001"}, "employeeType": {"disabled"}, "audio": {"\xff\xfe"}}})
	for path, got := range skipPlans(t, rec, src, "1001") {
		if len(got) != 0 {
			t.Errorf("%s: plan %q, want none (alice is in step)", path, got)
		}
	}
	// alice changes: sharing her ID with the skipped entry, she is skipped
	// as its duplicate, so her update waits; nobody is archived.
	srv.Modify(t, alice, map[string][]string{"mail": {"alice.new@example.com"}})
	for path, got := range skipPlans(t, rec, src, "1001") {
		if len(got) != 0 {
			t.Errorf("%s: plan %q, want none (alice's update waits while her ID is shared)", path, got)
		}
	}
	rep, err := rec.engine.Run(ctx, dsync.RunOptions{})
	if err != nil || len(rep.Failed) > 0 || rep.Applied[user.OpArchive] != 0 {
		t.Fatalf("run: %v, applied %v, failed %+v", err, rep.Applied, rep.Failed)
	}
	if !activeOnPlatform(t, rec.platform, "alice") || !activeOnPlatform(t, rec.platform, "bob") {
		t.Error("alice or bob lost access while enabled in the directory")
	}
}

// TestSync_EntryWithoutItsIDIsFoundByDN: an entry whose ID attribute was
// cleared is skipped and found by its DN on every read path: enabled, it
// keeps its account; disabled (a leaver), it loses it.
func TestSync_EntryWithoutItsIDIsFoundByDN(t *testing.T) {
	srv := slapdtest.Start(t)
	ctx := context.Background()
	ou := srv.AddOU(t, "idcleared")
	alice := srv.AddUser(t, ou, slapdtest.UserSpec{UID: "alice", Mail: "alice@example.com", Attrs: map[string][]string{"roomNumber": {"1001"}}})
	srv.AddUser(t, ou, slapdtest.UserSpec{UID: "bob", Mail: "bob@example.com", Attrs: map[string][]string{"roomNumber": {"1002"}}})
	c := readerConfig(srv, ou)
	c.IDAttribute = "roomNumber" // an ID attribute that can be cleared
	c.DisabledFilter = "(employeeType=disabled)"
	src := newSource(t, c)
	rec := newADReconciler(t, src)
	rec.engine.Source = streamedDirectory{src}
	if rep, err := rec.engine.Run(ctx, dsync.RunOptions{}); err != nil || rep.Applied[user.OpCreate] != 2 {
		t.Fatalf("first run: %v, applied %v", err, rep.Applied)
	}

	srv.Modify(t, alice, map[string][]string{"roomNumber": {}})
	for path, got := range skipPlans(t, rec, src, "1001") {
		if len(got) != 0 {
			t.Errorf("enabled: %s: plan %q, want none (alice is still in the directory)", path, got)
		}
	}
	srv.Modify(t, alice, map[string][]string{"employeeType": {"disabled"}})
	want := []string{"archive alice (" + dsync.ReasonDisabled + ")"}
	for path, got := range skipPlans(t, rec, src, "1001") {
		if !slices.Equal(got, want) {
			t.Errorf("disabled: %s: plan %q, want %q", path, got, want)
		}
	}
	if _, err := rec.engine.Run(ctx, dsync.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if activeOnPlatform(t, rec.platform, "alice") {
		t.Error("alice, disabled, is still active on the platform")
	}
	if !activeOnPlatform(t, rec.platform, "bob") {
		t.Error("bob lost access")
	}
}

// TestSync_DisabledEntryWithSeveralIDValuesLosesItsAccountOnly: a disabled
// entry whose ID attribute holds several values loses its account on every
// read path, whichever value is its ID; another user holding one of the
// values, enabled, keeps its own — also when a change event names the
// disabled entry only.
func TestSync_DisabledEntryWithSeveralIDValuesLosesItsAccountOnly(t *testing.T) {
	srv := slapdtest.Start(t)
	ctx := context.Background()
	ou := srv.AddOU(t, "severalids")
	alice := srv.AddUser(t, ou, slapdtest.UserSpec{UID: "alice", Mail: "alice@example.com", Attrs: map[string][]string{"roomNumber": {"1001"}}})
	srv.AddUser(t, ou, slapdtest.UserSpec{UID: "bob", Mail: "bob@example.com", Attrs: map[string][]string{"roomNumber": {"1002"}}})
	srv.AddUser(t, ou, slapdtest.UserSpec{UID: "carol", Mail: "carol@example.com", Attrs: map[string][]string{"roomNumber": {"1003"}}})
	c := readerConfig(srv, ou)
	c.IDAttribute = "roomNumber" // an ID attribute the schema lets hold several values
	c.DisabledFilter = "(employeeType=disabled)"
	src := newSource(t, c)
	rec := newADReconciler(t, src)
	rec.engine.Source = streamedDirectory{src}
	if rep, err := rec.engine.Run(ctx, dsync.RunOptions{}); err != nil || rep.Applied[user.OpCreate] != 3 {
		t.Fatalf("first run: %v, applied %v", err, rep.Applied)
	}

	// alice leaves; her ID attribute gains bob's value by mistake.
	srv.Modify(t, alice, map[string][]string{"roomNumber": {"1001", "1002"}, "employeeType": {"disabled"}})
	want := []string{"archive alice (" + dsync.ReasonDisabled + ")"}
	for path, got := range skipPlans(t, rec, src, "1001") {
		if !slices.Equal(got, want) {
			t.Errorf("%s: plan %q, want %q", path, got, want)
		}
	}
	if _, err := rec.engine.Run(ctx, dsync.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if activeOnPlatform(t, rec.platform, "alice") {
		t.Error("alice, disabled, is still active on the platform")
	}
	if !activeOnPlatform(t, rec.platform, "bob") || !activeOnPlatform(t, rec.platform, "carol") {
		t.Error("bob or carol lost access")
	}
}
