#!/usr/bin/env bash
# `make demo`: the local cluster with our images, the operator installed
# with the seed's commands, the hippo cluster created, and a psql session
# to it over verify-full TLS.
source "$(dirname "$0")/lib.sh"
cd "$ROOT_DIR"
export KUBECONFIG=$KUBECONFIG_FILE PATH=$KUBE_BIN:$PATH

hack/cluster-up.sh
hack/build-images.sh --import
make --no-print-directory operator-image

log "installing the operator: kubectl apply -k kustomize/install/namespace"
kubectl apply -k kustomize/install/namespace
log "kubectl apply --server-side -k kustomize/install/default"
kubectl apply --server-side -k kustomize/install/default
kubectl -n postgres-operator rollout status deployment/pgo --timeout=180s
log "creating hippo: kubectl apply -k kustomize/postgres"
kubectl apply -k kustomize/postgres
for _ in $(seq 60); do
	[ -n "$(kubectl -n postgres-operator get postgrescluster hippo -o jsonpath='{.status.observedGeneration}')" ] && break
	sleep 1
done
kubectl -n postgres-operator get postgrescluster hippo -o jsonpath='{range .status.conditions[*]}{.type}={.status}: {.message}{"\n"}{end}'
# The operator so far watches PostgresClusters and reports what it observed;
# the reconciler that creates the instances, Services and Secrets is the
# next piece of work. Until it lands there is no database to connect to.
if ! kubectl -n postgres-operator get secret hippo-pguser-hippo >/dev/null 2>&1; then
	die "the operator runs and observes hippo, but does not create Postgres yet (PostgresCluster reconciler still to come): no psql session to show"
fi
