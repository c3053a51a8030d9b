#!/usr/bin/env bash
# Restores, as PGO v5 does them, on the local cluster with the operator image
# (namespace postgres-operator, the seed's install):
#
#  - "dolphin", two instances with a volume repository, gets rows in
#    batches, each batch's WAL archived before the next step; its
#    replica-create backup is the one every restore starts from;
#  - clones (spec.dataSource.postgresCluster): "dolphin-copy" of everything,
#    whose row count and checksum equal dolphin's, whose second instance
#    streams from the restored one, and "dolphin-then", to a
#    time between two batches (--type=time --target="..."), which has the
#    rows before and none after; each through Job <cluster>-pgbackrest-restore
#    with PGO's labels, then PostgresDataInitialized=True
#    (PGBackRestRestoreComplete), then writable. "dolphin-bad" asks for a
#    backup set that does not exist: its Job fails, the condition says
#    PGBackRestRestoreFailed, an Event says it, the Job's log has
#    pgBackRest's error, and no instance starts;
#  - in place (spec.backups.pgbackrest.restore + annotation
#    pgbackrest-restore): dolphin back to a time between two batches: the
#    condition PGBackRestoreProgressing on the way, status.pgbackrest.restore
#    finished and succeeded, the rows before there and the rows after gone,
#    two instances again with the replica streaming, writable; the same
#    annotation value does not run it again; a new replica-create backup is
#    taken of the restored timeline; a new annotation value restores again,
#    to a time on the restored timeline; a restore that fails leaves the
#    cluster stopped with PostgresDataInitialized=False, an Event and
#    pgBackRest's error in the Job's log, and the next annotation value
#    brings it back.
#
# Prints the restore Jobs' durations and the time from apply to a writable
# clone. Environment: RESTORE_KEEP=1 leaves everything.
# shellcheck source=../lib/tap.sh
source "$(dirname "$0")/../lib/tap.sh"
# shellcheck source=../lib/kube.sh
source "$(dirname "$0")/../lib/kube.sh"
# shellcheck source=../lib/e2e.sh
source "$(dirname "$0")/../lib/e2e.sh"
e2e_prepare

NS=postgres-operator
L=postgres-operator.crunchydata.com
IMAGE=$POSTGRES_17_IMAGE
CLUSTERS="dolphin dolphin-copy dolphin-then dolphin-bad"
work=$(mktemp -d)

cleanup() {
	if [ "${RESTORE_KEEP:-0}" != 1 ]; then
		# shellcheck disable=SC2086 # the names are words
		kn delete postgrescluster $CLUSTERS --ignore-not-found --wait=true --timeout=180s >/dev/null 2>&1
		uninstall_operator
	fi
	rm -rf "$work"
}
trap cleanup EXIT

diagnose() {
	echo "--- kubectl -n $NS get postgrescluster,sts,pods,pvc,jobs"
	kn get postgresclusters,statefulsets,pods,persistentvolumeclaims,jobs -o wide -L "$L/role" 2>&1 | head -50
	local c
	for c in $CLUSTERS; do
		echo "--- $c .status"
		kn get postgrescluster "$c" -o jsonpath='{.status}' 2>&1 | head -c 2000
		echo
	done
	echo "--- restore Jobs' logs (last 15 lines each)"
	for c in $CLUSTERS; do
		kn logs "job/$c-pgbackrest-restore" --tail=15 2>/dev/null
	done
	diagnose_operator 40
}

# leader_of CLUSTER: the Pod Patroni records as leader.
leader_of() { kn get endpoints "$1-ha" -o jsonpath='{.metadata.annotations.leader}' 2>/dev/null; }
# pgx POD ARGS...: psql as postgres in POD's database container.
pgx() { timeout 60 kubectl -n "$NS" exec "$1" -c database -- psql -d postgres -XAtq -v ON_ERROR_STOP=1 "${@:2}"; }
# sql CLUSTER ARGS...: psql on CLUSTER's leader.
sql() {
	local leader
	leader=$(leader_of "$1")
	[ -n "$leader" ] || {
		echo "$1 has no leader"
		return 1
	}
	pgx "$leader" "${@:2}"
}
# condition CLUSTER TYPE FIELD: a field of the cluster's condition of TYPE.
condition() {
	kn get postgrescluster "$1" -o jsonpath="{.status.conditions[?(@.type==\"$2\")].$3}" 2>/dev/null
}
condition_is() {
	local got
	got="$(condition "$1" "$2" status)/$(condition "$1" "$2" reason)"
	[ "$got" = "$3" ] || {
		echo "$1: $2 is '$got', expected '$3'"
		return 1
	}
}
# described CLUSTER REASON: kubectl describe shows a Warning Event REASON.
described() { kn describe postgrescluster "$1" | grep -E "Warning +$2"; }

