package ldapsource

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"

	"github.com/dirsync/dirsync/user"
)

// rereadChunk bounds the IDs in one search filter.
const rereadChunk = 100

// Reread reads the entries with the given directory IDs again, as Fetch
// would read them: users are those still in scope (base DNs, user filter,
// member_of), mapped and normalized, sorted by ID; gone are the IDs that the
// searches, all complete, found nowhere in scope (deleted, moved out,
// filtered out); skipped are entries in scope that cannot be mapped.
// Duplicates are detected as a full read detects them: the entries in scope
// that share a username or an email with an entry read are read too, and
// those skipped (duplicates, or for a reason of their own) are reported with
// the others; they are not reported as users.
//
// Any error means nothing may be concluded, and no ID is reported gone.
func (s *Source) Reread(ctx context.Context, ids []string) (users []user.User, gone []string, skipped []Skipped, err error) {
	return s.RereadAt(ctx, ids, nil)
}

// RereadAt is Reread that also reads the entries at dns (the DNs last known
// for ids, and entries a change stream named only by DN), and every entry
// holding a value of an ID attribute that holds several. An entry whose ID
// can no longer be read is found there only: it is then skipped, and its
// account found by its DN, as a full read finds it, while its former ID is
// still reported gone. A DN out of the base DNs, or where no entry is, adds
// nothing.
func (s *Source) RereadAt(ctx context.Context, ids, dns []string) (users []user.User, gone []string, skipped []Skipped, err error) {
	ids = uniqueFold(ids)
	dns = s.dnsInScope(dns)
	if len(ids) == 0 && len(dns) == 0 {
		return nil, nil, nil, nil
	}
	conn, closeConn, err := s.connect(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	defer closeConn()

	if err := s.refreshNesting(ctx, conn, true); err != nil {
		return nil, nil, nil, err
	}
	m := s.mapper()
	bases := s.cfg.bases()
	seen := make(map[string]bool)
	type found struct {
		key string
		e   *ldap.Entry
	}
	var raw []found
	disabled := make(map[string]bool)
	// readMatching reads, under every base DN, the users in scope that match
	// match (and marks those of them that are disabled), once each; what
	// names them in an error.
	readMatching := func(match, what string) error {
		for _, base := range bases {
			if s.cfg.DisabledFilter != "" {
				filter := "(&" + s.cfg.UserFilter + s.cfg.DisabledFilter + match + ")"
				err := s.search(ctx, conn, base, filter, noAttributes, func(e *ldap.Entry) {
					disabled[dnKey(e.DN)] = true
				}, nil)
				if err != nil {
					return fmt.Errorf("reread disabled users%s: %w", what, err)
				}
			}
		}
		for _, base := range bases {
			err := s.search(ctx, conn, base, "(&"+s.cfg.UserFilter+match+")", m.attributes(), func(e *ldap.Entry) {
				k := dnKey(e.DN)
				if seen[k] {
					return
				}
				seen[k] = true
				raw = append(raw, found{k, e})
			}, nil)
			if err != nil {
				if what == "" {
					return fmt.Errorf("reread: %w", err)
				}
				return fmt.Errorf("reread users%s: %w", what, err)
			}
		}
		return nil
	}
	searched := make(map[string]bool, len(ids))
	for _, id := range ids {
		searched[strings.ToLower(id)] = true
	}
	// An entry whose ID attribute holds several values is skipped (and
	// archived, disabled) by each of them, as a full read finds it: every
	// entry holding any of its values is read too, so that none is taken
	// for the only holder of a value.
	for pending := ids; len(pending) > 0 || len(dns) > 0; {
		n0 := len(raw)
		for chunk := range slices.Chunk(pending, rereadChunk) {
			idFilter, err := s.idFilter(chunk)
			if err != nil {
				return nil, nil, nil, err
			}
			if err := readMatching(idFilter, ""); err != nil {
				return nil, nil, nil, err
			}
		}
		for _, dn := range dns {
			key := dnKey(dn)
			if seen[key] {
				continue
			}
			if s.cfg.DisabledFilter != "" {
				filter := "(&" + s.cfg.UserFilter + s.cfg.DisabledFilter + ")"
				err := s.searchAt(ctx, conn, dn, filter, noAttributes, func(e *ldap.Entry) {
					disabled[key] = true
				})
				if err != nil {
					return nil, nil, nil, fmt.Errorf("reread disabled users: %w", err)
				}
			}
			err := s.searchAt(ctx, conn, dn, s.cfg.UserFilter, m.attributes(), func(e *ldap.Entry) {
				seen[key] = true
				raw = append(raw, found{key, e})
			})
			if err != nil {
				return nil, nil, nil, fmt.Errorf("reread: %w", err)
			}
		}
		pending, dns = nil, nil
		for _, r := range raw[n0:] {
			for _, v := range m.severalIDs(r.e) {
				if k := strings.ToLower(v); !searched[k] {
					searched[k] = true
					pending = append(pending, v)
				}
			}
		}
	}
	// Any other entry in scope holding the username or email of one read
	// makes it a duplicate: read those too.
	named := len(raw)
	read := make([]*ldap.Entry, named)
	for i, r := range raw {
		read[i] = r.e
	}
	for chunk := range slices.Chunk(s.identityFilters(read), rereadChunk) {
		if err := readMatching("(|"+strings.Join(chunk, "")+")", " sharing a username or email"); err != nil {
			return nil, nil, nil, err
		}
	}
	// The disabled searches may have run before a user search that found
	// the entry: map only now.
	entries := make([]mapped, len(raw))
	isNamed := make(map[string]bool, named)
	for i, r := range raw {
		entries[i] = m.mapEntry(r.e, r.key, disabled[r.key])
		if i < named {
			isNamed[r.key] = true
		}
	}
	if s.cfg.MemberOf != "" && len(entries) > 0 {
		members, err := s.groupMembers(ctx, conn, seen)
		if err != nil {
			return nil, nil, nil, err
		}
		entries = slices.DeleteFunc(entries, func(e mapped) bool { return !members[e.key] })
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, nil, err
	}

	d := newDedup(func(u user.User) error {
		users = append(users, u)
		return nil
	})
	inScope := make(map[string]bool)
	for _, e := range entries {
		if !isNamed[e.key] {
			// Read for its username or email: it counts in duplicate
			// detection, and is reported only if skipped.
			if err := d.add(e); err != nil {
				return nil, nil, nil, err
			}
			continue
		}
		if e.u.ID != "" {
			inScope[strings.ToLower(e.u.ID)] = true
		}
		for _, id := range e.ids { // one of them is the entry's ID
			inScope[strings.ToLower(id)] = true
		}
		if err := d.add(e); err != nil {
			return nil, nil, nil, err
		}
	}
	users, skipped = withoutWithdrawn(users, d.result())
	users = slices.DeleteFunc(users, func(u user.User) bool { return !isNamed[dnKey(u.DN)] })
	slices.SortFunc(users, func(a, b user.User) int { return strings.Compare(a.ID, b.ID) })
	for _, id := range ids {
		if !inScope[strings.ToLower(id)] {
			gone = append(gone, id)
		}
	}
	return users, gone, skipped, nil
}

// identityFilters returns a filter item matching each username and email
// (by their attributes, compared by the server's equality rule) held by an
// entry of entries, once each.
func (s *Source) identityFilters(entries []*ldap.Entry) []string {
	var out []string
	seen := make(map[string]bool)
	for _, e := range entries {
		for _, attr := range []string{s.cfg.Attributes.Username, s.cfg.Attributes.Email} {
			if attr == "" {
				continue
			}
			v := strings.TrimSpace(e.GetEqualFoldAttributeValue(attr))
			if v == "" || !utf8.ValidString(v) {
				continue
			}
			item := "(" + attr + "=" + ldap.EscapeFilter(v) + ")"
			if k := strings.ToLower(item); !seen[k] {
				seen[k] = true
				out = append(out, item)
			}
		}
	}
	return out
}

// dnsInScope returns dns without repeats, those that do not parse and those
// under none of the base DNs.
func (s *Source) dnsInScope(dns []string) []string {
	var bases []*ldap.DN
	for _, b := range s.cfg.bases() {
		if p, err := ldap.ParseDN(b); err == nil {
			bases = append(bases, p)
		}
	}
	have := make(map[string]bool, len(dns))
	var out []string
	for _, dn := range dns {
		p, err := ldap.ParseDN(dn)
		if err != nil || have[dnKey(dn)] || !slices.ContainsFunc(bases, func(b *ldap.DN) bool {
			return b.EqualFold(p) || b.AncestorOfFold(p)
		}) {
			continue
		}
		have[dnKey(dn)] = true
		out = append(out, dn)
	}
	return out
}

// searchAt calls onEntry with the entry at dn if filter matches it; no
// entry at dn is no entry, not an error.
func (s *Source) searchAt(ctx context.Context, conn *ldap.Conn, dn, filter string, attrs []string, onEntry func(*ldap.Entry)) error {
	key := dnKey(dn)
	err := s.search(ctx, conn, dn, filter, attrs, func(e *ldap.Entry) {
		if dnKey(e.DN) == key { // the subtree search also reads what is under dn
			onEntry(e)
		}
	}, nil)
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return nil
	}
	return err
}

