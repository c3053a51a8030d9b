#!/usr/bin/env bash
# End to end: our postgres image runs a highly available Patroni cluster on
# Kubernetes, laid out object for object as PGO lays out cluster "hippo"
# with one instance set of two replicas (no backups), and survives losing
# its primary. The objects are hand-written templates in test/e2e/patroni/,
# rendered here with the namespace, the image and the timing; they are what
# the operator's builders are to emit.
#
# Checks: bootstrap, one master and one replica, streaming replication,
# TLS verify-full through hippo-primary, no plain-text access, the REST API's
# TLS and client-certificate rule; then, for Patroni's default timing
# (ttl 30, loop_wait 10, retry_timeout 10) and for a fast one switched to
# through PATCH /config: the primary pod deleted, a graceful switchover
# through the REST API, and a primary frozen with SIGSTOP (a hung node: its
# leader lock is not released and must expire). Each must end with a new
# master that hippo-ha points at, writes through hippo-primary, and the old
# primary back as a streaming replica; and the fast timing must survive a
# burst of pgbench without a leader change. Measured write gaps are TAP
# comments ("# failover write gap: N s"); they never decide pass or fail.
#
# The fast timing defaults to ttl 20, loop_wait 5, retry_timeout 7. Patroni
# 4 raises any ttl below 20 to 20, and wants loop_wait + 2 * retry_timeout
# <= ttl, so a crash failover cannot take much less than 20 s with it.
#
# Environment: PATRONI_FAST_TIMING="TTL LOOP_WAIT RETRY_TIMEOUT" to measure
# another setting; PATRONI_KEEP_NAMESPACE=1 keeps the namespace afterwards.
# Takes about four minutes.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/kube.sh"

fixtures=$(cd "$(dirname "$0")/patroni" && pwd)
work=$(mktemp -d)
writer_pid=
cleanup() {
	[ -n "$writer_pid" ] && kill "$writer_pid" 2>/dev/null
	[ "${PATRONI_KEEP_NAMESPACE:-0}" = 1 ] || cleanup_namespaces
	rm -rf "$work"
}
trap cleanup EXIT

PG_MAJOR=17
IMAGE=$POSTGRES_17_IMAGE
DEFAULT_TIMING="30 10 10"
FAST_TIMING=${PATRONI_FAST_TIMING:-"20 5 7"}

L=postgres-operator.crunchydata.com
MEMBERS="$L/cluster=hippo,$L/patroni=hippo-ha"

if ! cluster_reachable; then
	tap_fail "cluster reachable" "the local cluster does not answer; run 'make cluster-up'"
	tap_done
	exit 1
fi

# --- helpers ------------------------------------------------------------------

kn() { k -n "$ns" "$@"; }
# kx POD ARGS...: kubectl exec, never longer than a minute.
kx() { timeout 60 "$KUBECTL" -n "$ns" exec "$@"; }
# sql POD ARGS...: psql as postgres over the pod's Unix socket (peer).
sql() {
	local pod=$1
	shift
	kx "$pod" -c database -- psql -XAtq -v ON_ERROR_STOP=1 "$@"
}
# client ARGS...: run in the client pod.
client() { kx psql-client -- "$@"; }
# rest METHOD POD PATH [BODY]: Patroni's REST API of POD over verify-full TLS
# with the operator's client certificate; prints the body, then the status.
# When the name does not resolve or the connection is refused (curl's exit
# codes 6 and 7), the request was never sent: it is tried again for up to
# 30 s, so that a blip of the cluster's DNS is not taken for a failure.
rest() {
	local method=$1 pod=$2 path=$3 body=${4:-} out rc start=$SECONDS
	while :; do
		out=$(client curl -sS --max-time 50 --cacert /pgconf/ca.crt \
			--cert /pgconf/tls.crt --key /pgconf/tls.key -X "$method" \
			${body:+-H 'Content-Type: application/json' --data "$body"} \
			-w '\n%{http_code}' "https://$pod.hippo-pods.$ns.svc:8008$path" 2>&1)
		rc=$?
		case $rc in 6 | 7) [ $((SECONDS - start)) -lt 30 ] && sleep 1 && continue ;; esac
		printf '%s\n' "$out"
		return $rc
	done
}
now() { date +%s.%N; }
# step NAME COMMAND...: tap_check for commands that set variables: runs in
# this shell, output kept for the failure comment.
step() {
	local name=$1
	shift
	if "$@" >"$work/step.out" 2>&1; then
		tap_ok "$name"
	else
		tap_fail "$name" "$(tail -25 "$work/step.out")"
		return 1
	fi
}
# eventually NAME SECONDS COMMAND...: wait up to SECONDS for COMMAND to
# pass, then judge it once more, keeping its output if it still fails.
eventually() {
	local name=$1 seconds=$2
	shift 2
	retry_until "$seconds" "$@"
	tap_check "$name" "$@"
}
# bail REASON: later checks cannot run; stop here.
bail() {
	echo "# bailing out: $1"
	tap_done
	exit 1
}
# comment TEXT: a TAP comment line per line of TEXT.
comment() { printf '%s\n' "$@" | sed 's/^/# /'; }

