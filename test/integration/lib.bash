# Shared setup of the integration tests, sourced by test/integration/*.sh
# (this file is not a test: it is not executable and does not end in .sh).
#
# Gives each test its own throwaway kube-apiserver (hack/envtest.sh), stopped
# when the test exits, and puts the pinned kubectl first on PATH.

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
# shellcheck source=../lib/tap.sh
source "$ROOT/test/lib/tap.sh"

KUBE_VERSION=${KUBE_VERSION:-1.35.4}
KUBE_BIN=${PGO_CACHE_DIR:-/var/cache/pgo-local}/kube-v$KUBE_VERSION/bin
export PATH="$KUBE_BIN:$PATH"

# Everything a test leaves is removed when it exits: its API server and the
# temporary directories it registered with make_workdir.
_workdirs=()
_cleanup() {
	stop_apiserver
	[ ${#_workdirs[@]} -gt 0 ] && rm -rf "${_workdirs[@]}"
	return 0
}
trap _cleanup EXIT

# make_workdir VAR: set VAR to a new temporary directory, removed at exit.
make_workdir() {
	local d
	d=$(mktemp -d "${TMPDIR:-/tmp}/pgo-integration.XXXXXX") || return 1
	_workdirs+=("$d")
	printf -v "$1" '%s' "$d"
}

# The operator's ServiceAccount, for `kubectl --as`.
PGO_SA=system:serviceaccount:postgres-operator:pgo

# need_binaries: the test cannot run without the pinned Kubernetes binaries.
need_binaries() {
	if [ ! -x "$KUBE_BIN/kube-apiserver" ] || [ ! -x "$KUBE_BIN/etcd" ] || [ ! -x "$KUBE_BIN/kubectl" ]; then
		tap_fail "Kubernetes binaries present" "none in $KUBE_BIN; run make kube-binaries (hack/build-kube.sh)"
		tap_done
		exit 1
	fi
}

# start_apiserver: a fresh etcd + kube-apiserver for this test.
start_apiserver() {
	need_binaries
	local dir log=${TMPDIR:-/tmp}/envtest-start.$$.log
	# One more try when the first fails: a busy machine can be slow to start
	# one, and the reason is kept in the test's log either way.
	if ! dir=$("$ROOT/hack/envtest.sh" start 2>"$log"); then
		echo "# the first kube-apiserver did not start; trying once more" >&2
		cat "$log" >&2
		if ! dir=$("$ROOT/hack/envtest.sh" start 2>"$log"); then
			tap_fail "start kube-apiserver" "$(tail -80 "$log")"
			rm -f "$log"
			tap_done
			exit 1
		fi
	fi
	rm -f "$log"
	eval "$("$ROOT/hack/envtest.sh" env "$dir")"
	echo "# kube-apiserver ready, state in $ENVTEST_DIR"
}

stop_apiserver() {
	[ -n "${ENVTEST_DIR:-}" ] && "$ROOT/hack/envtest.sh" stop "$ENVTEST_DIR" 2>/dev/null
	ENVTEST_DIR=
}

# python_with_yaml: prints a python3 that can import yaml, installing
# Debian's python3-yaml when none can; fails when that is impossible.
python_with_yaml() {
	local py
	for py in python3 /usr/bin/python3; do
		if command -v "$py" >/dev/null && "$py" -c 'import yaml' 2>/dev/null; then
			command -v "$py"
			return 0
		fi
	done
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-yaml \
			>/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-yaml \
				>/dev/null 2>&1; }
		/usr/bin/python3 -c 'import yaml' 2>/dev/null && echo /usr/bin/python3 && return 0
	fi
	return 1
}

# crd_condition CRD TYPE: true when condition TYPE of the CRD is True. (kubectl
# wait fails at once while a new CRD has no conditions yet.)
crd_condition() {
	[ "$(kubectl get "crd/$1" -o jsonpath="{.status.conditions[?(@.type==\"$2\")].status}" 2>/dev/null)" = True ]
}

# wait_crds: until both CRDs are Established, at most 60 s.
wait_crds() {
	retry_until 60 crd_condition postgresclusters.postgres-operator.crunchydata.com Established &&
		retry_until 60 crd_condition pgupgrades.postgres-operator.crunchydata.com Established
}

# install_crds: apply the CRDs and wait until they are served.
install_crds() {
	kubectl apply --server-side -f "$ROOT/config/crd/bases" >/dev/null && wait_crds
}

# resource_versions: "kind/namespace/name resourceVersion" of every object a
# kustomization builds, sorted; used to tell whether an apply changed anything.
resource_versions() {
	kubectl kustomize "$1" |
		kubectl get -f - --no-headers \
			-o custom-columns=KIND:.kind,NAMESPACE:.metadata.namespace,NAME:.metadata.name,VERSION:.metadata.resourceVersion |
		sort
}
