#!/usr/bin/env bash
# Builds the local cluster's components from their upstream Go modules:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet,
# kube-proxy, kubectl and CoreDNS, at the versions pinned in hack/lib.sh.
#
# The build module lives in the cache, next to its output, and is generated:
# k8s.io/kubernetes requires its staging modules at v0.0.0 and maps them to
# ./staging with replace directives that a dependent module does not inherit,
# so every such module is replaced here by its published v0.<minor>.<patch>,
# with the list read from the pinned go.mod itself. etcd is built at the
# version Kubernetes requires. CoreDNS gets a module of its own so that its
# dependencies do not move Kubernetes' ones.
#
# A finished build leaves a stamp; a second run with the same versions does
# nothing. Run with FORCE=1 to rebuild.
source "$(dirname "$0")/lib.sh"

command -v go >/dev/null || die "Go is not installed; install Go 1.25 or newer"

export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local

kube_stamp=$KUBE_BIN/.complete
coredns_stamp=$COREDNS_BIN/.complete

build_kube() {
	local src=$CACHE_DIR/kube-v$KUBE_VERSION/src minor=${KUBE_VERSION#*.}
	minor=${minor%%.*}
	mkdir -p "$src" "$KUBE_BIN"
	cd "$src"
	log "preparing the build module for Kubernetes v$KUBE_VERSION"
	rm -f go.mod go.sum
	go mod init pgo-local/kube >/dev/null 2>&1
	go mod edit -require="k8s.io/kubernetes@v$KUBE_VERSION"
	local upstream
	upstream=$(go mod download -json "k8s.io/kubernetes@v$KUBE_VERSION" |
		sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
	[ -f "$upstream" ] || die "could not download k8s.io/kubernetes@v$KUBE_VERSION from the Go module proxy"
	# The go and godebug lines of the main module set the runtime defaults.
	go mod edit -go="$(sed -n 's/^go //p' "$upstream")"
	local godebug
	godebug=$(sed -n 's/^godebug //p' "$upstream")
	[ -n "$godebug" ] && go mod edit -godebug="$godebug"
	local staged
	staged=$(sed -n -e 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' \
		-e 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) v0\.0\.0$#\1#p' "$upstream" | sort -u)
	[ -n "$staged" ] || die "found no staging modules in $upstream"
	local m
	for m in $staged; do
		go mod edit -replace="$m=$m@v0.$minor.${KUBE_VERSION##*.}"
	done
	log "replaced $(echo "$staged" | wc -w) staging modules"
	cat >tools.go <<-'EOF'
		//go:build tools

		package tools

		import (
			_ "go.etcd.io/etcd/server/v3"
			_ "k8s.io/kubernetes/cmd/kube-apiserver"
			_ "k8s.io/kubernetes/cmd/kube-controller-manager"
			_ "k8s.io/kubernetes/cmd/kube-proxy"
			_ "k8s.io/kubernetes/cmd/kube-scheduler"
			_ "k8s.io/kubernetes/cmd/kubectl"
			_ "k8s.io/kubernetes/cmd/kubelet"
		)
	EOF
	local pkgs="k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
		k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet
		k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubectl"
	log "downloading modules"
	go mod tidy >/dev/null 2>"$src/tidy.log" || {
		tail -5 "$src/tidy.log" >&2
		die "go mod tidy failed for Kubernetes v$KUBE_VERSION"
	}
	local commit date pkg ldflags=""
	commit=$(go mod download -json "k8s.io/kubernetes@v$KUBE_VERSION" |
		sed -n 's/.*"Hash": "\([0-9a-f]*\)".*/\1/p' | head -1)
	date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ldflags+=" -X $pkg.gitVersion=v$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
		ldflags+=" -X $pkg.gitCommit=${commit:-unknown} -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
	done
	log "compiling Kubernetes v$KUBE_VERSION (a cold build takes about 10-15 minutes on 2 cores)"
	# shellcheck disable=SC2086
	go build -trimpath -ldflags "-s -w$ldflags" -o "$KUBE_BIN/" $pkgs ||
		die "building Kubernetes v$KUBE_VERSION failed"
	log "compiling etcd"
	go build -trimpath -ldflags "-s -w" -o "$KUBE_BIN/etcd" go.etcd.io/etcd/server/v3 ||
		die "building etcd failed"
	touch "$kube_stamp"
}

build_coredns() {
	local src=$CACHE_DIR/coredns-v$COREDNS_VERSION/src
	mkdir -p "$src" "$COREDNS_BIN"
	cd "$src"
	rm -f go.mod go.sum
	go mod init pgo-local/coredns >/dev/null 2>&1
	go mod edit -require="github.com/coredns/coredns@v$COREDNS_VERSION"
	cat >tools.go <<-'EOF'
		//go:build tools

		package tools

		import _ "github.com/coredns/coredns"
	EOF
	log "downloading CoreDNS v$COREDNS_VERSION modules"
	go mod tidy >/dev/null 2>"$src/tidy.log" || {
		tail -5 "$src/tidy.log" >&2
		die "go mod tidy failed for CoreDNS v$COREDNS_VERSION"
	}
	log "compiling CoreDNS v$COREDNS_VERSION"
	go build -trimpath -ldflags "-s -w" -o "$COREDNS_BIN/coredns" github.com/coredns/coredns ||
		die "building CoreDNS failed"
	touch "$coredns_stamp"
}

[ "${FORCE:-0}" = 1 ] && rm -f "$kube_stamp" "$coredns_stamp"
mkdir -p "$CACHE_DIR"
start=$SECONDS
if [ -f "$kube_stamp" ]; then
	log "Kubernetes v$KUBE_VERSION already built in $KUBE_BIN"
else
	build_kube
fi
if [ -f "$coredns_stamp" ]; then
	log "CoreDNS v$COREDNS_VERSION already built in $COREDNS_BIN"
else
	build_coredns
fi
log "binaries ready ($((SECONDS - start)) s)"
