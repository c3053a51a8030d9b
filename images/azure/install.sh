#!/bin/bash
# Installs Azurite's Blob service (npm package azurite, pinned below) on
# trixie's Node.js: the Azure Blob service of the tests of pgBackRest's Azure
# repositories (repoN-type=azure). npm comes from trixie for the install only
# and is removed again with what it pulled in; the image keeps Node.js and
# /opt/azurite (with the package-lock.json of what npm resolved).
#
#   azurite-blob                 on PATH; the image's entrypoint adds
#                                --disableTelemetry (Azurite would report to
#                                Microsoft by default)
#   /var/lib/azurite             --location, group 0 writable
#   user azurite, UID/GID 1000
#
# Azurite 3.36 and later need Node.js 21 or newer; trixie has 20, so this
# image stays on the 3.35 series.
#
# Build-time only (hack/build-images.sh sets them, a Containerfile need not):
# NPM_CACHE_DIR, a cache that outlives the build root, and NPM_BUILD_CA, the
# CA bundle to trust for the npm registry.
source "$(dirname "$0")/lib-root.sh"
AZURITE_VERSION=3.35.0
prefix=/opt/azurite

add_user azurite 1000 /var/lib/azurite
apt_install nodejs npm ca-certificates libnss-unknown

export NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
export NPM_CONFIG_CACHE=${NPM_CACHE_DIR:-/tmp/npm-cache}
if [ -n "${NPM_BUILD_CA:-}" ] && [ -f "$NPM_BUILD_CA" ]; then export NPM_CONFIG_CAFILE=$NPM_BUILD_CA; fi
mkdir -p "$prefix"
msg "npm install azurite@$AZURITE_VERSION"
(cd "$prefix" && npm install --omit=dev --save-exact "azurite@$AZURITE_VERSION" >/tmp/npm.log 2>&1) || {
	tail -n 20 /tmp/npm.log >&2
	fail "npm could not install azurite@$AZURITE_VERSION (see above): check access to the npm registry"
}
rm -f /tmp/npm.log
ln -sfn "$prefix/node_modules/.bin/azurite-blob" /usr/local/bin/azurite-blob
azurite-blob --help >/dev/null 2>&1 || fail "azurite-blob does not run on this Node.js"

# npm was only for the install.
# shellcheck disable=SC2086 # APT_OPTS is words
apt-get $APT_OPTS purge -y -q --auto-remove npm >/dev/null
rm -rf /tmp/npm-cache /root/.npm
group_writable azurite /var/lib/azurite
nss_any_uid
finish_root
