package target_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	gosync "sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dirsync/dirsync/target"
)

func TestConfig_DefaultNeedsOnlyURLAndToken(t *testing.T) {
	c := target.Default()
	c.URL = "https://platform.example.com/scim/v2"
	c.Token = "s3cr3t"
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if c.Concurrency != 8 || c.RateLimit != 10 || c.Timeout != 30*time.Second || c.MaxRetries != 2 || c.Type != "scim" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestConfig_ValidateReportsEveryProblemByKey(t *testing.T) {
	c := target.Config{
		Type:        "soap",
		URL:         "http://platform.example.com/scim",
		Token:       "a",
		TokenFile:   "/nonexistent",
		Concurrency: 0,
		MaxInFlight: -1,
		RateLimit:   -1,
		Timeout:     0,
		MaxRetries:  -1,
		CAFile:      "/nonexistent/ca.pem",
	}
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate: want errors")
	}
	for _, key := range []string{"target.type:", "target.url:", "target.token:", "target.concurrency:", "target.max_in_flight:", "target.rate_limit:", "target.timeout:", "target.max_retries:", "target.ca_file:"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error does not name %s:\n%v", key, err)
		}
	}
}

func TestConfig_ValidateURL(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://p.example.com/scim/v2", true},
		{"http://127.0.0.1:8080/scim/v2", true},
		{"http://localhost/scim", true},
		{"http://[::1]:9/scim", true},
		{"http://p.example.com/scim", false},
		{"https://user:pw@p.example.com/", false},
		{"ftp://p.example.com/", false},
		{"/scim/v2", false},
		{"", false},
	} {
		c := target.Default()
		c.Token, c.URL = "t", tc.url
		if err := c.Validate(); (err == nil) != tc.ok {
			t.Errorf("%q: Validate = %v, want ok=%t", tc.url, err, tc.ok)
		}
	}
}

func TestConfig_RedactedHidesToken(t *testing.T) {
	c := target.Default()
	c.URL = "https://p.example.com/api?IntegrationKey=k3y&CompanyId=7"
	c.Token = "s3cr3t-token"
	for _, s := range []string{c.String(), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprint(c.Redacted())} {
		if strings.Contains(s, "s3cr3t-token") || strings.Contains(s, "k3y") {
			t.Errorf("secret printed: %s", s)
		}
	}
	if c.Redacted().Token != "REDACTED" {
		t.Errorf("Redacted().Token = %q", c.Redacted().Token)
	}
	if !strings.Contains(c.Redacted().URL, "CompanyId=7") {
		t.Errorf("Redacted().URL lost a harmless parameter: %s", c.Redacted().URL)
	}
}

func TestConfig_SecretReadsTrimmedTokenFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte("  tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := target.Config{TokenFile: p}
	got, err := c.Secret()
	if err != nil || got != "tok" {
		t.Fatalf("Secret() = %q, %v", got, err)
	}
}

