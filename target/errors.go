package target

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"
)

// ErrBodyTooLarge is the cause (see HTTPError.Err) when a response body is larger
// than the client accepts.
var ErrBodyTooLarge = errors.New("response body too large")

// ErrAuthorize is in the chain of a request's error (HTTPError.Err) when
// dirsync could not obtain the credentials to send (an OAuth2 token
// endpoint refused them or failed): no request can be sent.
var ErrAuthorize = errors.New("cannot obtain credentials")

// HTTPError is a call to the platform that failed: either the platform answered
// with a status other than 2xx (Status is set), or no answer was received (Status
// is 0 and Err says why). It satisfies the reconciler's error contract through
// NotFound and Conflict.
type HTTPError struct {
	// Op says what the call was for, e.g. "scim create user".
	Op     string
	Method string
	// URL is the request URL with its secrets redacted.
	URL string
	// Status is the HTTP status code; 0 when no response was received.
	Status int
	// Detail is the platform's explanation, taken from the response body (SCIM
	// "detail", JSON "message" or "error", or a short text body), secrets redacted.
	Detail string
	// RetryAfter is the platform's Retry-After header, as sent.
	RetryAfter string
	// Attempts is how many times the request was sent.
	Attempts int
	// Err is the underlying cause, if any: a network error, a context error,
	// ErrBodyTooLarge.
	Err error
}

