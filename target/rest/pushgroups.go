package rest

// The group push over a profile's group endpoints (profile.Groups): the
// client meets the reconciler's GroupTarget with one call per change, and
// one per member added or removed.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/dirsync/dirsync/target"
	"github.com/dirsync/dirsync/target/internal/jsontpl"
	"github.com/dirsync/dirsync/target/rest/profile"
	"github.com/dirsync/dirsync/user"
)

// groupEndpoints are the profile's group endpoints by name.
func groupEndpoints(g profile.Groups) map[string]profile.Endpoint {
	return map[string]profile.Endpoint{"create": g.Create, "rename": g.Rename, "delete": g.Delete,
		"add_member": g.AddMember, "remove_member": g.RemoveMember}
}

// groupRef reports whether ref may appear in group endpoint name's body.
func groupRef(name, ref string) bool {
	switch ref {
	case profile.RefGroupName, profile.RefExternalID:
		return name != "add_member" && name != "remove_member"
	case profile.RefPlatformID:
		return name != "create"
	case profile.RefMemberID:
		return name == "add_member" || name == "remove_member"
	}
	return false
}

func parseGroupBody(name string, e profile.Endpoint) (*jsontpl.Template, error) {
	if e.Body == "" {
		return nil, nil
	}
	return jsontpl.Parse(e.Body, func(ref string) bool { return groupRef(name, ref) })
}

// validateGroups reports every problem of the profile's group endpoints,
// when it declares any.
func validateGroups(g profile.Groups) []error {
	if !g.Configured() {
		return nil
	}
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("target.rest.groups.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if g.List.Path == "" {
		bad("list.path", "must be set (the endpoint listing every group)")
	}
	if g.ID == "" || g.Name == "" {
		bad("id", "id and name must be set (the paths of the group's id and name in a group object)")
	}
	if g.Members.Path == "" {
		bad("members.path", "must be set (the endpoint listing a group's members, with {id})")
	}
	for name, e := range groupEndpoints(g) {
		if !e.Configured() {
			bad(name, "must be set (method and path)")
			continue
		}
		switch e.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		default:
			bad(name+".method", "%q is not POST, PUT, PATCH or DELETE", e.Method)
		}
		if name != "create" && !strings.Contains(e.Path, "{id}") {
			bad(name+".path", "must hold {id}, the group's id")
		}
		if (name == "add_member" || name == "remove_member") && !strings.Contains(e.Path, "{member}") && !strings.Contains(e.Body, "{{"+profile.RefMemberID+"}}") {
			bad(name, "must name the member: {member} in its path or {{member_id}} in its body")
		}
		if _, err := parseGroupBody(name, e); err != nil {
			bad(name+".body", "%v", err)
		}
	}
	return errs
}

