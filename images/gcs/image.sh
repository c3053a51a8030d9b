# shellcheck shell=bash disable=SC2034 # sourced by hack/build-images.sh, which reads these
# Descriptor of the GCS test server image: fake-gcs-server's fakestorage
# behind our small command (main.go), built with sid's Go on trixie. Built
# on demand (`hack/build-images.sh gcs`), not by `make cluster-up`. The tag
# tells fake-gcs-server's version, which go.mod pins.
IMAGE_REF_VAR=GCS_SERVER_IMAGE
IMAGE_FROM=trixie
# go finds its own GOROOT through /proc/self/exe.
IMAGE_PROC=1
IMAGE_INSTALL_ENV=(GO_CACHE_DIR=/tmp/build/go-cache GO_BUILD_CA=/tmp/build/host-ca.crt)
IMAGE_LABEL_PACKAGES=(curl ca-certificates libnss-unknown libc6)
IMAGE_TITLE="fake-gcs-server"
IMAGE_DESCRIPTION="fake-gcs-server's Google Cloud Storage emulator over HTTPS, a GCS service for tests"
IMAGE_USER=1000
IMAGE_ENV=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" LANG=C.UTF-8 HOME=/var/lib/gcs-server)
IMAGE_ENTRYPOINT='["/usr/local/bin/gcs-server"]'
IMAGE_PORTS=(4443/tcp)

# image_before_install ROOT: a Go cache that outlives the root, and the
# host's CA bundle for the module proxy.
image_before_install() {
	mkdir -p "$IMAGE_CACHE/go-cache" "$1/tmp/build/go-cache"
	mount --bind "$IMAGE_CACHE/go-cache" "$1/tmp/build/go-cache"
	if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
		cp /etc/ssl/certs/ca-certificates.crt "$1/tmp/build/host-ca.crt"
	fi
}

# buildinfo_version ROOT MODULE: the version of MODULE built into gcs-server.
buildinfo_version() {
	awk -v m="$2" '($1 == "dep" || $1 == "mod") && $2 == m { print $3 }' \
		"$1/usr/local/share/gcs-server/buildinfo"
}

# image_version ROOT: the tag tells fake-gcs-server's version.
image_version() {
	local v
	v=$(buildinfo_version "$1" github.com/fsouza/fake-gcs-server)
	GOT_VERSION=${v#v}
	GOT_WHAT="fake-gcs-server $v from the Go module proxy (pinned in images/gcs/go.mod)"
}

# image_labels ROOT: the Go that built it and the main modules.
image_labels() {
	echo "local.pgo.go=$(awk 'NR == 1 { print $2 }' "$1/usr/local/share/gcs-server/buildinfo")"
	echo "local.pgo.gomod.fake-gcs-server=$(buildinfo_version "$1" github.com/fsouza/fake-gcs-server)"
}
