#!/usr/bin/env bash
# Standby figures on the local cluster with the operator image. Prints figures, never passes or fails on them:
#
#  (a) replication lag of a repo-based standby (auk: WAL from an S3 repository, archive_timeout 60 s as PGO) and
#      of a streaming standby (puffin) while pgbench writes on the primary (penguin) for BENCH_SECONDS: every 2 s,
#      the bytes between the primary's WAL position and each standby's replay position, and the seconds since the
#      last transaction each standby replayed; min / median / max;
#  (b) time from `standby.enabled: false` on puffin to its first successful write.
#
# The clusters run in namespace bench-standby, the S3 server of test/lib/storage.sh in bench-standby-storage; the
# operator is installed with the seed's commands only if it is not installed yet, and removed again then. In one
# namespace the clusters' certificates come from the same root CA, so the streaming standby needs no custom TLS.
#
#   bench/standby.sh [BENCH_SECONDS]     (default 60)
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
# shellcheck source=../hack/lib.sh
source hack/lib.sh
set +e
# shellcheck source=../images/versions.env
source images/versions.env
# shellcheck source=../test/lib/tap.sh
source test/lib/tap.sh
# shellcheck source=../test/lib/kube.sh
source test/lib/kube.sh
# shellcheck source=../test/lib/e2e.sh
source test/lib/e2e.sh
# shellcheck source=../test/lib/storage.sh
source test/lib/storage.sh
export KUBECONFIG=${KUBECONFIG:-$KUBECONFIG_FILE} PATH=$KUBE_BIN:$PATH

SECONDS_OF_LOAD=${1:-60}
NS=bench-standby
SNS=bench-standby-storage
L=postgres-operator.crunchydata.com
IMAGE=$POSTGRES_17_IMAGE
CA_FILE=/etc/pgbackrest/conf.d/storage-ca.crt
work=$(mktemp -d "${TMPDIR:-/tmp}/pgo-standby.XXXXXX")
installed=0

say() { printf '%s\n' "$*" >&2; }
die() {
	say "bench/standby.sh: $*"
	exit 1
}
# stats UNIT: min / median / max of the numbers on stdin.
stats() {
	sort -n | awk -v unit="$1" '{ v[NR] = $1 } END {
		if (NR == 0) { print "no data"; exit }
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "min %s %s, median %s %s, max %s %s over %d samples\n", v[1], unit, m, unit, v[NR], unit, NR }'
}
cleanup() {
	kn delete postgrescluster penguin auk puffin --ignore-not-found --wait=true --timeout=180s >/dev/null 2>&1
	kubectl delete namespace "$NS" "$SNS" --ignore-not-found --timeout=180s >/dev/null 2>&1
	if [ "$installed" = 1 ]; then
		kubectl delete -k kustomize/install/default --ignore-not-found --timeout=120s >/dev/null 2>&1
		kubectl delete -k kustomize/install/namespace --ignore-not-found --timeout=180s >/dev/null 2>&1
	fi
	rm -rf "$work"
}
trap cleanup EXIT

kubectl get --raw /readyz >/dev/null 2>&1 || die "the local cluster does not answer; run 'make cluster-up'"
if ! kubectl -n postgres-operator get deployment pgo >/dev/null 2>&1; then
	say "installing the operator (the seed's commands); it is removed at the end"
	installed=1
	kubectl apply -k kustomize/install/namespace >/dev/null &&
		kubectl apply --server-side -k kustomize/install/default >/dev/null || die "installing the operator failed"
fi
kubectl -n postgres-operator rollout status deployment/pgo --timeout=180s >/dev/null || die "the operator does not roll out"
kubectl create namespace "$NS" >/dev/null 2>&1
kubectl create namespace "$SNS" >/dev/null 2>&1

storage_images s3 >&2 && storage_ca "$SNS" >&2 && storage_deploy s3 "$SNS" >&2 &&
	storage_bucket s3 "$SNS" standby >&2 &&
	storage_repo_options s3 "$SNS" 1 standby "$CA_FILE" >"$work/options" || die "no S3 server"
{
	echo "[global]"
	grep -E -- '-(key|key-secret)=' "$work/options"
} >"$work/s3.conf"
grep -vE '^repo1-(type|s3-endpoint|s3-region|s3-bucket|s3-key|s3-key-secret)=' "$work/options" |
	sed -E 's/^([^=]+)=(.*)$/        \1: "\2"/' >"$work/global.yaml"
