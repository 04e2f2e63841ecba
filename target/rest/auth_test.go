package rest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	gosync "sync"
	"testing"

	"github.com/dirsync/dirsync/target"
	"github.com/dirsync/dirsync/target/rest"
	"github.com/dirsync/dirsync/target/rest/profile"
	"github.com/dirsync/dirsync/user"
)

// authPlatform is a platform that lists no users and records how each call
// authenticated; /oauth/token issues tokens by the client credentials grant
// and records the token requests.
type authPlatform struct {
	url string

	mu     gosync.Mutex
	calls  []http.Header
	tokens []url.Values // token request forms, "basic" holding the basic-auth user
	issued []string
	// echo makes a create fail with the request's Authorization header in
	// the error message, as a careless platform does.
	echo bool
}

func newAuthPlatform(t *testing.T) *authPlatform {
	p := &authPlatform{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/oauth/token" {
			_ = r.ParseForm()
			form := url.Values{}
			for k, v := range r.PostForm {
				form[k] = v
			}
			if id, _, ok := r.BasicAuth(); ok {
				form.Set("basic", id)
			}
			p.tokens = append(p.tokens, form)
			tok := fmt.Sprintf("access-%d-0f9e8d", len(p.tokens))
			p.issued = append(p.issued, tok)
			_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600})
			return
		}
		p.calls = append(p.calls, r.Header.Clone())
		if r.Method == http.MethodPost && p.echo {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]any{"message": "bad request with Authorization: " + r.Header.Get("Authorization")})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"users": []any{}})
	}))
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

func (p *authPlatform) lastCall(t *testing.T) http.Header {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.calls) == 0 {
		t.Fatal("the platform got no call")
	}
	return p.calls[len(p.calls)-1]
}

func authConfig(url string, auth profile.Auth) target.Config {
	cfg := target.Default()
	cfg.Type, cfg.URL, cfg.Token = target.TypeREST, url, "s3cr3t-token"
	cfg.Rest = profile.Profile{
		Auth:       auth,
		List:       profile.List{Path: "/users", Items: "users"},
		ID:         "id",
		Fields:     map[string]string{"email": "email"},
		Active:     "active",
		Create:     profile.Endpoint{Method: http.MethodPost, Path: "/users", Body: `{"email": "{{email}}"}`},
		Deactivate: profile.Endpoint{Method: http.MethodDelete, Path: "/users/{id}"},
	}
	cfg.Rest.Delete = cfg.Rest.Deactivate
	cfg.Rest.Deactivate = profile.Endpoint{}
	return cfg
}

func checkWith(t *testing.T, cfg target.Config) *rest.Client {
	t.Helper()
	c, err := rest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	return c
}

func TestAuth_SchemeOtherThanBearerPrefixesTheToken(t *testing.T) {
	p := newAuthPlatform(t)
	checkWith(t, authConfig(p.url, profile.Auth{Type: profile.AuthBearer, AuthMore: profile.AuthMore{Scheme: "SSWS"}}))
	if got := p.lastCall(t).Get("Authorization"); got != "SSWS s3cr3t-token" {
		t.Errorf("Authorization = %q, want the SSWS scheme", got)
	}
	checkWith(t, authConfig(p.url, profile.Auth{Type: profile.AuthHeader, Header: "Authorization", AuthMore: profile.AuthMore{Scheme: "Zoho-oauthtoken"}}))
	if got := p.lastCall(t).Get("Authorization"); got != "Zoho-oauthtoken s3cr3t-token" {
		t.Errorf("Authorization = %q, want the Zoho-oauthtoken scheme", got)
	}
}

func TestAuth_KeyAndSecretGoInTwoHeadersAndBothAreRedacted(t *testing.T) {
	p := newAuthPlatform(t)
	cfg := authConfig(p.url, profile.Auth{Type: profile.AuthHeader, Header: "X-Api-Secret",
		AuthMore: profile.AuthMore{KeyHeader: "X-Api-Key", Key: "key-1234abcd"}})
	checkWith(t, cfg)
	h := p.lastCall(t)
	if h.Get("X-Api-Secret") != "s3cr3t-token" || h.Get("X-Api-Key") != "key-1234abcd" {
		t.Errorf("headers %v, want X-Api-Key and X-Api-Secret", h)
	}
	if s := cfg.String() + fmt.Sprintf("%+v", cfg.Redacted()); strings.Contains(s, "key-1234abcd") || strings.Contains(s, "s3cr3t-token") {
		t.Errorf("the printed config shows a secret: %s", s)
	}
}

