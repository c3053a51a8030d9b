#!/usr/bin/env bash
# cluster-up is idempotent and repairs a half-dead cluster: run again it
# changes no process, and after a crash of some components it starts just
# those again and the cluster works.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/kube.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
components="etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy coredns provisioner"

pids() {
	local name
	for name in $components; do
		echo "$name $(cat "$RUN_DIR/pids/$name.pid" 2>/dev/null)"
	done
}

if ! cluster_reachable; then
	tap_fail "cluster reachable" "the local cluster does not answer; run 'make cluster-up'"
	tap_done
	exit 1
fi

before=$(pids)
tap_check "cluster-up on a running cluster succeeds" "$root/hack/cluster-up.sh"
check_same_pids() {
	diff <(echo "$before") <(pids)
}
tap_check "a second cluster-up restarts nothing" check_same_pids

check_repair() {
	local name pid
	for name in kube-scheduler coredns kube-proxy; do
		pid=$(cat "$RUN_DIR/pids/$name.pid")
		kill -KILL "$pid"
		while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
	done
	"$root/hack/cluster-up.sh" || return 1
	local after
	after=$(pids)
	for name in kube-scheduler coredns kube-proxy; do
		if [ "$(grep "^$name " <<<"$before")" = "$(grep "^$name " <<<"$after")" ]; then
			echo "$name was not restarted"
			return 1
		fi
	done
	for name in etcd kube-apiserver kubelet containerd; do
		if [ "$(grep "^$name " <<<"$before")" != "$(grep "^$name " <<<"$after")" ]; then
			echo "$name was restarted although it ran"
			return 1
		fi
	done
}
tap_check "after components crash, cluster-up starts just those again" check_repair
tap_check "the repaired cluster has a Ready node" \
	"$KUBECTL" wait --for=condition=Ready node/"$NODE_NAME" --timeout=60s
tap_done
