#!/usr/bin/env bash
# Stops the local cluster and removes everything cluster-up created: the
# processes it recorded by PID (and the pods and container shims under
# them), mounts under its state directories, the network namespaces,
# veths and bridge of its pods, its iptables rules and chains, its cgroups,
# and its state and run directories. The sysctls it changed get their old
# values back. Safe to run when nothing runs, and to run twice.
source "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || die "cluster-down needs root"
PIDS=$RUN_DIR/pids

# stop NAME: SIGTERM the recorded process, SIGKILL it after 10 s.
stop() {
	local name=$1 pid waited=0
	[ -f "$PIDS/$name.pid" ] || return 0
	pid=$(cat "$PIDS/$name.pid")
	# A PID reused by an unrelated process is left alone.
	if kill -0 "$pid" 2>/dev/null && grep -qF -- "$name" "/proc/$pid/cmdline" 2>/dev/null; then
		log "stopping $name (pid $pid)"
		kill -TERM "$pid" 2>/dev/null || true
		while kill -0 "$pid" 2>/dev/null && [ $waited -lt 20 ]; do
			sleep 0.5
			waited=$((waited + 1))
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$PIDS/$name.pid"
}

# cgroup_dirs: our cgroup directories in every hierarchy, deepest first.
cgroup_dirs() {
	local h
	for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
		[ -d "$h$KUBE_CGROUP" ] && find "$h$KUBE_CGROUP" -depth -type d
	done
	return 0
}

# kill_pods: every process in the pods' cgroups gets SIGKILL.
kill_pods() {
	local dir pids round
	for round in 1 2 3 4 5; do
		pids=$(cgroup_dirs | while read -r dir; do cat "$dir/cgroup.procs" 2>/dev/null; done | sort -u)
		[ -z "$pids" ] && return 0
		[ "$round" = 1 ] && log "killing $(echo "$pids" | wc -l) pod processes"
		# shellcheck disable=SC2086
		kill -KILL $pids 2>/dev/null || true
		sleep 0.5
	done
}

# kill_shims: the container shims that serve our containerd's socket.
kill_shims() {
	local pid
	for pid in $(pgrep -f "containerd-shim.*-address $CONTAINERD_SOCK" || true); do
		kill -KILL "$pid" 2>/dev/null || true
	done
}

unmount_ours() {
	local mnt
	awk '{print $5}' /proc/self/mountinfo | sort -r | while read -r mnt; do
		case $mnt in
		"$STATE_DIR"/* | "$STATE_DIR" | "$RUN_DIR"/* | "$RUN_DIR")
			umount -l "$mnt" 2>/dev/null || true ;;
		esac
	done
}

remove_network() {
	local ns before=$STATE_DIR/netns.before
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^cni-' || true); do
		[ -f "$before" ] && grep -qx "$ns" "$before" && continue
		ip netns delete "$ns" 2>/dev/null || true
	done
	local veth
	for veth in $(ip -o link show master "$BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//'); do
		ip link delete "$veth" 2>/dev/null || true
	done
	ip link show "$BRIDGE" >/dev/null 2>&1 && ip link delete "$BRIDGE"
	remove_iptables
}

# remove_iptables: our tagged rules, then the chains kube-proxy, the kubelet
# and the CNI plugins create (KUBE-*, CNI-*), with the jumps into them.
remove_iptables() {
	local table rule chain
	[ -x "$KUBE_BIN/kube-proxy" ] && "$KUBE_BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true
	for table in filter nat mangle raw; do
		iptables -t "$table" -S 2>/dev/null |
			grep -E '^-A [A-Z]+ .*(pgo-local|-j (KUBE|CNI)-)' | while read -r rule; do
			# shellcheck disable=SC2086
			eval "iptables -t $table ${rule/-A/-D}" 2>/dev/null || true
		done || true
		for chain in $(iptables -t "$table" -S 2>/dev/null | awk '/^-N (KUBE|CNI)-/ {print $2}'); do
			iptables -t "$table" -F "$chain" 2>/dev/null || true
		done
		for chain in $(iptables -t "$table" -S 2>/dev/null | awk '/^-N (KUBE|CNI)-/ {print $2}'); do
			iptables -t "$table" -X "$chain" 2>/dev/null || true
		done
	done
}

restore_sysctls() {
	local saved=$STATE_DIR/sysctl.saved line
	[ -f "$saved" ] || return 0
	while IFS= read -r line; do
		sysctl -qw "$line" 2>/dev/null || true
	done <"$saved"
}

remove_cgroups() {
	local dir
	cgroup_dirs | while read -r dir; do rmdir "$dir" 2>/dev/null || true; done
}

# remove_host_paths: the fixed host paths the cluster created, or, where they
# were there before, only its own entries in them.
remove_host_paths() {
	local link path created=$STATE_DIR/paths.created
	for link in /var/log/containers/*.log; do
		[ -L "$link" ] || continue
		case $(readlink "$link") in "$STATE_DIR"/*) rm -f "$link" ;; esac
	done
	rm -f /var/lib/cni/results/pgo-local-* 2>/dev/null || true
	[ -f "$created" ] || return 0
	for path in $HOST_PATHS; do
		grep -qx "$path" "$created" && rm -rf --one-file-system "$path"
	done
	return 0
}

if [ ! -d "$STATE_DIR" ] && [ ! -d "$RUN_DIR" ]; then
	log "no local cluster state; nothing to do"
	exit 0
fi
stop kubelet
kill_pods
stop containerd
kill_shims
for name in provisioner coredns kube-proxy kube-scheduler kube-controller-manager kube-apiserver etcd; do
	stop "$name"
done
unmount_ours
remove_network
restore_sysctls
remove_cgroups
remove_host_paths
rm -rf --one-file-system "${RUN_DIR:?}" "${STATE_DIR:?}"
log "local cluster removed"
