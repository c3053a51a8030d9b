#!/usr/bin/env bash
# Prints what the local cluster can leave on the host, one item per line:
# its processes, network devices and namespaces, mounts, cgroups, iptables
# chains and rules, listening sockets and the sysctls it changes. Taken
# before cluster-up and after cluster-down, the two must be equal.
source "$(dirname "$0")/lib.sh"

pgrep -af '(^|/)(etcd|kube-apiserver|kube-controller-manager|kube-scheduler|kubelet|kube-proxy|coredns)( |$)' |
	sed 's/^[0-9]* /process /' || true
pgrep -af "containerd.*$RUN_DIR|provisioner.sh" | grep -v pgrep | sed 's/^[0-9]* /process /' || true
ip -o link show | awk -F': ' '{print "link " $2}' | sed 's/@.*//'
ip netns list 2>/dev/null | awk '{print "netns " $1}'
awk '{print "mount " $5}' /proc/self/mountinfo | grep -E "$STATE_DIR|$RUN_DIR|/run/netns|kubelet" || true
find /sys/fs/cgroup -maxdepth 2 -type d -name "$KUBE_CGROUP" 2>/dev/null | sed 's/^/cgroup /'
for t in filter nat mangle raw; do
	iptables -t "$t" -S 2>/dev/null | sed "s/^/iptables $t /"
done
ss -Htln | awk '{print "listen " $4}' | sort -u
for key in net.ipv4.ip_forward vm.overcommit_memory kernel.panic kernel.panic_on_oops \
	net.ipv4.conf.all.route_localnet; do
	echo "sysctl $key=$(sysctl -n "$key")"
done
for d in "$STATE_DIR" "$RUN_DIR" /var/log/containers /var/log/pods /var/lib/kubelet /etc/cni/net.d /var/lib/cni /opt/cni; do
	[ -e "$d" ] && echo "path $d"
done
exit 0
