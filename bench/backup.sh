#!/usr/bin/env bash
# Backup and restore figures of the operator beside bare pgBackRest on the
# same data, on the local cluster with the operator image. Prints figures,
# ratios (operator / bare) and the goals beside them; never passes or fails
# on them.
#
# Operator: PostgresCluster "bench" (one instance, volume repository repo1,
# the postgres 17 image of images/versions.env), filled with pgbench -i at
# BENCH_SCALE (default 100, about 1.5 GiB), then
#  - a full manual backup (spec.backups.pgbackrest.manual {repoName: repo1,
#    options: [--type=full, --start-fast]} and the annotation
#    pgbackrest-backup=<id>): the time from the annotation to
#    status.pgbackrest.manualBackup.finished, the Job's own duration
#    (startTime to completionTime, whole seconds), pgBackRest's own start
#    to stop (pgbackrest info), and the database's size over each as MiB/s;
#  - pgbench -t (BENCH_TRANSACTIONS in all, default 20000, 4 clients), then
#    an incremental manual backup (--type=incr), timed the same way;
#  - when the operator acts on spec.dataSource.postgresCluster
#    (src/api/fields.c), a clone "bench-clone" of repo1: the time from
#    kubectl apply to a primary that answers SELECT 1 and is not in
#    recovery, and its restore Job's duration.
# Both backups start with an immediate checkpoint (--start-fast), on both
# sides, so that neither waits for a scheduled one; before each, a
# CHECKPOINT and a WAL switch whose segment is archived, so that neither
# waits for an archiving backlog either.
#
# Bare: the same pgBackRest commands by hand in one pod "bare" with the same
# image and a PVC of the same StorageClass: initdb (checksums, UTF8, as the
# operator's instances), the operator's instance's settings that bear on
# speed (read with SHOW before it goes), asynchronous archiving to a local
# repository, pgbench -i at the same scale, stanza-create, backup
# --type=full, the same pgbench -t, backup --type=incr, then pgbackrest
# restore into an empty directory and postgres started on it until recovery
# has ended and it takes a write. The bare side runs after the operator's
# clusters are deleted, so the two never share the machine.
#
# Goals (the issue's): full backup throughput >= 0.95x bare; clone apply ->
# writable <= 1.2x (bare restore + recovery).
#
# Everything runs in namespace bench-backup, removed at the end. The
# operator is installed afresh with the seed's commands (an earlier install
# is removed first, so the operator image just built is the one that runs)
# and removed at the end, then installed again if it was installed before.
#
#   BENCH_SCALE=5 bench/backup.sh
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

SCALE=${BENCH_SCALE:-100}
TRANSACTIONS=${BENCH_TRANSACTIONS:-20000}
CLIENTS=4
NS=bench-backup
L=postgres-operator.crunchydata.com
IMAGE=$POSTGRES_17_IMAGE
SRC=bench
CLONE=bench-clone
# Volume requests: the local provisioner does not enforce them, but they say what the data needs.
DATA_GI=$((2 + SCALE * 4 / 100))
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pgo-backup.XXXXXX")
was_installed=0 installed=0

say() { printf '%s\n' "$*" >&2; }
since() { awk -v a="$1" -v b="${2:-$(now)}" 'BEGIN { printf "%.1f", b - a }'; }
wait_for() {
	local limit=$1 start=$SECONDS
	shift
	until "$@"; do
		[ $((SECONDS - start)) -ge "$limit" ] && return 1
		sleep 0.5
	done
}

delete_clusters() {
	kn delete postgrescluster "$CLONE" "$SRC" --ignore-not-found --wait=true --timeout=300s >/dev/null 2>&1
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
	delete_clusters
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
	kn get postgresclusters,statefulsets,pods,persistentvolumeclaims,jobs -o wide -L "$L/role" >&2 2>&1
	kn get postgrescluster "$SRC" "$CLONE" -o jsonpath='{range .items[*]}{.metadata.name}: {.status}{"\n"}{end}' \
		2>/dev/null | head -c 4000 >&2
	echo >&2
	kn get events --sort-by=.lastTimestamp 2>&1 | tail -15 >&2
	kubectl -n postgres-operator logs deployment/pgo --tail=30 >&2 2>&1
	exit 1
}

