package rest

// The profile (profile.Profile, the `target.rest:` section) is checked and
// its body templates are parsed here, next to the client that uses them.

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/dirsync/dirsync/target"
	"github.com/dirsync/dirsync/target/internal/jsontpl"
	"github.com/dirsync/dirsync/target/rest/profile"
)

// mappable are the fields target.rest.fields may map.
var mappable = []string{profile.RefExternalID, profile.RefUsername, profile.RefEmail, profile.RefGivenName, profile.RefFamilyName, profile.RefDisplayName}

// parseBatch parses a batch endpoint's body and item templates.
func parseBatch(p profile.Profile) (body, item *jsontpl.Template, err error) {
	b := p.BatchCreate
	if body, err = jsontpl.Parse(b.Body, func(ref string) bool { return ref == profile.RefUsers }); err != nil {
		return nil, nil, fmt.Errorf("body: %w", err)
	}
	if !slices.Contains(body.Refs(), profile.RefUsers) {
		return nil, nil, errors.New(`body: must hold "{{users}}", where the array of users goes`)
	}
	if item, err = jsontpl.Parse(b.Item, func(ref string) bool { return profileRef(p, ref, false) }); err != nil {
		return nil, nil, fmt.Errorf("item: %w", err)
	}
	return body, item, nil
}

// TextMatcher matches error texts against a list of case-insensitive
// substrings and /regular expressions/.
type TextMatcher struct {
	subs []string
	res  []*regexp.Regexp
}

// NewTextMatcher compiles list; an entry between slashes is a regular
// expression (case-insensitive unless it says otherwise).
func NewTextMatcher(list []string) (TextMatcher, error) {
	var m TextMatcher
	for _, e := range list {
		if len(e) >= 2 && strings.HasPrefix(e, "/") && strings.HasSuffix(e, "/") {
			re, err := regexp.Compile("(?i)" + e[1:len(e)-1])
			if err != nil {
				return TextMatcher{}, fmt.Errorf("%q is not a valid regular expression: %w", e, err)
			}
			m.res = append(m.res, re)
			continue
		}
		if strings.TrimSpace(e) == "" {
			return TextMatcher{}, errors.New("an entry is empty (it would match every error)")
		}
		m.subs = append(m.subs, strings.ToLower(e))
	}
	return m, nil
}

// Match reports whether any of texts matches an entry.
func (m TextMatcher) Match(texts ...string) bool {
	for _, t := range texts {
		if t == "" {
			continue
		}
		lt := strings.ToLower(t)
		for _, s := range m.subs {
			if strings.Contains(lt, s) {
				return true
			}
		}
		for _, re := range m.res {
			if re.MatchString(t) {
				return true
			}
		}
	}
	return false
}

// validRef reports whether name may appear as {{name}} in a body template;
// withID allows platform_id.
func validRef(name string, withID bool) bool {
	switch name {
	case profile.RefExternalID, profile.RefUsername, profile.RefEmail, profile.RefGivenName, profile.RefFamilyName, profile.RefDisplayName, profile.RefActive, profile.RefGroups:
		return true
	case profile.RefPlatformID:
		return withID
	}
	return strings.HasPrefix(name, profile.RefExtraPrefix) && len(name) > len(profile.RefExtraPrefix)
}

// parseBody parses an endpoint's body template; create has no platform id yet,
// and deactivate, reactivate and delete know nothing but the platform id.
func parseBody(p profile.Profile, name string, e profile.Endpoint) (*jsontpl.Template, error) {
	if e.Body == "" {
		return nil, nil
	}
	valid := func(ref string) bool { return profileRef(p, ref, true) }
	switch name {
	case "create":
		valid = func(ref string) bool { return profileRef(p, ref, false) }
	case "deactivate", "reactivate", "delete":
		valid = func(ref string) bool { return ref == profile.RefPlatformID }
	case "free_identifiers":
		valid = func(ref string) bool {
			return ref == profile.RefPlatformID || ref == profile.RefUsername || ref == profile.RefEmail
		}
	}
	return jsontpl.Parse(e.Body, valid)
}

// profileRef is validRef, plus references to the profile's group mappings.
func profileRef(p profile.Profile, ref string, withID bool) bool {
	for _, prefix := range []string{profile.RefGroupsPrefix, profile.RefGroupPrefix} {
		if name, ok := strings.CutPrefix(ref, prefix); ok {
			_, known := p.Mappings[name]
			return known
		}
	}
	return validRef(ref, withID)
}

