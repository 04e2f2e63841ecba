package rest_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/dirsync/dirsync/target/fake"
	"github.com/dirsync/dirsync/target/rest"
	"github.com/dirsync/dirsync/user"
)

func partner(t *testing.T) (platform, *fake.REST, *rest.Client) {
	return restPlatform(t, fake.StylePartner, "partner.yaml", "partner-secret",
		map[string]string{"PARTNER_CLIENT_SECRET": "partner-secret", "PARTNER_CUSTOMER_ID": fake.PartnerCustomer}, true, true)
}

// eventually waits for cond, failing the test after 5s.
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

func TestBatchCreate_CreatesWaitingTogetherGoInOneRequestEachWithItsOwnResult(t *testing.T) {
	_, srv, c := partner(t)
	if err := c.Check(ctx); err != nil { // fetch the token first, so Hold catches an invite
		t.Fatal(err)
	}
	srv.FailEmail("u3@example.com", true)
	arrived, release := srv.Hold()
	type res struct {
		a   user.Account
		err error
	}
	results := make([]chan res, 5)
	for i := range results {
		results[i] = make(chan res, 1)
	}
	create := func(i int) {
		a, err := c.Create(ctx, user.User{ID: fmt.Sprint("u", i), Username: fmt.Sprint("u", i), Email: fmt.Sprintf("u%d@example.com", i)})
		results[i] <- res{a, err}
	}
	go create(0)
	<-arrived // the first create's request is at the platform, held
	for i := 1; i < 5; i++ {
		go create(i)
	}
	eventually(t, func() bool { return c.Queued() == 4 })
	release()
	for i, ch := range results {
		r := <-ch
		if i == 3 {
			if r.err == nil || !strings.Contains(r.err.Error(), "invitation rejected for u3@example.com") {
				t.Errorf("u3: got %v, want its own per-user error", r.err)
			}
			continue
		}
		if r.err != nil || r.a.PlatformID == "" {
			t.Errorf("u%d: got %+v, %v; want created", i, r.a, r.err)
			continue
		}
		if got, ok := srv.ByEmail(fmt.Sprintf("u%d@example.com", i)); !ok || got.ID != r.a.PlatformID {
			t.Errorf("u%d: id %s does not match the platform's %+v", i, r.a.PlatformID, got)
		}
	}
	if reqs, users := c.BatchStats(); reqs != 2 || users != 5 {
		t.Fatalf("sent %d batch requests with %d users, want 2 requests (1 + 4 queued) with 5", reqs, users)
	}
}

func TestBatchCreate_HalfFailedBatchRecordsEachOutcomeAndRetriesOnlyTheFailed(t *testing.T) {
	p, srv, c := partner(t)
	var users []user.User
	for _, n := range []string{"Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald"} {
		users = append(users, person("id-"+n, n, "X"))
	}
	h := newHarness(t, p, users...)
	srv.FailEmail("grace@example.com", true)
	srv.FailEmail("donald@example.com", true)
	rep := h.run()
	if rep.Applied[user.OpCreate] != 4 || len(rep.Failed) != 2 {
		t.Fatalf("applied %+v, failed %+v; want 4 created and 2 failed", rep.Applied, rep.Failed)
	}
	for _, f := range rep.Failed {
		if !strings.Contains(f.Error, "invitation rejected for "+f.Change.User.Email) {
			t.Errorf("failure of %s carries %q, not its own error", f.Change.User.Email, f.Error)
		}
	}
	_, before := c.BatchStats()
	srv.FailEmail("grace@example.com", false)
	srv.FailEmail("donald@example.com", false)
	rep = h.runClean()
	if rep.Applied[user.OpCreate] != 2 {
		t.Fatalf("retry run applied %+v, want the 2 failed creates", rep.Applied)
	}
	if _, after := c.BatchStats(); after-before != 2 {
		t.Fatalf("retry run sent %d users in batches, want only the 2 that failed", after-before)
	}
	if n := len(p.accounts()); n != 6 {
		t.Fatalf("platform has %d accounts, want 6", n)
	}
}