kubectl get --raw /readyz >/dev/null 2>&1 || die "the local cluster does not answer; run 'make cluster-up'"
images_present >&2 || die "images missing"

# --- the operator, installed afresh ------------------------------------------------------

kubectl -n postgres-operator get deployment pgo >/dev/null 2>&1 && was_installed=1
for _ in $(seq 180); do
	[ "$(kubectl get namespace "$NS" -o jsonpath='{.status.phase}' 2>/dev/null)" = Terminating ] || break
	sleep 1
done
kubectl create namespace "$NS" >/dev/null 2>&1
delete_clusters
installed=1
[ "$was_installed" = 1 ] && say "removing the operator installed before; it is installed again at the end"
uninstall
say "installing the operator (the seed's commands)"
install || die "installing the operator failed"

# --- operator: the source cluster -------------------------------------------------------

# cluster NAME [EXTRA]: apply a one-instance cluster with volume repository repo1; EXTRA is spliced into the
# spec (2 spaces in).
cluster() {
	cat >"$WORK/$1.yaml" <<-EOF
		apiVersion: postgres-operator.crunchydata.com/v1beta1
		kind: PostgresCluster
		metadata:
		  name: $1
		  namespace: $NS
		spec:
		  image: $IMAGE
		  postgresVersion: 17
		  instances:
		    - name: instance1
		      dataVolumeClaimSpec:
		        accessModes: [ReadWriteOnce]
		        resources: {requests: {storage: ${DATA_GI}Gi}}
		  backups:
		    pgbackrest:
		      image: $IMAGE
		      manual:
		        repoName: repo1
		        options: [--type=full, --start-fast]
		      repos:
		      - name: repo1
		        volume:
		          volumeClaimSpec:
		            accessModes: [ReadWriteOnce]
		            resources: {requests: {storage: ${DATA_GI}Gi}}
		${2:-}
	EOF
	kubectl apply --server-side -f "$WORK/$1.yaml" >/dev/null
}
primary() { pods_with_role "$1" master; }
# sql CLUSTER ARGS...: psql as postgres on CLUSTER's primary.
sql() {
	local p
	p=$(primary "$1")
	[ -n "$p" ] || return 1
	kubectl -n "$NS" exec "$p" -c database -- psql -d postgres -XAtq -v ON_ERROR_STOP=1 "${@:2}"
}
backrest() { kn get postgrescluster "$SRC" -o jsonpath="{.status.pgbackrest$1}" 2>/dev/null; }
src_ready() {
	instances_ready "$SRC" 1 >/dev/null && [ "$(backrest '.repos[0].replicaCreateBackupComplete')" = true ]
}
# archived_past SEGMENT: the cluster's archiver has archived SEGMENT or a later one.
archived_past() {
	local last
	last=$(sql "$SRC" -c 'SELECT last_archived_wal FROM pg_stat_archiver') || return 1
	[[ "$last" > "$1" || "$last" == "$1" ]]
}
# settle: a checkpoint, and the WAL up to now archived.
settle() {
	local segment
	segment=$(sql "$SRC" -c CHECKPOINT -c 'SELECT pg_walfile_name(pg_switch_wal())') || return 1
	wait_for 900 archived_past "$segment"
}
manual_finished() { [ "$(backrest '.manualBackup.id') $(backrest '.manualBackup.finished')" = "$1 true" ]; }
# manual_backup ID KEY: wait for manual backup ID (already asked for), then its figures into $WORK/op.KEY.*.
manual_backup() {
	local t0=$1 id=$2 key=$3 job start end
	wait_for 3600 manual_finished "$id" || diagnose "manual backup $id did not finish"
	since "$t0" >"$WORK/op.$key.finished"
	[ "$(backrest '.manualBackup.succeeded')" = 1 ] || diagnose "manual backup $id failed"
	job=$(kn get jobs -l "$L/cluster=$SRC,$L/pgbackrest-backup=manual" \
		-o jsonpath="{range .items[*]}{.metadata.annotations.postgres-operator\.crunchydata\.com/pgbackrest-backup} {.status.startTime} {.status.completionTime}{\"\n\"}{end}" |
		awk -v id="$id" '$1 == id')
	read -r _ start end <<<"$job"
	[ -n "$end" ] && echo $(($(date -d "$end" +%s) - $(date -d "$start" +%s))) >"$WORK/op.$key.job"
}
pgbench_tps() { awk '/^tps = .*without initial connection time/ { printf "%.0f\n", $3 }'; }

