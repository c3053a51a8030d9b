#!/usr/bin/env bash
# The operator core against a real kube-apiserver and etcd (hack/envtest.sh), with the built binary
# build/src/cmd/postgres-operator and its PostgresCluster reconciler (no kubelet here: objects are made, nothing runs;
# status.observedGeneration is what the checks follow). Prints TAP. Checks:
#   - the PostgresCluster CRD registers; the operator observes a cluster and patches its status, and writes nothing
#     more in steady state; /healthz, /readyz and /metrics answer;
#   - list/watch survives an API server restart with no event lost: while the API server the operator talks to is
#     down, clusters are created, changed and deleted through a second API server on the same etcd; once the first
#     is back, the operator's cache (/debug/cache) equals a fresh list;
#   - PGO_TARGET_NAMESPACES limits what is watched; a bad PGO_CONTROLLER_LEASE_NAME is refused with exit status 2;
#   - leader election on a Lease: a standby does not reconcile; after SIGKILL of the leader the standby takes over
#     once the lease expires; on SIGTERM the leader releases the Lease and a standby takes over at once; a leader
#     whose Lease is taken stops and exits 1; SIGTERM ends the operator with exit status 0.
set -uo pipefail
# shellcheck disable=SC2154 # PID_<name>, PORT_<name> and STATUS_<name> are set with printf -v
# shellcheck disable=SC2016 # single-quoted scripts for bash -c expand in that shell

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
# shellcheck source=../lib/tap.sh
source "$ROOT/test/lib/tap.sh"

KUBE_VERSION=${KUBE_VERSION:-1.35.4}
KUBE_BIN=${PGO_CACHE_DIR:-/var/cache/pgo-local}/kube-v$KUBE_VERSION/bin
OPERATOR=$ROOT/build/src/cmd/postgres-operator
CRD=$ROOT/config/crd/bases/postgres-operator.crunchydata.com_postgresclusters.yaml
GROUP=postgres-operator.crunchydata.com
LEASE_NS=pgo-system
LEASE_NAME=pgo-test-lease

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pgo-core.XXXXXX")
declare -a STARTED=() # PIDs of the processes this test started
ENVTEST=

