#!/usr/bin/env bash
# Builds the Helm client from its Go module at a pinned version, because
# Debian bookworm does not package Helm and no download site can be reached.
#
# Output: $PGO_CACHE_DIR/helm-v<version>/bin/helm (default cache
# /var/cache/pgo-local). The build module lives beside the binary. A finished
# build leaves a stamp; running again does nothing. FORCE=1 rebuilds.
# Prints the path of the binary on standard output.
set -euo pipefail

HELM_VERSION=${HELM_VERSION:-3.22.0}
CACHE_DIR=${PGO_CACHE_DIR:-/var/cache/pgo-local}
HELM_DIR=$CACHE_DIR/helm-v$HELM_VERSION
HELM_BIN=$HELM_DIR/bin/helm
stamp=$HELM_DIR/bin/.complete

log() { printf '%s [%s] %s\n' "$(date +%H:%M:%S)" "${0##*/}" "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

[ "${FORCE:-0}" = 1 ] && rm -f "$stamp"
if [ -f "$stamp" ] && [ -x "$HELM_BIN" ]; then
	echo "$HELM_BIN"
	exit 0
fi

command -v go >/dev/null || die "Go is not installed; install Go 1.25 or newer"
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local

src=$HELM_DIR/src
mkdir -p "$src" "$HELM_DIR/bin"
cd "$src"
rm -f go.mod go.sum
go mod init pgo-local/helm >/dev/null 2>&1
go mod edit -require="helm.sh/helm/v3@v$HELM_VERSION"
cat >tools.go <<-'EOF'
	//go:build tools

	package tools

	import _ "helm.sh/helm/v3/cmd/helm"
EOF
log "downloading Helm v$HELM_VERSION modules"
go mod tidy >/dev/null 2>"$src/tidy.log" || {
	tail -5 "$src/tidy.log" >&2
	die "go mod tidy failed for helm.sh/helm/v3@v$HELM_VERSION"
}
log "compiling Helm v$HELM_VERSION (a few minutes on 2 cores)"
go build -trimpath \
	-ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION" \
	-o "$HELM_BIN" helm.sh/helm/v3/cmd/helm || die "building Helm v$HELM_VERSION failed"
touch "$stamp"
log "Helm ready: $HELM_BIN"
echo "$HELM_BIN"
