package ldapsource

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/internal/slapdtest"
	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/transform"
	"github.com/dirsync/dirsync/user"
)

// transformDir is an OU of three users whose mails are First.Last@Example.com
// and whose badge number is only in employeeNumber, an attribute the mapping
// does not read.
func transformDir(t *testing.T, srv *slapdtest.Server) (ou string, dns map[string]string) {
	t.Helper()
	ou = srv.AddOU(t, "xform")
	dns = map[string]string{}
	for _, p := range []struct{ uid, given, sn, badge string }{
		{"u1001", "Ada", "Lovelace", "B-1"},
		{"u1002", "Alan", "Turing", "B-2"},
		{"u1003", "Grace", "Hopper", "B-3"},
	} {
		dns[p.uid] = srv.AddUser(t, ou, slapdtest.UserSpec{UID: p.uid, GivenName: p.given, SN: p.sn, DisplayName: p.uid,
			Mail:  p.given + "." + p.sn + "@Example.com",
			Attrs: map[string][]string{"employeeNumber": {p.badge}}})
	}
	return ou, dns
}

var shapeTransform = transform.Config{
	Username:    `lower(split(email, "@")[0])`,
	DisplayName: `given_name + " " + family_name`,
	Extra:       map[string]string{"badge": `attr.employeeNumber`},
}

// shape is what a test compares of a user: username, display name, badge.
func shape(users []user.User) []string {
	var out []string
	for _, u := range users {
		out = append(out, u.Username+"|"+u.DisplayName+"|"+u.Extra["badge"])
	}
	slices.Sort(out)
	return out
}

// TestTransform_AppliedOnEveryReadPath: the whole read, the streamed read
// and the re-read of a change event all give the transformed users, raw
// attributes the mapping does not read included, and a sync pushes them.
func TestTransform_AppliedOnEveryReadPath(t *testing.T) {
	srv := slapdtest.Start(t)
	ctx := context.Background()
	ou, dns := transformDir(t, srv)
	c := readerConfig(srv, ou)
	c.Transform = shapeTransform
	src := newSource(t, c)
	want := []string{"ada.lovelace|Ada Lovelace|B-1", "alan.turing|Alan Turing|B-2", "grace.hopper|Grace Hopper|B-3"}

	users, skipped, err := src.Fetch(ctx)
	if err != nil || len(skipped) > 0 {
		t.Fatalf("Fetch: %v, skipped %+v", err, skipped)
	}
	if got := shape(users); !slices.Equal(got, want) {
		t.Errorf("whole read = %q, want %q", got, want)
	}
	var streamed []user.User
	if _, err := src.Stream(ctx, func(u user.User) error { streamed = append(streamed, u); return nil }); err != nil {
		t.Fatal(err)
	}
	if got := shape(streamed); !slices.Equal(got, want) {
		t.Errorf("streamed read = %q, want %q", got, want)
	}
	ids := []string{srv.EntryUUID(t, dns["u1001"]), srv.EntryUUID(t, dns["u1003"])}
	reread, gone, _, err := src.RereadAt(ctx, ids, []string{dns["u1001"]})
	if err != nil || len(gone) > 0 {
		t.Fatalf("RereadAt: %v, gone %v", err, gone)
	}
	if got, want := shape(reread), []string{want[0], want[2]}; !slices.Equal(got, want) {
		t.Errorf("change-event re-read = %q, want %q", got, want)
	}

	rec := newADReconciler(t, src)
	rec.engine.Source = streamedDirectory{src}
	if rep, err := rec.engine.Run(ctx, dsync.RunOptions{}); err != nil || rep.Applied[user.OpCreate] != 3 {
		t.Fatalf("sync: %v, applied %v", err, rep.Applied)
	}
	a, ok := rec.platform.FindByUserName("ada.lovelace")
	if !ok || a.DisplayName != "Ada Lovelace" || a.ExternalID != ids[0] {
		t.Fatalf("platform account of ada.lovelace = %+v (found %t)", a, ok)
	}
}

