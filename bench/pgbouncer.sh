#!/usr/bin/env bash
# PgBouncer figures on the local cluster with the operator image: pgbench
# straight to the primary beside pgbench through PgBouncer, on the same data,
# from the same client pod, at the same client counts. Prints figures and
# ratios (PgBouncer / direct); never passes or fails on them.
#
# Cluster "bench" (one instance, no backups, the postgres 17 image of
# images/versions.env) with spec.proxy.pgBouncer (one replica, pool_mode
# transaction and default_pool_size BENCH_POOL_SIZE through
# spec.proxy.pgBouncer.config.global); its user "bench" gets a schema of its
# own (autoCreateUserSchema), as in test/e2e/pgbouncer.sh. A restricted client
# pod in the same namespace holds the root CA (Secret pgo-root-cacert) and
# runs every pgbench, as user bench with the password of the user Secret:
#  - direct: the Secret's uri (Service bench-primary), sslmode=verify-full;
#  - PgBouncer: the Secret's pgbouncer-uri (Service bench-pgbouncer),
#    sslmode=verify-full; PgBouncer reaches Postgres over TLS as well.
# pgbench -i at BENCH_SCALE into the user's schema, a warm-up of
# BENCH_WARMUP seconds, then for each client count of BENCH_CLIENTS a run of
# BENCH_SECONDS straight to the primary and one through PgBouncer (the
# built-in TPC-B-like script, simple protocol, -j up to BENCH_THREADS), each
# after a CHECKPOINT. Per run: TPS without the initial connection time
# (pgbench's own figure) and the latency p50 / p99 over every transaction of
# the run, from pgbench's per-transaction logs (--log; nearest rank).
#
# The client pod, PgBouncer and Postgres share one node, so the figures
# include their contention for its CPUs; they say what the hop through
# PgBouncer costs or gives on this machine, not on a real network.
#
# Everything runs in namespace bench-pgbouncer, removed at the end. The
# operator is installed afresh with the seed's commands (an earlier install
# is removed first, so the operator image just built is the one that runs)
# and removed at the end, then installed again if it was installed before.
#
#   BENCH_SCALE=10 BENCH_SECONDS=30 BENCH_CLIENTS="8 32" bench/pgbouncer.sh
#   (defaults; also BENCH_THREADS 2, BENCH_POOL_SIZE 20, BENCH_WARMUP 5)
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
# shellcheck source=../hack/lib.sh
source hack/lib.sh
set +e
# shellcheck source=../images/versions.env
source images/versions.env
# shellcheck source=../test/lib/e2e.sh
source test/lib/e2e.sh
export KUBECONFIG=${KUBECONFIG:-$KUBECONFIG_FILE} PATH=$KUBE_BIN:$PATH

SCALE=${BENCH_SCALE:-10}
DURATION=${BENCH_SECONDS:-30}
CLIENT_COUNTS=${BENCH_CLIENTS:-8 32}
THREADS=${BENCH_THREADS:-2}
POOL_SIZE=${BENCH_POOL_SIZE:-20}
WARMUP=${BENCH_WARMUP:-5}
NS=bench-pgbouncer
L=postgres-operator.crunchydata.com
IMAGE=$POSTGRES_17_IMAGE
CLUSTER=bench
CLIENT=bench-client
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pgo-pgbouncer.XXXXXX")
was_installed=0 installed=0
t_start=$(now)

for n in "$SCALE" "$DURATION" "$THREADS" "$POOL_SIZE" "$WARMUP" $CLIENT_COUNTS; do
	if ! [[ $n =~ ^[0-9]+$ ]] || [ "$n" -eq 0 ]; then
		die "not a positive whole number: '$n' (see the BENCH_* variables)"
	fi
done

say() { printf '%s\n' "$*" >&2; }
wait_for() {
	local limit=$1 start=$SECONDS
	shift
	until "$@"; do
		[ $((SECONDS - start)) -ge "$limit" ] && return 1
		sleep 1
	done
}

