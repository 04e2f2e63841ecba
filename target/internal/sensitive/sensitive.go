// Package sensitive tells which parameter and header names carry secrets,
// and what their values are replaced with wherever they would be shown. It
// is shared by package target (URLs, query credentials, errors) and by the
// REST profile schema (target/rest/profile), which names its own secret
// settings without importing target.
package sensitive

import "strings"

// Mask replaces a secret value.
const Mask = "REDACTED"

// names are substrings of parameter and header names whose values are
// secret (compared case-insensitively): api_key, IntegrationKey,
// access_token, client_secret, password, sig, …
var names = []string{"token", "key", "secret", "pass", "pwd", "sig", "auth", "credential", "session"}

// Name reports whether a parameter or header name looks like it carries a
// secret (key, token, secret, password, auth, …).
func Name(name string) bool {
	name = strings.ToLower(name)
	for _, s := range names {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}