// validateProfile reports every problem of the profile, each named by its key.
func validateProfile(p profile.Profile) []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("target.rest.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	pairs := func(key string, list []string) {
		for _, kv := range list {
			if name, _, ok := strings.Cut(kv, "="); !ok || name == "" {
				bad(key, "every entry must be name=value")
			}
		}
	}

	switch p.AuthType() {
	case profile.AuthBearer, profile.AuthNone:
	case profile.AuthHeader:
		if p.Auth.Header == "" {
			bad("auth.header", "must be set for auth type header (the header carrying target.token, e.g. X-API-Key)")
		}
	case profile.AuthBasic:
		if p.Auth.Username == "" {
			bad("auth.username", "must be set for auth type basic (target.token is the password)")
		}
	case profile.AuthQuery:
		if len(p.Auth.Params) == 0 {
			bad("auth.params", `must list the "name=value" parameters for auth type query`)
		}
		pairs("auth.params", p.Auth.Params)
	case profile.AuthOAuth2:
		if p.Auth.TokenURL == "" {
			bad("auth.token_url", "must be set for auth type oauth2 (the token endpoint)")
		} else if u, err := url.Parse(p.Auth.TokenURL); err != nil {
			bad("auth.token_url", "not a valid URL")
		} else if u.IsAbs() {
			if err := target.CheckURL(p.Auth.TokenURL); err != nil {
				bad("auth.token_url", "%v", err)
			}
		}
		if p.Auth.ClientID == "" {
			bad("auth.client_id", "must be set for auth type oauth2 (target.token is the client secret)")
		}
	default:
		bad("auth.type", "unknown type %q (want none, bearer, header, basic, query or oauth2)", p.Auth.Type)
	}
	errs = append(errs, validateAuthMore(p.Auth, p.AuthType())...)
	pairs("query", p.Query)
	pairs("list.query", p.List.Query)

	if p.List.Path == "" {
		bad("list.path", "must be set (the endpoint listing every user)")
	}
	switch p.List.Pagination {
	case "", profile.PageNone, profile.PagePage, profile.PageOffset:
	case profile.PageCursor:
		if p.List.NextCursor == "" && p.List.NextCursorHeader == "" {
			bad("list.next_cursor", "must be set for cursor pagination (where the response holds the next cursor), or list.next_cursor_header")
		}
	case profile.PageLink:
	case profile.PageNextURL:
		if p.List.NextURL == "" {
			bad("list.next_url", "must be set for next_url pagination (where the response holds the next page's URL, e.g. @odata.nextLink)")
		}
	default:
		bad("list.pagination", "unknown pagination %q (want none, page, offset, cursor, link or next_url)", p.List.Pagination)
	}
	if p.List.MaxPages < 0 {
		bad("list.max_pages", "must be positive, got %d", p.List.MaxPages)
	}
	if _, err := NewTextMatcher(p.Error.NotFoundText); err != nil {
		bad("error.not_found_text", "%v", err)
	}
	if _, err := NewTextMatcher(p.Error.ConflictText); err != nil {
		bad("error.conflict_text", "%v", err)
	}
	if p.List.PageSize < 0 {
		bad("list.page_size", "must be positive, got %d", p.List.PageSize)
	}
	if p.ID == "" {
		bad("id", "must be set (the path of the platform id in a user object, e.g. id)")
	}
	for k, v := range p.Fields {
		if !slices.Contains(mappable, k) {
			bad("fields."+k, "unknown user field (want one of %s)", strings.Join(mappable, ", "))
		} else if v == "" {
			bad("fields."+k, "must be a path in the platform's user object")
		}
	}
	if p.Fields[profile.RefEmail] == "" && p.Fields[profile.RefUsername] == "" && p.Fields[profile.RefExternalID] == "" {
		bad("fields", "must map at least one of external_id, username or email, so that accounts can be matched")
	}
	for name, maps := range p.Mappings {
		for i, m := range maps {
			if m.Group == "" || m.Value == "" {
				bad(fmt.Sprintf("mappings.%s[%d]", name, i), "group and value must be set")
			}
		}
	}
	for name, r := range p.Resolve {
		if _, ok := p.Mappings[name]; !ok {
			bad("resolve."+name, "names no mapping (mappings.%s is not set)", name)
		}
		if r.Path == "" || r.ID == "" || r.Name == "" {
			bad("resolve."+name, "path, id and name must be set")
		}
	}
	if p.Active == "" {
		bad("active", "must be set (the path of the account state in a user object)")
	}
	for _, k := range p.MatchBy {
		switch k {
		case "externalId", "userName", "email":
		default:
			bad("match_by", "%q is not one of externalId, userName, email", k)
		}
	}

	eps := []struct {
		name string
		e    profile.Endpoint
	}{{"create", p.Create}, {"update", p.Update}, {"deactivate", p.Deactivate}, {"reactivate", p.Reactivate}, {"delete", p.Delete},
		{"free_identifiers", p.FreeIdentifiers}}
	for name, e := range p.AfterCreate {
		eps = append(eps, struct {
			name string
			e    profile.Endpoint
		}{"after_create." + name, e})
		if !e.Configured() {
			bad("after_create."+name, "method and path must be set")
		}
	}
	for _, ep := range eps {
		if !ep.e.Configured() {
			continue
		}
		if ep.e.Path == "" {
			bad(ep.name+".path", "must be set when %s.method is", ep.name)
		}
		switch ep.e.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		case "":
			bad(ep.name+".method", "must be set (POST, PUT, PATCH or DELETE)")
		default:
			bad(ep.name+".method", "%q is not POST, PUT, PATCH or DELETE", ep.e.Method)
		}
		pairs(ep.name+".query", ep.e.Query)
		for i, o := range ep.e.Outcomes {
			key := fmt.Sprintf("%s.outcomes[%d]", ep.name, i)
			switch o.Means {
			case profile.MeansDone, profile.MeansNotFound, profile.MeansConflict:
			default:
				bad(key+".means", "%q is not done, not_found or conflict", o.Means)
			}
			if o.Status == 0 && o.Code == "" && o.Text == "" {
				bad(key, "must set status, code or text (the answer it describes)")
			}
			if o.Status != 0 && (o.Status < 300 || o.Status > 599) {
				bad(key+".status", "%d is not an HTTP error status", o.Status)
			}
			if _, err := NewTextMatcher(nonEmpty(o.Text)); err != nil {
				bad(key+".text", "%v", err)
			}
		}
		if _, err := parseBody(p, ep.name, ep.e); err != nil {
			bad(ep.name+".body", "%v", err)
		}
	}
	errs = append(errs, validateGroups(p.Groups)...)
	if !p.Create.Configured() && !p.BatchCreate.Configured() {
		bad("create", "must be set, or batch_create (method, path and body of the call creating users)")
	}
	if b := p.BatchCreate; b.Configured() {
		switch b.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch:
		default:
			bad("batch_create.method", "%q is not POST, PUT or PATCH", b.Method)
		}
		if b.Path == "" {
			bad("batch_create.path", "must be set")
		}
		if b.Results == "" || b.ID == "" {
			bad("batch_create", "results and id must be set (where the per-user results and their ids are)")
		}
		if b.Size < 0 {
			bad("batch_create.size", "must be positive, got %d", b.Size)
		}
		pairs("batch_create.query", b.Query)
		if _, _, err := parseBatch(p); err != nil {
			bad("batch_create."+strings.SplitN(err.Error(), ":", 2)[0], "%s", strings.TrimSpace(strings.SplitN(err.Error(), ":", 2)[1]))
		}
	}
	if !p.Deactivate.Configured() && !p.Delete.Configured() {
		bad("deactivate", "must be set, or delete (a user leaving the directory must lose access)")
	}
	if p.Deactivate.Configured() && !p.Reactivate.Configured() {
		bad("reactivate", "must be set when deactivate is (a returning user must get access back)")
	}
	return errs
}