say "(operator) cluster $SRC: one instance, volume repository repo1, ${DATA_GI}Gi volumes"
cluster "$SRC" || diagnose "applying $SRC failed"
wait_for 900 src_ready || diagnose "$SRC is not ready with its replica-create backup"
p=$(primary "$SRC")
STORAGE_CLASS=$(kn get pvc -l "$L/cluster=$SRC,$L/role=pgdata" -o jsonpath='{.items[*].spec.storageClassName}')
STORAGE_CLASS=${STORAGE_CLASS%% *}
# The settings of the operator's instance that bear on speed, for the bare instance.
for name in shared_buffers wal_buffers max_wal_size min_wal_size checkpoint_timeout checkpoint_completion_target \
	wal_level wal_log_hints wal_compression full_page_writes synchronous_commit fsync huge_pages jit \
	archive_timeout max_connections work_mem maintenance_work_mem effective_io_concurrency; do
	value=$(sql "$SRC" -c "SHOW $name") || diagnose "SHOW $name failed"
	printf "%s = '%s'\n" "$name" "$value"
done >"$WORK/settings.conf"

say "(operator) pgbench -i -s $SCALE"
t0=$(now)
kubectl -n "$NS" exec "$p" -c database -- pgbench -i -q -s "$SCALE" postgres >"$WORK/op.init.log" 2>&1 ||
	{ cat "$WORK/op.init.log" >&2; diagnose "pgbench -i failed"; }
since "$t0" >"$WORK/op.pgbench-init"
settle || diagnose "the WAL of pgbench -i is not archived"
sql "$SRC" -c 'SELECT sum(pg_database_size(oid)) FROM pg_database' >"$WORK/op.size" || diagnose "no size"

say "(operator) full backup"
t0=$(now)
kn annotate postgrescluster "$SRC" --overwrite "$L/pgbackrest-backup=full" >/dev/null || diagnose "annotating failed"
manual_backup "$t0" full full

say "(operator) pgbench -t, $TRANSACTIONS transactions"
kubectl -n "$NS" exec "$p" -c database -- pgbench -n -c "$CLIENTS" -j 2 -t $((TRANSACTIONS / CLIENTS)) postgres \
	>"$WORK/op.run.log" 2>&1 || { cat "$WORK/op.run.log" >&2; diagnose "pgbench failed"; }
pgbench_tps <"$WORK/op.run.log" >"$WORK/op.tps"
settle || diagnose "the WAL of pgbench is not archived"

say "(operator) incremental backup"
t0=$(now)
kn patch postgrescluster "$SRC" --type merge -p "{\"metadata\": {\"annotations\": {\"$L/pgbackrest-backup\": \"incr\"}},
	\"spec\": {\"backups\": {\"pgbackrest\": {\"manual\": {\"options\": [\"--type=incr\", \"--start-fast\"]}}}}}" \
	>/dev/null || diagnose "patching $SRC failed"
manual_backup "$t0" incr incr
kn exec "$SRC-repo-host-0" -c pgbackrest -- pgbackrest info --output=json >"$WORK/op.info.json" 2>&1 ||
	{ cat "$WORK/op.info.json" >&2; diagnose "pgbackrest info failed"; }

# --- operator: a clone, when the operator makes one ------------------------------------

