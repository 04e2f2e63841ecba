package target

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/dirsync/dirsync/target/rest/profile"
	"github.com/dirsync/dirsync/user"
)

// Target types (config target.type).
const (
	TypeSCIM = "scim"
	TypeREST = "rest"
)

// Defaults for Config.
const (
	DefaultConcurrency = 8
	DefaultRateLimit   = 10
	DefaultTimeout     = 30 * time.Second
	DefaultMaxRetries  = 2
	// DefaultThrottleTimeout is how long the platform may keep throttling
	// every request before a run gives up on them.
	DefaultThrottleTimeout = 5 * time.Minute
)

// Config holds the settings every target shares: where the platform is, how to
// authenticate, and how hard to drive it. It is decoded from the `target:` section
// of the config file over Default() and checked with Validate.
//
//	target:
//	  type: scim                        # scim | rest
//	  url: https://platform.example.com/scim/v2
//	  token: "${PLATFORM_TOKEN}"        # or token_file: /run/secrets/platform-token
//	  concurrency: 8                    # changes applied at once
//	  max_in_flight: 0                  # requests in flight at most, 0 = concurrency
//	  rate_limit: 10                    # requests per second, 0 = no client-side limit
//	  rate_limit_headers:               # the platform's own limit (default: the usual headers)
//	    reset_format: auto              # auto | epoch | epoch_ms | delta
//	  timeout: 30s
//	  max_retries: 2
//	  throttle_timeout: 5m              # give up when only throttled (429) for this long
//	  ca_file: ""
//	  insecure_skip_verify: false
//
// Type rest also reads the `rest:` section, a profile.Profile (package
// target/rest/profile).
type Config struct {
	// Type selects the implementation: "scim" (default; "" means scim) or "rest".
	Type string `mapstructure:"type" json:"type"`
	// URL is the API's base URL, e.g. https://platform.example.com/scim/v2.
	// It must be https://, except for loopback hosts (127.0.0.1, ::1, localhost).
	URL string `mapstructure:"url" json:"url"`
	// Token is the API token sent as a bearer token. Set it or TokenFile.
	Token string `mapstructure:"token" json:"token,omitempty"`
	// TokenFile is a file holding the token (surrounding white space is trimmed).
	TokenFile string `mapstructure:"token_file" json:"token_file,omitempty"`
	// Concurrency bounds the changes applied at once by the reconciler (its
	// workers). Default 8. It is also MaxInFlight's default.
	Concurrency int `mapstructure:"concurrency" json:"concurrency"`
	// MaxInFlight bounds the requests in flight to the platform at once: the
	// most the client's adaptive window (see HTTPClient) grows to, and the idle
	// connections kept. 0 (default): Concurrency, as before the two were
	// told apart. Lower it below Concurrency for a platform that limits
	// concurrent requests.
	MaxInFlight int `mapstructure:"max_in_flight" json:"max_in_flight,omitempty"`
	// RateLimit is the most requests per second sent to the platform, retries
	// included. 0 disables the client-side limit. Default 10.
	RateLimit float64 `mapstructure:"rate_limit" json:"rate_limit"`
	// RateLimitHeaders says where the platform's answers tell its own rate
	// limit (X-RateLimit-Remaining/-Reset, the IETF RateLimit fields, …), so
	// that the client waits for a reset instead of being answered 429. The
	// usual headers are read by default (see RateLimitHeaders).
	RateLimitHeaders RateLimitHeaders `mapstructure:"rate_limit_headers" json:"rate_limit_headers,omitzero"`
	// Timeout bounds one HTTP request, reading the response included. Default 30s.
	Timeout time.Duration `mapstructure:"timeout" json:"timeout"`
	// MaxRetries is how many times a request that failed transiently (network
	// error, HTTP 429 or 5xx) is retried. 0 disables retries. Default 2, so at most
	// 3 attempts.
	MaxRetries int `mapstructure:"max_retries" json:"max_retries"`
	// ThrottleTimeout bounds the waiting on a throttling platform. A throttled
	// answer (429, or 503 with Retry-After) is not a failure: the request waits
	// (Retry-After, or a backoff) and is sent again, without counting against
	// MaxRetries or the run's retry budget, and the client slows down (see
	// HTTPClient). But once a request has been throttled for ThrottleTimeout,
	// or the platform has answered nothing but throttling for that long, the
	// throttled requests fail; the circuit breaker (sync.circuit_breaker) then
	// stops the run. Default (and 0) 5m.
	ThrottleTimeout time.Duration `mapstructure:"throttle_timeout" json:"throttle_timeout"`
	// CAFile is a PEM bundle of CAs trusted for the platform's certificate, in
	// addition to the system's. Default: the system's only.
	CAFile string `mapstructure:"ca_file" json:"ca_file,omitempty"`
	// InsecureSkipVerify disables certificate verification. For tests only.
	InsecureSkipVerify bool `mapstructure:"insecure_skip_verify" json:"insecure_skip_verify,omitempty"`
	// Groups maps directory groups (by CN or DN) to SCIM Group ids, for type
	// scim: a user is added to the mapped groups' members and removed from the
	// others at each create and update.
	Groups []GroupMapping `mapstructure:"groups" json:"groups,omitempty"`
	// Rest describes the platform's API for type rest (see profile.Profile).
	Rest profile.Profile `mapstructure:"rest" json:"rest,omitzero"`
}

