package ldapsource

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/dirsync/dirsync/internal/sambatest"
	"github.com/dirsync/dirsync/state"
	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/target"
	"github.com/dirsync/dirsync/target/fake"
	"github.com/dirsync/dirsync/target/scim"
	"github.com/dirsync/dirsync/user"
)

// adDirectory is a Source for sync.Engine.
type adDirectory struct{ src *Source }

func (d adDirectory) Read(ctx context.Context) (dsync.Directory, error) {
	users, skipped, err := d.src.Fetch(ctx)
	if err != nil {
		return dsync.Directory{}, err
	}
	return dsync.Directory{Users: users, Skipped: toSkips(skipped)}, nil
}

func (d adDirectory) Reread(ctx context.Context, ids, dns []string) (dsync.Changed, error) {
	return reread(ctx, d.src, ids, dns)
}

// adReconciler runs the real reconciler from src to a fake SCIM platform.
type adReconciler struct {
	platform *fake.Server
	engine   *dsync.Engine
}

func newADReconciler(t *testing.T, src *Source) *adReconciler {
	t.Helper()
	const token = "ad-test-token"
	platform := fake.New(fake.Options{Token: token})
	tcfg := target.Default()
	tcfg.URL = platform.StartT(t)
	tcfg.Token = token
	tcfg.RateLimit = 0
	client, err := scim.New(tcfg)
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	opts := dsync.Default().Options()
	// No limit on removals: only the read-completeness rule may stop an
	// archive here.
	opts.Policy.MaxArchivePercent = 100
	return &adReconciler{platform: platform,
		engine: &dsync.Engine{Source: adDirectory{src}, Target: client, Store: st, Options: opts}}
}

// TestAD_SyncUpdatesRenamesAndArchivesDeletedAndDisabledUsers runs the
// reconciler from a Samba AD DC to the fake SCIM platform through a user's
// life: created, renamed and moved (an update of the same account), disabled
// or deleted (tombstoned) in AD (archived on the platform).
func TestAD_SyncUpdatesRenamesAndArchivesDeletedAndDisabledUsers(t *testing.T) {
	s := sambatest.Start(t)
	ctx := context.Background()
	root := s.AddOU(t, "sync")
	moved := "OU=moved," + root
	s.Add(t, moved, map[string][]string{"objectClass": {"organizationalUnit"}})
	alice := s.AddUser(t, root, sambatest.UserSpec{SAM: "alice", UPN: "alice@dirsync.test", Mail: "alice@dirsync.test", GivenName: "Alice", SN: "A"})
	bob := s.AddUser(t, root, sambatest.UserSpec{SAM: "bob", UPN: "bob@dirsync.test", Mail: "bob@dirsync.test", GivenName: "Bob", SN: "B"})
	carol := s.AddUser(t, root, sambatest.UserSpec{SAM: "carol", UPN: "carol@dirsync.test", Mail: "carol@dirsync.test", GivenName: "Carol", SN: "C"})
	bobID, carolID := guidOf(t, s, bob), guidOf(t, s, carol)

	// Three users: one removal is 33 %, which newADReconciler allows.
	rec := newADReconciler(t, newSource(t, adConfig(s, root)))
	engine, platform := rec.engine, rec.platform

	run := func(want map[user.Op]int) dsync.Report {
		t.Helper()
		rep, err := engine.Run(ctx, dsync.RunOptions{})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		for op, n := range want {
			if rep.Applied[op] != n {
				t.Fatalf("applied %v, want %s: %d", rep.Applied, op, n)
			}
		}
		if len(rep.Failed) > 0 {
			t.Fatalf("failed changes: %+v", rep.Failed)
		}
		return rep
	}
	account := func(name string) fake.Resource {
		t.Helper()
		r, ok := platform.FindByUserName(name)
		if !ok {
			t.Fatalf("no platform account %s; have %+v", name, platform.Users())
		}
		return r
	}

	run(map[user.Op]int{user.OpCreate: 3})
	bobAccount := account("bob")
	if bobAccount.ExternalID != bobID || !bobAccount.Active {
		t.Fatalf("bob's account = %+v, want externalId %s (objectGUID), active", bobAccount, bobID)
	}

	// Renamed and moved: the same account is updated.
	s.Replace(t, bob, map[string][]string{
		"sAMAccountName":    {"robert"},
		"userPrincipalName": {"robert@dirsync.test"},
		"mail":              {"robert@dirsync.test"},
	})
	s.Move(t, bob, "Robert B", moved)
	run(map[user.Op]int{user.OpUpdate: 1, user.OpCreate: 0, user.OpArchive: 0})
	robert := account("robert")
	if robert.ID != bobAccount.ID || robert.PrimaryEmail() != "robert@dirsync.test" {
		t.Fatalf("after the rename: %+v, want account %s with email robert@dirsync.test", robert, bobAccount.ID)
	}
	if len(platform.Users()) != 3 {
		t.Fatalf("platform has %d accounts after the rename, want 3", len(platform.Users()))
	}

	// Deleted (a tombstone in AD) and disabled: both archived.
	s.Delete(t, carol)
	s.Disable(t, alice)
	rep := run(map[user.Op]int{user.OpArchive: 2, user.OpDelete: 0})
	reasons := map[string]string{}
	for _, c := range rep.Plan.Changes {
		reasons[c.User.Username] = c.Reason
	}
	if reasons["carol"] != dsync.ReasonRemoved || reasons["alice"] != dsync.ReasonDisabled {
		t.Fatalf("reasons = %v, want carol %q and alice %q", reasons, dsync.ReasonRemoved, dsync.ReasonDisabled)
	}
	for _, name := range []string{"alice", "carol"} {
		if r := account(name); r.Active {
			t.Errorf("%s is still active on the platform", name)
		}
	}
	if !account("robert").Active {
		t.Errorf("robert was archived")
	}
	if r := account("carol"); r.ExternalID != carolID {
		t.Errorf("carol's account externalId = %s, want %s", r.ExternalID, carolID)
	}
}
