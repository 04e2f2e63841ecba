#!/usr/bin/env bash
# Runs the Active Directory tests against a real Samba AD domain controller
# (internal/sambatest), after installing samba and ldb-tools. Needs root: Samba
# listens on 127.0.0.1:389 and has no setting to move LDAP to another port.
# The first run provisions a throwaway domain (kept under $TMPDIR for later
# runs); then each test starts its own DC from a copy of it.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> installing Active Directory test dependencies"
bash scripts/install-ad-test-deps.sh

echo "==> go test (Samba AD DC)"
DIRSYNC_AD_TESTS=1 go test -count=1 -timeout 15m -run 'TestAD|TestStart' ./internal/sambatest/... ./ldapsource/... "$@"
