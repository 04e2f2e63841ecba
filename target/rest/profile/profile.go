// Package profile is the schema of a REST profile: the `target.rest:`
// section of the config, which describes a platform's own User Management API
// so that the rest target drives it without code per vendor. README.md ("REST
// platforms") and docs/rest-profiles.md document every key; examples/targets/
// holds one profile per API style.
//
// Package target holds a Profile in Config.Rest; package target/rest, which
// drives it, validates it (when target.type is rest) and parses its body
// templates. This package imports neither, so both can import it.
package profile

import (
	"strings"

	"github.com/dirsync/dirsync/target/internal/sensitive"
)

// Auth types of a REST profile (target.rest.auth.type).
const (
	AuthNone   = "none"
	AuthBearer = "bearer"
	AuthHeader = "header"
	AuthBasic  = "basic"
	AuthQuery  = "query"
	AuthOAuth2 = "oauth2"
)

// Pagination styles of a REST profile's list endpoint (target.rest.list.pagination).
const (
	PageNone   = "none"
	PagePage   = "page"
	PageOffset = "offset"
	PageCursor = "cursor"
	// PageLink follows the next page's URL in the Link response header (RFC 8288, rel="next").
	PageLink = "link"
	// PageNextURL follows the next page's URL found in the body at list.next_url.
	PageNextURL = "next_url"
)

// DefaultMaxPages bounds a listing when target.rest.list.max_pages is unset.
const DefaultMaxPages = 100000

// User fields a REST profile maps (target.rest.fields keys) and body templates
// refer to as {{name}}. Templates may also use "extra.NAME" (an extra attribute),
// "groups" (a list) and, except in create, "platform_id".
const (
	RefExternalID  = "external_id"
	RefUsername    = "username"
	RefEmail       = "email"
	RefGivenName   = "given_name"
	RefFamilyName  = "family_name"
	RefDisplayName = "display_name"
	RefActive      = "active"
	RefGroups      = "groups"
	RefPlatformID  = "platform_id"
	RefExtraPrefix = "extra."
)

// Profile describes a platform's own User Management API, so that the rest
// target drives it without code per vendor. It is the `target.rest:` section;
// README.md ("REST platforms") documents every key and examples/targets/ holds one
// profile per API style. Package target/rest, which drives it, validates it
// (when target.type is rest) and parses its body templates.
type Profile struct {
	// Auth says how requests are authenticated. The secret is target.token (or
	// token_file), except for auth type query.
	Auth Auth `mapstructure:"auth" json:"auth"`
	// Query lists "name=value" parameters added to every call (e.g. format=json).
	Query []string `mapstructure:"query" json:"query,omitempty"`
	// Headers are added to every call.
	Headers map[string]string `mapstructure:"headers" json:"headers,omitempty"`
	// List is how every account is read.
	List List `mapstructure:"list" json:"list"`
	// ID is the path of the platform's id inside a user object, e.g. "id" or "Id".
	ID string `mapstructure:"id" json:"id"`
	// Fields maps dirsync's user fields (external_id, username, email, given_name,
	// family_name, display_name) to paths inside a platform user object.
	Fields map[string]string `mapstructure:"fields" json:"fields,omitempty"`
	// Active is the path of the account state inside a user object; ActiveValues
	// are the values (compared case-insensitively as text) that mean active.
	Active       string   `mapstructure:"active" json:"active"`
	ActiveValues []string `mapstructure:"active_values" json:"active_values,omitempty"`
	// Error locates an error envelope that may come with any status, HTTP 200
	// included; a response where Error.Code holds a value is a failure.
	Error Error `mapstructure:"error" json:"error"`
	// MatchBy lists the keys the platform can be matched on for adoption
	// (externalId, userName, email). Default: those that Fields maps.
	MatchBy []string `mapstructure:"match_by" json:"match_by,omitempty"`

	// Mappings map directory groups to platform values (role ids, organization
	// ids, group ids), by mapping name: body templates refer to
	// {{groups.NAME}} (every mapped value of the user's groups, a list) and
	// {{group.NAME}} (the first one, or null).
	Mappings map[string][]GroupMapping `mapstructure:"mappings" json:"mappings,omitempty"`

	// Resolve names mappings whose values are names of things the platform
	// lists (roles, identity providers): the names are resolved to ids once,
	// before the first change, and a name the platform does not have is an
	// error.
	Resolve map[string]Resolve `mapstructure:"resolve" json:"resolve,omitempty"`

	// BatchCreate, when set, creates users many per request: creates that
	// arrive while a request is in flight are sent together in the next one.
	BatchCreate Batch `mapstructure:"batch_create" json:"batch_create,omitzero"`

	// AfterCreate are calls made, by name, after each create, with the new
	// account's {id}: e.g. reset_password, or send_invitation.
	AfterCreate map[string]Endpoint `mapstructure:"after_create" json:"after_create,omitempty"`

	// Groups are the group endpoints of the group push (groups.go).
	Groups Groups `mapstructure:"groups" json:"groups,omitzero"`

	Create     Endpoint `mapstructure:"create" json:"create"`
	Update     Endpoint `mapstructure:"update" json:"update"`
	Deactivate Endpoint `mapstructure:"deactivate" json:"deactivate"`
	Reactivate Endpoint `mapstructure:"reactivate" json:"reactivate"`
	Delete     Endpoint `mapstructure:"delete" json:"delete"`

	// FreeIdentifiers, when set, renames an archived account's username and
	// email (sync.free_identifiers_on_archive) so that they can be reused. Its
	// body may refer to {{platform_id}}, {{username}} and {{email}} only:
	// the new values.
	FreeIdentifiers Endpoint `mapstructure:"free_identifiers" json:"free_identifiers,omitzero"`
}

