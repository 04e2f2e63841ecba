package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/dirsync/dirsync/target"
	"github.com/dirsync/dirsync/user"
)

// createUser creates u with POST /Users (u.ID becomes the externalId) and returns the
// new account. A platform that already holds the userName answers 409: the error
// then satisfies the Conflict contract.
func (c *Client) createUser(ctx context.Context, u user.User) (user.Account, error) {
	op := "scim create user " + u.Username
	body, _ := attrs(u)
	body["active"] = u.Active
	body["schemas"] = schemasFor(body)
	resp, err := c.do(ctx, op, http.MethodPost, "Users", nil, body)
	if err != nil {
		return user.Account{}, err
	}
	if len(strings.TrimSpace(string(resp.Body))) == 0 {
		// Some servers answer 201 with only a Location header.
		if loc := resp.Header.Get("Location"); loc != "" {
			if lu, err := url.Parse(loc); err == nil {
				if id := path.Base(lu.Path); id != "." && id != "/" && !strings.EqualFold(id, "Users") {
					if err := user.CheckPlatformID(id); err != nil {
						return user.Account{}, fmt.Errorf("%s: %s: the platform answered account id %q (Location %s), which dirsync refuses: %w",
							op, resp.URL, id, loc, err)
					}
					return user.Account{PlatformID: id, User: u}, nil
				}
			}
		}
	}
	var r resource
	if err := decode(op, resp, &r); err != nil {
		return user.Account{}, err
	}
	if r.ID == "" {
		return user.Account{}, fmt.Errorf("%s: %s: response has no id (HTTP %d)", op, resp.URL, resp.Status)
	}
	if err := answeredID(op, resp, &r); err != nil {
		return user.Account{}, err
	}
	return r.account(), nil
}

// updateUser replaces the managed attributes of account platformID with u's (see the
// package documentation). It never changes the account's active state: with
// PATCH it sends no "active" operation, with PUT it sends back the platform's
// own value.
func (c *Client) updateUser(ctx context.Context, platformID string, u user.User) error {
	op := "scim update user " + platformID
	if err := checkID(op, platformID); err != nil {
		return err
	}
	set, cleared := attrs(u)
	if c.patchSupported(ctx) {
		value := make(map[string]any, len(set))
		for k, v := range set {
			if k != SchemaEnterprise {
				value[k] = v
			}
		}
		ops := []map[string]any{{"op": "replace", "value": value}}
		ext, _ := set[SchemaEnterprise].(map[string]any)
		for _, k := range enterpriseExtra {
			if v, ok := ext[k]; ok {
				ops = append(ops, map[string]any{"op": "replace", "path": SchemaEnterprise + ":" + k, "value": v})
			}
		}
		for _, p := range cleared {
			ops = append(ops, map[string]any{"op": "remove", "path": p})
		}
		done, err := c.patchOps(ctx, op, platformID, ops)
		if done || err != nil {
			return err
		}
	}
	return c.put(ctx, op, platformID, func(cur map[string]any) {
		for k, v := range set {
			if k == SchemaEnterprise {
				ext, _ := cur[keyOf(cur, SchemaEnterprise)].(map[string]any)
				if ext == nil {
					ext = map[string]any{}
				}
				for ek, ev := range v.(map[string]any) {
					setAttr(ext, ek, ev)
				}
				setAttr(cur, SchemaEnterprise, ext)
				continue
			}
			if k == "name" {
				name, _ := cur[keyOf(cur, "name")].(map[string]any)
				if name == nil {
					name = map[string]any{}
				}
				for nk, nv := range v.(map[string]any) {
					setAttr(name, nk, nv)
				}
				setAttr(cur, "name", name)
				continue
			}
			setAttr(cur, k, v)
		}
		for _, p := range cleared {
			if sub, ok := strings.CutPrefix(p, "name."); ok {
				if name, _ := cur[keyOf(cur, "name")].(map[string]any); name != nil {
					delete(name, keyOf(name, sub))
				}
				continue
			}
			delete(cur, keyOf(cur, p))
		}
	})
}

