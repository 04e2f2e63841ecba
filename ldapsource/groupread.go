package ldapsource

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	gosync "sync"
	"sync/atomic"

	"github.com/go-ldap/ldap/v3"

	"github.com/dirsync/dirsync/user"
)

// GroupSearch says which directory groups are pushed to the platform as
// groups (config `groups:`, its directory keys).
type GroupSearch struct {
	// BaseDN is the subtree searched for groups; "" searches ldap.base_dn
	// (and ldap.base_dns).
	BaseDN string
	// Filter selects the groups pushed.
	Filter string
	// NameAttribute holds the group's name (the platform's displayName).
	NameAttribute string
	// Flatten counts the users of a group's subgroups (at any depth) as its
	// members. The subgroups followed are the groups under BaseDN (entries
	// of class groupOfNames, groupOfUniqueNames or group), whether or not
	// Filter selects them.
	Flatten bool
}

// subgroupFilter selects the entries a nested member can be a group of.
const subgroupFilter = "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=group))"

// Validate reports every problem of q, each named by its config key.
func (q GroupSearch) Validate() error {
	var errs []error
	if q.BaseDN != "" {
		if _, err := ldap.ParseDN(q.BaseDN); err != nil {
			errs = append(errs, fmt.Errorf("groups.base_dn: not a valid DN: %v", err))
		}
	}
	if _, err := ldap.CompileFilter(q.Filter); err != nil {
		errs = append(errs, fmt.Errorf("groups.filter: %q is not an LDAP filter: %v", q.Filter, err))
	}
	if !attrDescription.MatchString(q.NameAttribute) {
		errs = append(errs, fmt.Errorf("groups.name_attribute: %q is not an attribute name", q.NameAttribute))
	}
	return errors.Join(errs...)
}

// GroupReader reads the groups a GroupSearch selects (see ReadGroups).
type GroupReader struct {
	s *Source
	q GroupSearch
}

// Groups returns the reader of the groups q selects.
// From then on each user read (Stream) keeps the DNs and IDs of the users it
// met for the next ReadGroups, which then need not search them again.
func (s *Source) Groups(q GroupSearch) GroupReader {
	s.scope.on.Store(true)
	return GroupReader{s: s, q: q}
}

// scopeCache holds the DNs (dnKey) and IDs of the users the last user read
// met, for the group read that follows it.
type scopeCache struct {
	on atomic.Bool
	mu gosync.Mutex
	m  map[string]string
}

// start begins a user read: it returns the map to fill, nil when no group
// reader wants it; a map of an earlier read is dropped.
func (c *scopeCache) start() map[string]string {
	if !c.on.Load() {
		return nil
	}
	c.mu.Lock()
	c.m = nil
	c.mu.Unlock()
	return make(map[string]string)
}

// done keeps m, filled by a complete user read.
func (c *scopeCache) done(m map[string]string) {
	if m == nil {
		return
	}
	c.mu.Lock()
	c.m = m
	c.mu.Unlock()
}

// take returns the map of the last complete user read, once; nil when none.
func (c *scopeCache) take() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.m
	c.m = nil
	return m
}