// groupCall sends group endpoint name for group platformID (and member),
// with its body rendered from name and externalID.
func (c *Client) groupCall(ctx context.Context, name, platformID, member string, g user.Group) (any, error) {
	e := groupEndpoints(c.p.Groups)[name]
	op := "rest group " + strings.ReplaceAll(name, "_", " ")
	if !c.p.Groups.Configured() {
		return nil, fmt.Errorf("%s: target.rest.groups is not set, so this platform cannot manage groups", op)
	}
	for _, id := range []struct{ what, v, in string }{{"group", platformID, "{id}"}, {"member", member, "{member}"}} {
		if strings.Contains(e.Path, id.in) {
			if err := user.CheckPlatformID(id.v); err != nil {
				return nil, fmt.Errorf("%s: %s id %q: %w", op, id.what, id.v, err)
			}
		}
	}
	path := strings.NewReplacer("{id}", url.PathEscape(platformID), "{member}", url.PathEscape(member)).Replace(e.Path)
	q := url.Values{}
	for _, kv := range e.Query {
		k, v, _ := strings.Cut(kv, "=")
		q.Add(k, v)
	}
	var body []byte
	if e.Body != "" {
		t, err := parseGroupBody(name, e)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		body, err = t.Render(func(ref string) any {
			switch ref {
			case profile.RefGroupName:
				return g.Name
			case profile.RefExternalID:
				return g.ID
			case profile.RefPlatformID:
				return platformID
			case profile.RefMemberID:
				return member
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
	v, err := c.call(ctx, op, e.Method, path, q, body)
	if err != nil {
		return nil, c.outcome("groups."+name, err)
	}
	return v, nil
}

// CreateGroup creates an empty group named g.Name (keeping g.ID where the
// profile's external_id says, when its body does).
func (c *Client) CreateGroup(ctx context.Context, g user.Group) (user.PlatformGroup, error) {
	v, err := c.groupCall(ctx, "create", "", "", g)
	if err != nil {
		return user.PlatformGroup{}, err
	}
	idPath := c.p.Groups.ID
	if c.p.Groups.Create.ID != "" {
		idPath = c.p.Groups.Create.ID
	}
	id := text(get(v, idPath))
	if err := user.CheckPlatformID(id); err != nil {
		return user.PlatformGroup{}, fmt.Errorf("rest group create %s: the platform answered group id %q (at %s), which dirsync refuses: %w", g.Name, id, idPath, err)
	}
	return user.PlatformGroup{PlatformID: id, ExternalID: g.ID, Name: g.Name}, nil
}

// RenameGroup renames group platformID to g.Name.
func (c *Client) RenameGroup(ctx context.Context, platformID string, g user.Group) error {
	_, err := c.groupCall(ctx, "rename", platformID, "", g)
	return err
}

// DeleteGroup deletes group platformID.
func (c *Client) DeleteGroup(ctx context.Context, platformID string) error {
	_, err := c.groupCall(ctx, "delete", platformID, "", user.Group{})
	return err
}

// PatchGroupMembers adds and removes members one call each, stopping at the
// first failure. A conflict answering an add (the member is there already)
// is no failure.
func (c *Client) PatchGroupMembers(ctx context.Context, platformID string, add, remove []string) error {
	for _, m := range add {
		if _, err := c.groupCall(ctx, "add_member", platformID, m, user.Group{}); err != nil && !sync409(err) {
			return err
		}
	}
	for _, m := range remove {
		if _, err := c.groupCall(ctx, "remove_member", platformID, m, user.Group{}); err != nil {
			return err
		}
	}
	return nil
}

// listAll reads every item of a listing at path, following Link rel="next".
func (c *Client) listAll(ctx context.Context, op, path, items string) ([]any, error) {
	q := c.withQuery(nil)
	var out []any
	maxPages := c.p.List.MaxPages
	if maxPages <= 0 {
		maxPages = profile.DefaultMaxPages
	}
	for page := 0; ; page++ {
		if page >= maxPages {
			return nil, fmt.Errorf("%s: more than %d pages; the listing does not end", op, maxPages)
		}
		v, h, err := c.send(ctx, op, http.MethodGet, path, q, nil)
		if err != nil {
			return nil, err
		}
		arr, ok := get(v, items)
		list, isList := arr.([]any)
		if !ok || (!isList && arr != nil) {
			return nil, fmt.Errorf("%s: the response holds no array at %q", op, items)
		}
		out = append(out, list...)
		next := nextLink(h.Values("Link"))
		if next == "" {
			return out, nil
		}
		if path, q, err = c.follow(path, q, next); err != nil {
			return nil, fmt.Errorf("%s: next page %s: %w", op, next, err)
		}
	}
}

// group maps a group object of the listing.
func (c *Client) group(obj any) user.PlatformGroup {
	g := c.p.Groups
	pg := user.PlatformGroup{PlatformID: text(get(obj, g.ID)), Name: text(get(obj, g.Name))}
	if g.ExternalID != "" {
		pg.ExternalID = text(get(obj, g.ExternalID))
	}
	return pg
}

// members reads group platformID's member ids.
func (c *Client) members(ctx context.Context, platformID string) ([]string, error) {
	m := c.p.Groups.Members
	const op = "rest list group members"
	if err := user.CheckPlatformID(platformID); err != nil {
		return nil, fmt.Errorf("%s: group id %q: %w", op, platformID, err)
	}
	items, err := c.listAll(ctx, op, strings.ReplaceAll(m.Path, "{id}", url.PathEscape(platformID)), m.Items)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(items))
	for _, it := range items {
		id := text(get(it, m.ID))
		if id == "" {
			return nil, fmt.Errorf("%s: a member has no id at %q", op, m.ID)
		}
		ids = append(ids, id)
	}
	return user.SortedSet(ids), nil
}

// findGroup returns the listed group match accepts, with its members.
func (c *Client) findGroup(ctx context.Context, op, key, value string, match func(user.PlatformGroup) bool) (user.PlatformGroup, error) {
	if !c.p.Groups.Configured() {
		return user.PlatformGroup{}, fmt.Errorf("%s: target.rest.groups is not set, so this platform cannot manage groups", op)
	}
	items, err := c.listAll(ctx, op, c.p.Groups.List.Path, c.p.Groups.List.Items)
	if err != nil {
		return user.PlatformGroup{}, err
	}
	var found []user.PlatformGroup
	for _, it := range items {
		if g := c.group(it); g.PlatformID != "" && match(g) {
			found = append(found, g)
		}
	}
	switch len(found) {
	case 0:
		return user.PlatformGroup{}, &target.NotFoundError{Op: op, Key: key, Value: value}
	case 1:
	default:
		return user.PlatformGroup{}, fmt.Errorf("%s: %d groups match %q: resolve the duplicate on the platform", op, len(found), value)
	}
	g := found[0]
	if err := user.CheckPlatformID(g.PlatformID); err != nil {
		return user.PlatformGroup{}, fmt.Errorf("%s: the platform listed group id %q, which dirsync refuses: %w", op, g.PlatformID, err)
	}
	if g.Members, err = c.members(ctx, g.PlatformID); err != nil {
		return user.PlatformGroup{}, err
	}
	return g, nil
}

// LookupGroup finds a group by externalId (when the profile keeps it) or by
// name (case-insensitively) in the listing of groups.
func (c *Client) LookupGroup(ctx context.Context, key, value string) (user.PlatformGroup, error) {
	op := "rest look up group by " + key
	switch key {
	case user.MatchGroupExternalID:
		if c.p.Groups.ExternalID == "" {
			return user.PlatformGroup{}, &target.FilterRefusedError{Op: op, Key: key, Err: errors.New("target.rest.groups.external_id is not set")}
		}
		return c.findGroup(ctx, op, key, value, func(g user.PlatformGroup) bool { return g.ExternalID == value })
	case user.MatchGroupName:
		return c.findGroup(ctx, op, key, value, func(g user.PlatformGroup) bool { return strings.EqualFold(g.Name, value) })
	}
	return user.PlatformGroup{}, fmt.Errorf("%s: unknown key %q", op, key)
}

// GetGroup reads group platformID, with its members, from the listing.
func (c *Client) GetGroup(ctx context.Context, platformID string) (user.PlatformGroup, error) {
	return c.findGroup(ctx, "rest read group", "id", platformID, func(g user.PlatformGroup) bool { return g.PlatformID == platformID })
}