# streaming CLUSTER N: N instances Ready, one leader, and every replica streams from it.
streaming() {
	local n
	instances_ready "$1" "$2" || return 1
	n=$(sql "$1" -c "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") || return 1
	[ "$n" = "$(($2 - 1))" ] || {
		echo "streaming replicas: $n"
		return 1
	}
}

# cluster NAME REPLICAS [EXTRA]: apply a cluster with a volume repository; EXTRA is spliced into the spec (2
# spaces in).
cluster() {
	cat >"$work/$1.yaml" <<-EOF
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
		      replicas: $2
		      dataVolumeClaimSpec:
		        accessModes: [ReadWriteOnce]
		        resources: {requests: {storage: 1Gi}}
		  backups:
		    pgbackrest:
		      image: $IMAGE
		      restore: {enabled: true, repoName: repo1}
		      repos:
		      - name: repo1
		        volume:
		          volumeClaimSpec:
		            accessModes: [ReadWriteOnce]
		            resources: {requests: {storage: 1Gi}}
		${3:-}
	EOF
	kubectl apply --server-side -f "$work/$1.yaml"
}

# batch FROM TO: rows FROM..TO into dolphin's table, committed one batch at a time.
batch() {
	sql dolphin -c "INSERT INTO restored (n, payload) SELECT n, md5(n::text) FROM generate_series($1, $2) n"
}
# archived: dolphin's current WAL segment switched and archived.
archived() {
	local segment
	segment=$(sql dolphin -c "SELECT pg_walfile_name(pg_switch_wal())") || return 1
	retry_until 120 archived_past "$segment" || {
		echo "segment $segment not archived"
		return 1
	}
}
archived_past() {
	local last
	last=$(sql dolphin -c 'SELECT last_archived_wal FROM pg_stat_archiver') || return 1
	[[ "$last" > "$1" || "$last" == "$1" ]]
}
# instant: the database's time now, as pgBackRest's --target takes it; a second of quiet on either side.
instant() {
	sleep 1.5
	sql dolphin -c "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'"
	sleep 1.5
}
# summary CLUSTER: "<count>:<max n>:<md5 of all rows in order>" of CLUSTER's table.
summary() {
	sql "$1" -c "SELECT count(*) || ':' || coalesce(max(n), 0) || ':' ||
		md5(coalesce(string_agg(n::text || payload, ',' ORDER BY n), '')) FROM restored"
}
summary_is() {
	local got
	got=$(summary "$1") || return 1
	[ "$got" = "$2" ] || {
		echo "$1: $got, expected $2"
		return 1
	}
}
# rows_are CLUSTER COUNT MAX: the table's row count and largest n.
rows_are() {
	local got
	got=$(sql "$1" -c "SELECT count(*) || ':' || coalesce(max(n), 0) FROM restored") || return 1
	[ "$got" = "$2:$3" ] || {
		echo "$1: rows $got, expected $2:$3"
		return 1
	}
}
writable() { sql "$1" -c "INSERT INTO restored (n, payload) VALUES (-1, 'written after the restore')"; }
# job_seconds CLUSTER: the restore Job's run time.
job_seconds() {
	local start end
	start=$(kn get job "$1-pgbackrest-restore" -o jsonpath='{.status.startTime}')
	end=$(kn get job "$1-pgbackrest-restore" -o jsonpath='{.status.completionTime}')
	echo $(($(date -d "$end" +%s) - $(date -d "$start" +%s)))
}
job_labelled() {
	local labels
	labels=$(kn get job "$1-pgbackrest-restore" -o jsonpath='{.metadata.labels}') || return 1
	for want in "\"$L/cluster\":\"$1\"" "\"$L/pgbackrest\":\"\"" "\"$L/pgbackrest-restore\":\"\"" \
		"\"$L/startup-instance\":\"$1-instance1-"; do
		grep -qF "$want" <<<"$labels" || {
			echo "labels $labels lack $want"
			return 1
		}
	done
	kn get job "$1-pgbackrest-restore" -o jsonpath="{.metadata.annotations.postgres-operator\.crunchydata\.com/pgbackrest-hash}" |
		grep -qE '^[0-9a-f]{8}$'
}

