#!/usr/bin/env bash
# Failover figures on the local cluster with the operator image. Prints
# figures, never passes or fails on them:
#
#  (a) time from `kubectl apply` of hippo (kustomize/postgres) to a writable
#      primary: the first INSERT that succeeds over verify-full with the
#      user Secret's uri, retried from a pod in the cluster; also when the
#      Secret appeared and when the primary pod became Ready;
#  (b) the write gap when the primary pod is deleted while a client writes
#      in a loop through hippo-primary (test/e2e/patroni/writer.sh: a new
#      connection per INSERT), after scaling to two instances; per run and
#      min / median / max, with failed attempts and acknowledged writes
#      missing afterwards;
#  (c) the operator's resident memory with the cluster running, read from
#      /proc of the operator's process (found through containerd) and from
#      its container's cgroup.
#
# hippo runs in its own namespace (bench-failover), so a demo's hippo in
# postgres-operator is left alone; the operator is installed with the
# seed's commands only if it is not installed yet, and removed again then.
#
#   bench/failover.sh [FAILOVER_RUNS [CREATE_RUNS]]     (defaults 3 and 1)
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

FAILOVER_RUNS=${1:-3}
CREATE_RUNS=${2:-1}
NS=bench-failover
L=postgres-operator.crunchydata.com
IMAGE=$POSTGRES_17_IMAGE
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pgo-failover.XXXXXX")
installed=0 writer_pid=''

say() { printf '%s\n' "$*" >&2; }
since() { awk -v a="$1" -v b="${2:-$(now)}" 'BEGIN { printf "%.1f", b - a }'; }
# stats: min / median / max of the numbers on stdin.
stats() {
	sort -n | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "no data"; exit }
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "min %.1f s, median %.1f s, max %.1f s over %d runs\n", v[1], m, v[NR], NR }'
}

delete_hippo() {
	kn delete postgrescluster hippo --ignore-not-found --wait=true --timeout=180s >/dev/null 2>&1
}
cleanup() {
	[ -n "$writer_pid" ] && kill "$writer_pid" 2>/dev/null
	delete_hippo
	kubectl delete namespace "$NS" --ignore-not-found --timeout=180s >/dev/null 2>&1
	if [ "$installed" = 1 ]; then
		kubectl delete -k kustomize/install/default --ignore-not-found --timeout=120s >/dev/null 2>&1
		kubectl delete -k kustomize/install/namespace --ignore-not-found --timeout=180s >/dev/null 2>&1
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

kubectl get --raw /readyz >/dev/null 2>&1 || die "the local cluster does not answer; run 'make cluster-up'"
ctr --address "$CONTAINERD_SOCK" -n k8s.io images ls -q 2>/dev/null | grep -xF "$OPERATOR_IMAGE" >/dev/null ||
	die "$OPERATOR_IMAGE is not in the cluster's containerd; run 'make operator-image'"

if ! kubectl -n postgres-operator get deployment pgo >/dev/null 2>&1; then
	say "installing the operator (the seed's commands); it is removed at the end"
	installed=1
	kubectl apply -k kustomize/install/namespace >/dev/null &&
		kubectl apply --server-side -k kustomize/install/default >/dev/null || die "installing the operator failed"
fi
# A CRD just created has no status yet, and kubectl wait then fails at once instead of waiting: try again.
for _ in $(seq 60); do
	kubectl wait --for=condition=Established "crd/postgresclusters.$L" --timeout=5s >/dev/null 2>&1 && break
	sleep 1
done
kubectl -n postgres-operator rollout status deployment/pgo --timeout=180s >/dev/null ||
	die "the operator does not roll out"

# probe_pod: a bare psql pod, made before hippo exists (nothing of hippo's
# mounted, so it starts at once); the Secret's uri and the CA are passed on
# each attempt.
probe_pod() {
	sleeper_pod probe psql <<-EOF | kn apply -f - >/dev/null || return 1
		      volumeMounts: [{name: tmp, mountPath: /tmp}]
		  volumes: [{name: tmp, emptyDir: {sizeLimit: 16Mi}}]
	EOF
	kn wait --for=condition=Ready pod/probe --timeout=120s >/dev/null
}
# try_insert: one INSERT over verify-full with the Secret's uri, from the
# probe pod; fails while anything is missing.
try_insert() {
	local uri ca
	uri=$(kn get secret hippo-pguser-hippo -o go-template='{{.data.uri | base64decode}}' 2>/dev/null) || return 1
	ca=$(kn get secret pgo-root-cacert -o go-template='{{index .data "root.crt" | base64decode}}' 2>/dev/null) ||
		return 1
	[ -n "$uri" ] && [ -n "$ca" ] || return 1
	printf '%s\n%s\n' "$uri" "$ca" | timeout 20 kubectl -n "$NS" exec -i probe -- sh -c '
		read -r uri; cat >/tmp/ca.crt
		PGSSLMODE=verify-full PGSSLROOTCERT=/tmp/ca.crt PGCONNECT_TIMEOUT=3 psql "$uri" -XAtq -v ON_ERROR_STOP=1 \
			-c "CREATE SCHEMA IF NOT EXISTS bench" \
			-c "CREATE TABLE IF NOT EXISTS bench.writes (label text, n int,
			    at timestamptz NOT NULL DEFAULT clock_timestamp(), PRIMARY KEY (label, n))" \
			-c "INSERT INTO bench.writes (label, n) VALUES ('"'"'create'"'"', 1) ON CONFLICT DO NOTHING"' \
		>/dev/null 2>&1
}
primary_pod() { pods_with_role hippo master; }

