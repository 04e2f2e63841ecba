package rest_test

import (
	"strings"
	"testing"

	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/target/fake"
	"github.com/dirsync/dirsync/target/rest"
	"github.com/dirsync/dirsync/user"
)

var _ dsync.IdentifierFreer = (*rest.Client)(nil)

func TestFreeIdentifiers_ProfileCallRenamesUsernameAndEmailOnly(t *testing.T) {
	_, srv, c := restPlatform(t, fake.StylePPO, "ppo.yaml", "ppo-key", map[string]string{"PPO_API_KEY": "ppo-key"}, true, true)
	u := user.User{ID: "u1", Username: "jdoe", Email: "jdoe@example.com", GivenName: "John", FamilyName: "Doe", Active: true}
	a, err := c.Create(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetActive(ctx, a.PlatformID, false); err != nil {
		t.Fatal(err)
	}
	freed := u
	freed.Username, freed.Email, freed.GivenName = "jdoe.left-2026-12-06", "jdoe.left-2026-12-06@example.com", "not pushed"
	if err := c.FreeIdentifiers(ctx, a.PlatformID, freed); err != nil {
		t.Fatal(err)
	}
	got := srv.Users()
	if len(got) != 1 || got[0].UserName != "jdoe.left-2026-12-06" || got[0].Email != "jdoe.left-2026-12-06@example.com" ||
		got[0].GivenName != "John" || got[0].Active || got[0].ExternalID != "u1" {
		t.Errorf("account after rename: %+v", got)
	}
	// The address is free again: a new jdoe is created, not refused.
	if _, err := c.Create(ctx, user.User{ID: "u2", Username: "jdoe", Email: "jdoe@example.com", Active: true}); err != nil {
		t.Errorf("create of the freed address: %v", err)
	}
}

func TestFreeIdentifiers_WithoutTheProfileCallFailsNamingIt(t *testing.T) {
	_, _, c := restPlatform(t, fake.StyleArchive, "archive.yaml", "arch-key", map[string]string{"ARCHIVE_TOKEN": "arch-key"}, true, true)
	err := c.FreeIdentifiers(ctx, "x1", user.User{Username: "a", Email: "a@example.com"})
	if err == nil || !strings.Contains(err.Error(), "target.rest.free_identifiers is not set") {
		t.Errorf("got %v", err)
	}
}

func TestProfile_FreeIdentifiersBodyMayReferToTheNewNamesOnly(t *testing.T) {
	cfg := loadProfile(t, "ppo.yaml", "https://ppo.example.com", map[string]string{"PPO_API_KEY": "k"})
	cfg.Rest.FreeIdentifiers.Body = `{"userName": "{{username}}", "firstName": "{{given_name}}"}`
	_, err := rest.New(cfg)
	if err == nil || !strings.Contains(err.Error(), "free_identifiers.body") {
		t.Errorf("got %v, want a problem with target.rest.free_identifiers.body", err)
	}
}
