#!/usr/bin/env bash
# The operator's footprint while it watches many PostgresClusters: a throwaway kube-apiserver (hack/envtest.sh)
# with N clusters (default 1000), the release build of the operator (build-release/, made here if missing) started
# on them, then, once it has reconciled them all and gone quiet, its resident memory and its CPU use over an idle
# window (default 30 s). Prints figures, never passes or fails.
#
# The reconciler writes some 28 objects per cluster (Secrets, Services, StatefulSets, PVCs, ...), two of them
# Services with a cluster IP: a ServiceCIDR extends envtest's range (a /24). Envtest runs no controllers, so no pod
# ever starts: each cluster ends with its objects written and its status observed, and stays so. The envtest lives
# in the work directory, out of the way of any other envtest on the machine.
#
#   bench/operator-idle.sh [CLUSTERS [IDLE_SECONDS]]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
CLUSTERS=${1:-1000}
IDLE=${2:-30}
KUBE_BIN=${PGO_CACHE_DIR:-/var/cache/pgo-local}/kube-v${KUBE_VERSION:-1.35.4}/bin
GROUP=postgres-operator.crunchydata.com
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pgo-bench.XXXXXX")
ENVTEST=
OPERATOR_PID=

cleanup() {
	if [ -n "$OPERATOR_PID" ]; then
		kill -TERM "$OPERATOR_PID" 2>/dev/null
		wait "$OPERATOR_PID" 2>/dev/null
	fi
	[ -n "$ENVTEST" ] && TMPDIR=$WORK hack/envtest.sh stop "$ENVTEST" >/dev/null 2>&1
	rm -rf "$WORK"
}
trap cleanup EXIT
k() { "$KUBE_BIN/kubectl" "$@"; }
say() { printf '%s\n' "$*" >&2; }

if [ ! -f build-release/build.ninja ]; then
	meson setup build-release --buildtype=release -Db_ndebug=true >"$WORK/setup.log" 2>&1 ||
		{ cat "$WORK/setup.log" >&2 && exit 1; }
fi
ninja -C build-release src/cmd/postgres-operator >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2 && exit 1; }
OPERATOR=$ROOT/build-release/src/cmd/postgres-operator

ENVTEST=$(TMPDIR=$WORK hack/envtest.sh start 2>"$WORK/envtest.log") || { cat "$WORK/envtest.log" >&2 && exit 1; }
eval "$(TMPDIR=$WORK hack/envtest.sh env "$ENVTEST")"

crd=config/crd/bases/${GROUP}_postgresclusters.yaml
if ! k create -f "$crd" >/dev/null 2>&1; then
	say "using a minimal CRD ($crd could not be installed)"
	k create -f - >/dev/null <<-EOF
		apiVersion: apiextensions.k8s.io/v1
		kind: CustomResourceDefinition
		metadata: {name: postgresclusters.$GROUP}
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
fi
until k wait --for=condition=Established "crd/postgresclusters.$GROUP" --timeout=5s >/dev/null 2>&1; do sleep 1; done
k create namespace bench >/dev/null
k create -f - >/dev/null <<-EOF
	apiVersion: networking.k8s.io/v1
	kind: ServiceCIDR
	metadata: {name: bench}
	spec: {cidrs: [10.100.0.0/16]}
EOF

say "creating $CLUSTERS PostgresClusters"
for i in $(seq 1 "$CLUSTERS"); do
	cat <<-EOF
		---
		apiVersion: $GROUP/v1beta1
		kind: PostgresCluster
		metadata: {name: hippo-$i, namespace: bench}
		spec:
		  postgresVersion: 17
		  instances:
		    - name: instance1
		      replicas: 2
		      dataVolumeClaimSpec:
		        accessModes: ["ReadWriteOnce"]
		        resources: {requests: {storage: 1Gi}}
		  backups:
		    pgbackrest:
		      repos:
		        - name: repo1
		          volume:
		            volumeClaimSpec:
		              accessModes: ["ReadWriteOnce"]
		              resources: {requests: {storage: 1Gi}}
	EOF
done >"$WORK/clusters.yaml"
created_at=$SECONDS
[ "$CLUSTERS" -gt 0 ] && k create -f "$WORK/clusters.yaml" >/dev/null
say "created in $((SECONDS - created_at)) s"

