# shellcheck shell=bash
# Helpers for the install.sh scripts of the images. Sourced, inside the
# image's root filesystem, as root: in a chroot from hack/build-images.sh or
# in a RUN step of a Containerfile. Nothing here reaches outside that root.
#
# Environment set by hack/build-images.sh (a Containerfile sets none):
#   IMAGE_BUILD=chroot  the host manages apt lists, the package cache and
#                       clean-up; without it these helpers do it themselves.
#   APT_OPTS            extra apt-get options (the host's Valid-Until policy).

set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
IMAGE_BUILD=${IMAGE_BUILD:-container}
APT_OPTS=${APT_OPTS:-}

msg() { printf '[%s] %s\n' "${0##*/}" "$*" >&2; }
fail() {
	printf '[%s] error: %s\n' "${0##*/}" "$*" >&2
	exit 1
}

# apt_update: fetch the package lists once, unless the host did.
apt_update() {
	[ "$IMAGE_BUILD" = chroot ] && return 0
	[ -e /tmp/.apt-updated ] && return 0
	# shellcheck disable=SC2086
	apt-get $APT_OPTS update -q || fail "apt-get update failed: check access to deb.debian.org"
	touch /tmp/.apt-updated
}

# apt_install PKG...: install packages (PKG or PKG/suite); on failure name the
# packages and apt's reason, and say what to do.
apt_install() {
	apt_update
	local log=/tmp/apt-install.$$.log
	msg "installing: $*"
	# shellcheck disable=SC2086
	if ! apt-get $APT_OPTS install -y -q "$@" >"$log" 2>&1; then
		tail -n 25 "$log" >&2
		local why
		why=$(grep -E "^E: |Depends:|has no installation candidate|Unable to locate|404 +Not Found|Failed to fetch" "$log" |
			grep -v 'Can not write log' | head -n 5 | tr '\n' ' ')
		rm -f "$log"
		fail "could not install: $* -- ${why:-see the apt output above}." \
			"If Debian dropped or renamed a package, or the mirror moved, update the package list in" \
			"images/<image>/install.sh; if a download failed, check the network to deb.debian.org and retry."
	fi
	msg "done: $(grep -c '^Setting up ' "$log") packages set up"
	rm -f "$log"
}

# pkg_version PKG: the installed Debian version of PKG.
pkg_version() { dpkg-query -W -f='${Version}' "$1"; }

# add_user NAME UID HOME [SHELL]: a system user with the given fixed UID,
# its own group of the same number, and HOME; created before any package
# would pick a dynamic UID for it.
add_user() {
	local name=$1 uid=$2 home=$3 shell=${4:-/usr/sbin/nologin} owner
	owner=$(getent group "$uid" | cut -d: -f1 || true)
	[ -z "$owner" ] || [ "$owner" = "$name" ] || fail "GID $uid already belongs to group $owner"
	getent group "$name" >/dev/null || groupadd --system --gid "$uid" "$name"
	getent passwd "$name" >/dev/null ||
		useradd --system --uid "$uid" --gid "$uid" --home-dir "$home" --no-create-home \
			--shell "$shell" --comment "$name" "$name"
	[ "$(id -u "$name")" = "$uid" ] || fail "user $name exists with UID $(id -u "$name"), not $uid"
}

# group_writable OWNER DIR...: make DIRs (created if missing) owned by OWNER
# and group 0 with group write, the OpenShift convention: a container running
# as an arbitrary UID always has GID 0, so it can write there too.
group_writable() {
	local owner=$1 d
	shift
	for d in "$@"; do
		mkdir -p "$d"
		chown "$owner:0" "$d"
		chmod 2775 "$d"
	done
}

# nss_any_uid: resolve any UID that /etc/passwd lacks (as "uid-<N>", HOME
# from $HOME), through Debian's libnss-unknown. initdb, pg_upgrade, psql
# without -U and others need a name for their own UID; with this they get
# one under an arbitrary UID, with no writable /etc/passwd and no wrapper.
nss_any_uid() {
	dpkg-query -W libnss-unknown >/dev/null 2>&1 || apt_install libnss-unknown
	sed -i -E 's/^passwd:.*/passwd:         files unknown/' /etc/nsswitch.conf
	grep -q '^passwd: *files unknown$' /etc/nsswitch.conf || fail "could not set passwd: files unknown"
}

# finish_root: remove what a build leaves behind inside the root. In a
# chroot build the host removes apt's lists and cache after unmounting them.
finish_root() {
	if [ "$IMAGE_BUILD" != chroot ]; then
		apt-get clean
		rm -rf /var/lib/apt/lists/*
	fi
	rm -rf /var/cache/debconf/*-old /var/lib/dpkg/*-old /root/.cache /tmp/.apt-updated
	find /var/log -type f -delete
}