# --- (a) apply to a writable primary ------------------------------------------------

create_run() {
	local run=$1 t0 t_secret='' t_ready='' t_write='' p
	delete_hippo
	kubectl create namespace "$NS" >/dev/null 2>&1
	probe_pod || die "the probe pod does not start"
	t0=$(now)
	kubectl kustomize kustomize/postgres | sed "s/^\(  namespace:\) postgres-operator$/\1 $NS/" |
		kubectl apply -f - >/dev/null || die "applying hippo failed"
	while [ "$(since "$t0" | cut -d. -f1)" -lt 900 ]; do
		[ -z "$t_secret" ] && kn get secret hippo-pguser-hippo >/dev/null 2>&1 && t_secret=$(now)
		if [ -z "$t_ready" ]; then
			p=$(primary_pod)
			[ -n "$p" ] && [ "$(ready_of "$p")" = True ] && t_ready=$(now)
		fi
		if [ -n "$t_secret" ] && try_insert; then
			t_write=$(now)
			break
		fi
		sleep 0.5
	done
	if [ -z "$t_write" ]; then
		say "run $run: no writable primary within 900 s"
		kn get postgrescluster,statefulsets,pods,secrets -o wide >&2
		kubectl -n postgres-operator logs deployment/pgo --tail=20 >&2
		return 1
	fi
	printf '(a) run %d: apply -> user Secret %s s, -> primary pod Ready %s s, -> first INSERT %s s\n' \
		"$run" "$(since "$t0" "$t_secret")" "$([ -n "$t_ready" ] && since "$t0" "$t_ready" || echo '?')" \
		"$(since "$t0" "$t_write")"
	echo "$(since "$t0" "$t_write")" >>"$WORK/create.times"
}

# A namespace left by an earlier run may still be going away.
for _ in $(seq 180); do
	[ "$(kubectl get namespace "$NS" -o jsonpath='{.status.phase}' 2>/dev/null)" = Terminating ] || break
	sleep 1
done
say "(a) creating hippo in namespace $NS, $CREATE_RUNS time(s)"
for run in $(seq 1 "$CREATE_RUNS"); do
	create_run "$run" || die "hippo did not become writable"
done
echo "(a) apply -> writable primary: $(stats <"$WORK/create.times")"

# --- (b) write gap when the primary pod is deleted ---------------------------------------

