package sync

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/user"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// summary is a one-line description of a change, for readable expectations.
func summary(c Change) string {
	s := string(c.Op) + " " + c.User.Username
	if c.PlatformID != "" {
		s += " @" + c.PlatformID
	}
	if len(c.Fields) > 0 {
		var fs []string
		for _, f := range c.Fields {
			fs = append(fs, f.Field)
		}
		s += " [" + strings.Join(fs, " ") + "]"
	}
	switch c.Reason {
	case "":
	case ReasonDisabled:
		s += " (disabled)"
	case ReasonRemoved:
		s += " (removed)"
	default:
		s += " (" + c.Reason + ")"
	}
	if c.Attempts > 0 {
		s += fmt.Sprintf(" attempts=%d", c.Attempts)
	}
	return s
}

func summaries(p Plan) []string {
	var out []string
	for _, c := range p.Changes {
		out = append(out, summary(c))
	}
	return out
}

// golden compares got, as indented JSON, with testdata/name.golden.json, or
// rewrites the file under -update.
func golden(t *testing.T, name string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./sync -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(b, want) {
		t.Errorf("plan differs from %s (run with -update to accept):\n got: %s\nwant: %s", path, b, want)
	}
}

var (
	alice = person("id-alice", "alice")
	bob   = person("id-bob", "bob")
	carol = person("id-carol", "carol")
	dave  = person("id-dave", "dave")
	erin  = person("id-erin", "erin")
)

func dirOf(users ...user.User) Directory { return Directory{Users: users} }

func recs(rs ...user.Record) []user.Record { return rs }

