#!/usr/bin/env bash
# Starts the local one-node Kubernetes: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, containerd, kubelet, kube-proxy,
# CoreDNS and a volume provisioner, all as host processes recorded by PID.
#
# Every address the cluster serves on is loopback or the pod bridge cni0
# (10.244.0.1), which this script creates before anything starts: the API
# server and the kubelet listen on the bridge address, pods reach the API
# through the kubernetes Service, CoreDNS answers on the bridge address with
# no upstream, and a FORWARD rule drops pod traffic towards any other
# interface. Nothing masquerades.
#
# Idempotent: a component that already runs is kept, one that died is
# started again (after its leftovers are cleared), so a second run, or a run
# after a crash, ends with the whole cluster up. The sysctls that the kubelet
# and the CNI plugins change are recorded on the first start, for
# cluster-down to restore.
source "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || die "the local cluster needs root (it runs containerd and a kubelet)"
[ -f "$KUBE_BIN/.complete" ] || die "Kubernetes binaries are not built; run 'make kube-binaries'"

PIDS=$RUN_DIR/pids
LOGS=$STATE_DIR/logs
API=$POD_GATEWAY
KUBECTL=$KUBE_BIN/kubectl

# --- preflight -------------------------------------------------------------

preflight() {
	ensure_packages containerd runc containernetworking-plugins iptables conntrack openssl jq \
		iproute2 util-linux dnsutils curl
	# Built in or loadable, each feature shows up under /proc once present.
	[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] || modprobe br_netfilter 2>/dev/null ||
		die "the kernel lacks bridge netfilter (module br_netfilter); Services need it"
	grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null ||
		die "the kernel has no overlay filesystem (module overlay); containerd needs it"
	sysctl -qw net.bridge.bridge-nf-call-iptables=1
	[ -e /sys/fs/cgroup/memory ] || [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] ||
		die "no memory cgroup controller is mounted under /sys/fs/cgroup"
	[ -x /usr/lib/cni/bridge ] || die "CNI plugins missing in /usr/lib/cni (package containernetworking-plugins)"
}

# port_check ADDRESS:PORT NAME: stop if someone else listens where NAME must,
# on that address or on the wildcard address.
port_check() {
	local where=$1 name=$2 owner
	owner=$(ss -Htlnup "sport = :${where##*:}" 2>/dev/null |
		awk -v a="${where%:*}" '$5 ~ "^(" a "|0\\.0\\.0\\.0|\\*|\\[::\\]):"' || true)
	[ -z "$owner" ] ||
		die "port $where, needed by $name, is in use: $owner; stop that process or run 'make cluster-down'"
}

# --- process bookkeeping ---------------------------------------------------

alive() {
	local pid
	[ -f "$PIDS/$1.pid" ] || return 1
	pid=$(cat "$PIDS/$1.pid")
	kill -0 "$pid" 2>/dev/null || return 1
	# A reused PID of an unrelated process does not count.
	local cmdline
	cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)
	[[ $cmdline == *"$2"* ]]
}

# launch NAME MATCH COMMAND...: start COMMAND in its own session with its log
# in $LOGS/NAME.log and its PID in $PIDS/NAME.pid. MATCH is a string its
# command line contains, used to recognise it later.
launch() {
	local name=$1 match=$2
	shift 2
	if alive "$name" "$match"; then
		log "$name already runs (pid $(cat "$PIDS/$name.pid"))"
		return 0
	fi
	log "starting $name"
	setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
	echo $! >"$PIDS/$name.pid"
}

# wait_for SECONDS WHAT COMMAND...: poll COMMAND until it succeeds.
wait_for() {
	local limit=$1 what=$2 start=$SECONDS
	shift 2
	until "$@" >/dev/null 2>&1; do
		if [ $((SECONDS - start)) -ge "$limit" ]; then
			die "$what did not come up within ${limit}s; see $LOGS/"
		fi
		sleep 0.5
	done
	log "$what is up ($((SECONDS - start)) s)"
}

kc() { "$KUBECTL" --kubeconfig "$KUBECONFIG_FILE" "$@"; }

# --- host network ----------------------------------------------------------

