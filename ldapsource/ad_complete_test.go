package ldapsource

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/dirsync/dirsync/internal/sambatest"
	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/user"
)

// active counts the platform's active accounts.
func (r *adReconciler) active() int {
	n := 0
	for _, u := range r.platform.Users() {
		if u.Active {
			n++
		}
	}
	return n
}

// mustCreate runs once with a complete read and checks that want accounts
// were created.
func (r *adReconciler) mustCreate(t *testing.T, want int) {
	t.Helper()
	rep, err := r.engine.Run(context.Background(), dsync.RunOptions{})
	if err != nil {
		t.Fatalf("first run: %v", err)
	}
	if rep.Applied[user.OpCreate] != want || r.active() != want {
		t.Fatalf("first run applied %v, %d active accounts; want %d created", rep.Applied, r.active(), want)
	}
}

// mustFailArchivingNobody runs with a broken read: the run must fail with an
// error containing each of want, and every account must still be active.
func (r *adReconciler) mustFailArchivingNobody(t *testing.T, accounts int, want ...string) {
	t.Helper()
	rep, err := r.engine.Run(context.Background(), dsync.RunOptions{})
	if err == nil {
		t.Fatalf("the run with an incomplete read succeeded: applied %v", rep.Applied)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("run error %q does not contain %q", err, w)
		}
	}
	if n := rep.Applied[user.OpArchive] + rep.Applied[user.OpDelete]; n != 0 {
		t.Fatalf("the run with an incomplete read removed %d accounts (%v)", n, err)
	}
	if r.active() != accounts {
		t.Fatalf("%d active accounts after the failed run, want all %d", r.active(), accounts)
	}
	t.Logf("run error: %v", err)
}

// TestAD_BrokenPagingCookieIsAnError sends Samba a corrupted paging cookie
// after the first page of the user search. Whatever Samba answers (an error
// result, or a page that does not continue the search), the read must fail,
// naming the search, and the reconciler must archive nobody.
func TestAD_BrokenPagingCookieIsAnError(t *testing.T) {
	const users = 120
	ldif, ou, _ := sambatest.UsersLDIF("paged", "p", users)
	s := sambatest.Start(t, sambatest.WithLDIF(ldif))

	corruptions := []struct {
		name    string
		corrupt func([]byte) []byte
	}{
		{"bytes flipped", func(c []byte) []byte {
			out := []byte(strings.Clone(string(c)))
			for i := range out {
				out[i] ^= 0x5a
			}
			return out
		}},
		{"truncated", func(c []byte) []byte { return c[:len(c)/2] }},
		{"foreign", func([]byte) []byte { return []byte("not-a-cookie") }},
	}
	for _, fast := range []bool{true, false} {
		for _, cc := range corruptions {
			name := cc.name
			if fast {
				name += "/fast_read"
			} else {
				name += "/go-ldap"
			}
			t.Run(name, func(t *testing.T) {
				c := adConfig(s, ou)
				c.PageSize = 50
				c.FastRead = fast
				src := newSource(t, c)
				var pages []int
				src.OnPage = func(n int) { pages = append(pages, n) }
				rec := newADReconciler(t, src)
				rec.mustCreate(t, users)

				var seen [][]byte
				src.testCookie = func(cookie []byte) []byte {
					seen = append(seen, cookie)
					return cc.corrupt(cookie)
				}
				pages = nil
				got, _, err := src.Fetch(context.Background())
				t.Logf("Samba's cookie %q; pages read %v", seen, pages)
				if len(seen) == 0 {
					t.Fatalf("the read used no paging cookie (pages %v): nothing was corrupted", pages)
				}
				if err == nil {
					t.Fatalf("Fetch with a corrupted paging cookie returned %d users and no error", len(got))
				}
				if got != nil {
					t.Fatalf("Fetch returned %d users with the error %v, want none", len(got), err)
				}
				if !strings.Contains(err.Error(), "ldap search "+ou) {
					t.Errorf("error %q does not name the search of %s", err, ou)
				}
				t.Logf("Fetch error: %v", err)

				streamed := 0
				_, err = src.Stream(context.Background(), func(user.User) error { streamed++; return nil })
				if err == nil {
					t.Fatalf("Stream with a corrupted paging cookie ended without an error after %d users", streamed)
				}

				rec.mustFailArchivingNobody(t, users, "ldap search "+ou)
			})
		}
	}
}