// SetActive activates or deactivates account platformID.
func (c *Client) SetActive(ctx context.Context, platformID string, active bool) error {
	op := "scim deactivate user " + platformID
	if active {
		op = "scim activate user " + platformID
	}
	if err := checkID(op, platformID); err != nil {
		return err
	}
	if c.patchSupported(ctx) {
		done, err := c.patchOps(ctx, op, platformID, []map[string]any{{"op": "replace", "path": "active", "value": active}})
		if done || err != nil {
			return err
		}
	}
	return c.put(ctx, op, platformID, func(cur map[string]any) { setAttr(cur, "active", active) })
}

// FreeIdentifiers sets account platformID's userName and primary email to
// u's and changes nothing else: an archived account gives its names up for
// reuse (sync.free_identifiers_on_archive). With PATCH it is one replace
// operation; without, the account is read and written back.
func (c *Client) FreeIdentifiers(ctx context.Context, platformID string, u user.User) error {
	op := "scim rename user " + platformID
	if err := checkID(op, platformID); err != nil {
		return err
	}
	value := map[string]any{"userName": u.Username}
	if u.Email != "" {
		value["emails"] = []any{map[string]any{"value": u.Email, "type": "work", "primary": true}}
	}
	if c.patchSupported(ctx) {
		done, err := c.patchOps(ctx, op, platformID, []map[string]any{{"op": "replace", "value": value}})
		if done || err != nil {
			return err
		}
	}
	return c.put(ctx, op, platformID, func(cur map[string]any) {
		for k, v := range value {
			setAttr(cur, k, v)
		}
	})
}

// Delete removes account platformID. A missing account is a NotFound error.
func (c *Client) Delete(ctx context.Context, platformID string) error {
	op := "scim delete user " + platformID
	if err := checkID(op, platformID); err != nil {
		return err
	}
	_, err := c.do(ctx, op, http.MethodDelete, userPath(platformID), nil, nil)
	return err
}

// patchOps sends a PatchOp. done is false, with a nil error, when the platform
// answered that it does not support PATCH (501, 405): the caller then uses PUT,
// as will every later update.
func (c *Client) patchOps(ctx context.Context, op, platformID string, ops []map[string]any) (done bool, err error) {
	body := map[string]any{"schemas": []string{schemaPatchOp}, "Operations": ops}
	_, err = c.do(ctx, op, http.MethodPatch, userPath(platformID), nil, body)
	var he *target.HTTPError
	if errors.As(err, &he) && (he.Status == http.StatusNotImplemented || he.Status == http.StatusMethodNotAllowed) {
		c.noPatch()
		return false, nil
	}
	return true, err
}

// put reads account platformID, lets edit change its attributes, and writes it
// back whole. Attributes the client does not manage are sent back unchanged.
func (c *Client) put(ctx context.Context, op, platformID string, edit func(map[string]any)) error {
	resp, err := c.do(ctx, op, http.MethodGet, userPath(platformID), nil, nil)
	if err != nil {
		return err
	}
	var cur map[string]any
	if err := decode(op, resp, &cur); err != nil {
		return err
	}
	if cur == nil {
		return fmt.Errorf("%s: %s: response is not a JSON object", op, resp.URL)
	}
	delete(cur, keyOf(cur, "meta"))
	delete(cur, keyOf(cur, "groups")) // read-only
	edit(cur)
	schemas := []any{SchemaUser}
	if _, ok := cur[keyOf(cur, SchemaEnterprise)]; ok {
		schemas = append(schemas, SchemaEnterprise)
	}
	if prev, ok := cur[keyOf(cur, "schemas")].([]any); ok {
		for _, s := range prev {
			if str, ok := s.(string); ok && !strings.EqualFold(str, SchemaUser) && !strings.EqualFold(str, SchemaEnterprise) {
				schemas = append(schemas, s)
			}
		}
	}
	setAttr(cur, "schemas", schemas)
	_, err = c.do(ctx, op, http.MethodPut, userPath(platformID), nil, cur)
	return err
}

