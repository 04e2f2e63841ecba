package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/target/fake"
)

func TestCheck_ProvesARESTProfileByReadingTheWholeListingWithoutWriting(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	plat := fake.NewREST(fake.RESTOptions{Style: fake.StyleLifecycle, Secret: "lc-token", PageSize: 2, Seed: 1})
	useRESTProfile(t, e, "lifecycle.yaml", plat.StartT(t), map[string]string{"LIFECYCLE_API_TOKEN": "lc-token"})
	e.addUser("alice", false)
	for _, n := range []string{"ada", "alan", "grace", "edsger", "barbara"} {
		plat.Add(fake.RESTUser{UserName: n + "@example.com", Email: n + "@example.com", GivenName: strings.ToUpper(n[:1]) + n[1:], Active: true})
	}

	r := e.mustRun(0, "check")
	wantContains(t, "check stdout", r.stdout,
		"accepted dirsync's credentials",
		"platform listing: 3 pages, 5 accounts",
		"the first 5 accounts, as the profile maps them",
		"externalId", "ada@example.com", "Barbara",
		"match key email: 5/5 accounts have one; lookup: ok",
		"match key externalId (target.rest.match_by): no account has one",
		"match key userName: not mapped (target.rest.fields.username)",
	)
	for _, req := range plat.Requests() {
		if req.Method != http.MethodGet {
			t.Fatalf("check sent %s %s: it must not write", req.Method, req.Path)
		}
	}

	// A platform whose next link leads back to the same page: check fails,
	// naming the profile key, instead of looping.
	plat.LoopPaging(true)
	r = e.mustRun(1, "check")
	wantContains(t, "check stdout with a looping listing", r.stdout, "✗ platform listing stopped after", "never end", "target.rest.list.pagination")
}