# record_host_state: what cluster-down must give back or must not touch.
record_host_state() {
	[ -f "$STATE_DIR/netns.before" ] ||
		ip netns list 2>/dev/null | awk '{print $1}' >"$STATE_DIR/netns.before"
	# Paths the kubelet, containerd and CNI use whatever they are told:
	# cluster-down removes the ones that were not there before.
	local path
	if [ ! -f "$STATE_DIR/paths.created" ]; then
		for path in $HOST_PATHS; do
			[ -e "$path" ] || echo "$path"
		done >"$STATE_DIR/paths.created"
	fi
	record_sysctls
}

# make_cgroups: the kubelet's cgroup root, in every hierarchy.
make_cgroups() {
	local h
	for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/unified/; do
		[ -f "${h}cgroup.procs" ] || continue
		mkdir -p "$h$KUBE_CGROUP"
	done
	# cpuset children start empty; inherit the parent's CPUs and nodes.
	if [ -d "/sys/fs/cgroup/cpuset/$KUBE_CGROUP" ]; then
		cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset/$KUBE_CGROUP/cpuset.cpus"
		cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset/$KUBE_CGROUP/cpuset.mems"
	fi
}

record_sysctls() {
	local saved=$STATE_DIR/sysctl.saved key
	[ -f "$saved" ] && return 0
	for key in net.ipv4.ip_forward vm.overcommit_memory kernel.panic kernel.panic_on_oops \
		net.ipv4.conf.all.route_localnet kernel.keys.root_maxkeys kernel.keys.root_maxbytes; do
		echo "$key=$(sysctl -n "$key")"
	done >"$saved"
}

setup_network() {
	if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
		log "creating bridge $BRIDGE with $POD_GATEWAY"
		ip link add "$BRIDGE" type bridge
	fi
	local addresses
	addresses=$(ip -o -4 addr show dev "$BRIDGE")
	[[ $addresses == *" $POD_GATEWAY/"* ]] || ip addr add "$POD_GATEWAY/24" dev "$BRIDGE"
	ip link set "$BRIDGE" up
	sysctl -qw net.ipv4.ip_forward=1
	# Pod traffic may go to pods, Services and this host, never further.
	local uplink
	for uplink in $(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' |
		grep -vE "^(lo|$BRIDGE|veth.*)$"); do
		iptables -C FORWARD -s "$POD_CIDR" -o "$uplink" -m comment --comment pgo-local \
			-j DROP 2>/dev/null ||
			iptables -I FORWARD -s "$POD_CIDR" -o "$uplink" -m comment --comment pgo-local -j DROP
	done
	iptables -C FORWARD -i "$BRIDGE" -o "$BRIDGE" -m comment --comment pgo-local -j ACCEPT 2>/dev/null ||
		iptables -A FORWARD -i "$BRIDGE" -o "$BRIDGE" -m comment --comment pgo-local -j ACCEPT
}

# put_file PATH: write standard input to PATH only if the content differs,
# by rename, so that a running component watching PATH (kube-proxy exits on
# any change to its configuration) never sees a rewrite of the same text.
put_file() {
	local tmp
	tmp=$(mktemp "$1.XXXXXX")
	cat >"$tmp"
	if cmp -s "$tmp" "$1"; then
		rm -f "$tmp"
	else
		chmod 644 "$tmp"
		mv -f "$tmp" "$1"
	fi
}

