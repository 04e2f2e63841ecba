package rest_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/target"
	"github.com/dirsync/dirsync/target/fake"
	"github.com/dirsync/dirsync/target/rest"
	"github.com/dirsync/dirsync/target/rest/profile"
	"github.com/dirsync/dirsync/user"
)

// pagingCase is an example profile against its fake, for listing tests.
type pagingCase struct {
	name, style, file, secret string
	env                       map[string]string
	// key is the profile key a never-ending listing must name.
	key string
}

var pagingCases = []pagingCase{
	{"page", fake.StylePPO, "ppo.yaml", "k", map[string]string{"PPO_API_KEY": "k"}, "target.rest.list.page_param"},
	{"offset", fake.StylePartner, "partner.yaml", "k", map[string]string{"PARTNER_CLIENT_SECRET": "k", "PARTNER_CUSTOMER_ID": fake.PartnerCustomer}, ""},
	{"cursor", fake.StyleArchive, "archive.yaml", "k", map[string]string{"ARCHIVE_TOKEN": "k"}, "target.rest.list.next_cursor"},
	{"link header", fake.StyleLifecycle, "lifecycle.yaml", "k", map[string]string{"LIFECYCLE_API_TOKEN": "k"}, "target.rest.list.pagination"},
	{"next url in the body", fake.StyleOData, "odata.yaml", "k", map[string]string{"ODATA_CLIENT_SECRET": "k"}, "target.rest.list.next_url"},
}

func (pc pagingCase) start(t *testing.T, users int, edit func(*target.Config)) (*fake.REST, *rest.Client, map[string]bool) {
	t.Helper()
	srv := fake.NewREST(fake.RESTOptions{Style: pc.style, Secret: pc.secret, PageSize: 2})
	cfg := loadProfile(t, pc.file, srv.StartT(t), pc.env)
	cfg.Rest.List.PageSize = 2
	if edit != nil {
		edit(&cfg)
	}
	c, err := rest.New(cfg, rest.WithHTTPOptions(fastRetries))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for i := range users {
		want[srv.Add(fake.RESTUser{UserName: fmt.Sprintf("u%d", i), Email: fmt.Sprintf("u%d@example.com", i), Active: true})] = true
	}
	return srv, c, want
}

func TestList_EveryPagingStyleReadsEveryAccountOnceAndCountsPages(t *testing.T) {
	for _, pc := range pagingCases {
		t.Run(pc.name, func(t *testing.T) {
			_, c, want := pc.start(t, 5, nil)
			seen := map[string]int{}
			st, err := c.ListStats(ctx, func(a user.Account) error { seen[a.PlatformID]++; return nil })
			if err != nil {
				t.Fatal(err)
			}
			for id := range want {
				if seen[id] != 1 {
					t.Errorf("account %s listed %d times, want once (all: %v)", id, seen[id], seen)
				}
			}
			if len(seen) != 5 || st.Accounts != 5 {
				t.Errorf("listed %d accounts (stats say %d), want 5", len(seen), st.Accounts)
			}
			if st.Pages < 3 {
				t.Errorf("read %d pages, want at least 3 for 5 accounts 2 a page", st.Pages)
			}
		})
	}
}

func TestList_APageOrCursorGivenTwiceFailsTheListingNamingTheProfileKey(t *testing.T) {
	for _, pc := range pagingCases {
		if pc.key == "" {
			continue
		}
		t.Run(pc.name, func(t *testing.T) {
			srv, c, _ := pc.start(t, 5, nil)
			srv.LoopPaging(true)
			n := 0
			err := c.List(ctx, func(user.Account) error { n++; return nil })
			if err == nil {
				t.Fatalf("a listing that never ends succeeded after %d accounts", n)
			}
			if !strings.Contains(err.Error(), pc.key) || !strings.Contains(err.Error(), "never end") {
				t.Fatalf("got %v, want an error naming %s", err, pc.key)
			}
			if reqs := len(srv.Requests()); reqs > 5 {
				t.Fatalf("sent %d requests before noticing the repeat, want it noticed at once", reqs)
			}
			// A lookup answers from a complete listing only: it fails too.
			if _, err := c.Lookup(ctx, user.MatchEmail, "u4@example.com"); err == nil {
				t.Fatal("a lookup succeeded on a listing that never ends")
			}
		})
	}
}

