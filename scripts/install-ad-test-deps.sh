#!/bin/sh
# Installs what the Active Directory tests need: Samba's AD domain controller
# and the ldb tools. Idempotent: does nothing when samba and samba-tool are
# present. The tests provision their own throwaway domain and run samba on
# 127.0.0.1 only; a system samba the Debian packages may start is stopped and
# disabled, because it would hold port 389.
set -eu

LIB_APT_NAME=install-ad-test-deps
. "$(dirname "$0")/lib-apt.sh"

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

stop_system_samba() {
	for svc in samba-ad-dc smbd nmbd winbind; do
		$SUDO service "$svc" stop >/dev/null 2>&1 || true
		if command -v systemctl >/dev/null 2>&1; then
			$SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
		fi
	done
}

set_sudo

if have samba && have samba-tool && have ldbsearch; then
	stop_system_samba
	echo "samba and ldb-tools are installed"
	exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-ad-test-deps: no apt-get; install Samba (with the AD DC) and the ldb tools with your package manager" >&2
	exit 1
fi

apt_update
# samba-ad-dc holds the AD DC parts on newer releases; older ones ship them in samba.
pkgs="samba ldb-tools"
if apt-cache show samba-ad-dc >/dev/null 2>&1; then
	pkgs="$pkgs samba-ad-dc"
fi
apt_install $pkgs
stop_system_samba
echo "samba and ldb-tools are installed"
