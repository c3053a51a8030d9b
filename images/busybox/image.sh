# shellcheck shell=bash disable=SC2034 # sourced by hack/build-images.sh, which reads these
# Descriptor of the busybox image used by the smoke tests and as a small
# helper image: Debian's statically linked busybox with a link for every
# applet (sh, nslookup, wget, httpd, sleep, cat, ...), a passwd and group
# file with root and nobody, and a world-writable /tmp.
IMAGE_REF_VAR=BUSYBOX_IMAGE
IMAGE_FROM=trixie
IMAGE_SCRATCH=1
IMAGE_LABEL_PACKAGES=(busybox-static)
IMAGE_TITLE=busybox
IMAGE_DESCRIPTION="BusyBox, statically linked (Debian trixie's busybox-static)"
IMAGE_USER=65534
IMAGE_ENV=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" HOME=/tmp)
IMAGE_CMD='["sh"]'

# image_version ROOT: the tag tells BusyBox's version.
image_version() {
	local v
	v=$(root_pkg_version "$1" busybox-static)
	GOT_VERSION=$(upstream_version "$v")
	GOT_WHAT="busybox-static $v from trixie"
}

# image_assemble BUILD_ROOT ROOT: the binary, its applet links and the few
# files a shell expects (assemble.sh, shared with the Containerfile).
image_assemble() {
	sh "$DIR/assemble.sh" "$1" "$2" || die "assembling the busybox root failed"
}