// ReadGroups reads every group q selects: its stable ID (ldap.id_attribute,
// as for users), its name and its members, the IDs of the users in scope
// (ldap.user_filter under the user base DNs) it holds, directly or, with
// Flatten, through its subgroups (cycles end). Member values are DNs
// compared normalized (escapes and case do not matter); uniqueMember's
// optional "#'…'B" suffix is ignored; Active Directory's ranged member
// values are read to the end. Members that are neither users in scope nor
// subgroups are ignored.
//
// An incomplete read of the users, the groups or any group's members is an
// error, and so is a group without a readable ID or name: never fewer groups
// or members.
func (r GroupReader) ReadGroups(ctx context.Context) ([]user.Group, error) {
	s, q := r.s, r.q
	conn, closeConn, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer closeConn()
	m := newMapper(s.cfg)

	// The users in scope, by DN: those the user read of this run met, or
	// a search of their IDs.
	users := s.scope.take()
	if users == nil {
		users = make(map[string]string)
		for _, base := range s.cfg.bases() {
			err := s.searchUsers(ctx, conn, base, s.cfg.UserFilter, []string{s.cfg.IDAttribute}, func(e *ldap.Entry) {
				if id, bad := m.id(e); bad == "" {
					users[dnKey(e.DN)] = id
				}
			}, nil)
			if err != nil {
				return nil, fmt.Errorf("groups: read the users' IDs: %w", err)
			}
		}
	}

	bases := []string{q.BaseDN}
	if q.BaseDN == "" {
		bases = s.cfg.bases()
	}
	// With Flatten every group a member value can name is read, in one
	// search with the pushed ones; the pushed ones are told apart by a
	// search of their DNs alone.
	var pushedDNs map[string]bool
	filter := q.Filter
	if q.Flatten {
		pushedDNs = map[string]bool{}
		for _, base := range bases {
			err := s.search(ctx, conn, base, q.Filter, []string{"1.1"}, func(e *ldap.Entry) { pushedDNs[dnKey(e.DN)] = true }, nil)
			if err != nil {
				return nil, fmt.Errorf("groups: search %s for %s: %w", base, q.Filter, err)
			}
		}
		filter = "(|" + q.Filter + subgroupFilter + ")"
	}
	type readGroup struct {
		key     string
		group   user.Group
		members []string // member values
	}
	var pushed []readGroup
	// sub holds the member values of every group read, by dnKey (Flatten).
	sub := make(map[string][]string)
	seen := map[string]bool{}
	var bad []string
	attrs := []string{s.cfg.IDAttribute, q.NameAttribute, s.memberAttr(), "uniqueMember"}
	for _, base := range bases {
		var ranged []string // DNs of groups whose members come in ranges
		err := s.search(ctx, conn, base, filter, attrs, func(e *ldap.Entry) {
			k := dnKey(e.DN)
			if seen[k] { // overlapping base DNs
				return
			}
			seen[k] = true
			values, isRanged := memberValues(e)
			if isRanged {
				ranged = append(ranged, e.DN)
			}
			if q.Flatten {
				sub[k] = values
				if !pushedDNs[k] {
					return
				}
			}
			id, why := m.id(e)
			name := strings.TrimSpace(e.GetEqualFoldAttributeValue(q.NameAttribute))
			switch {
			case why != "":
				bad = append(bad, fmt.Sprintf("%s: %s", e.DN, why))
				return
			case name == "":
				bad = append(bad, fmt.Sprintf("%s: no name (attribute %s)", e.DN, q.NameAttribute))
				return
			}
			pushed = append(pushed, readGroup{key: k, group: user.Group{ID: id, DN: e.DN, Name: name}, members: values})
		}, nil)
		if err != nil {
			return nil, fmt.Errorf("groups: search %s for %s: %w", base, filter, err)
		}
		for _, dn := range ranged {
			values, found, err := s.readMembers(ctx, conn, dn)
			if err == nil && !found {
				err = errors.New("the group is gone")
			}
			if err != nil {
				return nil, fmt.Errorf("groups: read the members of %s: %w", dn, err)
			}
			k := dnKey(dn)
			if q.Flatten {
				sub[k] = values
			}
			for i := range pushed {
				if pushed[i].key == k {
					pushed[i].members = values
				}
			}
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("groups: %d groups cannot be pushed, and no group is changed until they can: %s", len(bad), strings.Join(bad, "; "))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	out := make([]user.Group, 0, len(pushed))
	for _, g := range pushed {
		g.group.Members = resolveMembers(g.key, g.members, users, sub)
		out = append(out, g.group.Normalize())
	}
	slices.SortFunc(out, func(a, b user.Group) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// memberAttr is the member attribute a group search asks for: member, or
// its first range when memberRange is set (as Windows answers large groups).
func (s *Source) memberAttr() string {
	if s.memberRange > 0 {
		return "member;range=0-" + strconv.Itoa(s.memberRange-1)
	}
	return "member"
}

// memberValues returns e's member and uniqueMember values, and whether
// member came as a range (its values must be read with readMembers).
func memberValues(e *ldap.Entry) (values []string, ranged bool) {
	for _, a := range e.Attributes {
		name := strings.ToLower(a.Name)
		switch {
		case name == "member":
			values = append(values, a.Values...)
		case name == "uniquemember":
			for _, v := range a.Values {
				values = append(values, withoutUID(v))
			}
		case strings.HasPrefix(name, "member;range="):
			ranged = true
		}
	}
	return values, ranged
}

// withoutUID drops the optional "#'0101'B" unique identifier uniqueMember
// may follow its DN with (RFC 4517 NameAndOptionalUID).
func withoutUID(v string) string {
	i := strings.LastIndex(v, "#'")
	if i > 0 && strings.HasSuffix(v, "'B") && v[i-1] != '\\' {
		return v[:i]
	}
	return v
}

// resolveMembers returns the IDs of the users in values (member DNs) and,
// through sub (the member values of the groups that can be nested, by
// dnKey; nil: no nesting), in the groups they name, at any depth. self is
// the group's own dnKey: a cycle back to it ends.
func resolveMembers(self string, values []string, users map[string]string, sub map[string][]string) []string {
	var ids []string
	visited := map[string]bool{self: true}
	queue := [][]string{values}
	for len(queue) > 0 {
		vs := queue[0]
		queue = queue[1:]
		for _, v := range vs {
			k := dnKey(v)
			if id, ok := users[k]; ok {
				ids = append(ids, id)
				continue
			}
			if nested, ok := sub[k]; ok && !visited[k] {
				visited[k] = true
				queue = append(queue, nested)
			}
		}
	}
	return ids
}
