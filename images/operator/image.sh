# shellcheck shell=bash disable=SC2034 # sourced by hack/build-images.sh, which reads these
# Descriptor of the operator's base image. hack/build-images.sh builds the
# base; images/operator/build.sh adds the operator binary as a second layer
# (so rebuilding the binary never repacks the base) and names the result.
IMAGE_REF_VAR=OPERATOR_BASE_IMAGE
IMAGE_FROM=trixie
IMAGE_LABEL_PACKAGES=(libcurl4t64 libjansson4 libssl3t64 libpq5 libyaml-0-2 ca-certificates libc6)
IMAGE_TITLE="postgres-operator base"
IMAGE_DESCRIPTION="Run-time libraries of the C PostgreSQL operator (Debian trixie); images/operator/build.sh adds the binary"
IMAGE_USER=65532
IMAGE_ENV=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" LANG=C.UTF-8 HOME=/tmp)

# image_version ROOT: the tag tells Debian's point release.
image_version() {
	GOT_VERSION=$(cat "$1/etc/debian_version")
	GOT_WHAT="Debian $GOT_VERSION (/etc/debian_version)"
}