write_configs() {
	local cfg=$STATE_DIR/config
	mkdir -p "$cfg" "$STATE_DIR/cni/net.d" "$STATE_DIR/cni/ipam" "$STATE_DIR/volumes"
	put_file "$STATE_DIR/cni/net.d/10-pgo-local.conflist" <<-EOF
		{"cniVersion": "1.0.0", "name": "pgo-local", "plugins": [
		  {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false,
		   "hairpinMode": true,
		   "ipam": {"type": "host-local", "dataDir": "$STATE_DIR/cni/ipam",
		            "ranges": [[{"subnet": "$NODE_POD_CIDR", "gateway": "$POD_GATEWAY"}]],
		            "routes": [{"dst": "0.0.0.0/0"}]}},
		  {"type": "portmap", "capabilities": {"portMappings": true}},
		  {"type": "loopback"}]}
	EOF
	put_file "$cfg/containerd.toml" <<-EOF
		version = 2
		root = "$CONTAINERD_ROOT"
		state = "$CONTAINERD_STATE"
		[grpc]
		  address = "$CONTAINERD_SOCK"
		[ttrpc]
		  address = "$CONTAINERD_SOCK.ttrpc"
		[debug]
		  address = ""
		[metrics]
		  address = ""
		[plugins."io.containerd.grpc.v1.cri"]
		  sandbox_image = "registry.k8s.io/pause:3.10"
		  restrict_oom_score_adj = true
		  enable_unprivileged_ports = true
		  [plugins."io.containerd.grpc.v1.cri".containerd]
		    snapshotter = "overlayfs"
		    default_runtime_name = "runc"
		    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
		      runtime_type = "io.containerd.runc.v2"
		      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
		        SystemdCgroup = false
		        Root = "$CONTAINERD_STATE/runc"
		  [plugins."io.containerd.grpc.v1.cri".cni]
		    bin_dir = "/usr/lib/cni"
		    conf_dir = "$STATE_DIR/cni/net.d"
		[plugins."io.containerd.internal.v1.opt"]
		  path = "$STATE_DIR/containerd-opt"
	EOF
	# Pods get no upstream resolver: only the cluster's own names resolve.
	put_file "$cfg/resolv.conf" </dev/null
	put_file "$cfg/kubelet.yaml" <<-EOF
		apiVersion: kubelet.config.k8s.io/v1beta1
		kind: KubeletConfiguration
		address: $API
		port: 10250
		readOnlyPort: 0
		healthzBindAddress: 127.0.0.1
		failCgroupV1: false
		cgroupDriver: cgroupfs
		cgroupRoot: /$KUBE_CGROUP
		containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
		authentication:
		  anonymous: {enabled: false}
		  webhook: {enabled: true}
		  x509: {clientCAFile: $STATE_DIR/pki/ca.crt}
		authorization: {mode: Webhook}
		tlsCertFile: $STATE_DIR/pki/kubelet-serving.crt
		tlsPrivateKeyFile: $STATE_DIR/pki/kubelet-serving.key
		clusterDomain: $CLUSTER_DOMAIN
		clusterDNS: [$POD_GATEWAY]
		resolvConf: $cfg/resolv.conf
		oomScoreAdj: 0
		failSwapOn: false
		protectKernelDefaults: false
		imageGCHighThresholdPercent: 100
		imageGCLowThresholdPercent: 99
		evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
		podCIDR: $NODE_POD_CIDR
		podLogsDir: $STATE_DIR/pod-logs
		maxPods: 110
		serializeImagePulls: false
		staticPodPath: ""
	EOF
	put_file "$cfg/kube-proxy.yaml" <<-EOF
		apiVersion: kubeproxy.config.k8s.io/v1alpha1
		kind: KubeProxyConfiguration
		mode: iptables
		clusterCIDR: $POD_CIDR
		hostnameOverride: $NODE_NAME
		bindAddress: 127.0.0.1
		healthzBindAddress: 127.0.0.1:10256
		metricsBindAddress: 127.0.0.1:10249
		nodePortAddresses: ["$NODE_POD_CIDR"]
		oomScoreAdj: 0
		clientConnection: {kubeconfig: $STATE_DIR/kube-proxy.kubeconfig}
		conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
		iptables: {masqueradeAll: false, localhostNodePorts: false}
	EOF
	put_file "$cfg/Corefile" <<-EOF
		$CLUSTER_DOMAIN:53 in-addr.arpa:53 ip6.arpa:53 {
		    bind $POD_GATEWAY
		    errors
		    kubernetes $CLUSTER_DOMAIN in-addr.arpa ip6.arpa {
		        kubeconfig $STATE_DIR/coredns.kubeconfig
		        pods insecure
		        fallthrough in-addr.arpa ip6.arpa
		    }
		    cache 5
		}
		.:53 {
		    bind $POD_GATEWAY
		    errors
		    template ANY ANY {
		        rcode NXDOMAIN
		    }
		}
	EOF
}

# --- components ------------------------------------------------------------

