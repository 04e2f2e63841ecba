#!/bin/sh
# Installs what the integration tests need: OpenLDAP's slapd and ldap-utils,
# and systemd (for systemd-analyze verify of deploy/systemd; it needs no
# running systemd, so it works in a container), and GNU time (the benchmark
# reads dirsync's peak RSS from /usr/bin/time), Chromium (the status
# page's test drives it headless, on a loopback port), and PostgreSQL's
# server (the Postgres state store's tests run their own, see
# internal/pgtest).
# Idempotent: does nothing when slapd, slapadd, ldapsearch, systemd-analyze,
# /usr/bin/time, chromium and PostgreSQL's initdb are present.
# The tests start their own slapd on a loopback port; a system slapd that the
# Debian package starts on port 389 is stopped and disabled, it is never used.
set -eu

LIB_APT_NAME=install-test-deps
. "$(dirname "$0")/lib-apt.sh"

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
# Debian keeps PostgreSQL's server binaries out of PATH.
have_postgres() { have initdb || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }

if have slapd && have slapadd && have ldapsearch && have systemd-analyze && [ -x /usr/bin/time ] && have chromium && have_postgres; then
	echo "slapd, ldap-utils, systemd-analyze, time, chromium and postgresql are installed"
	exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-test-deps: no apt-get; install OpenLDAP's slapd and client tools with your package manager" >&2
	exit 1
fi

set_sudo

apt_update
apt_install slapd ldap-utils systemd time chromium postgresql

# The package may have started a system slapd; the tests never use it.
$SUDO service slapd stop >/dev/null 2>&1 || true
if command -v systemctl >/dev/null 2>&1; then
	$SUDO systemctl disable --now slapd >/dev/null 2>&1 || true
fi
# Nor the cluster the postgresql package may have started.
$SUDO service postgresql stop >/dev/null 2>&1 || true
if command -v systemctl >/dev/null 2>&1; then
	$SUDO systemctl disable --now postgresql >/dev/null 2>&1 || true
fi
echo "slapd, ldap-utils, systemd-analyze, time, chromium and postgresql are installed"
