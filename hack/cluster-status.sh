#!/usr/bin/env bash
# Says what of the local cluster runs: each recorded process, the node and
# the pods.
source "$(dirname "$0")/lib.sh"

PIDS=$RUN_DIR/pids
if [ ! -d "$PIDS" ]; then
	echo "local cluster: not started"
	exit 0
fi
running=0 total=0
for name in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet \
	kube-proxy coredns provisioner; do
	total=$((total + 1))
	pid=$(cat "$PIDS/$name.pid" 2>/dev/null || true)
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
		printf '  %-24s running  pid %-7s rss %6d MiB\n' "$name" "$pid" "$((rss / 1024))"
		running=$((running + 1))
	else
		printf '  %-24s stopped\n' "$name"
	fi
done
echo "local cluster: $running of $total processes running; KUBECONFIG=$KUBECONFIG_FILE"
if [ "$running" -gt 0 ] && [ -x "$KUBE_BIN/kubectl" ]; then
	"$KUBE_BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" get nodes -o wide 2>/dev/null || true
	"$KUBE_BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" get pods -A 2>/dev/null || true
fi
