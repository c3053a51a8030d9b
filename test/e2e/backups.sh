#!/usr/bin/env bash
# Backups on the local cluster with the operator image (namespace
# postgres-operator, the seed's install), as a PGO user takes them: cluster
# "ibis" with two volume repositories, repo1 on a schedule and repo2 for
# manual backups.
#
#  - schedules: a differential backup of repo1 every minute is CronJob
#    ibis-repo1-diff, labelled as PGO labels it (pgbackrest-cronjob=diff,
#    pgbackrest-backup=scheduled, pgbackrest-repo=repo1), concurrencyPolicy
#    Forbid, made only once the stanza and the replica-create backup exist;
#    it fires, its Job succeeds, and status.pgbackrest.scheduledBackups
#    records it (cronJobName, repo, type, succeeded);
#  - manual backups: spec.backups.pgbackrest.manual {repoName: repo2,
#    options: [--type=full]} and the annotation pgbackrest-backup=<id> run
#    one full backup to repo2; status.pgbackrest.manualBackup says finished
#    and succeeded, condition PGBackRestManualBackupSuccessful is True; the
#    same id again runs nothing, a new id runs one more;
#  - `pgbackrest info` in the repository host (kubectl exec, as PGO's users
#    run it) lists the backups of both repositories, the manual ones as
#    full, the scheduled ones as diff, and the rows written before the
#    backups are in the database;
#  - removing the schedule removes the CronJob; the repositories keep their
#    backups;
#  - removing spec.backups changes nothing until the cluster is annotated
#    authorizeBackupRemoval: "true", as in PGO: condition Progressing=False
#    reason Paused and a Warning Event; the repository host, its volumes and
#    the instance's archiving stay; with the annotation they go, the
#    instance archives nothing (archive_command 'true') and keeps its data,
#    and status.pgbackrest is {} (PGO's shape for a cluster without backups).
#
# Environment: BACKUPS_KEEP=1 leaves everything.
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
work=$(mktemp -d)

cleanup() {
	if [ "${BACKUPS_KEEP:-0}" != 1 ]; then
		kn delete postgrescluster ibis --ignore-not-found --wait=true --timeout=180s >/dev/null 2>&1
		uninstall_operator
	fi
	rm -rf "$work"
}
trap cleanup EXIT

diagnose() {
	echo "--- kubectl -n $NS get postgrescluster,sts,pods,pvc,jobs,cronjobs"
	kn get postgresclusters,statefulsets,pods,persistentvolumeclaims,jobs,cronjobs -o wide 2>&1 | head -40
	echo "--- ibis .status.pgbackrest"
	kn get postgrescluster ibis -o jsonpath='{.status.pgbackrest}' 2>&1 | head -c 2500
	echo
	diagnose_operator 30
}

# pgx ARGS...: psql as postgres in ibis's primary.
pgx() {
	local pod
	pod=$(pods_with_role ibis master)
	timeout 60 kubectl -n "$NS" exec "$pod" -c database -- psql -d postgres -XAtq -v ON_ERROR_STOP=1 "$@"
}
# backrest PATH: a field of ibis's status.pgbackrest (a jsonpath below it).
backrest() { kn get postgrescluster ibis -o jsonpath="{.status.pgbackrest$1}" 2>/dev/null; }
condition() {
	kn get postgrescluster ibis -o jsonpath="{.status.conditions[?(@.type==\"$1\")].$2}" 2>/dev/null
}

# ibis SCHEDULES: apply ibis; SCHEDULES is repo1's schedules block (a YAML flow mapping), "" for none; "none"
# applies ibis without spec.backups.
ibis() {
	cat >"$work/ibis.yaml" <<-EOF
		apiVersion: postgres-operator.crunchydata.com/v1beta1
		kind: PostgresCluster
		metadata:
		  name: ibis
		  namespace: $NS
		spec:
		  image: $IMAGE
		  postgresVersion: 17
		  instances:
		    - name: instance1
		      dataVolumeClaimSpec:
		        accessModes: [ReadWriteOnce]
		        resources: {requests: {storage: 1Gi}}
		  backups:
		    pgbackrest:
		      image: $IMAGE
		      manual:
		        repoName: repo2
		        options: [--type=full]
		      repos:
		      - name: repo1
		        schedules: $1
		        volume:
		          volumeClaimSpec:
		            accessModes: [ReadWriteOnce]
		            resources: {requests: {storage: 1Gi}}
		      - name: repo2
		        volume:
		          volumeClaimSpec:
		            accessModes: [ReadWriteOnce]
		            resources: {requests: {storage: 1Gi}}
	EOF
	[ -n "$1" ] || sed -i '/^ *schedules: *$/d' "$work/ibis.yaml"
	[ "$1" != none ] || sed -i '/^  backups:/,$d' "$work/ibis.yaml"
	kubectl apply --server-side -f "$work/ibis.yaml"
}

