package rest_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/target"
	"github.com/dirsync/dirsync/target/fake"
	"github.com/dirsync/dirsync/target/rest"
	"github.com/dirsync/dirsync/target/rest/profile"
	"github.com/dirsync/dirsync/target/scim"
	"github.com/dirsync/dirsync/user"
)

func TestGroupMapping_RoleAndOrganizationsFollowDirectoryGroups(t *testing.T) {
	p, srv, _ := partner(t)
	ada := person("u1", "Ada", "Lovelace")
	ada.Groups = []string{"CN=Admins,OU=Groups,DC=example,DC=com", "cn=sales,ou=groups,dc=example,dc=com", "cn=staff,ou=groups,dc=example,dc=com"}
	h := newHarness(t, p, ada)
	h.runClean()
	got, _ := srv.ByEmail(ada.Email)
	if got.Role != "r-admin" || !slices.Equal(got.Orgs, []string{"org-sales", "org-all"}) {
		t.Fatalf("created with role %q orgs %v, want r-admin and [org-sales org-all]", got.Role, got.Orgs)
	}
	if got.IdentityProvider != "idp-1" {
		t.Fatalf("invited with identity provider %q, want idp-1 (Corporate SSO resolved by name)", got.IdentityProvider)
	}
	ada.Groups = []string{"cn=staff,ou=groups,dc=example,dc=com"} // left admins and sales
	h.src.set(ada)
	rep := h.runClean()
	if rep.Applied[user.OpUpdate] != 1 {
		t.Fatalf("applied %+v, want 1 update", rep.Applied)
	}
	got, _ = srv.ByEmail(ada.Email)
	if got.Role != "r-user" || !slices.Equal(got.Orgs, []string{"org-all"}) {
		t.Fatalf("after leaving admins and sales: role %q orgs %v, want r-user and [org-all]", got.Role, got.Orgs)
	}
	ada.Groups = nil
	h.src.set(ada)
	h.runClean()
	got, _ = srv.ByEmail(ada.Email)
	if got.Role != "" || len(got.Orgs) != 0 {
		t.Fatalf("after leaving every group: role %q orgs %v, want none", got.Role, got.Orgs)
	}
}

func TestMapped_MatchesByCNOrDNCaseInsensitively(t *testing.T) {
	maps := []profile.GroupMapping{{Group: "Admins", Value: "a"}, {Group: "cn=x,dc=y", Value: "x"}, {Group: "admins", Value: "a"}}
	got := target.Mapped(maps, []string{"cn=admins,ou=g,dc=y", "CN=X,DC=Y", "cn=adminsx,dc=y", "ou=admins,dc=y"})
	if !slices.Equal(got, []string{"a", "x"}) {
		t.Fatalf("Mapped = %v, want [a x]", got)
	}
}

func TestResolve_UnknownRoleNameIsAClearError(t *testing.T) {
	srv := fake.NewREST(fake.RESTOptions{Style: fake.StylePartner, Secret: "s"})
	cfg := loadProfile(t, "partner.yaml", srv.StartT(t), map[string]string{"PARTNER_CLIENT_SECRET": "s", "PARTNER_CUSTOMER_ID": fake.PartnerCustomer})
	cfg.Rest.Mappings["role"] = []profile.GroupMapping{{Group: "admins", Value: "Admn"}}
	c, err := rest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, call := range []func() error{
		func() error { return c.Check(ctx) },
		func() error { _, err := c.Create(ctx, user.User{ID: "u1", Email: "a@example.com"}); return err },
	} {
		err := call()
		if err == nil || !strings.Contains(err.Error(), `target.rest.mappings.role: the platform has no role named "Admn" (it has: Admin, User)`) {
			t.Fatalf("got %v, want the unknown name and the known ones", err)
		}
	}
	if len(srv.Users()) != 0 {
		t.Fatal("a user was created although the role could not be resolved")
	}
}

func TestSCIMGroups_MembershipFollowsDirectoryGroups(t *testing.T) {
	srv := fake.New(fake.Options{Token: "scim-token"})
	cfg := target.Default()
	cfg.URL, cfg.Token = srv.StartT(t), "scim-token"
	cfg.Groups = []target.GroupMapping{{Group: "admins", Value: "g-admins"}, {Group: "cn=staff,ou=groups,dc=example,dc=com", Value: "g-staff"}}
	srv.AddGroup("g-admins")
	srv.AddGroup("g-staff")
	c, err := scim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := platform{target: c, accounts: func() []acct { return nil }}
	ada := person("u1", "Ada", "Lovelace")
	ada.Groups = []string{"cn=Admins,ou=groups,dc=example,dc=com", "cn=staff,ou=groups,dc=example,dc=com"}
	h := newHarness(t, p, ada)
	h.runClean()
	r, ok := srv.FindByUserName("ada")
	if !ok {
		t.Fatal("ada not created")
	}
	if !slices.Equal(srv.Members("g-admins"), []string{r.ID}) || !slices.Equal(srv.Members("g-staff"), []string{r.ID}) {
		t.Fatalf("members after create: admins %v staff %v, want [%s] in both", srv.Members("g-admins"), srv.Members("g-staff"), r.ID)
	}
	ada.Groups = []string{"cn=staff,ou=groups,dc=example,dc=com"}
	h.src.set(ada)
	h.runClean()
	if len(srv.Members("g-admins")) != 0 || !slices.Equal(srv.Members("g-staff"), []string{r.ID}) {
		t.Fatalf("after leaving admins: admins %v staff %v", srv.Members("g-admins"), srv.Members("g-staff"))
	}
}
