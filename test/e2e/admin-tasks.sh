#!/usr/bin/env bash
# Administrative tasks on the local cluster with the operator image
# (namespace postgres-operator, the seed's install), as a PGO user does them:
# cluster "kiwi" with two instances and a volume repository with a weekly
# full backup schedule.
#
#  - spec.shutdown: true (kubectl patch --type merge, as PGO's docs show it)
#    stops every instance, the replica first and the primary last (a pod
#    watcher records the order), and the repository host; the schedule's
#    CronJob is suspended; status.startupInstance names the primary's
#    instance and startupInstanceSet its set;
#  - spec.shutdown: false starts the cluster again with the same primary
#    (the startup instance alone first), the rows written before are there,
#    writes work, the replica follows, and status.startupInstance is gone;
#  - spec.paused: true applies no spec change (a label in spec.metadata
#    stays off the StatefulSets) and the only status written is PGO's
#    condition Progressing False, reason Paused, "No spec changes will be
#    applied and no other statuses will be updated."; paused: false applies
#    the change and the condition goes;
#  - a switchover on request (spec.patroni.switchover enabled and the
#    annotation trigger-switchover, as PGO's docs show them): the replica
#    becomes the primary, status.patroni.switchover records the trigger;
#    then a Failover to targetInstance, the former primary, brings it back;
#    no pod is recreated and the rows are intact;
#  - a Postgres parameter that needs a restart (shared_buffers, through
#    spec.patroni.dynamicConfiguration): Patroni marks the members
#    pending_restart, the instances are restarted one at a time, the
#    replica first, and both run with the new value, the rows intact.
#
# Environment: ADMIN_KEEP=1 leaves everything.
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
watcher=''

cleanup() {
	[ -z "$watcher" ] || kill "$watcher" 2>/dev/null
	if [ "${ADMIN_KEEP:-0}" != 1 ]; then
		kn delete postgrescluster kiwi --ignore-not-found --wait=true --timeout=180s >/dev/null 2>&1
		uninstall_operator
	fi
	rm -rf "$work"
}
trap cleanup EXIT

diagnose() {
	echo "--- kubectl -n $NS get postgrescluster,sts,pods,cronjobs"
	kn get postgresclusters,statefulsets,pods,cronjobs -o wide 2>&1 | head -30
	echo "--- kiwi .status"
	kn get postgrescluster kiwi -o jsonpath='{.status}' 2>&1 | head -c 2500
	echo
	diagnose_operator 30
}

# pgx ARGS...: psql as postgres in kiwi's primary.
pgx() {
	local pod
	pod=$(pods_with_role kiwi master)
	[ -n "$pod" ] || {
		echo "no primary"
		return 1
	}
	timeout 60 kubectl -n "$NS" exec "$pod" -c database -- psql -d postgres -XAtq -v ON_ERROR_STOP=1 "$@"
}
status_of() { kn get postgrescluster kiwi -o jsonpath="{.status$1}" 2>/dev/null; }
condition() {
	kn get postgrescluster kiwi -o jsonpath="{.status.conditions[?(@.type==\"$1\")].$2}" 2>/dev/null
}
# spec_patch JSON: the seed's way of changing one field.
spec_patch() { kubectl patch "postgrescluster/kiwi" -n "$NS" --type merge --patch "$1"; }

cat >"$work/kiwi.yaml" <<EOF
apiVersion: postgres-operator.crunchydata.com/v1beta1
kind: PostgresCluster
metadata:
  name: kiwi
  namespace: $NS
spec:
  image: $IMAGE
  postgresVersion: 17
  instances:
    - name: instance1
      replicas: 2
      dataVolumeClaimSpec:
        accessModes: [ReadWriteOnce]
        resources: {requests: {storage: 1Gi}}
  backups:
    pgbackrest:
      image: $IMAGE
      repos:
      - name: repo1
        schedules: {full: "0 1 * * 0"}
        volume:
          volumeClaimSpec:
            accessModes: [ReadWriteOnce]
            resources: {requests: {storage: 1Gi}}
EOF

ready() {
	instances_ready kiwi 2 || return 1
	[ "$(status_of '.pgbackrest.repos[0].replicaCreateBackupComplete')" = true ] || {
		echo "status.pgbackrest: $(status_of '.pgbackrest')"
		return 1
	}
}
replicas_of() { kn get statefulset "$1" -o jsonpath='{.spec.replicas}' 2>/dev/null; }

# stopped: no instance or repository host pod left (the stanza and backup Jobs' completed pods stay), every StatefulSet at 0, the CronJob suspended.
stopped() {
	local pods sets
	pods=$(kn get pods -l "$L/cluster=kiwi,$L/instance" -o name 2>&1)$(kn get pods -l "$L/cluster=kiwi,$L/pgbackrest-dedicated" -o name 2>&1)
	sets=$(kn get statefulsets -l "$L/cluster=kiwi" -o jsonpath='{range .items[*]}{.metadata.name}={.spec.replicas} {end}')
	echo "pods: ${pods:-none}; statefulsets: $sets; cronjob suspend: $(kn get cronjob kiwi-repo1-full -o jsonpath='{.spec.suspend}')"
	[ -z "$pods" ] && [ -n "$sets" ] && ! grep -q '=1' <<<"$sets" &&
		[ "$(kn get cronjob kiwi-repo1-full -o jsonpath='{.spec.suspend}')" = true ]
}

