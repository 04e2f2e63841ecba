package demodir_test

import (
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/dirsync/dirsync/internal/demodir"
)

// userAttrs is the explicit attribute list dirsync's LDAP client asks for.
var userAttrs = []string{"entryUUID", "uid", "mail", "givenName", "sn", "cn", "displayName", "title", "ou", "departmentNumber", "memberOf", "pwdAccountLockedTime"}

var builtinUIDs = []string{"akhan", "bsato", "cmendes", "dokafor", "eliu", "fmuller", "gobrien", "hnguyen", "irossi", "jjohansson", "kadeyemi", "lgarcia"}

// start runs a fresh demo directory for one test.
func start(t *testing.T) (*demodir.Directory, *demodir.Server) {
	t.Helper()
	d, err := demodir.New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv, err := d.Start(t.Context())
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return d, srv
}

// dial connects without binding; the connection closes before the server.
func dial(t *testing.T, srv *demodir.Server) *ldap.Conn {
	t.Helper()
	conn, err := ldap.DialURL(srv.URL())
	if err != nil {
		t.Fatalf("dial %s: %v", srv.URL(), err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// connect dials and binds as the sync account.
func connect(t *testing.T, srv *demodir.Server) *ldap.Conn {
	t.Helper()
	conn := dial(t, srv)
	if err := conn.Bind(srv.BindDN(), srv.BindPassword()); err != nil {
		t.Fatalf("bind: %v", err)
	}
	return conn
}

func searchRequest(base string, scope int, filter string, attrs ...string) *ldap.SearchRequest {
	return ldap.NewSearchRequest(base, scope, ldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil)
}

// names lists each entry's uid, or its cn when it has none, sorted.
func names(entries []*ldap.Entry) []string {
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		n := e.GetAttributeValue("uid")
		if n == "" {
			n = e.GetAttributeValue("cn")
		}
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func sorted(s ...string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

func allPeople() []string { return sorted(append(slices.Clone(builtinUIDs), "Meeting Room Atlas")...) }

func find(t *testing.T, conn *ldap.Conn, filter string, attrs ...string) []*ldap.Entry {
	t.Helper()
	if len(attrs) == 0 {
		attrs = []string{"uid", "cn"}
	}
	res, err := conn.Search(searchRequest(demodir.BaseDN, ldap.ScopeWholeSubtree, filter, attrs...))
	if err != nil {
		t.Fatalf("search %s: %v", filter, err)
	}
	return res.Entries
}

func findOne(t *testing.T, conn *ldap.Conn, uid string, attrs ...string) *ldap.Entry {
	t.Helper()
	es := find(t, conn, "(uid="+ldap.EscapeFilter(uid)+")", attrs...)
	if len(es) != 1 {
		t.Fatalf("search uid=%s: got %d entries, want 1", uid, len(es))
	}
	return es[0]
}

func TestNew_BuiltInCompanyHasStableIDsAndOneBrokenEntry(t *testing.T) {
	d, err := demodir.New()
	if err != nil {
		t.Fatal(err)
	}
	users := d.Users()
	var uids []string
	seen := map[string]bool{}
	var broken []demodir.Person
	for _, u := range users {
		if u.EntryUUID == "" || seen[u.EntryUUID] {
			t.Errorf("%s: entryUUID %q missing or repeated", u.DN, u.EntryUUID)
		}
		seen[u.EntryUUID] = true
		if u.UID == "" {
			broken = append(broken, u)
			continue
		}
		uids = append(uids, u.UID)
		if u.Mail == "" || u.GivenName == "" || u.Surname == "" || u.DisplayName == "" {
			t.Errorf("%s: incomplete person %+v", u.UID, u)
		}
	}
	if !slices.Equal(uids, builtinUIDs) {
		t.Errorf("uids = %v, want %v", uids, builtinUIDs)
	}
	if len(broken) != 1 || broken[0].DN != demodir.BrokenEntryDN {
		t.Errorf("broken entries = %+v, want only %s", broken, demodir.BrokenEntryDN)
	}
	ak, err := d.User("AKHAN")
	if err != nil {
		t.Fatal(err)
	}
	if ak.EntryUUID != "15d3b23c-b2d8-4fea-9d4e-8add9d3ccbeb" || ak.Mail != "amira.khan@demo.example" {
		t.Errorf("akhan = %+v", ak)
	}
	if !slices.Contains(ak.Groups, "cn=platform-admins,ou=groups,dc=demo,dc=example") {
		t.Errorf("akhan groups = %v", ak.Groups)
	}
	lg, _ := d.User("lgarcia")
	if !lg.Disabled {
		t.Error("lgarcia is not disabled")
	}

	d2, err := demodir.New()
	if err != nil {
		t.Fatal(err)
	}
	if d.BindPassword() == "" || d.BindPassword() == d2.BindPassword() {
		t.Errorf("bind passwords %q and %q: want random, non-empty", d.BindPassword(), d2.BindPassword())
	}
	if u2, _ := d2.User("akhan"); u2.EntryUUID != ak.EntryUUID {
		t.Errorf("entryUUID differs between directories: %s vs %s", u2.EntryUUID, ak.EntryUUID)
	}
}

func TestStart_ListensOnLoopbackWithConfigForTheClient(t *testing.T) {
	_, srv := start(t)
	if !strings.HasPrefix(srv.URL(), "ldap://127.0.0.1:") {
		t.Errorf("URL = %s, want ldap://127.0.0.1:<port>", srv.URL())
	}
	if srv.BaseDN() != "dc=demo,dc=example" || srv.BindDN() != "cn=dirsync,dc=demo,dc=example" ||
		srv.UserFilter() != "(objectClass=inetOrgPerson)" || srv.DisabledFilter() != "(pwdAccountLockedTime=*)" ||
		srv.IDAttribute() != "entryUUID" {
		t.Errorf("config = %s %s %s %s %s", srv.BaseDN(), srv.BindDN(), srv.UserFilter(), srv.DisabledFilter(), srv.IDAttribute())
	}
}

func TestSearchWithPaging_ReadsEveryPersonAcrossPages(t *testing.T) {
	_, srv := start(t)
	conn := connect(t, srv)
	for _, size := range []uint32{1, 3, 5, 12, 13, 500} {
		res, err := conn.SearchWithPaging(searchRequest(srv.BaseDN(), ldap.ScopeWholeSubtree, srv.UserFilter(), userAttrs...), size)
		if err != nil {
			t.Fatalf("page size %d: %v", size, err)
		}
		if got := names(res.Entries); !slices.Equal(got, allPeople()) {
			t.Errorf("page size %d: got %v, want %v", size, got, allPeople())
		}
	}
}

// searchAsyncPaged reads a search the way a streaming client does: one
// SearchAsync per page, following the cookie.
func searchAsyncPaged(t *testing.T, conn *ldap.Conn, req *ldap.SearchRequest, size uint32) (entries []*ldap.Entry, pages int) {
	t.Helper()
	ctx := t.Context()
	paging := ldap.NewControlPaging(size)
	req.Controls = []ldap.Control{paging}
	for {
		pages++
		r := conn.SearchAsync(ctx, req, 16)
		var cookie []byte
		for r.Next() {
			if e := r.Entry(); e != nil {
				entries = append(entries, e)
			}
			if c, ok := ldap.FindControl(r.Controls(), ldap.ControlTypePaging).(*ldap.ControlPaging); ok {
				cookie = c.Cookie
			}
		}
		if err := r.Err(); err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		if ctx.Err() != nil {
			t.Fatal(ctx.Err())
		}
		if len(cookie) == 0 {
			return entries, pages
		}
		paging.SetCookie(cookie)
		if pages > 100 {
			t.Fatal("paging does not end")
		}
	}
}

func TestSearchAsync_WithPagingControlReadsEveryPersonAcrossPages(t *testing.T) {
	_, srv := start(t)
	conn := connect(t, srv)
	for _, tc := range []struct {
		size  uint32
		pages int
	}{{1, 13}, {4, 4}, {5, 3}, {13, 1}, {500, 1}} {
		req := searchRequest(srv.BaseDN(), ldap.ScopeWholeSubtree, srv.UserFilter(), userAttrs...)
		entries, pages := searchAsyncPaged(t, conn, req, tc.size)
		if got := names(entries); !slices.Equal(got, allPeople()) {
			t.Errorf("page size %d: got %v, want %v", tc.size, got, allPeople())
		}
		if pages != tc.pages {
			t.Errorf("page size %d: %d pages, want %d", tc.size, pages, tc.pages)
		}
	}
}

func TestPagedSearch_EachPageHoldsAtMostSizeAndTheLastCookieIsEmpty(t *testing.T) {
	_, srv := start(t)
	conn := connect(t, srv)
	paging := ldap.NewControlPaging(5)
	req := searchRequest(srv.BaseDN(), ldap.ScopeWholeSubtree, srv.UserFilter(), "uid")
	req.Controls = []ldap.Control{paging}
	var sizes []int
	for {
		res, err := conn.Search(req)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(res.Entries))
		c, ok := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging)
		if !ok {
			t.Fatalf("page %d carries no paging control", len(sizes))
		}
		if len(c.Cookie) == 0 {
			break
		}
		paging.SetCookie(c.Cookie)
	}
	if !slices.Equal(sizes, []int{5, 5, 3}) {
		t.Errorf("page sizes = %v, want [5 5 3]", sizes)
	}
}

func TestPagedSearch_SizeZeroAbandonsAndTheCookieIsThenInvalid(t *testing.T) {
	_, srv := start(t)
	conn := connect(t, srv)
	paging := ldap.NewControlPaging(2)
	req := searchRequest(srv.BaseDN(), ldap.ScopeWholeSubtree, srv.UserFilter(), "uid")
	req.Controls = []ldap.Control{paging}
	res, err := conn.Search(req)
	if err != nil {
		t.Fatal(err)
	}
	cookie := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging).Cookie
	if len(cookie) == 0 {
		t.Fatal("first page has no cookie")
	}
	paging.SetCookie(cookie)
	paging.PagingSize = 0
	res, err = conn.Search(req)
	if err != nil {
		t.Fatalf("abandon: %v", err)
	}
	if len(res.Entries) != 0 {
		t.Errorf("abandon returned %d entries", len(res.Entries))
	}
	paging.PagingSize = 2
	_, err = conn.Search(req)
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultProtocolError) {
		t.Errorf("reused cookie: err = %v, want protocolError", err)
	}
}

func TestPagedSearch_CookieFromAnotherSearchIsRefused(t *testing.T) {
	_, srv := start(t)
	conn := connect(t, srv)
	paging := ldap.NewControlPaging(2)
	req := searchRequest(srv.BaseDN(), ldap.ScopeWholeSubtree, srv.UserFilter(), "uid")
	req.Controls = []ldap.Control{paging}
	res, err := conn.Search(req)
	if err != nil {
		t.Fatal(err)
	}
	paging.SetCookie(ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging).Cookie)
	other := searchRequest(srv.BaseDN(), ldap.ScopeWholeSubtree, "(objectClass=groupOfNames)", "cn")
	other.Controls = []ldap.Control{paging}
	if _, err := conn.Search(other); !ldap.IsErrorWithCode(err, ldap.LDAPResultProtocolError) {
		t.Errorf("err = %v, want protocolError", err)
	}
	paging.SetCookie([]byte("made-up"))
	if _, err := conn.Search(req); !ldap.IsErrorWithCode(err, ldap.LDAPResultProtocolError) {
		t.Errorf("made-up cookie: err = %v, want protocolError", err)
	}
}

