package crash

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"

	"github.com/dirsync/dirsync/internal/e2etest"
	"github.com/dirsync/dirsync/target/fake"
)

// How an echoing platform answers (echoPlatform.mode).
const (
	echoOff     = iota // pass every request to the fake
	echoRequest        // HTTP 400 repeating the request: URL, credentials, headers as JSON
	echoAtCut          // HTTP 400 whose detail has the credential across its 300th byte
)

// echoPlatform stands before a fake and, when asked, answers every API
// request with an error repeating the request's credentials, as some
// platforms do: raw, percent-encoded and JSON-escaped.
type echoPlatform struct {
	next http.Handler
	mode atomic.Int32
}

func (p *echoPlatform) echo(w http.ResponseWriter, r *http.Request, auth string) bool {
	var detail string
	switch p.mode.Load() {
	case echoOff:
		return false
	case echoRequest:
		hdr, _ := json.Marshal(map[string]string{"Authorization": auth})
		detail = fmt.Sprintf("rejected %s %s authorized by %s (%s); headers %s", r.Method, r.URL.RequestURI(), auth, url.QueryEscape(auth), hdr)
	case echoAtCut:
		detail = strings.Repeat("x", 300-len("Bearer ")-8) + auth
	}
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:Error"}, "status": "400",
		"detail": detail, "message": detail})
	return true
}

func (p *echoPlatform) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !p.echo(w, r, r.Header.Get("Authorization")) {
		p.next.ServeHTTP(w, r)
	}
}

// encodedForms are the forms a secret takes in text, and those of its first
// 8 bytes (what a cut leaves).
func encodedForms(secret string) []string {
	var out []string
	for _, s := range []string{secret, secret[:8]} {
		q := url.QueryEscape(s)
		j, _ := json.Marshal(s)
		var plain strings.Builder
		enc := json.NewEncoder(&plain)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(s)
		js := strings.Trim(string(j), `"`)
		out = append(out, s, q, strings.ReplaceAll(q, "+", "%20"), url.PathEscape(s),
			js, strings.ReplaceAll(js, "/", `\/`), strings.Trim(strings.TrimSpace(plain.String()), `"`))
	}
	return out
}

// assertNoSecretForms fails when an output or the snapshot files hold any
// secret in any of its forms, and when no output shows a redacted echo (the
// platform's errors must have reached the outputs for the test to mean
// anything).
func (e *crashEnv) assertNoSecretForms(outputs []string, secrets []string) {
	e.t.Helper()
	echoed := false
	for _, out := range outputs {
		echoed = echoed || (strings.Contains(out, "REDACTED") && strings.Contains(out, "authorized by"))
	}
	if !echoed {
		e.t.Errorf("no output shows the platform's (redacted) echo:\n%s", strings.Join(outputs, "\n----\n"))
	}
	files := map[string]string{}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if b, err := os.ReadFile(e.statePath() + suffix); err == nil {
			files["state file "+e.statePath()+suffix] = string(b)
		}
	}
	for i, out := range outputs {
		files[fmt.Sprintf("output %d", i)] = out
	}
	for what, text := range files {
		for _, s := range secrets {
			for _, f := range encodedForms(s) {
				if strings.Contains(text, f) {
					e.t.Errorf("%s holds the secret %q as %q:\n%s", what, s, f, text)
				}
			}
		}
	}
}

