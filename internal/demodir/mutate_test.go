package demodir_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/dirsync/dirsync/internal/demodir"
)

func TestSetAttr_NewValueIsVisibleToTheNextSearch(t *testing.T) {
	d, srv := start(t)
	conn := connect(t, srv)
	if err := d.SetAttr("dokafor", "title", "Senior Software Engineer"); err != nil {
		t.Fatal(err)
	}
	if got := findOne(t, conn, "dokafor", "title").GetAttributeValue("title"); got != "Senior Software Engineer" {
		t.Errorf("title = %q", got)
	}
	if err := d.SetAttr("dokafor", "employeeType", "contractor"); err != nil {
		t.Fatal(err)
	}
	if got := names(find(t, conn, "(employeeType=Contractor)")); !slices.Equal(got, []string{"dokafor"}) {
		t.Errorf("new attribute: got %v", got)
	}
	if err := d.SetAttr("dokafor", "title", ""); err != nil {
		t.Fatal(err)
	}
	if e := findOne(t, conn, "dokafor", "title"); len(e.Attributes) != 0 {
		t.Errorf("emptied title still returned: %v", attrNames(e))
	}
}

func TestSetAttr_RefusesManagedAttributesAndUnknownUsers(t *testing.T) {
	d, _ := start(t)
	for _, attr := range []string{"uid", "entryUUID", "memberOf", "objectClass", "pwdAccountLockedTime"} {
		if err := d.SetAttr("akhan", attr, "x"); !errors.Is(err, demodir.ErrReadOnlyAttr) {
			t.Errorf("%s: err = %v, want ErrReadOnlyAttr", attr, err)
		}
	}
	if err := d.SetAttr("nobody", "title", "x"); !errors.Is(err, demodir.ErrNoSuchUser) {
		t.Errorf("unknown user: err = %v, want ErrNoSuchUser", err)
	}
}

func TestDisable_MatchesTheDisabledFilterUntilEnabled(t *testing.T) {
	d, srv := start(t)
	conn := connect(t, srv)
	disabled := "(&" + srv.UserFilter() + srv.DisabledFilter() + ")"
	if err := d.Disable("eliu"); err != nil {
		t.Fatal(err)
	}
	if got := names(find(t, conn, disabled)); !slices.Equal(got, []string{"eliu", "lgarcia"}) {
		t.Errorf("after disable: %v", got)
	}
	if u, _ := d.User("eliu"); !u.Disabled {
		t.Error("Users() does not show eliu disabled")
	}
	if err := d.Enable("lgarcia"); err != nil {
		t.Fatal(err)
	}
	if got := names(find(t, conn, disabled)); !slices.Equal(got, []string{"eliu"}) {
		t.Errorf("after enable: %v", got)
	}
}

