// Package rest is a configurable client for platforms that publish their own
// REST User Management API instead of SCIM. One client drives any such API: a
// profile (profile.Profile, the `target.rest:` config section) says where the
// endpoints are, how to authenticate, how the list is paged, where the users, ids
// and errors live in responses, and how request bodies are built from a user.
// examples/targets/ holds a profile per API style.
package rest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	gosync "sync"

	"github.com/dirsync/dirsync/target"
	"github.com/dirsync/dirsync/target/internal/jsontpl"
	"github.com/dirsync/dirsync/target/rest/profile"
	"github.com/dirsync/dirsync/user"
)

// Option adjusts a Client.
type Option func(*settings)

type settings struct {
	http []target.Option
}

// WithHTTPOptions passes options to the underlying target.HTTPClient.
func WithHTTPOptions(opts ...target.Option) Option {
	return func(s *settings) { s.http = append(s.http, opts...) }
}

// Client drives a platform's REST API as its profile describes. It implements
// sync.Target and sync.Lister. It is safe for concurrent use.
type Client struct {
	p      profile.Profile
	http   *target.HTTPClient
	auth   target.Auth
	query  url.Values
	header http.Header
	tpl    map[string]*jsontpl.Template
	match  []string
	batch  *batcher       // nil without batch_create
	oauth  *target.OAuth2 // nil unless auth type oauth2

	lookups lookupCache

	// base is target.url; next-page links must stay on its host.
	base *url.URL
	// notFoundText and conflictText are target.rest.error's text matchers;
	// outcomes are each endpoint's, by endpoint name.
	notFoundText, conflictText TextMatcher
	outcomes                   map[string][]outcome

	// mappings are the profile's, with names resolved to ids (see resolve).
	resolveMu gosync.Mutex
	resolved  bool
	mappings  map[string][]profile.GroupMapping
}