kubectl -n "$SNS" get secret storage-ca -o jsonpath='{.data.ca\.crt}' | base64 -d >"$work/storage-ca.crt"
kn create secret generic standby-s3 --from-file=s3.conf="$work/s3.conf" \
	--from-file=storage-ca.crt="$work/storage-ca.crt" >/dev/null || die "no Secret standby-s3"

# cluster NAME PATH STANDBY: one instance, repo1 on S3 at PATH, spec.standby STANDBY (YAML flow, or "").
cluster() {
	local standby=""
	[ -n "$3" ] && standby="  standby: $3"
	cat <<-EOF | kubectl apply --server-side -f - >/dev/null
		apiVersion: postgres-operator.crunchydata.com/v1beta1
		kind: PostgresCluster
		metadata:
		  name: $1
		  namespace: $NS
		spec:
		  image: $IMAGE
		  postgresVersion: 17
		$standby
		  instances:
		    - name: instance1
		      dataVolumeClaimSpec:
		        accessModes: [ReadWriteOnce]
		        resources: {requests: {storage: 2Gi}}
		  backups:
		    pgbackrest:
		      image: $IMAGE
		      configuration:
		      - secret: {name: standby-s3}
		      global:
		        repo1-path: $2
		$(cat "$work/global.yaml")
		      repos:
		      - name: repo1
		        s3: {bucket: standby, endpoint: s3.$SNS.svc, region: us-east-1}
	EOF
}
leader() { pods_with_role "$1" master; }
sql() {
	local c=$1
	shift
	timeout 60 kubectl -n "$NS" exec "$(leader "$c")" -c database -- psql -d postgres -XAtq -v ON_ERROR_STOP=1 "$@"
}
backed_up() {
	[ "$(kn get postgrescluster penguin -o jsonpath='{.status.pgbackrest.repos[0].replicaCreateBackupComplete}')" = true ]
}

cluster penguin /penguin "" || die "penguin not applied"
retry_until 420 eval 'instances_ready penguin 1 && backed_up' || die "penguin is not ready"
sql penguin -c "SELECT 1" >/dev/null || die "penguin answers no SQL"
cluster auk /penguin "{enabled: true, repoName: repo1}" && cluster puffin /puffin \
	"{enabled: true, host: penguin-primary.$NS.svc, port: 5432}" || die "standbys not applied"
retry_until 300 eval 'instances_ready auk 1 && instances_ready puffin 1' || die "the standbys are not ready"
kn exec "$(leader penguin)" -c database -- pgbench -i -s 10 -q postgres >/dev/null 2>&1 || die "pgbench -i failed"

# (a) lag under pgbench
say "pgbench on penguin for $SECONDS_OF_LOAD s (4 clients); sampling the standbys every 2 s"
kn exec "$(leader penguin)" -c database -- pgbench -c 4 -j 2 -T "$SECONDS_OF_LOAD" -n postgres >"$work/pgbench.out" 2>&1 &
load=$!
: >"$work/auk.bytes"
: >"$work/puffin.bytes"
: >"$work/auk.secs"
: >"$work/puffin.secs"
while kill -0 "$load" 2>/dev/null; do
	lsn=$(sql penguin -c "SELECT pg_current_wal_lsn()" 2>/dev/null)
	for c in auk puffin; do
		sql "$c" -c "SELECT pg_wal_lsn_diff('$lsn', pg_last_wal_replay_lsn()),
			round(extract(epoch FROM now() - pg_last_xact_replay_timestamp()))" 2>/dev/null |
			awk -F'|' -v b="$work/$c.bytes" -v s="$work/$c.secs" 'NF == 2 { print $1 >> b; print $2 >> s }'
	done
	sleep 2
done
wait "$load"
echo "pgbench: $(grep -E '^tps' "$work/pgbench.out" | head -1)"
for c in auk puffin; do
	echo "$c lag behind the primary's WAL: $(stats bytes <"$work/$c.bytes")"
	echo "$c seconds since the last replayed transaction: $(stats s <"$work/$c.secs")"
done

# (b) promotion
start=$(now)
kn patch postgrescluster puffin --type=merge -p '{"spec":{"standby":{"enabled":false}}}' >/dev/null
retry_until 180 sql puffin -c "CREATE TABLE promoted (n int)" || die "puffin is not writable after 180 s"
echo "puffin: enabled:false to the first successful write: $(elapsed "$start") s"
