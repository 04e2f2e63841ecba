// Package scim is a SCIM 2.0 (RFC 7643, RFC 7644) client for the platform's
// /Users endpoint. It implements the reconciler's Target and Lister contracts
// with package user values.
//
// What it pushes for a user: externalId (User.ID), userName, name.givenName,
// name.familyName, displayName, one work email (marked primary, replacing the
// emails the platform holds), active, and of User.Extra only the keys that are
// SCIM attributes: "title" (core) and "department", "employeeNumber",
// "costCenter", "organization", "division" (enterprise extension). Other extra
// keys are not sent. Directory groups are pushed only as memberships of the
// SCIM groups that target.groups maps them to (groups.go).
//
// Updates use PATCH when the platform's /ServiceProviderConfig advertises it (read
// once, lazily), and otherwise — or when a PATCH is answered 501 or 405 — GET then
// PUT of the resource with the managed attributes replaced and everything else,
// "active" included, kept as the platform has it.
package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	gosync "sync"

	"github.com/dirsync/dirsync/target"
)

// DefaultPageSize is the page size of List.
const DefaultPageSize = 100

const contentType = "application/scim+json"

// Option adjusts a Client.
type Option func(*settings)

type settings struct {
	pageSize    int
	maxAccounts int
	patch       *bool
	http        []target.Option
}

// WithPageSize sets the page size of List (the SCIM count). Default 100.
func WithPageSize(n int) Option { return func(s *settings) { s.pageSize = n } }

// DefaultMaxAccounts bounds a listing: a platform that lists more accounts
// than this (or never ends its listing) fails it. A full reconcile streams
// the listing, so the bound is against a listing that never ends, not
// memory: ten times the largest directory the benchmark measures.
const DefaultMaxAccounts = 10_000_000

// WithMaxAccounts sets the most accounts a listing reads before it fails.
// Default DefaultMaxAccounts.
func WithMaxAccounts(n int) Option { return func(s *settings) { s.maxAccounts = n } }

// WithPatch skips discovery: PATCH is used (true) or never used (false).
func WithPatch(enabled bool) Option { return func(s *settings) { s.patch = &enabled } }

// WithHTTPOptions passes options to the HTTP client (version for the
// User-Agent, body size limit, backoff, clock).
func WithHTTPOptions(opts ...target.Option) Option {
	return func(s *settings) { s.http = append(s.http, opts...) }
}

// Client talks to one SCIM service provider. It is safe for concurrent use.
type Client struct {
	http        *target.HTTPClient
	pageSize    int
	maxAccounts int
	tokenKey    string // config key holding the token, for messages

	groups []target.GroupMapping // target.groups

	mu    gosync.Mutex
	known bool // whether patch is decided
	patch bool
}

// New returns a client for the SCIM service at cfg.URL (the SCIM base, e.g.
// https://platform.example.com/scim/v2). cfg is validated; cfg.Type must be scim (or empty).
func New(cfg target.Config, opts ...Option) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Type != target.TypeSCIM && cfg.Type != "" {
		return nil, fmt.Errorf("target.type: scim client configured with type %q", cfg.Type)
	}
	s := settings{pageSize: DefaultPageSize, maxAccounts: DefaultMaxAccounts}
	for _, o := range opts {
		o(&s)
	}
	if s.pageSize < 1 {
		return nil, fmt.Errorf("scim: page size must be positive, got %d", s.pageSize)
	}
	tok, err := cfg.Secret()
	if err != nil {
		return nil, err
	}
	hc, err := target.NewHTTPClient(cfg, target.Bearer(tok), s.http...)
	if err != nil {
		return nil, err
	}
	c := &Client{http: hc, pageSize: s.pageSize, maxAccounts: s.maxAccounts, tokenKey: "target.token", groups: cfg.Groups}
	if cfg.TokenFile != "" {
		c.tokenKey = "target.token_file"
	}
	if s.patch != nil {
		c.known, c.patch = true, *s.patch
	}
	return c, nil
}

