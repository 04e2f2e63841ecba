package target

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	gosync "sync"
	"sync/atomic"
	"time"
)

// Defaults of the HTTP client's options.
const (
	DefaultMaxBodySize  = 10 << 20 // 10 MiB
	DefaultBaseBackoff  = 500 * time.Millisecond
	DefaultMaxBackoff   = 30 * time.Second
	DefaultMaxRetryWait = time.Minute
)

// Doer sends one HTTP request. *http.Client implements it.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Option adjusts an HTTPClient.
type Option func(*options)

type options struct {
	doer         Doer
	version      string
	maxBody      int64
	baseBackoff  time.Duration
	maxBackoff   time.Duration
	maxRetryWait time.Duration
	now          func() time.Time
	sleep        func(context.Context, time.Duration) error
	observe      func(Attempt)
	retryBudget  int

	throttleObserve func(ThrottleEvent)
}

// WithDoer sends requests through d instead of an *http.Client built from the
// config (ca_file, insecure_skip_verify). The config's timeout still applies.
func WithDoer(d Doer) Option { return func(o *options) { o.doer = d } }

// WithVersion sets the version in the User-Agent header, "dirsync/<version>".
// Default "dev".
func WithVersion(v string) Option { return func(o *options) { o.version = v } }

// WithMaxBodySize bounds the response bodies read; a larger one fails the request
// with ErrBodyTooLarge. Default 10 MiB.
func WithMaxBodySize(n int64) Option { return func(o *options) { o.maxBody = n } }

// WithBackoff sets the delay before the first retry (doubled at each retry, with
// jitter) and its cap. Defaults 500ms and 30s.
func WithBackoff(base, max time.Duration) Option {
	return func(o *options) { o.baseBackoff, o.maxBackoff = base, max }
}

// WithMaxRetryWait is the longest Retry-After the client waits for; a platform
// asking for a longer pause gets no retry (the change fails, and is retried on
// the next run). Default 1 minute.
func WithMaxRetryWait(d time.Duration) Option { return func(o *options) { o.maxRetryWait = d } }

// WithClock replaces the clock used for backoff and Retry-After: now tells the
// time and sleep waits (returning early with ctx's error). For tests.
func WithClock(now func() time.Time, sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(o *options) { o.now, o.sleep = now, sleep }
}

// Attempt is one attempt of a request, as an observer sees it.
type Attempt struct {
	// Op says what the request is for ("scim create user").
	Op     string
	Method string
	// URL is the request's URL, secrets redacted.
	URL string
	// Status is the HTTP status the platform answered, or 0 when there was no
	// answer (a network error, a timeout).
	Status int
	// Err is why there was no answer, or why the body could not be read; nil
	// when Status is set and the body was read.
	Err error
}

// WithObserver calls observe after each attempt of each request, retries
// included. It is called from several goroutines at once. For metrics and
// for printing requests as they go.
func WithObserver(observe func(Attempt)) Option {
	return func(o *options) { o.observe = observe }
}

// DefaultRetryBudget is the most retries one client (one run) makes in all.
const DefaultRetryBudget = 200

// WithRetryBudget caps the retries of all requests together: once n retries
// were made, failures are returned at once (and retried on the next run). A
// client is built per run, so this caps the retries per run. 0: no cap.
// Default DefaultRetryBudget.
func WithRetryBudget(n int) Option { return func(o *options) { o.retryBudget = n } }

// Request is one call to the platform.
type Request struct {
	// Op says what the call is for, for errors: "scim create user".
	Op     string
	Method string
	// Path is joined to the base URL's path; it is in escaped form (escape ids
	// with url.PathEscape). "" is the base URL itself.
	Path string
	// Query is added to the base URL's query.
	Query url.Values
	// Header is added to every attempt's headers.
	Header http.Header
	// Body is sent as is; ContentType defaults to application/json when Body is
	// set.
	Body        []byte
	ContentType string
}