// Lookup finds the account whose key equals value: user.MatchExternalID
// (case-exact), user.MatchUserName or user.MatchEmail (case-insensitive). It
// returns a NotFound error when there is none, and an error when several match.
func (c *Client) Lookup(ctx context.Context, key, value string) (user.Account, error) {
	op := "scim look up user by " + key
	var filters []string
	var match func(user.Account, *resource) bool
	switch key {
	case user.MatchExternalID:
		filters = []string{"externalId eq " + quote(value)}
		match = func(a user.Account, _ *resource) bool { return a.User.ID == value }
	case user.MatchUserName:
		filters = []string{"userName eq " + quote(value)}
		match = func(a user.Account, _ *resource) bool { return strings.EqualFold(a.User.Username, value) }
	case user.MatchEmail:
		// The bracket form is RFC 7644's; some servers only know the dotted one.
		filters = []string{"emails[value eq " + quote(value) + "]", "emails.value eq " + quote(value)}
		match = func(_ user.Account, r *resource) bool {
			for _, e := range r.Emails {
				if strings.EqualFold(string(e.Value), value) {
					return true
				}
			}
			return false
		}
	default:
		return user.Account{}, fmt.Errorf("%s: unknown key %q (want %s, %s or %s)", op, key, user.MatchExternalID, user.MatchUserName, user.MatchEmail)
	}
	if strings.TrimSpace(value) == "" {
		return user.Account{}, &target.NotFoundError{Op: op, Key: key, Value: value}
	}
	var list listResponse
	var answer *target.Response
	for i, f := range filters {
		resp, err := c.do(ctx, op, http.MethodGet, "Users", url.Values{"filter": {f}, "startIndex": {"1"}, "count": {"10"}}, nil)
		var he *target.HTTPError
		if errors.As(err, &he) && (he.Status == http.StatusBadRequest || he.Status == http.StatusNotImplemented) {
			if i+1 < len(filters) {
				continue
			}
			return user.Account{}, &target.FilterRefusedError{Op: op, Key: key, Filter: f, Err: err}
		}
		if err != nil {
			return user.Account{}, err
		}
		if err := decode(op, resp, &list); err != nil {
			return user.Account{}, err
		}
		answer = resp
		break
	}
	var found []user.Account
	for i := range list.Resources {
		r := &list.Resources[i]
		if r.ID == "" {
			continue
		}
		if a := r.account(); match(a, r) {
			if err := answeredID(op, answer, r); err != nil {
				return user.Account{}, err
			}
			found = append(found, a)
		}
	}
	switch len(found) {
	case 0:
		return user.Account{}, &target.NotFoundError{Op: op, Key: key, Value: value}
	case 1:
		return found[0], nil
	}
	ids := make([]string, len(found))
	for i, a := range found {
		ids[i] = a.PlatformID
	}
	return user.Account{}, fmt.Errorf("%s: %d accounts match %q (%s): resolve the duplicate on the platform", op, len(found), value, strings.Join(ids, ", "))
}

