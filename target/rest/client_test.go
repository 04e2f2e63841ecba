package rest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/target"
	"github.com/dirsync/dirsync/target/fake"
	"github.com/dirsync/dirsync/target/rest"
	"github.com/dirsync/dirsync/target/rest/profile"
	"github.com/dirsync/dirsync/user"
)

var ctx = context.Background()

func usersV2(t *testing.T, key string) (*fake.REST, *rest.Client) {
	_, srv, c := restPlatform(t, fake.StyleUsersV2, "usersv2.yaml", "v2-secret-key",
		map[string]string{"USERSV2_COMPANY_ID": fake.UsersV2Company, "USERSV2_INTEGRATION_KEY": key}, true, true)
	return srv, c
}

func TestUsersV2_HTTP200ErrorEnvelopeIsAFailureWithTheMessage(t *testing.T) {
	srv, c := usersV2(t, "v2-secret-key")
	srv.FailEmail("bad@example.com", true)
	_, err := c.Create(ctx, user.User{ID: "u1", Email: "bad@example.com"})
	var pe *rest.PlatformError
	if !errors.As(err, &pe) {
		t.Fatalf("got %v, want a *rest.PlatformError", err)
	}
	if pe.Status != http.StatusOK || pe.Code != "InvalidEmail" || !strings.Contains(err.Error(), "Email bad@example.com is not allowed") {
		t.Fatalf("error %q (status %d, code %q) does not surface ResponseStatus", err, pe.Status, pe.Code)
	}
	if len(srv.Users()) != 0 {
		t.Fatal("the failed create left a user")
	}
}

func TestUsersV2_IntegrationKeyIsRedactedFromErrors(t *testing.T) {
	srv, c := usersV2(t, "wrong-secret-key")
	err := c.Check(ctx)
	if err == nil || !strings.Contains(err.Error(), "InvalidIntegrationKey") {
		t.Fatalf("Check with a wrong key: got %v, want the platform's InvalidIntegrationKey", err)
	}
	if strings.Contains(err.Error(), "wrong-secret-key") {
		t.Fatalf("error leaks the IntegrationKey: %v", err)
	}
	if reqs := srv.Requests(); len(reqs) == 0 || !strings.Contains(reqs[0].RawQuery, "IntegrationKey=wrong-secret-key") {
		t.Fatalf("the key did not travel in the query: %+v", reqs)
	}
}

func TestUsersV2_UnknownIDIsNotFound(t *testing.T) {
	_, c := usersV2(t, "v2-secret-key")
	err := c.Update(ctx, "00000000-0000-0000-0000-000000000000", user.User{ID: "u1", Email: "a@example.com"})
	if !dsync.IsNotFound(err) {
		t.Fatalf("got %v, want NotFound (error.not_found: UserNotFound)", err)
	}
	err = c.SetActive(ctx, "00000000-0000-0000-0000-000000000000", false)
	if !dsync.IsNotFound(err) {
		t.Fatalf("deactivate: got %v, want NotFound", err)
	}
}

func TestUsersV2_DeleteRemovesTheUser(t *testing.T) {
	srv, c := usersV2(t, "v2-secret-key")
	a, err := c.Create(ctx, user.User{ID: "u1", Email: "a@example.com", GivenName: "A"})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.PlatformID) != 36 {
		t.Fatalf("platform id %q is not a GUID", a.PlatformID)
	}
	if err := c.Delete(ctx, a.PlatformID); err != nil {
		t.Fatal(err)
	}
	if len(srv.Users()) != 0 {
		t.Fatalf("user not deleted: %+v", srv.Users())
	}
}

