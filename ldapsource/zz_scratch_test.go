package ldapsource

import (
	"context"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/dirsync/dirsync/internal/slapdtest"
)

func TestScratch(t *testing.T) {
	srv := slapdtest.Start(t, slapdtest.WithLDIF(slapdtest.UsersLDIF("people", 600)))
	ou := "ou=people," + srv.BaseDN()
	c := readerConfig(srv, ou)
	for _, ps := range []int{100, 499, 500, 1000} {
		c.PageSize = ps
		users, _, err := newSource(t, c).Fetch(context.Background())
		t.Logf("fetch page %d: %d %v", ps, len(users), err)
	}
	s := newSource(t, c)
	conn, closeConn, err := s.connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer closeConn()
	res, err := conn.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", []string{"namingContexts"}, nil))
	t.Logf("rootdse %v %v", res.Entries[0].GetAttributeValues("namingContexts"), err)
	res, err = conn.Search(ldap.NewSearchRequest(srv.BaseDN(), ldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", []string{"contextCSN"}, nil))
	csn := res.Entries[0].GetAttributeValues("contextCSN")
	t.Logf("csn %v %v", csn, err)
	conn.SetTimeout(0)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// no cookie
	req := ldap.NewSearchRequest(ou, ldap.ScopeWholeSubtree, 0, 0, 0, false, c.UserFilter, []string{"entryUUID"}, nil)
	r := conn.Syncrepl(ctx, req, 256, ldap.SyncRequestModeRefreshAndPersist, nil, false)
	n := 0
	for r.Next() {
		if r.Entry() != nil {
			n++
		}
		if n > 700 {
			break
		}
		if r.Entry() == nil {
			t.Logf("ctl %v", r.Controls())
			break
		}
	}
	t.Logf("nocookie: n=%d err=%v", n, r.Err())
	conn2, close2, _ := s.connect(context.Background())
	defer close2()
	conn2.SetTimeout(0)
	cookie := []byte("rid=000,csn=" + csn[0])
	req = ldap.NewSearchRequest(ou, ldap.ScopeWholeSubtree, 0, 0, 0, false, c.UserFilter, []string{"entryUUID"}, nil)
	r = conn2.Syncrepl(ctx, req, 256, ldap.SyncRequestModeRefreshAndPersist, cookie, false)
	go func() {
		time.Sleep(time.Second)
		srv.Modify(t, "uid=people-user-000003,"+ou, map[string][]string{"mail": {"x@example.com"}})
	}()
	n = 0
	for r.Next() {
		if e := r.Entry(); e != nil {
			n++
			t.Logf("entry %s %v", e.DN, r.Controls())
			continue
		}
		t.Logf("ctl %v", r.Controls())
	}
	t.Logf("csncookie: n=%d err=%v", n, r.Err())
}