# Whether the operator acts on spec.dataSource.postgresCluster: the field itself, or its clusterName below a field
# that descends.
clone_acted_on() {
	grep -qE '^ *\{"spec\.dataSource\.postgresCluster", fieldActedOn' src/api/fields.c ||
		{ grep -qE '^ *\{"spec\.dataSource\.postgresCluster", fieldDescend' src/api/fields.c &&
			grep -qE '^ *\{"spec\.dataSource\.postgresCluster\.clusterName", fieldActedOn' src/api/fields.c; }
}
clone_writable() {
	local p
	p=$(primary "$CLONE")
	[ -n "$p" ] && [ "$(kubectl -n "$NS" exec "$p" -c database -- psql -d postgres -XAtq -v ON_ERROR_STOP=1 \
		-c 'SELECT 1' -c 'SELECT pg_is_in_recovery()' 2>/dev/null | tr '\n' ' ')" = "1 f " ]
}
if clone_acted_on; then
	say "(operator) clone $CLONE of $SRC/repo1"
	t0=$(now)
	cluster "$CLONE" "  dataSource: {postgresCluster: {clusterName: $SRC, repoName: repo1}}" ||
		diagnose "applying $CLONE failed"
	wait_for 3600 clone_writable || diagnose "$CLONE does not become writable"
	since "$t0" >"$WORK/op.clone"
	start=$(kn get job "$CLONE-pgbackrest-restore" -o jsonpath='{.status.startTime}' 2>/dev/null)
	end=$(kn get job "$CLONE-pgbackrest-restore" -o jsonpath='{.status.completionTime}' 2>/dev/null)
	[ -n "$start" ] && [ -n "$end" ] &&
		echo $(($(date -d "$end" +%s) - $(date -d "$start" +%s))) >"$WORK/op.clone-job"
else
	say "(operator) no clone: src/api/fields.c does not act on spec.dataSource.postgresCluster"
	clone_note="not measured: spec.dataSource.postgresCluster is not acted on (src/api/fields.c)"
fi
say "deleting the operator's clusters"
delete_clusters

# --- bare pgBackRest ----------------------------------------------------------------------

# The commands the bare pod runs, one subcommand each; figures are timed in the pod and printed as "key seconds".
cat >"$WORK/bare.sh" <<-'EOF'
	#!/bin/bash
	set -euo pipefail
	export PGHOST=/tmp PGPORT=5432 PGUSER=postgres PGDATABASE=postgres
	backrest() { pgbackrest --config=/data/pgbackrest.conf --stanza=db "$@"; }
	now() { date +%s.%N; }
	since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
	case $1 in
	init)
		rm -rf /data/pg /data/repo /data/spool /data/log /data/restore
		mkdir -p /data/repo /data/spool /data/log
		initdb -D /data/pg -U postgres --auth=trust --data-checksums --encoding=UTF8 >/data/log/initdb.log
		cat >/data/pgbackrest.conf <<-CONF
			[global]
			repo1-path=/data/repo
			log-path=/data/log
			lock-path=/tmp/pgbackrest
			spool-path=/data/spool
			archive-async=y
			[db]
			pg1-path=/data/pg
			pg1-port=5432
			pg1-socket-path=/tmp
		CONF
		{
			echo "listen_addresses = ''"
			echo "unix_socket_directories = '/tmp'"
			echo "archive_mode = on"
			echo "archive_command = 'pgbackrest --config=/data/pgbackrest.conf --stanza=db archive-push \"%p\"'"
			cat /opt/bench/settings.conf
		} >>/data/pg/postgresql.conf
		pg_ctl -D /data/pg -l /data/log/postgres.log -w -t 300 start >/dev/null
		backrest stanza-create
		;;
	pgbench-init)
		t0=$(now)
		pgbench -i -q -s "$2" >/data/log/pgbench-init.log 2>&1
		echo "pgbench-init $(since "$t0")"
		;;
	settle)
		segment=$(psql -XAtq -c CHECKPOINT -c 'SELECT pg_walfile_name(pg_switch_wal())')
		for _ in $(seq 1800); do
			last=$(psql -XAtq -c 'SELECT last_archived_wal FROM pg_stat_archiver')
			[[ "$last" > "$segment" || "$last" == "$segment" ]] && exit 0
			sleep 0.5
		done
		exit 1
		;;
	size) psql -XAtq -c 'SELECT sum(pg_database_size(oid)) FROM pg_database' ;;
	backup)
		t0=$(now)
		backrest --type="$2" --start-fast backup
		echo "$2 $(since "$t0")"
		;;
	pgbench)
		pgbench -n -c "$2" -j 2 -t "$3" 2>&1
		;;
	info) backrest info --output=json ;;
	restore)
		mkdir -m 0700 /data/restore
		t0=$(now)
		backrest --pg1-path=/data/restore restore
		echo "restore $(since "$t0")"
		t1=$(now)
		pg_ctl -D /data/restore -l /data/log/restored.log -o "-p 5433 -c archive_command=/bin/true" -W start >/dev/null
		until [ "$(psql -p 5433 -XAtq -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ]; do
			[ "$SECONDS" -lt 3600 ] || { tail -20 /data/log/restored.log >&2; exit 1; }
			sleep 0.1
		done
		psql -p 5433 -XAtq -v ON_ERROR_STOP=1 -c 'CREATE TABLE written_after_restore (n int)'
		echo "recovery $(since "$t1")"
		echo "restore-total $(since "$t0")"
		grep restore_command /data/restore/postgresql.auto.conf >&2
		;;
	stop)
		pg_ctl -D /data/restore -m fast stop >/dev/null 2>&1 || true
		pg_ctl -D /data/pg -m fast stop >/dev/null
		;;
	esac