// Default returns the configuration the config file is decoded over.
func Default() Config {
	return Config{
		Type:        TypeSCIM,
		Concurrency: DefaultConcurrency,
		RateLimit:   DefaultRateLimit,
		Timeout:     DefaultTimeout,
		MaxRetries:  DefaultMaxRetries,

		ThrottleTimeout: DefaultThrottleTimeout,
	}
}

// InFlight returns the bound on requests in flight to the platform:
// MaxInFlight, or else Concurrency, or else DefaultConcurrency.
func (c Config) InFlight() int {
	switch {
	case c.MaxInFlight > 0:
		return c.MaxInFlight
	case c.Concurrency > 0:
		return c.Concurrency
	}
	return DefaultConcurrency
}

// Validate reports every problem with c at once, each named by its config-file
// key (e.g. "target.url: must be set"). The returned error is an errors.Join of
// one error per problem; it is nil when c is valid.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("target.%s: %s", key, fmt.Sprintf(format, args...)))
	}

	kind, known := Lookup(c.Type) // "" means scim
	if !known {
		bad("type", "unknown type %q (want %s)", c.Type, typeList(", ", " or "))
	}

	if c.URL == "" {
		bad("url", "must be set (the API's base URL, e.g. https://platform.example.com/scim/v2)")
	} else if err := CheckURL(c.URL); err != nil {
		bad("url", "%v", err)
	}

	needToken := true
	if known && kind.NeedsToken != nil {
		needToken = kind.NeedsToken(c)
	}
	if known && kind.Validate != nil {
		errs = append(errs, kind.Validate(c)...)
	}
	switch {
	case c.Token != "" && c.TokenFile != "":
		bad("token", "set token or token_file, not both")
	case c.Token == "" && c.TokenFile == "" && needToken:
		bad("token", "must be set (or token_file)")
	case c.TokenFile != "":
		if err := checkFile(c.TokenFile); err != nil {
			bad("token_file", "%v", err)
		}
	}

	if c.Concurrency < 1 {
		bad("concurrency", "must be at least 1, got %d", c.Concurrency)
	}
	if c.MaxInFlight < 0 {
		bad("max_in_flight", "must be 0 (the same as concurrency) or more, got %d", c.MaxInFlight)
	}
	if c.RateLimit < 0 {
		bad("rate_limit", "must be 0 (no limit) or more, got %g", c.RateLimit)
	}
	errs = append(errs, c.RateLimitHeaders.validate()...)
	if c.Timeout <= 0 {
		bad("timeout", "must be positive, got %s", c.Timeout)
	}
	if c.MaxRetries < 0 || c.MaxRetries > 10 {
		bad("max_retries", "must be between 0 and 10, got %d", c.MaxRetries)
	}
	if c.ThrottleTimeout < 0 {
		bad("throttle_timeout", "must be positive, got %s", c.ThrottleTimeout)
	}
	for i, g := range c.Groups {
		if g.Group == "" || g.Value == "" {
			bad(fmt.Sprintf("groups[%d]", i), "group and value (the SCIM Group id) must be set")
		} else if err := user.CheckPlatformID(g.Value); err != nil {
			bad(fmt.Sprintf("groups[%d].value", i), "%q is not a usable SCIM Group id: %v", g.Value, err)
		}
	}
	if c.CAFile != "" {
		if err := checkFile(c.CAFile); err != nil {
			bad("ca_file", "%v", err)
		}
	}
	return errors.Join(errs...)
}

// CheckURL reports why raw is not a usable platform URL: it must be https://
// (http:// for loopback hosts only), with a host, no credentials and no
// #fragment. The message names no key: the caller's names it.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the input; the input may hold a secret.
		return errors.New("not a valid URL")
	}
	if u.User != nil {
		return errors.New("must not hold credentials; use target.token")
	}
	if u.Host == "" {
		return fmt.Errorf("must be an absolute URL with a host, got %q", RedactURL(raw))
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return errors.New("http:// would send the token in clear text; use https:// (http:// is allowed for loopback hosts only)")
		}
	default:
		return fmt.Errorf("scheme must be https, got %q", u.Scheme)
	}
	if u.Fragment != "" {
		return errors.New("must not have a #fragment")
	}
	return nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func checkFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a directory", path)
	}
	return nil
}

// Secret returns the token: Token, or the trimmed content of TokenFile.
func (c Config) Secret() (string, error) {
	if c.TokenFile == "" {
		return c.Token, nil
	}
	b, err := os.ReadFile(c.TokenFile)
	if err != nil {
		return "", fmt.Errorf("target.token_file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("target.token_file: %s is empty", c.TokenFile)
	}
	return tok, nil
}

// Redacted returns a copy of c that is safe to print or log: the token is replaced
// by "REDACTED" and secrets in the URL's query are masked. TokenFile, a path, is
// kept.
func (c Config) Redacted() Config {
	if c.Token != "" {
		c.Token = redacted
	}
	c.URL = RedactURL(c.URL, c.Rest.Secrets()...)
	c.Rest = c.Rest.Redacted()
	return c
}

// String prints the redacted configuration, so that a Config printed by mistake
// leaks no secret.
func (c Config) String() string {
	r := c.Redacted()
	return fmt.Sprintf("{type:%s url:%s token:%s token_file:%s concurrency:%d rate_limit:%g timeout:%s max_retries:%d ca_file:%s insecure_skip_verify:%t}",
		r.Type, r.URL, r.Token, r.TokenFile, r.Concurrency, r.RateLimit, r.Timeout, r.MaxRetries, r.CAFile, r.InsecureSkipVerify)
}

// GoString is String: %#v must not leak the token either.
func (c Config) GoString() string { return "target.Config" + c.String() }