// validateAuthMore reports the problems of the auth keys of
// profile.AuthMore for auth type typ.
func validateAuthMore(a profile.Auth, typ string) []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("target.rest.auth.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if a.Scheme != "" {
		if typ != profile.AuthBearer && typ != profile.AuthHeader {
			bad("scheme", "applies to auth types bearer and header only, not %s", typ)
		} else if strings.ContainsAny(a.Scheme, " \t\r\n") {
			bad("scheme", "must be one word, e.g. SSWS or Token, got %q", a.Scheme)
		}
	}
	if a.KeyHeader != "" || a.Key != "" {
		switch {
		case typ != profile.AuthHeader:
			bad("key_header", "applies to auth type header only, not %s", typ)
		case a.KeyHeader == "" || a.Key == "":
			bad("key_header", "key_header and key must be set together (the second header and its value)")
		case strings.EqualFold(a.KeyHeader, a.Header):
			bad("key_header", "must differ from auth.header (%s)", a.Header)
		}
	}
	if a.Credentials != "" || a.Audience != "" || len(a.TokenParams) > 0 {
		if typ != profile.AuthOAuth2 {
			bad("credentials", "credentials, audience and token_params apply to auth type oauth2 only, not %s", typ)
		}
	}
	switch a.Credentials {
	case "", profile.CredentialsBasic, profile.CredentialsBody:
	default:
		bad("credentials", "unknown value %q (want basic or body)", a.Credentials)
	}
	for _, kv := range a.TokenParams {
		name, _, ok := strings.Cut(kv, "=")
		switch {
		case !ok || name == "":
			bad("token_params", "every entry must be name=value")
		case slices.Contains([]string{"grant_type", "client_id", "client_secret", "scope"}, name):
			bad("token_params", "%s is set by dirsync (use client_id, scopes and target.token)", name)
		}
	}
	return errs
}