RELATED_IMAGE_POSTGRES_17=${RELATED_IMAGE_POSTGRES_17:-localhost/postgres:17} \
	"$OPERATOR" --kubeconfig "$KUBECONFIG" --health-address 127.0.0.1:0 </dev/null >"$WORK/operator.log" 2>&1 &
OPERATOR_PID=$!
started=$(date +%s.%N)
port=
for _ in $(seq 1 100); do
	port=$(sed -n 's/.*msg=starting .*healthPort=\([0-9]*\).*/\1/p' "$WORK/operator.log" | head -1)
	[ -n "$port" ] && break
	sleep 0.1
done
[ -n "$port" ] || { cat "$WORK/operator.log" >&2 && exit 1; }
metric() { curl -s "http://127.0.0.1:$port/metrics" | awk -v m="$1" 'index($0, m " ") == 1 {print $2; f=1} END {if (!f) print 0}'; }

# Reconciled them all: every cluster's status observes its generation, and nothing is queued or running.
quiet() {
	[ "$(metric 'workqueue_depth{name="postgrescluster"}')" = 0 ] &&
		[ "$(metric 'controller_runtime_active_workers{controller="postgrescluster"}')" = 0 ]
}
observed() {
	k get postgresclusters -n bench -o jsonpath='{range .items[*]}{.metadata.generation}={.status.observedGeneration}{"\n"}{end}' |
		awk -F= '$1 == $2 {n++} END {print n + 0}'
}
until quiet && [ "$(observed)" -ge "$CLUSTERS" ] && quiet; do
	kill -0 "$OPERATOR_PID" || { tail -20 "$WORK/operator.log" >&2 && exit 1; }
	sleep 0.5
done
settled=$(date +%s.%N)
writes=$(curl -s "http://127.0.0.1:$port/metrics" |
	awk '/^pgo_api_requests_total\{verb="(create|update|patch|delete)"/ {s += $2} END {print s + 0}')
sleep 3

ticks() { awk '{print $14 + $15}' "/proc/$OPERATOR_PID/stat"; }
requests() { curl -s "http://127.0.0.1:$port/metrics" | awk '/^pgo_api_requests_total/ {s += $2} END {print s + 0}'; }
cpu_before=$(ticks)
requests_before=$(requests)
sleep "$IDLE"
cpu_after=$(ticks)
requests_after=$(requests)
hz=$(getconf CLK_TCK)
rss_kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$OPERATOR_PID/status")
hwm_kib=$(awk '/^VmHWM:/ {print $2}' "/proc/$OPERATOR_PID/status")
cached=$(metric 'pgo_informer_objects{resource="postgresclusters.postgres-operator.crunchydata.com"}')
# Every cluster of the namespace co-owns the root CA Secret: how many references it holds, and its size.
root_owners=$(k get secret pgo-root-cacert -n bench -o jsonpath='{range .metadata.ownerReferences[*]}{.uid}{"\n"}{end}' 2>/dev/null |
	sort -u | grep -c .)
root_bytes=$(k get secret pgo-root-cacert -n bench -o json 2>/dev/null | wc -c)

awk -v n="$CLUSTERS" -v cached="$cached" -v rss="$rss_kib" -v hwm="$hwm_kib" -v a="$started" -v b="$settled" \
	-v c0="$cpu_before" -v c1="$cpu_after" -v hz="$hz" -v idle="$IDLE" \
	-v r0="$requests_before" -v r1="$requests_after" -v writes="$writes" -v owners="$root_owners" \
	-v rootBytes="$root_bytes" 'BEGIN {
	printf "clusters watched                 %d (cached: %d)\n", n, cached
	printf "time to reconcile all            %.1f s\n", b - a
	printf "API writes to reconcile all      %d\n", writes
	printf "root CA Secret owner references  %d of %d (%d bytes as JSON)\n", owners, n, rootBytes
	printf "resident memory (idle)           %.1f MiB\n", rss / 1024
	printf "resident memory (peak)           %.1f MiB\n", hwm / 1024
	if (n > 0) printf "resident memory per cluster      %.1f KiB (all included)\n", rss / n
	printf "idle CPU over %d s               %.3f %% of one core (%d ticks)\n", idle, (c1 - c0) / hz / idle * 100, c1 - c0
	printf "API requests while idle          %d\n", r1 - r0
}'