client_pod() {
	kn create configmap writer --from-file=writer.sh=test/e2e/patroni/writer.sh \
		--dry-run=client -o yaml | kn apply -f - >/dev/null || return 1
	sleeper_pod client psql <<-EOF | kn apply -f - >/dev/null || return 1
		      env:
		        - {name: PGHOST, valueFrom: {secretKeyRef: {name: hippo-pguser-hippo, key: host}}}
		        - {name: PGPORT, valueFrom: {secretKeyRef: {name: hippo-pguser-hippo, key: port}}}
		        - {name: PGDATABASE, valueFrom: {secretKeyRef: {name: hippo-pguser-hippo, key: dbname}}}
		        - {name: PGUSER, valueFrom: {secretKeyRef: {name: hippo-pguser-hippo, key: user}}}
		        - {name: PGPASSWORD, valueFrom: {secretKeyRef: {name: hippo-pguser-hippo, key: password}}}
		        - {name: PGSSLMODE, value: verify-full}
		        - {name: PGSSLROOTCERT, value: /pgconf/ca.crt}
		        - {name: PGCONNECT_TIMEOUT, value: "2"}
		        - {name: PGOPTIONS, value: "-c search_path=bench"}
		      volumeMounts:
		        - {name: ca, mountPath: /pgconf, readOnly: true}
		        - {name: writer, mountPath: /opt/writer, readOnly: true}
		        - {name: tmp, mountPath: /tmp}
		  volumes:
		    - name: ca
		      secret: {secretName: pgo-root-cacert, items: [{key: root.crt, path: ca.crt}]}
		    - name: writer
		      configMap: {name: writer, defaultMode: 0755}
		    - name: tmp
		      emptyDir: {sizeLimit: 64Mi}
	EOF
	kn wait --for=condition=Ready pod/client --timeout=120s >/dev/null
}
csql() { timeout 60 kubectl -n "$NS" exec client -- psql -XAtq -v ON_ERROR_STOP=1 "$@"; }
# healthy: two Ready instance pods, one master, and a row written through
# hippo-primary is read through hippo-replicas.
healthy() {
	local pods p masters=0 replicas=0 n
	pods=$(kn get pods -l "$L/cluster=hippo,$L/instance" -o jsonpath='{.items[*].metadata.name}')
	for p in $pods; do
		[ "$(ready_of "$p")" = True ] || return 1
		case $(role_of "$p") in
		master) masters=$((masters + 1)) ;;
		replica) replicas=$((replicas + 1)) ;;
		esac
	done
	[ "$masters" = 1 ] && [ "$replicas" = 1 ] || return 1
	n=$RANDOM$RANDOM
	csql -c "INSERT INTO writes (label, n) VALUES ('sync', $n)" >/dev/null 2>&1 &&
		[ "$(csql "host=hippo-replicas.$NS.svc" -c "SELECT count(*) FROM writes WHERE label = 'sync' AND n = $n" \
			2>/dev/null)" = 1 ]
}
wait_for() {
	local limit=$1 start=$SECONDS
	shift
	until "$@"; do
		[ $((SECONDS - start)) -ge "$limit" ] && return 1
		sleep 1
	done
}

say "(b) scaling hippo to two instances"
kn patch postgrescluster hippo --type=json \
	-p '[{"op": "add", "path": "/spec/instances/0/replicas", "value": 2}]' >/dev/null || die "patching hippo failed"
client_pod || die "the client pod does not start"
wait_for 600 healthy || die "hippo does not reach one primary and one streaming replica"

