#!/usr/bin/env bash
# Runs every test dirsync has, after installing what the tests need (OpenLDAP's
# slapd and ldap-utils, Chromium, and Samba's AD domain controller, from the
# system's packages). This is the README's test command and what CI runs. With CI=true,
# tests that need slapd or Samba fail instead of skipping when they cannot be
# started. The Active Directory tests need root (Samba's LDAP port is 389).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> installing test dependencies"
bash scripts/install-test-deps.sh
bash scripts/install-ad-test-deps.sh

echo "==> gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "==> go mod tidy -diff (go.mod and go.sum are tidy)"
go mod tidy -diff

echo "==> go vet"
go vet ./...

echo "==> staticcheck"
go tool staticcheck ./...

echo "==> CGO_ENABLED=0 build"
CGO_ENABLED=0 go build -o /dev/null ./cmd/dirsync

echo "==> go test (Active Directory tests included: DIRSYNC_AD_TESTS=1)"
DIRSYNC_AD_TESTS=1 go test -count=1 -timeout 20m ./...

echo "==> deployment recipes (Kubernetes manifests decoded strictly, systemd-analyze verify)"
(cd deploy && go vet ./... && go test -count=1 ./...)

echo "==> go test -race (reconciler and state)"
# The 10,000-run soak of the retention ran above; under the race detector it
# would take minutes and prove nothing more.
go test -count=1 -race -timeout 10m -skip '^TestPrune_SoakOf10000RunsKeepsTheFileBounded$' ./sync/... ./state/...

echo "==> fuzz smoke (5,000 inputs each, a count rather than a time so a busy machine cannot cut the seed corpus short; longer runs: docs/operations.md)"
go test -run '^$' -fuzz '^FuzzMapEntry$' -fuzztime 5000x ./ldapsource
go test -run '^$' -fuzz '^FuzzDecodeSearchResponses$' -fuzztime 5000x ./ldapsource
go test -run '^$' -fuzz '^FuzzDecodeUser$' -fuzztime 5000x ./target/scim
go test -run '^$' -fuzz '^FuzzRender$' -fuzztime 5000x ./target/internal/jsontpl

echo "==> benchmark smoke (go run ./bench --smoke; the full run is in bench/RESULTS.md)"
go run ./bench --smoke
go run ./bench --smoke --million
