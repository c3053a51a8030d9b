#!/usr/bin/env bash
# `make demo`: the local cluster with our images, then the operator and the
# hippo cluster, and a psql session to it.
source "$(dirname "$0")/lib.sh"
cd "$ROOT_DIR"
hack/cluster-up.sh
hack/build-images.sh --import
source images/versions.env
kubectl=$KUBE_BIN/kubectl
export KUBECONFIG=$KUBECONFIG_FILE
if [ ! -x build-release/src/cmd/postgres-operator ] || [ ! -d kustomize/install/default ]; then
	log "the cluster runs (KUBECONFIG=$KUBECONFIG_FILE) with our images imported:"
	"$kubectl" get nodes
	die "the operator is not built yet: PostgresCluster reconciliation is still to come (see the open issues)"
fi
