# Helpers for tests that talk to the local cluster. Sourced after tap.sh.
# Reads the cluster's settings from hack/lib.sh and the image references
# from images/versions.env.

_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../hack/lib.sh
source "$_root/hack/lib.sh"
set +e
# shellcheck source=../../images/versions.env
[ -f "$_root/images/versions.env" ] && source "$_root/images/versions.env"
export KUBECONFIG=${KUBECONFIG:-$KUBECONFIG_FILE}
KUBECTL=$KUBE_BIN/kubectl
[ -x "$KUBECTL" ] || KUBECTL=kubectl
k() { "$KUBECTL" "$@"; }

# The namespaces a test made, for cleanup_namespaces. A file, not a
# variable: new_namespace runs in a command substitution's subshell.
_namespaces_file=$(mktemp)

# new_namespace PREFIX [LABELS...]: create a namespace for this test, removed
# at exit; prints its name.
new_namespace() {
	local ns="$1-$$-$RANDOM"
	shift
	k create namespace "$ns" >/dev/null || return 1
	[ $# -gt 0 ] && k label namespace "$ns" "$@" >/dev/null
	echo "$ns" >>"$_namespaces_file"
	echo "$ns"
}

cleanup_namespaces() {
	[ -f "$_namespaces_file" ] || return 0
	local ns
	while read -r ns; do
		k delete namespace "$ns" --wait=false >/dev/null 2>&1
	done <"$_namespaces_file"
	rm -f "$_namespaces_file"
}

# cluster_reachable: the API server answers.
cluster_reachable() { k get --raw /readyz >/dev/null 2>&1; }

# restricted_security: the securityContext lines a container needs under the
# restricted Pod Security Standard (indent 6 for a container in a pod).
restricted_security() {
	cat <<-'EOF2'
		      securityContext:
		        allowPrivilegeEscalation: false
		        runAsNonRoot: true
		        capabilities: {drop: [ALL]}
		        seccompProfile: {type: RuntimeDefault}
	EOF2
}
