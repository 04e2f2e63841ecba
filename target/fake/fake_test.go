package fake_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/target/fake"
	"github.com/dirsync/dirsync/user"
)

// call sends one request to the fake and decodes its JSON answer.
func call(t *testing.T, base, token, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s %s: answer is not JSON: %s", method, path, b)
		}
	}
	return resp.StatusCode, m
}

func TestStart_ServesOnLoopbackWithoutATest(t *testing.T) {
	s := fake.New(fake.Options{})
	u, stop := s.Start()
	defer stop()
	if !strings.HasPrefix(u, "http://127.0.0.1:") || !strings.HasSuffix(u, fake.BasePath) {
		t.Fatalf("url %s", u)
	}
	if st, _ := call(t, u, "", "GET", "/Users", nil); st != 200 {
		t.Fatalf("status %d", st)
	}
	stop()
	stop() // idempotent
}

func TestAuth_WrongTokenIs401WithSCIMError(t *testing.T) {
	s := fake.New(fake.Options{Token: "good"})
	u := s.StartT(t)
	st, m := call(t, u, "bad", "GET", "/Users", nil)
	if st != 401 || m["status"] != "401" || m["detail"] == "" {
		t.Fatalf("%d %v", st, m)
	}
	if st, _ := call(t, u, "good", "GET", "/Users", nil); st != 200 {
		t.Fatalf("good token: %d", st)
	}
}

func TestCreate_UserNameIsUniqueCaseInsensitively(t *testing.T) {
	s := fake.New(fake.Options{})
	u := s.StartT(t)
	body := map[string]any{"schemas": []string{fake.SchemaUser}, "userName": "Alice"}
	if st, m := call(t, u, "", "POST", "/Users", body); st != 201 || m["id"] == "" {
		t.Fatalf("%d %v", st, m)
	}
	body["userName"] = "alice"
	st, m := call(t, u, "", "POST", "/Users", body)
	if st != 409 || m["scimType"] != "uniqueness" || m["status"] != "409" {
		t.Fatalf("%d %v", st, m)
	}
	if s.Writes() != 2 {
		t.Errorf("Writes = %d", s.Writes())
	}
}

func TestCreate_RequiresTheUserSchema(t *testing.T) {
	s := fake.New(fake.Options{})
	u := s.StartT(t)
	if st, m := call(t, u, "", "POST", "/Users", map[string]any{"userName": "a"}); st != 400 || m["scimType"] != "invalidSyntax" {
		t.Fatalf("%d %v", st, m)
	}
	body := map[string]any{"schemas": []string{fake.SchemaUser}, "userName": "a", fake.SchemaEnterprise: map[string]any{"department": "x"}}
	if st, _ := call(t, u, "", "POST", "/Users", body); st != 400 {
		t.Fatalf("enterprise attributes without their schema: %d", st)
	}
}