// Check verifies that the URL is a SCIM service and that it accepts the token: it
// reads /ServiceProviderConfig (failure is not fatal: updates then use PUT) and
// lists one user.
func (c *Client) Check(ctx context.Context) error {
	const op = "scim check"
	c.patchSupported(ctx)
	resp, err := c.do(ctx, op, http.MethodGet, "Users", url.Values{"startIndex": {"1"}, "count": {"1"}}, nil)
	if err != nil {
		var he *target.HTTPError
		if errors.As(err, &he) {
			switch {
			case he.Unauthorized():
				// err names the check (op) and the request already.
				return fmt.Errorf("%w; the platform rejected the token: check %s", err, c.tokenKey)
			case he.Status == http.StatusNotFound:
				return fmt.Errorf("%w; no SCIM Users endpoint there: check target.url, the SCIM base URL (e.g. https://platform.example.com/scim/v2)", err)
			}
		}
		return err
	}
	var list listResponse
	if err := decode(op, resp, &list); err != nil {
		return fmt.Errorf("%w: is target.url a SCIM base URL?", err)
	}
	return nil
}

// Patch reports whether updates use PATCH, reading /ServiceProviderConfig if that
// was not done yet.
func (c *Client) Patch(ctx context.Context) bool { return c.patchSupported(ctx) }

func (c *Client) patchSupported(ctx context.Context) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.known {
		return c.patch
	}
	const op = "scim read service provider config"
	resp, err := c.do(ctx, op, http.MethodGet, "ServiceProviderConfig", nil, nil)
	if err != nil {
		if ctx.Err() != nil {
			return false // undecided: ask again next time
		}
		c.known, c.patch = true, false
		return false
	}
	var spc struct {
		Patch struct {
			Supported flexBool `json:"supported"`
		} `json:"patch"`
	}
	if decode(op, resp, &spc) != nil {
		c.known, c.patch = true, false
		return false
	}
	c.known, c.patch = true, bool(spc.Patch.Supported)
	return c.patch
}

// noPatch records that the platform turned a PATCH down as unsupported.
func (c *Client) noPatch() {
	c.mu.Lock()
	c.known, c.patch = true, false
	c.mu.Unlock()
}

// do sends a SCIM request with a JSON body (when body is not nil).
func (c *Client) do(ctx context.Context, op, method, path string, query url.Values, body any) (*target.Response, error) {
	req := target.Request{
		Op:     op,
		Method: method,
		Path:   path,
		Query:  query,
		Header: http.Header{"Accept": {contentType + ", application/json"}},
	}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("%s: encode request: %w", op, err)
		}
		req.Body, req.ContentType = b, contentType
	}
	return c.http.Do(ctx, req)
}

// decode parses a JSON response body into v, with an error naming the operation.
func decode(op string, resp *target.Response, v any) error {
	if len(strings.TrimSpace(string(resp.Body))) == 0 {
		return fmt.Errorf("%s: %s: empty response (HTTP %d)", op, resp.URL, resp.Status)
	}
	if err := json.Unmarshal(resp.Body, v); err != nil {
		if !json.Valid(resp.Body) {
			ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
			if ct != "" && !strings.Contains(ct, "json") {
				return fmt.Errorf("%s: %s: response is not JSON (Content-Type %s)", op, resp.URL, ct)
			}
			return fmt.Errorf("%s: %s: malformed JSON response: %w", op, resp.URL, err)
		}
		return fmt.Errorf("%s: %s: unexpected response: %w", op, resp.URL, err)
	}
	return nil
}

// listResponse is a SCIM ListResponse.
type listResponse struct {
	TotalResults *flexInt   `json:"totalResults"` // nil when absent
	StartIndex   flexInt    `json:"startIndex"`
	ItemsPerPage flexInt    `json:"itemsPerPage"`
	Resources    []resource `json:"Resources"`
}

func userPath(platformID string) string { return "Users/" + url.PathEscape(platformID) }

func itoa(n int) string { return strconv.Itoa(n) }