# render FILE NAME=VALUE...: FILE with every @NAME@ replaced; refuses to
# leave a placeholder behind.
render() {
	local file=$1 text kv
	shift
	text=$(<"$fixtures/$file")
	for kv in "$@"; do
		text=${text//"@${kv%%=*}@"/"${kv#*=}"}
	done
	if grep -qE '@[A-Z_]+@' <<<"$text"; then
		echo "placeholder left in $file: $(grep -oE '@[A-Z_]+@' <<<"$text" | sort -u | tr '\n' ' ')" >&2
		return 1
	fi
	printf '%s\n' "$text"
}
# apply FILE NAME=VALUE...: render and apply; fails on a Pod Security warning.
apply() {
	local out
	out=$(render "$@" | kn apply -f - 2>&1) || {
		echo "$out"
		return 1
	}
	if grep -q 'violate PodSecurity' <<<"$out"; then
		echo "$out"
		return 1
	fi
}

role_of() { kn get pod "$1" -o jsonpath="{.metadata.labels.postgres-operator\.crunchydata\.com/role}" 2>/dev/null; }
masters() { kn get pods -l "$MEMBERS,$L/role=master" -o jsonpath='{.items[*].metadata.name}'; }
pod_ip() { kn get pod "$1" -o jsonpath='{.status.podIP}'; }
# The leader according to the lock itself, not to labels.
lock_holder() { kn get endpoints hippo-ha -o jsonpath='{.metadata.annotations.leader}' 2>/dev/null; }
lock_annotation() { kn get endpoints hippo-ha -o jsonpath="{.metadata.annotations.$1}" 2>/dev/null; }
other_member() {
	local p
	for p in "$pod1" "$pod2"; do [ "$p" != "$1" ] && echo "$p"; done
}

all_ready() {
	local p
	for p in "$pod1" "$pod2"; do
		[ "$(kn get pod "$p" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ] ||
			return 1
	done
}
one_master_one_replica() {
	local r1 r2
	r1=$(role_of "$pod1") r2=$(role_of "$pod2")
	[ "$r1:$r2" = master:replica ] || [ "$r1:$r2" = replica:master ] || {
		echo "roles: $pod1=$r1 $pod2=$r2"
		return 1
	}
	[ "$(masters)" = "$(lock_holder)" ] || {
		echo "master label on '$(masters)', lock held by '$(lock_holder)'"
		return 1
	}
}
# streams PRIMARY REPLICA: the primary sends WAL to the replica.
streams() {
	local state
	state=$(sql "$1" -c "SELECT state FROM pg_stat_replication WHERE application_name = '$2'")
	[ "$state" = streaming ] || {
		echo "pg_stat_replication on $1 for $2: '${state}'"
		return 1
	}
}
is_master() { [ "$(role_of "$1")" = master ] && [ "$(lock_holder)" = "$1" ]; }
# ha_points_at POD: the leader Endpoints name POD and hold its address.
ha_points_at() {
	local ip
	ip=$(kn get endpoints hippo-ha -o jsonpath='{.subsets[0].addresses[*].ip}' 2>/dev/null)
	[ -n "$ip" ] && [ "$ip" = "$(pod_ip "$1")" ] && [ "$(lock_holder)" = "$1" ] || {
		echo "hippo-ha: leader=$(lock_holder) addresses=$ip; $1 has $(pod_ip "$1")"
		return 1
	}
}
rejoined() { [ "$(role_of "$2")" = replica ] && streams "$1" "$2"; }
healthy() {
	local leader
	leader=$(lock_holder)
	one_master_one_replica && streams "$leader" "$(other_member "$leader")"
}

diagnose() {
	kn get pods,endpoints -o wide 2>&1 | grep -v '^Warning: v1 Endpoints'
	local p
	for p in "$pod1" "$pod2"; do
		echo "--- $p (last 15 lines of database)"
		kn logs "$p" -c database --tail=15 2>&1
	done
}

# --- the writer ---------------------------------------------------------------
# A client in the cluster inserts in a loop through hippo-primary, a new
# connection each time; the longest pause between two acknowledged writes
# around an event is its write gap.
start_writer() {
	local label=$1
	(timeout 300 "$KUBECTL" -n "$ns" exec psql-client -- /opt/writer/writer.sh "$label" 240 \
		>"$work/$label.log" 2>&1) &
	writer_pid=$!
	retry_until 30 grep -q '^ok ' "$work/$label.log"
}
# writes_after LABEL EPOCH: a write was acknowledged that began after EPOCH.
writes_after() { awk -v t="$2" '$1 == "ok" && $3 > t { found = 1 } END { exit !found }' "$work/$1.log"; }
stop_writer() {
	local label=$1
	# A few seconds of writes after recovery, to close the measurement.
	sleep 3
	client touch "/tmp/stop-$label" >/dev/null 2>&1
	retry_until 30 grep -q '^done ' "$work/$label.log"
	kill "$writer_pid" 2>/dev/null
	wait "$writer_pid" 2>/dev/null
}
# gap LABEL: the longest time between two acknowledged writes, in seconds.
gap() {
	awk '$1 == "ok" { if (prev != "" && $4 - prev > max) max = $4 - prev; prev = $4 }
		END { printf "%.1f\n", max }' "$work/$1.log"
}
# report KIND LABEL DETAIL PRIMARY EVENT_EPOCH: the comment lines.
report() {
	local kind=$1 label=$2 detail=$3 primary=$4 t0=$5 t1 acked failed stored lost
	# When the new leader took the lock, by Patroni's own clock (this host's).
	t1=$(lock_annotation acquireTime)
	t1=$([ -n "$t1" ] && date -d "$t1" +%s.%N 2>/dev/null) || t1=$t0
	acked=$(grep -c '^ok ' "$work/$label.log")
	failed=$(grep -c '^fail ' "$work/$label.log")
	stored=$(sql "$primary" -d zoo -c "SELECT n FROM hippo.writes WHERE label = '$label'" 2>/dev/null | sort)
	lost=$(comm -23 <(awk '$1 == "ok" { print $2 }' "$work/$label.log" | sort) <(printf '%s\n' "$stored") | grep -c .)
	echo "# $kind write gap: $(gap "$label") s ($detail)"
	comment "  lock acquired by the new leader $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s after the event;" \
		"  $acked writes acknowledged, $lost of them missing afterwards; $failed attempts failed:"
	# What the clients saw, by kind of error.
	grep '^fail ' "$work/$label.log" | cut -d' ' -f5- | sed -E 's/.*port 5432 failed: //; s/^psql: error: //; s/\t.*//' |
		cut -c1-70 | sort | uniq -c | sort -rn | head -4 | sed 's/^ */#     /'
}

# --- the cluster ----------------------------------------------------------------

check_image() {
	if ! ctr --address "$CONTAINERD_SOCK" -n k8s.io images ls -q 2>/dev/null | grep -qxF "$IMAGE"; then
		# shellcheck disable=SC2154 # _root comes from kube.sh
		"$_root/hack/build-images.sh" --import "postgres-$PG_MAJOR" || return 1
	fi
	ctr --address "$CONTAINERD_SOCK" -n k8s.io images ls -q | grep -qxF "$IMAGE"
}
tap_check "image $IMAGE is in the cluster's containerd" check_image

ns=$(new_namespace patroni pod-security.kubernetes.io/enforce=restricted \
	pod-security.kubernetes.io/enforce-version=latest)

rand4() { LC_ALL=C tr -dc 'a-z0-9' </dev/urandom 2>/dev/null | head -c 4; }
inst1=hippo-instance1-$(rand4)
inst2=hippo-instance1-$(rand4)
while [ "$inst2" = "$inst1" ]; do inst2=hippo-instance1-$(rand4); done
pod1=$inst1-0 pod2=$inst2-0
read -r ttl loop_wait retry_timeout <<<"$DEFAULT_TIMING"
comment "namespace $ns, instances $inst1 $inst2, image $IMAGE"

# secret NAME "LABEL..." KEY=FILE...: a generic Secret with the cluster label
# and LABELs (space-separated KEY=VALUE).
secret() {
	local name=$1 labels kv args=()
	read -r -a labels <<<"$2"
	shift 2
	for kv in "$@"; do args+=("--from-file=$kv"); done
	kn create secret generic "$name" "${args[@]}" >/dev/null &&
		kn label secret "$name" "$L/cluster=hippo" "${labels[@]}" >/dev/null
}

create_objects() {
	local c=$work/certs i
	"$fixtures/certs.sh" "$c" "$ns" hippo "$inst1" "$inst2" || return 1
	secret pgo-root-cacert "" root.crt="$c/root.crt" root.key="$c/root.key" || return 1
	secret hippo-cluster-cert "$L/cluster-certificate=postgres-tls" \
		tls.crt="$c/cluster.crt" tls.key="$c/cluster.key" ca.crt="$c/root.crt" || return 1
	secret hippo-replication-cert "$L/cluster-certificate=replication-client-tls" \
		tls.crt="$c/replication.crt" tls.key="$c/replication.key" ca.crt="$c/root.crt" || return 1
	for i in "$inst1" "$inst2"; do
		cat "$c/$i.crt" "$c/$i.key" >"$c/$i.combined"
		secret "$i-certs" "$L/instance-set=instance1 $L/instance=$i" \
			patroni.ca-roots="$c/root.crt" patroni.crt-combined="$c/$i.combined" \
			dns.crt="$c/$i.crt" dns.key="$c/$i.key" || return 1
	done
	secret hippo-test-client "" ca.crt="$c/root.crt" tls.crt="$c/client.crt" tls.key="$c/client.key" || return 1
	# The user Secret, keys as PGO writes them (without the verifier).
	password=$(openssl rand -hex 16)
	printf '%s' hippo >"$work/user"
	printf '%s' "$password" >"$work/password"
	printf '%s' zoo >"$work/dbname"
	printf '%s' "hippo-primary.$ns.svc" >"$work/host"
	printf '%s' 5432 >"$work/port"
	printf '%s' "postgresql://hippo:$password@hippo-primary.$ns.svc:5432/zoo" >"$work/uri"
	secret hippo-pguser-hippo "$L/role=pguser $L/pguser=hippo" user="$work/user" \
		password="$work/password" dbname="$work/dbname" host="$work/host" port="$work/port" \
		uri="$work/uri" || return 1

	local vars=(NAMESPACE="$ns" IMAGE="$IMAGE" PG_MAJOR="$PG_MAJOR"
		TTL="$ttl" LOOP_WAIT="$loop_wait" RETRY_TIMEOUT="$retry_timeout"
		PROBE_PERIOD="$loop_wait" PROBE_TIMEOUT=$((loop_wait / 2 > 0 ? loop_wait / 2 : 1))
		PROBE_FAILURES=$((ttl / loop_wait)))
	apply rbac.yaml "${vars[@]}" || return 1
	apply services.yaml "${vars[@]}" || return 1
	local ha_ip
	ha_ip=$(kn get service hippo-ha -o jsonpath='{.spec.clusterIP}')
	[ -n "$ha_ip" ] || return 1
	apply primary-endpoints.yaml "${vars[@]}" HA_CLUSTER_IP="$ha_ip" || return 1
	apply cluster-config.yaml "${vars[@]}" || return 1
	apply pdb.yaml "${vars[@]}" || return 1
	for i in "$inst1" "$inst2"; do
		apply instance.yaml "${vars[@]}" INSTANCE="$i" || return 1
	done
	kn create configmap psql-client-writer --from-file=writer.sh="$fixtures/writer.sh" >/dev/null || return 1
	apply client.yaml "${vars[@]}" || return 1
	# Admission under "restricted" happens per pod: both must exist.
	retry_until 60 kn get pod "$pod1" "$pod2" psql-client || {
		kn get events --field-selector reason=FailedCreate 2>&1 | tail -5
		return 1
	}
}
t_start=$SECONDS
step "PGO's objects for hippo apply and their pods are admitted under restricted" create_objects ||
	bail "the objects could not be created"

bootstrapped() {
	retry_until 300 all_ready || {
		diagnose
		return 1
	}
	local sysid
	sysid=$(kn get endpoints hippo-ha-config -o jsonpath='{.metadata.annotations.initialize}' 2>/dev/null)
	[ -n "$sysid" ] || {
		echo "no system identifier in hippo-ha-config"
		return 1
	}
	echo "system identifier $sysid"
}
step "the cluster bootstraps: both instance pods Ready, system id in hippo-ha-config" bootstrapped ||
	bail "no cluster"
comment "bootstrap took $((SECONDS - t_start)) s from apply to both pods Ready"
retry_until 60 one_master_one_replica
tap_check "exactly one pod is role=master (and holds the lock), the other role=replica" one_master_one_replica
primary=$(masters)
replica=$(other_member "$primary")
eventually "the replica streams from the primary (pg_stat_replication)" 120 streams "$primary" "$replica"

# The application's side, made the way PGO makes it: role, database, schema.
setup_sql() {
	kx -i "$primary" -c database -- psql -Xq -v ON_ERROR_STOP=1 -v pw="$password" <<-'EOF' || return 1
		CREATE ROLE hippo LOGIN PASSWORD :'pw';
		CREATE DATABASE zoo;
		GRANT ALL PRIVILEGES ON DATABASE zoo TO hippo;
	EOF
	sql "$primary" -d zoo -c "CREATE SCHEMA hippo AUTHORIZATION hippo" \
		-c "CREATE TABLE hippo.writes (label text, n int, at timestamptz NOT NULL DEFAULT clock_timestamp(),
		    PRIMARY KEY (label, n))" -c "ALTER TABLE hippo.writes OWNER TO hippo" &&
		kn wait --for=condition=Ready pod/psql-client --timeout=120s >/dev/null
}
step "a role, database and table for the application are created on the primary" setup_sql ||
	bail "no application database"

tls_write() {
	local ha_ip resolved out
	ha_ip=$(kn get service hippo-ha -o jsonpath='{.spec.clusterIP}')
	resolved=$(client getent hosts "hippo-primary.$ns.svc" | awk '{ print $1 }')
	[ "$resolved" = "$ha_ip" ] || {
		echo "hippo-primary resolves to '$resolved', hippo-ha's ClusterIP is $ha_ip"
		return 1
	}
	out=$(client psql -XAtq -v ON_ERROR_STOP=1 \
		-c "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()" \
		-c "INSERT INTO writes (label, n) SELECT 'tls', coalesce(max(n), 0) + 1 FROM writes
		    WHERE label = 'tls' RETURNING 'inserted'" \
		-c "SELECT current_setting('server_version_num')::int / 10000") || {
		echo "$out"
		return 1
	}
	echo "$out"
	[ "$(printf '%s\n' "$out" | sed -n 1p | cut -d'|' -f1)" = t ] &&
		[ "$(printf '%s\n' "$out" | sed -n 2p)" = inserted ] &&
		[ "$(printf '%s\n' "$out" | sed -n 3p)" = "$PG_MAJOR" ] || return 1
	# verify-full checks the name: the primary's pod IP is not in the cert.
	out=$(client psql "host=$(pod_ip "$primary")" -XAtc 'SELECT 1' 2>&1) && {
		echo "verify-full accepted a connection by IP: $out"
		return 1
	}
	grep -q 'does not match host name' <<<"$out" || {
		echo "by IP: $out"
		return 1
	}
}
eventually "a client writes over TLS verify-full through hippo-primary (resolves to hippo-ha)" 30 tls_write

plain_rejected() {
	local out start=$SECONDS
	while :; do
		out=$(client psql "sslmode=disable" -XAtc 'SELECT 1' 2>&1) && {
			echo "a non-TLS connection was accepted: $out"
			return 1
		}
		# Only a name that did not resolve is worth another try.
		grep -q 'could not translate host name' <<<"$out" && [ $((SECONDS - start)) -lt 30 ] || break
		sleep 1
	done
	echo "$out"
	grep -q 'no pg_hba.conf entry' <<<"$out" && grep -q 'no encryption' <<<"$out"
}
tap_check "a non-TLS connection is rejected by pg_hba" plain_rejected

replicas_read() {
	local out
	out=$(client psql "host=hippo-replicas.$ns.svc" -XAtc 'SELECT pg_is_in_recovery()' 2>&1)
	[ "$out" = t ] || {
		echo "$out"
		return 1
	}
}
eventually "hippo-replicas serves a read-only replica over verify-full" 30 replicas_read

rest_api() {
	local out
	# Safe methods need no client certificate; the name must verify.
	out=$(client curl -sS --fail --max-time 10 --cacert /pgconf/ca.crt \
		"https://$primary.hippo-pods.$ns.svc:8008/cluster") || {
		echo "$out"
		return 1
	}
	[ "$(jq -r '[.members[] | select(.role == "leader") | .name] | join(",")' <<<"$out")" = "$primary" ] || {
		echo "$out"
		return 1
	}
	# Unsafe ones do (verify_client: optional); an empty PATCH changes nothing.
	out=$(client curl -sS --max-time 10 --cacert /pgconf/ca.crt -X PATCH --data '{}' \
		-w ' %{http_code}' "https://$primary.hippo-pods.$ns.svc:8008/config")
	case $out in *403) ;; *)
		echo "PATCH without a client certificate: $out"
		return 1
		;;
	esac
	out=$(rest GET "$primary" /config) && [ "$(tail -n1 <<<"$out")" = 200 ] || {
		echo "$out"
		return 1
	}
}
eventually "Patroni's REST API: TLS verifies by pod DNS name; writes need a client certificate" 30 rest_api