func TestPartner_OAuth2TokenIsCachedAndRefreshedOn401(t *testing.T) {
	_, srv, c := restPlatform(t, fake.StylePartner, "partner.yaml", "partner-secret",
		map[string]string{"PARTNER_CLIENT_SECRET": "partner-secret", "PARTNER_CUSTOMER_ID": fake.PartnerCustomer}, true, true)
	for i := range 3 {
		if _, err := c.Create(ctx, user.User{ID: "u", Email: string(rune('a'+i)) + "@example.com"}); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.TokenFetches(); n != 1 {
		t.Fatalf("%d tokens fetched for 3 calls, want 1 (cached)", n)
	}
	srv.RevokeTokens()
	if err := c.Check(ctx); err != nil {
		t.Fatalf("a call after the token was revoked: %v (want a new token and success)", err)
	}
	if n := srv.TokenFetches(); n != 2 {
		t.Fatalf("%d tokens fetched, want 2 (one refresh after the 401)", n)
	}
}

func TestPartner_WrongClientSecretSaysWhatToCheck(t *testing.T) {
	_, _, c := restPlatform(t, fake.StylePartner, "partner.yaml", "partner-secret",
		map[string]string{"PARTNER_CLIENT_SECRET": "not-the-secret", "PARTNER_CUSTOMER_ID": fake.PartnerCustomer}, true, true)
	err := c.Check(ctx)
	if err == nil || !strings.Contains(err.Error(), "client_id") || strings.Contains(err.Error(), "not-the-secret") {
		t.Fatalf("got %v, want a hint at the client credentials, without the secret", err)
	}
}

func TestPartner_InviteFailureForOneUserIsThatUsersError(t *testing.T) {
	_, srv, c := restPlatform(t, fake.StylePartner, "partner.yaml", "partner-secret",
		map[string]string{"PARTNER_CLIENT_SECRET": "partner-secret", "PARTNER_CUSTOMER_ID": fake.PartnerCustomer}, true, true)
	if _, err := c.Create(ctx, user.User{ID: "u1", Email: "taken@example.com"}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Create(ctx, user.User{ID: "u2", Email: "TAKEN@example.com"})
	if !dsync.IsConflict(err) {
		t.Fatalf("got %v, want a Conflict (invite result UserAlreadyExists)", err)
	}
	srv.FailEmail("no@example.com", true)
	_, err = c.Create(ctx, user.User{ID: "u3", Email: "no@example.com"})
	if err == nil || dsync.IsConflict(err) || !strings.Contains(err.Error(), "invitation rejected for no@example.com") {
		t.Fatalf("got %v, want the invite's per-user error", err)
	}
}

func TestOAuth2_TokenIsRenewedBeforeExpiry(t *testing.T) {
	srv := fake.NewREST(fake.RESTOptions{Style: fake.StylePartner, Secret: "s"})
	url := srv.StartT(t)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	o := &target.OAuth2{TokenURL: url + "/oauth/token", ClientID: fake.PartnerClientID, ClientSecret: "s", Now: func() time.Time { return now }}
	t1, err := o.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(50 * time.Minute)
	if t2, _ := o.Token(ctx); t2 != t1 || srv.TokenFetches() != 1 {
		t.Fatalf("token renewed 10 minutes before expiry; want it reused")
	}
	now = now.Add(9*time.Minute + 45*time.Second) // 15s before expiry, inside the leeway
	t3, err := o.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if t3 == t1 || srv.TokenFetches() != 2 {
		t.Fatalf("token not renewed shortly before expiry (fetches %d)", srv.TokenFetches())
	}
}

func TestArchive_LookupMatchesEmailOnlyAndCaseInsensitively(t *testing.T) {
	_, srv, c := restPlatform(t, fake.StyleArchive, "archive.yaml", "tok", map[string]string{"ARCHIVE_TOKEN": "tok"}, false, false)
	for _, e := range []string{"a@example.com", "b@example.com", "Grace.Hopper@Example.com"} {
		srv.Add(fake.RESTUser{Email: e, Active: true})
	}
	a, err := c.Lookup(ctx, user.MatchEmail, "grace.hopper@example.com")
	if err != nil || !strings.EqualFold(a.User.Email, "grace.hopper@example.com") || !a.User.Active {
		t.Fatalf("Lookup by email across cursor pages: %+v, %v", a, err)
	}
	if _, err := c.Lookup(ctx, user.MatchExternalID, "u1"); !dsync.IsNotFound(err) {
		t.Fatalf("Lookup by externalId on a platform without one: got %v, want NotFound", err)
	}
}

func TestPPO_CheckReportsRejectedCredentials(t *testing.T) {
	_, _, c := restPlatform(t, fake.StylePPO, "ppo.yaml", "right-key", map[string]string{"PPO_API_KEY": "wrong-key"}, true, true)
	err := c.Check(ctx)
	var he *target.HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusUnauthorized || !strings.Contains(err.Error(), "check target.token") {
		t.Fatalf("got %v, want a 401 with a hint", err)
	}
	if strings.Contains(err.Error(), "wrong-key") {
		t.Fatalf("error leaks the key: %v", err)
	}
}

func TestAfterCreate_CallsEachActionWithTheNewID(t *testing.T) {
	srv := fake.NewREST(fake.RESTOptions{Style: fake.StylePPO, Secret: "k"})
	cfg := loadProfile(t, "ppo.yaml", srv.StartT(t), map[string]string{"PPO_API_KEY": "k"})
	cfg.Rest.AfterCreate = map[string]profile.Endpoint{"reset_password": {Method: "POST", Path: "/api/users/{id}/reset-password"}}
	c, err := rest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.Create(ctx, user.User{ID: "u1", Username: "ada", Email: "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	var resets int
	for _, r := range srv.Requests() {
		if r.Method == "POST" && r.Path == "/api/users/"+a.PlatformID+"/reset-password" && r.Status == http.StatusNoContent {
			resets++
		}
	}
	if resets != 1 {
		t.Fatalf("%d password resets for the new account, want 1: %+v", resets, srv.Requests())
	}
}

func TestHeaders_AreSentAndSecretOnesRedacted(t *testing.T) {
	srv := fake.NewREST(fake.RESTOptions{Style: fake.StylePPO, Secret: "k"})
	cfg := loadProfile(t, "ppo.yaml", srv.StartT(t), map[string]string{"PPO_API_KEY": "k"})
	cfg.Rest.Auth = profile.Auth{Type: profile.AuthNone}
	cfg.Token = ""
	cfg.Rest.Headers = map[string]string{"X-API-Key": "wrong-header-key"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	c, err := rest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Check(ctx)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("got %v, want the platform to see the header and reject the key", err)
	}
	if strings.Contains(err.Error(), "wrong-header-key") || strings.Contains(cfg.Redacted().Rest.Headers["X-API-Key"], "wrong") {
		t.Fatalf("a secret header leaks: %v / %v", err, cfg.Redacted().Rest.Headers)
	}
	cfg.Rest.Headers["X-API-Key"] = "k"
	if c, err = rest.New(cfg); err != nil {
		t.Fatal(err)
	}
	if err := c.Check(ctx); err != nil {
		t.Fatalf("with the right key in headers: %v", err)
	}
}

func TestList_EachPaginationStyleReadsEveryAccountOnce(t *testing.T) {
	cases := []struct {
		name, style, file string
		env               map[string]string
		pageSize          int
		none              bool
	}{
		{"page", fake.StylePPO, "ppo.yaml", map[string]string{"PPO_API_KEY": "k"}, 2, false},
		{"none", fake.StylePPO, "ppo.yaml", map[string]string{"PPO_API_KEY": "k"}, 100, true},
		{"offset", fake.StylePartner, "partner.yaml", map[string]string{"PARTNER_CLIENT_SECRET": "k", "PARTNER_CUSTOMER_ID": fake.PartnerCustomer}, 2, false},
		{"cursor", fake.StyleArchive, "archive.yaml", map[string]string{"ARCHIVE_TOKEN": "k"}, 2, false},
		{"page with total", fake.StyleUsersV2, "usersv2.yaml", map[string]string{"USERSV2_COMPANY_ID": fake.UsersV2Company, "USERSV2_INTEGRATION_KEY": "k"}, 2, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := fake.NewREST(fake.RESTOptions{Style: tc.style, Secret: "k", PageSize: tc.pageSize})
			cfg := loadProfile(t, tc.file, srv.StartT(t), tc.env)
			cfg.Rest.List.PageSize = 2
			if tc.none {
				cfg.Rest.List.Pagination = profile.PageNone
			}
			c, err := rest.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]bool{}
			for i := range 5 {
				id := srv.Add(fake.RESTUser{Email: fmt.Sprintf("u%d@example.com", i), Active: true})
				want[id] = true
			}
			seen := map[string]int{}
			if err := c.List(ctx, func(a user.Account) error { seen[a.PlatformID]++; return nil }); err != nil {
				t.Fatal(err)
			}
			for id := range want {
				if seen[id] != 1 {
					t.Errorf("account %s listed %d times, want once (all: %v)", id, seen[id], seen)
				}
			}
			if len(seen) != len(want) {
				t.Errorf("listed %d accounts, want %d", len(seen), len(want))
			}
		})
	}
}

func TestLookup_OneListingAnswersManyLookupsAndSeesTheClientsOwnWrites(t *testing.T) {
	_, srv, c := restPlatform(t, fake.StylePPO, "ppo.yaml", "k", map[string]string{"PPO_API_KEY": "k"}, true, true)
	for i := range 5 {
		srv.Add(fake.RESTUser{UserName: fmt.Sprint("u", i), Email: fmt.Sprintf("u%d@example.com", i), Active: true})
	}
	gets := func() int {
		n := 0
		for _, r := range srv.Requests() {
			if r.Method == http.MethodGet {
				n++
			}
		}
		return n
	}
	for i := range 5 {
		if _, err := c.Lookup(ctx, user.MatchEmail, fmt.Sprintf("U%d@example.com", i)); err != nil {
			t.Fatal(err)
		}
	}
	listing := gets()
	if listing != 3 { // 5 accounts, 2 per page
		t.Fatalf("5 lookups sent %d GETs, want one listing of 3 pages", listing)
	}
	a, err := c.Create(ctx, user.User{ID: "d9", Username: "new", Email: "new@example.com", Active: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetActive(ctx, a.PlatformID, false); err != nil {
		t.Fatal(err)
	}
	got, err := c.Lookup(ctx, user.MatchExternalID, "d9")
	if err != nil || got.PlatformID != a.PlatformID || got.User.Active {
		t.Fatalf("lookup after create and deactivate: %+v, %v; want the new, inactive account", got, err)
	}
	if gets() != listing {
		t.Fatal("a lookup relisted the platform although its cache is fresh")
	}
	// A conflict means the platform changed behind dirsync's back: relist.
	srv.Add(fake.RESTUser{Email: "late@example.com", Active: true})
	if _, err := c.Create(ctx, user.User{ID: "d10", Email: "late@example.com"}); err == nil {
		t.Fatal("create of a taken email succeeded")
	}
	if _, err := c.Lookup(ctx, user.MatchEmail, "late@example.com"); err != nil {
		t.Fatalf("lookup after a conflict: %v (want a fresh listing that finds the account)", err)
	}
}
