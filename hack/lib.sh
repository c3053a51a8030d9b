# Shared settings and helpers for the local-Kubernetes scripts in hack/.
# Sourced, never run. Every path the scripts write to is derived here, so
# that nothing they do can touch data outside their own directories.

set -euo pipefail

# Pinned versions. Bumping one of these is the only way to rebuild.
KUBE_VERSION=${KUBE_VERSION:-1.35.4}
COREDNS_VERSION=${COREDNS_VERSION:-1.14.7}

HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=$(cd "$HACK_DIR/.." && pwd)

# Large builds are cached outside the work tree, keyed by version.
CACHE_DIR=${PGO_CACHE_DIR:-/var/cache/pgo-local}
KUBE_BIN=$CACHE_DIR/kube-v$KUBE_VERSION/bin
COREDNS_BIN=$CACHE_DIR/coredns-v$COREDNS_VERSION/bin

# Runtime state of the local cluster: one directory for data, one for sockets
# and PIDs. cluster-down removes both.
STATE_DIR=${PGO_STATE_DIR:-/var/lib/pgo-local}
RUN_DIR=${PGO_RUN_DIR:-/run/pgo-local}
KUBECONFIG_FILE=${PGO_KUBECONFIG:-$STATE_DIR/admin.kubeconfig}

# Addresses. Pods and Services use ranges the host does not route anywhere.
NODE_NAME=node1
POD_CIDR=10.244.0.0/16
NODE_POD_CIDR=10.244.0.0/24
POD_GATEWAY=10.244.0.1
SERVICE_CIDR=10.96.0.0/16
SERVICE_API_IP=10.96.0.1
CLUSTER_DOMAIN=cluster.local
BRIDGE=cni0

log() { printf '%s [%s] %s\n' "$(date +%H:%M:%S)" "${0##*/}" "$*" >&2; }
die() {
	printf '%s [%s] error: %s\n' "$(date +%H:%M:%S)" "${0##*/}" "$*" >&2
	exit 1
}

# Installs Debian packages that are not installed yet. Arguments are package
# names, optionally with a /suite suffix for trixie or sid.
ensure_packages() {
	local missing=() p name
	for p in "$@"; do
		name=${p%%/*}
		dpkg-query -W -f='${Status}' "$name" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing Debian packages: ${missing[*]}"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" \
		>"/tmp/pgo-apt.$$.log" 2>&1; then
		if ! apt-get update >/dev/null 2>&1 ||
			! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
				"${missing[@]}" >"/tmp/pgo-apt.$$.log" 2>&1; then
			tail -5 "/tmp/pgo-apt.$$.log" >&2
			die "could not install ${missing[*]}; check the Debian mirror and 'apt-get update'"
		fi
	fi
	rm -f "/tmp/pgo-apt.$$.log"
}

# Adds the trixie and sid suites to apt with a low pin priority, so that
# single packages can be taken from them by name without upgrading the host.
ensure_debian_suites() {
	local list=/etc/apt/sources.list.d/pgo-local-suites.sources
	local pref=/etc/apt/preferences.d/pgo-local-suites
	[ -f "$list" ] && [ -f "$pref" ] && return 0
	log "adding the trixie and sid suites to apt at pin priority 100"
	cat >"$list" <<-EOF
		Types: deb
		URIs: http://deb.debian.org/debian
		Suites: trixie sid
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	cat >"$pref" <<-EOF
		Package: *
		Pin: release n=trixie
		Pin-Priority: 100

		Package: *
		Pin: release n=sid
		Pin-Priority: 50
	EOF
	apt-get update >/dev/null 2>&1 || die "apt-get update failed after adding trixie and sid"
}

# The cluster's own containerd: its own root, state and socket, so that it
# never shares anything with another containerd on the machine.
CONTAINERD_ROOT=$STATE_DIR/containerd
CONTAINERD_STATE=$RUN_DIR/containerd
CONTAINERD_SOCK=$RUN_DIR/containerd/containerd.sock
IMAGE_CACHE=$CACHE_DIR/images
# The kubelet's cgroup root: pods live under /$KUBE_CGROUP/kubepods in every
# hierarchy, apart from anything else on the machine.
KUBE_CGROUP=pgo-local
# Host paths that the kubelet, containerd and the CNI plugins use whatever
# they are configured with.
HOST_PATHS="/var/log/containers /var/lib/kubelet /var/lib/cni"