func TestDiff(t *testing.T) {
	tests := []struct {
		name      string
		dir       Directory
		records   []user.Record
		onRemoved OnRemoved
		want      []string // summaries, in plan order
		unchanged int
	}{
		{
			name: "create",
			dir:  dirOf(alice),
			want: []string{"create alice"},
		},
		{
			name:    "update_username",
			dir:     dirOf(with(alice, func(u *user.User) { u.Username = "alice.doe" })),
			records: recs(record(alice, user.StatusActive, "p1")),
			want:    []string{"update alice.doe @p1 [username]"},
		},
		{
			name:    "update_email",
			dir:     dirOf(with(alice, func(u *user.User) { u.Email = "a.doe@example.com" })),
			records: recs(record(alice, user.StatusActive, "p1")),
			want:    []string{"update alice @p1 [email]"},
		},
		{
			name:    "update_given_name",
			dir:     dirOf(with(alice, func(u *user.User) { u.GivenName = "Alicia" })),
			records: recs(record(alice, user.StatusActive, "p1")),
			want:    []string{"update alice @p1 [given_name]"},
		},
		{
			name:    "update_family_name",
			dir:     dirOf(with(alice, func(u *user.User) { u.FamilyName = "Smith" })),
			records: recs(record(alice, user.StatusActive, "p1")),
			want:    []string{"update alice @p1 [family_name]"},
		},
		{
			name:    "update_display_name",
			dir:     dirOf(with(alice, func(u *user.User) { u.DisplayName = "Ali Doe" })),
			records: recs(record(alice, user.StatusActive, "p1")),
			want:    []string{"update alice @p1 [display_name]"},
		},
		{
			name:    "update_groups",
			dir:     dirOf(with(alice, func(u *user.User) { u.Groups = append(u.Groups, "cn=eng,ou=groups,dc=corp,dc=example,dc=com") })),
			records: recs(record(alice, user.StatusActive, "p1")),
			want:    []string{"update alice @p1 [groups]"},
		},
		{
			name:    "update_extra_added",
			dir:     dirOf(with(alice, func(u *user.User) { u.Extra = map[string]string{"title": "Engineer"} })),
			records: recs(record(alice, user.StatusActive, "p1")),
			want:    []string{"update alice @p1 [extra.title]"},
		},
		{
			name: "update_extra_changed",
			dir:  dirOf(with(alice, func(u *user.User) { u.Extra = map[string]string{"title": "Manager"} })),
			records: recs(record(with(alice, func(u *user.User) { u.Extra = map[string]string{"title": "Engineer"} }),
				user.StatusActive, "p1")),
			want: []string{"update alice @p1 [extra.title]"},
		},
		{
			name: "update_extra_removed",
			dir:  dirOf(alice),
			records: recs(record(with(alice, func(u *user.User) { u.Extra = map[string]string{"title": "Engineer"} }),
				user.StatusActive, "p1")),
			want: []string{"update alice @p1 [extra.title]"},
		},
		{
			name: "rename_is_update",
			dir: dirOf(with(alice, func(u *user.User) {
				u.Username, u.DN = "asmith", "CN=Alice Smith,OU=Moved,DC=corp,DC=example,DC=com"
				u.FamilyName, u.DisplayName, u.Email = "Smith", "Alice Smith", "asmith@example.com"
			})),
			records: recs(record(alice, user.StatusActive, "p1")),
			want:    []string{"update asmith @p1 [username email family_name display_name]"},
		},
		{
			name:      "dn_only_move_is_unchanged",
			dir:       dirOf(with(alice, func(u *user.User) { u.DN = "CN=alice,OU=Moved,DC=corp,DC=example,DC=com" })),
			records:   recs(record(alice, user.StatusActive, "p1")),
			unchanged: 1,
		},
		{
			name:    "disabled_is_archive",
			dir:     dirOf(disabled(alice)),
			records: recs(record(alice, user.StatusActive, "p1")),
			want:    []string{"archive alice @p1 [active] (disabled)"},
		},
		{
			name:      "removed_is_archive",
			dir:       dirOf(bob),
			records:   recs(record(alice, user.StatusActive, "p1"), record(bob, user.StatusActive, "p2")),
			want:      []string{"archive alice @p1 (removed)"},
			unchanged: 1,
		},
		{
			name:      "removed_delete",
			dir:       dirOf(bob),
			records:   recs(record(alice, user.StatusActive, "p1"), record(bob, user.StatusActive, "p2")),
			onRemoved: RemovedDelete,
			want:      []string{"delete alice @p1 (removed)"},
			unchanged: 1,
		},
		{
			name:      "removed_delete_archived_record",
			dir:       dirOf(bob),
			records:   recs(record(alice, user.StatusArchived, "p1"), record(bob, user.StatusActive, "p2")),
			onRemoved: RemovedDelete,
			want:      []string{"delete alice @p1 (removed)"},
			unchanged: 1,
		},
		{
			name:      "removed_delete_already_deleted",
			dir:       dirOf(bob),
			records:   recs(record(alice, user.StatusDeleted, "p1"), record(bob, user.StatusActive, "p2")),
			onRemoved: RemovedDelete,
			unchanged: 1,
		},
		{
			name:      "removed_ignore",
			dir:       dirOf(bob),
			records:   recs(record(alice, user.StatusActive, "p1"), record(bob, user.StatusActive, "p2")),
			onRemoved: RemovedIgnore,
			unchanged: 1,
		},
		{
			name:    "returns_after_archive_is_reactivate",
			dir:     dirOf(with(alice, func(u *user.User) { u.Email = "alice.doe@example.com" })),
			records: recs(record(alice, user.StatusArchived, "p1")),
			want:    []string{"reactivate alice @p1 [email]"},
		},
		{
			name:    "returns_after_disable_is_reactivate",
			dir:     dirOf(alice),
			records: recs(record(disabled(alice), user.StatusArchived, "p1")),
			want:    []string{"reactivate alice @p1 [active]"},
		},
		{
			name:      "archived_and_still_gone",
			dir:       dirOf(bob),
			records:   recs(record(alice, user.StatusArchived, "p1"), record(bob, user.StatusActive, "p2")),
			unchanged: 1,
		},
		{
			name:      "archived_and_still_disabled",
			dir:       dirOf(disabled(alice)),
			records:   recs(record(disabled(alice), user.StatusArchived, "p1")),
			unchanged: 1,
		},
		{
			name:      "disabled_never_provisioned",
			dir:       dirOf(disabled(alice)),
			unchanged: 1,
		},
		{
			name:      "unchanged",
			dir:       dirOf(alice, bob),
			records:   recs(record(alice, user.StatusActive, "p1"), record(bob, user.StatusActive, "p2")),
			unchanged: 2,
		},
		{
			name: "pending_is_created_again",
			dir:  dirOf(alice),
			records: recs(func() user.Record {
				r := record(alice, user.StatusPending, "")
				r.Attempts, r.LastError = 3, "create alice: HTTP 500"
				return r
			}()),
			want: []string{"create alice attempts=3"},
		},
		{
			name:    "deleted_returns_is_create",
			dir:     dirOf(alice),
			records: recs(record(alice, user.StatusDeleted, "p1")),
			want:    []string{"create alice"},
		},
		{
			name: "skipped_id_protects_record",
			dir: Directory{
				Users:   []user.User{bob},
				Skipped: []Skip{{DN: "CN=alice,OU=Staff,DC=corp,DC=example,DC=com", ID: "id-alice", Reason: "no username"}},
			},
			records:   recs(record(alice, user.StatusActive, "p1"), record(bob, user.StatusActive, "p2"), record(carol, user.StatusActive, "p3")),
			want:      []string{"archive carol @p3 (removed)"},
			unchanged: 1,
		},
		{
			name: "skipped_dn_protects_record",
			dir: Directory{
				Users:   []user.User{bob},
				Skipped: []Skip{{DN: "cn=ALICE,ou=staff,dc=corp,dc=example,dc=com", Reason: "no ID attribute"}},
			},
			records:   recs(record(alice, user.StatusActive, "p1"), record(bob, user.StatusActive, "p2"), record(carol, user.StatusActive, "p3")),
			want:      []string{"archive carol @p3 (removed)"},
			unchanged: 1,
		},
		{
			name: "skip_without_dn_protects_no_record_without_dn",
			dir: Directory{
				Users:   []user.User{bob},
				Skipped: []Skip{{Reason: "unreadable entry"}},
			},
			records: recs(record(with(alice, func(u *user.User) { u.DN = "" }), user.StatusActive, "p1"),
				record(bob, user.StatusActive, "p2")),
			want:      []string{"archive alice @p1 (removed)"},
			unchanged: 1,
		},
		{
			name: "disabled_duplicate_is_archived",
			dir: Directory{
				Users: []user.User{bob},
				Skipped: []Skip{
					{DN: alice.DN, ID: alice.ID, Reason: "duplicate email", Disabled: true},
					{DN: carol.DN, ID: carol.ID, Reason: "duplicate email"},
				},
			},
			records:   recs(record(alice, user.StatusActive, "p1"), record(bob, user.StatusActive, "p2"), record(carol, user.StatusActive, "p3")),
			want:      []string{"archive alice @p1 [active] (disabled)"},
			unchanged: 1,
		},
		{
			// An entry skipped for invalid data and the entries that share
			// its ID or email: all skipped, none gets an account, and the
			// record of the ID stays as it is.
			name: "invalid_entry_and_its_duplicates_change_nothing",
			dir: Directory{
				Users: []user.User{bob},
				Skipped: []Skip{
					{DN: alice.DN, ID: alice.ID, Reason: `invalid UTF-8 in title; duplicate ID "id-alice" (also on uid=hank); duplicate email "alice@example.com" (also on uid=mallory)`},
					{DN: "uid=hank,ou=people,dc=example,dc=com", ID: alice.ID, Reason: `duplicate ID "id-alice" (also on uid=alice)`},
					{DN: "uid=mallory,ou=people,dc=example,dc=com", ID: "id-mallory", Reason: `duplicate email "alice@example.com" (also on uid=alice)`},
				},
			},
			records:   recs(record(alice, user.StatusActive, "p1"), record(bob, user.StatusActive, "p2")),
			unchanged: 1,
		},
		{
			name: "disabled_skip_archives_even_when_removed_is_ignored",
			dir: Directory{
				Users:   []user.User{bob},
				Skipped: []Skip{{DN: alice.DN, ID: alice.ID, Reason: "missing username", Disabled: true}},
			},
			records:   recs(record(alice, user.StatusActive, "p1"), record(bob, user.StatusActive, "p2")),
			onRemoved: RemovedIgnore,
			want:      []string{"archive alice @p1 [active] (disabled)"},
			unchanged: 1,
		},
		{
			name: "disabled_skip_with_pending_record_is_archived_if_created",
			dir: Directory{
				Users:   []user.User{bob},
				Skipped: []Skip{{DN: alice.DN, ID: alice.ID, Reason: "duplicate username", Disabled: true}},
			},
			records:   recs(record(alice, user.StatusPending, ""), record(bob, user.StatusActive, "p2")),
			onRemoved: RemovedIgnore,
			want:      []string{"archive alice (" + ReasonInterrupted + ")"},
			unchanged: 1,
		},
		{
			name: "disabled_skip_of_archived_record_is_unchanged",
			dir: Directory{
				Users:   []user.User{bob},
				Skipped: []Skip{{DN: alice.DN, ID: alice.ID, Reason: "duplicate email", Disabled: true}},
			},
			records:   recs(record(disabled(alice), user.StatusArchived, "p1"), record(bob, user.StatusActive, "p2")),
			unchanged: 1,
		},
		{
			name: "id_shared_by_an_active_and_a_disabled_skip_is_protected",
			dir: Directory{
				Users: []user.User{bob},
				Skipped: []Skip{
					{DN: alice.DN, ID: alice.ID, Reason: "duplicate ID", Disabled: true},
					{DN: "CN=alice2,OU=Staff,DC=corp,DC=example,DC=com", ID: alice.ID, Reason: "duplicate ID"},
				},
			},
			records:   recs(record(alice, user.StatusActive, "p1"), record(bob, user.StatusActive, "p2")),
			unchanged: 1,
		},
		{
			// The ID attribute cleared when the person left, the entry
			// disabled: its DN is all that links it to the account.
			name: "disabled_skip_by_dn_only_is_archived",
			dir: Directory{
				Users:   []user.User{bob},
				Skipped: []Skip{{DN: strings.ToUpper(alice.DN), Reason: "missing ID", Disabled: true}},
			},
			records:   recs(record(alice, user.StatusActive, "p1"), record(bob, user.StatusActive, "p2")),
			onRemoved: RemovedIgnore,
			want:      []string{"archive alice @p1 [active] (disabled)"},
			unchanged: 1,
		},
		{
			name: "enabled_skip_by_dn_only_is_protected",
			dir: Directory{
				Users:   []user.User{bob},
				Skipped: []Skip{{DN: strings.ToUpper(alice.DN), Reason: "missing ID"}},
			},
			records:   recs(record(alice, user.StatusActive, "p1"), record(bob, user.StatusActive, "p2")),
			unchanged: 1,
		},
		{
			// A leaver's DN given to a new entry that is skipped and
			// disabled: nobody left in the directory keeps that account.
			name: "disabled_skip_at_a_removed_users_dn_does_not_protect_it",
			dir: Directory{
				Users:   []user.User{bob},
				Skipped: []Skip{{DN: alice.DN, ID: "id-alice-new", Reason: "duplicate email", Disabled: true}},
			},
			records:   recs(record(alice, user.StatusActive, "p1"), record(bob, user.StatusActive, "p2")),
			want:      []string{"archive alice @p1 [active] (disabled)"},
			unchanged: 1,
		},
		{
			name: "disabled_skip_by_dn_with_pending_record_is_archived_if_created",
			dir: Directory{
				Users:   []user.User{bob},
				Skipped: []Skip{{DN: alice.DN, Reason: "missing ID", Disabled: true}},
			},
			records:   recs(record(alice, user.StatusPending, ""), record(bob, user.StatusActive, "p2")),
			onRemoved: RemovedIgnore,
			want:      []string{"archive alice (" + ReasonInterrupted + ")"},
			unchanged: 1,
		},
		{
			name: "skipped_and_renamed_is_protected_by_id",
			dir: Directory{
				Users:   []user.User{bob},
				Skipped: []Skip{{DN: "CN=alice.new,OU=Moved,DC=corp,DC=example,DC=com", ID: alice.ID, Reason: "invalid UTF-8 in givenName"}},
			},
			records:   recs(record(alice, user.StatusActive, "p1"), record(bob, user.StatusActive, "p2")),
			unchanged: 1,
		},
		{
			name: "skip_with_several_id_values_protects_each",
			dir: Directory{
				Users: []user.User{bob},
				Skipped: []Skip{{DN: "CN=alice.new,OU=Moved,DC=corp,DC=example,DC=com", IDs: []string{alice.ID, "id-alice-2"},
					Reason: "ID attribute uid has 2 values, want one"}},
			},
			records:   recs(record(alice, user.StatusActive, "p1"), record(bob, user.StatusActive, "p2"), record(carol, user.StatusActive, "p3")),
			want:      []string{"archive carol @p3 (removed)"},
			unchanged: 1,
		},
		{
			// Disabled, the entry takes access away whichever value is its
			// ID; a value a directory user holds is that user's.
			name: "disabled_skip_with_several_id_values_archives_each",
			dir: Directory{
				Users: []user.User{bob},
				Skipped: []Skip{{DN: "CN=alice.new,OU=Moved,DC=corp,DC=example,DC=com", IDs: []string{alice.ID, bob.ID, "id-alice-2"},
					Reason: "ID attribute uid has 3 values, want one", Disabled: true}},
			},
			records:   recs(record(alice, user.StatusActive, "p1"), record(bob, user.StatusActive, "p2"), record(carol, user.StatusActive, "p3")),
			onRemoved: RemovedIgnore,
			want:      []string{"archive alice @p1 [active] (disabled)"},
			unchanged: 1,
		},
		{
			name: "disabled_skip_with_several_id_values_beside_an_enabled_holder_is_protected",
			dir: Directory{
				Users: []user.User{bob},
				Skipped: []Skip{
					{DN: "CN=alice.new,OU=Moved,DC=corp,DC=example,DC=com", IDs: []string{alice.ID, "id-alice-2"},
						Reason: "ID attribute uid has 2 values, want one", Disabled: true},
					{DN: "CN=alice,OU=Staff,DC=corp,DC=example,DC=com", ID: alice.ID, Reason: "missing username"},
				},
			},
			records:   recs(record(alice, user.StatusActive, "p1"), record(bob, user.StatusActive, "p2")),
			unchanged: 1,
		},
		{
			// An entry skipped for its data holds the ID of a user read
			// fine (IDs are unique in dedup among mapped entries only):
			// the user decides, as for any user in step.
			name: "disabled_skip_sharing_a_users_id_leaves_the_user_in_step",
			dir: Directory{
				Users:   []user.User{alice, bob},
				Skipped: []Skip{{DN: "CN=alice.old,OU=Staff,DC=corp,DC=example,DC=com", ID: alice.ID, Reason: "missing username (attribute sAMAccountName)", Disabled: true}},
			},
			records:   recs(record(alice, user.StatusActive, "p1"), record(bob, user.StatusActive, "p2")),
			unchanged: 2,
		},
		{
			name: "disabled_skip_sharing_a_users_id_leaves_the_users_update",
			dir: Directory{
				Users:   []user.User{with(alice, func(u *user.User) { u.Email = "a@example.com" }), bob},
				Skipped: []Skip{{DN: "CN=alice.old,OU=Staff,DC=corp,DC=example,DC=com", ID: alice.ID, Reason: "missing username (attribute sAMAccountName)", Disabled: true}},
			},
			records:   recs(record(alice, user.StatusActive, "p1"), record(bob, user.StatusActive, "p2")),
			want:      []string{"update alice @p1 [email]"},
			unchanged: 1,
		},
		{
			name: "ordering",
			dir: dirOf(
				person("id-zed", "zed"), person("id-Yan", "Yan"), // creates
				with(bob, func(u *user.User) { u.Email = "b@example.com" }),   // update
				with(alice, func(u *user.User) { u.Email = "a@example.com" }), // update
				person("id-xena", "xena"), person("id-Walt", "Walt"),          // reactivates
				disabled(carol), // archive (disabled)
			),
			records: recs(
				record(bob, user.StatusActive, "p-bob"),
				record(alice, user.StatusActive, "p-alice"),
				record(person("id-xena", "xena"), user.StatusArchived, "p-xena"),
				record(person("id-Walt", "Walt"), user.StatusArchived, "p-walt"),
				record(carol, user.StatusActive, "p-carol"),
				record(dave, user.StatusActive, "p-dave"), // archive (removed)
				record(erin, user.StatusArchived, "p-erin"),
				record(person("id-Abe", "Abe"), user.StatusArchived, "p-abe"),
			),
			onRemoved: RemovedArchive,
			want: []string{
				"create Yan",
				"create zed",
				"update alice @p-alice [email]",
				"update bob @p-bob [email]",
				"reactivate Walt @p-walt",
				"reactivate xena @p-xena",
				"archive carol @p-carol [active] (disabled)",
				"archive dave @p-dave (removed)",
			},
		},
		{
			name: "ordering_with_deletes",
			dir:  dirOf(disabled(carol), person("id-zed", "zed")),
			records: recs(
				record(carol, user.StatusActive, "p-carol"),
				record(erin, user.StatusArchived, "p-erin"),
				record(dave, user.StatusActive, "p-dave"),
				record(person("id-Abe", "Abe"), user.StatusActive, "p-abe"),
			),
			onRemoved: RemovedDelete,
			want: []string{
				"create zed",
				"archive carol @p-carol [active] (disabled)",
				"delete Abe @p-abe (removed)",
				"delete dave @p-dave (removed)",
				"delete erin @p-erin (removed)",
			},
		},
		{
			name: "counts",
			dir:  dirOf(alice, disabled(bob), carol, disabled(dave)),
			records: recs(
				record(alice, user.StatusActive, "p1"),
				record(bob, user.StatusActive, "p2"),
				record(carol, user.StatusPending, ""),
				record(dave, user.StatusArchived, "p4"),
				record(erin, user.StatusActive, "p5"),
				record(person("id-fay", "fay"), user.StatusDeleted, "p6"),
			),
			want:      []string{"create carol", "archive bob @p2 [active] (disabled)", "archive erin @p5 (removed)"},
			unchanged: 2, // alice; dave (disabled, archived)
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := Diff(tt.dir, tt.records, tt.onRemoved)
			if got := summaries(plan); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("changes:\n got %q\nwant %q", got, tt.want)
			}
			if plan.Unchanged != tt.unchanged {
				t.Errorf("Unchanged = %d, want %d", plan.Unchanged, tt.unchanged)
			}
			if plan.InScope != len(tt.dir.Users) {
				t.Errorf("InScope = %d, want %d", plan.InScope, len(tt.dir.Users))
			}
			managed := 0
			for _, r := range tt.records {
				if r.Status == user.StatusActive {
					managed++
				}
			}
			if plan.Managed != managed {
				t.Errorf("Managed = %d, want %d", plan.Managed, managed)
			}
			golden(t, "diff_"+tt.name, plan)
			assertStreamedPlan(t, tt.dir, tt.records, tt.onRemoved, plan)
		})
	}
}

