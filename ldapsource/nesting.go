package ldapsource

import (
	"context"
	"errors"
	"fmt"
	"strings"
	gosync "sync"

	"github.com/go-ldap/ldap/v3"
)

// nesting is the directory's group membership graph, read from the groups'
// member values (ldap.nested_groups): for each member DN (by dnKey), the
// DNs of the groups that list it. A user's groups are then its own memberOf
// values and every group that holds it, directly or through groups, so that
// a mapping of a group (target.groups, a REST profile's mappings) reaches the
// members of its subgroups, whether or not the server maintains or expands
// memberOf.
type nesting struct {
	parents map[string][]string
}

// groups returns the DNs of the groups that hold dn, or any of have (group
// DNs), directly or through other groups, with have; cycles end.
func (n *nesting) groups(dn string, have []string) []string {
	out := append([]string(nil), have...)
	seen := map[string]bool{dnKey(dn): true}
	queue := []string{dnKey(dn)}
	for _, g := range have {
		if k := dnKey(g); !seen[k] {
			seen[k] = true
			queue = append(queue, k)
		}
	}
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		for _, p := range n.parents[k] {
			pk := dnKey(p)
			if seen[pk] {
				continue
			}
			seen[pk] = true
			out = append(out, p)
			queue = append(queue, pk)
		}
	}
	return out
}

// nestingCache holds the last graph read.
type nestingCache struct {
	mu gosync.Mutex
	n  *nesting
}

// nesting returns the graph last read, nil when ldap.nested_groups is off or
// none was read yet.
func (s *Source) nesting() *nesting {
	s.nest.mu.Lock()
	defer s.nest.mu.Unlock()
	return s.nest.n
}

// mapper returns the mapper of s's entries, with the nesting graph last read.
func (s *Source) mapper() mapper {
	m := newMapper(s.cfg)
	m.nest = s.nesting()
	return m
}

// refreshNesting reads the group graph again when ldap.nested_groups is on;
// when cached, a graph read before is kept if there is one. An incomplete
// read is an error.
func (s *Source) refreshNesting(ctx context.Context, conn *ldap.Conn, cached bool) error {
	if !s.cfg.NestedGroups || (cached && s.nesting() != nil) {
		return nil
	}
	n, err := s.readNesting(ctx, conn)
	if err != nil {
		return fmt.Errorf("ldap.nested_groups: read the groups' members: %w", err)
	}
	s.nest.mu.Lock()
	s.nest.n = n
	s.nest.mu.Unlock()
	return nil
}

// readNesting reads every group under ldap.group_base_dn (default: the user
// base DNs) with its member values, ranged ones to the end.
func (s *Source) readNesting(ctx context.Context, conn *ldap.Conn) (*nesting, error) {
	n := &nesting{parents: map[string][]string{}}
	bases := s.cfg.bases()
	if s.cfg.GroupBaseDN != "" {
		bases = []string{s.cfg.GroupBaseDN}
	}
	seen := map[string]bool{}
	for _, base := range bases {
		var ranged []string
		err := s.search(ctx, conn, base, subgroupFilter, []string{s.memberAttr(), "uniqueMember"}, func(e *ldap.Entry) {
			k := dnKey(e.DN)
			if seen[k] {
				return
			}
			seen[k] = true
			values, isRanged := memberValues(e)
			if isRanged {
				ranged = append(ranged, e.DN)
				return
			}
			n.add(e.DN, values)
		}, nil)
		if err != nil {
			return nil, err
		}
		for _, dn := range ranged {
			values, found, err := s.readMembers(ctx, conn, dn)
			if err == nil && !found {
				err = errors.New("the group is gone")
			}
			if err != nil {
				return nil, fmt.Errorf("read the members of %s: %w", dn, err)
			}
			n.add(dn, values)
		}
	}
	return n, nil
}

func (n *nesting) add(group string, members []string) {
	g := strings.TrimSpace(group)
	for _, v := range members {
		if k := dnKey(v); k != "" {
			n.parents[k] = append(n.parents[k], g)
		}
	}
}