// New returns a client for cfg (type rest); cfg is validated.
func New(cfg target.Config, opts ...Option) (*Client, error) {
	if cfg.Type != target.TypeREST {
		return nil, fmt.Errorf("target.type: rest client configured with type %q", cfg.Type)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var s settings
	for _, o := range opts {
		o(&s)
	}
	p := cfg.Rest
	var err error
	c := &Client{p: p, tpl: map[string]*jsontpl.Template{}, query: url.Values{}, header: http.Header{}}
	for _, kv := range p.Query {
		k, v, _ := strings.Cut(kv, "=")
		c.query.Add(k, v)
	}
	for k, v := range p.Headers {
		c.header.Set(k, v)
	}
	for name, ep := range c.endpoints() {
		t, err := parseBody(p, name, ep)
		if err != nil {
			return nil, fmt.Errorf("target.rest.%s.body: %w", name, err)
		}
		c.tpl[name] = t
	}
	if p.BatchCreate.Configured() {
		body, item, err := parseBatch(p)
		if err != nil {
			return nil, fmt.Errorf("target.rest.batch_create.%w", err)
		}
		c.batch = &batcher{c: c, body: body, item: item}
	}
	if c.base, err = url.Parse(cfg.URL); err != nil {
		return nil, fmt.Errorf("target.url: %w", err)
	}
	if c.notFoundText, err = NewTextMatcher(p.Error.NotFoundText); err != nil {
		return nil, fmt.Errorf("target.rest.error.not_found_text: %w", err)
	}
	if c.conflictText, err = NewTextMatcher(p.Error.ConflictText); err != nil {
		return nil, fmt.Errorf("target.rest.error.conflict_text: %w", err)
	}
	c.outcomes = map[string][]outcome{}
	for name, ep := range c.endpoints() {
		for i, o := range ep.Outcomes {
			m, err := NewTextMatcher(nonEmpty(o.Text))
			if err != nil {
				return nil, fmt.Errorf("target.rest.%s.outcomes[%d].text: %w", name, i, err)
			}
			c.outcomes[name] = append(c.outcomes[name], outcome{Outcome: o, text: m})
		}
	}
	c.match = p.MatchBy
	if len(c.match) == 0 {
		for key, field := range map[string]string{user.MatchExternalID: profile.RefExternalID, user.MatchUserName: profile.RefUsername, user.MatchEmail: profile.RefEmail} {
			if p.Fields[field] != "" {
				c.match = append(c.match, key)
			}
		}
	}

	var secret string
	if p.NeedsToken() {
		if secret, err = cfg.Secret(); err != nil {
			return nil, err
		}
	}
	switch p.AuthType() {
	case profile.AuthBearer:
		c.auth = target.Bearer(secret)
		if p.Auth.Scheme != "" {
			c.auth = target.HeaderKey{Name: "Authorization", Scheme: p.Auth.Scheme, Value: secret}
		}
	case profile.AuthHeader:
		c.auth = target.HeaderKey{Name: p.Auth.Header, Scheme: p.Auth.Scheme, Value: secret, KeyName: p.Auth.KeyHeader, Key: p.Auth.Key}
	case profile.AuthBasic:
		c.auth = target.Basic{Username: p.Auth.Username, Password: secret}
	case profile.AuthQuery:
		q, err := target.NewQueryParams(p.Auth.Params)
		if err != nil {
			return nil, fmt.Errorf("target.rest.auth.params: %w", err)
		}
		c.auth = q
	case profile.AuthOAuth2:
		tokenURL, err := joinURL(cfg.URL, p.Auth.TokenURL)
		if err != nil {
			return nil, fmt.Errorf("target.rest.auth.token_url: %w", err)
		}
		o := &target.OAuth2{TokenURL: tokenURL, ClientID: p.Auth.ClientID, ClientSecret: secret, Scopes: p.Auth.Scopes,
			InBody: p.Auth.Credentials == profile.CredentialsBody, Params: p.Auth.TokenRequestParams()}
		// The token endpoint gets the platform's TLS settings and timeout.
		d, err := target.NewDoer(cfg)
		if err != nil {
			return nil, err
		}
		o.Doer = d
		c.auth, c.oauth = o, o
	}
	if len(c.header) > 0 {
		c.auth = withHeaders{Auth: c.auth, header: c.header}
	}
	hc, err := target.NewHTTPClient(cfg, c.auth, s.http...)
	if err != nil {
		return nil, err
	}
	c.http = hc
	return c, nil
}

// withHeaders adds the profile's headers to every request, and counts the
// values of those named like secrets among the secrets to redact.
type withHeaders struct {
	target.Auth
	header http.Header
}

func (w withHeaders) Authorize(r *http.Request) error {
	for k, vs := range w.header {
		r.Header[k] = append([]string(nil), vs...)
	}
	if w.Auth == nil {
		return nil
	}
	return w.Auth.Authorize(r)
}

func (w withHeaders) Secrets() []string {
	var out []string
	if w.Auth != nil {
		out = w.Auth.Secrets()
	}
	for k, vs := range w.header {
		if target.SensitiveName(k) {
			out = append(out, vs...)
		}
	}
	return out
}

func joinURL(base, ref string) (string, error) {
	b, err := url.Parse(base)
	if err != nil {
		return "", errors.New("target.url is not a valid URL")
	}
	r, err := url.Parse(ref)
	if err != nil {
		return "", errors.New("not a valid URL")
	}
	if r.IsAbs() {
		return r.String(), nil
	}
	return b.JoinPath(r.Path).String(), nil
}

func (c *Client) endpoints() map[string]profile.Endpoint {
	m := map[string]profile.Endpoint{}
	for name, e := range map[string]profile.Endpoint{"create": c.p.Create, "update": c.p.Update, "deactivate": c.p.Deactivate, "reactivate": c.p.Reactivate, "delete": c.p.Delete,
		"free_identifiers": c.p.FreeIdentifiers} {
		if e.Configured() {
			m[name] = e
		}
	}
	for name, e := range c.p.AfterCreate {
		m["after_create."+name] = e
	}
	return m
}

// PlatformError is a failure the platform reported inside a response, HTTP 200
// included (an error envelope such as ResponseStatus.ErrorCode, or a per-user
// error). It satisfies the reconciler's error contract.
type PlatformError struct {
	Op      string
	Method  string
	URL     string
	Status  int
	Code    string
	Message string
	// notFound and conflict come from the HTTP status and the profile's error
	// codes, texts and outcomes.
	notFound, conflict bool
	// body is the response (or the user's batch result), secrets redacted, for
	// matching error texts.
	body string
	// err is the failed call (an *target.HTTPError) when the status was not 2xx.
	err error
}

func (e *PlatformError) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s %s: HTTP %d but the platform reported an error", e.Op, e.Method, e.URL, e.Status)
	if e.Code != "" {
		fmt.Fprintf(&b, " %s", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	return b.String()
}

// Unwrap returns the failed call, if the status was not 2xx.
func (e *PlatformError) Unwrap() error { return e.err }

// NotFound reports whether the platform said the account does not exist: HTTP
// 404, or a code or text of target.rest.error.not_found(_text), or an outcome.
func (e *PlatformError) NotFound() bool { return e.notFound }

// Conflict reports whether the platform said the account exists already: HTTP
// 409, or a code or text of target.rest.error.conflict(_text), or an outcome.
func (e *PlatformError) Conflict() bool { return e.conflict }

// classify sets what e means by the profile's error codes and texts.
func (c *Client) classify(e *PlatformError) *PlatformError {
	e.notFound = e.Status == http.StatusNotFound || slices.Contains(c.p.Error.NotFound, e.Code) && e.Code != "" ||
		c.notFoundText.Match(e.Message, e.body)
	e.conflict = e.Status == http.StatusConflict || slices.Contains(c.p.Error.Conflict, e.Code) && e.Code != "" ||
		c.conflictText.Match(e.Message, e.body)
	return e
}

// outcome is a compiled profile.Outcome.
type outcome struct {
	profile.Outcome
	text TextMatcher
}

func (o outcome) matches(e *PlatformError) bool {
	return (o.Status == 0 || o.Status == e.Status) && (o.Code == "" || o.Code == e.Code) &&
		(o.Text == "" || o.text.Match(e.Message, e.body))
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// maxErrorBody bounds the response text kept for matching error texts.
const maxErrorBody = 16 << 10

func clipBody(b []byte) string {
	if len(b) > maxErrorBody {
		b = b[:maxErrorBody]
	}
	return string(b)
}

// call sends one request and decodes its JSON answer. A 401 with OAuth2 drops the
// cached token and tries once more with a new one. An error envelope in any
// response, and any answer other than 2xx, is returned as a *PlatformError
// (wrapping the *target.HTTPError of the latter).
func (c *Client) call(ctx context.Context, op, method, path string, query url.Values, body []byte) (any, error) {
	v, _, err := c.send(ctx, op, method, path, c.withQuery(query), body)
	return v, err
}

// withQuery returns the profile's query parameters (target.rest.query) and
// query; a parameter query already has is not repeated.
func (c *Client) withQuery(query url.Values) url.Values {
	q := url.Values{}
	for k, vs := range c.query {
		if _, ok := query[k]; !ok {
			q[k] = append(q[k], vs...)
		}
	}
	for k, vs := range query {
		q[k] = append(q[k], vs...)
	}
	return q
}

// send is call with the whole query given, returning the response headers too.
func (c *Client) send(ctx context.Context, op, method, path string, q url.Values, body []byte) (any, http.Header, error) {
	req := target.Request{Op: op, Method: method, Path: path, Query: q, Body: body}
	resp, err := c.http.Do(ctx, req)
	var he *target.HTTPError
	if errors.As(err, &he) && he.Status == http.StatusUnauthorized {
		if c.oauth != nil {
			c.oauth.Invalidate()
			resp, err = c.http.Do(ctx, req)
		}
	}
	if err != nil {
		if errors.As(err, &he) && resp != nil && he.Status != 0 {
			return nil, nil, c.failure(op, method, resp, he, err)
		}
		return nil, nil, err
	}
	v, err := decodeJSON(resp.Body)
	if err != nil {
		// A success with a text body ("OK") is a success; a caller that needs
		// something from the body (an id, a list) reports its absence.
		return nil, resp.Header, nil
	}
	if pe := c.envelopeError(op, method, resp, v); pe != nil {
		return nil, resp.Header, pe
	}
	return v, resp.Header, nil
}

// failure is the *PlatformError for an answer other than 2xx: its code and
// message from the error envelope (also set as he's detail) and what it means.
func (c *Client) failure(op, method string, resp *target.Response, he *target.HTTPError, err error) *PlatformError {
	pe := &PlatformError{Op: op, Method: method, URL: resp.URL, Status: he.Status, err: err, body: c.http.Redact(clipBody(resp.Body))}
	if v, derr := decodeJSON(resp.Body); derr == nil && v != nil {
		if c.p.Error.Code != "" {
			if code, ok := get(v, c.p.Error.Code); present(code, ok) {
				pe.Code = c.http.Redact(text(code, ok))
			}
		}
		if c.p.Error.Message != "" {
			pe.Message = c.http.Redact(text(get(v, c.p.Error.Message)))
		}
		if pe.Code != "" || pe.Message != "" {
			he.Detail = strings.TrimPrefix(pe.Code+": "+pe.Message, ": ")
		}
	}
	return c.classify(pe)
}

func (c *Client) envelopeError(op, method string, resp *target.Response, v any) *PlatformError {
	if c.p.Error.Code == "" {
		return nil
	}
	code, ok := get(v, c.p.Error.Code)
	if !present(code, ok) {
		return nil
	}
	pe := &PlatformError{Op: op, Method: method, URL: resp.URL, Status: resp.Status, Code: c.http.Redact(text(code, ok)),
		body: c.http.Redact(clipBody(resp.Body))}
	if c.p.Error.Message != "" {
		pe.Message = c.http.Redact(text(get(v, c.p.Error.Message)))
	}
	return c.classify(pe)
}

// itemError is the *PlatformError for a per-user error inside a successful
// response (item_error, or a batch result): msg is the error, item the user's
// result.
func (c *Client) itemError(op, method, path, msg string, item any) *PlatformError {
	raw, _ := json.Marshal(item)
	pe := &PlatformError{Op: op, Method: method, URL: c.http.URL(path), Status: http.StatusOK, Message: c.http.Redact(msg),
		body: c.http.Redact(clipBody(raw))}
	c.classify(pe)
	// A per-user error's text is its code too.
	pe.notFound = pe.notFound || slices.Contains(c.p.Error.NotFound, msg)
	pe.conflict = pe.conflict || slices.Contains(c.p.Error.Conflict, msg)
	return pe
}

// endpoint sends e for platformID (may be "") with body rendered from u.
func (c *Client) endpoint(ctx context.Context, name, platformID string, u user.User) (any, error) {
	e, ok := c.endpoints()[name]
	op := "rest " + name + " user"
	if !ok {
		return nil, fmt.Errorf("%s: target.rest.%s is not set, so this platform cannot %s a user", op, name, name)
	}
	if strings.Contains(e.Path, "{id}") {
		if err := user.CheckPlatformID(platformID); err != nil {
			return nil, fmt.Errorf("%s: platform id %q: %w", op, platformID, err)
		}
	}
	path := strings.ReplaceAll(e.Path, "{id}", url.PathEscape(platformID))
	q := url.Values{}
	for _, kv := range e.Query {
		k, v, _ := strings.Cut(kv, "=")
		q.Add(k, strings.ReplaceAll(v, "{id}", platformID))
	}
	var body []byte
	if t := c.tpl[name]; t != nil {
		var err error
		body, err = t.Render(func(ref string) any { return c.value(u, platformID, ref) })
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
	v, err := c.call(ctx, op, e.Method, path, q, body)
	if err == nil && e.ItemError != "" {
		if ie, ok := get(v, e.ItemError); present(ie, ok) {
			err = c.itemError(op, e.Method, path, text(ie, ok), v)
		}
	}
	if err != nil {
		return nil, c.outcome(name, err)
	}
	return v, nil
}

// outcome applies endpoint name's outcomes to a failure: nil when one says the
// answer means done.
func (c *Client) outcome(name string, err error) error {
	var pe *PlatformError
	if !errors.As(err, &pe) {
		return err
	}
	for _, o := range c.outcomes[name] {
		if !o.matches(pe) {
			continue
		}
		switch o.Means {
		case profile.MeansDone:
			return nil
		case profile.MeansNotFound:
			pe.notFound, pe.conflict = true, false
		case profile.MeansConflict:
			pe.notFound, pe.conflict = false, true
		}
		return err
	}
	return err
}

// value is what {{ref}} stands for in a body template.
func (c *Client) value(u user.User, platformID, ref string) any {
	if name, ok := strings.CutPrefix(ref, profile.RefGroupsPrefix); ok {
		return target.Mapped(c.mapping(name), u.Groups)
	}
	if name, ok := strings.CutPrefix(ref, profile.RefGroupPrefix); ok {
		if m := target.Mapped(c.mapping(name), u.Groups); len(m) > 0 {
			return m[0]
		}
		return nil
	}
	switch ref {
	case profile.RefExternalID:
		return u.ID
	case profile.RefUsername:
		return u.Username
	case profile.RefEmail:
		return u.Email
	case profile.RefGivenName:
		return u.GivenName
	case profile.RefFamilyName:
		return u.FamilyName
	case profile.RefDisplayName:
		return u.DisplayName
	case profile.RefActive:
		return u.Active
	case profile.RefGroups:
		if u.Groups == nil {
			return []string{}
		}
		return u.Groups
	case profile.RefPlatformID:
		return platformID
	}
	if name, ok := strings.CutPrefix(ref, profile.RefExtraPrefix); ok {
		return u.Extra[name]
	}
	return nil
}

// account maps a platform user object to an Account.
func (c *Client) account(obj any) user.Account {
	f := func(field string) string {
		if p := c.p.Fields[field]; p != "" {
			return text(get(obj, p))
		}
		return ""
	}
	a := user.Account{PlatformID: text(get(obj, c.p.ID))}
	a.User = user.User{
		ID:          f(profile.RefExternalID),
		Username:    f(profile.RefUsername),
		Email:       f(profile.RefEmail),
		GivenName:   f(profile.RefGivenName),
		FamilyName:  f(profile.RefFamilyName),
		DisplayName: f(profile.RefDisplayName),
	}
	state := text(get(obj, c.p.Active))
	values := c.p.ActiveValues
	if len(values) == 0 {
		values = []string{"true"}
	}
	for _, v := range values {
		if strings.EqualFold(state, v) {
			a.User.Active = true
		}
	}
	return a
}

// Check verifies that the platform answers the list endpoint and accepts the
// credentials, reading one page.
func (c *Client) Check(ctx context.Context) error {
	const op = "rest check"
	if err := c.resolve(ctx); err != nil {
		return err
	}
	_, err := c.call(ctx, op, http.MethodGet, c.p.List.Path, c.pageQuery(c.firstPage(), 0, ""), nil)
	var he *target.HTTPError
	if errors.As(err, &he) {
		switch {
		case he.Unauthorized():
			// err names the check (op) and the request already.
			return fmt.Errorf("%w; the platform rejected dirsync's credentials: check target.token and target.rest.auth", err)
		case he.Status == http.StatusNotFound:
			return fmt.Errorf("%w; no list endpoint there: check target.url and target.rest.list.path", err)
		}
	}
	return err
}

// Create creates u and returns the new account.
func (c *Client) Create(ctx context.Context, u user.User) (user.Account, error) {
	if err := c.resolve(ctx); err != nil {
		return user.Account{}, err
	}
	a, err := c.create(ctx, u)
	if err != nil {
		if sync409(err) {
			c.lookups.drop()
		}
		return a, err
	}
	c.lookups.add(c.asListed(a))
	for _, name := range slices.Sorted(maps.Keys(c.p.AfterCreate)) {
		if _, err := c.endpoint(ctx, "after_create."+name, a.PlatformID, u); err != nil {
			return user.Account{}, fmt.Errorf("account %s was created, but target.rest.after_create.%s failed (the next run adopts the account without repeating it): %w",
				a.PlatformID, name, err)
		}
	}
	return a, nil
}

func (c *Client) create(ctx context.Context, u user.User) (user.Account, error) {
	if c.batch != nil {
		return c.batch.create(ctx, u)
	}
	v, err := c.endpoint(ctx, "create", "", u)
	if err != nil {
		return user.Account{}, err
	}
	id := ""
	for _, p := range []string{c.p.Create.ID, c.p.ID} {
		if p != "" {
			if id = text(get(v, p)); id != "" {
				break
			}
		}
	}
	if id == "" {
		return user.Account{}, fmt.Errorf("rest create user: the response holds no id at %q; set target.rest.create.id to where it is", c.p.Create.ID+c.p.ID)
	}
	u.Active = true
	return user.Account{PlatformID: id, User: u}, nil
}

// Update sends u's attributes. Without an update endpoint (a de-provisioning
// only platform) it does nothing.
func (c *Client) Update(ctx context.Context, platformID string, u user.User) error {
	if !c.p.Update.Configured() {
		return nil
	}
	if err := c.resolve(ctx); err != nil {
		return err
	}
	if _, err := c.endpoint(ctx, "update", platformID, u); err != nil {
		return err
	}
	c.lookups.edit(platformID, func(a *user.Account) bool {
		active := a.User.Active
		a.User = c.asListed(user.Account{User: u}).User
		a.User.Active = active
		return true
	})
	return nil
}

// SetActive deactivates or reactivates an account. Without a deactivate
// endpoint, deactivation deletes.
func (c *Client) SetActive(ctx context.Context, platformID string, active bool) error {
	name := "reactivate"
	if !active {
		name = "deactivate"
		if !c.p.Deactivate.Configured() {
			name = "delete"
		}
	}
	if _, err := c.endpoint(ctx, name, platformID, user.User{}); err != nil {
		return err
	}
	c.lookups.edit(platformID, func(a *user.Account) bool { a.User.Active = active; return name != "delete" })
	return nil
}

// FreeIdentifiers renames account platformID's username and email to u's
// with the profile's free_identifiers call (sync.free_identifiers_on_archive).
// Without one it fails, saying so.
func (c *Client) FreeIdentifiers(ctx context.Context, platformID string, u user.User) error {
	if !c.p.FreeIdentifiers.Configured() {
		return errors.New("rest rename user: target.rest.free_identifiers is not set, so this platform cannot free an archived account's username and email; " +
			"add it to the profile (see docs/rest-profiles.md) or unset sync.free_identifiers_on_archive")
	}
	if _, err := c.endpoint(ctx, "free_identifiers", platformID, u); err != nil {
		return err
	}
	c.lookups.edit(platformID, func(a *user.Account) bool {
		renamed := c.asListed(user.Account{User: user.User{Username: u.Username, Email: u.Email}}).User
		a.User.Username, a.User.Email = renamed.Username, renamed.Email
		return true
	})
	return nil
}

// Delete removes an account; without a delete endpoint it deactivates it.
func (c *Client) Delete(ctx context.Context, platformID string) error {
	name := "delete"
	if !c.p.Delete.Configured() {
		name = "deactivate"
	}
	if _, err := c.endpoint(ctx, name, platformID, user.User{}); err != nil {
		return err
	}
	c.lookups.edit(platformID, func(a *user.Account) bool { a.User.Active = false; return name != "delete" })
	return nil
}

// asListed is a as a listing would show it: fields the platform does not keep
// are empty.
func (c *Client) asListed(a user.Account) user.Account {
	keep := func(field, v string) string {
		if c.p.Fields[field] == "" {
			return ""
		}
		return v
	}
	u := a.User
	a.User = user.User{ID: keep(profile.RefExternalID, u.ID), Username: keep(profile.RefUsername, u.Username), Email: keep(profile.RefEmail, u.Email),
		GivenName: keep(profile.RefGivenName, u.GivenName), FamilyName: keep(profile.RefFamilyName, u.FamilyName),
		DisplayName: keep(profile.RefDisplayName, u.DisplayName), Active: u.Active}
	return a
}

// sync409 reports whether err is a create conflict.
func sync409(err error) bool {
	var e interface{ Conflict() bool }
	return errors.As(err, &e) && e.Conflict()
}

// Lookup finds the account whose key equals value (userName and email
// case-insensitively) by listing the platform. A key the profile does not match
// on finds nothing.
func (c *Client) Lookup(ctx context.Context, key, value string) (user.Account, error) {
	nf := &target.NotFoundError{Op: "rest lookup user", Key: key, Value: value}
	if !slices.Contains(c.match, key) {
		return user.Account{}, nf
	}
	a, ok, err := c.lookups.find(ctx, c.List, key, value)
	switch {
	case err != nil:
		return user.Account{}, err
	case !ok:
		return user.Account{}, nf
	}
	return a, nil
}

const defaultPageSize = 100

func (c *Client) pageSize() int {
	if c.p.List.PageSize > 0 {
		return c.p.List.PageSize
	}
	return defaultPageSize
}

func (c *Client) firstPage() int {
	if c.p.List.Pagination == profile.PagePage && c.p.List.FirstPage == 0 {
		return 1
	}
	return c.p.List.FirstPage
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// pageQuery is the list query for a page number or offset (n), or a cursor.
func (c *Client) pageQuery(n, _ int, cursor string) url.Values {
	l := c.p.List
	q := url.Values{}
	for _, kv := range l.Query {
		k, v, _ := strings.Cut(kv, "=")
		q.Add(k, v)
	}
	size := strconv.Itoa(c.pageSize())
	switch l.Pagination {
	case profile.PagePage:
		q.Set(or(l.PageParam, "page"), strconv.Itoa(n))
		q.Set(or(l.SizeParam, "pageSize"), size)
	case profile.PageOffset:
		q.Set(or(l.OffsetParam, "offset"), strconv.Itoa(n))
		q.Set(or(l.LimitParam, "limit"), size)
	case profile.PageCursor:
		if cursor != "" {
			q.Set(or(l.CursorParam, "cursor"), cursor)
		}
		if l.SizeParam != "" {
			q.Set(l.SizeParam, size)
		}
	case profile.PageLink, profile.PageNextURL:
		// The first page only: next links carry their own parameters.
		if l.SizeParam != "" {
			q.Set(l.SizeParam, size)
		}
	}
	return q
}

// ListStats describes one listing of the platform.
type ListStats struct {
	// Pages and Accounts are how many pages were read and accounts they held.
	Pages, Accounts int
	// FullLastPage: the last page held as many accounts as were asked for,
	// yet the platform gave no next page, which may mean the profile misses
	// where the platform puts it.
	FullLastPage bool
}

// List calls fn for every account on the platform.
func (c *Client) List(ctx context.Context, fn func(user.Account) error) error {
	_, err := c.ListStats(ctx, fn)
	return err
}

// ListStats is List, also saying how the listing went. A listing that cannot
// end (a page, cursor or next link given twice, or more than list.max_pages
// pages) is an error naming the profile key to check: a partial listing is
// never taken as complete.
func (c *Client) ListStats(ctx context.Context, fn func(user.Account) error) (ListStats, error) {
	const op = "rest list users"
	l := c.p.List
	maxPages := l.MaxPages
	if maxPages <= 0 {
		maxPages = profile.DefaultMaxPages
	}
	var st ListStats
	n := c.firstPage()
	path, q := l.Path, c.withQuery(c.pageQuery(n, 0, ""))
	requested := map[string]bool{}
	prevPage := ""
	for {
		key := path + "?" + q.Encode()
		if requested[key] {
			return st, fmt.Errorf("%s: after %d pages the platform points back to a page already read (%s): the listing would never end; %s",
				op, st.Pages, c.http.Redact(key), c.repeatHint())
		}
		if st.Pages >= maxPages {
			return st, fmt.Errorf("%s: gave up after %d pages (%d accounts) without reaching the end: raise target.rest.list.max_pages if the platform holds more, or check target.rest.list.pagination",
				op, st.Pages, st.Accounts)
		}
		requested[key] = true
		v, h, err := c.send(ctx, op, http.MethodGet, path, q, nil)
		if err != nil {
			return st, err
		}
		raw, ok := get(v, l.Items)
		items, isList := raw.([]any)
		if v == nil || !ok || (!isList && raw != nil) {
			return st, fmt.Errorf("%s: the response holds no list at %q: check target.rest.list.items", op, l.Items)
		}
		st.Pages++
		// A platform that ignores the page or offset parameter answers the
		// same page again and again.
		if (l.Pagination == profile.PagePage || l.Pagination == profile.PageOffset) && len(items) > 0 {
			sig := c.pageSignature(items)
			if sig == prevPage {
				param, key := or(l.PageParam, "page"), "page_param"
				if l.Pagination == profile.PageOffset {
					param, key = or(l.OffsetParam, "offset"), "offset_param"
				}
				return st, fmt.Errorf("%s: page %d holds the same accounts as the page before: the platform ignores the %q parameter and the listing would never end; check target.rest.list.%s",
					op, st.Pages, param, key)
			}
			prevPage = sig
		}
		for _, it := range items {
			if err := fn(c.account(it)); err != nil {
				return st, err
			}
		}
		st.Accounts += len(items)
		full := len(items) >= c.pageSize()
		switch l.Pagination {
		case "", profile.PageNone:
			return st, nil
		case profile.PageCursor:
			cursor := ""
			if l.NextCursorHeader != "" {
				cursor = strings.TrimSpace(h.Get(l.NextCursorHeader))
			}
			if cursor == "" && l.NextCursor != "" {
				cursor = text(get(v, l.NextCursor))
			}
			if cursor == "" {
				st.FullLastPage = full && l.SizeParam != ""
				return st, nil
			}
			q = c.withQuery(c.pageQuery(n, 0, cursor))
			continue
		case profile.PageLink, profile.PageNextURL:
			next, key := "", "list.pagination (link: the Link header's rel=\"next\")"
			if l.Pagination == profile.PageLink {
				next = nextLink(h.Values("Link"))
			} else {
				next, key = text(get(v, l.NextURL)), "list.next_url"
			}
			if next == "" {
				st.FullLastPage = full && l.SizeParam != ""
				return st, nil
			}
			if path, q, err = c.follow(path, q, next); err != nil {
				return st, fmt.Errorf("%s: the next page's URL (%s): %w; check target.rest.%s", op, c.http.Redact(next), err, key)
			}
			continue
		}
		// A platform may cap the page size below the one asked for: with a
		// total to go by, a short page is not the end.
		total, known := 0, false
		if l.Total != "" {
			t, err := strconv.Atoi(text(get(v, l.Total)))
			total, known = t, err == nil
		}
		if len(items) == 0 {
			// An empty page while the platform still counts more accounts
			// than were listed: the pages stopped early.
			if known && st.Accounts < total {
				return st, fmt.Errorf("%s: the pages ended after %d accounts but the platform counts %d (at %q): the listing is incomplete; check target.rest.list.total and the paging parameters",
					op, st.Accounts, total, l.Total)
			}
			return st, nil
		}
		if known && st.Accounts >= total {
			return st, nil
		}
		if l.TotalPages != "" && l.Pagination == profile.PagePage {
			if t, err := strconv.Atoi(text(get(v, l.TotalPages))); err == nil {
				known = true
				if n-c.firstPage()+1 >= t {
					return st, nil
				}
			}
		}
		if !known && len(items) < c.pageSize() {
			return st, nil
		}
		if l.Pagination == profile.PagePage {
			n++
		} else {
			n += len(items)
		}
		q = c.withQuery(c.pageQuery(n, 0, ""))
	}
}

// repeatHint names the profile key to check when the listing repeats a page.
func (c *Client) repeatHint() string {
	l := c.p.List
	switch l.Pagination {
	case profile.PageCursor:
		if l.NextCursorHeader != "" {
			return "check target.rest.list.next_cursor_header and cursor_param"
		}
		return "check target.rest.list.next_cursor and cursor_param"
	case profile.PageNextURL:
		return "check target.rest.list.next_url"
	case profile.PageLink:
		return "check target.rest.list.pagination (the Link header's rel=\"next\" repeats)"
	}
	return "check target.rest.list.pagination"
}

// pageSignature identifies a page by the ids of its accounts.
func (c *Client) pageSignature(items []any) string {
	var b strings.Builder
	for _, it := range items {
		b.WriteString(text(get(it, c.p.ID)))
		b.WriteByte(0)
	}
	return b.String()
}

// follow turns a next-page URL, absolute or relative to the page just read
// (path, q), into the path and query of the next request. It must stay on
// target.url's scheme, host and path: dirsync sends its credentials nowhere
// else.
func (c *Client) follow(path string, q url.Values, next string) (string, url.Values, error) {
	ref, err := url.Parse(next)
	if err != nil {
		return "", nil, errors.New("not a valid URL")
	}
	cur := c.base.JoinPath(path)
	cur.RawQuery = q.Encode()
	u := cur.ResolveReference(ref)
	if !strings.EqualFold(u.Scheme, c.base.Scheme) || !strings.EqualFold(u.Host, c.base.Host) {
		return "", nil, fmt.Errorf("it leads to %s://%s, not to target.url's %s://%s, where dirsync's credentials may go", u.Scheme, u.Host, c.base.Scheme, c.base.Host)
	}
	basePath := strings.TrimSuffix(c.base.Path, "/")
	rest, ok := strings.CutPrefix(u.Path, basePath)
	if !ok || (rest != "" && !strings.HasPrefix(rest, "/")) {
		return "", nil, fmt.Errorf("its path %s is outside target.url's %s", u.Path, c.base.Path)
	}
	nq := u.Query()
	// target.url's own query parameters are added to every request.
	for k := range c.base.Query() {
		delete(nq, k)
	}
	// The profile's query parameters go on every call, unless the link has them.
	return rest, c.withQuery(nq), nil
}

// nextLink returns the URL of the rel="next" link in Link header values
// (RFC 8288), or "".
func nextLink(values []string) string {
	for _, v := range values {
		for v != "" {
			v = strings.TrimLeft(v, " \t,")
			if !strings.HasPrefix(v, "<") {
				// Not a link-value: skip to the next comma outside quotes.
				i := indexOutsideQuotes(v, ',')
				if i < 0 {
					break
				}
				v = v[i+1:]
				continue
			}
			end := strings.IndexByte(v, '>')
			if end < 0 {
				break
			}
			ref := v[1:end]
			v = v[end+1:]
			i := indexOutsideQuotes(v, ',')
			params := v
			if i >= 0 {
				params, v = v[:i], v[i+1:]
			} else {
				v = ""
			}
			for _, p := range strings.Split(params, ";") {
				name, val, ok := strings.Cut(strings.TrimSpace(p), "=")
				if !ok || !strings.EqualFold(strings.TrimSpace(name), "rel") {
					continue
				}
				for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(val), `"`)) {
					if strings.EqualFold(rel, "next") {
						return ref
					}
				}
			}
		}
	}
	return ""
}

// indexOutsideQuotes is the index of the first c in s outside double quotes.
func indexOutsideQuotes(s string, c byte) int {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && quoted:
			i++
		case s[i] == '"':
			quoted = !quoted
		case s[i] == c && !quoted:
			return i
		}
	}
	return -1
}
