// Package target holds what the platform targets share: their common Config
// (config.go, the `target:` section; type rest's `rest:` section is a
// profile.Profile, whose schema lives in target/rest/profile), the mappings
// of directory groups (groups.go), the HTTP plumbing (HTTPClient in http.go:
// timeouts, bounded bodies, retries), authentication (auth.go, auth_more.go:
// bearer, API key headers, OAuth2 client credentials), the rate limit that
// adapts to throttling (pace.go, aimd.go), secret redaction (redact.go), and
// HTTPError and FilterRefusedError (errors.go), which carry the reconciler's
// error contract (NotFound, Conflict, PlatformFault, LookupRefused).
//
// The implementations live in subpackages: target/scim (SCIM 2.0),
// target/rest (one client for vendor REST APIs, driven by a profile), and
// target/fake, an in-process SCIM and REST platform over real HTTP for tests,
// the bench and the demo. The target types form one registry (registry.go):
// each implementation registers its Kind (its target.type name, the
// validation of its own settings, its constructor) in its init, and
// target/targets imports every built-in one. A new target type is a
// subpackage built on HTTPClient that registers its Kind, and one import in
// target/targets; Config.Validate and New (used by cmd/dirsync) then know it.
//
// Targets exchange only package user values; they do not import package sync.
package target
