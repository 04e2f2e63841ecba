package ldapsource

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// DirSync flags (MS-ADTS 3.1.1.3.4.1.3).
const (
	// dirSyncObjectSecurity: return only what the bind account may read,
	// instead of requiring it to read everything.
	dirSyncObjectSecurity = 0x1
)

// dirsync asks Active Directory, every poll interval, for the objects
// changed since the cookie (the DirSync control). Deleted objects come back
// too (isDeleted, as far as the account can see them): every ID is read
// again, and only one no longer found in scope is reported gone. When the DC
// refuses DirSync, the stream falls back to polling uSNChanged.
func (st *stream) dirsync(ctx context.Context) error {
	conn, closeConn, err := st.s.connect(ctx)
	if err != nil {
		return err
	}
	defer closeConn()
	st.h.Connected(st.key, true, nil)

	// DirSync searches must start at the root of a naming context: the
	// domain that holds the base DN. The reread narrows to the base DN.
	root := domainRoot(st.base)
	m := newMapper(st.s.cfg)
	// DirSync returns an object only when one of the requested attributes
	// changed: ask for every attribute a user is read from. A deleted
	// object (a tombstone) has lost objectCategory and most attributes, so
	// deletions are asked for by isDeleted; any ID named is read again and
	// only reported gone when it is not found in scope.
	attrs := append(m.attributes(), "isDeleted")
	for _, a := range filterAttributes(st.s.cfg.DisabledFilter) {
		if !slices.ContainsFunc(attrs, func(o string) bool { return strings.EqualFold(o, a) }) {
			attrs = append(attrs, a)
		}
	}
	filter := "(|" + st.s.cfg.UserFilter + "(isDeleted=TRUE))"
	first := st.cookie == nil
	var ids []string
	for {
		f := filter
		if first {
			// Without a cookie DirSync answers with every object the
			// filter matches: the whole domain, which the full read the
			// stream asks for reads again. The cookie holds only the
			// DC's position (USNs), not the filter: a first pass that
			// matches no object yields the cookie of the DC's state now,
			// and sends nothing.
			f = dirSyncNothing
		}
		req := ldap.NewSearchRequest(root, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			f, attrs, nil)
		res, err := conn.DirSync(req, dirSyncObjectSecurity, 0, st.cookie)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if ldap.IsErrorWithCode(err, ldap.LDAPResultInsufficientAccessRights) ||
				ldap.IsErrorWithCode(err, ldap.LDAPResultUnwillingToPerform) ||
				ldap.IsErrorWithCode(err, ldap.LDAPResultUnavailableCriticalExtension) {
				// Refused: the DC does not offer DirSync, the account may
				// not use it, or root is not a naming context (the DC says
				// which in err).
				return &errFallback{to: WatchPoll, err: fmt.Errorf("ldap dirsync %s: the directory refuses DirSync there (DirSync starts at the DC=... suffix of base_dn, which must be the root of a naming context, and the DC must offer DirSync to the bind account; see the README); polling uSNChanged instead: %w", root, err)}
			}
			if st.cookie != nil && ldap.IsErrorWithCode(err, ldap.LDAPResultProtocolError) {
				return fmt.Errorf("%w: %w", errCookieRefused, err)
			}
			return fmt.Errorf("ldap dirsync %s: %w", root, err)
		}
		if st.s.testDirSyncEntries != nil {
			st.s.testDirSyncEntries(len(res.Entries))
		}
		ctl, _ := ldap.FindControl(res.Controls, ldap.ControlTypeDirSync).(*ldap.ControlDirSync)
		if ctl == nil {
			return fmt.Errorf("ldap dirsync %s: %w", root, errDirSyncEnded)
		}
		if !first {
			for _, e := range res.Entries {
				if id, reason := m.id(e); reason == "" {
					ids = append(ids, id)
				}
			}
		}
		st.cookie = ctl.Cookie
		if ctl.Flags != 0 {
			continue // more changes waiting
		}
		switch {
		case first:
			st.emit(Change{Resync: true, Cookie: ctl.Cookie})
			first = false
		case len(ids) > 0:
			st.emit(Change{IDs: ids, Cookie: ctl.Cookie})
		}
		// With nothing changed, the new cookie is only used for the next
		// question: the kept one resumes just as well.
		ids = nil
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(st.s.cfg.pollInterval()):
		}
	}
}

// dirSyncNothing is a filter no object matches (every object, a tombstone
// too, has an objectClass).
const dirSyncNothing = "(!(objectClass=*))"

// domainRoot returns the DC=... suffix of dn: the domain naming context
// that holds it.
func domainRoot(dn string) string {
	parsed, err := ldap.ParseDN(dn)
	if err != nil {
		return dn
	}
	i := len(parsed.RDNs)
	for i > 0 {
		r := parsed.RDNs[i-1]
		if len(r.Attributes) != 1 || !strings.EqualFold(r.Attributes[0].Type, "DC") {
			break
		}
		i--
	}
	if i == len(parsed.RDNs) {
		return dn
	}
	return (&ldap.DN{RDNs: parsed.RDNs[i:]}).String()
}

// filterAttr matches the attribute of each item of an LDAP filter.
var filterAttr = regexp.MustCompile(`\(([A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)+)(?:;[A-Za-z0-9-]+)*(?::[^=()]*)?[~<>]?=`)

// filterAttributes returns the attributes a filter tests.
func filterAttributes(filter string) []string {
	var out []string
	for _, m := range filterAttr.FindAllStringSubmatch(filter, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}
