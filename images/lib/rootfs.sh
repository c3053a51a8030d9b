# shellcheck shell=bash
# Root filesystems for the images, built on the host with debootstrap and
# chroot. Sourced by hack/build-images.sh after hack/lib.sh (log, die).
#
# Bases: `debootstrap --variant=minbase` of trixie and of sid, each made at
# most once a day and kept in $IMAGE_CACHE/base/<suite>-<date>-<hash>/ (the
# hash is that of base/setup-base.sh, which prepares them). A base is never
# changed after it is made: every image starts from a copy.
#
# Chroot: root_enter makes a copy usable for apt (device nodes, DNS, a
# policy-rc.d that forbids starting services, the run's shared package lists
# and the persistent .deb cache bind-mounted in, /proc only when asked) and
# root_leave undoes all of it. Mounts are found from /proc/self/mountinfo,
# not remembered, so unmount_below (the build's EXIT trap) also cleans up
# after a run that was killed; nothing is ever removed below a directory
# that still has a mount in it.

DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

# host_apt_opts: apt options the chroots take over from the host's policy.
# Only Check-Valid-Until: a host that accepts an expired Release file (a
# frozen mirror snapshot) needs its chroots to accept it too.
host_apt_opts() {
	local policy
	policy=$(apt-config dump Acquire::Check-Valid-Until 2>/dev/null || true)
	if [[ ${policy,,} == *'"false"'* ]]; then
		echo "-o Acquire::Check-Valid-Until=false"
	fi
}

# safe_rm DIR...: remove directories, refusing any that still has a mount
# below it, and never crossing into another file system.
safe_rm() {
	local d real
	for d in "$@"; do
		[ -e "$d" ] || continue
		real=$(realpath "$d")
		case $real in / | /usr | /var | /etc | /home | /root) die "safe_rm: refusing to remove $real" ;; esac
		[ -z "$(mounts_below "$real")" ] ||
			die "safe_rm: $real still has a mount below it; not removing it"
		rm -rf --one-file-system "$real"
	done
}

# base_path SUITE: where today's base of SUITE is (or will be) kept.
base_path() {
	local hash
	hash=$(sha256sum "$IMAGES_DIR/base/setup-base.sh" | cut -c1-8)
	echo "$IMAGE_CACHE/base/$1-$(date -u +%Y%m%d)-$hash"
}

# base_ensure SUITE: debootstrap today's base of SUITE unless it exists, then
# drop older bases of that suite. Prints its path.
base_ensure() {
	local suite=$1 dir tmp logf old
	dir=$(base_path "$suite")
	if [ -d "$dir/rootfs" ]; then
		echo "$dir"
		return 0
	fi
	mkdir -p "$IMAGE_CACHE/base" "$IMAGE_CACHE/logs"
	tmp=$dir.partial
	logf=$IMAGE_CACHE/logs/debootstrap-$suite.log
	safe_rm "$tmp"
	log "debootstrap --variant=minbase $suite (log: $logf)"
	if ! debootstrap --variant=minbase "$suite" "$tmp/rootfs" "$DEBIAN_MIRROR" >"$logf" 2>&1; then
		tail -n 15 "$logf" >&2
		unmount_below "$tmp"
		safe_rm "$tmp"
		die "debootstrap of $suite from $DEBIAN_MIRROR failed (full log: $logf). Check that" \
			"the mirror answers (curl -I $DEBIAN_MIRROR/dists/$suite/InRelease), that the host's" \
			"debian-archive-keyring knows the suite's key, and that the disk under $IMAGE_CACHE has room;" \
			"set DEBIAN_MIRROR to use another mirror."
	fi
	# setup-base.sh only writes files: no mounts, no network.
	cp "$IMAGES_DIR/base/setup-base.sh" "$tmp/rootfs/tmp/setup-base.sh"
	root_run "$tmp/rootfs" bash /tmp/setup-base.sh "$suite" >>"$logf" 2>&1 ||
		die "preparing the $suite base failed (log: $logf)"
	root_finalize "$tmp/rootfs"
	mv "$tmp" "$dir"
	for old in "$IMAGE_CACHE/base/$suite"-*; do
		[ "$old" = "$dir" ] || safe_rm "$old"
	done
	echo "$dir"
}

# apt_lists_dir: this run's package lists, shared by every chroot of the run
# (both bases name the same sources); fetched once, by the first root_enter.
apt_lists_dir() { echo "$BUILD_WORK/apt-lists"; }