# --- failures -----------------------------------------------------------------

# scenario KIND TIMING: one event with the writer running, and its checks.
#   delete     the primary pod is deleted (Patroni stops, releasing the lock)
#   switchover POST /switchover to the primary's REST API
#   freeze     every process of the primary's database container stopped with
#              SIGSTOP: nothing is released, the lock has to expire
scenario() {
	local kind=$1 timing=$2 old new label t0 t1 t2 out what detail event=ok failed_over
	label=$kind-$timing
	case $kind in
	delete) what="primary pod deleted" detail="primary pod deleted" ;;
	switchover) what="switchover" detail="POST /switchover" ;;
	freeze) what="primary frozen" detail="primary's processes frozen with SIGSTOP" ;;
	esac
	what="$what ($timing timing)"
	detail="$detail; ttl=$ttl loop_wait=$loop_wait retry_timeout=$retry_timeout"
	if ! retry_until 120 healthy || ! start_writer "$label"; then
		tap_fail "$what: the writer starts against a healthy cluster" \
			"$(healthy 2>&1); $(tail -3 "$work/$label.log" 2>/dev/null)"
		return
	fi
	old=$(lock_holder)
	new=$(other_member "$old")
	sleep 2
	t0=$(now)
	case $kind in
	delete) kn delete pod "$old" --wait=false >/dev/null || event="kubectl delete failed" ;;
	switchover)
		out=$(rest POST "$old" /switchover "{\"leader\":\"$old\",\"candidate\":\"$new\"}")
		if [ "$(tail -n1 <<<"$out")" = 200 ]; then
			tap_ok "$what: POST /switchover with the operator's client certificate answers 200"
		else
			tap_fail "$what: POST /switchover with the operator's client certificate answers 200" "$out"
			event="no switchover"
		fi
		;;
	freeze)
		kx "$old" -c database -- sh -c 'pkill -STOP -x patroni && pkill -STOP -x postgres' ||
			event="could not freeze $old"
		;;
	esac
	if [ "$event" = ok ] && retry_until 150 is_master "$new"; then
		t1=$(now) failed_over=1
		tap_ok "$what: the other instance becomes master"
		if [ "$kind" = freeze ]; then
			comment "  while $old is frozen, pods labelled master: $(masters)"
		fi
		eventually "$what: hippo-ha Endpoints point at the new primary" 60 ha_points_at "$new"
		eventually "$what: writes succeed again through hippo-primary" 60 writes_after "$label" "$t1"
	else
		# Without a new master the next checks have nothing to wait for.
		tap_fail "$what: the other instance becomes master" "$event; $(diagnose 2>&1)"
		tap_fail "$what: hippo-ha Endpoints point at the new primary" "no new master"
		tap_fail "$what: writes succeed again through hippo-primary" "no new master"
		failed_over=0
	fi
	stop_writer "$label"
	if [ "$kind" = freeze ]; then
		# The node comes back: Patroni finds the lock taken and demotes.
		kx "$old" -c database -- sh -c 'pkill -CONT -x patroni; pkill -CONT -x postgres' >/dev/null 2>&1
	fi
	if [ "$failed_over" = 1 ]; then
		eventually "$what: the old primary rejoins as a replica and streams" 300 rejoined "$new" "$old"
	else
		tap_fail "$what: the old primary rejoins as a replica and streams" "no new master"
		# Give the next scenario a healthy cluster if there is one to be had.
		retry_until 180 healthy
		new=$(lock_holder)
	fi
	t2=$(now)
	case $kind in switchover) report switchover "$label" "$detail" "$new" "$t0" ;;
	*) report failover "$label" "$detail" "$new" "$t0" ;; esac
	comment "  old primary streaming again $(awk -v a="$t0" -v b="$t2" 'BEGIN { printf "%.0f", b - a }') s after the event"
}

