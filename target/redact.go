package target

import (
	"net/url"
	"strings"
)

const redacted = "REDACTED"

// sensitiveParams are substrings of query parameter names whose values are
// masked by RedactURL (compared case-insensitively): api_key, IntegrationKey,
// access_token, client_secret, password, sig, …
var sensitiveParams = []string{"token", "key", "secret", "pass", "pwd", "sig", "auth", "credential", "session"}

// Redact returns s with every occurrence of each non-empty secret replaced by
// "REDACTED". Use it on any text that may echo a request: error details, URLs,
// log fields.
func Redact(s string, secrets ...string) string {
	for _, sec := range secrets {
		if sec != "" && strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, redacted)
		}
	}
	return s
}

// RedactURL returns raw with its user-info password, the values of query
// parameters whose names look secret (token, key, secret, password, signature, …)
// and every given secret replaced by "REDACTED". A string that does not parse as
// a URL is returned with only the secrets replaced.
func RedactURL(raw string, secrets ...string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return Redact(raw, secrets...)
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), redacted)
		}
	}
	if u.RawQuery != "" {
		q := u.Query()
		changed := false
		for name, vals := range q {
			if !sensitiveParam(name) {
				continue
			}
			for i := range vals {
				vals[i] = redacted
			}
			changed = true
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	return Redact(u.String(), secrets...)
}

func sensitiveParam(name string) bool {
	name = strings.ToLower(name)
	for _, s := range sensitiveParams {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}