func TestRemove_EntryAndItsMembershipsAreGone(t *testing.T) {
	d, srv := start(t)
	conn := connect(t, srv)
	if err := d.Remove("cmendes"); err != nil {
		t.Fatal(err)
	}
	if got := find(t, conn, "(uid=cmendes)"); len(got) != 0 {
		t.Errorf("removed user still found: %v", names(got))
	}
	if got := find(t, conn, "(member=uid=cmendes,"+demodir.PeopleDN+")"); len(got) != 0 {
		t.Errorf("removed user still a member of %v", names(got))
	}
	res, err := conn.SearchWithPaging(searchRequest(srv.BaseDN(), ldap.ScopeWholeSubtree, srv.UserFilter(), "uid"), 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != 12 {
		t.Errorf("got %d people, want 12", len(res.Entries))
	}
	if err := d.Remove("cmendes"); !errors.Is(err, demodir.ErrNoSuchUser) {
		t.Errorf("second remove: err = %v, want ErrNoSuchUser", err)
	}
}

func TestAdd_NewPersonIsFoundWithAStableIDAndGroups(t *testing.T) {
	d, srv := start(t)
	conn := connect(t, srv)
	p, err := d.Add(demodir.Person{
		UID: "mpatel", GivenName: "Maya", Surname: "Patel", Mail: "maya.patel@demo.example",
		Title: "Data Engineer", Department: "Engineering", Groups: []string{"engineering"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.EntryUUID == "" || p.DN != "uid=mpatel,"+demodir.PeopleDN || p.CommonName != "Maya Patel" {
		t.Errorf("added = %+v", p)
	}
	e := findOne(t, conn, "mpatel", userAttrs...)
	if e.GetAttributeValue("entryUUID") != p.EntryUUID || e.GetAttributeValue("mail") != "maya.patel@demo.example" {
		t.Errorf("entry = %v", e.Attributes)
	}
	if got := e.GetAttributeValues("memberOf"); !slices.Equal(got, []string{"cn=engineering,ou=groups,dc=demo,dc=example"}) {
		t.Errorf("memberOf = %v", got)
	}

	// Another directory given the same script assigns the same ID.
	d2, err := demodir.New()
	if err != nil {
		t.Fatal(err)
	}
	p2, err := d2.Add(demodir.Person{UID: "mpatel", GivenName: "Maya", Surname: "Patel"})
	if err != nil {
		t.Fatal(err)
	}
	if p2.EntryUUID != p.EntryUUID {
		t.Errorf("entryUUID %s, then %s: want reproducible", p.EntryUUID, p2.EntryUUID)
	}

	if _, err := d.Add(demodir.Person{UID: "MPATEL"}); !errors.Is(err, demodir.ErrUserExists) {
		t.Errorf("duplicate: err = %v, want ErrUserExists", err)
	}
	if _, err := d.Add(demodir.Person{UID: ""}); !errors.Is(err, demodir.ErrInvalidArgument) {
		t.Errorf("no uid: err = %v, want ErrInvalidArgument", err)
	}
	if _, err := d.Add(demodir.Person{UID: "x", Groups: []string{"nope"}}); !errors.Is(err, demodir.ErrNoSuchGroup) {
		t.Errorf("unknown group: err = %v, want ErrNoSuchGroup", err)
	}
}

func TestRename_KeepsEntryUUIDAndMovesMemberships(t *testing.T) {
	d, srv := start(t)
	conn := connect(t, srv)
	before := findOne(t, conn, "hnguyen", "entryUUID", "memberOf")
	if err := d.Rename("hnguyen", "hana.nguyen"); err != nil {
		t.Fatal(err)
	}
	if got := find(t, conn, "(uid=hnguyen)"); len(got) != 0 {
		t.Errorf("old uid still found: %v", names(got))
	}
	after := findOne(t, conn, "hana.nguyen", "entryUUID", "memberOf", "uid")
	if after.DN != "uid=hana.nguyen,"+demodir.PeopleDN {
		t.Errorf("DN = %s", after.DN)
	}
	if after.GetAttributeValue("entryUUID") != before.GetAttributeValue("entryUUID") {
		t.Errorf("entryUUID changed: %s → %s", before.GetAttributeValue("entryUUID"), after.GetAttributeValue("entryUUID"))
	}
	if !slices.Equal(after.GetAttributeValues("memberOf"), before.GetAttributeValues("memberOf")) {
		t.Errorf("memberOf %v → %v", before.GetAttributeValues("memberOf"), after.GetAttributeValues("memberOf"))
	}
	if got := names(find(t, conn, "(member=uid=hana.nguyen,"+demodir.PeopleDN+")")); !slices.Equal(got, []string{"sales"}) {
		t.Errorf("groups listing the new DN: %v", got)
	}
	if err := d.Rename("irossi", "HANA.NGUYEN"); !errors.Is(err, demodir.ErrUserExists) {
		t.Errorf("rename onto an existing uid: err = %v, want ErrUserExists", err)
	}
}

func TestGroupMembership_ChangesAreVisibleToTheNextSearch(t *testing.T) {
	d, srv := start(t)
	conn := connect(t, srv)
	if err := d.AddToGroup("kadeyemi", "platform-admins"); err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveFromGroup("eliu", "cn=platform-admins,ou=groups,dc=demo,dc=example"); err != nil {
		t.Fatal(err)
	}
	got := names(find(t, conn, "(memberOf=cn=platform-admins,ou=groups,dc=demo,dc=example)"))
	if !slices.Equal(got, []string{"akhan", "bsato", "kadeyemi"}) {
		t.Errorf("platform-admins = %v", got)
	}
	if err := d.RemoveFromGroup("fmuller", "product"); err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveFromGroup("gobrien", "product"); !errors.Is(err, demodir.ErrInvalidArgument) {
		t.Errorf("removing the last member: err = %v, want ErrInvalidArgument", err)
	}
}

func TestDirectory_ConcurrentChangesAndPagedSearches(t *testing.T) {
	d, srv := start(t)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			conn, err := ldap.DialURL(srv.URL())
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			if err := conn.Bind(srv.BindDN(), srv.BindPassword()); err != nil {
				t.Error(err)
				return
			}
			for range 10 {
				res, err := conn.SearchWithPaging(searchRequest(srv.BaseDN(), ldap.ScopeWholeSubtree, srv.UserFilter(), userAttrs...), 3)
				if err != nil {
					t.Errorf("reader %d: %v", i, err)
					return
				}
				if len(res.Entries) < 13 {
					t.Errorf("reader %d: %d entries", i, len(res.Entries))
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 20 {
			uid := fmt.Sprintf("temp%d", i)
			if _, err := d.Add(demodir.Person{UID: uid, Groups: []string{"sales"}}); err != nil {
				t.Error(err)
			}
			if err := d.SetAttr("akhan", "title", uid); err != nil {
				t.Error(err)
			}
			_ = d.Users()
		}
	})
	wg.Wait()
}
