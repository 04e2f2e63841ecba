package scim_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/target"
	"github.com/dirsync/dirsync/target/fake"
	"github.com/dirsync/dirsync/target/scim"
	"github.com/dirsync/dirsync/user"
)

var (
	_ sync.Target = (*scim.Client)(nil)
	_ sync.Lister = (*scim.Client)(nil)
)

const token = "t0ken-for-tests"

// clock records the client's waits instead of sleeping.
type clock struct {
	mu    gosync.Mutex
	now   time.Time
	slept []time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slept = append(c.slept, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

func (c *clock) Slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}

type env struct {
	c     *scim.Client
	fake  *fake.Server
	clock *clock
}

func config(url string) target.Config {
	cfg := target.Default()
	cfg.URL = url
	cfg.Token = token
	cfg.RateLimit = 0
	return cfg
}

// newEnv starts a fake platform and a client for it.
func newEnv(t *testing.T, fo fake.Options, opts ...scim.Option) *env {
	t.Helper()
	if fo.Token == "" {
		fo.Token = token
	}
	f := fake.New(fo)
	url := f.StartT(t)
	clk := &clock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	opts = append([]scim.Option{scim.WithHTTPOptions(target.WithClock(clk.Now, clk.Sleep))}, opts...)
	c, err := scim.New(config(url), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return &env{c: c, fake: f, clock: clk}
}

func alice() user.User {
	return user.User{
		ID:          "guid-alice",
		Username:    "alice",
		Email:       "Alice@Example.com",
		GivenName:   "Alice",
		FamilyName:  "Liddell",
		DisplayName: "Alice Liddell",
		Active:      true,
		Extra:       map[string]string{"department": "R&D", "title": "Engineer", "favourite_colour": "blue"},
	}
}

func mustCreate(t *testing.T, e *env, u user.User) user.Account {
	t.Helper()
	a, err := e.c.Create(context.Background(), u)
	if err != nil {
		t.Fatalf("Create %s: %v", u.Username, err)
	}
	return a
}

func TestCreate_PushesManagedAttributesAndReturnsAccount(t *testing.T) {
	e := newEnv(t, fake.Options{})
	a := mustCreate(t, e, alice())
	if a.PlatformID == "" {
		t.Fatal("no platform id")
	}
	want := alice()
	delete(want.Extra, "favourite_colour")
	want = want.Normalize()
	if got := a.User; got.Hash() != want.Hash() {
		t.Errorf("account user = %+v\nwant %+v", got, want)
	}
	r, ok := e.fake.Get(a.PlatformID)
	if !ok {
		t.Fatal("not on the platform")
	}
	if r.ExternalID != "guid-alice" || r.UserName != "alice" || r.Title != "Engineer" || r.Enterprise["department"] != "R&D" || !r.Active {
		t.Errorf("resource = %+v", r)
	}
	if len(r.Emails) != 1 || r.Emails[0] != (fake.Email{Value: "Alice@Example.com", Type: "work", Primary: true}) {
		t.Errorf("emails = %+v", r.Emails)
	}
	if len(r.Other) != 0 {
		t.Errorf("unmapped extra attribute sent: %v", r.Other)
	}
}

func TestCreate_InactiveUserIsCreatedInactive(t *testing.T) {
	e := newEnv(t, fake.Options{})
	u := alice()
	u.Active = false
	a := mustCreate(t, e, u)
	if r, _ := e.fake.Get(a.PlatformID); r.Active || a.User.Active {
		t.Errorf("created active")
	}
}

func TestCreate_DuplicateUserNameIsConflict(t *testing.T) {
	e := newEnv(t, fake.Options{})
	mustCreate(t, e, alice())
	dup := alice()
	dup.ID, dup.Username = "guid-other", "ALICE"
	_, err := e.c.Create(context.Background(), dup)
	if !sync.IsConflict(err) {
		t.Fatalf("err = %v, want a Conflict", err)
	}
	if sync.IsNotFound(err) {
		t.Error("a conflict is not a NotFound")
	}
	if !strings.Contains(err.Error(), "409") || !strings.Contains(err.Error(), "already taken") {
		t.Errorf("error lacks the platform's detail: %v", err)
	}
}

func TestLookup_FindsByEachKey(t *testing.T) {
	e := newEnv(t, fake.Options{})
	weird := user.User{ID: `id "quoted" \ back`, Username: `o"brien\x`, Email: `o"b@example.com`, Active: true}
	ids, err := e.fake.Seed(alice(), weird, user.User{ID: "guid-bob", Username: "bob", Email: "bob@example.com", Active: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key, value, want string
	}{
		{user.MatchExternalID, "guid-alice", ids[0]},
		{user.MatchUserName, "alice", ids[0]},
		{user.MatchUserName, "ALICE", ids[0]},
		{user.MatchEmail, "alice@example.COM", ids[0]},
		{user.MatchExternalID, `id "quoted" \ back`, ids[1]},
		{user.MatchUserName, `O"Brien\X`, ids[1]},
		{user.MatchEmail, `o"b@example.com`, ids[1]},
		{user.MatchEmail, "bob@example.com", ids[2]},
	} {
		a, err := e.c.Lookup(context.Background(), tc.key, tc.value)
		if err != nil {
			t.Errorf("Lookup(%s, %q): %v", tc.key, tc.value, err)
			continue
		}
		if a.PlatformID != tc.want {
			t.Errorf("Lookup(%s, %q) = %s, want %s", tc.key, tc.value, a.PlatformID, tc.want)
		}
	}
}

func TestLookup_ExternalIDIsCaseExact(t *testing.T) {
	e := newEnv(t, fake.Options{})
	e.fake.Seed(alice())
	_, err := e.c.Lookup(context.Background(), user.MatchExternalID, "GUID-ALICE")
	if !sync.IsNotFound(err) {
		t.Fatalf("err = %v, want NotFound", err)
	}
}

func TestLookup_NoMatchIsNotFound(t *testing.T) {
	e := newEnv(t, fake.Options{})
	for _, key := range []string{user.MatchExternalID, user.MatchUserName, user.MatchEmail} {
		_, err := e.c.Lookup(context.Background(), key, "nobody")
		if !sync.IsNotFound(err) {
			t.Errorf("%s: err = %v, want NotFound", key, err)
		}
	}
}

func TestLookup_UnknownKeyIsAnError(t *testing.T) {
	e := newEnv(t, fake.Options{})
	_, err := e.c.Lookup(context.Background(), "dn", "x")
	if err == nil || sync.IsNotFound(err) {
		t.Fatalf("err = %v", err)
	}
}

func TestLookup_SeveralMatchesIsAnError(t *testing.T) {
	e := newEnv(t, fake.Options{})
	e.fake.Seed(user.User{ID: "a", Username: "a1", Email: "shared@example.com"}, user.User{ID: "b", Username: "b1", Email: "SHARED@example.com"})
	_, err := e.c.Lookup(context.Background(), user.MatchEmail, "shared@example.com")
	if err == nil || sync.IsNotFound(err) || !strings.Contains(err.Error(), "2 accounts match") {
		t.Fatalf("err = %v", err)
	}
}

func testUpdate(t *testing.T, fo fake.Options, opts ...scim.Option) *env {
	t.Helper()
	e := newEnv(t, fo, opts...)
	a := mustCreate(t, e, alice())
	// Deactivated on the platform (by dirsync or by hand): an update keeps it so.
	if err := e.fake.SetActive(a.PlatformID, false); err != nil {
		t.Fatal(err)
	}
	e.fake.Edit(a.PlatformID, func(r *fake.Resource) { r.Other = map[string]any{"nickName": "Al"} })
	u := alice()
	u.Username = "alice.l"
	u.Email = "alice.l@example.com"
	u.DisplayName = ""
	u.Extra = map[string]string{"department": "Sales"}
	if err := e.c.Update(context.Background(), a.PlatformID, u); err != nil {
		t.Fatalf("Update: %v", err)
	}
	r, _ := e.fake.Get(a.PlatformID)
	if r.UserName != "alice.l" || r.PrimaryEmail() != "alice.l@example.com" || len(r.Emails) != 1 || r.Enterprise["department"] != "Sales" {
		t.Errorf("not updated: %+v", r)
	}
	if r.DisplayName != "" {
		t.Errorf("cleared displayName kept: %q", r.DisplayName)
	}
	if r.Active {
		t.Error("Update reactivated the account")
	}
	if r.Other["nickName"] != "Al" {
		t.Errorf("unmanaged attribute lost: %v", r.Other)
	}
	return e
}

func TestUpdate_UsesPatchWhenAdvertisedAndKeepsActive(t *testing.T) {
	e := testUpdate(t, fake.Options{})
	if e.fake.Count(http.MethodPatch) != 1 || e.fake.Count(http.MethodPut) != 0 {
		t.Errorf("PATCH %d, PUT %d; want one PATCH", e.fake.Count(http.MethodPatch), e.fake.Count(http.MethodPut))
	}
}

func TestUpdate_UsesPutWhenPatchNotAdvertisedAndKeepsActive(t *testing.T) {
	e := testUpdate(t, fake.Options{NoPatch: true})
	if e.fake.Count(http.MethodPatch) != 0 || e.fake.Count(http.MethodPut) != 1 {
		t.Errorf("PATCH %d, PUT %d; want one PUT", e.fake.Count(http.MethodPatch), e.fake.Count(http.MethodPut))
	}
}

func TestUpdate_FallsBackToPutWhenServiceProviderConfigFails(t *testing.T) {
	e := testUpdate(t, fake.Options{NoServiceProviderConfig: true})
	if e.fake.Count(http.MethodPatch) != 0 || e.fake.Count(http.MethodPut) != 1 {
		t.Errorf("PATCH %d, PUT %d; want one PUT", e.fake.Count(http.MethodPatch), e.fake.Count(http.MethodPut))
	}
}

func TestUpdate_FallsBackToPutWhenPatchIsRejectedAsUnsupported(t *testing.T) {
	e := testUpdate(t, fake.Options{NoPatch: true}, scim.WithPatch(true))
	if e.fake.Count(http.MethodPatch) != 1 || e.fake.Count(http.MethodPut) != 1 {
		t.Errorf("PATCH %d, PUT %d; want one of each", e.fake.Count(http.MethodPatch), e.fake.Count(http.MethodPut))
	}
	// Later changes go straight to PUT.
	a := e.fake.Users()[0]
	if err := e.c.SetActive(context.Background(), a.ID, true); err != nil {
		t.Fatal(err)
	}
	if e.fake.Count(http.MethodPatch) != 1 {
		t.Errorf("PATCH tried again")
	}
}

func TestServiceProviderConfig_IsReadOnce(t *testing.T) {
	e := newEnv(t, fake.Options{})
	a := mustCreate(t, e, alice())
	for range 3 {
		if err := e.c.SetActive(context.Background(), a.PlatformID, false); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for _, r := range e.fake.Requests() {
		if r.Path == "/ServiceProviderConfig" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("/ServiceProviderConfig read %d times", n)
	}
}

func TestSetActive_DeactivatesAndReactivates(t *testing.T) {
	for _, fo := range []fake.Options{{}, {NoPatch: true}} {
		e := newEnv(t, fo)
		a := mustCreate(t, e, alice())
		for _, active := range []bool{false, true, false} {
			if err := e.c.SetActive(context.Background(), a.PlatformID, active); err != nil {
				t.Fatalf("NoPatch=%t SetActive(%t): %v", fo.NoPatch, active, err)
			}
			r, _ := e.fake.Get(a.PlatformID)
			if r.Active != active {
				t.Errorf("NoPatch=%t: active = %t, want %t", fo.NoPatch, r.Active, active)
			}
			if r.UserName != "alice" || r.Enterprise["department"] != "R&D" {
				t.Errorf("NoPatch=%t: other attributes changed: %+v", fo.NoPatch, r)
			}
		}
	}
}

func TestDelete_ThenEveryOperationIsNotFound(t *testing.T) {
	e := newEnv(t, fake.Options{})
	a := mustCreate(t, e, alice())
	ctx := context.Background()
	if err := e.c.Delete(ctx, a.PlatformID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if len(e.fake.Users()) != 0 {
		t.Fatal("still on the platform")
	}
	errs := map[string]error{
		"Delete":    e.c.Delete(ctx, a.PlatformID),
		"SetActive": e.c.SetActive(ctx, a.PlatformID, false),
		"Update":    e.c.Update(ctx, a.PlatformID, alice()),
	}
	_, errs["Lookup"] = e.c.Lookup(ctx, user.MatchExternalID, "guid-alice")
	for op, err := range errs {
		if !sync.IsNotFound(err) {
			t.Errorf("%s after delete: err = %v, want NotFound", op, err)
		}
	}
}

func TestList_PagesOverMoreThanPageSizeWhenServerCapsPages(t *testing.T) {
	e := newEnv(t, fake.Options{MaxPageSize: 37})
	var us []user.User
	for i := range 250 {
		us = append(us, user.User{ID: fmt.Sprintf("id-%03d", i), Username: fmt.Sprintf("user%03d", i), Active: i%2 == 0})
	}
	if _, err := e.fake.Seed(us...); err != nil {
		t.Fatal(err)
	}
	var got []user.Account
	if err := e.c.List(context.Background(), func(a user.Account) error { got = append(got, a); return nil }); err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(got) != 250 {
		t.Fatalf("listed %d accounts, want 250", len(got))
	}
	for i, a := range got {
		if a.User.ID != us[i].ID || a.User.Username != us[i].Username || a.User.Active != us[i].Active || a.PlatformID == "" {
			t.Fatalf("account %d = %+v, want %+v", i, a, us[i])
		}
	}
	if n := e.fake.Count(http.MethodGet); n != 7 { // ceil(250/37)
		t.Errorf("%d GETs, want 7", n)
	}
}

func TestList_UsesConfiguredPageSize(t *testing.T) {
	e := newEnv(t, fake.Options{}, scim.WithPageSize(10))
	for i := range 25 {
		e.fake.Seed(user.User{ID: fmt.Sprint(i), Username: fmt.Sprint("u", i)})
	}
	n := 0
	if err := e.c.List(context.Background(), func(user.Account) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 25 || e.fake.Count(http.MethodGet) != 3 {
		t.Errorf("listed %d in %d requests", n, e.fake.Count(http.MethodGet))
	}
}

func TestList_ErrorFromCallbackStopsListing(t *testing.T) {
	e := newEnv(t, fake.Options{})
	e.fake.Seed(alice(), user.User{ID: "b", Username: "bob"})
	stop := errors.New("stop")
	n := 0
	err := e.c.List(context.Background(), func(user.Account) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("err = %v after %d calls", err, n)
	}
}

func TestList_EmptyPlatform(t *testing.T) {
	e := newEnv(t, fake.Options{})
	if err := e.c.List(context.Background(), func(user.Account) error { t.Error("called"); return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestCheck_AcceptsGoodTokenAndURL(t *testing.T) {
	e := newEnv(t, fake.Options{})
	if err := e.c.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !e.c.Patch(context.Background()) {
		t.Error("PATCH not discovered")
	}
}

func TestCheck_BadTokenSaysToCheckTheToken(t *testing.T) {
	f := fake.New(fake.Options{Token: "the-right-one"})
	c, err := scim.New(config(f.StartT(t)))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "HTTP 401 Unauthorized: invalid bearer token; the platform rejected the token: check target.token") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), token) {
		t.Errorf("token in error: %v", err)
	}
	// Ordinary operations fail with the 401 too, without retries.
	_, err = c.Create(context.Background(), alice())
	var he *target.HTTPError
	if !errors.As(err, &he) || he.Status != 401 || f.Count(http.MethodPost) != 1 {
		t.Errorf("Create: %v (%d POSTs)", err, f.Count(http.MethodPost))
	}
}

func TestCheck_WrongPathSaysToCheckTheURL(t *testing.T) {
	f := fake.New(fake.Options{Token: token})
	url := f.StartT(t)
	c, err := scim.New(config(strings.TrimSuffix(url, fake.BasePath) + "/api"))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "check target.url") {
		t.Fatalf("err = %v", err)
	}
}

func TestList_OversizedBodyIsAClearError(t *testing.T) {
	e := newEnv(t, fake.Options{}, scim.WithHTTPOptions(target.WithMaxBodySize(64<<10)))
	e.fake.Seed(alice())
	e.fake.SetPadding(100 << 10)
	err := e.c.List(context.Background(), func(user.Account) error { return nil })
	if !errors.Is(err, target.ErrBodyTooLarge) || !strings.Contains(err.Error(), "scim list users") {
		t.Fatalf("err = %v", err)
	}
	if n := e.fake.Count(http.MethodGet); n != 1 {
		t.Errorf("retried an oversized answer: %d GETs", n)
	}
}

func TestLookup_MalformedJSONIsAClearError(t *testing.T) {
	e := newEnv(t, fake.Options{})
	e.fake.Seed(alice())
	e.fake.CorruptNext(1)
	_, err := e.c.Lookup(context.Background(), user.MatchUserName, "alice")
	if err == nil || sync.IsNotFound(err) || !strings.Contains(err.Error(), "malformed JSON") || !strings.Contains(err.Error(), "scim look up user by userName") {
		t.Fatalf("err = %v", err)
	}
}

func TestCreate_RetriesA503ThenSucceeds(t *testing.T) {
	e := newEnv(t, fake.Options{})
	e.fake.FailNext(1, http.StatusServiceUnavailable, "")
	mustCreate(t, e, alice())
	if n := e.fake.Count(http.MethodPost); n != 2 {
		t.Errorf("%d POSTs, want 2", n)
	}
	if len(e.fake.Users()) != 1 {
		t.Errorf("%d users", len(e.fake.Users()))
	}
	if s := e.clock.Slept(); len(s) != 1 || s[0] <= 0 {
		t.Errorf("backoff waits %v", s)
	}
}

func TestCreate_HonoursRetryAfterOn429(t *testing.T) {
	e := newEnv(t, fake.Options{})
	e.fake.FailNext(2, http.StatusTooManyRequests, "7")
	mustCreate(t, e, alice())
	// Retry-After, and up to half of it more (jitter: requests throttled
	// together are not sent again together).
	if s := e.clock.Slept(); len(s) != 2 || s[0] < 7*time.Second || s[1] < 7*time.Second || s[0] > 10500*time.Millisecond || s[1] > 10500*time.Millisecond {
		t.Errorf("waits %v, want two of 7s to 10.5s", s)
	}
	if n := e.fake.Count(http.MethodPost); n != 3 {
		t.Errorf("%d POSTs, want 3", n)
	}
}

func TestCreate_GivesUpWhen503Persists(t *testing.T) {
	e := newEnv(t, fake.Options{})
	e.fake.FailNext(10, http.StatusServiceUnavailable, "")
	_, err := e.c.Create(context.Background(), alice())
	var he *target.HTTPError
	if !errors.As(err, &he) || he.Status != 503 || !he.Temporary() || e.fake.Count(http.MethodPost) != 3 {
		t.Fatalf("err = %v after %d POSTs", err, e.fake.Count(http.MethodPost))
	}
}

func TestCreate_NoRetryOn400(t *testing.T) {
	e := newEnv(t, fake.Options{})
	e.fake.FailNext(1, http.StatusBadRequest, "")
	_, err := e.c.Create(context.Background(), alice())
	var he *target.HTTPError
	if !errors.As(err, &he) || he.Status != 400 {
		t.Fatalf("err = %v", err)
	}
	if n := e.fake.Count(http.MethodPost); n != 1 {
		t.Errorf("%d POSTs, want 1", n)
	}
}

func TestCreate_ConnectionResetIsRetried(t *testing.T) {
	e := newEnv(t, fake.Options{})
	e.fake.ResetNext(1)
	mustCreate(t, e, alice())
	if len(e.fake.Users()) != 1 {
		t.Errorf("%d users", len(e.fake.Users()))
	}
}

func TestCreate_FailureForOneUserLeavesOthers(t *testing.T) {
	e := newEnv(t, fake.Options{})
	e.fake.FailUser("bob", http.StatusUnprocessableEntity)
	mustCreate(t, e, alice())
	_, err := e.c.Create(context.Background(), user.User{ID: "b", Username: "bob"})
	var he *target.HTTPError
	if !errors.As(err, &he) || he.Status != 422 || !strings.Contains(err.Error(), `injected failure for userName "bob"`) {
		t.Fatalf("err = %v", err)
	}
	if sync.IsConflict(err) || sync.IsNotFound(err) {
		t.Error("a plain failure satisfies the contract's NotFound/Conflict")
	}
}

// Defensive parsing against a misbehaving server.

func serve(t *testing.T, h http.HandlerFunc) *scim.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg := config(srv.URL + "/scim/v2")
	cfg.MaxRetries = 0
	c, err := scim.New(cfg, scim.WithPatch(true))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCreate_ResponseWithoutIDIsAnError(t *testing.T) {
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(201)
		w.Write([]byte(`{"userName":"alice"}`))
	})
	_, err := c.Create(context.Background(), alice())
	if err == nil || !strings.Contains(err.Error(), "scim create user alice") || !strings.Contains(err.Error(), "no id") {
		t.Fatalf("err = %v", err)
	}
}

func TestCreate_EmptyBodyWithLocationUsesItsID(t *testing.T) {
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "https://p.example.com/scim/v2/Users/abc-123")
		w.WriteHeader(201)
	})
	a, err := c.Create(context.Background(), alice())
	if err != nil || a.PlatformID != "abc-123" {
		t.Fatalf("Create = %+v, %v", a, err)
	}
}