batches() {
	while [ $# -ge 2 ]; do
		batch "$1" "$2" || return 1
		shift 2
	done
}
# unwritten_summary_is, unwritten_rows_are: summary_is and rows_are without the row writable wrote.
unwritten_summary_is() { sql "$1" -c 'DELETE FROM restored WHERE n = -1' && summary_is "$@"; }
unwritten_rows_are() { sql "$1" -c 'DELETE FROM restored WHERE n = -1' && rows_are "$@"; }
job_log_error() { kn logs "job/$1-pgbackrest-restore" | grep -E 'ERROR: \[[0-9]+\]'; }
no_instance() { [ -z "$(kn get pods -l "$L/cluster=$1,$L/instance" -o name)" ]; }
progressing() { condition "$1" PGBackRestoreProgressing reason | grep -E 'RestoreInPlaceRequested|ReadyForRestore'; }
restore_status_is() {
	local got
	got=$(kn get postgrescluster "$1" -o jsonpath='{.status.pgbackrest.restore.id}/{.status.pgbackrest.restore.finished}/{.status.pgbackrest.restore.succeeded}')
	[ "$got" = "$2" ] || {
		echo "status.pgbackrest.restore id/finished/succeeded: $got"
		return 1
	}
}
restored_in_place() {
	condition_is "$1" PostgresDataInitialized True/PGBackRestRestoreComplete &&
		[ -z "$(condition "$1" PGBackRestoreProgressing status)" ]
}
system_is() { [ "$(sql "$1" -c 'SELECT system_identifier FROM pg_control_system()')" = "$2" ]; }
# replica_rows CLUSTER N: a replica of CLUSTER has N rows.
replica_rows() {
	local p
	for p in $(instance_pods "$1"); do
		[ "$(role_of "$p")" = replica ] && [ "$(pgx "$p" -c 'SELECT count(*) FROM restored')" = "$2" ] && return 0
	done
	return 1
}
# replica_backup_again CLUSTER OLD: a replica-create backup Job other than OLD completed, and the condition says so.
replica_backup_again() {
	local jobs
	jobs=$(kn get jobs -l "$L/pgbackrest-backup=replica-create,$L/cluster=$1" \
		-o jsonpath='{range .items[?(@.status.succeeded==1)]}{.metadata.name}{"\n"}{end}')
	if ! grep -vxF "$2" <<<"$jobs" | grep -q .; then
		echo "replica-create Jobs that succeeded: $jobs (before the restore: $2)"
		return 1
	fi
	condition_is "$1" PGBackRestReplicaCreate True/RepoBackupComplete
}
# restore_again CLUSTER TARGET ID: an in-place restore to TARGET asked for with annotation value ID.
restore_again() {
	kn patch postgrescluster "$1" --type merge -p \
		"{\"spec\":{\"backups\":{\"pgbackrest\":{\"restore\":{\"options\":[\"--type=time\",\"--target=\\\"$2\\\"\"]}}}}}" &&
		kn annotate --overwrite postgrescluster "$1" "$L/pgbackrest-restore=$3"
}
# users_reconciled CLUSTER: the users' SQL ran to its end on the restored data, nothing failed.
users_reconciled() {
	local revision reconciled
	revision=$(kn get postgrescluster "$1" -o jsonpath='{.status.usersRevision}')
	reconciled=$(condition "$1" Reconciled status)
	if [ -z "$revision" ] || [ -n "$reconciled" ]; then
		echo "usersRevision '$revision', Reconciled '$reconciled': $(condition "$1" Reconciled message)"
		return 1
	fi
}
# not_again CLUSTER JOB_UID ID: the restore Job is still JOB_UID and the status still ID.
not_again() {
	[ "$2" = "$(uid_of job "$1-pgbackrest-restore")" ] &&
		[ "$(kn get postgrescluster "$1" -o jsonpath='{.status.pgbackrest.restore.id}')" = "$3" ]
}

# --- preconditions and install ---------------------------------------------------

require_cluster
check "the operator image and $IMAGE are in the cluster's containerd" 0 images_present
# shellcheck disable=SC2086 # the names are words
kn delete postgrescluster $CLUSTERS --ignore-not-found --wait=true --timeout=180s >/dev/null 2>&1
uninstall_operator
install_operator || bail "the operator is not running"

# --- the source ------------------------------------------------------------------

check "dolphin (2 instances, volume repository) applied" 0 cluster dolphin 2
check "dolphin: two instances, the replica streaming" 300 streaming dolphin 2 || bail "dolphin does not run"
check "dolphin: its replica-create backup is done" 300 condition_is dolphin PGBackRestReplicaCreate True/RepoBackupComplete ||
	bail "dolphin has no backup"
check "dolphin: a table" 0 sql dolphin -c "CREATE TABLE restored (n int PRIMARY KEY, payload text)"
check "dolphin: rows 1-1000, then 1001-2000" 0 batches 1 1000 1001 2000
THEN=$(instant)
check "dolphin: rows 2001-3000 after $THEN" 0 batches 2001 3000 &&
	check "dolphin: WAL archived" 0 archived
SOURCE=$(summary dolphin)
comment "dolphin: $SOURCE"

# --- clones ----------------------------------------------------------------------

start=$(now)
check "dolphin-copy (clone of dolphin/repo1, 2 instances) applied" 0 cluster dolphin-copy 2 \
	"  dataSource: {postgresCluster: {clusterName: dolphin, repoName: repo1}}"
check "dolphin-then (clone to $THEN) applied" 0 cluster dolphin-then 1 \
	"  dataSource: {postgresCluster: {clusterName: dolphin, repoName: repo1, options: [--type=time, '--target=\"$THEN\"']}}"
check "dolphin-bad (clone of a backup set that does not exist) applied" 0 cluster dolphin-bad 1 \
	"  dataSource: {postgresCluster: {clusterName: dolphin, repoName: repo1, options: [--set=20200101-000000F]}}"
check "dolphin-copy: Job dolphin-copy-pgbackrest-restore with PGO's labels and hash" 120 job_labelled dolphin-copy
check "dolphin-copy: writable" 600 writable dolphin-copy
comment "dolphin-copy: from apply to writable in $(elapsed "$start") s"
check "dolphin-copy: PostgresDataInitialized=True PGBackRestRestoreComplete" 60 \
	condition_is dolphin-copy PostgresDataInitialized True/PGBackRestRestoreComplete
check "dolphin-copy: row count and checksum equal dolphin's" 0 unwritten_summary_is dolphin-copy "$SOURCE"
comment "dolphin-copy: restore Job $(job_seconds dolphin-copy) s"
check "dolphin-copy: two instances, the replica streaming" 300 streaming dolphin-copy 2
check "dolphin-copy: the operator logs in and runs the users' SQL (status.usersRevision, no Reconciled=False)" 120 \
	users_reconciled dolphin-copy
check "dolphin-then: writable" 600 writable dolphin-then
check "dolphin-then: rows 1-2000, none after $THEN" 0 unwritten_rows_are dolphin-then 2000 2000
comment "dolphin-then: restore Job $(job_seconds dolphin-then) s"
check "dolphin-bad: PostgresDataInitialized=False PGBackRestRestoreFailed" 300 \
	condition_is dolphin-bad PostgresDataInitialized False/PGBackRestRestoreFailed
check "dolphin-bad: kubectl describe shows the Warning PGBackRestRestoreFailed" 60 described dolphin-bad PGBackRestRestoreFailed
check "dolphin-bad: the Job's log has pgBackRest's error" 0 job_log_error dolphin-bad
comment "dolphin-bad: $(kn logs job/dolphin-bad-pgbackrest-restore 2>/dev/null | grep -E 'ERROR' | head -1)"
check "dolphin-bad: no instance runs" 0 no_instance dolphin-bad

# --- in place --------------------------------------------------------------------

check "dolphin: rows 3001-4000" 0 batches 3001 4000
BEFORE=$(instant)
check "dolphin: rows 4001-5000 after $BEFORE" 0 batches 4001 5000 &&
	check "dolphin: WAL archived" 0 archived
SYSTEM=$(sql dolphin -c "SELECT system_identifier FROM pg_control_system()")
REPLICA_JOB=$(kn get jobs -l "$L/pgbackrest-backup=replica-create,$L/cluster=dolphin" -o jsonpath='{.items[*].metadata.name}')
start=$(now)
check "dolphin: restore options --type=time --target=\"$BEFORE\"" 0 kn patch postgrescluster dolphin --type merge -p \
	"{\"spec\":{\"backups\":{\"pgbackrest\":{\"restore\":{\"options\":[\"--type=time\",\"--target=\\\"$BEFORE\\\"\"]}}}}}"
check "dolphin: annotated pgbackrest-restore=first" 0 kn annotate postgrescluster dolphin "$L/pgbackrest-restore=first"
check "dolphin: PGBackRestoreProgressing=True on the way" 120 progressing dolphin
check "dolphin: status.pgbackrest.restore finished, succeeded" 600 restore_status_is dolphin first/true/1
check "dolphin: writable again" 600 writable dolphin
comment "dolphin: from the annotation to writable in $(elapsed "$start") s; restore Job $(job_seconds dolphin) s"
check "dolphin: PostgresDataInitialized=True PGBackRestRestoreComplete; PGBackRestoreProgressing gone" 60 restored_in_place dolphin
check "dolphin: rows 1-4000 there, none after $BEFORE" 0 unwritten_rows_are dolphin 4000 4000
check "dolphin: the same system identifier" 0 system_is dolphin "$SYSTEM"
check "dolphin: two instances again, the replica streaming" 600 streaming dolphin 2
check "dolphin: the replica has the restored rows" 120 replica_rows dolphin 4000
check "dolphin: the operator logs in and runs the users' SQL again" 120 users_reconciled dolphin
job=$(uid_of job dolphin-pgbackrest-restore)
sleep 15
check "dolphin: the same annotation does not restore again" 0 not_again dolphin "$job" first
check "dolphin: still two instances streaming" 60 streaming dolphin 2
check "dolphin: a new replica-create backup, of the restored timeline" 300 replica_backup_again dolphin "$REPLICA_JOB"

# Again, with a new annotation value, to a time on the restored timeline (whose history file the restore left for
# the archiver).
check "dolphin: rows 5001-5100" 0 batches 5001 5100
AFTER=$(instant)
check "dolphin: rows 5101-5200 after $AFTER" 0 batches 5101 5200 &&
	check "dolphin: WAL archived" 0 archived
start=$(now)
check "dolphin: restore options --target=\"$AFTER\", annotated pgbackrest-restore=second" 0 restore_again dolphin "$AFTER" second
check "dolphin: status.pgbackrest.restore second, finished, succeeded" 600 restore_status_is dolphin second/true/1
check "dolphin: writable after the second restore" 600 writable dolphin
comment "dolphin: from the second annotation to writable in $(elapsed "$start") s; restore Job $(job_seconds dolphin) s"
check "dolphin: rows 1-4000 and 5001-5100, none after $AFTER" 0 unwritten_rows_are dolphin 4100 5100
check "dolphin: two instances again, the replica streaming" 600 streaming dolphin 2

# A restore that fails (a backup set that does not exist) leaves the cluster stopped and says so; a new annotation
# value with good options brings it back.
check "dolphin: restore options --set=20200101-000000F" 0 kn patch \
	postgrescluster dolphin --type merge -p '{"spec":{"backups":{"pgbackrest":{"restore":{"options":["--set=20200101-000000F"]}}}}}'
check "dolphin: annotated pgbackrest-restore=third" 0 kn annotate --overwrite postgrescluster dolphin "$L/pgbackrest-restore=third"
check "dolphin: status.pgbackrest.restore third, finished, not succeeded" 300 restore_status_is dolphin third/true/0
check "dolphin: PostgresDataInitialized=False PGBackRestRestoreFailed" 60 \
	condition_is dolphin PostgresDataInitialized False/PGBackRestRestoreFailed
check "dolphin: kubectl describe shows the Warning PGBackRestRestoreFailed" 60 described dolphin PGBackRestRestoreFailed
check "dolphin: the Job's log has pgBackRest's error" 0 job_log_error dolphin
check "dolphin: no instance runs" 0 no_instance dolphin
check "dolphin: restore options --target=\"$AFTER\", annotated pgbackrest-restore=fourth" 0 restore_again dolphin "$AFTER" fourth
check "dolphin: status.pgbackrest.restore fourth, finished, succeeded" 600 restore_status_is dolphin fourth/true/1
check "dolphin: writable after the fourth restore" 600 writable dolphin
check "dolphin: rows 1-4000 and 5001-5100 again" 0 unwritten_rows_are dolphin 4100 5100
check "dolphin: two instances again, the replica streaming" 600 streaming dolphin 2

# --- clean-up --------------------------------------------------------------------

# shellcheck disable=SC2086 # the names are words
kn delete postgrescluster $CLUSTERS --ignore-not-found --wait=false >/dev/null 2>&1
# shellcheck disable=SC2086 # the names are words
check "the clusters deleted, and everything they owned" 300 gone $CLUSTERS

tap_done