func TestRedactURL_MasksSecretParamsAndPassword(t *testing.T) {
	got := target.RedactURL("https://u:pw@h/x?api_key=AAA&access_token=BBB&page=2", "extra")
	for _, s := range []string{"pw", "AAA", "BBB"} {
		if strings.Contains(got, s) {
			t.Errorf("%s not redacted: %s", s, got)
		}
	}
	if !strings.Contains(got, "page=2") {
		t.Errorf("page lost: %s", got)
	}
	if got := target.Redact("token abc in abc", "abc"); got != "token REDACTED in REDACTED" {
		t.Errorf("Redact = %q", got)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"7", 7 * time.Second, true},
		{"0", 0, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"", 0, false},
		{"soon", 0, false},
		{"-3", 0, false},
	} {
		got, ok := target.ParseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %t; want %v, %t", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestDetail_ExtractsPlatformExplanation(t *testing.T) {
	for _, tc := range []struct {
		ct, body, want string
	}{
		{"application/scim+json", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"uniqueness","detail":"userName taken"}`, "userName taken (scimType uniqueness)"},
		{"application/json", `{"message":"bad email"}`, "bad email"},
		{"application/json", `{"error":{"code":7,"message":"nested"}}`, "nested"},
		{"application/json", `{"error":"invalid_token","error_description":"expired"}`, "expired"},
		{"application/json", `{"ResponseStatus":{"ErrorCode":"X","Message":"envelope"}}`, "envelope"},
		{"text/plain", "upstream\nconnect error", "upstream connect error"},
		{"text/html", "<html><body>502</body></html>", ""},
		{"application/octet-stream", "\x00\x01\x02", ""},
		{"", "", ""},
	} {
		if got := target.Detail(tc.ct, []byte(tc.body)); got != tc.want {
			t.Errorf("Detail(%q) = %q, want %q", tc.body, got, tc.want)
		}
	}
	long := strings.Repeat("x", 5000)
	if got := target.Detail("text/plain", []byte(long)); len(got) > 310 {
		t.Errorf("Detail not clipped: %d bytes", len(got))
	}
}

func TestHTTPError_Contract(t *testing.T) {
	for _, tc := range []struct {
		status                        int
		notFound, conflict, temporary bool
	}{
		{404, true, false, false},
		{409, false, true, false},
		{429, false, false, true},
		{500, false, false, true},
		{503, false, false, true},
		{501, false, false, false},
		{400, false, false, false},
	} {
		e := &target.HTTPError{Status: tc.status}
		if e.NotFound() != tc.notFound || e.Conflict() != tc.conflict || e.Temporary() != tc.temporary {
			t.Errorf("%d: NotFound=%t Conflict=%t Temporary=%t", tc.status, e.NotFound(), e.Conflict(), e.Temporary())
		}
	}
	wrapped := fmt.Errorf("outer: %w", &target.HTTPError{Status: 404})
	var nf interface{ NotFound() bool }
	if !errors.As(wrapped, &nf) || !nf.NotFound() {
		t.Error("NotFound not reachable through wrapping")
	}
}

// fakeClock records the waits of an HTTPClient without sleeping.
type fakeClock struct {
	mu    gosync.Mutex
	now   time.Time
	slept []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slept = append(c.slept, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

func (c *fakeClock) Slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}

func newClient(t *testing.T, h http.Handler, clk *fakeClock, opts ...target.Option) *target.HTTPClient {
	t.Helper()
	return newClientCfg(t, h, clk, nil, opts...)
}

func newClientCfg(t *testing.T, h http.Handler, clk *fakeClock, edit func(*target.Config), opts ...target.Option) *target.HTTPClient {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg := target.Default()
	cfg.URL = srv.URL + "/api?api_key=K3Y"
	cfg.Token = "T0KEN"
	cfg.RateLimit = 0
	if edit != nil {
		edit(&cfg)
	}
	opts = append([]target.Option{target.WithClock(clk.Now, clk.Sleep), target.WithVersion("1.2.3")}, opts...)
	c, err := target.NewHTTPClient(cfg, target.Bearer(cfg.Token), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// statuses answers each request with the next status of a script, then 200.
func statuses(n *atomic.Int32, script []int, header http.Header) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		if i < len(script) {
			for k, v := range header {
				w.Header()[k] = v
			}
			w.WriteHeader(script[i])
			fmt.Fprintf(w, `{"detail":"scripted %d, token T0KEN"}`, script[i])
			return
		}
		w.Write([]byte(`{"ok":true}`))
	}
}

func TestHTTPClient_SendsAuthUserAgentAndBaseQuery(t *testing.T) {
	var got *http.Request
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Clone(context.Background()) }), newFakeClock())
	if _, err := c.Do(context.Background(), target.Request{Op: "test", Method: "GET", Path: "Users/a%2Fb", Query: map[string][]string{"count": {"1"}}}); err != nil {
		t.Fatal(err)
	}
	if got.Header.Get("Authorization") != "Bearer T0KEN" || got.Header.Get("User-Agent") != "dirsync/1.2.3" {
		t.Errorf("headers: %v", got.Header)
	}
	if got.URL.EscapedPath() != "/api/Users/a%2Fb" || got.URL.Query().Get("api_key") != "K3Y" || got.URL.Query().Get("count") != "1" {
		t.Errorf("url: %s", got.URL)
	}
}

func TestHTTPClient_RetriesServerErrorsWithBackoff(t *testing.T) {
	var n atomic.Int32
	clk := newFakeClock()
	c := newClient(t, statuses(&n, []int{503, 502}, nil), clk)
	resp, err := c.Do(context.Background(), target.Request{Op: "test", Method: "POST", Body: []byte(`{}`)})
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if resp.Status != 200 || n.Load() != 3 {
		t.Fatalf("status %d after %d requests", resp.Status, n.Load())
	}
	slept := clk.Slept()
	if len(slept) != 2 || slept[0] < 250*time.Millisecond || slept[0] > 500*time.Millisecond || slept[1] < 500*time.Millisecond || slept[1] > time.Second {
		t.Errorf("backoff waits %v, want ~[250ms..500ms, 500ms..1s]", slept)
	}
}

func TestHTTPClient_GivesUpAfterMaxRetries(t *testing.T) {
	var n atomic.Int32
	c := newClient(t, statuses(&n, []int{500, 500, 500, 500, 500}, nil), newFakeClock())
	_, err := c.Do(context.Background(), target.Request{Op: "scim get user", Method: "GET"})
	var he *target.HTTPError
	if !errors.As(err, &he) || he.Status != 500 || he.Attempts != 3 || n.Load() != 3 {
		t.Fatalf("err %v after %d requests", err, n.Load())
	}
	if !he.Temporary() || !strings.Contains(err.Error(), "scim get user: GET ") || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Errorf("error text: %v", err)
	}
}

func TestHTTPClient_NeverRetriesClientErrors(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404, 409, 422} {
		var n atomic.Int32
		c := newClient(t, statuses(&n, []int{status, status}, nil), newFakeClock())
		_, err := c.Do(context.Background(), target.Request{Op: "test", Method: "GET"})
		var he *target.HTTPError
		if !errors.As(err, &he) || he.Status != status || n.Load() != 1 {
			t.Errorf("%d: err %v after %d requests", status, err, n.Load())
		}
	}
}

func TestHTTPClient_HonoursRetryAfterSeconds(t *testing.T) {
	var n atomic.Int32
	clk := newFakeClock()
	c := newClient(t, statuses(&n, []int{429}, http.Header{"Retry-After": {"7"}}), clk)
	if _, err := c.Do(context.Background(), target.Request{Op: "test", Method: "GET"}); err != nil {
		t.Fatal(err)
	}
	if slept := clk.Slept(); len(slept) != 1 || !waitedOut(slept[0], 7*time.Second) {
		t.Errorf("waits %v, want one of 7s (Retry-After) and at most half that more (jitter)", slept)
	}
}

func TestHTTPClient_HonoursRetryAfterDate(t *testing.T) {
	var n atomic.Int32
	clk := newFakeClock()
	date := clk.Now().Add(42 * time.Second).Format(http.TimeFormat)
	c := newClient(t, statuses(&n, []int{503}, http.Header{"Retry-After": {date}}), clk)
	if _, err := c.Do(context.Background(), target.Request{Op: "test", Method: "GET"}); err != nil {
		t.Fatal(err)
	}
	if slept := clk.Slept(); len(slept) != 1 || !waitedOut(slept[0], 42*time.Second) {
		t.Errorf("waits %v, want one of 42s (Retry-After) and at most 5s more (jitter)", slept)
	}
}

// waitedOut reports whether a throttled request's wait d honours the
// Retry-After ra: ra, and a random part of at most half of it (5s at most).
func waitedOut(d, ra time.Duration) bool {
	return d >= ra && d <= ra+min(ra/2, 5*time.Second)
}

// A 429 with Retry-After delays the request that got it, and nothing else:
// other requests go on (the adaptive rate and window slow them instead).
func TestHTTPClient_RetryAfterDelaysOnlyTheThrottledRequest(t *testing.T) {
	var throttledOnce atomic.Bool
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/throttled" && throttledOnce.CompareAndSwap(false, true) {
			w.Header().Set("Retry-After", "5")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.Write([]byte(`{}`))
	})
	// The throttled request's wait blocks until the test releases it.
	waiting, release := make(chan time.Duration, 1), make(chan struct{})
	sleep := func(ctx context.Context, d time.Duration) error {
		waiting <- d
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c := newClientCfg(t, h, newFakeClock(), func(c *target.Config) { c.MaxRetries = 0; c.RateLimit = 1000 },
		target.WithClock(time.Now, sleep))
	done := make(chan error, 1)
	go func() {
		_, err := c.Do(context.Background(), target.Request{Op: "test", Method: "GET", Path: "throttled"})
		done <- err
	}()
	if d := <-waiting; !waitedOut(d, 5*time.Second) {
		t.Errorf("the throttled request waits %v, want the Retry-After of 5s (and jitter)", d)
	}
	// While it waits, other requests are answered at once.
	for range 5 {
		if _, err := c.Do(context.Background(), target.Request{Op: "test", Method: "GET", Path: "other"}); err != nil {
			t.Fatalf("a request while another waits out its Retry-After: %v", err)
		}
	}
	select {
	case err := <-done:
		t.Fatalf("the throttled request ended before its wait was over: %v", err)
	default:
	}
	close(release)
	// Not counted as a retry: max_retries 0 still sends it again.
	if err := <-done; err != nil {
		t.Fatalf("the throttled request after its Retry-After: %v", err)
	}
}

func TestHTTPClient_ThrottledWaitsCountNeitherAsRetriesNorAgainstTheBudget(t *testing.T) {
	var n atomic.Int32
	clk := newFakeClock()
	c := newClientCfg(t, statuses(&n, []int{429, 429, 429, 429}, http.Header{"Retry-After": {"1"}}), clk,
		func(c *target.Config) { c.MaxRetries = 0 }, target.WithRetryBudget(1))
	if _, err := c.Do(context.Background(), target.Request{Op: "test", Method: "POST", Body: []byte(`{}`)}); err != nil {
		t.Fatalf("4 throttled answers then 200, with max_retries 0 and a budget of 1: %v", err)
	}
	slept := clk.Slept()
	if got := n.Load(); got != 5 || len(slept) != 4 {
		t.Errorf("%d requests, waits %v; want 5 and four waits of the Retry-After (1s)", got, slept)
	}
	for _, d := range slept {
		if !waitedOut(d, time.Second) {
			t.Errorf("waited %v, want the Retry-After of 1s (and jitter)", d)
		}
	}
	// The budget is untouched: a 503 is still retried once.
	var m atomic.Int32
	c = newClientCfg(t, statuses(&m, []int{429, 503}, nil), newFakeClock(),
		func(c *target.Config) { c.MaxRetries = 1 }, target.WithRetryBudget(1))
	if _, err := c.Do(context.Background(), target.Request{Op: "test", Method: "GET"}); err != nil || m.Load() != 3 {
		t.Errorf("a 429 without Retry-After, a 503, then 200: err %v after %d requests, want success after 3", err, m.Load())
	}
	if st := c.Throttling(); st.Throttled != 1 || st.Waited <= 0 {
		t.Errorf("throttling stats %+v, want 1 throttled answer and a backoff waited", st)
	}
}

// A platform that answers nothing but 429 does not hold a run forever:
// target.throttle_timeout ends the waiting with a clear, temporary error (which
// the circuit breaker counts).
func TestHTTPClient_ThrottleTimeoutEndsTheWaiting(t *testing.T) {
	var n atomic.Int32
	always429 := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Retry-After", "2")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	clk := newFakeClock()
	c := newClientCfg(t, always429, clk, func(c *target.Config) { c.ThrottleTimeout = 10 * time.Second })
	_, err := c.Do(context.Background(), target.Request{Op: "scim create user", Method: "POST", Body: []byte(`{}`)})
	var he *target.HTTPError
	if !errors.As(err, &he) || he.Status != 429 || !he.Temporary() {
		t.Fatalf("err = %v, want the 429 as a temporary HTTPError", err)
	}
	if !strings.Contains(err.Error(), "target.throttle_timeout") || !strings.Contains(err.Error(), "next run") {
		t.Errorf("error %q does not name target.throttle_timeout and say what happens next", err)
	}
	if got := n.Load(); got < 4 || got > 6 { // sent every 2–3 s
		t.Errorf("%d requests in 10s of Retry-After: 2, want 4 to 6", got)
	}
	// The platform still throttles everything: the next request is not
	// held for another 10s.
	before := len(clk.Slept())
	_, err = c.Do(context.Background(), target.Request{Op: "scim create user", Method: "POST", Body: []byte(`{}`)})
	if err == nil || !strings.Contains(err.Error(), "nothing but throttling") || len(clk.Slept()) != before {
		t.Errorf("next request: err %v after %d more waits; want it to fail at once", err, len(clk.Slept())-before)
	}
}

func TestHTTPClient_ThrottlingCutsTheRateWithinTheConfiguredLimit(t *testing.T) {
	var n atomic.Int32
	var events []target.ThrottleEvent
	c := newClientCfg(t, statuses(&n, []int{429}, nil), newFakeClock(), func(c *target.Config) { c.RateLimit = 100 },
		target.WithThrottleObserver(func(e target.ThrottleEvent) { events = append(events, e) }))
	if got := c.Rate(); got != 100 {
		t.Fatalf("initial rate %g, want target.rate_limit 100", got)
	}
	if _, err := c.Do(context.Background(), target.Request{Op: "test", Method: "GET"}); err != nil {
		t.Fatal(err)
	}
	if got := c.Rate(); got < 60 || got > 90 {
		t.Errorf("after a 429 the rate is %g, want it cut to about 80", got)
	}
	if len(events) != 1 || !events[0].Cut || events[0].Status != 429 || events[0].MaxRate != 100 || events[0].Throttled != 1 {
		t.Errorf("throttle events %+v, want one cut after the 429", events)
	}
	for range 20 {
		if _, err := c.Do(context.Background(), target.Request{Op: "test", Method: "GET"}); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.Rate(); got <= 80 || got > 100 {
		t.Errorf("after 20 successes the rate is %g, want it regaining, at most 100", got)
	}
}

func TestHTTPClient_DoesNotWaitForOverlongRetryAfter(t *testing.T) {
	var n atomic.Int32
	clk := newFakeClock()
	c := newClient(t, statuses(&n, []int{429}, http.Header{"Retry-After": {"3600"}}), clk)
	_, err := c.Do(context.Background(), target.Request{Op: "test", Method: "GET"})
	var he *target.HTTPError
	if !errors.As(err, &he) || he.Status != 429 || n.Load() != 1 || len(clk.Slept()) != 0 {
		t.Fatalf("err %v, %d requests, waits %v", err, n.Load(), clk.Slept())
	}
	if he.RetryAfter != "3600" {
		t.Errorf("RetryAfter = %q", he.RetryAfter)
	}
}

func TestHTTPClient_OversizedBodyIsAClearError(t *testing.T) {
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat(" ", 2048)))
	}), newFakeClock(), target.WithMaxBodySize(1024))
	_, err := c.Do(context.Background(), target.Request{Op: "scim list users", Method: "GET"})
	if !errors.Is(err, target.ErrBodyTooLarge) || !strings.Contains(err.Error(), "more than 1 KiB") {
		t.Fatalf("err = %v", err)
	}
}

func TestHTTPClient_RedirectIsNotFollowed(t *testing.T) {
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://elsewhere.example.com/login?session=S3SS", http.StatusFound)
	}), newFakeClock())
	_, err := c.Do(context.Background(), target.Request{Op: "test", Method: "POST", Body: []byte("{}")})
	var he *target.HTTPError
	if !errors.As(err, &he) || he.Status != 302 || !strings.Contains(err.Error(), "check target.url") || strings.Contains(err.Error(), "S3SS") {
		t.Fatalf("err = %v", err)
	}
}

func TestHTTPClient_ErrorsNeverShowSecrets(t *testing.T) {
	var n atomic.Int32
	c := newClient(t, statuses(&n, []int{400}, nil), newFakeClock())
	_, err := c.Do(context.Background(), target.Request{Op: "test", Method: "GET"})
	if err == nil || strings.Contains(err.Error(), "T0KEN") || strings.Contains(err.Error(), "K3Y") {
		t.Fatalf("err = %v", err)
	}
	// Network error: nothing listens.
	cfg := target.Default()
	cfg.URL, cfg.Token, cfg.MaxRetries = "http://127.0.0.1:1/x?api_key=K3Y", "T0KEN", 0
	hc, err := target.NewHTTPClient(cfg, target.Bearer(cfg.Token))
	if err != nil {
		t.Fatal(err)
	}
	_, err = hc.Do(context.Background(), target.Request{Op: "test", Method: "GET"})
	var he *target.HTTPError
	if !errors.As(err, &he) || he.Status != 0 || !he.Temporary() || strings.Contains(err.Error(), "K3Y") {
		t.Fatalf("err = %v", err)
	}
}

func TestHTTPClient_RetriesNetworkErrors(t *testing.T) {
	var n atomic.Int32
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			conn.Close()
			return
		}
		w.Write([]byte("{}"))
	}), newFakeClock())
	if _, err := c.Do(context.Background(), target.Request{Op: "test", Method: "POST", Body: []byte("{}")}); err != nil {
		t.Fatalf("Do: %v", err)
	}
	if n.Load() != 2 {
		t.Errorf("%d requests, want 2", n.Load())
	}
}

func TestHTTPClient_CancelledContextStopsRetrying(t *testing.T) {
	var n atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		cancel()
		w.WriteHeader(503)
	}), newFakeClock())
	_, err := c.Do(ctx, target.Request{Op: "test", Method: "GET"})
	if err == nil || n.Load() != 1 {
		t.Fatalf("err %v after %d requests", err, n.Load())
	}
}

func TestHTTPClient_RateLimitSpacesRequests(t *testing.T) {
	var n atomic.Int32
	c := newClientCfg(t, statuses(&n, nil, nil), newFakeClock(), func(c *target.Config) { c.RateLimit = 20 })
	start := time.Now()
	for range 25 { // a burst of 20, then 5 more at 50ms each
		if _, err := c.Do(context.Background(), target.Request{Op: "test", Method: "GET"}); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("25 requests at 20/s took %v", d)
	}
}

func TestHTTPClient_ObserverSeesEveryAttemptsStatus(t *testing.T) {
	var n atomic.Int32
	var mu gosync.Mutex
	var seen []int
	observe := target.WithObserver(func(a target.Attempt) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, a.Status)
		if a.Op != "test" || a.Method != "GET" || !strings.Contains(a.URL, "/api") || strings.Contains(a.URL, "K3Y") || (a.Status == 0) != (a.Err != nil) {
			t.Errorf("attempt %+v: want op, method, the URL with its secret redacted, and an error only without a status", a)
		}
	})
	first := true
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if first { // one connection reset: no status
			first = false
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			conn.Close()
			return
		}
		statuses(&n, []int{503}, nil)(w, r)
	}), newFakeClock(), observe)
	if _, err := c.Do(context.Background(), target.Request{Op: "test", Method: "GET"}); err != nil {
		t.Fatalf("Do: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []int{0, 503, 200}; !slices.Equal(seen, want) {
		t.Errorf("observed %v, want %v", seen, want)
	}
}

func TestHTTPClient_ThrottlingShrinksConcurrencyAndSuccessRestoresIt(t *testing.T) {
	var n atomic.Int32
	c := newClientCfg(t, statuses(&n, []int{200, 200, 200, 200, 200, 200, 429, 429}, nil), newFakeClock(), func(c *target.Config) { c.Concurrency = 8; c.MaxRetries = 3 })
	// Slow start: 2, then one more per answer.
	if got := c.Concurrency(); got != 2 {
		t.Fatalf("initial concurrency %d, want 2 (slow start)", got)
	}
	for range 6 {
		if _, err := c.Do(context.Background(), target.Request{Op: "test", Method: "GET"}); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.Concurrency(); got != 8 {
		t.Fatalf("after 6 answers the concurrency is %d, want 8", got)
	}
	if _, err := c.Do(context.Background(), target.Request{Op: "test", Method: "GET"}); err != nil {
		t.Fatal(err)
	}
	if got := c.Concurrency(); got >= 8 {
		t.Fatalf("after two 429s the concurrency is still %d", got)
	}
	for range 60 {
		if _, err := c.Do(context.Background(), target.Request{Op: "test", Method: "GET"}); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.Concurrency(); got != 8 {
		t.Errorf("after 60 successes the concurrency is %d, want back to 8", got)
	}
}

func TestHTTPClient_MaxInFlightBoundsRequestsInFlightApartFromConcurrency(t *testing.T) {
	for _, tc := range []struct {
		name        string
		concurrency int
		maxInFlight int
		want        int
	}{
		{"max_in_flight below concurrency", 8, 3, 3},
		{"max_in_flight above concurrency", 2, 6, 6},
		{"max_in_flight unset: concurrency", 5, 0, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			c := newClientCfg(t, statuses(&n, nil, nil), newFakeClock(), func(c *target.Config) {
				c.Concurrency, c.MaxInFlight = tc.concurrency, tc.maxInFlight
			})
			for range 20 {
				if _, err := c.Do(context.Background(), target.Request{Op: "test", Method: "GET"}); err != nil {
					t.Fatal(err)
				}
			}
			if got := c.Concurrency(); got != tc.want {
				t.Errorf("concurrency %d, max_in_flight %d: requests in flight grow to %d, want %d", tc.concurrency, tc.maxInFlight, got, tc.want)
			}
		})
	}
}

func TestHTTPClient_RetriesA408ButNotOther4xx(t *testing.T) {
	var n atomic.Int32
	c := newClientCfg(t, statuses(&n, []int{408}, nil), newFakeClock(), func(c *target.Config) { c.MaxRetries = 2 })
	if _, err := c.Do(context.Background(), target.Request{Op: "test", Method: "GET"}); err != nil {
		t.Fatalf("a 408 then 200: %v", err)
	}
	for _, status := range []int{400, 404, 409, 422} {
		var m atomic.Int32
		c := newClientCfg(t, statuses(&m, []int{status}, nil), newFakeClock(), func(c *target.Config) { c.MaxRetries = 2 })
		if _, err := c.Do(context.Background(), target.Request{Op: "test", Method: "GET"}); err == nil || m.Load() != 1 {
			t.Errorf("HTTP %d: err %v after %d requests, want a failure after 1", status, err, m.Load())
		}
	}
}

func TestHTTPClient_RetryBudgetCapsRetriesAcrossRequests(t *testing.T) {
	var n atomic.Int32
	always503 := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	c := newClientCfg(t, always503, newFakeClock(), func(c *target.Config) { c.MaxRetries = 3 }, target.WithRetryBudget(5))
	var last error
	for range 4 {
		_, last = c.Do(context.Background(), target.Request{Op: "test", Method: "GET"})
		if last == nil {
			t.Fatal("a 503 succeeded")
		}
	}
	// 4 first attempts + 5 retries in all, not 4 × (1+3).
	if got := n.Load(); got != 4+5 {
		t.Errorf("%d requests sent, want 9 (the budget of 5 retries spent)", got)
	}
	if !strings.Contains(last.Error(), "retries are spent") {
		t.Errorf("last error %q does not say the budget is spent", last)
	}
	var herr *target.HTTPError
	if !errors.As(last, &herr) || !herr.Temporary() {
		t.Errorf("a spent budget hides the HTTP error: %v", last)
	}
}

func TestHTTPError_ATokenEndpointThatRefusesTheClientIsAPlatformFault(t *testing.T) {
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":"invalid_client"}`))
	}))
	t.Cleanup(tokens.Close)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		t.Error("a request was sent without credentials")
	}))
	t.Cleanup(api.Close)
	cfg := target.Default()
	cfg.URL, cfg.Token, cfg.RateLimit, cfg.MaxRetries = api.URL, "secret", 0, 0
	c, err := target.NewHTTPClient(cfg, &target.OAuth2{TokenURL: tokens.URL, ClientID: "dirsync", ClientSecret: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Do(t.Context(), target.Request{Op: "list", Method: http.MethodGet, Path: "users"})
	var he *target.HTTPError
	if !errors.As(err, &he) || !he.PlatformFault() || !strings.Contains(he.Remedy(), "target.rest.auth") {
		t.Fatalf("Do = %v; want an *HTTPError that is a platform fault pointing at target.rest.auth", err)
	}
}

func TestHTTPError_PlatformFaultsAreTheWholePlatformsNotOneAccounts(t *testing.T) {
	for _, tc := range []struct {
		err  *target.HTTPError
		want bool
	}{
		{&target.HTTPError{Status: http.StatusUnauthorized}, true},
		{&target.HTTPError{Status: http.StatusForbidden}, true},
		{&target.HTTPError{Err: &net.DNSError{Err: "no such host", Name: "platform.invalid", IsNotFound: true}}, true},
		{&target.HTTPError{Err: &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}, true},
		{&target.HTTPError{Err: http.ErrSchemeMismatch}, true},
		{&target.HTTPError{Err: x509.UnknownAuthorityError{}}, true},
		{&target.HTTPError{Status: http.StatusBadRequest}, false},
		{&target.HTTPError{Status: http.StatusNotFound}, false},
		{&target.HTTPError{Status: http.StatusServiceUnavailable}, false},
		{&target.HTTPError{Err: context.DeadlineExceeded}, false},
		{&target.HTTPError{Err: &net.DNSError{Err: "timeout", Name: "platform.example", IsTimeout: true}}, false},
	} {
		if got := tc.err.PlatformFault(); got != tc.want {
			t.Errorf("%v: PlatformFault = %v, want %v", tc.err, got, tc.want)
		}
		if got := tc.err.Remedy() != ""; got != tc.want {
			t.Errorf("%v: Remedy %q; want one only for a platform fault", tc.err, tc.err.Remedy())
		}
	}
}