// idFilter returns a filter matching any of ids in the ID attribute.
func (s *Source) idFilter(ids []string) (string, error) {
	var b strings.Builder
	b.WriteString("(|")
	for _, id := range ids {
		v, err := s.idValue(id)
		if err != nil {
			return "", err
		}
		b.WriteString("(" + s.cfg.IDAttribute + "=" + v + ")")
	}
	b.WriteString(")")
	return b.String(), nil
}

// idValue is id as an escaped filter value: objectGUID back to its 16
// bytes, anything else as it is.
func (s *Source) idValue(id string) (string, error) {
	if !strings.EqualFold(s.cfg.IDAttribute, "objectGUID") {
		return ldap.EscapeFilter(id), nil
	}
	raw, err := parseGUID(id)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, c := range raw {
		fmt.Fprintf(&b, `\%02x`, c)
	}
	return b.String(), nil
}

// parseGUID is FormatGUID's inverse.
func parseGUID(s string) ([]byte, error) {
	h, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(h) != 16 || len(s) != 36 {
		return nil, fmt.Errorf("%q is not an objectGUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", s)
	}
	b := make([]byte, 16)
	b[0], b[1], b[2], b[3] = h[3], h[2], h[1], h[0]
	b[4], b[5] = h[5], h[4]
	b[6], b[7] = h[7], h[6]
	copy(b[8:], h[8:])
	return b, nil
}

// uniqueFold returns ids without empty and repeated (case-insensitively)
// values, in order.
func uniqueFold(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	var out []string
	for _, id := range ids {
		k := strings.ToLower(id)
		if id == "" || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, id)
	}
	return out
}
