#!/usr/bin/env bash
# The seed's install commands on the local cluster, verbatim: the operator
# image runs as Deployment pgo in namespace postgres-operator, becomes
# Ready, elects itself leader, and reconciles the hippo PostgresCluster from
# kustomize/postgres, writing nothing more once hippo has settled. Then the seed's
# uninstall commands remove it. The operator image must be imported
# (make check does: build-release, then images/operator/build.sh --import).
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/kube.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
# The seed's commands call kubectl by name: use the cluster's own version.
PATH=$KUBE_BIN:$PATH
selector=postgres-operator.crunchydata.com/control-plane=postgres-operator

uninstall() {
	kubectl delete -k kustomize/postgres --ignore-not-found --wait=true --timeout=60s >/dev/null 2>&1
	kubectl delete -k kustomize/install/default --ignore-not-found --timeout=60s >/dev/null 2>&1
	kubectl delete -k kustomize/install/namespace --ignore-not-found --timeout=60s >/dev/null 2>&1
}

if ! cluster_reachable; then
	tap_fail "cluster reachable" "the local cluster does not answer; run 'make cluster-up'"
	tap_done
	exit 1
fi
uninstall

tap_check "kubectl apply -k kustomize/install/namespace" kubectl apply -k kustomize/install/namespace
tap_check "kubectl apply --server-side -k kustomize/install/default" \
	kubectl apply --server-side -k kustomize/install/default
tap_check "the operator Deployment rolls out" \
	kubectl -n postgres-operator rollout status deployment/pgo --timeout=180s
check_pod() {
	local out
	out=$(kubectl -n postgres-operator get pods --selector="$selector" \
		-o jsonpath='{range .items[*]}{.status.phase} {.status.containerStatuses[0].ready}{"\n"}{end}')
	echo "$out"
	[ "$out" = "Running true" ]
}
tap_check "one operator pod, Running and Ready, found by the seed's selector" check_pod
tap_check "kubectl apply -k kustomize/postgres" kubectl apply -k kustomize/postgres
observed() {
	[ "$(kubectl -n postgres-operator get postgrescluster hippo \
		-o jsonpath='{.status.observedGeneration}')" = \
		"$(kubectl -n postgres-operator get postgrescluster hippo -o jsonpath='{.metadata.generation}')" ]
}
tap_check "the operator observes hippo (status.observedGeneration)" retry_until 60 observed
# Settled: the instance is ready, the users' SQL has run (status.usersRevision) and the first backup is done
# (kustomize/postgres has a pgBackRest repository); from then on nothing changes.
settled() {
	kubectl -n postgres-operator get postgrescluster hippo -o jsonpath='{.status.instances[0].readyReplicas} {.status.usersRevision} {.status.pgbackrest.repos[0].replicaCreateBackupComplete}' |
		grep -qE '^1 [0-9a-f]{8} true$'
}
tap_check "hippo settles: instance ready, users made, first backup taken" retry_until 240 settled
check_quiet() {
	local before after
	before=$(kubectl -n postgres-operator get postgrescluster hippo -o jsonpath='{.metadata.resourceVersion}')
	sleep 10
	after=$(kubectl -n postgres-operator get postgrescluster hippo -o jsonpath='{.metadata.resourceVersion}')
	[ "$before" = "$after" ] || {
		echo "resourceVersion moved from $before to $after with nothing to do"
		return 1
	}
}
tap_check "no writes in steady state" check_quiet
check_probe() {
	# Not grep -q: it would stop reading a long log early, and kubectl's SIGPIPE fail the pipeline under pipefail.
	kubectl -n postgres-operator logs deployment/pgo | grep 'became leader' >/dev/null
}
tap_check "the operator holds the leader Lease" check_probe
tap_check "the seed's uninstall removes the operator" uninstall
tap_check "namespace postgres-operator is gone" \
	sh -c "! kubectl get namespace postgres-operator 2>/dev/null"
tap_done