func TestFilters(t *testing.T) {
	s := fake.New(fake.Options{})
	u := s.StartT(t)
	s.Seed(user.User{ID: "X1", Username: "Alice", Email: "Alice@Example.com"}, user.User{ID: `q"\`, Username: "bob", Email: "bob@example.com"})
	for filter, want := range map[string]float64{
		`externalId eq "X1"`:                   1,
		`externalId eq "x1"`:                   0,
		`userName eq "alice"`:                  1,
		`userName Eq "ALICE"`:                  1,
		`emails[value eq "alice@example.com"]`: 1,
		`emails.value eq "BOB@example.com"`:    1,
		`externalId eq "q\"\\"`:                1,
	} {
		st, m := call(t, u, "", "GET", "/Users?filter="+url.QueryEscape(filter), nil)
		if st != 200 || m["totalResults"] != want {
			t.Errorf("%s: %d %v", filter, st, m["totalResults"])
		}
	}
	for _, bad := range []string{`userName co "a"`, `userName eq alice`, `title eq "x"`, `userName eq "a" or x`} {
		if st, m := call(t, u, "", "GET", "/Users?filter="+url.QueryEscape(bad), nil); st != 400 || m["scimType"] != "invalidFilter" {
			t.Errorf("%s: %d %v", bad, st, m)
		}
	}
}

func TestPaging(t *testing.T) {
	s := fake.New(fake.Options{MaxPageSize: 2})
	u := s.StartT(t)
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		s.Seed(user.User{Username: n})
	}
	_, m := call(t, u, "", "GET", "/Users?startIndex=2&count=10", nil)
	res, _ := m["Resources"].([]any)
	if m["totalResults"] != 5.0 || m["itemsPerPage"] != 2.0 || len(res) != 2 || res[0].(map[string]any)["userName"] != "b" {
		t.Fatalf("%v", m)
	}
}

func TestPatch_Operations(t *testing.T) {
	s := fake.New(fake.Options{})
	u := s.StartT(t)
	ids, _ := s.Seed(user.User{ID: "x", Username: "a", Email: "a@example.com", GivenName: "A", DisplayName: "Ay", Active: true})
	ops := []map[string]any{
		{"op": "Replace", "value": map[string]any{"userName": "a2", "name": map[string]any{"familyName": "Z"}, fake.SchemaEnterprise: map[string]any{"department": "D"}}},
		{"op": "replace", "path": "active", "value": false},
		{"op": "replace", "path": fake.SchemaUser + ":title", "value": "T"},
		{"op": "add", "path": "emails", "value": []any{map[string]any{"value": "b@example.com"}}},
		{"op": "remove", "path": "displayName"},
		{"op": "replace", "path": fake.SchemaEnterprise + ":costCenter", "value": "C"},
	}
	st, m := call(t, u, "", "PATCH", "/Users/"+ids[0], map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": ops})
	if st != 200 {
		t.Fatalf("%d %v", st, m)
	}
	r, _ := s.Get(ids[0])
	if r.UserName != "a2" || r.GivenName != "A" || r.FamilyName != "Z" || r.Active || r.Title != "T" || len(r.Emails) != 2 ||
		r.DisplayName != "" || r.Enterprise["department"] != "D" || r.Enterprise["costCenter"] != "C" || r.Version != 2 {
		t.Fatalf("%+v", r)
	}
	bad := []map[string]any{{"op": "replace", "path": "active", "value": "yes"}}
	if st, _ := call(t, u, "", "PATCH", "/Users/"+ids[0], map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": bad}); st != 400 {
		t.Errorf("wrong type accepted: %d", st)
	}
}

func TestPatch_Unsupported(t *testing.T) {
	s := fake.New(fake.Options{NoPatch: true})
	u := s.StartT(t)
	ids, _ := s.Seed(user.User{Username: "a"})
	if _, m := call(t, u, "", "GET", "/ServiceProviderConfig", nil); m["patch"].(map[string]any)["supported"] != false {
		t.Errorf("patch advertised: %v", m)
	}
	if st, _ := call(t, u, "", "PATCH", "/Users/"+ids[0], map[string]any{}); st != 501 {
		t.Errorf("PATCH: %d", st)
	}
}

func TestSeed_IDsAreRepeatableAndUserNamesUnique(t *testing.T) {
	a, _ := fake.New(fake.Options{Seed: 7}).Seed(user.User{Username: "x"}, user.User{Username: "y"})
	b, _ := fake.New(fake.Options{Seed: 7}).Seed(user.User{Username: "x"}, user.User{Username: "y"})
	if a[0] != b[0] || a[1] != b[1] || a[0] == a[1] || len(a[0]) != 36 {
		t.Fatalf("ids %v %v", a, b)
	}
	s := fake.New(fake.Options{})
	if _, err := s.Seed(user.User{Username: "x"}, user.User{Username: "X"}); err == nil || len(s.Users()) != 0 {
		t.Fatalf("duplicate seeded: %v", err)
	}
}

func TestFaults_ErrorRateIsRepeatable(t *testing.T) {
	run := func() []int {
		s := fake.New(fake.Options{Seed: 3})
		s.SetErrorRate(0.5)
		u := s.StartT(t)
		var out []int
		for range 20 {
			st, _ := call(t, u, "", "GET", "/Users", nil)
			out = append(out, st)
		}
		return out
	}
	a, b := run(), run()
	fails := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("runs differ: %v %v", a, b)
		}
		if a[i] == 503 {
			fails++
		}
	}
	if fails == 0 || fails == 20 {
		t.Errorf("%d of 20 failed", fails)
	}
}

func TestFaults_FailNextSendsRetryAfter(t *testing.T) {
	s := fake.New(fake.Options{})
	u := s.StartT(t)
	s.FailNext(1, 429, "3")
	resp, err := http.Get(u + "/Users")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	if reqs := s.Requests(); len(reqs) != 1 || reqs[0].Status != 429 || reqs[0].Path != "/Users" {
		t.Fatalf("log %+v", reqs)
	}
}

func TestEdit_ChangesTheAccountDirectly(t *testing.T) {
	s := fake.New(fake.Options{})
	ids, _ := s.Seed(user.User{ID: "g", Username: "a", Active: true})
	if err := s.Edit(ids[0], func(r *fake.Resource) { r.DisplayName = "changed" }); err != nil {
		t.Fatal(err)
	}
	if err := s.SetActive(ids[0], false); err != nil {
		t.Fatal(err)
	}
	a := s.Accounts()[0]
	if a.User.DisplayName != "changed" || a.User.Active || a.User.ID != "g" || a.PlatformID != ids[0] {
		t.Fatalf("%+v", a)
	}
	if err := s.Edit("nope", func(*fake.Resource) {}); err == nil {
		t.Error("edited a missing user")
	}
}

func TestFaults_ThrottleAnswers429OverTheRate(t *testing.T) {
	s := fake.New(fake.Options{})
	u := s.StartT(t)
	s.SetThrottle(1, 3) // a burst of 3, then one a second
	var got []int
	for range 6 {
		resp, err := http.Get(u + "/ServiceProviderConfig")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got = append(got, resp.StatusCode)
		if resp.StatusCode == 429 && resp.Header.Get("Retry-After") != "1" {
			t.Errorf("a 429 without Retry-After: 1: %v", resp.Header)
		}
	}
	if got[0] != 200 || got[2] != 200 || got[5] != 429 || s.Throttled() < 2 {
		t.Errorf("statuses %v, %d throttled; want the burst of 3 admitted, then 429s", got, s.Throttled())
	}
	s.SetThrottle(0, 0)
	if resp, err := http.Get(u + "/ServiceProviderConfig"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("after SetThrottle(0): %v %v", resp, err)
	}
}

func TestFaults_SlowBodiesTrickleTheBody(t *testing.T) {
	s := fake.New(fake.Options{})
	u := s.StartT(t)
	s.SetSlowBodies(300 * time.Millisecond)
	start := time.Now()
	resp, err := http.Get(u + "/ServiceProviderConfig")
	if err != nil {
		t.Fatal(err)
	}
	headers := time.Since(start)
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !json.Valid(b) {
		t.Fatalf("body %q, err %v", b, err)
	}
	if body := time.Since(start); body < 250*time.Millisecond || headers > body/2 {
		t.Errorf("headers after %v, body after %v; want the headers at once and the body over ~300ms", headers, body)
	}
}

func TestRefuseFilter_AnswersInvalidFilterForThatAttributeOnly(t *testing.T) {
	s := fake.New(fake.Options{})
	u := s.StartT(t)
	if _, err := s.Seed(user.User{ID: "ext-1", Username: "ann", Email: "ann@example.com", Active: true}); err != nil {
		t.Fatal(err)
	}
	s.RefuseFilter("emails")
	for _, f := range []string{`emails[value eq "ann@example.com"]`, `emails.value eq "ann@example.com"`, `EMAILS eq "ann@example.com"`} {
		st, body := call(t, u, "", "GET", "/Users?filter="+url.QueryEscape(f), nil)
		if st != 400 || body["scimType"] != "invalidFilter" {
			t.Errorf("filter %s: %d %v, want 400 invalidFilter", f, st, body)
		}
	}
	if st, body := call(t, u, "", "GET", "/Users?filter="+url.QueryEscape(`userName eq "ann"`), nil); st != 200 || body["totalResults"] != float64(1) {
		t.Errorf("userName filter: %d %v, want the one account", st, body)
	}
	if st, body := call(t, u, "", "GET", "/Users", nil); st != 200 || body["totalResults"] != float64(1) {
		t.Errorf("listing: %d %v, want the one account", st, body)
	}
}

// TestPaging_ListingPageByPageCostsAboutAsMuchAsOnePageOfEverything lists
// 100,000 users in small pages and in one page: each page must cost its own
// resources, not a pass over every user, or a listing of N users costs N²
// (a million users in pages of 100 would pass over 10¹⁰ users).
func TestPaging_ListingPageByPageCostsAboutAsMuchAsOnePageOfEverything(t *testing.T) {
	const n, pageSize = 100_000, 25
	s := fake.New(fake.Options{Seed: 1})
	us := make([]user.User, n)
	for i := range us {
		us[i] = user.User{Username: fmt.Sprintf("user-%06d", i), Active: true}
	}
	if _, err := s.Seed(us...); err != nil {
		t.Fatal(err)
	}
	// list returns a page's userNames and the time the fake took to answer.
	list := func(start, count int) ([]string, time.Duration) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", fmt.Sprintf("%s/Users?startIndex=%d&count=%d", fake.BasePath, start, count), nil)
		began := time.Now()
		s.ServeHTTP(rec, req)
		took := time.Since(began)
		var page struct {
			TotalResults int `json:"totalResults"`
			Resources    []struct {
				UserName string `json:"userName"`
			}
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &page); rec.Code != 200 || err != nil {
			t.Fatalf("GET startIndex=%d count=%d: %d %v", start, count, rec.Code, err)
		}
		if page.TotalResults != n {
			t.Fatalf("GET startIndex=%d count=%d: totalResults %d, want %d", start, count, page.TotalResults, n)
		}
		names := make([]string, len(page.Resources))
		for i, r := range page.Resources {
			names[i] = r.UserName
		}
		return names, took
	}

	all, whole := list(1, n)
	if len(all) != n {
		t.Fatalf("one page: %d users, want %d", len(all), n)
	}
	var paged []string
	var byPage time.Duration
	for start := 1; start <= n; start += pageSize {
		names, took := list(start, pageSize)
		if len(names) != pageSize {
			t.Fatalf("page at %d: %d users, want %d", start, len(names), pageSize)
		}
		paged = append(paged, names...)
		byPage += took
	}
	if !slices.Equal(paged, all) {
		t.Fatal("the pages do not list the users of the one page, in the same order")
	}
	// A pass over every user per page makes this several times the one page.
	if byPage > 2*whole+500*time.Millisecond {
		t.Fatalf("the fake answered %d pages of %d users in %s, one page of all %d in %s: a page costs more than its own users",
			n/pageSize, pageSize, byPage, n, whole)
	}
}