// Auth is a REST profile's authentication.
type Auth struct {
	// Type: none, bearer (default), header, basic, query or oauth2.
	Type string `mapstructure:"type" json:"type"`
	// Header is the header that carries target.token (type header), e.g. X-API-Key.
	Header string `mapstructure:"header" json:"header,omitempty"`
	// Username is the basic-auth user; target.token is the password.
	Username string `mapstructure:"username" json:"username,omitempty"`
	// Params are "name=value" query parameters sent on every call (type query),
	// e.g. CompanyId=42 and IntegrationKey=${KEY}. Values of parameters whose names
	// look secret (key, token, secret, …) are redacted everywhere.
	Params []string `mapstructure:"params" json:"params,omitempty"`
	// TokenURL is the OAuth2 token endpoint (type oauth2), absolute or relative
	// to target.url; ClientID the client; target.token is the client secret.
	TokenURL string   `mapstructure:"token_url" json:"token_url,omitempty"`
	ClientID string   `mapstructure:"client_id" json:"client_id,omitempty"`
	Scopes   []string `mapstructure:"scopes" json:"scopes,omitempty"`

	// The keys below are documented in auth_more.go (AuthMore).
	AuthMore `mapstructure:",squash"`
}

// List is a REST profile's list endpoint.
type List struct {
	Path  string   `mapstructure:"path" json:"path"`
	Query []string `mapstructure:"query" json:"query,omitempty"`
	// Pagination: none (default), page, offset or cursor.
	Pagination string `mapstructure:"pagination" json:"pagination"`
	// PageSize is the size asked for each page. Default 100.
	PageSize int `mapstructure:"page_size" json:"page_size"`
	// page: PageParam (default "page"), SizeParam (default "pageSize"), FirstPage
	// (default 1). offset: OffsetParam (default "offset"), LimitParam (default
	// "limit"). cursor: CursorParam (default "cursor").
	PageParam   string `mapstructure:"page_param" json:"page_param,omitempty"`
	SizeParam   string `mapstructure:"size_param" json:"size_param,omitempty"`
	FirstPage   int    `mapstructure:"first_page" json:"first_page,omitempty"`
	OffsetParam string `mapstructure:"offset_param" json:"offset_param,omitempty"`
	LimitParam  string `mapstructure:"limit_param" json:"limit_param,omitempty"`
	CursorParam string `mapstructure:"cursor_param" json:"cursor_param,omitempty"`
	// Items is the path of the array of users in the response ("" when the
	// response is the array).
	Items string `mapstructure:"items" json:"items"`
	// Total (a count of users) or TotalPages, when the response has one, ends the
	// listing early; otherwise it ends at a short or empty page.
	Total      string `mapstructure:"total" json:"total,omitempty"`
	TotalPages string `mapstructure:"total_pages" json:"total_pages,omitempty"`
	// NextCursor is the path of the next cursor (cursor pagination); the listing
	// ends when it is null or empty.
	NextCursor string `mapstructure:"next_cursor" json:"next_cursor,omitempty"`

	// Following the platform's own links, and bounds (see docs/rest-profiles.md).
	//
	// NextURL is the path of the next page's URL in the body, absolute or
	// relative (pagination next_url), e.g. "@odata.nextLink" or "links.next";
	// the listing ends when it is null or empty.
	NextURL string `mapstructure:"next_url" json:"next_url,omitempty"`
	// NextCursorHeader is the response header holding the next cursor
	// (pagination cursor), for platforms that send it there instead of in the
	// body.
	NextCursorHeader string `mapstructure:"next_cursor_header" json:"next_cursor_header,omitempty"`
	// MaxPages bounds a listing (default DefaultMaxPages): a platform that
	// pages further fails the listing instead of looping for hours.
	MaxPages int `mapstructure:"max_pages" json:"max_pages,omitempty"`
}