func TestAuth_OAuth2CredentialsInTheBodyWithAudienceAndParams(t *testing.T) {
	p := newAuthPlatform(t)
	checkWith(t, authConfig(p.url, profile.Auth{Type: profile.AuthOAuth2, TokenURL: "/oauth/token", ClientID: "dirsync", Scopes: []string{"users.rw"},
		AuthMore: profile.AuthMore{Credentials: profile.CredentialsBody, Audience: "https://api.example.com", TokenParams: []string{"resource=urn:users"}}}))
	form := p.tokens[0]
	if form.Get("basic") != "" || form.Get("client_id") != "dirsync" || form.Get("client_secret") != "s3cr3t-token" {
		t.Errorf("token request %v: want client_id and client_secret in the body, no basic auth", form)
	}
	if form.Get("audience") != "https://api.example.com" || form.Get("resource") != "urn:users" || form.Get("scope") != "users.rw" || form.Get("grant_type") != "client_credentials" {
		t.Errorf("token request %v: want grant_type, scope, audience and resource", form)
	}
	if got := p.lastCall(t).Get("Authorization"); got != "Bearer "+p.issued[0] {
		t.Errorf("Authorization = %q, want the issued token", got)
	}
}

func TestAuth_OAuth2CredentialsInBasicAuthByDefault(t *testing.T) {
	p := newAuthPlatform(t)
	checkWith(t, authConfig(p.url, profile.Auth{Type: profile.AuthOAuth2, TokenURL: "/oauth/token", ClientID: "dirsync"}))
	if form := p.tokens[0]; form.Get("basic") != "dirsync" || form.Get("client_secret") != "" {
		t.Errorf("token request %v: want basic auth, no secret in the body", form)
	}
}

func TestAuth_OAuth2AccessTokenIsRedactedFromErrors(t *testing.T) {
	p := newAuthPlatform(t)
	p.echo = true
	c := checkWith(t, authConfig(p.url, profile.Auth{Type: profile.AuthOAuth2, TokenURL: "/oauth/token", ClientID: "dirsync"}))
	_, err := c.Create(ctx, user.User{ID: "u", Email: "a@example.com"})
	if err == nil {
		t.Fatal("Create: want the platform's error")
	}
	if strings.Contains(err.Error(), p.issued[0]) || !strings.Contains(err.Error(), "REDACTED") {
		t.Errorf("the error shows the access token: %v", err)
	}
}

func TestAuth_MoreKeysAreCheckedAndNamed(t *testing.T) {
	for _, tc := range []struct {
		auth profile.Auth
		key  string
	}{
		{profile.Auth{Type: profile.AuthBasic, Username: "u", AuthMore: profile.AuthMore{Scheme: "SSWS"}}, "target.rest.auth.scheme"},
		{profile.Auth{Type: profile.AuthBearer, AuthMore: profile.AuthMore{Scheme: "Bearer token"}}, "target.rest.auth.scheme"},
		{profile.Auth{Type: profile.AuthHeader, Header: "X-Api-Secret", AuthMore: profile.AuthMore{KeyHeader: "X-Api-Key"}}, "target.rest.auth.key_header"},
		{profile.Auth{Type: profile.AuthOAuth2, TokenURL: "/t", ClientID: "c", AuthMore: profile.AuthMore{Credentials: "post"}}, "target.rest.auth.credentials"},
		{profile.Auth{Type: profile.AuthOAuth2, TokenURL: "/t", ClientID: "c", AuthMore: profile.AuthMore{TokenParams: []string{"grant_type=password"}}}, "target.rest.auth.token_params"},
		{profile.Auth{Type: profile.AuthBearer, AuthMore: profile.AuthMore{Audience: "x"}}, "target.rest.auth.credentials"},
	} {
		err := authConfig("https://platform.example.com", tc.auth).Validate()
		if err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%+v: got %v, want an error naming %s", tc.auth, err, tc.key)
		}
	}
}
