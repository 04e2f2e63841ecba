// Package rest is a configurable client for platforms that publish their own
// REST User Management API instead of SCIM. One client drives any such API: a
// profile (target.RestProfile, the `target.rest:` config section) says where the
// endpoints are, how to authenticate, how the list is paged, where the users, ids
// and errors live in responses, and how request bodies are built from a user.
// examples/targets/ holds a profile per API style.
package rest

import (
	"context"
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
	p      target.RestProfile
	http   *target.HTTPClient
	auth   target.Auth
	query  url.Values
	header http.Header
	tpl    map[string]*jsontpl.Template
	match  []string
	batch  *batcher       // nil without batch_create
	oauth  *target.OAuth2 // nil unless auth type oauth2

	lookups lookupCache

	// mappings are the profile's, with names resolved to ids (see resolve).
	resolveMu gosync.Mutex
	resolved  bool
	mappings  map[string][]target.GroupMapping
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
	c := &Client{p: p, tpl: map[string]*jsontpl.Template{}, query: url.Values{}, header: http.Header{}}
	for _, kv := range p.Query {
		k, v, _ := strings.Cut(kv, "=")
		c.query.Add(k, v)
	}
	for k, v := range p.Headers {
		c.header.Set(k, v)
	}
	for name, ep := range c.endpoints() {
		t, err := p.ParseBody(name, ep)
		if err != nil {
			return nil, fmt.Errorf("target.rest.%s.body: %w", name, err)
		}
		c.tpl[name] = t
	}
	if p.BatchCreate.Configured() {
		body, item, err := p.ParseBatch()
		if err != nil {
			return nil, fmt.Errorf("target.rest.batch_create.%w", err)
		}
		c.batch = &batcher{c: c, body: body, item: item}
	}
	c.match = p.MatchBy
	if len(c.match) == 0 {
		for key, field := range map[string]string{user.MatchExternalID: target.RefExternalID, user.MatchUserName: target.RefUsername, user.MatchEmail: target.RefEmail} {
			if p.Fields[field] != "" {
				c.match = append(c.match, key)
			}
		}
	}

	var secret string
	if p.NeedsToken() {
		var err error
		if secret, err = cfg.Secret(); err != nil {
			return nil, err
		}
	}
	switch p.AuthType() {
	case target.AuthBearer:
		c.auth = target.Bearer(secret)
		if p.Auth.Scheme != "" {
			c.auth = target.HeaderKey{Name: "Authorization", Scheme: p.Auth.Scheme, Value: secret}
		}
	case target.AuthHeader:
		c.auth = target.HeaderKey{Name: p.Auth.Header, Scheme: p.Auth.Scheme, Value: secret, KeyName: p.Auth.KeyHeader, Key: p.Auth.Key}
	case target.AuthBasic:
		c.auth = target.Basic{Username: p.Auth.Username, Password: secret}
	case target.AuthQuery:
		q, err := target.NewQueryParams(p.Auth.Params)
		if err != nil {
			return nil, fmt.Errorf("target.rest.auth.params: %w", err)
		}
		c.auth = q
	case target.AuthOAuth2:
		tokenURL, err := joinURL(cfg.URL, p.Auth.TokenURL)
		if err != nil {
			return nil, fmt.Errorf("target.rest.auth.token_url: %w", err)
		}
		o := &target.OAuth2{TokenURL: tokenURL, ClientID: p.Auth.ClientID, ClientSecret: secret, Scopes: p.Auth.Scopes,
			InBody: p.Auth.Credentials == target.CredentialsBody, Params: p.Auth.TokenRequestParams()}
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

func (c *Client) endpoints() map[string]target.RestEndpoint {
	m := map[string]target.RestEndpoint{}
	for name, e := range map[string]target.RestEndpoint{"create": c.p.Create, "update": c.p.Update, "deactivate": c.p.Deactivate, "reactivate": c.p.Reactivate, "delete": c.p.Delete} {
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
	// notFound and conflict come from the profile's error codes.
	notFound, conflict bool
}

func (e *PlatformError) Error() string {
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

// NotFound reports whether the code is one of target.rest.error.not_found.
func (e *PlatformError) NotFound() bool { return e.notFound }

// Conflict reports whether the code is one of target.rest.error.conflict.
func (e *PlatformError) Conflict() bool { return e.conflict }

// call sends one request and decodes its JSON answer. A 401 with OAuth2 drops the
// cached token and tries once more with a new one. An error envelope in any
// response is returned as a *PlatformError (or fills a HTTPError's detail).
func (c *Client) call(ctx context.Context, op, method, path string, query url.Values, body []byte) (any, error) {
	q := url.Values{}
	for k, vs := range c.query {
		q[k] = append(q[k], vs...)
	}
	for k, vs := range query {
		q[k] = append(q[k], vs...)
	}
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
		if errors.As(err, &he) && resp != nil {
			if v, derr := decodeJSON(resp.Body); derr == nil {
				if pe := c.envelopeError(op, method, resp, v); pe != nil {
					he.Detail = strings.TrimPrefix(pe.Code+": "+pe.Message, ": ")
					if pe.notFound || pe.conflict {
						return nil, pe
					}
				}
			}
		}
		return nil, err
	}
	v, err := decodeJSON(resp.Body)
	if err != nil {
		// A success with a text body ("OK") is a success; a caller that needs
		// something from the body (an id, a list) reports its absence.
		return nil, nil
	}
	if pe := c.envelopeError(op, method, resp, v); pe != nil {
		return nil, pe
	}
	return v, nil
}

func (c *Client) envelopeError(op, method string, resp *target.Response, v any) *PlatformError {
	if c.p.Error.Code == "" {
		return nil
	}
	code, ok := get(v, c.p.Error.Code)
	if !present(code, ok) {
		return nil
	}
	pe := &PlatformError{Op: op, Method: method, URL: resp.URL, Status: resp.Status, Code: c.http.Redact(text(code, ok))}
	if c.p.Error.Message != "" {
		pe.Message = c.http.Redact(text(get(v, c.p.Error.Message)))
	}
	pe.notFound = slices.Contains(c.p.Error.NotFound, pe.Code)
	pe.conflict = slices.Contains(c.p.Error.Conflict, pe.Code)
	return pe
}

// endpoint sends e for platformID (may be "") with body rendered from u.
func (c *Client) endpoint(ctx context.Context, name, platformID string, u user.User) (any, error) {
	e, ok := c.endpoints()[name]
	op := "rest " + name + " user"
	if !ok {
		return nil, fmt.Errorf("%s: target.rest.%s is not set, so this platform cannot %s a user", op, name, name)
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
	if err != nil {
		return nil, err
	}
	if e.ItemError != "" {
		if ie, ok := get(v, e.ItemError); present(ie, ok) {
			msg := c.http.Redact(text(ie, ok))
			return nil, &PlatformError{Op: op, Method: e.Method, URL: c.http.URL(path), Status: http.StatusOK, Message: msg,
				conflict: slices.Contains(c.p.Error.Conflict, msg)}
		}
	}
	return v, nil
}

// value is what {{ref}} stands for in a body template.
func (c *Client) value(u user.User, platformID, ref string) any {
	if name, ok := strings.CutPrefix(ref, target.RefGroupsPrefix); ok {
		return target.Mapped(c.mapping(name), u.Groups)
	}
	if name, ok := strings.CutPrefix(ref, target.RefGroupPrefix); ok {
		if m := target.Mapped(c.mapping(name), u.Groups); len(m) > 0 {
			return m[0]
		}
		return nil
	}
	switch ref {
	case target.RefExternalID:
		return u.ID
	case target.RefUsername:
		return u.Username
	case target.RefEmail:
		return u.Email
	case target.RefGivenName:
		return u.GivenName
	case target.RefFamilyName:
		return u.FamilyName
	case target.RefDisplayName:
		return u.DisplayName
	case target.RefActive:
		return u.Active
	case target.RefGroups:
		if u.Groups == nil {
			return []string{}
		}
		return u.Groups
	case target.RefPlatformID:
		return platformID
	}
	if name, ok := strings.CutPrefix(ref, target.RefExtraPrefix); ok {
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
		ID:          f(target.RefExternalID),
		Username:    f(target.RefUsername),
		Email:       f(target.RefEmail),
		GivenName:   f(target.RefGivenName),
		FamilyName:  f(target.RefFamilyName),
		DisplayName: f(target.RefDisplayName),
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
			return fmt.Errorf("%s: the platform rejected dirsync's credentials (HTTP %d): check target.token and target.rest.auth: %w", op, he.Status, err)
		case he.Status == http.StatusNotFound:
			return fmt.Errorf("%s: no list endpoint at %s (HTTP 404): check target.url and target.rest.list.path: %w", op, c.http.URL(c.p.List.Path), err)
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
	a.User = user.User{ID: keep(target.RefExternalID, u.ID), Username: keep(target.RefUsername, u.Username), Email: keep(target.RefEmail, u.Email),
		GivenName: keep(target.RefGivenName, u.GivenName), FamilyName: keep(target.RefFamilyName, u.FamilyName),
		DisplayName: keep(target.RefDisplayName, u.DisplayName), Active: u.Active}
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
	if c.p.List.Pagination == target.PagePage && c.p.List.FirstPage == 0 {
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
	case target.PagePage:
		q.Set(or(l.PageParam, "page"), strconv.Itoa(n))
		q.Set(or(l.SizeParam, "pageSize"), size)
	case target.PageOffset:
		q.Set(or(l.OffsetParam, "offset"), strconv.Itoa(n))
		q.Set(or(l.LimitParam, "limit"), size)
	case target.PageCursor:
		if cursor != "" {
			q.Set(or(l.CursorParam, "cursor"), cursor)
		}
	}
	return q
}

// maxPages bounds a listing, against a platform that pages forever.
const maxPages = 100000

// List calls fn for every account on the platform.
func (c *Client) List(ctx context.Context, fn func(user.Account) error) error {
	const op = "rest list users"
	l := c.p.List
	n := c.firstPage()
	cursor := ""
	seen := 0
	for range maxPages {
		v, err := c.call(ctx, op, http.MethodGet, l.Path, c.pageQuery(n, 0, cursor), nil)
		if err != nil {
			return err
		}
		raw, ok := get(v, l.Items)
		items, isList := raw.([]any)
		if v == nil || !ok || (!isList && raw != nil) {
			return fmt.Errorf("%s: the response holds no list at %q: check target.rest.list.items", op, l.Items)
		}
		for _, it := range items {
			if err := fn(c.account(it)); err != nil {
				return err
			}
		}
		seen += len(items)
		switch l.Pagination {
		case "", target.PageNone:
			return nil
		case target.PageCursor:
			cursor = text(get(v, l.NextCursor))
			if cursor == "" || len(items) == 0 {
				return nil
			}
			continue
		}
		// A platform may cap the page size below the one asked for: with a
		// total to go by, a short page is not the end.
		if len(items) == 0 {
			return nil
		}
		known := false
		if l.Total != "" {
			if t, err := strconv.Atoi(text(get(v, l.Total))); err == nil {
				known = true
				if seen >= t {
					return nil
				}
			}
		}
		if l.TotalPages != "" && l.Pagination == target.PagePage {
			if t, err := strconv.Atoi(text(get(v, l.TotalPages))); err == nil {
				known = true
				if n-c.firstPage()+1 >= t {
					return nil
				}
			}
		}
		if !known && len(items) < c.pageSize() {
			return nil
		}
		if l.Pagination == target.PagePage {
			n++
		} else {
			n += len(items)
		}
	}
	return fmt.Errorf("%s: gave up after %d pages; check target.rest.list pagination settings", op, maxPages)
}