func TestSearch_FilterEvaluation(t *testing.T) {
	_, srv := start(t)
	conn := connect(t, srv)
	notEngineering := []string{"Meeting Room Atlas", "akhan", "fmuller", "gobrien", "hnguyen", "irossi", "jjohansson", "kadeyemi", "lgarcia"}
	for _, tc := range []struct {
		name, filter string
		want         []string
	}{
		{"equality ignores value case", "(uid=AKHAN)", []string{"akhan"}},
		{"equality ignores attribute name case", "(UID=akhan)", []string{"akhan"}},
		{"mail equality ignores case", "(mail=Amira.Khan@Demo.Example)", []string{"akhan"}},
		{"equality ignores insignificant spaces", "(cn=  meeting   room atlas )", []string{"Meeting Room Atlas"}},
		{"equality on non-ASCII folds case", "(sn=MÜLLER)", []string{"fmuller"}},
		{"equality on escaped value", `(sn=O\27Brien)`, []string{"gobrien"}},
		{"no match", "(uid=nobody)", nil},
		{"objectClass selects every person", "(objectClass=inetOrgPerson)", allPeople()},
		{"objectClass equality ignores case", "(objectclass=INETORGPERSON)", allPeople()},
		{"presence", "(pwdAccountLockedTime=*)", []string{"lgarcia"}},
		{"disabled filter with objectClass", "(&(objectClass=inetOrgPerson)(pwdAccountLockedTime=*))", []string{"lgarcia"}},
		{"and", "(&(ou=engineering)(title=*Engineer))", []string{"cmendes", "dokafor", "eliu"}},
		{"or", "(|(uid=akhan)(uid=irossi)(uid=nobody))", []string{"akhan", "irossi"}},
		{"not", "(&(objectClass=inetOrgPerson)(!(ou=Engineering)))", notEngineering},
		{"not of an absent attribute matches", "(&(objectClass=inetOrgPerson)(!(uid=*)))", []string{"Meeting Room Atlas"}},
		{"substring initial", "(cn=gr*)", []string{"gobrien"}},
		{"substring any", "(mail=*.o*@*)", []string{"dokafor", "gobrien"}},
		{"substring initial any final", "(displayName=j*han*son)", []string{"jjohansson"}},
		{"substring final must be at the end", "(displayName=*johan)", nil},
		{"memberOf compares as a DN", "(memberOf=CN=Engineering, OU=Groups,DC=demo,DC=example)", []string{"bsato", "cmendes", "dokafor", "eliu"}},
		{"member compares as a DN", "(&(objectClass=groupOfNames)(member=UID=eliu,ou=people,dc=demo,dc=example))", []string{"engineering", "platform-admins"}},
		{"greater or equal is numeric", "(departmentNumber>=600)", []string{"kadeyemi", "lgarcia"}},
		{"less or equal is numeric", "(departmentNumber<=100)", []string{"akhan"}},
		{"extensible plain", "(ou:=Engineering)", []string{"bsato", "cmendes", "dokafor", "eliu"}},
		{"extensible caseExactMatch", "(ou:caseExactMatch:=engineering)", nil},
		{"unknown matching rule matches nothing", "(uid:1.2.3.4:=akhan)", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := names(find(t, conn, tc.filter))
			if !slices.Equal(got, sorted(tc.want...)) {
				t.Errorf("%s: got %v, want %v", tc.filter, got, sorted(tc.want...))
			}
		})
	}
}

