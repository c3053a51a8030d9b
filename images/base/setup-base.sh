#!/bin/bash
# Turns a fresh Debian root filesystem into the base every image starts from.
# Runs inside that root as root: in a chroot right after debootstrap (from
# hack/build-images.sh) or as the first RUN of a Containerfile on top of
# debian:trixie-slim or debian:sid-slim, so both ways give the same base.
#
# Usage: setup-base.sh trixie|sid
#
# What it does:
#  - apt sources: trixie (+ updates, security) and sid, always both, so that
#    one set of package lists serves every image; the pins make the root's
#    own suite the default and let the other one be used only by name
#    (`apt-get install pkg/sid`), never by an upgrade;
#  - apt installs no recommended or suggested packages;
#  - dpkg leaves out documentation, manual pages and translations (keeping
#    the copyright files), and what debootstrap already installed of them is
#    removed;
#  - the keyring, sources and pins stay in the image, so that a user can still
#    `apt-get update && apt-get install` in a derived image.
set -euo pipefail

suite=${1:?usage: setup-base.sh trixie|sid}
case $suite in trixie | sid) ;; *)
	echo "setup-base.sh: unknown suite '$suite' (trixie or sid)" >&2
	exit 2
	;;
esac

# write_sources: one deb822 file naming both suites.
write_sources() {
	rm -f /etc/apt/sources.list
	cat >/etc/apt/sources.list.d/debian.sources <<-'EOF'
		Types: deb
		URIs: http://deb.debian.org/debian
		Suites: trixie trixie-updates sid
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

		Types: deb
		URIs: http://deb.debian.org/debian-security
		Suites: trixie-security
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
}

# write_pins: the root's own suite at the default priority, the other one
# below the installed packages' 100, so it is used only when named.
write_pins() {
	local other
	if [ "$suite" = trixie ]; then
		other='Pin: release n=sid'
	else
		other='Pin: release n=trixie*'
	fi
	# A glob in `n=` is matched by apt (fnmatch), so trixie* covers
	# trixie-updates and trixie-security too.
	cat >/etc/apt/preferences.d/suites <<-EOF
		Package: *
		$other
		Pin-Priority: 50
	EOF
}

# write_apt_config: no recommends or suggests, ever.
write_apt_config() {
	cat >/etc/apt/apt.conf.d/90images <<-'EOF'
		APT::Install-Recommends "false";
		APT::Install-Suggests "false";
	EOF
}

# write_dpkg_excludes: what dpkg should not unpack. Translations go too:
# the images speak English. (debian:*-slim images exclude much the same.)
write_dpkg_excludes() {
	cat >/etc/dpkg/dpkg.cfg.d/90images-excludes <<-'EOF'
		path-exclude=/usr/share/doc/*
		path-include=/usr/share/doc/*/copyright
		path-exclude=/usr/share/man/*
		path-exclude=/usr/share/info/*
		path-exclude=/usr/share/lintian/*
		path-exclude=/usr/share/locale/*
		path-include=/usr/share/locale/locale.alias
	EOF
	# PostgreSQL's own manual pages (/usr/share/postgresql/*/man) stay: the
	# packages register them with update-alternatives, which fails on a
	# missing file.
}

# strip_installed: remove what the excludes would have left out, from the
# packages installed before they existed.
strip_installed() {
	find /usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
	find /usr/share/doc -mindepth 1 -type d -empty -delete 2>/dev/null || true
	rm -rf /usr/share/man/* /usr/share/info/* /usr/share/lintian/*
	find /usr/share/locale -mindepth 1 -maxdepth 1 -not -name locale.alias \
		-exec rm -rf {} + 2>/dev/null || true
}

write_sources
write_pins
write_apt_config
write_dpkg_excludes
strip_installed
