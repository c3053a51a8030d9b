# shellcheck shell=bash disable=SC2034 # sourced by hack/build-images.sh, which reads these
# Descriptor of the postgres_exporter image (Debian's
# prometheus-postgres-exporter from sid, on trixie).
IMAGE_REF_VAR=POSTGRES_EXPORTER_IMAGE
IMAGE_FROM=trixie
IMAGE_LABEL_PACKAGES=(prometheus-postgres-exporter libc6 libnss-unknown)
IMAGE_TITLE=postgres_exporter
IMAGE_DESCRIPTION="Prometheus exporter for PostgreSQL server metrics (Debian's prometheus-postgres-exporter from sid)"
# nobody: the exporter needs no files of its own.
IMAGE_USER=65534
IMAGE_ENV=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" LANG=C.UTF-8 HOME=/tmp)
IMAGE_ENTRYPOINT='["/usr/bin/postgres_exporter"]'
IMAGE_PORTS=(9187/tcp)

# image_version ROOT: the tag tells the exporter's version.
image_version() {
	local v
	v=$(root_pkg_version "$1" prometheus-postgres-exporter)
	GOT_VERSION=$(upstream_version "$v")
	GOT_WHAT="prometheus-postgres-exporter $v from sid"
}