ready() {
	instances_ready ibis 1 || return 1
	[ "$(backrest '.repos[0].replicaCreateBackupComplete')" = true ] &&
		[ "$(backrest '.repos[1].stanzaCreated')" = true ] || {
		echo "status.pgbackrest: $(backrest '')"
		return 1
	}
}

cronjob_made() {
	local got
	got=$(kn get cronjob ibis-repo1-diff -o go-template='{{index .metadata.labels "postgres-operator.crunchydata.com/pgbackrest-cronjob"}} {{index .metadata.labels "postgres-operator.crunchydata.com/pgbackrest-backup"}} {{index .metadata.labels "postgres-operator.crunchydata.com/pgbackrest-repo"}} {{.spec.concurrencyPolicy}} {{.spec.schedule}}') || return 1
	echo "$got"
	[ "$got" = "diff scheduled repo1 Forbid * * * * *" ]
}

# scheduled_succeeded: a Job of the schedule succeeded, and status.pgbackrest.scheduledBackups records one.
scheduled_succeeded() {
	local jobs status
	jobs=$(kn get jobs -l "$L/cluster=ibis,$L/pgbackrest-cronjob=diff" \
		-o jsonpath='{range .items[*]}{.metadata.name} {.status.succeeded}{"\n"}{end}' 2>/dev/null)
	grep -q ' 1$' <<<"$jobs" || {
		echo "scheduled Jobs: ${jobs:-none}"
		return 1
	}
	status=$(backrest '.scheduledBackups[?(@.succeeded==1)].cronJobName')
	[[ $status == ibis-repo1-diff* ]] || {
		echo "status.pgbackrest.scheduledBackups: $(backrest '.scheduledBackups')"
		return 1
	}
	[ "$(backrest '.scheduledBackups[0].type')" = diff ] && [ "$(backrest '.scheduledBackups[0].repo')" = repo1 ]
}

# manual_done ID: status.pgbackrest.manualBackup says ID finished and succeeded, the condition says so too.
manual_done() {
	local got
	got="$(backrest '.manualBackup.id') $(backrest '.manualBackup.finished') $(backrest '.manualBackup.succeeded')"
	echo "manualBackup: $got; PGBackRestManualBackupSuccessful=$(condition PGBackRestManualBackupSuccessful status)"
	[ "$got" = "$1 true 1" ] && [ "$(condition PGBackRestManualBackupSuccessful status)" = True ]
}
manual_jobs() { kn get jobs -l "$L/cluster=ibis,$L/pgbackrest-backup=manual" -o name 2>/dev/null | wc -l; }

