package app

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/dirsync/dirsync/internal/pgtest"
	"github.com/dirsync/dirsync/state/postgres"
	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/target"
	"github.com/dirsync/dirsync/target/fake"
	_ "github.com/dirsync/dirsync/target/targets"
	"github.com/dirsync/dirsync/user"
)

// TestFencedPlatform_AWriteAfterTheLeaseIsLostNeverReachesThePlatform: a
// leader whose lease is gone (it was paused, cut off, or another took over)
// sends no more writes to the platform; the apply stops as on a platform
// fault, charging no user.
func TestFencedPlatform_AWriteAfterTheLeaseIsLostNeverReachesThePlatform(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Start(t).NewDatabase(t)
	lease, err := postgres.Acquire(ctx, url, "leader", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	fk := fake.New(fake.Options{Token: "tok"})
	cfg := target.Default()
	cfg.URL, cfg.Token = fk.StartT(t), "tok"
	plat, err := NewPlatform(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	fenced := fencedPlatform{Platform: plat, lease: lease}
	u := user.User{ID: "g1", Username: "ada", Email: "ada@example.com", Active: true}
	acct, err := fenced.Create(ctx, u)
	if err != nil {
		t.Fatalf("Create while the lease is held: %v", err)
	}
	lease.Release(ctx)
	writes := fk.Writes()
	u.Email = "ada@new.example.com"
	for name, write := range map[string]func() error{
		"Create": func() error {
			_, err := fenced.Create(ctx, user.User{ID: "g2", Username: "bob", Active: true})
			return err
		},
		"Update":    func() error { return fenced.Update(ctx, acct.PlatformID, u) },
		"SetActive": func() error { return fenced.SetActive(ctx, acct.PlatformID, false) },
		"Delete":    func() error { return fenced.Delete(ctx, acct.PlatformID) },
	} {
		err := write()
		if err == nil || !dsync.IsPlatformFault(err) {
			t.Errorf("%s after the lease was lost: %v, want a platform fault", name, err)
		}
	}
	if got := fk.Writes(); got != writes {
		t.Errorf("the platform got %d writes after the lease was lost", got-writes)
	}
	// Reads still go through.
	if _, err := fenced.Lookup(ctx, user.MatchExternalID, "g1"); err != nil {
		t.Errorf("Lookup after the lease was lost: %v", err)
	}
}