func TestSearch_HonoursBaseAndScope(t *testing.T) {
	_, srv := start(t)
	conn := connect(t, srv)
	for _, tc := range []struct {
		name  string
		base  string
		scope int
		want  int
	}{
		{"base returns the base entry", demodir.PeopleDN, ldap.ScopeBaseObject, 1},
		{"one returns the children", demodir.PeopleDN, ldap.ScopeSingleLevel, 13},
		{"sub returns base and descendants", demodir.PeopleDN, ldap.ScopeWholeSubtree, 14},
		{"one under the suffix returns the OUs", demodir.BaseDN, ldap.ScopeSingleLevel, 2},
		{"sub under the suffix returns everything", demodir.BaseDN, ldap.ScopeWholeSubtree, 3 + 13 + 4},
		{"base DN matches ignoring case and spaces", "OU=People, DC=Demo, DC=Example", ldap.ScopeSingleLevel, 13},
		{"base on a user", "uid=akhan," + demodir.PeopleDN, ldap.ScopeBaseObject, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := conn.Search(searchRequest(tc.base, tc.scope, "(objectClass=*)", "1.1"))
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Entries) != tc.want {
				t.Errorf("got %d entries, want %d", len(res.Entries), tc.want)
			}
		})
	}
}

func TestSearch_MissingBaseIsNoSuchObject(t *testing.T) {
	_, srv := start(t)
	conn := connect(t, srv)
	for _, base := range []string{"ou=nowhere," + demodir.BaseDN, "uid=ghost," + demodir.PeopleDN, "dc=other,dc=example"} {
		_, err := conn.Search(searchRequest(base, ldap.ScopeWholeSubtree, "(objectClass=*)", "uid"))
		if !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			t.Errorf("base %s: err = %v, want noSuchObject", base, err)
		}
	}
	_, err := conn.Search(searchRequest("uid=ghost,"+demodir.PeopleDN, ldap.ScopeBaseObject, "(objectClass=*)", "uid"))
	var lerr *ldap.Error
	if !errors.As(err, &lerr) || !strings.EqualFold(lerr.MatchedDN, demodir.PeopleDN) {
		t.Errorf("matched DN: err = %#v, want %s", err, demodir.PeopleDN)
	}
}

