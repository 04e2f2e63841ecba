package ldapsource

import (
	"context"

	"github.com/go-ldap/ldap/v3"
)

// searchUsers runs the bulk user search: the one read whose speed sets the
// cost of a run. It has search's contract.
//
// go-ldap decodes each message into a tree of packets, which costs more than
// the server takes to send the entry; the user search reads the whole
// directory, so unless ldap.fast_read is false it is made with wireSearch,
// over a connection of its own set up like conn (same URL, TLS, bind and
// timeout), and conn is left idle meanwhile.
func (s *Source) searchUsers(ctx context.Context, conn *ldap.Conn, base, filter string, attrs []string,
	onEntry func(*ldap.Entry), onPage func(int)) error {
	if !s.cfg.FastRead {
		return s.search(ctx, conn, base, filter, attrs, onEntry, onPage)
	}
	return s.wireSearch(ctx, base, filter, attrs, onEntry, onPage)
}
