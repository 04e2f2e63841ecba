package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/dirsync/dirsync/target"
	"github.com/dirsync/dirsync/user"
)

// The SCIM Groups pushed from the directory (groups.push): created with
// externalId and displayName, renamed, deleted, and their members changed by
// PATCH (RFC 7644 §3.5.2) in requests of at most MemberChunk members.

const schemaGroup = "urn:ietf:params:scim:schemas:core:2.0:Group"

// MemberChunk is the most members one PATCH of a group adds or removes:
// platforms bound the operations of one request (often to 100 or a few
// hundred), and a large group is changed in several requests.
const MemberChunk = 100

// groupResource is a SCIM Group as read.
type groupResource struct {
	ID          string     `json:"id"`
	ExternalID  flexString `json:"externalId"`
	DisplayName flexString `json:"displayName"`
	Members     []struct {
		Value flexString `json:"value"`
	} `json:"members"`
}

func (g *groupResource) platformGroup() user.PlatformGroup {
	pg := user.PlatformGroup{PlatformID: g.ID, ExternalID: string(g.ExternalID), Name: string(g.DisplayName)}
	ids := make([]string, 0, len(g.Members))
	for _, m := range g.Members {
		ids = append(ids, string(m.Value))
	}
	pg.Members = user.SortedSet(ids)
	return pg
}

func groupPath(platformID string) string { return "Groups/" + url.PathEscape(platformID) }

// CreateGroup creates an empty group with g's externalId and displayName.
func (c *Client) CreateGroup(ctx context.Context, g user.Group) (user.PlatformGroup, error) {
	op := "scim create group " + g.Name
	body := map[string]any{"schemas": []string{schemaGroup}, "externalId": g.ID, "displayName": g.Name, "members": []any{}}
	resp, err := c.do(ctx, op, http.MethodPost, "Groups", nil, body)
	if err != nil {
		return user.PlatformGroup{}, err
	}
	var r groupResource
	if err := decode(op, resp, &r); err != nil {
		return user.PlatformGroup{}, err
	}
	if err := user.CheckPlatformID(r.ID); err != nil {
		return user.PlatformGroup{}, fmt.Errorf("%s: %s: the platform answered group id %q, which dirsync refuses: %w", op, resp.URL, r.ID, err)
	}
	return r.platformGroup(), nil
}

// RenameGroup replaces the displayName of group platformID by g.Name.
func (c *Client) RenameGroup(ctx context.Context, platformID string, g user.Group) error {
	if err := checkID("scim rename group", platformID); err != nil {
		return err
	}
	body := map[string]any{"schemas": []string{schemaPatchOp}, "Operations": []map[string]any{
		{"op": "replace", "path": "displayName", "value": g.Name}}}
	_, err := c.do(ctx, "scim rename group "+g.Name, http.MethodPatch, groupPath(platformID), nil, body)
	return err
}

// DeleteGroup deletes group platformID.
func (c *Client) DeleteGroup(ctx context.Context, platformID string) error {
	if err := checkID("scim delete group", platformID); err != nil {
		return err
	}
	_, err := c.do(ctx, "scim delete group", http.MethodDelete, groupPath(platformID), nil, nil)
	return err
}