delete_cluster() {
	kn delete pod "$CLIENT" --ignore-not-found --wait=false >/dev/null 2>&1
	kn delete postgrescluster "$CLUSTER" --ignore-not-found --wait=true --timeout=300s >/dev/null 2>&1
}
uninstall() {
	kubectl delete -k kustomize/install/default --ignore-not-found --timeout=120s >/dev/null 2>&1
	kubectl delete -k kustomize/install/namespace --ignore-not-found --timeout=180s >/dev/null 2>&1
	wait_for 120 eval '! kubectl get namespace postgres-operator >/dev/null 2>&1'
}
install() {
	kubectl apply -k kustomize/install/namespace >/dev/null &&
		kubectl apply --server-side -k kustomize/install/default >/dev/null || return 1
	# A CRD just created has no status yet, and kubectl wait then fails at once instead of waiting: try again.
	wait_for 60 kubectl wait --for=condition=Established "crd/postgresclusters.$L" --timeout=5s >/dev/null 2>&1
	kubectl -n postgres-operator rollout status deployment/pgo --timeout=180s >/dev/null
}
cleanup() {
	delete_cluster
	kubectl delete namespace "$NS" --ignore-not-found --timeout=300s >/dev/null 2>&1
	if [ "$installed" = 1 ]; then
		uninstall
		if [ "$was_installed" = 1 ]; then
			say "installing the operator again, as it was before"
			install || say "installing the operator again failed"
		fi
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

# diagnose WHAT: the state of everything, then exit.
diagnose() {
	say "error: $1"
	kn get postgresclusters,deployments,statefulsets,pods,services -o wide -L "$L/role" >&2 2>&1
	kn get postgrescluster "$CLUSTER" -o jsonpath='{.status.proxy} {.status.conditions}' 2>&1 | head -c 3000 >&2
	echo >&2
	kn logs "deployment/$CLUSTER-pgbouncer" --all-containers --tail=15 >&2 2>&1
	kn get events --sort-by=.lastTimestamp 2>&1 | tail -15 >&2
	kubectl -n postgres-operator logs deployment/pgo --tail=30 >&2 2>&1
	exit 1
}

kubectl get --raw /readyz >/dev/null 2>&1 || die "the local cluster does not answer; run 'make cluster-up'"
images_present >&2 || die "images missing"
ctr --address "$CONTAINERD_SOCK" -n k8s.io images ls -q 2>/dev/null | grep -qxF "$PGBOUNCER_IMAGE" ||
	die "$PGBOUNCER_IMAGE is not in the cluster's containerd (hack/build-images.sh --import)"

# --- the operator, installed afresh ------------------------------------------------------

kubectl -n postgres-operator get deployment pgo >/dev/null 2>&1 && was_installed=1
for _ in $(seq 180); do
	[ "$(kubectl get namespace "$NS" -o jsonpath='{.status.phase}' 2>/dev/null)" = Terminating ] || break
	sleep 1
done
kubectl create namespace "$NS" >/dev/null 2>&1
delete_cluster
installed=1
[ "$was_installed" = 1 ] && say "removing the operator installed before; it is installed again at the end"
uninstall
say "installing the operator (the seed's commands)"
install || die "installing the operator failed"

# --- the cluster, PgBouncer and the client pod ----------------------------------------------

say "cluster $CLUSTER with spec.proxy.pgBouncer (pool_mode transaction, default_pool_size $POOL_SIZE)"
cat >"$WORK/cluster.yaml" <<-EOF
	apiVersion: postgres-operator.crunchydata.com/v1beta1
	kind: PostgresCluster
	metadata:
	  name: $CLUSTER
	  namespace: $NS
	  annotations:
	    $L/autoCreateUserSchema: "true"
	spec:
	  image: $IMAGE
	  postgresVersion: 17
	  instances:
	    - name: instance1
	      dataVolumeClaimSpec:
	        accessModes: [ReadWriteOnce]
	        resources: {requests: {storage: $((1 + SCALE / 20))Gi}}
	  proxy:
	    pgBouncer:
	      replicas: 1
	      config:
	        global:
	          pool_mode: transaction
	          default_pool_size: "$POOL_SIZE"
	          max_client_conn: "1000"
EOF
t0=$(now)
kubectl apply --server-side -f "$WORK/cluster.yaml" >/dev/null || diagnose "applying $CLUSTER failed"
wait_for 300 instances_ready "$CLUSTER" 1 >/dev/null || diagnose "$CLUSTER's instance is not Ready"
secret_key() { kn get secret "$1" -o go-template="{{index .data \"$2\" | base64decode}}" 2>/dev/null; }
pgbouncer_ready() {
	[ "$(kn get postgrescluster "$CLUSTER" -o jsonpath='{.status.proxy.pgBouncer.readyReplicas}' 2>/dev/null)" = 1 ] &&
		[ -n "$(secret_key "$CLUSTER-pguser-$CLUSTER" pgbouncer-uri)" ] &&
		[ -n "$(secret_key pgo-root-cacert root.crt)" ]
}
wait_for 240 pgbouncer_ready || diagnose "PgBouncer is not ready"
say "PgBouncer ready $(elapsed "$t0") s after the cluster was applied"

sleeper_pod "$CLIENT" client <<-EOF | kubectl apply -f - >/dev/null || diagnose "the client pod failed"
	      volumeMounts:
	        - {name: certs, mountPath: /certs, readOnly: true}
	        - {name: tmp, mountPath: /tmp}
	  volumes:
	    - name: certs
	      secret: {secretName: pgo-root-cacert, items: [{key: root.crt, path: root.crt}]}
	    - {name: tmp, emptyDir: {sizeLimit: 512Mi}}
EOF
kn wait --for=condition=Ready "pod/$CLIENT" --timeout=120s >/dev/null || diagnose "the client pod does not start"
# cx SECONDS ARGS...: a command in the client pod, stopped after SECONDS.
cx() {
	local limit=$1
	shift
	timeout "$limit" kubectl -n "$NS" exec "$CLIENT" -c client -- "$@" </dev/null
}
# The connection strings go to the pod on stdin, so that the password is on no command line of this host.
for target in direct pgbouncer; do
	key=uri
	[ "$target" = pgbouncer ] && key=pgbouncer-uri
	printf '%s?sslmode=verify-full&sslrootcert=/certs/root.crt\n' "$(secret_key "$CLUSTER-pguser-$CLUSTER" "$key")" |
		timeout 30 kubectl -n "$NS" exec -i "$CLIENT" -c client -- sh -c "umask 077; cat >/tmp/$target.uri" ||
		diagnose "the $target connection string is not in the pod"
done
# cpsql TARGET ARGS...: psql in the client pod to TARGET (direct, pgbouncer).
# shellcheck disable=SC2016 # the pod's shell expands it
cpsql() {
	local target=$1
	shift
	cx 60 sh -c 'uri=$(cat "/tmp/$1.uri"); shift; exec psql "$uri" -XAtq -v ON_ERROR_STOP=1 "$@"' sh "$target" "$@"
}
# The proof that one path goes through PgBouncer and the other does not: the client address Postgres sees.
bouncer_ip=$(pod_ip "$(kn get pods -l "$L/cluster=$CLUSTER,$L/role=pgbouncer" -o jsonpath='{.items[0].metadata.name}')")
client_ip=$(pod_ip "$CLIENT")
WHO="SELECT host(inet_client_addr()) || CASE WHEN ssl THEN ' tls' ELSE ' plain' END
	FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
seen_direct=$(wait_for 60 cpsql direct -c "SELECT 1" >/dev/null && cpsql direct -c "$WHO")
seen_bouncer=$(wait_for 60 cpsql pgbouncer -c "SELECT 1" >/dev/null && cpsql pgbouncer -c "$WHO")
if [ "$seen_direct" != "$client_ip tls" ] || [ "$seen_bouncer" != "$bouncer_ip tls" ]; then
	diagnose "Postgres sees '$seen_direct' directly (client pod $client_ip) and '$seen_bouncer' through PgBouncer \
(PgBouncer pod $bouncer_ip); both should be that pod's address and tls"
fi
say "Postgres sees the client pod ($client_ip) directly and the PgBouncer pod ($bouncer_ip) through it, both over TLS"

# --- pgbench --------------------------------------------------------------------------------

say "pgbench -i -s $SCALE (straight to the primary)"
t0=$(now)
# shellcheck disable=SC2016 # the pod's shell expands it
cx 1800 sh -c 'exec pgbench -i -q -s "$1" "$(cat /tmp/direct.uri)"' sh "$SCALE" >"$WORK/init.log" 2>&1 ||
	{ cat "$WORK/init.log" >&2; diagnose "pgbench -i failed"; }
init_seconds=$(elapsed "$t0")
checkpoint() {
	local p
	p=$(pods_with_role "$CLUSTER" master)
	[ -n "$p" ] && kubectl -n "$NS" exec "$p" -c database -- psql -d postgres -XAtq -c CHECKPOINT >/dev/null 2>&1
}
# pgbench_run TARGET CLIENTS SECONDS KEY: pgbench from the client pod to TARGET; its report into $WORK/KEY.out and
# the latency of each transaction of the run (microseconds, sorted) into $WORK/KEY.lat.
pgbench_run() {
	local target=$1 clients=$2 seconds=$3 key=$4 threads=$THREADS
	[ "$clients" -lt "$threads" ] && threads=$clients
	checkpoint || say "CHECKPOINT before $key failed"
	# shellcheck disable=SC2016 # the pod's shell expands it
	cx $((seconds + 300)) sh -c 'rm -rf /tmp/log && mkdir /tmp/log && cd /tmp/log &&
		exec pgbench -n -c "$2" -j "$3" -T "$4" --log --log-prefix=/tmp/log/tx "$(cat "/tmp/$1.uri")"' \
		sh "$target" "$clients" "$threads" "$seconds" >"$WORK/$key.out" 2>&1 ||
		{ tail -20 "$WORK/$key.out" >&2; diagnose "pgbench $key failed"; }
	# Per line: client, transaction, latency in microseconds (or "failed", "skipped"), script, epoch, microseconds.
	cx 300 sh -c 'cat /tmp/log/tx*' | awk '$3 ~ /^[0-9]+$/ { print $3 }' | sort -n >"$WORK/$key.lat"
}
tps() { awk '/^tps = .*without initial connection time/ { printf "%.0f", $3 }' "$WORK/$1.out"; }
failed() { awk '/^number of failed transactions:/ { n = $5 } END { print n + 0 }' "$WORK/$1.out"; }
# pct KEY P: the P-th percentile (nearest rank) of KEY's latencies, in milliseconds.
pct() {
	awk -v p="$2" '{ v[NR] = $1 } END {
		if (NR == 0) { print "-"; exit }
		i = int(p / 100 * NR); if (i < p / 100 * NR) i++; if (i < 1) i = 1
		printf "%.2f", v[i] / 1000 }' "$WORK/$1.lat"
}
ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b }'; }

