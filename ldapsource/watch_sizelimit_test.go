package ldapsource

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/dirsync/dirsync/internal/slapdtest"
)

// sizeLimitedUsers is more users than OpenLDAP's default size limit (500)
// lets an ordinary account read in one search.
const sizeLimitedUsers = 600

// startSizeLimited starts a slapd set up as installed: syncprov on, the
// reader account under the default size limit of 500 entries per search
// (paged searches lifted, so that the full read works), and 600 users under
// ou=people. It returns the server, the OU and a reader config for it.
func startSizeLimited(t *testing.T, opts ...slapdtest.Option) (*slapdtest.Server, string, Config) {
	t.Helper()
	opts = append([]slapdtest.Option{slapdtest.WithUnlimitedPagedReads(),
		slapdtest.WithLDIF(slapdtest.UsersLDIF("people", sizeLimitedUsers))}, opts...)
	srv := slapdtest.Start(t, opts...)
	ou := "ou=people," + srv.BaseDN()
	c := readerConfig(srv, ou)
	users, _, err := newSource(t, c).Fetch(context.Background())
	if err != nil || len(users) != sizeLimitedUsers {
		t.Fatalf("the paged full read as the reader: %d users, %v; want %d", len(users), err, sizeLimitedUsers)
	}
	return srv, ou, c
}

func peopleDN(srv *slapdtest.Server, i int) string {
	return fmt.Sprintf("uid=people-user-%06d,ou=people,%s", i, srv.BaseDN())
}

// An account under the default size limit follows a directory larger than
// the limit with syncrepl: the stream starts from the server's contextCSN
// (no unpaged listing of the subtree), asks for one full read, and reports a
// change; it never drops.
func TestWatch_SyncreplStreamsChangesForASizeLimitedAccount(t *testing.T) {
	for _, mode := range []string{WatchSyncrepl, WatchAuto} {
		t.Run(mode, func(t *testing.T) {
			srv, _, c := startSizeLimited(t)
			c.Watch = mode
			s := newSource(t, c)
			r, _ := startWatch(t, s, WatchSyncrepl, nil)
			r.waitInitialResync(t, "rid=")

			dn := peopleDN(srv, 3)
			srv.Modify(t, dn, map[string][]string{"mail": {"changed@example.com"}})
			id := srv.EntryUUID(t, dn)
			r.waitFor(t, "the modify, reported by the stream", func() bool { return r.reported(id) })
			r.mu.Lock()
			defer r.mu.Unlock()
			if len(r.downs) != 0 || len(r.modes) != 0 {
				t.Errorf("the stream dropped %v, fell back to %v; want it up throughout", r.downs, r.modes)
			}
			resyncs := 0
			for _, ch := range r.changes {
				if ch.Resync {
					resyncs++
				}
			}
			if resyncs != 1 {
				t.Errorf("%d resyncs, want 1 (the start): %+v", resyncs, r.changes)
			}
		})
	}
}

// Where the server still cuts the refresh short (here the contextCSN is
// hidden from the account, so the stream must list the subtree), ldap.watch:
// auto falls back to poll, once, saying what to change, and the poll stream
// reports changes.
func TestWatch_AutoFallsBackToPollWhenTheSizeLimitCutsTheRefreshShort(t *testing.T) {
	srv, ou, c := startSizeLimited(t, slapdtest.WithHiddenContextCSN())
	s := autoWatchSource(t, c, WatchSyncrepl, "the server offers content synchronization")
	pollKey := s.StreamKeys(WatchPoll)[ou]
	r, _ := startWatch(t, s, WatchSyncrepl, nil)
	r.waitFallBackToPoll(t, pollKey, pollTS)
	down := r.firstDown()
	if !errors.Is(down, ErrFallingBack) || !strings.Contains(down.Error(), "size limit") ||
		!strings.Contains(down.Error(), "size=unlimited") || !strings.Contains(down.Error(), "polling instead") {
		t.Errorf("the fall back says %q; want the size limit, what to change and that it polls instead", down)
	}

	dn := peopleDN(srv, 7)
	srv.Modify(t, dn, map[string][]string{"mail": {"polled@example.com"}})
	id := srv.EntryUUID(t, dn)
	r.waitFor(t, "the modify, seen by the poll", func() bool { return r.reported(id) })
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Equal(r.modes, []string{WatchPoll}) {
		t.Errorf("modes %v, want one fall back, to poll", r.modes)
	}
}

