package target_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/dirsync/dirsync/target"
)

// awkwardSecret has characters every encoding changes: '+', '/', '=', a
// space, a quote, '<' and '&'.
const awkwardSecret = `Zq+k/9x=w Y"<&>1`

// secretForms are the ways a platform may echo awkwardSecret back.
func secretForms(s string) map[string]string {
	j, _ := json.Marshal(s)
	var plain strings.Builder
	enc := json.NewEncoder(&plain)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	q := url.QueryEscape(s)
	return map[string]string{
		"raw":             s,
		"query escaped":   q,
		"query with %20":  strings.ReplaceAll(q, "+", "%20"),
		"path escaped":    url.PathEscape(s),
		"lower-case hex":  lowerHex(q),
		"JSON":            strings.Trim(string(j), `"`),
		"JSON, HTML kept": strings.Trim(strings.TrimSpace(plain.String()), `"`),
		"JSON, / escaped": strings.ReplaceAll(strings.Trim(string(j), `"`), "/", `\/`),
	}
}

// lowerHex writes the %XX escapes of s in lower case, as some servers do.
func lowerHex(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = lower(b[i+1]), lower(b[i+2])
		}
	}
	return string(b)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'F' {
		return c + 'a' - 'A'
	}
	return c
}

// assertNoSecret fails when text holds s in any form, or a fragment of it (its
// first or last 6 bytes in any form).
func assertNoSecret(t *testing.T, what, text, s string) {
	t.Helper()
	for form, v := range secretForms(s) {
		if strings.Contains(text, v) {
			t.Errorf("%s holds the secret (%s, %q):\n%s", what, form, v, text)
		}
	}
	for form, v := range secretForms(s[:6]) {
		if strings.Contains(text, v) {
			t.Errorf("%s holds the start of the secret (%s, %q):\n%s", what, form, v, text)
		}
	}
}

func TestRedact_MasksRawPercentAndJSONEncodedForms(t *testing.T) {
	forms := secretForms(awkwardSecret)
	for form, v := range forms {
		got := target.Redact("before "+v+" after", awkwardSecret)
		if got != "before REDACTED after" {
			t.Errorf("%s form %q: Redact = %q", form, v, got)
		}
	}
	if got := target.Redact("no secret here", awkwardSecret); got != "no secret here" {
		t.Errorf("Redact changed a text without the secret: %q", got)
	}
}

// echoPlatform answers every request with HTTP 400 and a detail that repeats
// the request's URL (path and query, as sent) and Authorization header, as
// some platforms do, after pad bytes of text.
func echoPlatform(t *testing.T, pad int) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		detail := strings.Repeat("x", pad) + r.Header.Get("Authorization") + " on " + r.URL.RequestURI()
		_ = json.NewEncoder(w).Encode(map[string]string{"detail": detail})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestHTTPClient_EchoedQueryKeyIsRedactedInItsEncodedForms(t *testing.T) {
	srv := echoPlatform(t, 0)
	cfg := target.Default()
	cfg.URL = srv.URL + "/api?api_key=" + url.QueryEscape(awkwardSecret)
	cfg.MaxRetries = 0
	q, err := target.NewQueryParams([]string{"IntegrationKey=" + awkwardSecret + "2"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := target.NewHTTPClient(cfg, q)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Do(context.Background(), target.Request{Op: "test", Method: "GET", Path: "users/" + url.PathEscape(awkwardSecret)})
	if err == nil || !strings.Contains(err.Error(), "HTTP 400") {
		t.Fatalf("err = %v, want the platform's HTTP 400", err)
	}
	assertNoSecret(t, "error", err.Error(), awkwardSecret)
	assertNoSecret(t, "error", err.Error(), awkwardSecret+"2")
}

func TestHTTPClient_SecretAcrossTheDetailLimitIsRedactedWhole(t *testing.T) {
	// The secret starts 8 bytes before the 300th byte of the detail.
	srv := echoPlatform(t, 300-len("Bearer ")-8)
	cfg := target.Default()
	cfg.URL, cfg.MaxRetries = srv.URL, 0
	c, err := target.NewHTTPClient(cfg, target.Bearer(awkwardSecret))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Do(context.Background(), target.Request{Op: "test", Method: "GET"})
	if err == nil {
		t.Fatal("want the platform's HTTP 400")
	}
	assertNoSecret(t, "error", err.Error(), awkwardSecret)
	if !strings.Contains(err.Error(), "Bearer RED") {
		t.Errorf("error does not show the (redacted) echo:\n%v", err)
	}
}

func TestHTTPClient_OAuth2AccessTokenIsRedactedFromErrors(t *testing.T) {
	const accessToken = "at/Rk9v+YmFy=="
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, accessToken)
	})
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		_ = json.NewEncoder(w).Encode(map[string]string{"message": "token " + tok + " (" + url.QueryEscape(tok) + ") may not do this"})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	cfg := target.Default()
	cfg.URL, cfg.MaxRetries = srv.URL+"/api", 0
	o := &target.OAuth2{TokenURL: srv.URL + "/token", ClientID: "c", ClientSecret: "client-s3cret"}
	c, err := target.NewHTTPClient(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Do(context.Background(), target.Request{Op: "test", Method: "GET", Path: "users"})
	if err == nil || !strings.Contains(err.Error(), "may not do this") {
		t.Fatalf("err = %v, want the platform's HTTP 403", err)
	}
	assertNoSecret(t, "error", err.Error(), accessToken)
	if got := c.Redact("a " + accessToken + " b"); got != "a REDACTED b" {
		t.Errorf("Redact = %q", got)
	}
}
