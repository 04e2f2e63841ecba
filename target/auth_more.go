package target

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	gosync "sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// HeaderKey is an API key sent in a header, e.g. "X-API-Key: <key>", or with
// a scheme, e.g. "Authorization: SSWS <key>". A platform that wants a key
// and a secret in two headers gets the second as KeyName: Key.
type HeaderKey struct {
	Name  string
	Value string
	// Scheme, when set, goes before the value: "SSWS", "Token",
	// "Zoho-oauthtoken".
	Scheme string
	// KeyName and Key are a second header, e.g. X-Api-Key beside
	// X-Api-Secret.
	KeyName string
	Key     string
}

// Authorize sets the header (and the second one).
func (h HeaderKey) Authorize(r *http.Request) error {
	v := h.Value
	if h.Scheme != "" {
		v = h.Scheme + " " + v
	}
	r.Header.Set(h.Name, v)
	if h.KeyName != "" {
		r.Header.Set(h.KeyName, h.Key)
	}
	return nil
}

// Secrets returns the value and the key.
func (h HeaderKey) Secrets() []string { return []string{h.Value, h.Key} }

// String never shows the value or the key.
func (h HeaderKey) String() string {
	s := h.Name + ": " + strings.TrimPrefix(h.Scheme+" ", " ") + redacted
	if h.KeyName != "" {
		s += ", " + h.KeyName + ": " + redacted
	}
	return s
}

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
// 6749 §4.4), through golang.org/x/oauth2/clientcredentials. A token is cached
// until shortly before it expires, and dropped by Invalidate when the platform
// rejects it (HTTP 401), so that the next request fetches a new one.
type OAuth2 struct {
	TokenURL     string
	ClientID     string
	ClientSecret string
	Scopes       []string
	// InBody sends client_id and client_secret in the request body
	// (client_secret_post) instead of HTTP basic auth (client_secret_basic,
	// the default).
	InBody bool
	// Params are added to the token request's body, e.g. audience (Auth0,
	// Okta) or resource (Azure AD v1).
	Params url.Values
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
	cc := clientcredentials.Config{
		ClientID:       o.ClientID,
		ClientSecret:   o.ClientSecret,
		TokenURL:       o.TokenURL,
		Scopes:         o.Scopes,
		EndpointParams: o.Params,
		AuthStyle:      oauth2.AuthStyleInHeader,
	}
	if o.InBody {
		cc.AuthStyle = oauth2.AuthStyleInParams
	}
	var hc *http.Client
	switch d := o.Doer.(type) {
	case nil:
		hc = http.DefaultClient
	case *http.Client:
		hc = d
	default:
		hc = &http.Client{Transport: doerTransport{d}}
	}
	start := o.now()
	tok, err := cc.Token(context.WithValue(ctx, oauth2.HTTPClient, hc))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil {
			msg := fmt.Sprintf("HTTP %d", re.Response.StatusCode)
			if d := clip(Redact(detail(re.Response.Header.Get("Content-Type"), re.Body), o.ClientSecret)); d != "" {
				msg += ": " + d
			}
			if re.Response.StatusCode == http.StatusUnauthorized || re.Response.StatusCode == http.StatusBadRequest {
				msg += " (check target.rest.auth.client_id, target.rest.auth.credentials (basic or body) and the client secret in target.token)"
			}
			return "", time.Time{}, errors.New(msg)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", time.Time{}, errors.New(Redact(err.Error(), o.ClientSecret))
	}
	// x/oauth2 sets Expiry from expires_in on the real clock; count it
	// from start on ours.
	var exp time.Time
	if !tok.Expiry.IsZero() {
		exp = start.Add(time.Until(tok.Expiry))
	}
	return tok.AccessToken, exp, nil
}

// doerTransport sends an HTTP client's requests through a Doer.
type doerTransport struct{ d Doer }

func (t doerTransport) RoundTrip(r *http.Request) (*http.Response, error) { return t.d.Do(r) }

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
