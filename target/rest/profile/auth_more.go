package profile

import (
	"net/url"
	"strings"

	"github.com/dirsync/dirsync/target/internal/sensitive"
)

// Where OAuth2 client credentials go (target.rest.auth.credentials).
const (
	CredentialsBasic = "basic" // HTTP basic auth (client_secret_basic), the default
	CredentialsBody  = "body"  // client_id and client_secret in the form body (client_secret_post)
)

// AuthMore are the keys of target.rest.auth beyond the type's own:
//
//	auth:
//	  type: bearer
//	  scheme: SSWS              # "Authorization: SSWS <target.token>" (bearer, header)
//
//	auth:
//	  type: header
//	  header: X-Api-Secret      # carries target.token
//	  key_header: X-Api-Key     # and a second header carries the key
//	  key: "${API_KEY}"
//
//	auth:
//	  type: oauth2
//	  token_url: https://idp.example.com/oauth/token
//	  client_id: dirsync
//	  credentials: body         # basic (default) | body
//	  audience: https://api.example.com
//	  token_params: ["resource=https://api.example.com"]
type AuthMore struct {
	// Scheme goes before target.token in the header (types bearer and
	// header): SSWS (Okta), Token, Zoho-oauthtoken. Default for bearer
	// "Bearer"; none for header.
	Scheme string `mapstructure:"scheme" json:"scheme,omitempty"`
	// KeyHeader and Key are a second header sent with type header, for
	// platforms that want an API key and a secret in two headers; the key is
	// redacted like the secret.
	KeyHeader string `mapstructure:"key_header" json:"key_header,omitempty"`
	Key       string `mapstructure:"key" json:"key,omitempty"`
	// Credentials is where the OAuth2 client id and secret go: basic
	// (default) or body.
	Credentials string `mapstructure:"credentials" json:"credentials,omitempty"`
	// Audience is sent as the token request's audience parameter (Auth0,
	// Okta custom authorization servers).
	Audience string `mapstructure:"audience" json:"audience,omitempty"`
	// TokenParams are more "name=value" parameters of the token request,
	// e.g. resource=https://api.example.com.
	TokenParams []string `mapstructure:"token_params" json:"token_params,omitempty"`
}

// TokenRequestParams returns the OAuth2 token request's extra parameters:
// audience and token_params.
func (a Auth) TokenRequestParams() url.Values {
	v := url.Values{}
	if a.Audience != "" {
		v.Set("audience", a.Audience)
	}
	for _, kv := range a.TokenParams {
		if name, val, ok := strings.Cut(kv, "="); ok {
			v.Add(name, val)
		}
	}
	if len(v) == 0 {
		return nil
	}
	return v
}

// moreSecrets returns the secret values among the keys above.
func (a Auth) moreSecrets() []string {
	var out []string
	if a.Key != "" {
		out = append(out, a.Key)
	}
	for _, kv := range a.TokenParams {
		if name, val, ok := strings.Cut(kv, "="); ok && sensitive.Name(name) && val != "" {
			out = append(out, val)
		}
	}
	return out
}

// redactedMore returns the keys above with their secrets masked.
func (a Auth) redactedMore() AuthMore {
	m := a.AuthMore
	if m.Key != "" {
		m.Key = sensitive.Mask
	}
	if len(m.TokenParams) > 0 {
		params := make([]string, len(m.TokenParams))
		for i, kv := range m.TokenParams {
			if name, _, ok := strings.Cut(kv, "="); ok && sensitive.Name(name) {
				kv = name + "=" + sensitive.Mask
			}
			params[i] = kv
		}
		m.TokenParams = params
	}
	return m
}