start_etcd() {
	alive etcd "$KUBE_BIN/etcd" || port_check 127.0.0.1:2379 etcd
	launch etcd "$KUBE_BIN/etcd" "$KUBE_BIN/etcd" --name=pgo-local \
		--data-dir="$STATE_DIR/etcd" \
		--listen-client-urls=http://127.0.0.1:2379 --advertise-client-urls=http://127.0.0.1:2379 \
		--listen-peer-urls=http://127.0.0.1:2380 --initial-advertise-peer-urls=http://127.0.0.1:2380 \
		--initial-cluster=pgo-local=http://127.0.0.1:2380 \
		--listen-metrics-urls=http://127.0.0.1:2381 \
		--unsafe-no-fsync --quota-backend-bytes=4294967296 --log-level=warn
	wait_for 60 etcd curl -fsS http://127.0.0.1:2381/health
}

start_apiserver() {
	local pki=$STATE_DIR/pki
	alive kube-apiserver "$KUBE_BIN/kube-apiserver" || port_check "$API:6443" kube-apiserver
	launch kube-apiserver "$KUBE_BIN/kube-apiserver" "$KUBE_BIN/kube-apiserver" \
		--etcd-servers=http://127.0.0.1:2379 \
		--advertise-address="$API" --bind-address="$API" --secure-port=6443 \
		--service-cluster-ip-range="$SERVICE_CIDR" \
		--client-ca-file="$pki/ca.crt" \
		--tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
		--kubelet-certificate-authority="$pki/ca.crt" \
		--kubelet-client-certificate="$pki/apiserver-kubelet-client.crt" \
		--kubelet-client-key="$pki/apiserver-kubelet-client.key" \
		--kubelet-preferred-address-types=InternalIP \
		--service-account-issuer="https://kubernetes.default.svc.$CLUSTER_DOMAIN" \
		--service-account-key-file="$pki/sa.pub" \
		--service-account-signing-key-file="$pki/sa.key" \
		--authorization-mode=Node,RBAC \
		--enable-admission-plugins=NodeRestriction \
		--allow-privileged=true \
		--profiling=false
	wait_for 120 kube-apiserver curl -fsS --cacert "$pki/ca.crt" \
		--cert "$pki/admin.crt" --key "$pki/admin.key" "https://$API:6443/readyz"
	# The API server's kubelet client may read logs, exec and port-forward.
	kc get clusterrolebinding pgo-local:apiserver-kubelet >/dev/null 2>&1 ||
		kc create clusterrolebinding pgo-local:apiserver-kubelet \
			--clusterrole=system:kubelet-api-admin --user=kube-apiserver >/dev/null
}

start_controllers() {
	local pki=$STATE_DIR/pki
	launch kube-controller-manager "$KUBE_BIN/kube-controller-manager" \
		"$KUBE_BIN/kube-controller-manager" \
		--kubeconfig="$STATE_DIR/controller-manager.kubeconfig" \
		--authentication-kubeconfig="$STATE_DIR/controller-manager.kubeconfig" \
		--authorization-kubeconfig="$STATE_DIR/controller-manager.kubeconfig" \
		--bind-address=127.0.0.1 \
		--service-account-private-key-file="$pki/sa.key" \
		--root-ca-file="$pki/ca.crt" \
		--cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
		--use-service-account-credentials \
		--service-cluster-ip-range="$SERVICE_CIDR" \
		--cluster-cidr="$POD_CIDR" --allocate-node-cidrs=false \
		--leader-elect=false
	launch kube-scheduler "$KUBE_BIN/kube-scheduler" "$KUBE_BIN/kube-scheduler" \
		--kubeconfig="$STATE_DIR/scheduler.kubeconfig" \
		--authentication-kubeconfig="$STATE_DIR/scheduler.kubeconfig" \
		--authorization-kubeconfig="$STATE_DIR/scheduler.kubeconfig" \
		--bind-address=127.0.0.1 --leader-elect=false
}

start_containerd() {
	mkdir -p "$CONTAINERD_STATE"
	# Images come only from local archives. Should a pod name an image that
	# is not imported, the pull goes to a proxy address where nothing
	# listens, and fails at once instead of leaving the machine.
	launch containerd "$STATE_DIR/config/containerd.toml" env HTTP_PROXY=http://127.0.0.1:9 \
		HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY= \
		containerd --config "$STATE_DIR/config/containerd.toml"
	wait_for 60 containerd ctr --address "$CONTAINERD_SOCK" version
	# The sandbox image must be there before the kubelet starts pods.
	"$HACK_DIR/build-images.sh" --import pause ||
		die "could not build or import the pause image; see the messages above"
}

