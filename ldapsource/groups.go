package ldapsource

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// groupMembers returns the dnKeys of the users (among users, the dnKeys read
// by the user search) that are members of cfg.MemberOf, directly or through
// nested groups. It follows the groups' member values, so it does not depend
// on memberOf being maintained; each group is read once, so cycles end.
// Members that are neither users in scope nor groups are ignored.
func (s *Source) groupMembers(ctx context.Context, conn *ldap.Conn, users map[string]bool) (map[string]bool, error) {
	root := s.cfg.MemberOf
	members := make(map[string]bool)
	visited := map[string]bool{dnKey(root): true}
	queue := []string{root}
	for len(queue) > 0 {
		dn := queue[0]
		queue = queue[1:]
		values, found, err := s.readMembers(ctx, conn, dn)
		if err != nil {
			return nil, fmt.Errorf("ldap.member_of: read group %s: %w", dn, err)
		}
		if !found && dn == root {
			return nil, fmt.Errorf("ldap.member_of: group %s does not exist or cannot be read by the bind account", root)
		}
		for _, v := range values {
			k := dnKey(v)
			switch {
			case k == "":
			case users[k]:
				members[k] = true
			case !visited[k]:
				// Not a user in scope: perhaps a nested group.
				visited[k] = true
				queue = append(queue, v)
			}
		}
	}
	return members, nil
}

// readMembers reads the member values of the entry dn, following Active
// Directory's ranged retrieval (member;range=0-1499) for large groups. found
// is false when dn does not exist or cannot be seen.
func (s *Source) readMembers(ctx context.Context, conn *ldap.Conn, dn string) (values []string, found bool, err error) {
	attr := "member"
	if s.memberRange > 0 {
		attr = "member;range=0-" + strconv.Itoa(s.memberRange-1)
	}
	start := 0 // the first value the next response must begin with
	// Ranged steps are separate reads, not a snapshot: a group changed
	// between them gives values from two states (members removed meanwhile
	// shift the later ranges, so members still in the group are missed).
	// On Active Directory every change of the group moves its uSNChanged;
	// a value that differs between the steps fails the read.
	usn := ""
	for step := 0; ; step++ {
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		req := ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", []string{attr, "uSNChanged"}, nil)
		res, err := conn.Search(req)
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, false, ctxErr
			}
			if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
				if step > 0 {
					return nil, true, fmt.Errorf("ranged retrieval of member: the group was gone when values from %d on were asked for; the group cannot be read completely: %w", start, err)
				}
				return nil, false, nil
			}
			return nil, false, err
		}
		if s.testMemberStep != nil {
			if err := s.testMemberStep(step, res); err != nil {
				return nil, false, err
			}
		}
		if len(res.Entries) == 0 {
			if step > 0 {
				return nil, true, fmt.Errorf("ranged retrieval of member: the group was gone when values from %d on were asked for; the group cannot be read completely", start)
			}
			return nil, false, nil
		}
		if u := res.Entries[0].GetAttributeValue("uSNChanged"); step == 0 {
			usn = u
		} else if u != "" && usn != "" && u != usn {
			return nil, true, fmt.Errorf("ranged retrieval of member: the group changed while its members were read (uSNChanged %s, then %s); it is read again on the next run", usn, u)
		}
		next := ""
		ranged := false
		for _, a := range res.Entries[0].Attributes {
			name := strings.ToLower(a.Name)
			switch {
			case name == "member":
				values = append(values, a.Values...)
			case strings.HasPrefix(name, "member;range="):
				ranged = true
				values = append(values, a.Values...)
				end, err := checkRange(name, start)
				if err != nil {
					return nil, true, fmt.Errorf("ranged retrieval of member: %w", err)
				}
				if end >= 0 {
					start = end + 1
					next = "member;range=" + strconv.Itoa(start) + "-*"
				}
			}
		}
		if step > 0 && !ranged {
			// A step after a ranged answer that brings back no range
			// would end the read with the values so far.
			return nil, true, fmt.Errorf("ranged retrieval of member: the server answered the request for values from %d on without a range; the group cannot be read completely", start)
		}
		if next == "" {
			return values, true, nil
		}
		attr = next
	}
}

// checkRange checks a ranged attribute name answering a request for values
// from start on, and returns its end (-1 for "*", the last range). A range
// that does not begin at start, or ends before it, is an error: following it
// would lose values or loop for ever.
func checkRange(name string, start int) (int, error) {
	end, ok := rangeEnd(name)
	_, r, _ := strings.Cut(name, ";range=")
	first, _, _ := strings.Cut(r, "-")
	got, err := strconv.Atoi(first)
	if !ok || err != nil || got < 0 {
		return 0, fmt.Errorf("malformed ranged attribute %s", name)
	}
	if got != start || (end >= 0 && end < start) {
		return 0, fmt.Errorf("the server answered %s to a request for values from %d on; the group cannot be read completely", name, start)
	}
	return end, nil
}

// rangeEnd parses the end of "member;range=<start>-<end>": -1 for "*", the
// last range.
func rangeEnd(name string) (int, bool) {
	_, r, ok := strings.Cut(name, ";range=")
	if !ok {
		return 0, false
	}
	_, end, ok := strings.Cut(r, "-")
	if !ok {
		return 0, false
	}
	if end == "*" {
		return -1, true
	}
	n, err := strconv.Atoi(end)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}