// TestTransform_RunTimeFailureSkipsOnlyThatUser: a user for whom an
// expression fails (a mail without @) is skipped with the key and the
// error, on every read path; the account is kept, not archived, the run
// succeeds and the others are synced. A disabled user whose transform fails
// still loses access.
func TestTransform_RunTimeFailureSkipsOnlyThatUser(t *testing.T) {
	srv := slapdtest.Start(t)
	ctx := context.Background()
	ou, dns := transformDir(t, srv)
	c := readerConfig(srv, ou)
	c.DisabledFilter = "(employeeType=disabled)"
	c.Transform = transform.Config{Extra: map[string]string{"domain": `lower(split(email, "@")[1])`}}
	src := newSource(t, c)
	rec := newADReconciler(t, src)
	rec.engine.Source = streamedDirectory{src}
	if rep, err := rec.engine.Run(ctx, dsync.RunOptions{}); err != nil || rep.Applied[user.OpCreate] != 3 {
		t.Fatalf("first run: %v, applied %v", err, rep.Applied)
	}

	// Ada's mail loses its domain; Grace leaves and her mail too.
	srv.Modify(t, dns["u1001"], map[string][]string{"mail": {"ada"}})
	srv.Modify(t, dns["u1003"], map[string][]string{"mail": {"grace"}, "employeeType": {"disabled"}})
	ids := []string{srv.EntryUUID(t, dns["u1001"]), srv.EntryUUID(t, dns["u1003"])}
	for path, got := range skipPlans(t, rec, src, ids...) {
		if want := []string{"archive u1003 (" + dsync.ReasonDisabled + ")"}; !slices.Equal(got, want) {
			t.Errorf("%s: plan %q, want %q", path, got, want)
		}
	}

	rep, err := rec.engine.Run(ctx, dsync.RunOptions{})
	if err != nil {
		t.Fatalf("run with a failing transform: %v", err)
	}
	if len(rep.Plan.Skipped) != 2 {
		t.Fatalf("skipped %+v, want Ada and Grace", rep.Plan.Skipped)
	}
	for _, s := range rep.Plan.Skipped {
		if !slices.Contains(ids, s.ID) || s.DN == "" {
			t.Errorf("skip %+v does not carry the user's ID and DN", s)
		}
		if want := `transform.extra.domain: index out of range: 1 (array length is 1)`; !strings.Contains(s.Reason, want) {
			t.Errorf("skip reason %q, want it to contain %q", s.Reason, want)
		}
	}
	if !activeOnPlatform(t, rec.platform, "u1001") || activeOnPlatform(t, rec.platform, "u1003") || !activeOnPlatform(t, rec.platform, "u1002") {
		t.Errorf("want u1001 kept active, u1003 archived (disabled), u1002 untouched; platform %+v", rec.platform.Users())
	}
}

// TestTransform_EmptyEmailOrUsernameIsASkip: a transform that gives an
// empty username or email skips the user, as a bad entry is skipped.
func TestTransform_EmptyEmailOrUsernameIsASkip(t *testing.T) {
	srv := slapdtest.Start(t)
	ou, dns := transformDir(t, srv)
	srv.Modify(t, dns["u1002"], map[string][]string{"employeeNumber": nil})
	c := readerConfig(srv, ou)
	c.Transform = transform.Config{Email: `attr.employeeNumber == "" ? "" : lower(email)`, Username: `attr.employeeNumber == "B-3" ? " " : username`}
	users, skipped := fetch(t, c)
	if got := usernames(users); !slices.Equal(got, []string{"u1001"}) {
		t.Errorf("users %q, want u1001 only", got)
	}
	if users[0].Email != "ada.lovelace@example.com" {
		t.Errorf("u1001's email = %q, want it lower-cased", users[0].Email)
	}
	reasons := map[string]string{}
	for _, s := range skipped {
		reasons[s.DN] = s.Reason
	}
	if got, want := reasons[dns["u1002"]], "transform.email gave an empty email"; got != want {
		t.Errorf("u1002 skipped for %q, want %q", got, want)
	}
	if got, want := reasons[dns["u1003"]], "transform.username gave an empty username"; got != want {
		t.Errorf("u1003 skipped for %q, want %q", got, want)
	}
}

