// Package deploy holds dirsync's deployment recipes — the systemd unit
// (systemd/), the Kubernetes manifests (kubernetes/) and the container image
// (Dockerfile) — and the tests that check them: every manifest is decoded
// strictly into the upstream Kubernetes API types, and the unit passes
// systemd-analyze verify.
//
// It is a module of its own so that the Kubernetes API packages the tests need
// stay out of dirsync's dependencies. Run its tests from this directory:
//
//	cd deploy && go test ./...
package deploy
