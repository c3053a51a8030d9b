# shellcheck shell=bash disable=SC2034 # sourced by hack/build-images.sh, which reads these
# Descriptor of the PgBouncer image (trixie's pgbouncer).
IMAGE_REF_VAR=PGBOUNCER_IMAGE
IMAGE_FROM=trixie
IMAGE_LABEL_PACKAGES=(pgbouncer libssl3t64 libc6 libnss-unknown)
IMAGE_TITLE=PgBouncer
IMAGE_DESCRIPTION="PgBouncer connection pooler (Debian trixie)"
IMAGE_USER=26
IMAGE_ENV=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" LANG=C.UTF-8 HOME=/var/lib/postgresql)
IMAGE_CMD='["pgbouncer", "/etc/pgbouncer/pgbouncer.ini"]'
IMAGE_PORTS=(5432/tcp 6432/tcp)

# image_version ROOT: the tag tells PgBouncer's version.
image_version() {
	local v
	v=$(root_pkg_version "$1" pgbouncer)
	GOT_VERSION=$(upstream_version "$v")
	GOT_WHAT="pgbouncer $v from trixie"
}