// PatchGroupMembers adds add and removes remove from group platformID's
// members, MemberChunk members a request: an add of the listed members, and
// a remove per member by filter (members[value eq "id"]). It stops at the
// first failure.
func (c *Client) PatchGroupMembers(ctx context.Context, platformID string, add, remove []string) error {
	if err := checkID("scim change group members", platformID); err != nil {
		return err
	}
	for len(add) > 0 {
		n := min(len(add), MemberChunk)
		vals := make([]map[string]any, n)
		for i, id := range add[:n] {
			vals[i] = map[string]any{"value": id}
		}
		body := map[string]any{"schemas": []string{schemaPatchOp}, "Operations": []map[string]any{
			{"op": "add", "path": "members", "value": vals}}}
		if _, err := c.do(ctx, fmt.Sprintf("scim add %d group members", n), http.MethodPatch, groupPath(platformID), nil, body); err != nil {
			return err
		}
		add = add[n:]
	}
	for len(remove) > 0 {
		n := min(len(remove), MemberChunk)
		ops := make([]map[string]any, n)
		for i, id := range remove[:n] {
			ops[i] = map[string]any{"op": "remove", "path": "members[value eq " + quote(id) + "]"}
		}
		body := map[string]any{"schemas": []string{schemaPatchOp}, "Operations": ops}
		if _, err := c.do(ctx, fmt.Sprintf("scim remove %d group members", n), http.MethodPatch, groupPath(platformID), nil, body); err != nil {
			return err
		}
		remove = remove[n:]
	}
	return nil
}

// GetGroup reads group platformID with its members.
func (c *Client) GetGroup(ctx context.Context, platformID string) (user.PlatformGroup, error) {
	const op = "scim read group"
	if err := checkID(op, platformID); err != nil {
		return user.PlatformGroup{}, err
	}
	resp, err := c.do(ctx, op, http.MethodGet, groupPath(platformID), nil, nil)
	if err != nil {
		return user.PlatformGroup{}, err
	}
	var r groupResource
	if err := decode(op, resp, &r); err != nil {
		return user.PlatformGroup{}, err
	}
	if r.ID != platformID {
		return user.PlatformGroup{}, fmt.Errorf("%s: %s: answered group %q, not %q", op, resp.URL, r.ID, platformID)
	}
	return r.platformGroup(), nil
}

// LookupGroup finds the group whose externalId (case-exact) or displayName
// (case-insensitive) is value.
func (c *Client) LookupGroup(ctx context.Context, key, value string) (user.PlatformGroup, error) {
	op := "scim look up group by " + key
	var match func(*groupResource) bool
	switch key {
	case user.MatchGroupExternalID:
		match = func(g *groupResource) bool { return string(g.ExternalID) == value }
	case user.MatchGroupName:
		match = func(g *groupResource) bool { return strings.EqualFold(string(g.DisplayName), value) }
	default:
		return user.PlatformGroup{}, fmt.Errorf("%s: unknown key %q", op, key)
	}
	if strings.TrimSpace(value) == "" {
		return user.PlatformGroup{}, &target.NotFoundError{Op: op, Key: key, Value: value}
	}
	f := key + " eq " + quote(value)
	resp, err := c.do(ctx, op, http.MethodGet, "Groups", url.Values{"filter": {f}, "startIndex": {"1"}, "count": {"10"}}, nil)
	var he *target.HTTPError
	if errors.As(err, &he) && (he.Status == http.StatusBadRequest || he.Status == http.StatusNotImplemented) {
		return user.PlatformGroup{}, &target.FilterRefusedError{Op: op, Key: key, Filter: f, Err: err}
	}
	if err != nil {
		return user.PlatformGroup{}, err
	}
	var list struct {
		Resources []groupResource `json:"Resources"`
	}
	if err := decode(op, resp, &list); err != nil {
		return user.PlatformGroup{}, err
	}
	var found []user.PlatformGroup
	for i := range list.Resources {
		if r := &list.Resources[i]; r.ID != "" && match(r) {
			if err := user.CheckPlatformID(r.ID); err != nil {
				return user.PlatformGroup{}, fmt.Errorf("%s: %s: the platform answered group id %q, which dirsync refuses: %w", op, resp.URL, r.ID, err)
			}
			found = append(found, r.platformGroup())
		}
	}
	switch len(found) {
	case 0:
		return user.PlatformGroup{}, &target.NotFoundError{Op: op, Key: key, Value: value}
	case 1:
		return found[0], nil
	}
	return user.PlatformGroup{}, fmt.Errorf("%s: %d groups match %q: resolve the duplicate on the platform", op, len(found), value)
}