# watch_pods: every half second, "<seconds> <instance pods present>" into $work/pods.log, until killed.
watch_pods() {
	while :; do
		echo "$(date +%s.%N) $(kn get pods -l "$L/cluster=kiwi,$L/instance" \
			-o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}' 2>/dev/null | sort | tr '\n' ' ')"
		sleep 0.5
	done >"$work/pods.log"
}

# stopped_in_order PRIMARY_POD REPLICA_POD: in the watcher's log, the replica's pod is gone before the primary's
# is: once a line lacks the primary, no later line has the replica, and some line has the primary alone.
stopped_in_order() {
	awk -v p="$1" -v r="$2" '
		{ hasP = index($0, p " ") > 0; hasR = index($0, r " ") > 0 }
		hasP && !hasR { alone = 1 }
		!hasP && hasR { bad = 1 }
		END { exit !(alone && !bad) }' "$work/pods.log" || {
		tail -20 "$work/pods.log"
		return 1
	}
}

# --- preconditions and install ---------------------------------------------------

require_cluster
check "the operator image and $IMAGE are in the cluster's containerd" 0 images_present
kn delete postgrescluster kiwi --ignore-not-found --wait=true --timeout=180s >/dev/null 2>&1
uninstall_operator
install_operator || bail "the operator is not running"

check "kiwi with two instances and repo1 applied" 0 kubectl apply --server-side -f "$work/kiwi.yaml"
start=$(now)
check "kiwi: two instances Ready, the replica-create backup done" 600 ready || bail "kiwi is not ready"
comment "kiwi ready in $(elapsed "$start") s"
check "kiwi: rows written" 0 pgx -c "CREATE TABLE fruit AS SELECT n FROM generate_series(1, 500) n"
primary=$(pods_with_role kiwi master)
replica=$(pods_with_role kiwi replica)
primary_instance=$(instance_of "$primary")
comment "primary $primary, replica $replica"

# --- shutdown ------------------------------------------------------------------------

watch_pods &
watcher=$!
start=$(now)
check "kubectl patch postgrescluster/kiwi --type merge --patch '{\"spec\":{\"shutdown\": true}}'" 0 \
	spec_patch '{"spec":{"shutdown": true}}'
check "every instance and the repository host stop, the StatefulSets at 0, the CronJob suspended" 240 stopped
comment "stopped in $(elapsed "$start") s"
kill "$watcher" 2>/dev/null
wait "$watcher" 2>/dev/null
watcher=''
check "the replica stopped before the primary" 0 stopped_in_order "$primary" "$replica"
check "status.startupInstance is the primary's instance, startupInstanceSet its set" 30 \
	eval '[ "$(status_of .startupInstance)" = "$primary_instance" ] && [ "$(status_of .startupInstanceSet)" = instance1 ]'
sleep 10
check "nothing starts while shut down" 0 stopped

# --- start ---------------------------------------------------------------------------

start=$(now)
check "kubectl patch postgrescluster/kiwi --type merge --patch '{\"spec\":{\"shutdown\": false}}'" 0 \
	spec_patch '{"spec":{"shutdown": false}}'
check "the primary's instance starts and leads again" 240 \
	eval '[ "$(replicas_of "$primary_instance")" = 1 ] && [ "$(role_of "$primary")" = master ] ||
		{ echo "$primary: $(role_of "$primary"), replica set: $(replicas_of "${replica%-0}")"; false; }'
comment "primary back in $(elapsed "$start") s"
check "both instances Ready, the same primary" 300 eval 'instances_ready kiwi 2 && [ "$(pods_with_role kiwi master)" = "$primary" ]'
comment "started in $(elapsed "$start") s"
check "the rows are there and writes work" 60 \
	eval '[ "$(pgx -c "INSERT INTO fruit VALUES (501); SELECT count(*) FROM fruit")" = 501 ]'
check "the replica follows" 60 eval '[ "$(kn exec "$replica" -c database -- psql -XAtq -d postgres \
	-c "SELECT count(*) FROM fruit" 2>/dev/null)" = 501 ]'
check "status.startupInstance is gone" 60 test -z "$(status_of .startupInstance)"
check "the repository host runs and the CronJob is not suspended" 120 \
	eval '[ "$(kn get statefulset kiwi-repo-host -o jsonpath={.status.readyReplicas})" = 1 ] &&
		[ "$(kn get cronjob kiwi-repo1-full -o jsonpath={.spec.suspend})" = false ]'

# --- a switchover and a failover on request --------------------------------------