# info_has REPO TYPE N: `pgbackrest info` in the repository host lists at least N backups of TYPE in REPO.
info_has() {
	local n
	kn exec ibis-repo-host-0 -c pgbackrest -- pgbackrest info --output=json >"$work/info.json" 2>&1 || {
		cat "$work/info.json"
		return 1
	}
	n=$(python3 -c '
import json, sys
repo, kind = int(sys.argv[2][4:]), sys.argv[3]
info = json.load(open(sys.argv[1]))
print(sum(1 for s in info for b in s["backup"] if b["database"]["repo-key"] == repo and b["type"] == kind))
' "$work/info.json" "$1" "$2") || return 1
	echo "$1: $n $2 backups"
	[ "$n" -ge "$3" ]
}

# --- preconditions and install ---------------------------------------------------

require_cluster
check "the operator image and $IMAGE are in the cluster's containerd" 0 images_present
kn delete postgrescluster ibis --ignore-not-found --wait=true --timeout=180s >/dev/null 2>&1
uninstall_operator
install_operator || bail "the operator is not running"

# --- schedules -----------------------------------------------------------------------

check "ibis with repo1 (a differential backup every minute) and repo2 applied" 0 ibis "{differential: '* * * * *'}"
start=$(now)
check "ibis: Ready, stanzas created, the replica-create backup done" 600 ready || bail "ibis is not ready"
comment "ibis ready with its first backup in $(elapsed "$start") s"
check "ibis: rows written" 0 pgx -c "CREATE TABLE birds AS SELECT n, md5(n::text) AS h FROM generate_series(1, 1000) n"
check "CronJob ibis-repo1-diff, labelled as PGO labels it, concurrencyPolicy Forbid" 60 cronjob_made
start=$(now)
check "the schedule fires, its Job succeeds, status.pgbackrest.scheduledBackups records it" 240 scheduled_succeeded
comment "first scheduled backup recorded $(elapsed "$start") s after the CronJob was seen"

# --- manual backups ------------------------------------------------------------------

check "kubectl annotate postgrescluster ibis $L/pgbackrest-backup=first" 0 \
	kn annotate postgrescluster ibis --overwrite "$L/pgbackrest-backup=first"
check "the manual backup to repo2 finishes: status.pgbackrest.manualBackup, PGBackRestManualBackupSuccessful" 300 \
	manual_done first
check "pgbackrest info lists repo2's full backup and repo1's scheduled differential one" 30 \
	eval 'info_has repo2 full 1 && info_has repo1 diff 1 && info_has repo1 full 1'
jobs_before=$(manual_jobs)
kn annotate postgrescluster ibis --overwrite "$L/pgbackrest-backup=first" >/dev/null
sleep 10
check "the same id again runs no other backup" 0 test "$(manual_jobs)" -le "$jobs_before"
check "a new id (second) runs one more" 0 kn annotate postgrescluster ibis --overwrite "$L/pgbackrest-backup=second"
check "the second manual backup finishes" 300 manual_done second
check "pgbackrest info lists two full backups in repo2" 30 info_has repo2 full 2
check "the rows are all there" 0 test "$(pgx -c 'SELECT count(*) FROM birds')" = 1000

# --- a schedule removed ----------------------------------------------------------------

check "repo1's schedule removed" 0 ibis ""
check "CronJob ibis-repo1-diff is deleted" 60 sh -c "! kubectl -n $NS get cronjob ibis-repo1-diff"
check "the repositories keep their backups" 30 eval 'info_has repo2 full 2 && info_has repo1 diff 1'

# --- backups removed ---------------------------------------------------------------

paused() {
	echo "Progressing: $(condition Progressing status) $(condition Progressing reason)"
	[ "$(condition Progressing status)" = False ] && [ "$(condition Progressing reason)" = Paused ] &&
		kn describe postgrescluster ibis | grep -qE 'Warning +Paused'
}
kept() {
	kn get statefulset ibis-repo-host >/dev/null && kn get pvc ibis-repo1 ibis-repo2 >/dev/null &&
		[ "$(pgx -c 'SHOW archive_command')" != true ]
}
removed() {
	local left
	left=$(kn get statefulsets,pvc,configmaps,secrets,serviceaccounts,jobs,cronjobs -l "$L/cluster=ibis,$L/pgbackrest" \
		-o name 2>&1)
	[ -z "$left" ] || {
		echo "left: $left"
		return 1
	}
	[ "$(pgx -c 'SHOW archive_command')" = true ] || {
		echo "archive_command: $(pgx -c 'SHOW archive_command')"
		return 1
	}
	[ "$(backrest '')" = "{}" ] || {
		echo "status.pgbackrest: $(backrest '')"
		return 1
	}
}
check "spec.backups removed" 0 ibis none
check "reconciliation pauses: Progressing=False reason Paused, a Warning Event" 60 paused
sleep 15
check "the repository host, its volumes and the instance's archiving stay" 0 kept
check "kubectl annotate postgrescluster ibis $L/authorizeBackupRemoval=true" 0 \
	kn annotate postgrescluster ibis --overwrite "$L/authorizeBackupRemoval=true"
check "pgBackRest's objects go, archive_command is 'true', status.pgbackrest is {} as in PGO" 300 removed
check "ibis is Ready with its rows" 300 eval 'instances_ready ibis 1 && test "$(pgx -c "SELECT count(*) FROM birds")" = 1000'
check "Progressing is no longer Paused" 60 test "$(condition Progressing reason)" != Paused

tap_done
