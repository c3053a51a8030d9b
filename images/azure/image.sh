# shellcheck shell=bash disable=SC2034 # sourced by hack/build-images.sh, which reads these
# Descriptor of the Azure Blob test server image: Azurite from npm on
# trixie's Node.js. Built on demand (`hack/build-images.sh azure`), not by
# `make cluster-up`. The tag tells Azurite's version, pinned in install.sh.
IMAGE_REF_VAR=AZURE_SERVER_IMAGE
IMAGE_FROM=trixie
IMAGE_INSTALL_ENV=(NPM_CACHE_DIR=/tmp/build/npm-cache NPM_BUILD_CA=/tmp/build/host-ca.crt)
IMAGE_LABEL_PACKAGES=(nodejs libnss-unknown libc6)
IMAGE_TITLE="Azurite"
IMAGE_DESCRIPTION="Azurite's Azure Blob service (npm) on Debian trixie's Node.js, an Azure Blob service for tests"
IMAGE_USER=1000
IMAGE_ENV=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" LANG=C.UTF-8 HOME=/var/lib/azurite)
IMAGE_ENTRYPOINT='["azurite-blob", "--disableTelemetry"]'
IMAGE_CMD='["--blobHost", "0.0.0.0", "--blobPort", "10000", "--location", "/var/lib/azurite", "--disableProductStyleUrl"]'
IMAGE_PORTS=(10000/tcp)

# image_before_install ROOT: an npm cache that outlives the root, and the
# host's CA bundle for the npm registry.
image_before_install() {
	mkdir -p "$IMAGE_CACHE/npm-cache" "$1/tmp/build/npm-cache"
	mount --bind "$IMAGE_CACHE/npm-cache" "$1/tmp/build/npm-cache"
	if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
		cp /etc/ssl/certs/ca-certificates.crt "$1/tmp/build/host-ca.crt"
	fi
}

# image_version ROOT: the tag tells Azurite's version.
image_version() {
	GOT_VERSION=$(jq -r .version "$1/opt/azurite/node_modules/azurite/package.json")
	GOT_WHAT="azurite $GOT_VERSION from npm (pinned in images/azure/install.sh)"
}