// assertStreamedPlan checks that a run streaming dir past the records'
// summaries (Engine.streamPlan) plans exactly what Diff planned over the
// whole directory and snapshot.
func assertStreamedPlan(t *testing.T, dir Directory, records []user.Record, onRemoved OnRemoved, want Plan) {
	t.Helper()
	e := &Engine{Source: &fakeSource{dir: dir}, Store: newFakeStore(records...), Target: newFakeTarget(),
		Options: Options{OnRemoved: onRemoved}}
	rep, err := e.Run(context.Background(), RunOptions{DryRun: true, AllowMassArchive: true, AllowEmptyDirectory: true})
	if err != nil {
		t.Fatalf("streamed run: %v", err)
	}
	got, _ := json.Marshal(rep.Plan)
	w, _ := json.Marshal(want)
	if !bytes.Equal(got, w) {
		t.Errorf("streamed plan differs from Diff's:\n got: %s\nwant: %s", got, w)
	}
	// A run that applies gives the same plan, updates applied during the
	// read included (earlyPush).
	e.Store, e.Target = newFakeStore(records...), newFakeTarget()
	rep, err = e.Run(context.Background(), RunOptions{AllowMassArchive: true, AllowEmptyDirectory: true})
	if err != nil {
		t.Fatalf("streamed run that applies: %v", err)
	}
	if got, _ := json.Marshal(rep.Plan); !bytes.Equal(got, w) {
		t.Errorf("plan of the run that applies differs from Diff's:\n got: %s\nwant: %s", got, w)
	}
	// And a source that cannot stream is read whole (Engine.readPlan).
	e.Store, e.Target = newFakeStore(records...), newFakeTarget()
	e.Source = readOnlySource{&fakeSource{dir: dir}}
	rep, err = e.Run(context.Background(), RunOptions{DryRun: true, AllowMassArchive: true, AllowEmptyDirectory: true})
	if err != nil {
		t.Fatalf("whole-read run: %v", err)
	}
	if got, _ := json.Marshal(rep.Plan); !bytes.Equal(got, w) {
		t.Errorf("whole-read plan differs from Diff's:\n got: %s\nwant: %s", got, w)
	}
	// A streamed read that emitted the skipped entries before finding
	// they must be skipped (Skip.Withdrawn).
	e.Store, e.Target = newFakeStore(records...), newFakeTarget()
	e.Source = withdrawnSource{dir}
	rep, err = e.Run(context.Background(), RunOptions{DryRun: true, AllowMassArchive: true, AllowEmptyDirectory: true})
	if err != nil {
		t.Fatalf("streamed run with withdrawn users: %v", err)
	}
	if got, _ := json.Marshal(rep.Plan); !bytes.Equal(got, w) {
		t.Errorf("plan of the streamed run with withdrawn users differs from Diff's:\n got: %s\nwant: %s", got, w)
	}
	// A change-event run naming every user and record (RunChanged): the
	// records of no directory user and no skipped ID are gone, as a
	// re-read reports them.
	e.Store, e.Target = newFakeStore(records...), newFakeTarget()
	ch := Changed{Users: dir.Users, Skipped: dir.Skipped}
	inDir := make(map[string]bool)
	for _, u := range dir.Users {
		inDir[u.ID] = true
	}
	for _, s := range dir.Skipped {
		inDir[s.ID] = true
		for _, id := range s.IDs {
			inDir[id] = true
		}
	}
	for _, r := range records {
		if !inDir[r.User.ID] {
			ch.Gone = append(ch.Gone, r.User.ID)
		}
	}
	rep, err = e.RunChanged(context.Background(), RunOptions{DryRun: true, AllowMassArchive: true}, ch)
	if err != nil {
		t.Fatalf("change-event run: %v", err)
	}
	if got, _ := json.Marshal(rep.Plan); !bytes.Equal(got, w) {
		t.Errorf("change-event plan differs from Diff's:\n got: %s\nwant: %s", got, w)
	}
}