// TestSecretsNeverAppearInAnyEncodedFormInOutputLogsOrSnapshot runs against
// platforms that echo requests back in their errors, with credentials that
// every encoding changes, and greps for the secrets in every form: a bearer
// token, a query-parameter key holding + / = and an OAuth2 access token.
func TestSecretsNeverAppearInAnyEncodedFormInOutputLogsOrSnapshot(t *testing.T) {
	t.Run("bearer token and query key", func(t *testing.T) {
		const token = `Tk9+xQ/7= "<&>z`
		const key = `Kq2+/w=e y&<`
		e := newCrashEnv(t, 6, crashOpts{})
		e.plat = fake.New(fake.Options{Token: token, Seed: 7})
		p := &echoPlatform{next: e.plat}
		srv := httptest.NewServer(p)
		t.Cleanup(srv.Close)
		e.url = srv.URL + fake.BasePath + "?api_key=" + url.QueryEscape(key)
		e.writeConfig(crashOpts{token: token, sync: "  circuit_breaker: 2\n"})

		outputs := e.echoRuns(p)
		e.assertNoSecretForms(outputs, []string{token, key})
	})

	t.Run("oauth2 access token", func(t *testing.T) {
		const clientSecret = "partner-s3cret"
		e := newCrashEnv(t, 6, crashOpts{})
		plat := fake.NewREST(fake.RESTOptions{Style: fake.StylePartner, Secret: clientSecret, Seed: 3})
		p := &oauthEcho{echoPlatform: echoPlatform{next: plat}, real: map[string]string{}}
		srv := httptest.NewServer(p)
		t.Cleanup(srv.Close)
		prof, err := os.ReadFile("../../examples/targets/partner.yaml")
		if err != nil {
			t.Fatal(err)
		}
		target := strings.NewReplacer(
			"  url: https://partner.example.com", "  url: "+srv.URL+"\n  rate_limit: 1000\n  max_retries: 0\n  timeout: 10s",
			"${PARTNER_CLIENT_SECRET}", clientSecret,
			"${PARTNER_CUSTOMER_ID}", fake.PartnerCustomer).Replace(string(prof))
		yaml := e2etest.LDAPConfig(e.ldap, e.ou, "(objectClass=inetOrgPerson)") + target + fmt.Sprintf(`sync:
  max_archive: 100000
  max_archive_percent: 100
  circuit_breaker: 2
state:
  path: %q
log:
  level: info
  format: json
`, e.statePath())
		if err := os.WriteFile(e.configPath(), []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}

		outputs := e.echoRuns(&p.echoPlatform)
		tokens := p.issued()
		if len(tokens) == 0 {
			t.Fatal("no access token was issued")
		}
		e.assertNoSecretForms(outputs, append(tokens, clientSecret))
	})
}

// echoRuns syncs once while the platform behaves, then runs sync and check
// while it echoes requests back in both ways, then status; it returns every
// output.
func (e *crashEnv) echoRuns(p *echoPlatform) []string {
	e.t.Helper()
	var outputs []string
	keep := func(r crashResult) { outputs = append(outputs, r.stdout, r.stderr) }
	keep(e.crashMustRun(0, "sync", "--output", "json", "--log-level", "debug"))
	for i := range 2 {
		e.ldap.Modify(e.t, fmt.Sprintf("uid=people-user-%06d,%s", i, e.ou), map[string][]string{"sn": {"Changed"}})
	}
	for _, mode := range []int32{echoRequest, echoAtCut} {
		p.mode.Store(mode)
		keep(e.crashMustRun(1, "sync", "--output", "json", "--log-level", "debug"))
		keep(e.crashMustRun(1, "sync", "--log-level", "debug"))
		keep(e.crashMustRun(1, "check", "--log-level", "debug"))
	}
	p.mode.Store(echoOff)
	keep(e.crashMustRun(0, "status", "--output", "json"))
	keep(e.crashMustRun(0, "status"))
	return outputs
}

// oauthEcho issues its own access tokens, holding + / = and characters JSON
// escapes, in place of the fake's (which it keeps, to pass requests on), and
// echoes them back when asked.
type oauthEcho struct {
	echoPlatform
	mu   gosync.Mutex
	real map[string]string // issued token → the fake's
}

func (p *oauthEcho) issued() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for tok := range p.real {
		out = append(out, tok)
	}
	return out
}

func (p *oauthEcho) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/oauth/token" {
		rec := httptest.NewRecorder()
		p.next.ServeHTTP(rec, r)
		var tr struct {
			AccessToken string `json:"access_token"`
		}
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &tr) != nil {
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
		p.mu.Lock()
		tok := fmt.Sprintf(`At%d+x/Q= "<&>`, len(p.real)+1)
		p.real[tok] = tr.AccessToken
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600})
		return
	}
	auth := r.Header.Get("Authorization")
	if p.echo(w, r, auth) {
		return
	}
	p.mu.Lock()
	real, ok := p.real[strings.TrimPrefix(auth, "Bearer ")]
	p.mu.Unlock()
	if ok {
		r.Header.Set("Authorization", "Bearer "+real)
	}
	p.next.ServeHTTP(w, r)
}