run_scenarios() {
	local timing=$1
	scenario delete "$timing"
	scenario switchover "$timing"
	scenario freeze "$timing"
	comment "restarts of the database containers so far: $(kn get pods -l "$MEMBERS" \
		-o jsonpath='{range .items[*]}{.metadata.name}={.status.containerStatuses[0].restartCount} {end}')"
}

run_scenarios default

# --- the fast timing --------------------------------------------------------------

set_timing() {
	local new_ttl new_loop new_retry out leader effective
	read -r new_ttl new_loop new_retry <<<"$1"
	# Patroni 4 raises a ttl below 20 to 20 (and logs it); the lock shows
	# the ttl in force.
	effective=$((new_ttl < 20 ? 20 : new_ttl))
	leader=$(lock_holder)
	out=$(rest PATCH "$leader" /config \
		"{\"ttl\":$new_ttl,\"loop_wait\":$new_loop,\"retry_timeout\":$new_retry}") &&
		[ "$(tail -n1 <<<"$out")" = 200 ] || {
		echo "$out"
		return 1
	}
	# The leader writes its ttl into the lock on its next loop; the replica
	# reads the new configuration within one old loop_wait.
	retry_until $((loop_wait * 3)) test "$(lock_annotation ttl)" = "$effective" || {
		echo "lock ttl is $(lock_annotation ttl), expected $effective"
		return 1
	}
	sleep $((loop_wait + 2))
	ttl=$new_ttl loop_wait=$new_loop retry_timeout=$new_retry
	[ "$effective" = "$new_ttl" ] || ttl="$new_ttl (in force: $effective)"
}
step "the timing changes to ttl/loop_wait/retry_timeout = $FAST_TIMING through PATCH /config" \
	set_timing "$FAST_TIMING" || bail "the timing did not change"