// With ldap.watch: syncrepl asked for explicitly, the same server is a
// refusal: retried, never polled behind the operator's back, each error
// marked ErrStreamRefused and saying what to change.
func TestWatch_SyncreplRefusedBySizeLimitSaysWhatToChange(t *testing.T) {
	_, _, c := startSizeLimited(t, slapdtest.WithHiddenContextCSN())
	c.Watch = WatchSyncrepl
	r, _ := startWatch(t, newSource(t, c), WatchSyncrepl, nil)
	r.waitFor(t, "two refused attempts", func() bool { return len(r.downs) >= 2 })
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.modes) != 0 {
		t.Errorf("fell back to %v with ldap.watch: syncrepl", r.modes)
	}
	for _, err := range r.downs[:2] {
		if !errors.Is(err, ErrStreamRefused) || !strings.Contains(err.Error(), `limits dn.exact="cn=reader,dc=example,dc=com" size=unlimited`) ||
			!strings.Contains(err.Error(), "ldap.watch: poll") {
			t.Errorf("refusal %q: want ErrStreamRefused, the limits line to add and the poll alternative", err)
		}
	}
}

// On an OpenLDAP server as installed, without a limits line for the
// account, the total of a paged search is held to the default size limit
// too: the full read fails, and says which limits line lets it through.
func TestFetch_DefaultSizeLimitErrorNamesTheLimitsLine(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.WithLDIF(slapdtest.UsersLDIF("people", sizeLimitedUsers)))
	c := readerConfig(srv, "ou=people,"+srv.BaseDN())
	users, _, err := newSource(t, c).Fetch(context.Background())
	if err == nil || users != nil {
		t.Fatalf("Fetch = %d users, %v; want the size limit's error", len(users), err)
	}
	if !strings.Contains(err.Error(), `limits dn.exact="cn=reader,dc=example,dc=com" size.prtotal=unlimited`) {
		t.Errorf("error %q does not name the limits line that lets paged reads through", err)
	}
}

// A stream resumed from a cookie taken before more changes than the size
// limit allows (here 550 of 600 users, no session log) gets a refresh the
// server cuts short: it starts again from the server's current state, asks
// for one full read, and stays up.
func TestWatch_SyncreplResumedPastTheSizeLimitStartsAgainFromTheServersState(t *testing.T) {
	srv, ou, c := startSizeLimited(t)
	c.Watch = WatchSyncrepl
	s := newSource(t, c)
	key := s.StreamKeys(WatchSyncrepl)[ou]
	r, cancel := startWatch(t, s, WatchSyncrepl, nil)
	r.waitInitialResync(t, "rid=")
	cancel()
	old := r.lastCookie()

	conn := srv.Conn(t)
	for i := range 550 {
		req := ldap.NewModifyRequest(peopleDN(srv, i), nil)
		req.Replace("title", []string{"changed while stopped"})
		if err := conn.Modify(req); err != nil {
			t.Fatal(err)
		}
	}

	r2, _ := startWatch(t, s, WatchSyncrepl, map[string][]byte{key: old})
	r2.waitFor(t, "a resync from the server's current state", func() bool {
		return slices.ContainsFunc(r2.changes, func(ch Change) bool {
			return ch.Resync && ch.Cookie != nil && string(ch.Cookie) != string(old)
		})
	})
	dn := peopleDN(srv, 599)
	srv.Modify(t, dn, map[string][]string{"mail": {"after@example.com"}})
	id := srv.EntryUUID(t, dn)
	r2.waitFor(t, "a change after the new start", func() bool { return r2.reported(id) })
	r2.mu.Lock()
	defer r2.mu.Unlock()
	for _, err := range r2.downs {
		if errors.Is(err, ErrStreamRefused) {
			t.Errorf("refused after resuming past the size limit: %v", err)
		}
	}
	if len(r2.modes) != 0 {
		t.Errorf("fell back to %v", r2.modes)
	}
}