func TestList_WrongTypesAreAnErrorNotAPanic(t *testing.T) {
	for _, body := range []string{
		`{"totalResults":1,"Resources":[{"id":"1","userName":"a","emails":"a@example.com"}]}`,
		`{"totalResults":1,"Resources":[{"id":"1","userName":{"x":1}}]}`,
		`{"totalResults":1,"Resources":"nope"}`,
		`[1,2,3]`,
		`<html>login</html>`,
		`{"totalResults":1,"Resources":[{"userName":"no-id"}]}`,
	} {
		c := serve(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(body)) })
		err := c.List(context.Background(), func(user.Account) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "scim list users") {
			t.Errorf("%s: err = %v", body, err)
		}
	}
}

func TestList_AcceptsTypeVariationsSeenInTheWild(t *testing.T) {
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("startIndex") != "1" {
			w.Write([]byte(`{"totalResults":"1","Resources":[]}`))
			return
		}
		w.Write([]byte(`{"totalResults":"1","startIndex":"1","Resources":[{"id":42,"externalId":"x","userName":"a","active":"False","emails":[{"value":"a@example.com","primary":"true"}]}]}`))
	})
	var got []user.Account
	if err := c.List(context.Background(), func(a user.Account) error { got = append(got, a); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].PlatformID != "42" || got[0].User.Active || got[0].User.Email != "a@example.com" {
		t.Fatalf("got %+v", got)
	}
}

