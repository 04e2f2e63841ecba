package rest

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/dirsync/dirsync/target/rest/profile"
)

// mapping returns a mapping's entries, names resolved.
func (c *Client) mapping(name string) []profile.GroupMapping {
	c.resolveMu.Lock()
	defer c.resolveMu.Unlock()
	if c.mappings != nil {
		return c.mappings[name]
	}
	return c.p.Mappings[name]
}

// resolve replaces, once, the names in the mappings listed in
// target.rest.resolve by the ids the platform lists for them. A name the
// platform does not have is an error naming it and the names there are; it is
// tried again on the next call.
func (c *Client) resolve(ctx context.Context) error {
	if len(c.p.Resolve) == 0 {
		return nil
	}
	c.resolveMu.Lock()
	defer c.resolveMu.Unlock()
	if c.resolved {
		return nil
	}
	out := maps.Clone(c.p.Mappings)
	var problems []string
	for _, name := range slices.Sorted(maps.Keys(c.p.Resolve)) {
		r := c.p.Resolve[name]
		op := "rest resolve " + name
		v, err := c.call(ctx, op, http.MethodGet, r.Path, nil, nil)
		if err != nil {
			return fmt.Errorf("target.rest.resolve.%s: %w", name, err)
		}
		raw, _ := get(v, r.Items)
		list, ok := raw.([]any)
		if !ok {
			return fmt.Errorf("target.rest.resolve.%s: the response of %s holds no list at %q", name, c.http.URL(r.Path), r.Items)
		}
		ids := map[string]string{}
		var names []string
		for _, o := range list {
			n := text(get(o, r.Name))
			ids[strings.ToLower(n)] = text(get(o, r.ID))
			names = append(names, n)
		}
		entries := slices.Clone(c.p.Mappings[name])
		for i, m := range entries {
			id, ok := ids[strings.ToLower(m.Value)]
			if !ok {
				problems = append(problems, fmt.Sprintf("target.rest.mappings.%s: the platform has no %s named %q (it has: %s)",
					name, name, m.Value, strings.Join(names, ", ")))
				continue
			}
			entries[i].Value = id
		}
		out[name] = entries
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	c.mappings, c.resolved = out, true
	return nil
}
