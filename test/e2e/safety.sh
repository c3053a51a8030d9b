#!/usr/bin/env bash
# What the operator must never do with a user's data, on the local cluster
# with the operator image (namespace postgres-operator, the seed's install):
#
#  - the primary is never pruned: a two-instance cluster "orca" without
#    backups, a row written, then one apply that sets replicas: 1 and adds
#    spec.backups (a scale-down and a pod-template change in the same
#    change); then, SAFETY_RUNS - 1 more times (default 9), back to two
#    instances and again replicas: 1 together with another template change
#    (a resources request), spec.backups kept (removing it would pause the
#    cluster until authorizeBackupRemoval, which backups.sh tests). After
#    each: one instance, Ready and Patroni's leader, on the StatefulSet and
#    volume of the instance that was the leader before; every row written so
#    far is there; the system identifier never changes;
#  - data from elsewhere is never initialised empty: "standby" (spec.standby
#    enabled with an empty host and no repository; test/e2e/standby.sh makes
#    real ones) and "clone" (spec.dataSource.postgresCluster of a cluster
#    that does not exist; test/e2e/restore.sh clones real ones) get condition
#    Progressing=False (reason InvalidStandbyConfiguration, as PGO's Event,
#    for standby; WaitingForDataSource for clone), a Warning Event that
#    kubectl describe shows (InvalidStandbyConfiguration; PGO's
#    InvalidDataSource for clone), and no StatefulSet, volume or pod, still
#    none 20 s later;
#  - nothing is ignored silently: orca with spec.monitoring and
#    spec.databaseInitSQL gets condition SpecApplied=False naming
#    both, and the Warning Event FieldsNotActedOn; removing them removes the
#    condition;
#  - status is written on every pass: orca with a user whose options
#    Postgres refuses (CONNECTION LIMIT -5) fails in its users stage, yet its
#    status says 1 of 1 instance ready and Reconciled=False (UsersFailed)
#    says why; with the options fixed, the condition goes.
#
# Environment: SAFETY_RUNS (default 10), SAFETY_KEEP=1 leaves everything.
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
RUNS=${SAFETY_RUNS:-10}
work=$(mktemp -d)

cleanup() {
	if [ "${SAFETY_KEEP:-0}" != 1 ]; then
		kn delete postgrescluster orca standby clone --ignore-not-found --wait=true --timeout=180s >/dev/null 2>&1
		uninstall_operator
	fi
	rm -rf "$work"
}
trap cleanup EXIT

diagnose() {
	echo "--- kubectl -n $NS get postgrescluster,sts,pods,pvc,jobs"
	kn get postgresclusters,statefulsets,pods,persistentvolumeclaims,jobs -o wide -L "$L/role" 2>&1 | head -40
	echo "--- orca: leader $(leader_of orca); .status"
	kn get postgrescluster orca -o jsonpath='{.status}' 2>&1 | head -c 2500
	echo
	diagnose_operator 40
	local p
	for p in $(instance_pods orca); do
		diagnose_unready "$p"
	done
}

# leader_of CLUSTER: the Pod Patroni records as leader.
leader_of() { kn get endpoints "$1-ha" -o jsonpath='{.metadata.annotations.leader}' 2>/dev/null; }
# pgx POD ARGS...: psql as postgres in POD's database container.
pgx() { timeout 60 kubectl -n "$NS" exec "$1" -c database -- psql -d postgres -XAtq -v ON_ERROR_STOP=1 "${@:2}"; }
# condition CLUSTER TYPE FIELD: a field of the cluster's condition of TYPE.
condition() {
	kn get postgrescluster "$1" -o jsonpath="{.status.conditions[?(@.type==\"$2\")].$3}" 2>/dev/null
}

# orca REPLICAS CPU [EXTRA]: apply orca with REPLICAS instances whose database containers request CPU; KEPT (spec
# fields every later apply keeps) and EXTRA are spliced into the spec (2 spaces in).
orca() {
	cat >"$work/orca.yaml" <<-EOF
		apiVersion: postgres-operator.crunchydata.com/v1beta1
		kind: PostgresCluster
		metadata:
		  name: orca
		  namespace: $NS
		spec:
		  image: $IMAGE
		  postgresVersion: 17
		  instances:
		    - name: instance1
		      replicas: $1
		      resources: {requests: {cpu: $2}}
		      dataVolumeClaimSpec:
		        accessModes: [ReadWriteOnce]
		        resources: {requests: {storage: 1Gi}}
		${KEPT:-}
		${3:-}
	EOF
	kubectl apply --server-side -f "$work/orca.yaml"
}
BACKUPS="  backups:
    pgbackrest:
      image: $IMAGE
      repos:
      - name: repo1
        volume:
          volumeClaimSpec:
            accessModes: [ReadWriteOnce]
            resources: {requests: {storage: 1Gi}}"