func TestList_ServerIgnoringStartIndexIsAnError(t *testing.T) {
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"Resources":[{"id":"1","userName":"a"},{"id":"2","userName":"b"}]}`))
	})
	n := 0
	err := c.List(context.Background(), func(user.Account) error { n++; return nil })
	if err == nil || !strings.Contains(err.Error(), "ignore startIndex") || n != 2 {
		t.Fatalf("err = %v after %d accounts", err, n)
	}
}

func TestLookup_FilterIsQuotedAndEscaped(t *testing.T) {
	var filters []string
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		filters = append(filters, r.URL.Query().Get("filter"))
		w.Write([]byte(`{"totalResults":0,"Resources":[]}`))
	})
	c.Lookup(context.Background(), user.MatchUserName, `a"b\c`)
	c.Lookup(context.Background(), user.MatchEmail, `x@y`)
	want := []string{`userName eq "a\"b\\c"`, `emails[value eq "x@y"]`}
	if fmt.Sprint(filters) != fmt.Sprint(want) {
		t.Errorf("filters %q, want %q", filters, want)
	}
}

func TestLookup_FallsBackToDottedEmailFilter(t *testing.T) {
	var filters []string
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		f := r.URL.Query().Get("filter")
		filters = append(filters, f)
		if strings.Contains(f, "[") {
			w.WriteHeader(400)
			w.Write([]byte(`{"status":"400","scimType":"invalidFilter","detail":"no brackets here"}`))
			return
		}
		w.Write([]byte(`{"totalResults":1,"Resources":[{"id":"7","userName":"a","emails":[{"value":"X@y"}]}]}`))
	})
	a, err := c.Lookup(context.Background(), user.MatchEmail, "x@Y")
	if err != nil || a.PlatformID != "7" || len(filters) != 2 {
		t.Fatalf("Lookup = %+v, %v after %q", a, err, filters)
	}
}

