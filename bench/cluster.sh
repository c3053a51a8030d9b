#!/usr/bin/env bash
# Measures the local cluster: start time from nothing to a Ready node with
# DNS answering (cluster-up on a stopped cluster, binaries and images
# cached), and the resident memory of each component once idle. Prints
# figures; never passes or fails. Stops a running local cluster first.
source "$(dirname "$0")/../hack/lib.sh"
cd "$ROOT_DIR"
runs=${RUNS:-3}

hack/cluster-down.sh >/dev/null 2>&1
times=()
for run in $(seq "$runs"); do
	start=$(date +%s.%N)
	hack/cluster-up.sh >/dev/null 2>&1 || die "cluster-up failed"
	end=$(date +%s.%N)
	times+=("$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.1f", b - a}')")
	if [ "$run" -lt "$runs" ]; then hack/cluster-down.sh >/dev/null 2>&1; fi
done
printf 'cluster-up to Ready node and DNS, %d runs (s): %s\n' "$runs" "${times[*]}"
sleep "${IDLE_SECONDS:-30}"
total=0
for name in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy coredns; do
	pid=$(cat "$RUN_DIR/pids/$name.pid")
	rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
	total=$((total + rss))
	printf '  %-24s %6d MiB\n' "$name" "$((rss / 1024))"
done
printf '  %-24s %6d MiB\n' "total" "$((total / 1024))"