cleanup() {
	local pid
	for pid in "${STARTED[@]}"; do
		kill -KILL "$pid" 2>/dev/null
	done
	[ -n "$ENVTEST" ] && "$ROOT/hack/envtest.sh" stop "$ENVTEST" >/dev/null 2>&1
	if [ -n "${PGO_CORE_KEEP:-}" ]; then
		echo "# logs kept in $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

note() { printf '# %s\n' "$*"; }
k() { "$KUBE_BIN/kubectl" "$@"; }

if [ ! -x "$OPERATOR" ]; then
	tap_fail "operator binary built" "no $OPERATOR; run make build"
	tap_done
	exit 1
fi
if [ ! -x "$KUBE_BIN/kube-apiserver" ] || [ ! -x "$KUBE_BIN/kubectl" ]; then
	tap_fail "Kubernetes binaries present" "none in $KUBE_BIN; run make kube-binaries"
	tap_done
	exit 1
fi

# ---- control plane ----

if ! ENVTEST=$("$ROOT/hack/envtest.sh" start 2>"$WORK/envtest.log"); then
	ENVTEST=
	tap_fail "start kube-apiserver" "$(tail -40 "$WORK/envtest.log")"
	tap_done
	exit 1
fi
eval "$("$ROOT/hack/envtest.sh" env "$ENVTEST")"
note "kube-apiserver ready, state in $ENVTEST"

# ---- operator processes ----

# start_operator NAME [ENV=VALUE...] [-- FLAGS...]: runs the operator in the background, logging to $WORK/NAME.log;
# sets PID_<NAME> and PORT_<NAME> (its probe port) once it listens.
start_operator() {
	local name=$1 envs=() flags=()
	shift
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do
		envs+=("$1")
		shift
	done
	[ "${1:-}" = "--" ] && shift
	flags=("$@")
	env RELATED_IMAGE_POSTGRES_17=localhost/postgres:17.12-1 "${envs[@]}" "$OPERATOR" --kubeconfig "$KUBECONFIG" --health-address 127.0.0.1:0 --debug-endpoints \
		"${flags[@]}" </dev/null >"$WORK/$name.log" 2>&1 &
	local pid=$!
	STARTED+=("$pid")
	printf -v "PID_$name" '%s' "$pid"
	local port=
	for _ in $(seq 1 100); do
		port=$(sed -n 's/.*msg=starting .*healthPort=\([0-9]*\).*/\1/p' "$WORK/$name.log" | head -1)
		[ -n "$port" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	printf -v "PORT_$name" '%s' "$port"
	[ -n "$port" ]
}

# stop_operator NAME SIGNAL: sends SIGNAL and waits (at most 30 s); sets STATUS_<NAME> to the exit status.
stop_operator() {
	local name=$1 signal=$2 pid status
	pid=$(eval echo "\$PID_$name")
	kill "-$signal" "$pid" 2>/dev/null
	for _ in $(seq 1 300); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	wait "$pid" 2>/dev/null
	status=$?
	printf -v "STATUS_$name" '%s' "$status"
}

# wait_exit NAME SECONDS: waits for the operator to exit by itself; sets STATUS_<NAME>.
wait_exit() {
	local name=$1 limit=$2 pid
	pid=$(eval echo "\$PID_$name")
	for _ in $(seq 1 $((limit * 10))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		printf -v "STATUS_$name" '%s' "running"
		return 1
	fi
	wait "$pid" 2>/dev/null
	printf -v "STATUS_$name" '%s' "$?"
}

probe() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1$2"; }
metrics() { curl -s "http://127.0.0.1:$1/metrics"; }
# metric PORT 'name{labels}': the value, or 0.
metric() { metrics "$1" | awk -v m="$2" 'index($0, m " ") == 1 {print $2; found=1} END {if (!found) print 0}'; }
identity_of() { sed -n 's/.*msg="leader election enabled".* identity=\([^ ]*\).*/\1/p' "$WORK/$1.log" | head -1; }
lease_holder() { k get lease -n "$LEASE_NS" "$LEASE_NAME" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null; }
holder_is() { [ "$(lease_holder)" = "$1" ]; }
answers() { [ "$(probe "$1" "$2")" = "$3" ]; } # answers PORT PATH STATUS

# cluster NAMESPACE NAME: a minimal valid PostgresCluster.
cluster() {
	cat <<-EOF
		apiVersion: $GROUP/v1beta1
		kind: PostgresCluster
		metadata:
		  name: $2
		  namespace: $1
		spec:
		  postgresVersion: 17
		  instances:
		    - name: instance1
		      dataVolumeClaimSpec:
		        accessModes: ["ReadWriteOnce"]
		        resources: {requests: {storage: 1Gi}}
	EOF
}

# observed NAMESPACE NAME: the cluster's status records its current generation.
observed() {
	local out
	out=$(k get postgrescluster -n "$1" "$2" -o \
		jsonpath='{.metadata.generation} {.status.observedGeneration}' 2>/dev/null) || return 1
	read -r gen observedGen <<<"$out"
	[ -n "$gen" ] && [ "$gen" = "${observedGen:-}" ]
}

# all_observed NAMESPACE/NAME...: observed, for each.
all_observed() {
	local ref
	for ref in "$@"; do
		observed "${ref%/*}" "${ref#*/}" || return 1
	done
}

# fresh_list: "namespace/name resourceVersion" of every PostgresCluster, sorted as the operator's dump.
fresh_list() {
	k get postgresclusters -A -o \
		jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name} {.metadata.resourceVersion}{"\n"}{end}' |
		LC_ALL=C sort
}
# cache PORT: the operator's cache of PostgresClusters.
cache() {
	curl -s "http://127.0.0.1:$1/debug/cache" | awk '/^# /{keep = ($2 ~ /^postgresclusters[.]/); next} keep' | LC_ALL=C sort
}
cache_equals_list() { [ "$(cache "$1")" = "$(fresh_list)" ] && [ -n "$(fresh_list)" ]; }

# ---- CRD ----

crd_source=
if [ -f "$CRD" ] && k create -f "$CRD" >"$WORK/crd.log" 2>&1; then
	crd_source="config/crd/bases"
else
	note "the CRD of config/crd/bases could not be installed ($(tail -1 "$WORK/crd.log" 2>/dev/null)); using a minimal one"
	k create -f - >"$WORK/crd.log" 2>&1 <<-EOF
		apiVersion: apiextensions.k8s.io/v1
		kind: CustomResourceDefinition
		metadata:
		  name: postgresclusters.$GROUP
		spec:
		  group: $GROUP
		  names: {kind: PostgresCluster, listKind: PostgresClusterList, plural: postgresclusters, singular: postgrescluster}
		  scope: Namespaced
		  versions:
		  - name: v1beta1
		    served: true
		    storage: true
		    subresources: {status: {}}
		    schema:
		      openAPIV3Schema:
		        type: object
		        properties:
		          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
		          status: {type: object, x-kubernetes-preserve-unknown-fields: true}
	EOF
	crd_source="minimal CRD of this test"
fi
if retry_until 60 k wait --for=condition=Established "crd/postgresclusters.$GROUP" --timeout=5s; then
	tap_ok "PostgresCluster CRD registered ($crd_source)"
else
	tap_fail "PostgresCluster CRD registered ($crd_source)" "$(cat "$WORK/crd.log")"
	tap_done
	exit 1
fi
for ns in "$LEASE_NS" ns1 ns2 ns3; do k create namespace "$ns" >/dev/null; done

# ---- observe and patch status ----

if start_operator a; then
	tap_ok "operator starts and listens for probes (port $PORT_a)"
else
	tap_fail "operator starts and listens for probes" "$(tail -20 "$WORK/a.log")"
	tap_done
	exit 1
fi
cluster ns1 hippo | k create -f - >/dev/null
cluster ns1 doomed | k create -f - >/dev/null
if retry_until 30 observed ns1 hippo; then
	tap_ok "operator observes a new PostgresCluster and records it in status"
else
	tap_fail "operator observes a new PostgresCluster and records it in status" \
		"$(k get postgrescluster -n ns1 hippo -o jsonpath='{.status}'; echo; tail -20 "$WORK/a.log")"
fi
tap_check "/healthz answers 200" test "$(probe "$PORT_a" /healthz)" = 200
retry_until 10 answers "$PORT_a" /readyz 200
tap_check "/readyz answers 200 once the cache is synced" test "$(probe "$PORT_a" /readyz)" = 200
m=$(metrics "$PORT_a")
tap_check "/metrics exposes reconciles, queue, watches, API requests and memory" bash -c '
	for name in "controller_runtime_reconcile_total{controller=\"postgrescluster\",result=\"success\"}" \
		"controller_runtime_reconcile_time_seconds_bucket{controller=\"postgrescluster\",le=\"+Inf\"}" \
		"workqueue_depth{name=\"postgrescluster\"}" "pgo_api_requests_total{verb=\"patch\",code=\"200\"}" \
		"pgo_informer_watch_restarts_total" "process_resident_memory_bytes"; do
		grep -qF "$name" <<<"$1" || { echo "missing $name"; exit 1; }
	done' _ "$m"

k patch postgrescluster -n ns1 hippo --type merge -p '{"spec":{"port":5433}}' >/dev/null
if retry_until 30 observed ns1 hippo; then
	tap_ok "a spec change (generation 2) is observed"
else
	tap_fail "a spec change (generation 2) is observed" "$(k get postgrescluster -n ns1 hippo -o yaml | tail -20)"
fi
retry_until 30 observed ns1 doomed
patches_before=$(metric "$PORT_a" 'pgo_api_requests_total{verb="patch",code="200"}')
rv_before=$(k get postgrescluster -n ns1 hippo -o jsonpath='{.metadata.resourceVersion}')
sleep 5
patches_after=$(metric "$PORT_a" 'pgo_api_requests_total{verb="patch",code="200"}')
rv_after=$(k get postgrescluster -n ns1 hippo -o jsonpath='{.metadata.resourceVersion}')
if [ "$patches_before" = "$patches_after" ] && [ "$rv_before" = "$rv_after" ]; then
	tap_ok "no writes in steady state ($patches_after status patches in all)"
else
	tap_fail "no writes in steady state" "status patches $patches_before -> $patches_after, rv $rv_before -> $rv_after"
fi

# ---- API server restart: nothing lost ----

api_pid=$(cat "$ENVTEST/apiserver.pid")
mapfile -d '' api_args <"/proc/$api_pid/cmdline"
if [ "${#api_args[@]}" -lt 2 ] || [[ ${api_args[0]} != *kube-apiserver ]]; then
	tap_fail "read the kube-apiserver's command line" "pid $api_pid: ${api_args[*]:-nothing}"
else
	# SIGKILL, as a crash: kube-apiserver's graceful shutdown waits for open watches, which is not the point here.
	kill -KILL "$api_pid"
	for _ in $(seq 1 100); do
		kill -0 "$api_pid" 2>/dev/null || break
		sleep 0.1
	done
	down_at=$SECONDS
	# A second API server on the same etcd, to change things while the operator's one is down.
	port2=$(
		for _ in $(seq 1 100); do
			p=$((20000 + RANDOM % 10000))
			ss -Hltn | awk '{print $4}' | grep -q ":$p\$" || {
				echo "$p"
				break
			}
		done
	)
	args2=()
	for ((i = 0; i < ${#api_args[@]}; i++)); do
		case ${api_args[$i]} in
		--secure-port) args2+=(--secure-port "$port2") && i=$((i + 1)) ;;
		--cert-dir) args2+=(--cert-dir "$WORK/apiserver2") && i=$((i + 1)) ;;
		*) args2+=("${api_args[$i]}") ;;
		esac
	done
	setsid "${args2[@]}" </dev/null >"$WORK/apiserver2.log" 2>&1 &
	api2_pid=$!
	STARTED+=("$api2_pid")
	sed "s#server: https://127.0.0.1:[0-9]*#server: https://127.0.0.1:$port2#" "$KUBECONFIG" >"$WORK/kubeconfig2"
	k2() { KUBECONFIG=$WORK/kubeconfig2 k "$@"; }
	if retry_until 60 k2 get --raw /readyz; then
		for name in new1 new2; do cluster ns1 "$name" | k2 create -f - >/dev/null; done
		cluster ns2 new3 | k2 create -f - >/dev/null
		# --wait=false: the operator, cut off from this API server, removes its finalizer once it is back.
		k2 delete postgrescluster -n ns1 doomed --wait=false >/dev/null
		k2 patch postgrescluster -n ns1 hippo --type merge -p '{"spec":{"port":5434}}' >/dev/null
		tap_ok "while the operator's API server is down, 3 clusters created, 1 changed, 1 deleted elsewhere"
	else
		tap_fail "a second API server on the same etcd starts" "$(tail -20 "$WORK/apiserver2.log")"
	fi
	kill -TERM "$api2_pid"
	wait "$api2_pid" 2>/dev/null
	# The first one again, with the same arguments.
	setsid "${api_args[@]}" </dev/null >>"$ENVTEST/apiserver.log" 2>&1 &
	echo $! >"$ENVTEST/apiserver.pid"
	if retry_until 90 k get --raw /readyz; then
		tap_ok "kube-apiserver restarted with the same arguments (down $((SECONDS - down_at)) s)"
	else
		tap_fail "kube-apiserver restarted with the same arguments" "$(tail -20 "$ENVTEST/apiserver.log")"
	fi
	if retry_until 120 all_observed ns1/new1 ns1/new2 ns2/new3 ns1/hippo; then
		tap_ok "after the restart the operator observes every change made while it was cut off"
	else
		tap_fail "after the restart the operator observes every change made while it was cut off" \
			"$(k get postgresclusters -A -o wide; tail -20 "$WORK/a.log")"
	fi
	if retry_until 60 cache_equals_list "$PORT_a"; then
		tap_ok "the operator's cache equals a fresh list ($(fresh_list | wc -l) clusters, none lost, the deleted one gone)"
	else
		tap_fail "the operator's cache equals a fresh list" \
			"$(diff <(cache "$PORT_a") <(fresh_list))"
	fi
	note "watch restarts: $(metrics "$PORT_a" | grep '^pgo_informer_watch_restarts_total' | tr '\n' ' ')"
fi

stop_operator a TERM
tap_check "SIGTERM: the operator exits 0" test "$STATUS_a" = 0
tap_check "SIGTERM: the shutdown is graceful and logged" grep -q 'msg="shutdown complete"' "$WORK/a.log"

# ---- settings ----

if start_operator scoped PGO_TARGET_NAMESPACES="ns2, ns3"; then
	cluster ns3 scoped | k create -f - >/dev/null
	cluster ns1 outside | k create -f - >/dev/null
	retry_until 30 observed ns3 scoped
	sleep 2
	if observed ns3 scoped && ! observed ns1 outside &&
		[ "$(cache "$PORT_scoped" | cut -d/ -f1 | sort -u | tr '\n' ' ')" = "ns2 ns3 " ]; then
		tap_ok "PGO_TARGET_NAMESPACES=\"ns2, ns3\": only those namespaces are watched"
	else
		tap_fail "PGO_TARGET_NAMESPACES limits the watched namespaces" "$(cache "$PORT_scoped")"
	fi
	stop_operator scoped TERM
	k delete postgrescluster -n ns1 outside >/dev/null
else
	tap_fail "operator starts with PGO_TARGET_NAMESPACES" "$(tail -5 "$WORK/scoped.log")"
fi
PGO_CONTROLLER_LEASE_NAME=Bad_Name "$OPERATOR" --kubeconfig "$KUBECONFIG" >"$WORK/bad.log" 2>&1
status=$?
if [ "$status" = 2 ] && grep -q 'PGO_CONTROLLER_LEASE_NAME: "Bad_Name" is not a valid Lease name' "$WORK/bad.log"; then
	tap_ok "an invalid PGO_CONTROLLER_LEASE_NAME is refused (exit 2, the message names it)"
else
	tap_fail "an invalid PGO_CONTROLLER_LEASE_NAME is refused" "exit $status: $(cat "$WORK/bad.log")"
fi

# ---- leader election ----

LEASE_ENV=(PGO_NAMESPACE="$LEASE_NS" PGO_CONTROLLER_LEASE_NAME="$LEASE_NAME")
start_operator l1 "${LEASE_ENV[@]}"
start_operator l2 "${LEASE_ENV[@]}"
id1=$(identity_of l1)
id2=$(identity_of l2)
holder_is_one_of() {
	local h
	h=$(lease_holder)
	[ -n "$h" ] && { [ "$h" = "$1" ] || [ "$h" = "$2" ]; }
}
if retry_until 30 holder_is_one_of "$id1" "$id2"; then
	holder=$(lease_holder)
	tap_ok "one of two operators holds the Lease $LEASE_NS/$LEASE_NAME"
else
	holder=
	tap_fail "one of two operators holds the Lease" "$(k get lease -n "$LEASE_NS" -o yaml)"
fi
if [ "$holder" = "$id1" ]; then
	leader=l1 standby=l2
else
	leader=l2 standby=l1
fi
leader_port=$(eval echo "\$PORT_$leader")
standby_port=$(eval echo "\$PORT_$standby")
cluster ns1 elected | k create -f - >/dev/null
retry_until 30 observed ns1 elected
retry_until 10 answers "$standby_port" /readyz 200
if observed ns1 elected && [ "$(metric "$standby_port" 'controller_runtime_reconcile_total{controller="postgrescluster",result="success"}')" = 0 ] &&
	[ "$(metric "$leader_port" 'controller_runtime_reconcile_total{controller="postgrescluster",result="success"}')" != 0 ] &&
	[ "$(probe "$standby_port" /readyz)" = 200 ]; then
	tap_ok "the leader reconciles; the standby, ready with a warm cache, does not"
else
	tap_fail "the leader reconciles; the standby does not" \
		"leader $(metric "$leader_port" 'controller_runtime_reconcile_total{controller="postgrescluster",result="success"}'), standby $(metric "$standby_port" 'controller_runtime_reconcile_total{controller="postgrescluster",result="success"}')"
fi

standby_id=$(identity_of "$standby")
killed_at=$(date +%s.%N)
stop_operator "$leader" KILL
if retry_until 40 holder_is "$standby_id"; then
	took=$(awk -v a="$killed_at" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
	# 15 s lease + 2 s between attempts, measured from the last renewal (at most 2 s before the kill).
	if awk -v t="$took" 'BEGIN {exit !(t <= 20)}'; then
		tap_ok "after SIGKILL of the leader the standby takes over once the lease expires (${took} s; lease 15 s)"
	else
		tap_fail "after SIGKILL of the leader the standby takes over within the lease duration" "${took} s"
	fi
else
	tap_fail "after SIGKILL of the leader the standby takes over" "holder: $(lease_holder)"
fi
cluster ns1 after-failover | k create -f - >/dev/null
if retry_until 30 observed ns1 after-failover; then
	tap_ok "the new leader reconciles"
else
	tap_fail "the new leader reconciles" "$(tail -10 "$WORK/$standby.log")"
fi

start_operator l3 "${LEASE_ENV[@]}"
id3=$(identity_of l3)
sleep 3
termed_at=$(date +%s.%N)
stop_operator "$standby" TERM
status=$(eval echo "\$STATUS_$standby")
tap_check "SIGTERM: the leader exits 0" test "$status" = 0
tap_check "SIGTERM: the leader releases the Lease" grep -q 'msg="lease released"' "$WORK/$standby.log"
if retry_until 10 holder_is "$id3"; then
	took=$(awk -v a="$termed_at" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
	if awk -v t="$took" 'BEGIN {exit !(t <= 5)}'; then
		tap_ok "after a release the standby takes over at once (${took} s)"
	else
		tap_fail "after a release the standby takes over at once" "${took} s"
	fi
else
	tap_fail "after a release the standby takes over" "holder: $(lease_holder)"
fi

# Someone else takes the Lease from under the leader: it must stop and exit 1.
now=$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)
k patch lease -n "$LEASE_NS" "$LEASE_NAME" --type merge \
	-p "{\"spec\":{\"holderIdentity\":\"intruder\",\"renewTime\":\"$now\",\"acquireTime\":\"$now\"}}" >/dev/null
if wait_exit l3 20 && [ "$STATUS_l3" = 1 ] && grep -q 'msg="leader election lost"' "$WORK/l3.log"; then
	tap_ok "a leader whose Lease is taken stops reconciling and exits 1"
else
	tap_fail "a leader whose Lease is taken stops reconciling and exits 1" "status $STATUS_l3; $(tail -5 "$WORK/l3.log")"
fi

tap_done