// Response is the platform's answer, its body read in full.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	// URL is the request URL, secrets redacted: for error messages.
	URL string
}

// HTTPClient is the HTTP plumbing shared by targets: authentication, User-Agent,
// per-request timeout, bounded response bodies, a client-side rate limit, and
// retries with exponential backoff and jitter that honour Retry-After.
//
// Retries: network errors, HTTP 408 and 5xx (but 501 and 505) are retried up to
// Config.MaxRetries times, and at most DefaultRetryBudget times per client (per
// run) in all; other 4xx never are. A POST is retried too, even after a timeout,
// so a create may reach the platform twice: the second one then fails with 409
// Conflict, which the reconciler resolves by adopting the account that the first
// one created.
//
// Throttling: a throttled answer (429, or 503 with Retry-After) is the platform
// asking to slow down, not a failure. The request that got it waits
// Retry-After (seconds or an HTTP-date, RFC 9110 section 10.2.3; without one, a
// backoff) and is sent again — nothing else pauses, and the wait counts against
// neither Config.MaxRetries nor the retry budget. The client slows down
// instead: the rate limit is cut multiplicatively and regained additively
// (see pace), and so is the bound on requests in flight (see window). A run
// against a throttled platform thus settles near the rate the platform allows.
// Config.ThrottleTimeout bounds the waiting: a request throttled for that long,
// or any throttled request once the platform has answered nothing but
// throttling for that long, fails, and the reconciler's circuit breaker stops
// the run. A Retry-After longer than WithMaxRetryWait fails the request at once.
//
// An HTTPClient is safe for concurrent use.
type HTTPClient struct {
	base            *url.URL
	auth            Auth
	static          []string // secret values of the base URL's query
	formsMu         gosync.Mutex
	formsOf         []string // the secrets forms was computed from
	forms           []string // their forms to redact; nil: not yet computed
	doer            Doer
	userAgent       string
	timeout         time.Duration
	maxRetries      int
	throttleTimeout time.Duration
	pace            *pace   // adaptive rate limit (AIMD); nil: none
	quota           *quota  // the platform's quota, as its rate-limit headers tell it
	window          *window // adaptive bound on requests in flight (AIMD)
	retries         atomic.Int64
	opts            options

	mu       gosync.Mutex
	throttle ThrottleStats
	streakAt time.Time // first throttled answer since the last other answer; zero: none
}