EOF

say "(bare) pod bare with a ${DATA_GI}Gi x 3 PVC of StorageClass ${STORAGE_CLASS:-default}"
kn create configmap bare --from-file=bare.sh="$WORK/bare.sh" --from-file=settings.conf="$WORK/settings.conf" \
	--dry-run=client -o yaml | kn apply -f - >/dev/null || diagnose "ConfigMap bare failed"
{
	cat <<-EOF
		apiVersion: v1
		kind: PersistentVolumeClaim
		metadata:
		  name: bare
		  namespace: $NS
		spec:
		  accessModes: [ReadWriteOnce]
		  ${STORAGE_CLASS:+storageClassName: $STORAGE_CLASS}
		  resources: {requests: {storage: $((DATA_GI * 3))Gi}}
		---
		apiVersion: v1
		kind: Pod
		metadata:
		  name: bare
		  namespace: $NS
		spec:
		  enableServiceLinks: false
		  automountServiceAccountToken: false
		  terminationGracePeriodSeconds: 1
		  securityContext: {runAsNonRoot: true, fsGroup: 26, seccompProfile: {type: RuntimeDefault}}
		  containers:
		    - name: bare
		      image: $IMAGE
		      imagePullPolicy: IfNotPresent
		      command: [sleep, infinity]
		$(container_security 6)
		      volumeMounts:
		        - {name: data, mountPath: /data}
		        - {name: tmp, mountPath: /tmp}
		        - {name: dshm, mountPath: /dev/shm}
		        - {name: bench, mountPath: /opt/bench, readOnly: true}
		  volumes:
		    - {name: data, persistentVolumeClaim: {claimName: bare}}
		    - {name: tmp, emptyDir: {}}
		    - {name: dshm, emptyDir: {medium: Memory}}
		    - {name: bench, configMap: {name: bare, defaultMode: 0755}}
	EOF
} | kn apply -f - >/dev/null || diagnose "the bare pod failed"
kn wait --for=condition=Ready pod/bare --timeout=300s >/dev/null || diagnose "the bare pod does not start"
bare() { kubectl -n "$NS" exec bare -- /opt/bench/bare.sh "$@"; }
# bare_figure KEY ARGS...: run a subcommand; its "KEY seconds" line goes to $WORK/bare.KEY.
bare_figure() {
	local key=$1 out
	shift
	out=$(bare "$@") || { printf '%s\n' "$out" >&2; diagnose "bare $* failed"; }
	awk -v k="$key" '$1 == k { print $2 }' <<<"$out" >"$WORK/bare.$key"
}

say "(bare) initdb, stanza-create, pgbench -i -s $SCALE"
bare init >&2 || diagnose "bare init failed"
bare_figure pgbench-init pgbench-init "$SCALE"
bare settle || diagnose "bare: the WAL of pgbench -i is not archived"
bare size >"$WORK/bare.size" || diagnose "bare size failed"
say "(bare) full backup"
bare_figure full backup full
say "(bare) pgbench -t, $TRANSACTIONS transactions"
bare pgbench "$CLIENTS" $((TRANSACTIONS / CLIENTS)) >"$WORK/bare.run.log" || diagnose "bare pgbench failed"
pgbench_tps <"$WORK/bare.run.log" >"$WORK/bare.tps"
bare settle || diagnose "bare: the WAL of pgbench is not archived"
say "(bare) incremental backup"
bare_figure incr backup incr
bare info >"$WORK/bare.info.json" || diagnose "bare info failed"
say "(bare) restore into an empty directory, then postgres until it takes a write"
out=$(bare restore) || { printf '%s\n' "$out" >&2; diagnose "bare restore failed"; }
for key in restore recovery restore-total; do
	awk -v k="$key" '$1 == k { print $2 }' <<<"$out" >"$WORK/bare.$key"
