package target

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	gosync "sync"

	"github.com/dirsync/dirsync/target/internal/sensitive"
)

const redacted = sensitive.Mask

// Redact returns s with every occurrence of each non-empty secret replaced by
// "REDACTED", in every form a secret takes when it travels in a request and a
// platform echoes it back: as is, percent-encoded as in a query (a space as
// "+" or "%20") or in a path, with upper- or lower-case hex digits, and
// JSON-escaped (with or without <, > and & escaped, and "/" as "\/"). Use
// it on any text that may echo a request: error details, URLs, log fields.
// Redact before cutting a text short, or the cut may leave a part of a
// secret that no longer matches.
func Redact(s string, secrets ...string) string { return redactForms(s, secretForms(secrets)) }

// redactForms replaces each of forms (see secretForms) in s.
func redactForms(s string, forms []string) string {
	for _, f := range forms {
		if strings.Contains(s, f) {
			s = strings.ReplaceAll(s, f, redacted)
		}
	}
	return s
}

// secretForms returns the distinct forms of the non-empty secrets, longest
// first, so that a secret inside a longer one does not break the longer one's
// match.
func secretForms(secrets []string) []string {
	var forms []string
	seen := map[string]bool{}
	add := func(f string) {
		if f != "" && !seen[f] {
			seen[f] = true
			forms = append(forms, f)
		}
	}
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		add(sec)
		q := url.QueryEscape(sec)
		for _, f := range []string{q, strings.ReplaceAll(q, "+", "%20"), url.PathEscape(sec)} {
			add(f)
			add(lowerHex(f))
		}
		for _, html := range []bool{true, false} {
			j := jsonEscape(sec, html)
			add(j)
			add(strings.ReplaceAll(j, "/", `\/`)) // as PHP's json_encode writes it
		}
	}
	slices.SortStableFunc(forms, func(a, b string) int { return len(b) - len(a) })
	return forms
}

// jsonEscape returns s as it appears inside a JSON string, with <, > and &
// escaped as encoding/json does by default (html) or kept.
func jsonEscape(s string, html bool) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(html)
	if enc.Encode(s) != nil {
		return ""
	}
	return strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(b.String()), `"`), `"`)
}

// lowerHex writes the %XX escapes of s with lower-case hex digits.
func lowerHex(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			for j := i + 1; j <= i+2; j++ {
				if 'A' <= b[j] && b[j] <= 'F' {
					b[j] += 'a' - 'A'
				}
			}
		}
	}
	return string(b)
}

// SecretSet holds the secrets an Auth obtains while it runs, such as OAuth2
// access tokens, so that its Secrets method lists them and every text the
// client produces is redacted of them, including after the token was
// replaced (a late error may still echo it). It keeps the most recent
// maxSecrets values. The zero value is ready to use; it is safe for
// concurrent use.
type SecretSet struct {
	mu   gosync.Mutex
	list []string
}

// maxSecrets bounds a SecretSet: a token an hour for more than two days.
const maxSecrets = 64

// Add registers a secret; "" is ignored.
func (s *SecretSet) Add(secret string) {
	if secret == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.Contains(s.list, secret) {
		return
	}
	if len(s.list) == maxSecrets {
		s.list = slices.Delete(s.list, 0, 1)
	}
	s.list = append(s.list, secret)
}

// List returns the registered secrets.
func (s *SecretSet) List() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.list)
}

// RedactURL returns raw with its user-info password, the values of query
// parameters whose names look secret (token, key, secret, password, signature, …)
// and every given secret replaced by "REDACTED". A string that does not parse as
// a URL is returned with only the secrets replaced.
func RedactURL(raw string, secrets ...string) string {
	return redactURLForms(raw, secretForms(secrets))
}

// redactURLForms is RedactURL with the secrets' forms (see secretForms).
func redactURLForms(raw string, forms []string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return redactForms(raw, forms)
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
	return redactForms(u.String(), forms)
}

// SensitiveName reports whether a parameter or header name looks like it
// carries a secret (key, token, secret, password, auth, …).
func SensitiveName(name string) bool { return sensitive.Name(name) }

// sensitiveParam reports whether the values of query parameters (or
// headers) named name are secret, and masked by RedactURL: api_key,
// IntegrationKey, access_token, client_secret, password, sig, …
func sensitiveParam(name string) bool { return sensitive.Name(name) }