read -r first _ <<<"$CLIENT_COUNTS"
say "warm-up: ${WARMUP} s, $first clients, straight to the primary"
pgbench_run direct "$first" "$WARMUP" warmup
for c in $CLIENT_COUNTS; do
	for target in direct pgbouncer; do
		say "pgbench $target: $c clients, $DURATION s"
		pgbench_run "$target" "$c" "$DURATION" "$target.$c"
	done
	printf '%s clients: TPS direct %s, through PgBouncer %s, ratio %s; latency p50/p99 (ms) direct %s/%s, through PgBouncer %s/%s\n' \
		"$c" "$(tps "direct.$c")" "$(tps "pgbouncer.$c")" "$(ratio "$(tps "pgbouncer.$c")" "$(tps "direct.$c")")" \
		"$(pct "direct.$c" 50)" "$(pct "direct.$c" 99)" "$(pct "pgbouncer.$c" 50)" "$(pct "pgbouncer.$c" 99)"
done

# --- the table ------------------------------------------------------------------------------

echo
echo "pgbench straight to the primary and through PgBouncer (pool_mode transaction, default_pool_size $POOL_SIZE),"
echo "scale $SCALE (pgbench -i took $init_seconds s), $DURATION s per run, up to $THREADS threads, TLS verify-full"
echo "on every hop, all on one node of $(nproc) CPUs; images $IMAGE and $PGBOUNCER_IMAGE; operator built from"
echo "commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "? (a tree without git)")"
echo
printf '%7s %11s %14s %7s %15s %15s %15s %15s %7s\n' clients "tps direct" "tps pgbouncer" ratio \
	"direct p50 ms" "direct p99 ms" "pgb. p50 ms" "pgb. p99 ms" failed
for c in $CLIENT_COUNTS; do
	printf '%7s %11s %14s %7s %15s %15s %15s %15s %7s\n' "$c" "$(tps "direct.$c")" "$(tps "pgbouncer.$c")" \
		"$(ratio "$(tps "pgbouncer.$c")" "$(tps "direct.$c")")" "$(pct "direct.$c" 50)" "$(pct "direct.$c" 99)" \
		"$(pct "pgbouncer.$c" 50)" "$(pct "pgbouncer.$c" 99)" "$(($(failed "direct.$c") + $(failed "pgbouncer.$c")))"
done
echo "ratio: TPS through PgBouncer / TPS direct. TPS without the initial connection time (pgbench's); latencies"
echo "over every transaction of the run (pgbench --log, nearest rank); failed: both runs' failed transactions."
say "the whole bench ran $(elapsed "$t_start") s before cleanup"