func attrNames(e *ldap.Entry) []string {
	var out []string
	for _, a := range e.Attributes {
		out = append(out, a.Name)
	}
	return out
}

func TestSearch_ReturnsOnlyRequestedAttributes(t *testing.T) {
	_, srv := start(t)
	conn := connect(t, srv)
	t.Run("named attributes in their schema spelling", func(t *testing.T) {
		e := findOne(t, conn, "bsato", "MAIL", "entryuuid", "memberOf", "nonexistent")
		if got := sorted(attrNames(e)...); !slices.Equal(got, []string{"entryUUID", "mail", "memberOf"}) {
			t.Errorf("attributes = %v", got)
		}
		if e.GetAttributeValue("entryUUID") != "5a6b1625-7c07-4aef-b301-d52f900b4102" {
			t.Errorf("entryUUID = %s", e.GetAttributeValue("entryUUID"))
		}
		if got := e.GetAttributeValues("memberOf"); !slices.Equal(got, []string{
			"cn=engineering,ou=groups,dc=demo,dc=example", "cn=platform-admins,ou=groups,dc=demo,dc=example",
		}) {
			t.Errorf("memberOf = %v", got)
		}
	})
	t.Run("star returns user attributes, not operational ones", func(t *testing.T) {
		e := findOne(t, conn, "bsato", "*")
		got := attrNames(e)
		if !slices.Contains(got, "mail") || !slices.Contains(got, "objectClass") {
			t.Errorf("attributes = %v, want the user attributes", got)
		}
		if slices.Contains(got, "entryUUID") || slices.Contains(got, "memberOf") {
			t.Errorf("attributes = %v, want no operational ones", got)
		}
	})
	t.Run("no list means star", func(t *testing.T) {
		res, err := conn.Search(searchRequest(demodir.BaseDN, ldap.ScopeWholeSubtree, "(uid=bsato)"))
		if err != nil {
			t.Fatal(err)
		}
		got := attrNames(res.Entries[0])
		if !slices.Contains(got, "givenName") || slices.Contains(got, "entryUUID") {
			t.Errorf("attributes = %v", got)
		}
	})
	t.Run("star and a name", func(t *testing.T) {
		got := attrNames(findOne(t, conn, "bsato", "*", "entryUUID"))
		if !slices.Contains(got, "givenName") || !slices.Contains(got, "entryUUID") {
			t.Errorf("attributes = %v", got)
		}
	})
	t.Run("plus returns operational attributes only", func(t *testing.T) {
		got := attrNames(findOne(t, conn, "bsato", "+"))
		if !slices.Contains(got, "entryUUID") || !slices.Contains(got, "memberOf") || slices.Contains(got, "mail") {
			t.Errorf("attributes = %v", got)
		}
	})
	t.Run("1.1 returns none", func(t *testing.T) {
		res, err := conn.Search(searchRequest(demodir.BaseDN, ldap.ScopeWholeSubtree, "(uid=bsato)", "1.1"))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Entries) != 1 || len(res.Entries[0].Attributes) != 0 {
			t.Errorf("entries = %v", res.Entries)
		}
	})
}

