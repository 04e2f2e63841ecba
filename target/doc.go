// Package target holds what the platform targets share: their common Config, the
// HTTP plumbing (HTTPClient: auth, timeouts, bounded bodies, rate limit, retries),
// and HTTPError, which carries the reconciler's error contract (NotFound,
// Conflict). The implementations live in subpackages: target/scim (SCIM 2.0),
// and target/fake, an in-process SCIM platform over real HTTP for tests and the
// demo.
//
// Targets exchange only package user values; they do not import package sync.
package target
