package target

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	gosync "sync"
	"time"
)

// HeaderKey is an API key sent in a header, e.g. "X-API-Key: <key>".
type HeaderKey struct {
	Name  string
	Value string
}

// Authorize sets the header.
func (h HeaderKey) Authorize(r *http.Request) error {
	r.Header.Set(h.Name, h.Value)
	return nil
}

// Secrets returns the key.
func (h HeaderKey) Secrets() []string { return []string{h.Value} }

// String never shows the key.
func (h HeaderKey) String() string { return h.Name + ": " + redacted }

// Basic is HTTP basic authentication.
type Basic struct {
	Username string
	Password string
}

// Authorize sets the Authorization header.
func (b Basic) Authorize(r *http.Request) error {
	r.SetBasicAuth(b.Username, b.Password)
	return nil
}

// Secrets returns the password.
func (b Basic) Secrets() []string { return []string{b.Password} }

// String never shows the password.
func (b Basic) String() string { return "Basic " + b.Username + ":" + redacted }

// QueryParams are credentials sent as query parameters on every request, e.g.
// CompanyId and IntegrationKey.
type QueryParams struct {
	Values url.Values
	// Secret lists the values to redact; default: those of parameters whose names
	// look secret (key, token, secret, …).
	Secret []string
}

// NewQueryParams parses "name=value" pairs; values of parameters whose names
// look secret are redacted.
func NewQueryParams(pairs []string) (QueryParams, error) {
	q := QueryParams{Values: url.Values{}}
	for _, kv := range pairs {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return QueryParams{}, errors.New("every parameter must be name=value")
		}
		q.Values.Add(name, val)
		if sensitiveParam(name) && val != "" {
			q.Secret = append(q.Secret, val)
		}
	}
	return q, nil
}

// Authorize adds the parameters to the request's query.
func (q QueryParams) Authorize(r *http.Request) error {
	v := r.URL.Query()
	for k, vs := range q.Values {
		v[k] = append([]string(nil), vs...)
	}
	r.URL.RawQuery = v.Encode()
	return nil
}

// Secrets returns the secret values.
func (q QueryParams) Secrets() []string { return q.Secret }

// String never shows the secrets.
func (q QueryParams) String() string {
	return "QueryParams " + RedactURL("?"+q.Values.Encode(), q.Secret...)
}

// OAuth2 fetches bearer tokens with the OAuth2 client credentials grant (RFC
// 6749 §4.4). A token is cached until shortly before it expires, and dropped by
// Invalidate when the platform rejects it (HTTP 401), so that the next request
// fetches a new one.
type OAuth2 struct {
	TokenURL     string
	ClientID     string
	ClientSecret string
	Scopes       []string
	// Doer sends the token requests; default http.DefaultClient.
	Doer Doer
	// Now tells the time; default time.Now.
	Now func() time.Time
	// Leeway is how long before expiry a token is renewed; default 30s.
	Leeway time.Duration

	mu      gosync.Mutex
	token   string
	expires time.Time
	fetches int
	issued  SecretSet // every token fetched, for redaction
}

// Authorize sets "Authorization: Bearer <token>", fetching a token when none is
// cached or the cached one is about to expire.
func (o *OAuth2) Authorize(r *http.Request) error {
	tok, err := o.Token(r.Context())
	if err != nil {
		return err
	}
	r.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

// Invalidate drops the cached token.
func (o *OAuth2) Invalidate() {
	o.mu.Lock()
	o.token = ""
	o.mu.Unlock()
}

// Fetches returns how many tokens were fetched.
func (o *OAuth2) Fetches() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.fetches
}

// Secrets returns the client secret and the access tokens fetched so far.
func (o *OAuth2) Secrets() []string { return append([]string{o.ClientSecret}, o.issued.List()...) }

// Redact masks the client secret and the access tokens in s.
func (o *OAuth2) Redact(s string) string { return Redact(s, o.Secrets()...) }

// String never shows the secret.
func (o *OAuth2) String() string { return "OAuth2 client " + o.ClientID + " secret " + redacted }

func (o *OAuth2) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// Token returns a valid access token, fetching one if needed.
func (o *OAuth2) Token(ctx context.Context) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	leeway := o.Leeway
	if leeway == 0 {
		leeway = 30 * time.Second
	}
	if o.token != "" && (o.expires.IsZero() || o.now().Add(leeway).Before(o.expires)) {
		return o.token, nil
	}
	tok, expires, err := o.fetch(ctx)
	if err != nil {
		return "", fmt.Errorf("oauth2 token from %s: %w", RedactURL(o.TokenURL), err)
	}
	o.issued.Add(tok)
	o.token, o.expires = tok, expires
	o.fetches++
	return tok, nil
}

func (o *OAuth2) fetch(ctx context.Context) (string, time.Time, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	if len(o.Scopes) > 0 {
		form.Set("scope", strings.Join(o.Scopes, " "))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", time.Time{}, errors.New("invalid token URL")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(o.ClientID), url.QueryEscape(o.ClientSecret))
	d := o.Doer
	if d == nil {
		d = http.DefaultClient
	}
	start := o.now()
	resp, err := d.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", time.Time{}, errors.New(Redact(err.Error(), o.ClientSecret))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("read response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		msg := fmt.Sprintf("HTTP %d", resp.StatusCode)
		if d := clip(Redact(detail(resp.Header.Get("Content-Type"), body), o.ClientSecret)); d != "" {
			msg += ": " + d
		}
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusBadRequest {
			msg += " (check target.rest.auth.client_id and the client secret in target.token)"
		}
		return "", time.Time{}, errors.New(msg)
	}
	var tr struct {
		AccessToken string          `json:"access_token"`
		TokenType   string          `json:"token_type"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
		return "", time.Time{}, errors.New("the response holds no access_token")
	}
	var exp time.Time
	var secs float64
	if len(tr.ExpiresIn) > 0 {
		s := strings.Trim(string(tr.ExpiresIn), `"`)
		if _, err := fmt.Sscan(s, &secs); err == nil && secs > 0 {
			exp = start.Add(time.Duration(secs * float64(time.Second)))
		}
	}
	return tr.AccessToken, exp, nil
}

// NewDoer returns an HTTP client honouring cfg's TLS settings (ca_file,
// insecure_skip_verify) and timeout, that follows no redirect: for requests made
// outside an HTTPClient, such as fetching OAuth2 tokens.
func NewDoer(cfg Config) (Doer, error) {
	tr, err := transport(cfg)
	if err != nil {
		return nil, err
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}