# root_enter ROOT NEED_PROC: make ROOT ready for apt in a chroot.
root_enter() {
	local root=$1 need_proc=${2:-0} lists archives
	lists=$(apt_lists_dir)
	archives=$IMAGE_CACHE/apt-archives
	mkdir -p "$lists/partial" "$archives/partial"
	# Device nodes apt and maintainer scripts use; removed by root_finalize.
	local spec name
	for spec in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
		IFS=: read -r name major minor <<<"$spec"
		[ -c "$root/dev/$name" ] || mknod -m 666 "$root/dev/$name" c "$major" "$minor"
	done
	printf '#!/bin/sh\n# Written by the image build: no service starts in a chroot.\nexit 101\n' \
		>"$root/usr/sbin/policy-rc.d"
	chmod 755 "$root/usr/sbin/policy-rc.d"
	rm -f "$root/etc/resolv.conf"
	cp -L /etc/resolv.conf "$root/etc/resolv.conf"
	mount --bind "$lists" "$root/var/lib/apt/lists"
	mount --bind "$archives" "$root/var/cache/apt/archives"
	if [ "$need_proc" = 1 ]; then mount -t proc proc "$root/proc"; fi
	if [ ! -e "$lists/.updated" ]; then
		log "fetching the package lists (trixie, trixie-updates, trixie-security, sid)"
		# shellcheck disable=SC2046
		chroot "$root" apt-get $(host_apt_opts) update -q >"$IMAGE_CACHE/logs/apt-update.log" 2>&1 ||
			die "apt-get update failed in the build chroot (log: $IMAGE_CACHE/logs/apt-update.log):" \
				"check access to deb.debian.org"
		touch "$lists/.updated"
	fi
}

# root_run ROOT [VAR=VALUE...] CMD...: run CMD in the chroot with a clean
# environment (nothing of the host's leaks in but what is named here).
root_run() {
	local root=$1
	shift
	local envs=()
	while [ $# -gt 0 ] && [[ $1 == [A-Za-z_]*=* ]]; do
		envs+=("$1")
		shift
	done
	chroot "$root" /usr/bin/env -i \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
		IMAGE_BUILD=chroot APT_OPTS="$(host_apt_opts)" "${envs[@]}" "$@"
}

# mounts_below DIR: mount points at or below DIR, deepest first.
mounts_below() {
	local real
	real=$(realpath "$1")
	awk -v p="$real" '$5 == p || index($5, p "/") == 1 { print $5 }' /proc/self/mountinfo |
		awk '{ print length($0) "\t" $0 }' | sort -rn | cut -f2-
}

# unmount_below DIR: unmount every mount at or below DIR, deepest first
# (lazily if something still holds it).
unmount_below() {
	local m
	[ -e "$1" ] || return 0
	while read -r m; do
		[ -n "$m" ] || continue
		umount "$m" 2>/dev/null || umount -l "$m"
	done < <(mounts_below "$1")
}

# root_leave ROOT: unmount everything below ROOT (what root_enter and any
# image hook mounted) and remove the build's helpers.
root_leave() {
	unmount_below "$1"
	rm -f "$1/usr/sbin/policy-rc.d"
}

# root_finalize ROOT: what no image should carry: package lists and caches,
# logs, device nodes, the build's DNS settings and scratch files.
root_finalize() {
	local root=$1
	[ -z "$(mounts_below "$root")" ] || die "root_finalize: $root still has mounts"
	rm -rf "${root:?}"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
		"$root"/var/cache/apt/archives/* "$root"/var/cache/debconf/*-old \
		"$root"/var/lib/dpkg/*-old "$root"/root/.cache "$root"/tmp/build
	find "$root/dev" -mindepth 1 -delete
	find "$root/var/log" "$root/run" -type f -delete
	find "$root/tmp" "$root/var/tmp" -mindepth 1 -delete
	chmod 1777 "$root/tmp" "$root/var/tmp"
	# The runtime mounts its own; these are the empty files it mounts over.
	rm -f "$root/etc/resolv.conf" "$root/etc/hostname"
	install -m 644 /dev/null "$root/etc/resolv.conf"
	install -m 644 /dev/null "$root/etc/hostname"
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
	rm -f "$root/etc/machine-id" "$root/var/lib/dbus/machine-id"
}