// TestAD_UnresolvedMemberRangeIsAnError reads a member_of group with ranged
// retrieval (Samba ranges only on request; Windows ranges groups over 1,500
// members on its own) and breaks one ranged step after the first: the step
// fails, comes back without its range, or comes back without the group. The
// read must fail rather than give fewer members, and nobody is archived.
func TestAD_UnresolvedMemberRangeIsAnError(t *testing.T) {
	const users = 60
	ldif, _, dns := sambatest.UsersLDIF("ranged", "r", users)
	s := sambatest.Start(t, sambatest.WithLDIF(ldif))
	groups := s.AddOU(t, "groups")
	scope := s.AddGroup(t, groups, "platform-users", dns...)

	breaks := []struct {
		name  string
		brk   func(res *ldap.SearchResult) error
		wants []string
	}{
		{"step fails", func(*ldap.SearchResult) error {
			return ldap.NewError(ldap.LDAPResultUnwillingToPerform, errors.New("range step refused"))
		}, []string{"range step refused"}},
		{"range missing", func(res *ldap.SearchResult) error {
			for _, e := range res.Entries {
				e.Attributes = nil
			}
			return nil
		}, []string{"without a range"}},
		{"group missing", func(res *ldap.SearchResult) error {
			res.Entries = nil
			return nil
		}, []string{"the group was gone"}},
	}
	for _, b := range breaks {
		t.Run(b.name, func(t *testing.T) {
			c := adConfig(s, s.BaseDN())
			c.MemberOf = scope
			src := newSource(t, c)
			src.memberRange = 20
			var steps []string
			src.testMemberStep = func(_ int, res *ldap.SearchResult) error {
				for _, e := range res.Entries {
					for _, a := range e.Attributes {
						if strings.HasPrefix(strings.ToLower(a.Name), "member") {
							steps = append(steps, fmt.Sprintf("%s (%d values)", a.Name, len(a.Values)))
						}
					}
				}
				return nil
			}
			rec := newADReconciler(t, src)
			rec.mustCreate(t, users)
			t.Logf("complete ranged read: %v", steps)
			if len(steps) < 2 || !strings.Contains(steps[1], ";range=") {
				t.Fatalf("the member read's answers were %v, want ranged retrieval in at least 2 steps", steps)
			}

			src.testMemberStep = func(step int, res *ldap.SearchResult) error {
				if step != 1 {
					return nil
				}
				return b.brk(res)
			}
			got, _, err := src.Fetch(context.Background())
			if err == nil {
				t.Fatalf("Fetch with a broken ranged step returned %d users and no error", len(got))
			}
			if got != nil {
				t.Fatalf("Fetch returned %d users with the error %v, want none", len(got), err)
			}
			want := append([]string{"ldap.member_of: read group " + scope}, b.wants...)
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			t.Logf("Fetch error: %v", err)
			rec.mustFailArchivingNobody(t, users, want...)
		})
	}

	// Members removed on the DC between the first ranged step (values 0-19)
	// and the next (values from 20 on), leaving 10: Samba answers the next
	// step with member;range=20-* and no values, a well-formed range. Ending
	// the read there would keep 20 members that were removed and miss the 10
	// still in the group (who would be archived); it must fail instead (the
	// next run reads the group as it now is).
	t.Run("members removed between steps", func(t *testing.T) {
		group := s.AddGroup(t, groups, "shrinking", dns...)
		c := adConfig(s, s.BaseDN())
		c.MemberOf = group
		src := newSource(t, c)
		src.memberRange = 20
		rec := newADReconciler(t, src)
		rec.mustCreate(t, users)
		removed := false
		var answers []string
		src.testMemberStep = func(step int, res *ldap.SearchResult) error {
			if step == 0 && !removed {
				removed = true
				m := ldap.NewModifyRequest(group, nil)
				m.Delete("member", dns[:users-10])
				if err := s.Conn(t).Modify(m); err != nil {
					t.Fatalf("remove members of %s: %v", group, err)
				}
			}
			for _, e := range res.Entries {
				for _, a := range e.Attributes {
					answers = append(answers, fmt.Sprintf("%s (%d values)", a.Name, len(a.Values)))
				}
			}
			return nil
		}
		rec.mustFailArchivingNobody(t, users, "ldap.member_of: read group "+group, "the group changed while its members were read")
		t.Logf("Samba's answers: %v", answers)
		if !removed {
			t.Fatalf("the members were not removed during the read")
		}

		// The next run reads the group as it now is: 10 members; the 50
		// removed are archived.
		rep, err := rec.engine.Run(context.Background(), dsync.RunOptions{})
		if err != nil {
			t.Fatalf("run after the change: %v", err)
		}
		if rep.Applied[user.OpArchive] != users-10 || rec.active() != 10 {
			t.Fatalf("run after the change applied %v, %d active; want %d archived, 10 active", rep.Applied, rec.active(), users-10)
		}
	})

	// Last: it deletes the group. Deleted on the DC between the first
	// ranged step and the next, Samba answers noSuchObject.
	t.Run("group deleted between steps", func(t *testing.T) {
		c := adConfig(s, s.BaseDN())
		c.MemberOf = scope
		src := newSource(t, c)
		src.memberRange = 20
		rec := newADReconciler(t, src)
		rec.mustCreate(t, users)
		src.testMemberStep = func(step int, _ *ldap.SearchResult) error {
			if step == 0 {
				s.Delete(t, scope)
			}
			return nil
		}
		got, _, err := src.Fetch(context.Background())
		if err == nil || got != nil {
			t.Fatalf("Fetch with the group deleted mid-read: %d users, error %v; want no users and an error", len(got), err)
		}
		want := []string{"ldap.member_of: read group " + scope, "the group was gone", "No Such Object"}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not contain %q", err, w)
			}
		}
		t.Logf("Fetch error: %v", err)
	})
}

