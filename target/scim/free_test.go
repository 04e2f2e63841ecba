package scim_test

import (
	"context"
	"testing"

	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/target/fake"
	"github.com/dirsync/dirsync/target/scim"
)

var _ dsync.IdentifierFreer = (*scim.Client)(nil)

func TestFreeIdentifiers_RenamesUsernameAndEmailOnly(t *testing.T) {
	for _, fo := range []fake.Options{{}, {NoPatch: true}} {
		e := newEnv(t, fo)
		a := mustCreate(t, e, alice())
		ctx := context.Background()
		if err := e.c.SetActive(ctx, a.PlatformID, false); err != nil {
			t.Fatal(err)
		}
		freed := alice()
		freed.Username, freed.Email = "alice.left-2026-12-06", "Alice.left-2026-12-06@Example.com"
		freed.DisplayName = "must not be pushed"
		if err := e.c.FreeIdentifiers(ctx, a.PlatformID, freed); err != nil {
			t.Fatalf("NoPatch=%t: %v", fo.NoPatch, err)
		}
		r, _ := e.fake.Get(a.PlatformID)
		if r.UserName != "alice.left-2026-12-06" || r.PrimaryEmail() != "Alice.left-2026-12-06@Example.com" {
			t.Errorf("NoPatch=%t: account %+v", fo.NoPatch, r)
		}
		if r.Active || r.DisplayName != "Alice Liddell" || r.Enterprise["department"] != "R&D" || r.ExternalID != "guid-alice" {
			t.Errorf("NoPatch=%t: other attributes changed: %+v", fo.NoPatch, r)
		}
		// The name is free: a new alice can be created.
		other := alice()
		other.ID = "guid-new-alice"
		mustCreate(t, e, other)
	}
}