run_scenarios fast

# A fast timing is only good if load does not cause spurious failovers.
no_failover_under_load() {
	local leader transitions restarts out
	leader=$(lock_holder) transitions=$(lock_annotation transitions)
	restarts=$(kn get pods -l "$MEMBERS" -o jsonpath='{.items[*].status.containerStatuses[0].restartCount}')
	client pgbench -i -s 10 -q >/dev/null 2>&1 || return 1
	out=$(timeout 90 "$KUBECTL" -n "$ns" exec psql-client -- pgbench -n -c 8 -j 2 -T 45 2>&1) || {
		echo "$out" | tail -5
		return 1
	}
	grep -E '^tps' <<<"$out" | head -1 >"$work/pgbench.tps"
	[ "$(lock_holder)" = "$leader" ] && [ "$(lock_annotation transitions)" = "$transitions" ] &&
		[ "$(kn get pods -l "$MEMBERS" -o jsonpath='{.items[*].status.containerStatuses[0].restartCount}')" = "$restarts" ] || {
		echo "leader $leader -> $(lock_holder), transitions $transitions -> $(lock_annotation transitions)"
		return 1
	}
}
tap_check "fast timing: no leader change and no restart under 45 s of pgbench load" no_failover_under_load
[ -s "$work/pgbench.tps" ] && comment "pgbench, 8 clients over TLS through hippo-primary for 45 s: $(cat "$work/pgbench.tps")"

no_forbidden() {
	local p out
	for p in "$pod1" "$pod2"; do
		out=$({
			kn logs "$p" -c database --previous 2>/dev/null
			kn logs "$p" -c database 2>&1
		} | grep -i 'forbidden' | head -3)
		[ -z "$out" ] || {
			echo "$p: $out"
			return 1
		}
	done
}
tap_check "Patroni's logs show no request refused by the API server (RBAC)" no_forbidden

comment "total time $SECONDS s"
tap_done