# described CLUSTER REASON: kubectl describe shows a Warning Event REASON.
described() { kn describe postgrescluster "$1" | grep -E "Warning +$2"; }
# updated CLUSTER: every instance pod runs its StatefulSet's current template (the rolling update is over).
updated() {
	local p want have
	for p in $(instance_pods "$1"); do
		want=$(kn get statefulset "${p%-0}" -o jsonpath='{.status.updateRevision}' 2>/dev/null)
		have=$(kn get pod "$p" -o jsonpath='{.metadata.labels.controller-revision-hash}' 2>/dev/null)
		[ -n "$want" ] && [ "$want" = "$have" ] || {
			echo "$p runs revision '$have', its StatefulSet wants '$want'"
			return 1
		}
	done
}
# settled CLUSTER N: N instances Ready and up to date, Patroni's leader one of them and labelled master, N-1
# replicas.
settled() {
	local leader
	instances_ready "$1" "$2" && updated "$1" || return 1
	leader=$(leader_of "$1")
	[ -n "$leader" ] && [ "$(role_of "$leader")" = master ] || {
		echo "leader '$leader' is not a master pod"
		return 1
	}
}
# streaming CLUSTER: every replica streams from the leader.
streaming() {
	local n
	n=$(pgx "$(leader_of "$1")" -c "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") || return 1
	[ "$n" = "$(($(wc -w <<<"$(instance_pods "$1")") - 1))" ] || {
		echo "streaming replicas: $n"
		return 1
	}
}
two_streaming() { settled orca 2 && streaming orca; }
# rows_are POD N: table safety holds rows 1..N on POD.
rows_are() {
	local got
	got=$(pgx "$1" -c "SELECT count(*) || ':' || coalesce(max(n), 0) FROM safety") || return 1
	[ "$got" = "$2:$2" ] || {
		echo "rows on $1: $got, expected $2:$2"
		return 1
	}
}

# --- preconditions and install ---------------------------------------------------

require_cluster
check "the operator image and $IMAGE are in the cluster's containerd" 0 images_present
kn delete postgrescluster orca standby clone --ignore-not-found --wait=true --timeout=180s >/dev/null 2>&1
uninstall_operator
install_operator || bail "the operator is not running"

# --- the primary is never pruned --------------------------------------------------

check "orca with two instances applied" 0 orca 2 10m
check "orca: two instances Ready, one the leader" 600 settled orca 2
check "orca: the replica streams" 300 streaming orca
leader=$(leader_of orca)
sysid=$(pgx "$leader" -c "SELECT system_identifier FROM pg_control_system()")
check "orca: a row written on the leader" 0 pgx "$leader" -c "CREATE TABLE safety (n int PRIMARY KEY); INSERT INTO safety VALUES (1)"
rows=1 lost=0 wrong=0
for run in $(seq 1 "$RUNS"); do
	leader=$(leader_of orca)
	leader_sts=${leader%-0}
	volume=$(kn get pvc -l "$L/instance=$leader_sts,$L/role=pgdata" -o jsonpath='{.items[0].metadata.uid}')
	start=$(now)
	if [ "$run" = 1 ]; then
		what="replicas: 1 and spec.backups added"
		orca 1 10m "$BACKUPS" >/dev/null
		KEPT=$BACKUPS # from now on: removing spec.backups would pause the cluster (backups.sh tests that)
	else
		what="replicas: 1 and a new resources request"
		orca 1 "$((10 + run))m" >/dev/null
	fi
	if ! check "run $run: $what: one instance Ready and the leader" 600 settled orca 1; then
		wrong=$((wrong + 1))
		break
	fi
	pod=$(leader_of orca)
	comment "run $run: settled in $(elapsed "$start") s"
	check "run $run: the leader is the former leader's instance, on its volume" 0 \
		test "${pod%-0}:$(kn get pvc -l "$L/instance=${pod%-0},$L/role=pgdata" -o jsonpath='{.items[0].metadata.uid}')" \
		= "$leader_sts:$volume" || wrong=$((wrong + 1))
	check "run $run: all $rows rows there" 120 rows_are "$pod" "$rows" || lost=$((lost + 1))
	check "run $run: the same system identifier" 0 \
		test "$(pgx "$pod" -c "SELECT system_identifier FROM pg_control_system()")" = "$sysid" || wrong=$((wrong + 1))
	rows=$((rows + 1))
	check "run $run: row $rows written" 60 pgx "$pod" -c "INSERT INTO safety VALUES ($rows)"
	if [ "$run" -lt "$RUNS" ]; then
		orca 2 "$((10 + run))m" >/dev/null
		check "run $run: back to two instances, streaming" 600 two_streaming
	fi