start_kubelet() {
	launch kubelet "$KUBE_BIN/kubelet" "$KUBE_BIN/kubelet" \
		--config="$STATE_DIR/config/kubelet.yaml" \
		--kubeconfig="$STATE_DIR/kubelet.kubeconfig" \
		--root-dir="$STATE_DIR/kubelet" \
		--cert-dir="$STATE_DIR/kubelet/pki" \
		--hostname-override="$NODE_NAME" --node-ip="$API"
	wait_for 120 "node $NODE_NAME Ready" sh -c \
		"'$KUBECTL' --kubeconfig '$KUBECONFIG_FILE' get node $NODE_NAME \
		 -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True"
}

start_proxy() {
	launch kube-proxy "$KUBE_BIN/kube-proxy" "$KUBE_BIN/kube-proxy" \
		--config="$STATE_DIR/config/kube-proxy.yaml"
	wait_for 60 kube-proxy curl -fsS http://127.0.0.1:10256/healthz
}

start_coredns() {
	# CoreDNS reads Services, EndpointSlices, Pods and Namespaces.
	kc apply -f - >/dev/null <<-EOF
		apiVersion: rbac.authorization.k8s.io/v1
		kind: ClusterRole
		metadata: {name: "pgo-local:coredns"}
		rules:
		- apiGroups: [""]
		  resources: [services, pods, namespaces, endpoints]
		  verbs: [list, watch]
		- apiGroups: [discovery.k8s.io]
		  resources: [endpointslices]
		  verbs: [list, watch]
		---
		apiVersion: rbac.authorization.k8s.io/v1
		kind: ClusterRoleBinding
		metadata: {name: "pgo-local:coredns"}
		roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "pgo-local:coredns"}
		subjects:
		- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "pgo-local:coredns"}
	EOF
	alive coredns "$COREDNS_BIN/coredns" || port_check "$POD_GATEWAY:53" coredns
	launch coredns "$COREDNS_BIN/coredns" "$COREDNS_BIN/coredns" -conf "$STATE_DIR/config/Corefile"
	wait_for 60 "cluster DNS" sh -c \
		"dig +short +time=1 +tries=1 @$POD_GATEWAY kubernetes.default.svc.$CLUSTER_DOMAIN |
		 grep -qx '$SERVICE_API_IP'"
}

start_provisioner() {
	kc apply -f - >/dev/null <<-EOF
		apiVersion: storage.k8s.io/v1
		kind: StorageClass
		metadata:
		  name: standard
		  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
		provisioner: pgo-local/directory
		reclaimPolicy: Delete
		volumeBindingMode: Immediate
		allowVolumeExpansion: true
		---
		apiVersion: rbac.authorization.k8s.io/v1
		kind: ClusterRole
		metadata: {name: "pgo-local:provisioner"}
		rules:
		- apiGroups: [""]
		  resources: [persistentvolumeclaims]
		  verbs: [get, list, watch]
		- apiGroups: [""]
		  resources: [persistentvolumes]
		  verbs: [get, list, watch, create, delete]
		- apiGroups: [storage.k8s.io]
		  resources: [storageclasses]
		  verbs: [get, list]
		---
		apiVersion: rbac.authorization.k8s.io/v1
		kind: ClusterRoleBinding
		metadata: {name: "pgo-local:provisioner"}
		roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "pgo-local:provisioner"}
		subjects:
		- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "pgo-local:provisioner"}
	EOF
	launch provisioner "$HACK_DIR/provisioner.sh" bash "$HACK_DIR/provisioner.sh"
}

# --- main ------------------------------------------------------------------

start=$SECONDS
preflight
mkdir -p "$STATE_DIR" "$RUN_DIR" "$PIDS" "$LOGS"
chmod 700 "$STATE_DIR"
record_host_state
make_cgroups
setup_network
"$HACK_DIR/pki.sh" "$API"
write_configs
start_etcd
start_apiserver
start_controllers
start_containerd
start_kubelet
start_proxy
start_coredns
start_provisioner
kc -n default get serviceaccount default >/dev/null 2>&1 ||
	wait_for 60 "default service account" "$KUBECTL" --kubeconfig "$KUBECONFIG_FILE" \
		-n default get serviceaccount default
log "cluster ready in $((SECONDS - start)) s; KUBECONFIG=$KUBECONFIG_FILE"