// TestTransform_ChangedTransformUpdatesExactlyUsersWhoseOutputChanged: a
// user's hash is over the transformed fields, so a new transform plans
// updates of the users whose output it changes, and none for a transform
// written differently with the same output.
func TestTransform_ChangedTransformUpdatesExactlyUsersWhoseOutputChanged(t *testing.T) {
	srv := slapdtest.Start(t)
	ctx := context.Background()
	ou, _ := transformDir(t, srv)
	withTransform := func(tc transform.Config) *Source {
		c := readerConfig(srv, ou)
		c.Transform = tc
		return newSource(t, c)
	}
	src := withTransform(shapeTransform)
	rec := newADReconciler(t, src)
	rec.engine.Source = streamedDirectory{src}
	if rep, err := rec.engine.Run(ctx, dsync.RunOptions{}); err != nil || rep.Applied[user.OpCreate] != 3 {
		t.Fatalf("first run: %v, applied %v", err, rep.Applied)
	}
	plan := func(src *Source) []string {
		t.Helper()
		var out []string
		for name, dir := range map[string]dsync.Source{"whole read": wholeDirectory{src}, "streamed read": streamedDirectory{src}} {
			rec.engine.Source = dir
			rep, err := rec.engine.Run(ctx, dsync.RunOptions{DryRun: true})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			var changes []string
			for _, c := range rep.Plan.Changes {
				s := string(c.Op) + " " + c.User.Username
				for _, f := range c.Fields {
					s += " " + f.Field + ": " + f.Old + " → " + f.New
				}
				changes = append(changes, s)
			}
			if out != nil && !slices.Equal(changes, out) {
				t.Fatalf("whole and streamed reads plan differently: %q and %q", out, changes)
			}
			out = changes
			if out == nil {
				out = []string{}
			}
		}
		return out
	}

	// Only Alan's display name changes.
	changed := shapeTransform
	changed.DisplayName = `family_name == "Turing" ? "Dr " + given_name + " " + family_name : given_name + " " + family_name`
	if got, want := plan(withTransform(changed)), []string{"update alan.turing display_name: Alan Turing → Dr Alan Turing"}; !slices.Equal(got, want) {
		t.Errorf("plan after changing the transform = %q, want %q", got, want)
	}
	// Written differently, the same output: nothing to update.
	same := shapeTransform
	same.DisplayName = `join([given_name, family_name], " ")`
	same.Username = `split(lower(email), "@")[0]`
	if got := plan(withTransform(same)); len(got) != 0 {
		t.Errorf("plan after rewriting the transform with the same output = %q, want none", got)
	}
	// Dropping the transform updates every user.
	if got := plan(withTransform(transform.Config{})); len(got) != 3 {
		t.Errorf("plan without the transform = %q, want 3 updates", got)
	}
}

// TestTransform_PreviewShowsFieldsAsMappedAndAsTransformed: the preview of
// `dirsync check` holds the first users read, each transformed field as
// the mapping gave it and as transformed, the raw attributes read, and the
// failure of a user whose transform fails.
func TestTransform_PreviewShowsFieldsAsMappedAndAsTransformed(t *testing.T) {
	srv := slapdtest.Start(t)
	ou, dns := transformDir(t, srv)
	srv.Modify(t, dns["u1002"], map[string][]string{"mail": {"alan"}})
	c := readerConfig(srv, ou)
	c.Transform = shapeTransform
	c.Transform.Extra = map[string]string{"badge": `attr.employeeNumber`, "domain": `split(email, "@")[1]`}
	src := newSource(t, c)
	pv := src.PreviewTransform(2)
	if _, _, err := src.Fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	pv.Write(&b)
	got := b.String()
	for _, want := range []string{
		"transform: the first 2 users, each field as mapped → as transformed:\n",
		"  " + dns["u1001"] + "\n",
		`    username:      "u1001" → "ada.lovelace"`,
		`    display_name:  "u1001" → "Ada Lovelace"`,
		`    extra.badge:   "" → "B-1"`,
		`    extra.domain:  "" → "Example.com"`,
		`    attr.employeeNumber: "B-1"`,
		"  " + dns["u1002"] + "\n",
		`    ✗ transform.extra.domain: index out of range: 1 (array length is 1) at column 18 (the user is skipped)`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("preview lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, dns["u1003"]) {
		t.Errorf("preview shows more than 2 users:\n%s", got)
	}
	// Without a transform there is nothing to preview.
	if pv := newSource(t, readerConfig(srv, ou)).PreviewTransform(2); pv != nil {
		t.Errorf("PreviewTransform without a transform = %v, want nil", pv)
	}
}