// GroupMapping maps a directory group, by DN or by CN (case-insensitive), to a
// platform value; group "*" maps every user. target.groups (SCIM Groups) are
// mappings too: package target names this type GroupMapping as well, and its
// Mapped matches users' groups against them.
type GroupMapping struct {
	Group string `mapstructure:"group" json:"group"`
	Value string `mapstructure:"value" json:"value"`
}

// Reference prefixes for group mappings in body templates.
const (
	RefGroupsPrefix = "groups."
	RefGroupPrefix  = "group."
)

// Resolve is a list endpoint of named platform objects: Items is the path
// of the array ("" : the response is the array), ID and Name the paths in an
// object.
type Resolve struct {
	Path  string `mapstructure:"path" json:"path"`
	Items string `mapstructure:"items" json:"items,omitempty"`
	ID    string `mapstructure:"id" json:"id"`
	Name  string `mapstructure:"name" json:"name"`
}

// Batch is an endpoint creating many users in one request, answering with
// one result per user.
type Batch struct {
	Method string   `mapstructure:"method" json:"method,omitempty"`
	Path   string   `mapstructure:"path" json:"path,omitempty"`
	Query  []string `mapstructure:"query" json:"query,omitempty"`
	// Body is the request's JSON template, where "{{users}}" stands for the
	// array of users, e.g. {"Users": "{{users}}"}.
	Body string `mapstructure:"body" json:"body,omitempty"`
	// Item is the JSON template of one user in that array (references as in
	// create).
	Item string `mapstructure:"item" json:"item,omitempty"`
	// Results is the path of the per-user results array. Match is the path of
	// the email inside a result, matched case-insensitively ("" : results come in
	// request order). ID and Error are the paths of the new id and of the
	// per-user error inside a result.
	Results string `mapstructure:"results" json:"results,omitempty"`
	Match   string `mapstructure:"match" json:"match,omitempty"`
	ID      string `mapstructure:"id" json:"id,omitempty"`
	Error   string `mapstructure:"error" json:"error,omitempty"`
	// Size is the most users in one request. Default 50.
	Size int `mapstructure:"size" json:"size,omitempty"`
}

// Configured reports whether batch create is set.
func (b Batch) Configured() bool { return b.Path != "" || b.Method != "" }

// RefUsers is the batch body's reference to the array of users.
const RefUsers = "users"

// Error locates the error envelope of a REST platform's responses.
type Error struct {
	// Code and Message are paths, e.g. ResponseStatus.ErrorCode.
	Code    string `mapstructure:"code" json:"code,omitempty"`
	Message string `mapstructure:"message" json:"message,omitempty"`
	// NotFound and Conflict list the codes that mean "no such account" and
	// "the account already exists" (HTTP 404 and 409 always do).
	NotFound []string `mapstructure:"not_found" json:"not_found,omitempty"`
	Conflict []string `mapstructure:"conflict" json:"conflict,omitempty"`

	// NotFoundText and ConflictText recognise the same by the error's text, for
	// platforms that answer "already exists" only as a 400 with a generic code:
	// each entry is a case-insensitive substring, or a regular expression
	// between slashes (/.../). They are matched against the message at Message
	// and against the whole response body, for single calls and for each
	// user's result of a batch.
	NotFoundText []string `mapstructure:"not_found_text" json:"not_found_text,omitempty"`
	ConflictText []string `mapstructure:"conflict_text" json:"conflict_text,omitempty"`
}