func TestBind_WrongOrMissingCredentialsAreInvalidCredentials(t *testing.T) {
	_, srv := start(t)
	for _, tc := range []struct {
		name string
		bind func(*ldap.Conn) error
	}{
		{"wrong password", func(c *ldap.Conn) error { return c.Bind(srv.BindDN(), srv.BindPassword()+"x") }},
		{"unknown DN", func(c *ldap.Conn) error { return c.Bind("cn=admin,"+srv.BaseDN(), srv.BindPassword()) }},
		{"anonymous", func(c *ldap.Conn) error { return c.UnauthenticatedBind("") }},
		{"unauthenticated", func(c *ldap.Conn) error { return c.UnauthenticatedBind(srv.BindDN()) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := dial(t, srv)
			if err := tc.bind(conn); !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
				t.Errorf("err = %v, want invalidCredentials", err)
			}
			_, err := conn.Search(searchRequest(srv.BaseDN(), ldap.ScopeWholeSubtree, srv.UserFilter(), "uid"))
			if !ldap.IsErrorWithCode(err, ldap.LDAPResultInsufficientAccessRights) {
				t.Errorf("search after failed bind: err = %v, want insufficientAccessRights", err)
			}
		})
	}
	t.Run("bind DN matches ignoring case and spaces", func(t *testing.T) {
		conn := dial(t, srv)
		if err := conn.Bind("CN=dirsync, DC=demo, DC=example", srv.BindPassword()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSearch_WithoutBindIsRefused(t *testing.T) {
	_, srv := start(t)
	conn := dial(t, srv)
	_, err := conn.Search(searchRequest(srv.BaseDN(), ldap.ScopeWholeSubtree, srv.UserFilter(), "uid"))
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultInsufficientAccessRights) {
		t.Errorf("err = %v, want insufficientAccessRights", err)
	}
}

func TestSearch_RootDSEAdvertisesPagingBeforeBind(t *testing.T) {
	_, srv := start(t)
	conn := dial(t, srv)
	res, err := conn.Search(searchRequest("", ldap.ScopeBaseObject, "(objectClass=*)", "namingContexts", "supportedControl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != 1 {
		t.Fatalf("got %d entries", len(res.Entries))
	}
	e := res.Entries[0]
	if e.GetAttributeValue("namingContexts") != demodir.BaseDN || !slices.Contains(e.GetAttributeValues("supportedControl"), ldap.ControlTypePaging) {
		t.Errorf("root DSE = %v %v", e.GetAttributeValues("namingContexts"), e.GetAttributeValues("supportedControl"))
	}
}

func TestSearch_SizeLimitReturnsSizeLimitExceeded(t *testing.T) {
	_, srv := start(t)
	conn := connect(t, srv)
	req := ldap.NewSearchRequest(srv.BaseDN(), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 4, 0, false, srv.UserFilter(), []string{"uid"}, nil)
	res, err := conn.Search(req)
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		t.Errorf("err = %v, want sizeLimitExceeded", err)
	}
	if res == nil || len(res.Entries) != 4 {
		t.Errorf("result = %v, want 4 entries", res)
	}
}

func TestServer_RefusesWritesOverLDAP(t *testing.T) {
	_, srv := start(t)
	conn := connect(t, srv)
	mod := ldap.NewModifyRequest("uid=akhan,"+demodir.PeopleDN, nil)
	mod.Replace("title", []string{"CTO"})
	if err := conn.Modify(mod); !ldap.IsErrorWithCode(err, ldap.LDAPResultUnwillingToPerform) {
		t.Errorf("modify: err = %v, want unwillingToPerform", err)
	}
	if err := conn.Del(ldap.NewDelRequest("uid=akhan,"+demodir.PeopleDN, nil)); !ldap.IsErrorWithCode(err, ldap.LDAPResultUnwillingToPerform) {
		t.Errorf("delete: err = %v, want unwillingToPerform", err)
	}
}