func TestNew_RejectsInvalidConfig(t *testing.T) {
	cfg := target.Default()
	_, err := scim.New(cfg)
	if err == nil || !strings.Contains(err.Error(), "target.url") || !strings.Contains(err.Error(), "target.token") {
		t.Fatalf("err = %v", err)
	}
	cfg = config("https://p.example.com/scim/v2")
	cfg.Type = target.TypeREST
	if _, err := scim.New(cfg); err == nil {
		t.Fatal("accepted type rest")
	}
}

func TestCreate_ConcurrentCreatesSurviveFlakyPlatform(t *testing.T) {
	e := newEnv(t, fake.Options{Seed: 11})
	e.fake.SetErrorRate(0.2)
	cfg := config(strings.TrimSuffix(e.fake.StartT(t), "/"))
	cfg.MaxRetries = 8
	clk := &clock{}
	c, err := scim.New(cfg, scim.WithHTTPOptions(target.WithClock(clk.Now, clk.Sleep)))
	if err != nil {
		t.Fatal(err)
	}
	var wg gosync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Go(func() {
			_, err := c.Create(context.Background(), user.User{ID: fmt.Sprint(i), Username: fmt.Sprint("user", i), Active: true})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := len(e.fake.Users()); n != 40 {
		t.Errorf("%d users, want 40", n)
	}
	if e.fake.Count(http.MethodPost) <= 40 {
		t.Errorf("no failure was injected (%d POSTs)", e.fake.Count(http.MethodPost))
	}
}

func TestCreate_TimeoutIsRetriedThenReported(t *testing.T) {
	f := fake.New(fake.Options{Token: token})
	f.SetLatency(time.Minute) // answers never arrive in time
	cfg := config(f.StartT(t))
	cfg.Timeout = 20 * time.Millisecond
	cfg.MaxRetries = 1
	clk := &clock{}
	c, err := scim.New(cfg, scim.WithHTTPOptions(target.WithClock(clk.Now, clk.Sleep)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Create(context.Background(), alice())
	var he *target.HTTPError
	if !errors.As(err, &he) || he.Status != 0 || he.Attempts != 2 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if len(f.Users()) != 0 {
		t.Error("created despite the timeout")
	}
}

func TestWrites_RefuseAPlatformIDThatIsNotOnePathSegmentAndSendNothing(t *testing.T) {
	e := newEnv(t, fake.Options{})
	mustCreate(t, e, alice())
	e.fake.ResetLog()
	ctx := context.Background()
	for _, id := range []string{"", ".", "..", "a/../..", "a?b", "a#b"} {
		if err := e.c.SetActive(ctx, id, false); err == nil {
			t.Errorf("SetActive(%q) = nil, want an error", id)
		}
		if err := e.c.Update(ctx, id, alice()); err == nil {
			t.Errorf("Update(%q) = nil, want an error", id)
		}
		if err := e.c.Delete(ctx, id); err == nil {
			t.Errorf("Delete(%q) = nil, want an error", id)
		}
	}
	if w := e.fake.Writes(); w != 0 {
		t.Errorf("%d writes sent for ids that are not one path segment: %+v", w, e.fake.Requests())
	}
	if a, ok := e.fake.FindByUserName("alice"); !ok || !a.Active {
		t.Errorf("alice = %+v, %v; want her account untouched", a, ok)
	}
}

// seedN seeds n accounts u0, u1, ….
func seedN(t *testing.T, e *env, n int) {
	t.Helper()
	for i := range n {
		if _, err := e.fake.Seed(user.User{ID: fmt.Sprint("id-", i), Username: fmt.Sprint("u", i), Active: true}); err != nil {
			t.Fatal(err)
		}
	}
}

// listAll lists e's platform, returning how many accounts fn saw.
func listAll(e *env) (int, error) {
	n := 0
	err := e.c.List(context.Background(), func(user.Account) error { n++; return nil })
	return n, err
}

func TestList_WithoutTotalResultsReadsToTheEmptyPage(t *testing.T) {
	e := newEnv(t, fake.Options{}, scim.WithPageSize(2))
	seedN(t, e, 5)
	e.fake.SetListFaults(fake.ListFaults{OmitTotal: true})
	if n, err := listAll(e); err != nil || n != 5 {
		t.Fatalf("List = %d accounts, %v; want 5", n, err)
	}
}

func TestList_AnEndlessListingWithoutTotalResultsFailsAtTheBound(t *testing.T) {
	e := newEnv(t, fake.Options{}, scim.WithPageSize(10), scim.WithMaxAccounts(1000))
	seedN(t, e, 3)
	e.fake.SetListFaults(fake.ListFaults{OmitTotal: true, Endless: true})
	n, err := listAll(e)
	if err == nil || !strings.Contains(err.Error(), "more than 1000 accounts") {
		t.Fatalf("List = %d accounts, %v; want a failure at the bound", n, err)
	}
	if gets := e.fake.Count(http.MethodGet); gets > 1000/10+2 {
		t.Errorf("%d pages read, want the listing stopped at the bound", gets)
	}
}

func TestList_AnEndlessListingWhoseTotalKeepsGrowingFails(t *testing.T) {
	e := newEnv(t, fake.Options{}, scim.WithPageSize(10))
	seedN(t, e, 3)
	e.fake.SetListFaults(fake.ListFaults{Endless: true})
	n, err := listAll(e)
	if err == nil || !strings.Contains(err.Error(), "totalResults") {
		t.Fatalf("List = %d accounts, %v; want a failure naming totalResults", n, err)
	}
	if gets := e.fake.Count(http.MethodGet); gets > 20 {
		t.Errorf("%d pages read for a platform that first said it held 26 accounts", gets)
	}
}

func TestList_ARepeatedPageFails(t *testing.T) {
	e := newEnv(t, fake.Options{}, scim.WithPageSize(2))
	seedN(t, e, 5)
	e.fake.SetListFaults(fake.ListFaults{OmitTotal: true, IgnoreStartIndex: true})
	if n, err := listAll(e); err == nil || !strings.Contains(err.Error(), "repeats") {
		t.Fatalf("List = %d accounts, %v; want a failure naming the repeated page", n, err)
	}
}

func TestList_AnEmptyPageBeforeTotalResultsFails(t *testing.T) {
	e := newEnv(t, fake.Options{}, scim.WithPageSize(2))
	seedN(t, e, 5)
	e.fake.SetListFaults(fake.ListFaults{StopAfter: 3})
	if n, err := listAll(e); err == nil || !strings.Contains(err.Error(), "3 of the 5") {
		t.Fatalf("List = %d accounts, %v; want a failure: only 3 of the 5 accounts listed", n, err)
	}
}