// withdrawnSource streams dir's users, and a user for each skipped entry
// with an ID, which it then withdraws, as ldapsource does when a later
// entry collides with one already emitted.
type withdrawnSource struct{ dir Directory }

func (w withdrawnSource) Read(context.Context) (Directory, error) {
	panic("the streaming path must not call Read")
}

func (w withdrawnSource) Reread(context.Context, []string, []string) (Changed, error) {
	panic("the streaming path must not call Reread")
}

func (w withdrawnSource) Stream(ctx context.Context, emit func(user.User) error) ([]Skip, error) {
	for _, u := range w.dir.Users {
		if err := emit(u); err != nil {
			return nil, err
		}
	}
	skips := slices.Clone(w.dir.Skipped)
	emitted := make(map[string]bool)
	for _, u := range w.dir.Users {
		// Never withdrawn: every entry holding a user's ID would be skipped.
		emitted[u.ID] = true
	}
	for i, s := range skips {
		if s.ID == "" || emitted[s.ID] {
			continue
		}
		emitted[s.ID] = true
		u := person(s.ID, "withdrawn."+s.ID)
		u.DN, u.Active = s.DN, !s.Disabled
		if err := emit(u); err != nil {
			return nil, err
		}
		skips[i].Withdrawn = true
	}
	return skips, nil
}

