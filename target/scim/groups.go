package scim

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/dirsync/dirsync/target"
	"github.com/dirsync/dirsync/user"
)

// Create creates u (see createUser) and makes it a member of the SCIM groups
// its directory groups map to (target.groups). When the membership fails the
// account exists: the error says so, and the next run adopts the account and
// sets its membership.
func (c *Client) Create(ctx context.Context, u user.User) (user.Account, error) {
	a, err := c.createUser(ctx, u)
	if err != nil {
		return a, err
	}
	if err := c.syncGroups(ctx, a.PlatformID, u); err != nil {
		return user.Account{}, fmt.Errorf("account %s was created, but its group membership failed (the next run adopts it and retries): %w", a.PlatformID, err)
	}
	return a, nil
}

// Update updates account platformID (see updateUser) and its membership of the
// mapped SCIM groups.
func (c *Client) Update(ctx context.Context, platformID string, u user.User) error {
	if err := c.updateUser(ctx, platformID, u); err != nil {
		return err
	}
	return c.syncGroups(ctx, platformID, u)
}

// syncGroups adds platformID to the members of every mapped SCIM group that u's
// directory groups map to, and removes it from every other mapped group, with
// one PATCH per group.
func (c *Client) syncGroups(ctx context.Context, platformID string, u user.User) error {
	if len(c.groups) == 0 {
		return nil
	}
	want := target.Mapped(c.groups, u.Groups)
	var all []string
	for _, g := range c.groups {
		if !slices.Contains(all, g.Value) {
			all = append(all, g.Value)
		}
	}
	var errs []string
	for _, gid := range all {
		var op map[string]any
		if slices.Contains(want, gid) {
			op = map[string]any{"op": "add", "path": "members", "value": []map[string]any{{"value": platformID}}}
		} else {
			op = map[string]any{"op": "remove", "path": fmt.Sprintf("members[value eq %s]", quote(platformID))}
		}
		body := map[string]any{"schemas": []string{schemaPatchOp}, "Operations": []map[string]any{op}}
		name := "scim " + op["op"].(string) + " group member"
		if _, err := c.do(ctx, name, http.MethodPatch, "Groups/"+url.PathEscape(gid), nil, body); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("target.groups: %s", strings.Join(errs, "; "))
	}
	return nil
}