done
bare stop

# --- the table ------------------------------------------------------------------------------

# info_figures FILE SIDE: from pgbackrest info, per backup type (full, incr): pgBackRest's start-to-stop seconds
# and the repository size in bytes, into $WORK/SIDE.<type>.pgbackrest and .repo.
info_figures() {
	python3 - "$1" "$WORK/$2" <<-'EOF'
		import json, sys
		for stanza in json.load(open(sys.argv[1])):
		    for b in stanza["backup"]:
		        t = b["timestamp"]
		        with open("%s.%s.pgbackrest" % (sys.argv[2], b["type"]), "w") as f:
		            f.write("%d\n" % (t["stop"] - t["start"]))
		        with open("%s.%s.repo" % (sys.argv[2], b["type"]), "w") as f:
		            f.write("%d\n" % b["info"]["repository"]["delta"])
	EOF
}
# The operator's repository also holds the replica-create backup (a full one, of the empty cluster): the last
# backup of each type wins above, and the manual full backup comes after it.
info_figures "$WORK/op.info.json" op
info_figures "$WORK/bare.info.json" bare

val() { [ -s "$WORK/$1" ] && head -1 "$WORK/$1"; }
mib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }
# per SIZE SECONDS: MiB/s.
per() { [ -n "$1" ] && [ -n "$2" ] && awk -v b="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.1f", b / 1048576 / s }'; }
ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b }'; }
row() { printf '%-46s %10s %10s %7s  %s\n' "$1" "${2:--}" "${3:--}" "$(ratio "$2" "$3" || true)" "${4:-}"; }

op_size=$(val op.size) bare_size=$(val bare.size)
echo
echo "pgBackRest backup and restore: the operator beside bare pgBackRest, pgbench scale $SCALE,"
echo "$TRANSACTIONS transactions between the full and the incremental backup; image $IMAGE; operator built from"
echo "commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "? (a tree without git)")"
echo
printf '%-46s %10s %10s %7s  %s\n' figure operator bare ratio goal
row "database size (MiB)" "$(mib "$op_size")" "$(mib "$bare_size")"
row "pgbench -i (s)" "$(val op.pgbench-init)" "$(val bare.pgbench-init)"
row "full backup: annotate -> finished / command (s)" "$(val op.full.finished)" "$(val bare.full)"
row "full backup: Job / command (s)" "$(val op.full.job)" "$(val bare.full)"
row "full backup: pgBackRest start -> stop (s)" "$(val op.full.pgbackrest)" "$(val bare.full.pgbackrest)"
row "full backup: in the repository (MiB)" "$(mib "$(val op.full.repo)")" "$(mib "$(val bare.full.repo)")"
row "full backup throughput, annotate (MiB/s)" "$(per "$op_size" "$(val op.full.finished)")" \
	"$(per "$bare_size" "$(val bare.full)")" ">= 0.95"
row "full backup throughput, Job (MiB/s)" "$(per "$op_size" "$(val op.full.job)")" \
	"$(per "$bare_size" "$(val bare.full)")" ">= 0.95"
row "pgbench -t: tps" "$(val op.tps)" "$(val bare.tps)"
row "incr backup: annotate -> finished / command (s)" "$(val op.incr.finished)" "$(val bare.incr)"
row "incr backup: Job / command (s)" "$(val op.incr.job)" "$(val bare.incr)"
row "incr backup: pgBackRest start -> stop (s)" "$(val op.incr.pgbackrest)" "$(val bare.incr.pgbackrest)"
row "incr backup: in the repository (MiB)" "$(mib "$(val op.incr.repo)")" "$(mib "$(val bare.incr.repo)")"
row "restore: Job / pgbackrest restore (s)" "$(val op.clone-job)" "$(val bare.restore)"
row "bare: postgres start -> writable (s)" "" "$(val bare.recovery)"
row "clone apply -> writable / restore + recovery (s)" "$(val op.clone)" "$(val bare.restore-total)" "<= 1.2"
[ -n "${clone_note:-}" ] && echo "clone: $clone_note"
echo "Job durations are whole seconds (the Job's startTime and completionTime); bare figures are timed in the pod,"
echo "the operator's from this host by polling (every 0.5 s plus a kubectl call)."