func TestDiff_RenameIsUpdate(t *testing.T) {
	renamed := with(alice, func(u *user.User) { u.Username, u.DN = "alice.new", "CN=alice.new,OU=Other" })
	plan := Diff(dirOf(renamed), recs(record(alice, user.StatusActive, "p1")), RemovedArchive)
	if len(plan.Changes) != 1 {
		t.Fatalf("plan = %q, want one update", summaries(plan))
	}
	c := plan.Changes[0]
	if c.Op != user.OpUpdate || c.PlatformID != "p1" || !reflect.DeepEqual(c.User, renamed) {
		t.Fatalf("change = %+v, want update of p1 to the renamed user", c)
	}
	want := []user.FieldChange{{Field: user.FieldUsername, Old: "alice", New: "alice.new"}}
	if !reflect.DeepEqual(c.Fields, want) {
		t.Fatalf("fields = %+v, want %+v", c.Fields, want)
	}
}

func TestDiff_DefaultOnRemovedIsArchive(t *testing.T) {
	plan := Diff(dirOf(bob), recs(record(alice, user.StatusActive, "p1"), record(bob, user.StatusActive, "p2")), "")
	if got := summaries(plan); !reflect.DeepEqual(got, []string{"archive alice @p1 (removed)"}) {
		t.Fatalf("plan = %q", got)
	}
}