// NewHTTPClient returns a client for the API at cfg.URL, authenticating with auth
// (nil: none). It uses cfg's url, timeout, rate_limit, max_retries,
// max_in_flight (InFlight), ca_file and insecure_skip_verify; call
// cfg.Validate first.
func NewHTTPClient(cfg Config, auth Auth, opts ...Option) (*HTTPClient, error) {
	o := options{
		version:      "dev",
		maxBody:      DefaultMaxBodySize,
		baseBackoff:  DefaultBaseBackoff,
		maxBackoff:   DefaultMaxBackoff,
		maxRetryWait: DefaultMaxRetryWait,
		retryBudget:  DefaultRetryBudget,
		now:          time.Now,
		sleep:        sleep,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if err := CheckURL(cfg.URL); err != nil {
		return nil, fmt.Errorf("target.url: %w", err)
	}
	base, _ := url.Parse(cfg.URL) // checked above
	c := &HTTPClient{
		base:       base,
		auth:       auth,
		doer:       o.doer,
		userAgent:  "dirsync/" + o.version,
		timeout:    cfg.Timeout,
		maxRetries: max(cfg.MaxRetries, 0),
		opts:       o,

		throttleTimeout: cfg.ThrottleTimeout,
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.throttleTimeout <= 0 {
		c.throttleTimeout = DefaultThrottleTimeout
	}
	c.window = newWindow(cfg.InFlight())
	for name, vals := range base.Query() {
		if sensitiveParam(name) {
			c.static = append(c.static, vals...)
		}
	}
	c.pace = newPace(cfg.RateLimit, time.Now)
	c.quota = newQuota(cfg.RateLimitHeaders)
	if c.doer == nil {
		tr, err := transport(cfg)
		if err != nil {
			return nil, err
		}
		c.doer = &http.Client{
			Transport: tr,
			// A redirect is a misconfigured URL; following it would turn a POST
			// into a GET, or send the token to another host.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return c, nil
}

func transport(cfg Config) (*http.Transport, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("target.ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("target.ca_file: no PEM certificate found in %s", cfg.CAFile)
		}
		tlsCfg.RootCAs = pool
	}
	tr.TLSClientConfig = tlsCfg
	tr.MaxIdleConnsPerHost = max(cfg.InFlight(), 2)
	return tr, nil
}

// Redact replaces the client's secrets (the auth's, those it obtained so far
// included, and secret query values of the base URL) in s, in every form (see
// Redact).
func (c *HTTPClient) Redact(s string) string { return redactForms(s, c.secretForms()) }

// secrets lists the values to redact now: the auth's are asked each time, as
// an auth such as OAuth2 obtains new ones while it runs.
func (c *HTTPClient) secrets() []string {
	if c.auth == nil {
		return c.static
	}
	return append(slices.Clip(c.static), c.auth.Secrets()...)
}

// secretForms returns the forms of secrets() to redact (see secretForms),
// computed again only when the secrets changed: every request redacts its
// URL, and an OAuth2 auth lists every token it fetched.
func (c *HTTPClient) secretForms() []string {
	secrets := c.secrets()
	c.formsMu.Lock()
	defer c.formsMu.Unlock()
	if c.forms == nil || !slices.Equal(c.formsOf, secrets) {
		c.formsOf, c.forms = secrets, secretForms(secrets)
	}
	return c.forms
}

// URL returns the full URL of a request path, secrets redacted.
func (c *HTTPClient) URL(path string) string {
	return redactURLForms(c.resolve(path, nil).String(), c.secretForms())
}

func (c *HTTPClient) resolve(path string, query url.Values) *url.URL {
	u := c.base
	if path != "" {
		u = c.base.JoinPath(path)
	} else {
		cp := *u
		u = &cp
	}
	if len(query) > 0 {
		q := u.Query()
		for k, vs := range query {
			q[k] = append(q[k], vs...)
		}
		u.RawQuery = q.Encode()
	}
	return u
}

// Do sends req, retrying transient failures and waiting out throttling, and
// returns the response when its status is 2xx. Otherwise it returns an
// *HTTPError (errors.As), together with the Response when the platform
// answered.
func (c *HTTPClient) Do(ctx context.Context, req Request) (*Response, error) {
	u := c.resolve(req.Path, req.Query)
	redURL := redactURLForms(u.String(), c.secretForms())
	retries, waits := 0, 0
	var throttledSince time.Time // this request's first throttled answer
	for attempt := 1; ; attempt++ {
		if err := c.window.acquire(ctx); err != nil {
			return nil, &HTTPError{Op: req.Op, Method: req.Method, URL: redURL, Attempts: attempt - 1, Err: err}
		}
		tk, err := c.quota.take(ctx, c.opts.now, c.opts.sleep, c.opts.maxRetryWait)
		if err != nil {
			c.window.abandon()
			return nil, &HTTPError{Op: req.Op, Method: req.Method, URL: redURL, Attempts: attempt - 1, Err: err}
		}
		sent, err := c.pace.wait(ctx)
		if err != nil {
			c.quota.observe(tk, nil, false, c.opts.now())
			c.window.abandon()
			return nil, &HTTPError{Op: req.Op, Method: req.Method, URL: redURL, Attempts: attempt - 1, Err: err}
		}
		resp, err := c.once(ctx, req, u, redURL)
		isThrottled := resp != nil && (throttled(resp) || c.quota.refused(resp.Status, resp.Header, c.opts.now()))
		var hdr http.Header
		if resp != nil {
			hdr = resp.Header
		}
		resetAt, hasReset := c.quota.observe(tk, hdr, isThrottled, c.opts.now())
		c.window.release(isThrottled)
		if c.opts.observe != nil {
			at := Attempt{Op: req.Op, Method: req.Method, URL: redURL, Err: err}
			if resp != nil {
				at.Status = resp.Status
			}
			c.opts.observe(at)
		}
		switch {
		case isThrottled:
			c.throttled(sent, resp)
		case resp != nil:
			c.answered(resp.Status)
		}
		var herr *HTTPError
		switch {
		case err != nil:
			herr = &HTTPError{Err: err}
			if resp != nil {
				herr.Status = resp.Status
			}
		case resp.Status >= 200 && resp.Status <= 299:
			return resp, nil
		default:
			// The detail is redacted before it is cut short: a cut secret
			// would no longer match.
			herr = &HTTPError{
				Status:     resp.Status,
				Detail:     clip(c.Redact(detail(resp.Header.Get("Content-Type"), resp.Body))),
				RetryAfter: resp.Header.Get("Retry-After"),
			}
			if resp.Status >= 300 && resp.Status <= 399 {
				herr.Detail = "redirected to " + redactURLForms(resp.Header.Get("Location"), c.secretForms()) + "; check target.url"
			}
		}
		herr.Op, herr.Method, herr.URL, herr.Attempts = req.Op, req.Method, redURL, attempt
		if ctx.Err() != nil || !herr.Temporary() && !isThrottled {
			return resp, herr
		}
		ra, hasRA := c.retryAfter(herr.RetryAfter)
		if hasRA && ra > c.opts.maxRetryWait {
			return resp, fmt.Errorf("%w (not retried: the platform asks to wait %s, more than %s; the change is retried on the next run)",
				herr, ra.Round(time.Second), c.opts.maxRetryWait)
		}

		var wait time.Duration
		if isThrottled {
			// Not a failure: wait as asked, and send it again.
			now := c.opts.now()
			if throttledSince.IsZero() {
				throttledSince = now
			}
			if why := c.throttledTooLong(now, throttledSince); why != "" {
				return resp, fmt.Errorf("%w (%s)", herr, why)
			}
			waits++
			wait = c.backoff(waits)
			switch {
			case hasRA:
				// Retry-After, and a random part of up to half of it more:
				// requests throttled together are not sent again together.
				wait = ra + throttleJitter(ra)
			case hasReset:
				// No Retry-After but a reset time: the quota holds every
				// request until then, this one included.
				wait = 0
				if d := resetAt.Sub(now); d > c.opts.maxRetryWait {
					return resp, fmt.Errorf("%w (not retried: the platform's rate limit resets in %s, more than %s; the change is retried on the next run)",
						herr, d.Round(time.Second), c.opts.maxRetryWait)
				}
			}
			c.mu.Lock()
			c.throttle.Waited += wait
			c.mu.Unlock()
		} else {
			retries++
			if retries > c.maxRetries {
				return resp, herr
			}
			if b := c.opts.retryBudget; b > 0 && c.retries.Add(1) > int64(b) {
				return resp, fmt.Errorf("%w (not retried: this run's %d retries are spent)", herr, b)
			}
			wait = c.backoff(retries)
			if hasRA {
				wait = ra
			}
		}
		if err := c.opts.sleep(ctx, wait); err != nil {
			return resp, fmt.Errorf("%w (gave up retrying: %w)", herr, err)
		}
	}
}

// throttleJitter is the random part added to a throttled request's
// Retry-After: up to half of it, at most 5s.
func throttleJitter(ra time.Duration) time.Duration {
	if j := min(ra/2, 5*time.Second); j > 0 {
		return rand.N(j)
	}
	return 0
}

// throttled reports whether the platform asked to slow down: a 429, or a 503
// with Retry-After.
func throttled(resp *Response) bool {
	return resp.Status == http.StatusTooManyRequests ||
		(resp.Status == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "")
}

// Concurrency returns the current adaptive bound on requests in flight: 2 at
// the start, growing by one per answer up to the configured concurrency (slow
// start) until the first throttling; then halved on each burst of throttling
// and regained one request at a time as answers succeed.
func (c *HTTPClient) Concurrency() int { return c.window.size() }

// Rate returns the current adaptive rate limit, requests per second: the
// configured rate_limit, cut on throttling and regained as answers succeed. 0
// means no client-side limit (rate_limit 0).
func (c *HTTPClient) Rate() float64 { return c.pace.current() }

// ThrottleStats sums up how the platform throttled the client so far.
type ThrottleStats struct {
	// Throttled counts the throttled answers (429, or 503 with Retry-After).
	Throttled int64
	// Cuts counts the decreases of the rate limit (one per round trip of
	// throttled answers) and LowestRate is the lowest rate it reached,
	// requests per second (0: no client-side limit).
	Cuts       int
	LowestRate float64
	// Rate is the rate limit now and MaxRate target.rate_limit.
	Rate, MaxRate float64
	// Concurrency is the bound on requests in flight now.
	Concurrency int
	// Waited sums the waits of throttled requests before they were sent
	// again (requests waited in parallel: not the run's delay).
	Waited time.Duration
}

// ThrottleEvent is a change of the client's pace in answer to throttling,
// for logs: the rate was cut (Cut), or it is back at target.rate_limit after
// cuts (Recovered).
type ThrottleEvent struct {
	Cut, Recovered bool
	// Status and RetryAfter are the throttled answer's (when Cut).
	Status     int
	RetryAfter string
	ThrottleStats
}

// WithThrottleObserver calls observe when the client slows down because the
// platform throttles it, and when it is back at full rate, at most once per
// round trip of throttled answers. It is called from several goroutines, never
// at once, and must not call the client.
func WithThrottleObserver(observe func(ThrottleEvent)) Option {
	return func(o *options) { o.throttleObserve = observe }
}

// Throttling returns the throttling seen so far.
func (c *HTTPClient) Throttling() ThrottleStats {
	c.mu.Lock()
	s := c.throttle
	c.mu.Unlock()
	return c.fillStats(s)
}

func (c *HTTPClient) fillStats(s ThrottleStats) ThrottleStats {
	s.Cuts, s.LowestRate = c.pace.stats()
	s.Rate = c.pace.current()
	if c.pace != nil {
		s.MaxRate = c.pace.ceiling
	}
	s.Concurrency = c.window.size()
	return s
}

// throttled adapts the client to a throttled answer to a request sent at sent.
func (c *HTTPClient) throttled(sent time.Time, resp *Response) {
	cut, _ := c.pace.throttled(sent)
	now := c.opts.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.throttle.Throttled++
	if c.streakAt.IsZero() {
		c.streakAt = now
	}
	if cut && c.opts.throttleObserve != nil {
		c.opts.throttleObserve(ThrottleEvent{Cut: true, Status: resp.Status, RetryAfter: resp.Header.Get("Retry-After"),
			ThrottleStats: c.fillStats(c.throttle)})
	}
}

// answered adapts the client to an answer that was not throttling.
func (c *HTTPClient) answered(status int) {
	recovered := false
	if status < 500 {
		recovered = c.pace.answered()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.streakAt = time.Time{}
	if recovered && c.opts.throttleObserve != nil {
		c.opts.throttleObserve(ThrottleEvent{Recovered: true, ThrottleStats: c.fillStats(c.throttle)})
	}
}

// throttledTooLong says why a request throttled since since is not sent
// again, or "" when it may be.
func (c *HTTPClient) throttledTooLong(now, since time.Time) string {
	c.mu.Lock()
	streak := c.streakAt
	c.mu.Unlock()
	switch {
	case now.Sub(since) >= c.throttleTimeout:
		return fmt.Sprintf("not retried: this request was throttled for %s (target.throttle_timeout); it is retried on the next run",
			now.Sub(since).Round(time.Second))
	case !streak.IsZero() && now.Sub(streak) >= c.throttleTimeout:
		return fmt.Sprintf("not retried: the platform has answered nothing but throttling for %s (target.throttle_timeout); "+
			"the change is retried on the next run", now.Sub(streak).Round(time.Second))
	}
	return ""
}

// backoff is the delay before retry number attempt (1-based): exponential, capped,
// with "equal jitter" (half fixed, half random).
func (c *HTTPClient) backoff(attempt int) time.Duration {
	d := c.opts.baseBackoff
	for i := 1; i < attempt && d < c.opts.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.opts.maxBackoff)
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half)
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP-date.
func (c *HTTPClient) retryAfter(h string) (time.Duration, bool) {
	return ParseRetryAfter(h, c.opts.now())
}

// ParseRetryAfter parses a Retry-After header value, delay-seconds or an
// HTTP-date, relative to now. A date in the past is a zero delay. ok is false when
// h is empty or malformed.
func ParseRetryAfter(h string, now time.Time) (d time.Duration, ok bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(h)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// once sends one attempt and reads the response body, bounded.
func (c *HTTPClient) once(ctx context.Context, req Request, u *url.URL, redURL string) (*Response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, u.String(), body)
	if err != nil {
		return nil, errors.New(c.Redact(err.Error()))
	}
	for k, vs := range req.Header {
		hr.Header[k] = append([]string(nil), vs...)
	}
	if req.Body != nil {
		ct := req.ContentType
		if ct == "" {
			ct = "application/json"
		}
		hr.Header.Set("Content-Type", ct)
	}
	if hr.Header.Get("Accept") == "" {
		hr.Header.Set("Accept", "application/json")
	}
	hr.Header.Set("User-Agent", c.userAgent)
	if c.auth != nil {
		if err := c.auth.Authorize(hr); err != nil {
			return nil, fmt.Errorf("authorize: %w: %w", ErrAuthorize, c.redactErr(err))
		}
	}
	hresp, err := c.doer.Do(hr)
	if err != nil {
		var header tls.RecordHeaderError
		if errors.Is(err, http.ErrSchemeMismatch) || errors.As(err, &header) {
			return nil, fmt.Errorf("%w: the server does not speak TLS on this port (it answered in plain HTTP, or not in TLS): "+
				"point target.url at the platform's HTTPS port", c.redactErr(err))
		}
		return nil, c.redactErr(err)
	}
	defer hresp.Body.Close()
	resp := &Response{Status: hresp.StatusCode, Header: hresp.Header, URL: redURL}
	b, err := io.ReadAll(io.LimitReader(hresp.Body, c.opts.maxBody+1))
	if err != nil {
		return resp, fmt.Errorf("read response: %w", c.redactErr(err))
	}
	if int64(len(b)) > c.opts.maxBody {
		return resp, fmt.Errorf("%w: more than %s", ErrBodyTooLarge, size(c.opts.maxBody))
	}
	resp.Body = b
	return resp, nil
}

// redactErr keeps err's chain (errors.Is/As still work) but makes its text safe:
// *url.Error repeats the full request URL.
func (c *HTTPClient) redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		// The URL is in HTTPError already; report only the cause.
		err = ue.Err
	}
	msg := c.Redact(err.Error())
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func retryableNetErr(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, ErrBodyTooLarge) || errors.Is(err, http.ErrSchemeMismatch) {
		return false
	}
	var (
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		verify    *tls.CertificateVerificationError
		header    tls.RecordHeaderError
	)
	if errors.As(err, &unknownCA) || errors.As(err, &hostname) || errors.As(err, &invalid) ||
		errors.As(err, &verify) || errors.As(err, &header) {
		return false
	}
	return true
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