failover_run() {
	local run=$1 label=failover-$1 old t0 t1='' t2='' acked failed lost g
	wait_for 600 healthy || {
		say "run $run: the cluster is not healthy"
		return 1
	}
	old=$(primary_pod)
	(timeout 600 kubectl -n "$NS" exec client -- /opt/writer/writer.sh "$label" 540 >"$WORK/$label.log" 2>&1) &
	writer_pid=$!
	wait_for 30 grep -q '^ok ' "$WORK/$label.log" || {
		say "run $run: the writer does not write: $(tail -3 "$WORK/$label.log")"
		return 1
	}
	sleep 3
	t0=$(now)
	kn delete pod "$old" --wait=false >/dev/null
	new_master() { local p; p=$(primary_pod); [ -n "$p" ] && [ "$p" != "$old" ]; }
	wait_for 300 new_master && t1=$(now)
	resumed() { awk -v t="$t0" '$1 == "ok" && $3 > t { f = 1 } END { exit !f }' "$WORK/$label.log"; }
	wait_for 120 resumed && t2=$(now)
	sleep 5
	timeout 30 kubectl -n "$NS" exec client -- touch "/tmp/stop-$label" >/dev/null 2>&1
	wait_for 30 grep -q '^done ' "$WORK/$label.log"
	kill "$writer_pid" 2>/dev/null
	wait "$writer_pid" 2>/dev/null
	writer_pid=''
	g=$(awk '$1 == "ok" { if (prev != "" && $4 - prev > max) max = $4 - prev; prev = $4 }
		END { printf "%.1f\n", max }' "$WORK/$label.log")
	acked=$(grep -c '^ok ' "$WORK/$label.log")
	failed=$(grep -c '^fail ' "$WORK/$label.log")
	lost=$(comm -23 <(awk '$1 == "ok" { print $2 }' "$WORK/$label.log" | sort) \
		<(csql -c "SELECT n FROM writes WHERE label = '$label'" 2>/dev/null | sort) | grep -c .)
	printf '(b) run %d: write gap %s s; new master labelled %s s after the delete, writes resumed %s s after;' \
		"$run" "$g" "$([ -n "$t1" ] && since "$t0" "$t1" || echo '?')" \
		"$([ -n "$t2" ] && since "$t0" "$t2" || echo '?')"
	printf ' %d writes acknowledged, %d missing afterwards, %d attempts failed\n' "$acked" "$lost" "$failed"
	[ -n "$t2" ] && echo "$g" >>"$WORK/gaps"
	# Back to health (the old primary rejoins as a replica) before the next run.
	wait_for 600 healthy && printf '(b) run %d: old primary back as a streaming replica %s s after the delete\n' \
		"$run" "$(since "$t0")"
}
for run in $(seq 1 "$FAILOVER_RUNS"); do
	failover_run "$run"
done
echo "(b) write gap when the primary pod is deleted: $(stats <"$WORK/gaps" 2>/dev/null)"

# --- (c) the operator's memory ------------------------------------------------------------

operator_pid() {
	local pod id uid pid p
	pod=$(kubectl -n postgres-operator get pods -l "$L/control-plane=postgres-operator" \
		-o jsonpath='{.items[0].metadata.name}' 2>/dev/null)
	[ -n "$pod" ] || return 1
	id=$(kubectl -n postgres-operator get pod "$pod" -o jsonpath='{.status.containerStatuses[0].containerID}')
	id=${id#containerd://}
	pid=$(ctr --address "$CONTAINERD_SOCK" -n k8s.io task ls 2>/dev/null | awk -v id="$id" '$1 == id { print $2 }')
	if [ -z "$pid" ]; then
		# Without containerd's answer: the process whose cgroup names the pod.
		uid=$(kubectl -n postgres-operator get pod "$pod" -o jsonpath='{.metadata.uid}')
		for p in $(pgrep -x postgres-operat); do
			grep -qE "pod(${uid}|${uid//-/_})" "/proc/$p/cgroup" 2>/dev/null && pid=$p && break
		done
	fi
	[ -n "$pid" ] && echo "$pid"
}
cgroup_memory() {
	local path
	path=$(awk -F: '$1 == "0" { print $3 }' "/proc/$1/cgroup")
	if [ -n "$path" ] && [ -r "/sys/fs/cgroup$path/memory.current" ]; then
		echo "cgroup memory.current $(($(cat "/sys/fs/cgroup$path/memory.current") / 1024)) KiB"
		return
	fi
	path=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3 }' "/proc/$1/cgroup")
	[ -n "$path" ] && [ -r "/sys/fs/cgroup/memory$path/memory.usage_in_bytes" ] &&
		echo "cgroup memory.usage_in_bytes $(($(cat "/sys/fs/cgroup/memory$path/memory.usage_in_bytes") / 1024)) KiB"
}
if pid=$(operator_pid); then
	printf '(c) operator (pid %s on the host) with hippo running (2 instances): VmRSS %s, VmHWM %s; %s\n' "$pid" \
		"$(awk '/^VmRSS:/ { print $2, $3 }' "/proc/$pid/status")" \
		"$(awk '/^VmHWM:/ { print $2, $3 }' "/proc/$pid/status")" "$(cgroup_memory "$pid")"
else
	echo "(c) the operator's process was not found"
fi