// TestAD_ServerSizeLimitsNeverGiveAPartialRead lowers the DC's query policy
// limits (lDAPAdminLimits MaxPageSize and MaxResultSetSize, which cap pages
// and paged result sets on Windows) far below the directory's size. Samba
// 4.17 enforces neither (nor a client's size limit): its only size limit is
// the 256 MiB cap on the responses to one search request (one page),
// answered with sizeLimitExceeded (LDAP_SERVER_MAX_REPLY_SIZE in Samba's
// source4/ldap_server/ldap_server.h), too large to provoke in a test.
// Whatever the server does, the read is either complete or an error that
// names the search and the size limit: never fewer users.
func TestAD_ServerSizeLimitsNeverGiveAPartialRead(t *testing.T) {
	const users = 120
	ldif, ou, _ := sambatest.UsersLDIF("limited", "l", users)
	s := sambatest.Start(t, sambatest.WithLDIF(ldif))
	policy := "CN=Default Query Policy,CN=Query-Policies,CN=Directory Service,CN=Windows NT,CN=Services,CN=Configuration," + s.BaseDN()
	conn := s.Conn(t)
	res, err := conn.Search(ldap.NewSearchRequest(policy, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"lDAPAdminLimits"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("read the query policy %s: %v", policy, err)
	}
	var limits []string
	for _, v := range res.Entries[0].GetAttributeValues("lDAPAdminLimits") {
		if !strings.HasPrefix(v, "MaxPageSize=") && !strings.HasPrefix(v, "MaxResultSetSize=") {
			limits = append(limits, v)
		}
	}
	limits = append(limits, "MaxPageSize=10", "MaxResultSetSize=10")
	m := ldap.NewModifyRequest(policy, nil)
	m.Replace("lDAPAdminLimits", limits)
	if err := conn.Modify(m); err != nil {
		t.Fatalf("lower the limits in %s: %v", policy, err)
	}

	for _, fast := range []bool{true, false} {
		c := adConfig(s, ou)
		c.PageSize = 50
		c.FastRead = fast
		src := newSource(t, c)
		var pages []int
		src.OnPage = func(n int) { pages = append(pages, n) }
		got, _, err := src.Fetch(context.Background())
		t.Logf("fast_read %v, MaxPageSize=10: pages %v, %d users, error %v", fast, pages, len(got), err)
		switch {
		case err != nil:
			if got != nil || !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) ||
				!strings.Contains(err.Error(), "ldap search "+ou) {
				t.Fatalf("fast_read %v: %d users and error %v; want none and a size limit error naming the search", fast, len(got), err)
			}
		case len(got) != users:
			t.Fatalf("fast_read %v: read %d users without an error, want all %d", fast, len(got), users)
		}
	}
}