func TestList_MorePagesThanMaxPagesFailsTheListingNamingMaxPages(t *testing.T) {
	for _, pc := range pagingCases {
		t.Run(pc.name, func(t *testing.T) {
			_, c, _ := pc.start(t, 5, func(cfg *target.Config) { cfg.Rest.List.MaxPages = 2 })
			err := c.List(ctx, func(user.Account) error { return nil })
			if err == nil || !strings.Contains(err.Error(), "target.rest.list.max_pages") {
				t.Fatalf("got %v, want a failed listing naming target.rest.list.max_pages", err)
			}
		})
	}
}

func TestList_CursorInAResponseHeaderIsFollowed(t *testing.T) {
	srv := fake.NewREST(fake.RESTOptions{Style: fake.StyleArchive, Secret: "k", PageSize: 2, CursorHeader: "X-Next-Cursor"})
	cfg := loadProfile(t, "archive.yaml", srv.StartT(t), map[string]string{"ARCHIVE_TOKEN": "k"})
	cfg.Rest.List.NextCursor = ""
	cfg.Rest.List.NextCursorHeader = "X-Next-Cursor"
	c, err := rest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		srv.Add(fake.RESTUser{Email: fmt.Sprintf("u%d@example.com", i), Active: true})
	}
	st, err := c.ListStats(ctx, func(user.Account) error { return nil })
	if err != nil || st.Accounts != 5 || st.Pages != 3 {
		t.Fatalf("got %+v, %v; want 5 accounts on 3 pages", st, err)
	}
}

func TestList_FullLastPageWithoutANextLinkIsReported(t *testing.T) {
	pc := pagingCases[3] // link header
	srv, c, _ := pc.start(t, 5, nil)
	st, err := c.ListStats(ctx, func(user.Account) error { return nil })
	if err != nil || st.FullLastPage {
		t.Fatalf("complete listing: got %+v, %v; want no warning", st, err)
	}
	// A profile that misses how the platform pages: one full page, no next.
	cfg := loadProfile(t, pc.file, srv.StartT(t), pc.env)
	cfg.Rest.List.PageSize = 2
	cfg.Rest.List.Pagination = profile.PageCursor
	cfg.Rest.List.NextCursor = "nextCursor"
	cfg.Rest.List.CursorParam = "after"
	c2, err := rest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st, err = c2.ListStats(ctx, func(user.Account) error { return nil })
	if err != nil || !st.FullLastPage || st.Accounts != 2 {
		t.Fatalf("got %+v, %v; want 2 accounts and a full last page reported", st, err)
	}
}

func TestNextLink_FindsRelNextAmongOtherLinks(t *testing.T) {
	cases := []struct {
		values []string
		want   string
	}{
		{[]string{`<https://x.example/u?page=2>; rel="next", <https://x.example/u?page=9>; rel="last"`}, "https://x.example/u?page=2"},
		{[]string{`<https://x.example/u?page=1>; rel="prev"`, `</u?after=a,b>; rel="next"`}, "/u?after=a,b"},
		{[]string{`<https://x.example/a>; title="a, b"; rel="self", <https://x.example/b>; rel="prefetch next"`}, "https://x.example/b"},
		{[]string{`<https://x.example/a>; rel=next`}, "https://x.example/a"},
		{[]string{`<https://x.example/a>; rel="nextpage"`}, ""},
		{nil, ""},
	}
	for _, tc := range cases {
		if got := rest.NextLink(tc.values); got != tc.want {
			t.Errorf("NextLink(%q) = %q, want %q", tc.values, got, tc.want)
		}
	}
}

func TestFollow_NextLinksStayOnTheTargetHost(t *testing.T) {
	cfg := target.Default()
	cfg.Type, cfg.URL, cfg.Token = target.TypeREST, "https://api.example.com/base", "t"
	cfg.Rest = profile.Profile{List: profile.List{Path: "/users", Pagination: profile.PageLink}, ID: "id", Active: "active",
		Fields: map[string]string{"email": "email"}, Create: profile.Endpoint{Method: "POST", Path: "/users"},
		Delete: profile.Endpoint{Method: "DELETE", Path: "/users/{id}"}}
	c, err := rest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for next, want := range map[string]string{
		"https://api.example.com/base/users?after=x": "/users?after=x",
		"/base/users?after=y":                        "/users?after=y",
		"users?after=z":                              "/users?after=z",
		"?after=w":                                   "/users?after=w",
	} {
		p, q, err := c.Follow("/users", next)
		if err != nil || p+"?"+q != want {
			t.Errorf("Follow(%q) = %q?%q, %v; want %q", next, p, q, err, want)
		}
	}
	for _, next := range []string{"https://evil.example.com/base/users?after=x", "http://api.example.com/base/users", "https://api.example.com/other/users"} {
		if _, _, err := c.Follow("/users", next); err == nil {
			t.Errorf("Follow(%q) succeeded; want a refusal (credentials must not leave target.url)", next)
		}
	}
}

