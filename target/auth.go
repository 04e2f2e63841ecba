package target

import "net/http"

// Auth authenticates requests to the platform. Bearer is the only scheme SCIM
// needs; the REST target adds header keys, basic auth, query parameters and OAuth2
// client credentials by implementing this interface.
type Auth interface {
	// Authorize adds credentials to r. It is called for every attempt.
	Authorize(r *http.Request) error
	// Secrets lists the values Authorize sends, so that they are redacted from
	// every URL and error text the client produces, in every encoded form
	// (see Redact). It is called each time a text is redacted: an Auth that
	// obtains secrets while it runs (an OAuth2 access token) lists them too,
	// those it replaced included (see SecretSet). It must be safe for
	// concurrent use.
	Secrets() []string
}

// Bearer is a token sent as "Authorization: Bearer <token>".
type Bearer string

// Authorize sets the Authorization header.
func (b Bearer) Authorize(r *http.Request) error {
	r.Header.Set("Authorization", "Bearer "+string(b))
	return nil
}

// Secrets returns the token.
func (b Bearer) Secrets() []string { return []string{string(b)} }

// String never shows the token.
func (b Bearer) String() string { return "Bearer " + redacted }