uids=$(kn get pods -l "$L/cluster=kiwi,$L/instance" -o jsonpath='{.items[*].metadata.uid}')
# switched TRIGGER POD: status.patroni.switchover is TRIGGER and POD is the one primary, the other a replica.
switched() {
	echo "switchover: $(status_of .patroni.switchover); primary: $(pods_with_role kiwi master)"
	[ "$(status_of .patroni.switchover)" = "$1" ] && [ "$(pods_with_role kiwi master)" = "$2" ] &&
		instances_ready kiwi 2
}
check "spec.patroni.switchover.enabled: true" 0 spec_patch '{"spec":{"patroni":{"switchover":{"enabled":true}}}}'
start=$(now)
check "kubectl annotate postgrescluster kiwi $L/trigger-switchover=first" 0 \
	kn annotate postgrescluster kiwi --overwrite "$L/trigger-switchover=first"
check "the replica becomes the primary, status.patroni.switchover is first" 120 switched first "$replica"
comment "switched over in $(elapsed "$start") s"
check "a Failover to targetInstance $primary_instance" 0 spec_patch \
	"{\"spec\":{\"patroni\":{\"switchover\":{\"type\":\"Failover\",\"targetInstance\":\"$primary_instance\"}}}}"
start=$(now)
check "kubectl annotate postgrescluster kiwi $L/trigger-switchover=second" 0 \
	kn annotate postgrescluster kiwi --overwrite "$L/trigger-switchover=second"
check "the former primary leads again, status.patroni.switchover is second" 120 switched second "$primary"
comment "failed over in $(elapsed "$start") s"
check "no pod was recreated, the rows are there" 0 eval '[ "$(kn get pods -l "$L/cluster=kiwi,$L/instance" \
	-o jsonpath="{.items[*].metadata.uid}")" = "$uids" ] && [ "$(pgx -c "SELECT count(*) FROM fruit")" = 501 ]'

# --- pause ---------------------------------------------------------------------------

paused() {
	echo "Progressing: $(condition Progressing status) $(condition Progressing reason): $(condition Progressing message)"
	[ "$(condition Progressing status)" = False ] && [ "$(condition Progressing reason)" = Paused ] &&
		[ "$(condition Progressing message)" = "No spec changes will be applied and no other statuses will be updated." ]
}
labelled() { [ "$(kn get statefulset "$primary_instance" -o jsonpath="{.metadata.labels.fruit}")" = kiwi ]; }
check "kubectl patch postgrescluster/kiwi --type merge --patch '{\"spec\":{\"paused\": true}}'" 0 \
	spec_patch '{"spec":{"paused": true}}'
check "Progressing False, reason Paused, PGO's message" 60 paused
generation=$(status_of .observedGeneration)
check "a change while paused: spec.metadata.labels fruit=kiwi" 0 spec_patch '{"spec":{"metadata":{"labels":{"fruit":"kiwi"}}}}'
sleep 15
check "the change is not applied, status.observedGeneration stays" 0 \
	eval '! labelled && [ "$(status_of .observedGeneration)" = "$generation" ]'
check "kubectl patch postgrescluster/kiwi --type merge --patch '{\"spec\":{\"paused\": false}}'" 0 \
	spec_patch '{"spec":{"paused": false}}'
check "the change is applied and Progressing is no longer Paused" 60 \
	eval 'labelled && [ "$(condition Progressing reason)" != Paused ]'
check "kiwi is Ready with its rows" 120 eval 'instances_ready kiwi 2 && [ "$(pgx -c "SELECT count(*) FROM fruit")" = 501 ]'

# --- a parameter that needs a restart ----------------------------------------------

# restarted VALUE: both instances Ready, each one's shared_buffers VALUE and no restart pending, the rows there.
restarted() {
	local pod value pending
	instances_ready kiwi 2 || return 1
	for pod in $(instance_pods kiwi); do
		value=$(kn exec "$pod" -c database -- psql -XAtq -d postgres -c 'SHOW shared_buffers' 2>&1)
		pending=$(kn get pod "$pod" -o jsonpath='{.metadata.annotations.status}' | grep -o '"pending_restart": *true')
		echo "$pod: shared_buffers $value ${pending:+(restart pending)}"
		[ "$value" = "$1" ] && [ -z "$pending" ] || return 1
	done
	[ "$(pgx -c 'SELECT count(*) FROM fruit')" = 501 ]
}
start=$(now)
check "shared_buffers 48MB in spec.patroni.dynamicConfiguration" 0 spec_patch \
	'{"spec":{"patroni":{"dynamicConfiguration":{"postgresql":{"parameters":{"shared_buffers":"48MB"}}}}}}'
check "the instances restart one by one and run with shared_buffers 48MB, the rows intact" 300 restarted 48MB
comment "restarted with the new value in $(elapsed "$start") s"
check "an Event says why each was restarted" 0 eval 'kn get events --field-selector reason=RollingUpdate \
	-o jsonpath="{.items[*].message}" | grep -q "parameter change that takes effect only on a restart"'

tap_done