done
comment "scale-down with a template change: $RUNS runs, $lost with rows lost, $wrong with another instance or system"

# --- status on every pass -----------------------------------------------------------

status_says_ready_and_failed() {
	local ready reason
	ready=$(kn get postgrescluster orca -o jsonpath='{.status.instances[0].readyReplicas}')
	reason=$(condition orca Reconciled reason)
	[ "$ready" = 1 ] && [ "$reason" = UsersFailed ] || {
		echo "readyReplicas '$ready', Reconciled reason '$reason'"
		return 1
	}
}
no_condition() {
	! kn get postgrescluster "$1" -o jsonpath='{.status.conditions[*].type}' | grep -qw "$2"
}
check "orca with a user whose options Postgres refuses applied" 0 orca 1 "$((10 + RUNS))m" \
	"  users: [{name: orca, options: 'CONNECTION LIMIT -5'}]"
check "orca: users fail, yet the status says 1 instance ready, and Reconciled=False says why" 300 \
	status_says_ready_and_failed
comment "Reconciled: $(condition orca Reconciled message)"
orca 1 "$((10 + RUNS))m" "  users: [{name: orca, options: 'CONNECTION LIMIT 5'}]" >/dev/null
check "orca with the options fixed: Reconciled goes" 300 no_condition orca Reconciled

# --- nothing ignored silently -------------------------------------------------------

check "orca with spec.monitoring and spec.databaseInitSQL applied" 0 orca 1 "$((10 + RUNS))m" \
	"  databaseInitSQL: {name: orca-init, key: init.sql}
  monitoring: {pgmonitor: {exporter: {}}}"
fields_reported() {
	local message
	message=$(condition orca SpecApplied message)
	[ "$(condition orca SpecApplied status)" = False ] && [[ $message == *spec.monitoring* ]] &&
		[[ $message == *spec.databaseInitSQL* ]] || {
		echo "SpecApplied: '$message'"
		return 1
	}
}
check "orca: SpecApplied=False names spec.monitoring and spec.databaseInitSQL" 120 fields_reported
check "orca: kubectl describe shows the Warning FieldsNotActedOn" 60 described orca FieldsNotActedOn
orca 1 "$((10 + RUNS))m" >/dev/null
check "orca without them: SpecApplied goes" 120 no_condition orca SpecApplied

# --- data from elsewhere never initialised empty ---------------------------------

elsewhere() {
	cat <<-EOF | kubectl apply --server-side -f -
		apiVersion: postgres-operator.crunchydata.com/v1beta1
		kind: PostgresCluster
		metadata:
		  name: $1
		  namespace: $NS
		spec:
		  image: $IMAGE
		  postgresVersion: 17
		  instances:
		    - dataVolumeClaimSpec:
		        accessModes: [ReadWriteOnce]
		        resources: {requests: {storage: 1Gi}}
		$2
	EOF
}
# waiting CLUSTER REASON: Progressing=False says REASON, and CLUSTER has no StatefulSet, volume or pod.
waiting() {
	local reason objects
	reason=$(condition "$1" Progressing reason)
	objects=$(kn get statefulsets,pods,persistentvolumeclaims -l "$L/cluster=$1" -o name 2>&1)
	[ "$reason" = "$2" ] && [ -z "$objects" ] || {
		echo "Progressing reason '$reason'; objects: $objects"
		return 1
	}
}
check "standby (spec.standby with an empty host, no repoName: the CRD lets it pass) applied" 0 elsewhere standby \
	"  standby: {enabled: true, host: \"\"}"
check "clone (spec.dataSource.postgresCluster) applied" 0 elsewhere clone \
	"  dataSource: {postgresCluster: {clusterName: nosuch, repoName: repo1}}"
for c in standby:InvalidStandbyConfiguration:InvalidStandbyConfiguration \
	clone:WaitingForDataSource:InvalidDataSource; do
	IFS=: read -r name reason event <<<"$c"
	check "$name: Progressing=False $reason, and no StatefulSet, volume or pod" 120 waiting "$name" "$reason"
	check "$name: kubectl describe shows the Warning $event" 60 described "$name" "$event"
done
comment "standby: $(condition standby Progressing message)"
sleep 20
for c in standby:InvalidStandbyConfiguration clone:WaitingForDataSource; do
	check "${c%:*}: still no StatefulSet, volume or pod 20 s later" 0 waiting "${c%:*}" "${c#*:}"
done

tap_done
