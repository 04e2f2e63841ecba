# Sourced by the install-*-deps scripts: root/sudo detection and apt-get runs
# that wait for another apt/dpkg run (an image build, unattended-upgrades) to
# finish instead of failing on its lock. Set LIB_APT_NAME to the sourcing
# script's name first; it prefixes the error messages.

# set_sudo sets SUDO to "sudo" when not run as root, and exits when there is
# no sudo.
set_sudo() {
	SUDO=""
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null 2>&1; then
			SUDO="sudo"
		else
			echo "$LIB_APT_NAME: run as root or install sudo" >&2
			exit 1
		fi
	fi
}

# wait_for_dpkg waits up to 10 minutes for the apt/dpkg locks to be free.
wait_for_dpkg() {
	i=0
	while $SUDO fuser /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock >/dev/null 2>&1; do
		i=$((i + 1))
		if [ "$i" -gt 300 ]; then
			echo "$LIB_APT_NAME: dpkg is still locked after 10 minutes" >&2
			exit 1
		fi
		[ $((i % 15)) -eq 1 ] && echo "waiting for the dpkg lock..."
		sleep 2
	done
}

# apt_update updates the package lists, waiting for the locks before and
# after.
apt_update() {
	export DEBIAN_FRONTEND=noninteractive
	wait_for_dpkg
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update
	wait_for_dpkg
}

# apt_install installs the packages named; run apt_update first.
apt_install() {
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y "$@"
}