func (e *HTTPError) Error() string {
	var b strings.Builder
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	b.WriteString(e.Method)
	b.WriteString(" ")
	b.WriteString(e.URL)
	b.WriteString(": ")
	switch {
	case e.Status != 0 && e.Err != nil:
		fmt.Fprintf(&b, "HTTP %d: %v", e.Status, e.Err)
	case e.Status != 0:
		fmt.Fprintf(&b, "HTTP %d %s", e.Status, http.StatusText(e.Status))
		if e.Detail != "" {
			b.WriteString(": ")
			b.WriteString(e.Detail)
		}
	case e.Err != nil:
		b.WriteString(e.Err.Error())
	default:
		b.WriteString("failed")
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	return b.String()
}

// Unwrap returns the underlying cause, if any.
func (e *HTTPError) Unwrap() error { return e.Err }

// NotFound reports whether the platform answered 404 Not Found.
func (e *HTTPError) NotFound() bool { return e.Status == http.StatusNotFound }

// Conflict reports whether the platform answered 409 Conflict (SCIM uniqueness).
func (e *HTTPError) Conflict() bool { return e.Status == http.StatusConflict }

// Temporary reports whether trying again soon may succeed: HTTP 408, 429, a 5xx other
// than 501 and 505, or a network failure (not a cancellation, a certificate
// problem, a server not speaking TLS or an oversized body).
func (e *HTTPError) Temporary() bool {
	if e.Err != nil {
		return retryableNetErr(e.Err)
	}
	return retryableStatus(e.Status)
}

// Unauthorized reports whether the platform rejected the credentials (401 or 403).
func (e *HTTPError) Unauthorized() bool {
	return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
}

// PlatformFault reports whether the failure is the platform's as a whole, not
// one account's: the credentials were refused (401, 403), or the platform could
// not be reached at all (TLS failure, connection refused, unknown host). No
// change can succeed until the operator fixes it, so the reconciler stops the
// run and counts it against no user (see sync.Target).
func (e *HTTPError) PlatformFault() bool {
	return e.Unauthorized() || (e.Status == 0 && e.Err != nil && (errors.Is(e.Err, ErrAuthorize) || unreachable(e.Err) != ""))
}

// Remedy says, for a PlatformFault, what is wrong and what the operator
// should check; "" otherwise.
func (e *HTTPError) Remedy() string {
	switch {
	case e.Unauthorized():
		return fmt.Sprintf("the platform refused dirsync's credentials (HTTP %d): check target.token (or target.token_file, "+
			"or the target.rest auth settings), that the token has not expired and that it may manage users", e.Status)
	case e.Status == 0 && errors.Is(e.Err, ErrAuthorize):
		return "dirsync could not obtain credentials from the platform's token endpoint: check target.rest.auth and the secret in target.token"
	case e.Status == 0 && e.Err != nil:
		return unreachable(e.Err)
	}
	return ""
}

// unreachable says why err means the platform cannot be reached, and what to
// check; "" when err is not such a failure.
func unreachable(err error) string {
	var (
		dns       *net.DNSError
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		verify    *tls.CertificateVerificationError
		header    tls.RecordHeaderError
		alert     tls.AlertError
	)
	switch {
	case errors.As(err, &dns) && !dns.IsTimeout && !dns.IsTemporary:
		return fmt.Sprintf("the platform's host %q does not resolve: check target.url and the DNS", dns.Name)
	case errors.Is(err, http.ErrSchemeMismatch) || errors.As(err, &header) || errors.As(err, &alert):
		return "TLS failure: the platform does not speak TLS as target.url says (https:// to a plain HTTP port, or the reverse): check target.url"
	case errors.As(err, &unknownCA) || errors.As(err, &hostname) || errors.As(err, &invalid) || errors.As(err, &verify):
		return "TLS failure: the platform's certificate is not trusted for its host: check target.url's host name and target.ca_file"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "the platform refused the connection (nothing listens there): check target.url's host and port, and that the platform is up"
	}
	return ""
}

func retryableStatus(status int) bool {
	// 408: the server timed the request out before it was handled. 409 is not
	// retried: for a create it means the account exists, which the reconciler
	// resolves by adoption.
	return status == http.StatusTooManyRequests || status == http.StatusRequestTimeout ||
		(status >= 500 && status <= 599 && status != http.StatusNotImplemented && status != http.StatusHTTPVersionNotSupported)
}

// NotFoundError reports that no account matches a lookup. It satisfies the
// reconciler's NotFound contract.
type NotFoundError struct {
	Op    string
	Key   string
	Value string
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("%s: no account with %s %q", e.Op, e.Key, e.Value)
}

// NotFound is always true.
func (e *NotFoundError) NotFound() bool { return true }

// FilterRefusedError reports that the platform refused a lookup's filter (HTTP
// 400, typically with scimType invalidFilter, or 501): it cannot look accounts
// up by that key. It satisfies the reconciler's LookupRefused contract: the
// reconciler tries its next key and finds the account in a listing instead.
type FilterRefusedError struct {
	Op string
	// Key is the match key (externalId, userName, email); Filter the filter sent.
	Key    string
	Filter string
	Err    error
}

func (e *FilterRefusedError) Error() string {
	return fmt.Sprintf("%s: the platform refused the lookup filter %s: %v", e.Op, e.Filter, e.Err)
}

func (e *FilterRefusedError) Unwrap() error { return e.Err }

// LookupRefused is always true.
func (e *FilterRefusedError) LookupRefused() bool { return true }

// maxDetail bounds the length of HTTPError.Detail.
const maxDetail = 300

// Detail extracts a human explanation from an error response body: a SCIM error's
// "detail" (with its "scimType"), a JSON "message", "error" (string or object),
// "error_description" or "title"; otherwise a short text body. It returns "" when
// the body says nothing useful (empty, binary, an HTML page). The explanation
// is one line of at most 300 bytes: redact secrets from detail's result
// instead when they may be echoed, before it is cut.
func Detail(contentType string, body []byte) string { return clip(detail(contentType, body)) }

// detail is Detail without the cut to one short line.
func detail(contentType string, body []byte) string {
	body = []byte(strings.TrimSpace(string(body)))
	if len(body) == 0 {
		return ""
	}
	if body[0] == '{' {
		var m map[string]any
		if json.Unmarshal(body, &m) == nil {
			if d := jsonDetail(m); d != "" {
				return d
			}
		}
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "text/html" || strings.HasPrefix(strings.ToLower(string(body[:min(len(body), 15)])), "<!doctype") ||
		strings.HasPrefix(strings.ToLower(string(body[:min(len(body), 6)])), "<html") {
		return ""
	}
	if !utf8.Valid(body) {
		return ""
	}
	for _, r := range string(body) {
		if !unicode.IsPrint(r) && !unicode.IsSpace(r) {
			return ""
		}
	}
	return string(body)
}

func jsonDetail(m map[string]any) string {
	str := func(k string) string {
		switch v := m[k].(type) {
		case string:
			return strings.TrimSpace(v)
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
		return ""
	}
	if d := str("detail"); d != "" {
		if t := str("scimType"); t != "" {
			return d + " (scimType " + t + ")"
		}
		return d
	}
	for _, k := range []string{"message", "Message", "error_description", "title"} {
		if d := str(k); d != "" {
			return d
		}
	}
	for _, k := range []string{"error", "Error", "errors"} {
		switch v := m[k].(type) {
		case string:
			if v = strings.TrimSpace(v); v != "" {
				return v
			}
		case map[string]any:
			if d := jsonDetail(v); d != "" {
				return d
			}
		case []any:
			if len(v) > 0 {
				if e, ok := v[0].(map[string]any); ok {
					if d := jsonDetail(e); d != "" {
						return d
					}
				}
				if s, ok := v[0].(string); ok {
					return s
				}
			}
		}
	}
	// ResponseStatus envelopes (see platform-apis.md, "Users API v2").
	if rs, ok := m["ResponseStatus"].(map[string]any); ok {
		return jsonDetail(rs)
	}
	return ""
}

// clip makes s one line of at most maxDetail bytes.
func clip(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= maxDetail {
		return s
	}
	cut := maxDetail
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
