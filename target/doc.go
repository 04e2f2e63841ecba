// Package target holds what the platform targets share: their common Config
// (config.go, the `target:` section, with RestProfile in profile.go for type
// rest), the HTTP plumbing (HTTPClient in http.go: timeouts, bounded bodies,
// retries), authentication (auth.go, auth_more.go: bearer, API key headers,
// OAuth2 client credentials), the rate limit that adapts to throttling
// (pace.go, aimd.go), secret redaction (redact.go), and HTTPError and
// FilterRefusedError (errors.go), which carry the reconciler's error contract
// (NotFound, Conflict, PlatformFault, LookupRefused).
//
// The implementations live in subpackages: target/scim (SCIM 2.0),
// target/rest (one client for vendor REST APIs, driven by a profile), and
// target/fake, an in-process SCIM and REST platform over real HTTP for tests,
// the bench and the demo. A new target type is a subpackage built on
// HTTPClient, a Type constant and its validation in config.go, and a case
// where cmd/dirsync builds the platform (newPlatform in app.go).
//
// Targets exchange only package user values; they do not import package sync.
package target
