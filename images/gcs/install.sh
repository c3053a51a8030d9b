#!/bin/bash
# Builds the GCS test server (main.go: fake-gcs-server's fakestorage over
# HTTPS, see its comment) with sid's Go, from the modules that go.mod and
# go.sum pin (Go module proxy), then removes Go again: the image keeps one
# static binary, /usr/local/bin/gcs-server, and the build's module list in
# /usr/local/share/gcs-server/buildinfo. curl is there to make buckets from
# inside the pod (test/lib/storage.sh).
#
#   /var/lib/gcs-server  the buckets (-root), group 0 writable
#   user gcs, UID/GID 1000
#
# fake-gcs-server needs Go 1.26; trixie has 1.24, sid the newer one, whose
# compiler needs nothing newer than trixie's C library.
#
# Build-time only (hack/build-images.sh sets them, a Containerfile need not):
# GO_CACHE_DIR, a module and build cache that outlives the build root, and
# GO_BUILD_CA, the CA bundle to trust for the module proxy.
source "$(dirname "$0")/lib-root.sh"
here=$(dirname "$0")

add_user gcs 1000 /var/lib/gcs-server
apt_install golang-go/sid golang-src/sid ca-certificates curl media-types libnss-unknown

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=readonly -trimpath -buildvcs=false"
export GOPROXY=${GOPROXY:-https://proxy.golang.org}
cache=${GO_CACHE_DIR:-/tmp/go-cache}
export GOMODCACHE=$cache/mod GOCACHE=$cache/build GOPATH=/tmp/go
if [ -n "${GO_BUILD_CA:-}" ] && [ -f "$GO_BUILD_CA" ]; then export SSL_CERT_FILE=$GO_BUILD_CA; fi
msg "go build (fake-gcs-server $(sed -n 's/^require github.com\/fsouza\/fake-gcs-server //p' "$here/go.mod"))"
(cd "$here" && go build -ldflags=-s -o /usr/local/bin/gcs-server .) ||
	fail "go build failed (see above): check access to the Go module proxy ($GOPROXY)"
mkdir -p /usr/local/share/gcs-server
go version -m /usr/local/bin/gcs-server >/usr/local/share/gcs-server/buildinfo
/usr/local/bin/gcs-server -h 2>&1 | grep -q -- -root || fail "gcs-server does not run"

# Go was only for the build.
# shellcheck disable=SC2046,SC2086 # APT_OPTS and the package list are words
apt-get $APT_OPTS purge -y -q --auto-remove $(dpkg-query -W -f='${Package}\n' 'golang-*') >/dev/null
rm -rf /tmp/go /tmp/go-cache
group_writable gcs /var/lib/gcs-server
nss_any_uid
finish_root