// What an answer means (Outcome.Means).
const (
	MeansDone     = "done"
	MeansNotFound = "not_found"
	MeansConflict = "conflict"
)

// Outcome says what a failed answer of one call means, for platforms
// that use odd statuses: e.g. a 403 "already active" to an activate call is
// the wanted state (done). Every condition set must hold: Status (the HTTP
// status), Code (the code at error.code) and Text (as in error.conflict_text).
type Outcome struct {
	Status int    `mapstructure:"status" json:"status,omitempty"`
	Code   string `mapstructure:"code" json:"code,omitempty"`
	Text   string `mapstructure:"text" json:"text,omitempty"`
	// Means: done (a success), not_found or conflict.
	Means string `mapstructure:"means" json:"means"`
}

// Endpoint is one call: method, path and query ("{id}" is the platform id),
// and a JSON body template.
type Endpoint struct {
	Method string   `mapstructure:"method" json:"method,omitempty"`
	Path   string   `mapstructure:"path" json:"path,omitempty"`
	Query  []string `mapstructure:"query" json:"query,omitempty"`
	// Body is a JSON template whose string leaves may refer to user fields, e.g.
	// {"email": "{{email}}", "active": "{{active}}"}: values keep their JSON type
	// and are encoded, never spliced into the text.
	Body string `mapstructure:"body" json:"body,omitempty"`
	// ID is the path of the new account's id in a create response (default: the
	// profile's id path, then the same inside Result).
	ID string `mapstructure:"id" json:"id,omitempty"`
	// ItemError is the path of a per-user error inside a successful response,
	// e.g. "Results.0.Error" for a batch endpoint called with one user.
	ItemError string `mapstructure:"item_error" json:"item_error,omitempty"`

	// Outcomes say what failed answers of this call mean, checked in order
	// before the profile's error settings.
	Outcomes []Outcome `mapstructure:"outcomes" json:"outcomes,omitempty"`
}

// Configured reports whether the endpoint is set.
func (e Endpoint) Configured() bool { return e.Path != "" || e.Method != "" }

// NeedsToken reports whether the profile's auth takes its secret from
// target.token.
func (p Profile) NeedsToken() bool {
	switch p.Auth.Type {
	case AuthNone, AuthQuery:
		return false
	}
	return true
}

// AuthType returns the auth type, bearer when unset.
func (p Profile) AuthType() string {
	if p.Auth.Type == "" {
		return AuthBearer
	}
	return p.Auth.Type
}

// Unset reports whether the profile is missing altogether: neither a list
// endpoint nor a create call is described.
func (p Profile) Unset() bool { return p.List.Path == "" && !p.Create.Configured() }

// Secrets returns the profile's secret values (query auth parameters,
// headers and token parameters whose names look secret, and the second
// header's key), so that they are redacted wherever they could show.
func (p Profile) Secrets() []string {
	var out []string
	for k, v := range p.Headers {
		if sensitive.Name(k) && v != "" {
			out = append(out, v)
		}
	}
	for _, kv := range p.Auth.Params {
		if name, val, ok := strings.Cut(kv, "="); ok && sensitive.Name(name) && val != "" {
			out = append(out, val)
		}
	}
	out = append(out, p.Auth.moreSecrets()...)
	return out
}

// Redacted returns p with its secrets masked, safe to print or log.
func (p Profile) Redacted() Profile {
	if len(p.Headers) > 0 {
		h := make(map[string]string, len(p.Headers))
		for k, v := range p.Headers {
			if sensitive.Name(k) {
				v = sensitive.Mask
			}
			h[k] = v
		}
		p.Headers = h
	}
	if len(p.Auth.Params) > 0 {
		params := make([]string, len(p.Auth.Params))
		for i, kv := range p.Auth.Params {
			if name, _, ok := strings.Cut(kv, "="); ok && sensitive.Name(name) {
				kv = name + "=" + sensitive.Mask
			}
			params[i] = kv
		}
		p.Auth.Params = params
	}
	p.Auth.AuthMore = p.Auth.redactedMore()
	return p
}