func TestDiff_RemovalCarriesLastPushedUserAndAttempts(t *testing.T) {
	r := record(alice, user.StatusActive, "p1")
	r.Attempts = 2
	plan := Diff(dirOf(bob), recs(r, record(bob, user.StatusActive, "p2")), RemovedArchive)
	if len(plan.Changes) != 1 {
		t.Fatalf("plan = %q", summaries(plan))
	}
	c := plan.Changes[0]
	if !reflect.DeepEqual(c.User, alice) || c.Attempts != 2 || c.Reason != ReasonRemoved {
		t.Fatalf("change = %+v, want alice's record with 2 attempts", c)
	}
}

func TestDiff_SkippedPassedThrough(t *testing.T) {
	skips := []Skip{{DN: "CN=x", Reason: "duplicate ID"}}
	plan := Diff(Directory{Users: []user.User{alice}, Skipped: skips}, nil, RemovedArchive)
	if !reflect.DeepEqual(plan.Skipped, skips) {
		t.Fatalf("Skipped = %+v, want %+v", plan.Skipped, skips)
	}
}

func TestDiff_DoesNotModifyInputs(t *testing.T) {
	dir := dirOf(with(alice, func(u *user.User) { u.Email = "new@example.com" }), disabled(carol))
	records := recs(record(alice, user.StatusActive, "p1"), record(bob, user.StatusActive, "p2"), record(carol, user.StatusActive, "p3"))
	before, _ := json.Marshal([]any{dir, records})
	Diff(dir, records, RemovedDelete)
	after, _ := json.Marshal([]any{dir, records})
	if !bytes.Equal(before, after) {
		t.Fatalf("Diff modified its inputs:\nbefore %s\n after %s", before, after)
	}
}

func TestDiff_OrderIndependentOfInputOrder(t *testing.T) {
	users := []user.User{person("id-c", "c"), person("id-a", "A"), person("id-b", "b"), disabled(dave)}
	records := recs(record(dave, user.StatusActive, "p-d"), record(erin, user.StatusActive, "p-e"), record(person("id-b", "b0"), user.StatusActive, "p-b"))
	first := summaries(Diff(dirOf(users...), records, RemovedArchive))
	for i := range 10 {
		// Rotate both inputs.
		u := append(append([]user.User{}, users[i%len(users):]...), users[:i%len(users)]...)
		rs := append(append([]user.Record{}, records[i%len(records):]...), records[:i%len(records)]...)
		if got := summaries(Diff(dirOf(u...), rs, RemovedArchive)); !reflect.DeepEqual(got, first) {
			t.Fatalf("order depends on input order:\n%q\n%q", got, first)
		}
	}
	want := []string{"create A", "create c", "update b @p-b [username email given_name display_name]",
		"archive dave @p-d [active] (disabled)", "archive erin @p-e (removed)"}
	if !reflect.DeepEqual(first, want) {
		t.Fatalf("plan = %q, want %q", first, want)
	}
}