// List calls fn for every account, reading pages of the configured size with
// startIndex/count. It copes with servers that return fewer resources than asked
// and stops at totalResults or at the first empty page. An account listed twice
// (the list moved under the read) is passed to fn once.
//
// A listing that cannot be trusted to be complete fails, so that nobody is
// archived or adopted by it: a page that repeats only accounts already listed
// (a server ignoring startIndex), an empty page before totalResults accounts
// were listed, a listing that goes on past twice the totalResults its first
// page announced, or one longer than the bound (WithMaxAccounts).
func (c *Client) List(ctx context.Context, fn func(user.Account) error) error {
	const op = "scim list users"
	seen := map[string]bool{}
	start := 1
	firstTotal := -1 // totalResults of the first page; -1 when absent or 0
	for {
		resp, err := c.do(ctx, op, http.MethodGet, "Users", url.Values{"startIndex": {itoa(start)}, "count": {itoa(c.pageSize)}}, nil)
		if err != nil {
			return err
		}
		var page listResponse
		if err := decode(op, resp, &page); err != nil {
			return err
		}
		if start == 1 && page.TotalResults != nil && *page.TotalResults > 0 {
			firstTotal = int(*page.TotalResults)
		}
		if len(page.Resources) == 0 {
			if page.TotalResults != nil && len(seen) < int(*page.TotalResults) {
				return fmt.Errorf("%s: %s: the page at startIndex %d is empty after %d of the %d accounts (totalResults) were listed; "+
					"the listing is incomplete, so it is not used", op, resp.URL, start, len(seen), int(*page.TotalResults))
			}
			return nil
		}
		fresh := 0
		for i := range page.Resources {
			r := &page.Resources[i]
			if r.ID == "" {
				return fmt.Errorf("%s: %s: resource %d of the page at startIndex %d has no id", op, resp.URL, i+1, start)
			}
			if err := answeredID(op, resp, r); err != nil {
				return err
			}
			if seen[string(r.ID)] {
				continue
			}
			seen[string(r.ID)] = true
			fresh++
			if err := fn(r.account()); err != nil {
				return err
			}
		}
		if fresh == 0 {
			return fmt.Errorf("%s: %s: the page at startIndex %d repeats accounts already listed; the server seems to ignore startIndex", op, resp.URL, start)
		}
		if len(seen) > c.maxAccounts {
			return fmt.Errorf("%s: %s: the platform listed more than %d accounts and the listing goes on; "+
				"it seems never to end, so it is not used", op, resp.URL, c.maxAccounts)
		}
		if firstTotal >= 0 && len(seen) > 2*firstTotal+c.pageSize {
			return fmt.Errorf("%s: %s: the platform listed %d accounts, though its first page said totalResults %d, and the listing goes on; "+
				"it seems never to end, so it is not used", op, resp.URL, len(seen), firstTotal)
		}
		start += len(page.Resources)
		if page.TotalResults != nil {
			if total := int(*page.TotalResults); total > 0 && start > total {
				return nil
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// quote returns s as a SCIM filter string literal: double-quoted, with '"' and
// '\' escaped (RFC 7644 §3.4.2.2 uses JSON string syntax), as are control
// characters.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// keyOf returns m's key equal to name case-insensitively (SCIM attribute names
// are case-insensitive), or name.
func keyOf(m map[string]any, name string) string {
	if _, ok := m[name]; ok {
		return name
	}
	for k := range m {
		if strings.EqualFold(k, name) {
			return k
		}
	}
	return name
}

// setAttr sets attribute name in m, replacing it under whatever case it has.
func setAttr(m map[string]any, name string, v any) {
	for k := range m {
		if k != name && strings.EqualFold(k, name) {
			delete(m, k)
		}
	}
	m[name] = v
}

// checkID returns an error when platformID cannot be put in a request path
// (see user.CheckPlatformID).
func checkID(op, platformID string) error {
	if err := user.CheckPlatformID(platformID); err != nil {
		return fmt.Errorf("%s: platform id %q: %w", op, platformID, err)
	}
	return nil
}

// answeredID returns an error when the id of r, in the answer resp, cannot
// be used as an account's id (see user.CheckPlatformID).
func answeredID(op string, resp *target.Response, r *resource) error {
	if err := user.CheckPlatformID(string(r.ID)); err != nil {
		return fmt.Errorf("%s: %s: the platform answered account id %q (userName %q), which dirsync refuses: %w; "+
			"an id must be one URL path segment: correct the account on the platform", op, resp.URL, string(r.ID), string(r.UserName), err)
	}
	return nil
}
