package app

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"go.uber.org/zap"

	"github.com/dirsync/dirsync/internal/config"
	"github.com/dirsync/dirsync/internal/e2etest"
	"github.com/dirsync/dirsync/internal/slapdtest"
	dsync "github.com/dirsync/dirsync/sync"
	"github.com/dirsync/dirsync/target/fake"
)

// platformEnv is a service over a real slapd and a fake SCIM platform that
// takes the bearer token "old"; the config reads the token from tokenFile.
type platformEnv struct {
	t         *testing.T
	ldap      *slapdtest.Server
	plat      *fake.Server
	s         *Daemon
	dn        string
	tokenFile string
	edits     int
}

func newPlatformEnv(t *testing.T) *platformEnv {
	t.Helper()
	plat := fake.New(fake.Options{Token: "old"})
	url := plat.StartT(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newServiceEnv(t, fmt.Sprintf("target:\n  url: %q\n  token_file: %q\n", url, tokenFile))
	e.plat, e.tokenFile = plat, tokenFile
	return e
}

// newServiceEnv returns a service over a real slapd holding one user, with
// the target section of the config given.
func newServiceEnv(t *testing.T, target string) *platformEnv {
	t.Helper()
	srv := slapdtest.Start(t)
	ou := srv.AddOU(t, "platformclient")
	dn := srv.AddUser(t, ou, slapdtest.UserSpec{UID: "alice", Mail: "alice@example.com", GivenName: "Alice", SN: "Liddell", DisplayName: "Alice"})
	dir := t.TempDir()
	yaml := e2etest.LDAPConfig(srv, ou, "(objectClass=inetOrgPerson)") + target + fmt.Sprintf(`state:
  path: %q
`, filepath.Join(dir, "state.db"))
	file := filepath.Join(dir, "dirsync.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := newTestService(t)
	s.cfg = cfg
	return &platformEnv{t: t, ldap: srv, s: s, dn: dn}
}

// editAndRun changes the user's display name in the directory, so that the
// run that follows updates it on the platform, runs once and returns the
// outcome.
func (e *platformEnv) editAndRun() string {
	e.t.Helper()
	e.edits++
	mod := ldap.NewModifyRequest(e.dn, nil)
	mod.Replace("displayName", []string{fmt.Sprintf("Alice %d", e.edits)})
	if err := e.ldap.Conn(e.t).Modify(mod); err != nil {
		e.t.Fatal(err)
	}
	e.s.runOnce("test")
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	return e.s.lastOutcome
}

// count counts the requests of method (any when "") to path (any when "")
// answered status (any when 0).
func (e *platformEnv) count(method, path string, status int) int {
	n := 0
	for _, r := range e.plat.Requests() {
		if (method == "" || r.Method == method) && (path == "" || r.Path == path) && (status == 0 || r.Status == status) {
			n++
		}
	}
	return n
}

func TestService_RunsKeepOnePlatformClientAndItsPatchProbe(t *testing.T) {
	e := newPlatformEnv(t)
	for i := range 3 { // a create, then two updates
		if got := e.editAndRun(); got != dsync.OutcomeSuccess {
			t.Fatalf("run %d: outcome %q, want success", i+1, got)
		}
	}
	if n := e.count(http.MethodPatch, "", http.StatusOK); n != 2 {
		t.Fatalf("PATCH requests answered 200: %d, want the 2 updates", n)
	}
	if n := e.count(http.MethodGet, "/ServiceProviderConfig", 0); n != 1 {
		t.Errorf("/ServiceProviderConfig read %d times over two runs that updated, want once: the client of the process remembers it", n)
	}
}

func TestService_ARotatedTokenFileIsUsedByTheNextRun(t *testing.T) {
	e := newPlatformEnv(t)
	if got := e.editAndRun(); got != dsync.OutcomeSuccess {
		t.Fatalf("first run: outcome %q, want success", got)
	}
	if err := os.WriteFile(e.tokenFile, []byte("new\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.editAndRun()
	// The fake takes only the old token: the run after the rotation must
	// have sent the new one.
	if e.count("", "", http.StatusUnauthorized) == 0 {
		t.Errorf("the run after target.token_file changed sent the old token (no 401 from a platform that takes only the old one)")
	}
}

func TestService_RunsKeepOneOAuth2Token(t *testing.T) {
	const secret = "partner-s3cret"
	plat := fake.NewREST(fake.RESTOptions{Style: fake.StylePartner, Secret: secret, Seed: 1})
	url := plat.StartT(t)
	prof, err := os.ReadFile("../../examples/targets/partner.yaml")
	if err != nil {
		t.Fatal(err)
	}
	target := strings.NewReplacer(
		"  url: https://partner.example.com", "  url: "+url,
		"${PARTNER_CLIENT_SECRET}", secret,
		"${PARTNER_CUSTOMER_ID}", fake.PartnerCustomer).Replace(string(prof))
	e := newServiceEnv(t, target)
	for i := range 3 { // a create, then two updates
		if got := e.editAndRun(); got != dsync.OutcomeSuccess {
			t.Fatalf("run %d: outcome %q, want success", i+1, got)
		}
	}
	if n := plat.TokenFetches(); n != 1 {
		t.Errorf("OAuth2 tokens fetched over three runs: %d, want 1: the client of the process keeps its token", n)
	}
}

func TestService_ARunThatDidNotSucceedLeavesTheNextANewPlatformClient(t *testing.T) {
	e := newPlatformEnv(t)
	for i := range 2 { // a create, then an update that reads the PATCH support
		if got := e.editAndRun(); got != dsync.OutcomeSuccess {
			t.Fatalf("run %d: outcome %q, want success", i+1, got)
		}
	}
	e.plat.FailNext(1, http.StatusBadRequest, "")
	if got := e.editAndRun(); got != dsync.OutcomePartial {
		t.Fatalf("run with a failed update: outcome %q, want partial", got)
	}
	if got := e.editAndRun(); got != dsync.OutcomeSuccess {
		t.Fatalf("run after: outcome %q, want success", got)
	}
	// What the client learned may be what failed (a stale token, a renamed
	// role, a PATCH support read while the platform was down): the run
	// after one that did not succeed starts afresh.
	if n := e.count(http.MethodGet, "/ServiceProviderConfig", 0); n != 2 {
		t.Errorf("/ServiceProviderConfig read %d times, want twice: once by the first client, once by the one after the partial run", n)
	}
}

// newTestService returns a service with an empty config, ready to start
// runs; their context is cancelled when the test ends.
func newTestService(t *testing.T) *Daemon {
	t.Helper()
	s := NewDaemon(Config{}, zap.NewNop(), DaemonOptions{})
	s.runCtx, s.cancelRun = context.WithCancel(context.Background())
	t.Cleanup(s.cancelRun)
	return s
}
