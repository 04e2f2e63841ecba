package ldapsource

import (
	"context"

	"github.com/go-ldap/ldap/v3"
)

// searchUsers runs the bulk user search: the one read whose speed sets the
// cost of a run. It has search's contract.
func (s *Source) searchUsers(ctx context.Context, conn *ldap.Conn, base, filter string, attrs []string,
	onEntry func(*ldap.Entry), onPage func(int)) error {
	return s.search(ctx, conn, base, filter, attrs, onEntry, onPage)
}