func TestErrors_DuplicateToldOnlyByTextIsAConflict(t *testing.T) {
	for _, pc := range []pagingCase{pagingCases[3], pagingCases[4]} {
		t.Run(pc.file, func(t *testing.T) {
			srv, c, _ := pc.start(t, 0, nil)
			u := user.User{ID: "u1", Username: "ada", Email: "ada@example.com", GivenName: "Ada", FamilyName: "Lovelace", DisplayName: "Ada Lovelace"}
			if _, err := c.Create(ctx, u); err != nil {
				t.Fatal(err)
			}
			_, err := c.Create(ctx, u)
			if !dsync.IsConflict(err) {
				t.Fatalf("got %v, want a conflict (HTTP 400 whose text says the account exists)", err)
			}
			if !strings.Contains(err.Error(), "HTTP 400") {
				t.Errorf("conflict error %q does not say what the platform answered", err)
			}
			srv.FailEmail("bad@example.com", true)
			_, err = c.Create(ctx, user.User{ID: "u2", Username: "bad", Email: "bad@example.com", GivenName: "B", FamilyName: "D", DisplayName: "B D"})
			if err == nil || dsync.IsConflict(err) {
				t.Fatalf("got %v, want a plain failure for another 400", err)
			}
			err = c.Update(ctx, "no-such-id", u)
			if !dsync.IsNotFound(err) {
				t.Fatalf("got %v, want not found", err)
			}
		})
	}
}

func TestErrors_BatchResultToldByTextIsAConflict(t *testing.T) {
	pc := pagingCases[1]
	_, c, _ := pc.start(t, 0, func(cfg *target.Config) {
		cfg.Rest.Error.Conflict = nil
		cfg.Rest.Error.ConflictText = []string{`/user\s*already\s*exists/`}
	})
	if _, err := c.Create(ctx, user.User{ID: "u1", Email: "taken@example.com"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, user.User{ID: "u2", Email: "taken@example.com"}); !dsync.IsConflict(err) {
		t.Fatalf("got %v, want a conflict from the per-user result's text", err)
	}
}

func TestOutcomes_ActivatingAnActiveAccountIsDoneButOtherRefusalsAreNot(t *testing.T) {
	pc := pagingCases[3]
	srv, c, _ := pc.start(t, 0, nil)
	id := srv.Add(fake.RESTUser{UserName: "ada@example.com", Email: "ada@example.com", Active: true})
	if err := c.SetActive(ctx, id, true); err != nil {
		t.Fatalf("activating an active account: %v, want done (outcome 403 E0000016)", err)
	}
	err := c.SetActive(ctx, "no-such-id", true)
	if err == nil || !dsync.IsNotFound(err) {
		t.Fatalf("activating a missing account: got %v, want not found", err)
	}
	// Without the outcome, the same answer is a failure.
	srv2, c2, _ := pc.start(t, 0, func(cfg *target.Config) { cfg.Rest.Reactivate.Outcomes = nil })
	id2 := srv2.Add(fake.RESTUser{UserName: "alan@example.com", Email: "alan@example.com", Active: true})
	var he *target.HTTPError
	if err := c2.SetActive(ctx, id2, true); !errors.As(err, &he) || he.Status != 403 {
		t.Fatalf("without outcomes: got %v, want the 403", err)
	}
}

func TestList_PagesEndingBeforeTheTotalFailTheListingNamingTotal(t *testing.T) {
	srv, c, _ := pagingCases[1].start(t, 5, nil)
	srv.OverstateTotal(3)
	n := 0
	err := c.List(ctx, func(user.Account) error { n++; return nil })
	if err == nil || !strings.Contains(err.Error(), "target.rest.list.total") {
		t.Fatalf("got %v after %d accounts, want a failed listing naming target.rest.list.total", err, n)
	}
	srv.OverstateTotal(0)
	if err := c.List(ctx, func(user.Account) error { return nil }); err != nil {
		t.Fatalf("with a true total: %v", err)
	}
}
