#!/usr/bin/env bash
# The seed's first tutorials, command by command, on the local cluster with
# the operator image: "Quickstart", "Create a Postgres Cluster", "Connect to
# a Postgres Cluster" and "High Availability". Each seed command runs as
# written (kubectl by name, namespace postgres-operator, the seed's
# selectors and go-templates), and is followed by a check of the outcome
# the seed describes:
#
#  - install: the operator pod Running, found by the seed's selector;
#  - create: hippo's instance pod Ready and labelled role=master, the five
#    Services of the seed's listing, the Secret hippo-pguser-hippo with the
#    seed's keys;
#  - connect: the seed's port-forward to the role=master pod and its
#    `psql -h localhost` with PGUSER, PGPASSWORD and PGDATABASE read from the
#    Secret (TLS is used); psql with the Secret's uri over sslmode=verify-full
#    against the root CA of Secret pgo-root-cacert, through the same
#    port-forward (host hippo-primary.postgres-operator.svc, PGHOSTADDR
#    127.0.0.1); a wrong host name and a non-TLS connection are refused; an
#    in-cluster Job connects with the Secret's keys (env valueFrom
#    secretKeyRef) and with its uri, as the seed's Keycloak example does;
#    a password cleared in the Secret is replaced and only the new one works;
#  - self-healing: Secret hippo-pguser-hippo deleted comes back (new uid,
#    controlled by hippo) with every key and a new password, which logs in
#    while the old one no longer does; ConfigMaps hippo-config (Patroni) and
#    hippo-pgbackrest-config deleted come back with the same data while the
#    primary serves writes without a restart; WAL is still archived;
#  - high availability: spec.instances[0].replicas set to 2 in a copy of
#    kustomize/postgres and re-applied; a master and a replica that streams;
#    Test #1, the hippo-primary Service deleted and recreated; the primary
#    pod deleted while a client writes in a loop; Test #2, the primary's
#    StatefulSet deleted (the seed's PRIMARY_POD commands) and recreated.
#    After each failover: the other instance is role=master and
#    `SELECT NOT pg_catalog.pg_is_in_recovery()` says so through
#    hippo-primary, every Service follows the new primary (hippo-ha's
#    Endpoints, hippo-primary -> hippo-ha, hippo-replicas holds replicas
#    only), writes made before it survive, and the old primary comes back
#    as a replica;
#  - scaling: replicas 2 -> 3 (three pods Ready, the master unchanged, two
#    replicas streaming in its pg_stat_replication, the rows written before
#    in each instance's own data, status 3/3, hippo-replicas on both
#    replicas), then 3 -> 1: the master's pod alone remains, on the same
#    StatefulSet and pgdata PVC, with its data; the other instances'
#    StatefulSets, PVCs, ConfigMaps, Secrets and pods are gone; status 1/1;
#    hippo-replicas without endpoints;
#  - the seed's uninstall: hippo and everything it owned go, then the
#    operator and its namespace.
#
# Measured write gaps and scaling times are TAP comments; no check judges
# speed. Waits are bounded generously (a first start may take minutes).
#
# The operator image must be imported (make check does: make
# operator-image). Environment: TUTORIALS_KEEP=1 leaves the operator and
# hippo running at the end (no uninstall).
# shellcheck source=../lib/tap.sh
source "$(dirname "$0")/../lib/tap.sh"
# shellcheck source=../lib/kube.sh
source "$(dirname "$0")/../lib/kube.sh"
# shellcheck source=../lib/e2e.sh
source "$(dirname "$0")/../lib/e2e.sh"
e2e_prepare
export PGPASSFILE=/dev/null

NS=postgres-operator
L=postgres-operator.crunchydata.com
IMAGE=$POSTGRES_17_IMAGE
SECRET=hippo-pguser-hippo
work=$(mktemp -d)
pf_pid='' writer_pid='' uninstalled=0

# --- helpers --------------------------------------------------------------------

uninstall() {
	kubectl delete -k kustomize/postgres --ignore-not-found --wait=true --timeout=180s >/dev/null 2>&1
	uninstall_operator
}

stop_forward() {
	if [ -n "$pf_pid" ]; then
		kill "$pf_pid" 2>/dev/null
		wait "$pf_pid" 2>/dev/null
		grep -c 'lost connection to pod' "$work/pf.log" >>"$work/pf.restarts"
	fi
	pf_pid=''
}

cleanup() {
	stop_forward
	[ -n "$writer_pid" ] && kill "$writer_pid" 2>/dev/null
	if [ "${TUTORIALS_KEEP:-0}" != 1 ] && [ "$uninstalled" = 0 ]; then
		uninstall
	fi
	rm -rf "$work"
}
trap cleanup EXIT

# The state of everything, for a failure's comment: hippo's objects, its
# status, recent events, the operator's log, and unready instance pods.
diagnose() {
	echo "--- kubectl -n $NS get postgrescluster,sts,pods,svc,pvc,jobs,secrets"
	kn get postgresclusters,statefulsets,pods,services,persistentvolumeclaims,jobs,secrets \
		-o wide -L "$L/role" 2>&1 | head -60
	echo "--- endpoints"
	kn get endpoints 2>/dev/null | head -15
	echo "--- hippo .status"
	kn get postgrescluster hippo -o jsonpath='{.status}' 2>&1 | head -c 2500
	echo
	diagnose_operator 30
	if [ -n "$pf_pid" ]; then
		echo "--- kubectl port-forward (pid $pf_pid, $(kill -0 "$pf_pid" 2>/dev/null && echo running || echo exited))"
		tail -5 "$work/pf.log"
	fi
	local p
	for p in $(kn get pods -l "$L/cluster=hippo" -o jsonpath='{range .items[*]}{.metadata.name}{" "}{end}' 2>/dev/null); do
		diagnose_unready "$p"
	done
}

# secret_value KEY: the seed's go-template read of the user Secret.
secret_value() {
	kubectl get secrets -n "$NS" "$SECRET" -o go-template="{{index .data \"$1\" | base64decode}}"
}
# endpoint_ips NAME: the addresses of Endpoints NAME, sorted, one line.
endpoint_ips() {
	kn get endpoints "$1" -o jsonpath='{range .subsets[*].addresses[*]}{.ip}{"\n"}{end}' 2>/dev/null |
		sort | tr '\n' ' ' | sed 's/ $//'
}
cluster_ip() { kn get service "$1" -o jsonpath='{.spec.clusterIP}' 2>/dev/null; }

# free_port: the seed's local port 5432 if it is free, else a free one.
free_port() {
	local p
	for p in 5432 $(seq 15432 15532); do
		[ -n "$(ss -Hltn "sport = :$p" 2>/dev/null)" ] || {
			echo "$p"
			return 0
		}
	done
	return 1
}

# The seed's port-forward to the role=master pod; sets LPORT. kubectl (since
# 1.23) exits when a forwarded connection is reset, and psql resets its TLS
# connections as it closes them (kubernetes/kubectl#1169; PGO's issue
# #3547): so the port-forward runs in a loop that starts it again, on the
# same local port, each time it exits.
start_forward() {
	local pod
	stop_forward
	# The seed's commands.
	PG_CLUSTER_PRIMARY_POD=$(kubectl get pod -n postgres-operator -o name \
		-l postgres-operator.crunchydata.com/cluster=hippo,postgres-operator.crunchydata.com/role=master)
	pod=$PG_CLUSTER_PRIMARY_POD
	[ -n "$pod" ] && [ "$(wc -w <<<"$pod")" = 1 ] || {
		echo "pods labelled role=master: '$pod'"
		return 1
	}
	LPORT=$(free_port) || {
		echo "no free local port"
		return 1
	}
	: >"$work/pf.log"
	(
		child=''
		trap 'kill $child 2>/dev/null; exit 0' TERM
		while :; do
			kubectl -n postgres-operator port-forward "$pod" "$LPORT:5432" >>"$work/pf.log" 2>&1 &
			child=$!
			wait "$child"
			sleep 0.2
		done
	) &
	pf_pid=$!
	retry_until 30 grep -q "^Forwarding from 127.0.0.1:$LPORT " "$work/pf.log" || {
		echo "port-forward to $pod did not start:"
		cat "$work/pf.log"
		return 1
	}
	echo "forwarding 127.0.0.1:$LPORT to $pod"
}

# forwarded CMD...: CMD (a psql through the port-forward), again while the
# forward is between two kubectl runs: kubectl exits as the previous
# session's TLS connection is reset, and the loop above needs a moment to
# listen again. Output and status are the last run's.
forward_listening() { [ -n "$(ss -Hltn "sport = :$LPORT" 2>/dev/null)" ]; }
forwarded() {
	local i out rc
	for i in 1 2 3 4 5 6 7 8 9 10; do
		out=$("$@" 2>&1)
		rc=$?
		grep -q 'Connection refused' <<<"$out" || break
		retry_until 5 forward_listening
		sleep 0.3
	done
	printf '%s\n' "$out"
	return "$rc"
}

# vf ARGS...: psql with the Secret's uri over verify-full against the root
# CA, to the name in the uri (hippo-primary.postgres-operator.svc), reached
# at 127.0.0.1 through the port-forward.
vf() {
	local uri
	uri=$(secret_value uri) || return 1
	[ "$LPORT" = 5432 ] || uri="$uri$([[ $uri == *\?* ]] && echo '&' || echo '?')port=$LPORT"
	PGHOSTADDR=127.0.0.1 PGSSLMODE=verify-full PGSSLROOTCERT=$work/root.crt PGCONNECT_TIMEOUT=5 \
		forwarded psql "$uri" -XAtq -v ON_ERROR_STOP=1 "$@"
}

# csql ARGS...: psql in the client pod (the Secret's keys, verify-full,
# hippo-primary unless ARGS name another host).
csql() { timeout 60 kubectl -n "$NS" exec tutorial-client -- psql -XAtq -v ON_ERROR_STOP=1 "$@"; }

# --- preconditions ------------------------------------------------------------------

require_cluster
check "the operator image and $IMAGE are in the cluster's containerd" 0 images_present
uninstall

# --- Quickstart: install ------------------------------------------------------------------

install_operator
operator_running() {
	local out
	out=$(kubectl -n postgres-operator get pods \
		--selector=postgres-operator.crunchydata.com/control-plane=postgres-operator \
		--field-selector=status.phase=Running --no-headers)
	echo "$out"
	[ "$(grep -c . <<<"$out")" = 1 ]
}
check "the seed's status command shows one operator pod Running" 30 operator_running ||
	bail "the operator does not run"

# --- Create a Postgres Cluster ----------------------------------------------------------

t_apply=$(now)
check "kubectl apply -k kustomize/postgres" 0 kubectl apply -k kustomize/postgres ||
	bail "hippo could not be created"
describe_hippo() {
	local out
	out=$(kubectl -n postgres-operator describe postgresclusters.postgres-operator.crunchydata.com hippo) || return 1
	grep -qE '^Name: +hippo$' <<<"$out" && grep -qE '^Kind: +PostgresCluster$' <<<"$out" || {
		echo "$out" | head -20
		return 1
	}
}
check "kubectl -n postgres-operator describe postgresclusters.postgres-operator.crunchydata.com hippo" 0 describe_hippo

# The seed's "track the state of the Postgres Pod" command, until its one
# pod is Ready and Patroni has labelled it master.
first_instance_ready() {
	local out pod
	out=$(kubectl -n postgres-operator get pods \
		--selector=postgres-operator.crunchydata.com/cluster=hippo,postgres-operator.crunchydata.com/instance \
		-o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}')
	[ "$(grep -c . <<<"$out")" = 1 ] || {
		echo "instance pods: '$out'"
		return 1
	}
	pod=$out
	[ "$(ready_of "$pod")" = True ] && [ "$(role_of "$pod")" = master ] || {
		echo "$pod: Ready=$(ready_of "$pod") role=$(role_of "$pod")"
		return 1
	}
}
check "hippo's instance pod (the seed's selector) is Ready and labelled role=master" 420 first_instance_ready ||
	bail "hippo has no running instance"
comment "$(kubectl -n postgres-operator get pods \
	--selector=postgres-operator.crunchydata.com/cluster=hippo,postgres-operator.crunchydata.com/instance \
	-L "$L/role" 2>&1)"
comment "apply to instance Ready: $(elapsed "$t_apply") s"

# status_ready N: hippo's status counts N ready replicas in instance1.
status_ready() {
	local ready
	ready=$(kn get postgrescluster hippo -o jsonpath='{.status.instances[?(@.name=="instance1")].readyReplicas}')
	[ "$ready" = "$1" ] || {
		echo "status.instances[instance1].readyReplicas is '$ready'"
		kn get postgrescluster hippo -o jsonpath='{.status}'
		return 1
	}
}
check "hippo's status reports instance1 with 1 ready replica" 60 status_ready 1

repo_host_ready() {
	[ "$(ready_of hippo-repo-host-0)" = True ] || {
		echo "pod hippo-repo-host-0: Ready=$(ready_of hippo-repo-host-0)"
		return 1
	}
}
check "the pgBackRest repository host of spec.backups (hippo-repo-host-0) is Ready" 180 repo_host_ready

# --- Connect to a Postgres Cluster --------------------------------------------------------

seed_services() {
	local out names
	out=$(kubectl -n postgres-operator get svc --selector=postgres-operator.crunchydata.com/cluster=hippo)
	echo "$out"
	names=$(kn get svc -l "$L/cluster=hippo" -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}' | sort |
		tr '\n' ' ')
	for s in hippo-ha hippo-ha-config hippo-pods hippo-primary hippo-replicas; do
		[[ " $names" == *" $s "* ]] || {
			echo "Service $s is missing"
			return 1
		}
	done
	# As in the seed's listing: hippo-primary, hippo-pods and hippo-ha-config
	# headless; hippo-ha and hippo-replicas with a ClusterIP; 5432 on three.
	[ "$(cluster_ip hippo-primary)" = None ] && [ "$(cluster_ip hippo-pods)" = None ] &&
		[ "$(cluster_ip hippo-ha-config)" = None ] || {
		echo "hippo-primary, hippo-pods and hippo-ha-config must be headless"
		return 1
	}
	[[ $(cluster_ip hippo-ha) =~ ^[0-9.]+$ ]] && [[ $(cluster_ip hippo-replicas) =~ ^[0-9.]+$ ]] || {
		echo "hippo-ha and hippo-replicas must have a ClusterIP"
		return 1
	}
	for s in hippo-ha hippo-primary hippo-replicas; do
		[ "$(kn get svc "$s" -o jsonpath='{.spec.ports[0].port}/{.spec.ports[0].protocol}')" = 5432/TCP ] || {
			echo "Service $s does not serve 5432/TCP"
			return 1
		}
	done
}
check "the seed's Service listing: hippo-ha, hippo-ha-config, hippo-pods, hippo-primary, hippo-replicas" 60 seed_services

user_secret() {
	local key value uri user dbname
	for key in user password dbname host port uri jdbc-uri verifier; do
		value=$(secret_value "$key" 2>/dev/null)
		[ -n "$value" ] || {
			echo "key $key of Secret $SECRET is missing or empty"
			return 1
		}
	done
	user=$(secret_value user) dbname=$(secret_value dbname) uri=$(secret_value uri)
	[ "$user" = hippo ] && [ "$dbname" = hippo ] || {
		echo "user '$user', dbname '$dbname' (the default user and database are the cluster's name)"
		return 1
	}
	[ "$(secret_value host)" = hippo-primary.postgres-operator.svc ] && [ "$(secret_value port)" = 5432 ] || {
		echo "host '$(secret_value host)', port '$(secret_value port)'"
		return 1
	}
	[[ $uri == "postgresql://$user:"*"@hippo-primary.postgres-operator.svc:5432/$dbname" ]] || {
		echo "uri has the form '$(sed -E 's#(://[^:]*:)[^@]*@#\1***@#' <<<"$uri")'"
		return 1
	}
	[[ $(secret_value jdbc-uri) == "jdbc:postgresql://hippo-primary.postgres-operator.svc:5432/$dbname?"* ]] || {
		echo "jdbc-uri has the form '$(secret_value jdbc-uri | sed -E 's/password=[^&]*/password=***/')'"
		return 1
	}
}
check "Secret hippo-pguser-hippo holds user, password, dbname, host, port, uri, jdbc-uri (and verifier)" 120 \
	user_secret || bail "no user Secret to connect with"

root_ca() {
	local ca
	ca=$(kn get secret pgo-root-cacert -o go-template='{{index .data "root.crt" | base64decode}}' 2>/dev/null)
	[ -n "$ca" ] || ca=$(kn get secret pgo-root-cacert -o go-template='{{index .data "ca.crt" | base64decode}}' 2>/dev/null)
	[ -n "$ca" ] || {
		echo "Secret pgo-root-cacert has neither root.crt nor ca.crt"
		return 1
	}
	printf '%s\n' "$ca" >"$work/root.crt"
	openssl x509 -in "$work/root.crt" -noout -subject
}
check "Secret pgo-root-cacert holds the root CA certificate" 60 root_ca

check "the seed's port-forward to the role=master pod" 0 start_forward || bail "no port-forward"

# The seed's psql, as written (sslmode left to libpq's default).
seed_psql() {
	local out
	PG_CLUSTER_USER_SECRET_NAME=hippo-pguser-hippo
	out=$(PGPASSWORD=$(kubectl get secrets -n postgres-operator "${PG_CLUSTER_USER_SECRET_NAME}" -o go-template='{{.data.password | base64decode}}') \
		PGUSER=$(kubectl get secrets -n postgres-operator "${PG_CLUSTER_USER_SECRET_NAME}" -o go-template='{{.data.user | base64decode}}') \
		PGDATABASE=$(kubectl get secrets -n postgres-operator "${PG_CLUSTER_USER_SECRET_NAME}" -o go-template='{{.data.dbname | base64decode}}') \
		PGPORT=$LPORT PGCONNECT_TIMEOUT=5 \
		forwarded psql -h localhost -XAt -v ON_ERROR_STOP=1 \
		-c "SELECT current_user, current_database(), ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()" 2>&1)
	echo "$out"
	[ "$out" = "hippo|hippo|t" ]
}
check "the seed's 'psql -h localhost' with PGUSER, PGPASSWORD, PGDATABASE from the Secret connects over TLS" 30 seed_psql

verify_full() {
	local out
	out=$(vf -c "SELECT current_user, current_database(), ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()" 2>&1)
	echo "$out"
	[ "$out" = "hippo|hippo|t" ]
}
check "psql with the Secret's uri over sslmode=verify-full (root CA of pgo-root-cacert)" 30 verify_full

wrong_name() {
	local out
	out=$(PGPASSWORD=$(secret_value password) PGSSLMODE=verify-full PGSSLROOTCERT=$work/root.crt \
		PGCONNECT_TIMEOUT=5 forwarded psql -h localhost -p "$LPORT" -U hippo -d hippo -XAtc 'SELECT 1' 2>&1) && {
		echo "verify-full accepted the name localhost: $out"
		return 1
	}
	echo "$out"
	grep -q 'does not match host name' <<<"$out"
}
check "verify-full refuses a name the server certificate does not carry (localhost)" 30 wrong_name

no_plaintext() {
	local out
	out=$(PGPASSWORD=$(secret_value password) PGSSLMODE=disable PGCONNECT_TIMEOUT=5 \
		forwarded psql -h localhost -p "$LPORT" -U hippo -d hippo -XAtc 'SELECT 1' 2>&1) && {
		echo "a connection without TLS was accepted: $out"
		return 1
	}
	echo "$out"
	grep -q 'pg_hba.conf' <<<"$out"
}
check "all connections use TLS: one without is refused by pg_hba" 30 no_plaintext

setup_table() {
	vf -c "CREATE SCHEMA IF NOT EXISTS e2e" \
		-c "CREATE TABLE IF NOT EXISTS e2e.writes (label text, n int,
		    at timestamptz NOT NULL DEFAULT clock_timestamp(), PRIMARY KEY (label, n))" \
		-c "INSERT INTO e2e.writes (label, n) VALUES ('quickstart', 1) ON CONFLICT DO NOTHING"
}
check "the user creates a table and writes a row through verify-full" 30 setup_table

# A password rotated as PGO documents it: clear "password" in the user Secret; the operator writes a new one (and its
# uri, jdbc-uri and verifier) and sets the verifier in Postgres. The old password stops working.
old_password=$(secret_value password)
rotated() {
	local now out
	now=$(secret_value password)
	if [ -z "$now" ] || [ "$now" = "$old_password" ]; then
		echo "the Secret's password has not been replaced yet"
		return 1
	fi
	vf -c "SELECT 1" || {
		echo "the new password does not log in (yet)"
		return 1
	}
	out=$(PGPASSWORD=$old_password PGSSLMODE=verify-full PGSSLROOTCERT=$work/root.crt PGHOSTADDR=127.0.0.1 \
		PGCONNECT_TIMEOUT=5 forwarded psql -h hippo-primary.postgres-operator.svc -p "$LPORT" -U hippo -d hippo -XAtc 'SELECT 1' 2>&1) && {
		echo "the old password still logs in"
		return 1
	}
	grep -q 'password authentication failed' <<<"$out" || {
		echo "unexpected: $out"
		return 1
	}
}
if kn patch secret "$SECRET" -p '{"data":{"password":""}}' >/dev/null; then
	check "a password cleared in the Secret is replaced, and only the new one logs in" 90 rotated
else
	tap_fail "a password cleared in the Secret is replaced" "kubectl patch secret failed"
fi

# --- Self-healing: a deleted Secret or ConfigMap comes back ---------------------------------

# pgx POD ARGS...: psql as postgres in POD's database container (its socket, database hippo).
pgx() { timeout 60 kubectl -n "$NS" exec "$1" -c database -- psql -d hippo -XAtq -v ON_ERROR_STOP=1 "${@:2}"; }
# restarts POD: the restart counts of POD's containers, one line.
restarts() { kn get pod "$1" -o jsonpath='{range .status.containerStatuses[*]}{.name}={.restartCount} {end}' 2>/dev/null; }
# data_digest KIND NAME: a digest of the data of KIND NAME (empty when it has none).
data_digest() {
	local data
	data=$(kn get "$1" "$2" -o jsonpath='{.data}' 2>/dev/null)
	[ -n "$data" ] && sha256sum <<<"$data" | cut -c1-16
}
# recreated KIND NAME UID: KIND NAME exists again, under a uid other than UID, controlled by PostgresCluster hippo.
recreated() {
	local uid owner
	uid=$(uid_of "$1" "$2")
	[ -n "$uid" ] && [ "$uid" != "$3" ] || {
		echo "$1 $2: uid '$uid' (was $3)"
		return 1
	}
	owner=$(kn get "$1" "$2" -o jsonpath='{range .metadata.ownerReferences[?(@.controller==true)]}{.kind}/{.name}{end}')
	[ "$owner" = PostgresCluster/hippo ] || {
		echo "$1 $2 is controlled by '$owner'"
		return 1
	}
}

# The user Secret deleted: the operator writes it again. The password went with it, so the operator generates a new
# one, as PGO does, and sets its verifier in Postgres: the new password logs in, the old one no longer does.
heal_secret() {
	local uid
	uid=$(uid_of secret "$SECRET")
	old_password=$(secret_value password)
	[ -n "$uid" ] && [ -n "$old_password" ] || {
		tap_fail "Secret $SECRET deleted" "the Secret is not there to delete"
		return 1
	}
	check "kubectl -n postgres-operator delete secret $SECRET" 0 kn delete secret "$SECRET" || return 1
	secret_back() { recreated secret "$SECRET" "$uid" && user_secret; }
	check "the operator recreates Secret $SECRET (new uid, controlled by hippo) with every key" 120 secret_back ||
		return 1
	check "the recreated Secret's new password logs in (verify-full), the old one no longer does" 90 rotated
}
heal_secret

# A ConfigMap deleted: the operator writes it again with the same data; the pods that mount it keep their copy, so
# the database serves throughout and after.
serving_row=0
serving() {
	local pod=$1 pod_uid=$2 pod_restarts=$3 out
	[ "$(uid_of pod "$pod")" = "$pod_uid" ] && [ "$(ready_of "$pod")" = True ] && [ "$(role_of "$pod")" = master ] &&
		[ "$(restarts "$pod")" = "$pod_restarts" ] || {
		echo "$pod: uid $(uid_of pod "$pod") (was $pod_uid), Ready=$(ready_of "$pod"), role=$(role_of "$pod"),"
		echo "restarts '$(restarts "$pod")' (were '$pod_restarts')"
		return 1
	}
	serving_row=$((serving_row + 1))
	out=$(vf -c "INSERT INTO e2e.writes (label, n) VALUES ('serving', $serving_row)" \
		-c "SELECT count(*) FROM e2e.writes WHERE label IN ('quickstart', 'serving')" 2>&1)
	[ "$out" = $((serving_row + 1)) ] || {
		echo "write and read through verify-full: '$out'"
		return 1
	}
}
heal_configmap() {
	local cm=$1 what=$2 uid digest pod pod_uid pod_restarts
	uid=$(uid_of configmap "$cm") digest=$(data_digest configmap "$cm")
	pod=$(pods_with_role hippo master)
	pod_uid=$(uid_of pod "$pod") pod_restarts=$(restarts "$pod")
	[ -n "$uid" ] && [ -n "$digest" ] && [ -n "$pod_uid" ] || {
		tap_fail "ConfigMap $cm deleted" "ConfigMap $cm (uid '$uid', data digest '$digest') or the primary ('$pod') is missing"
		return 1
	}
	check "kubectl -n postgres-operator delete configmap $cm ($what)" 0 kn delete configmap "$cm" || return 1
	configmap_back() {
		recreated configmap "$cm" "$uid" || return 1
		[ "$(data_digest configmap "$cm")" = "$digest" ] || {
			echo "data digest $(data_digest configmap "$cm"), was $digest"
			return 1
		}
	}
	check "the operator recreates ConfigMap $cm (new uid, controlled by hippo) with the same data" 120 configmap_back
	check "after ConfigMap $cm is gone and back, $pod serves writes (not restarted)" 30 \
		serving "$pod" "$pod_uid" "$pod_restarts"
}
heal_configmap hippo-config "Patroni's cluster configuration"
heal_configmap hippo-pgbackrest-config "pgBackRest's configuration"

# Archiving goes on through pgBackRest's recreated configuration: a WAL segment switched after it is archived.
archiving() {
	local pod before after
	pod=$(pods_with_role hippo master)
	before=$(pgx "$pod" -c "SELECT archived_count FROM pg_stat_archiver") || return 1
	pgx "$pod" -c "INSERT INTO e2e.writes (label, n) VALUES ('archive', $((RANDOM * 32768 + RANDOM)))" \
		-c "SELECT pg_switch_wal()" >/dev/null || return 1
	archived_more() {
		local n
		n=$(pgx "$pod" -c "SELECT archived_count FROM pg_stat_archiver") && [ "$n" -gt "$before" ]
	}
	retry_until 60 archived_more
	after=$(pgx "$pod" -c "SELECT archived_count || ' archived, ' || failed_count || ' failed, last failure: ' ||
		coalesce(last_failed_wal, '-') FROM pg_stat_archiver")
	echo "$pod: $after (before the switch: $before archived)"
	[ "${after%% *}" -gt "$before" ]
}
check "a WAL segment switched after the pgBackRest ConfigMap came back is archived (pg_stat_archiver)" 0 archiving

# Connect an Application: the seed's Keycloak reads the Secret's keys
# through env valueFrom secretKeyRef. Its image is not reachable here; a Job
# with our postgres image connects the same way, with the keys and with the
# uri ("Connect Directly": the cluster's own network).
application_job() {
	kn delete job tutorial-connect --ignore-not-found --wait=true >/dev/null 2>&1
	kubectl apply --filename=- <<-EOF || return 1
		apiVersion: batch/v1
		kind: Job
		metadata:
		  name: tutorial-connect
		  namespace: postgres-operator
		spec:
		  backoffLimit: 2
		  template:
		    spec:
		      restartPolicy: Never
		      enableServiceLinks: false
		      automountServiceAccountToken: false
		      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
		      containers:
		        - name: psql
		          image: $IMAGE
		          imagePullPolicy: IfNotPresent
		          command:
		            - bash
		            - -ec
		            - |
		              psql -XAt -v ON_ERROR_STOP=1 -c "SELECT 'keys', current_user, current_database(), ssl,
		                NOT pg_catalog.pg_is_in_recovery() FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
		              env -u PGHOST -u PGPORT -u PGUSER -u PGPASSWORD -u PGDATABASE psql "\$URI" -XAt \\
		                -v ON_ERROR_STOP=1 -c "SELECT 'uri', current_user, current_database(), ssl,
		                NOT pg_catalog.pg_is_in_recovery() FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
		          env:
		            - name: PGHOST
		              valueFrom: { secretKeyRef: { name: hippo-pguser-hippo, key: host } }
		            - name: PGPORT
		              valueFrom: { secretKeyRef: { name: hippo-pguser-hippo, key: port } }
		            - name: PGDATABASE
		              valueFrom: { secretKeyRef: { name: hippo-pguser-hippo, key: dbname } }
		            - name: PGUSER
		              valueFrom: { secretKeyRef: { name: hippo-pguser-hippo, key: user } }
		            - name: PGPASSWORD
		              valueFrom: { secretKeyRef: { name: hippo-pguser-hippo, key: password } }
		            - name: URI
		              valueFrom: { secretKeyRef: { name: hippo-pguser-hippo, key: uri } }
		            - {name: PGSSLMODE, value: verify-full}
		            - {name: PGSSLROOTCERT, value: /pgconf/ca.crt}
		            - {name: PGCONNECT_TIMEOUT, value: "5"}
		$(container_security 10)
		          volumeMounts:
		            - {name: ca, mountPath: /pgconf, readOnly: true}
		      volumes:
		        - name: ca
		          secret:
		            secretName: pgo-root-cacert
		            items: [{key: root.crt, path: ca.crt}]
	EOF
	# Complete, or Failed once its retries are spent.
	job_done() {
		kn get job tutorial-connect -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type}{"\n"}{end}' |
			grep -xE 'Complete|Failed' >/dev/null
	}
	retry_until 240 job_done
	[ "$(kn get job tutorial-connect -o jsonpath='{.status.succeeded}')" = 1 ] || {
		kn get job tutorial-connect 2>&1
		kn logs -l job-name=tutorial-connect --tail=4 --prefix 2>&1 | tail -12
		return 1
	}
	local out
	out=$(kn logs -l job-name=tutorial-connect --tail=-1)
	echo "$out"
	grep -qxF 'keys|hippo|hippo|t|t' <<<"$out" && grep -qxF 'uri|hippo|hippo|t|t' <<<"$out"
}
check "an in-cluster Job connects with the Secret's keys (env valueFrom secretKeyRef) and its uri, verify-full" 0 \
	application_job
tap_skip "the seed's Keycloak Deployment" "quay.io/keycloak/keycloak cannot be pulled here; the Job above connects the same way"

# A client pod like the application, for the HA tests: the Secret's keys,
# verify-full, and test/e2e/patroni/writer.sh to write in a loop.
client_pod() {
	kn create configmap tutorial-writer --from-file=writer.sh=test/e2e/patroni/writer.sh \
		--dry-run=client -o yaml | kubectl apply -f - >/dev/null || return 1
	sleeper_pod tutorial-client psql <<-EOF | kubectl apply --filename=- || return 1
		      env:
		        - name: PGHOST
		          valueFrom: { secretKeyRef: { name: hippo-pguser-hippo, key: host } }
		        - name: PGPORT
		          valueFrom: { secretKeyRef: { name: hippo-pguser-hippo, key: port } }
		        - name: PGDATABASE
		          valueFrom: { secretKeyRef: { name: hippo-pguser-hippo, key: dbname } }
		        - name: PGUSER
		          valueFrom: { secretKeyRef: { name: hippo-pguser-hippo, key: user } }
		        - name: PGPASSWORD
		          valueFrom: { secretKeyRef: { name: hippo-pguser-hippo, key: password } }
		        - {name: PGSSLMODE, value: verify-full}
		        - {name: PGSSLROOTCERT, value: /pgconf/ca.crt}
		        - {name: PGCONNECT_TIMEOUT, value: "2"}
		        - {name: PGOPTIONS, value: "-c search_path=e2e"}
		        - {name: PGAPPNAME, value: tutorial-client}
		      volumeMounts:
		        - {name: ca, mountPath: /pgconf, readOnly: true}
		        - {name: writer, mountPath: /opt/writer, readOnly: true}
		        - {name: tmp, mountPath: /tmp}
		  volumes:
		    - name: ca
		      secret:
		        secretName: pgo-root-cacert
		        items: [{key: root.crt, path: ca.crt}]
		    - name: writer
		      configMap: {name: tutorial-writer, defaultMode: 0755}
		    - name: tmp
		      emptyDir: {sizeLimit: 64Mi}
	EOF
	kn wait --for=condition=Ready pod/tutorial-client --timeout=120s >/dev/null || return 1
	local out
	out=$(csql -c "SELECT count(*) FROM writes WHERE label = 'quickstart'" 2>&1)
	[ "$out" = 1 ] || {
		echo "the client reads '$out' through hippo-primary"
		return 1
	}
}
check "a client pod reads the row through hippo-primary (Secret's keys, verify-full)" 60 client_pod ||
	bail "no client pod for the HA tests"

# --- High Availability: two replicas ---------------------------------------------------

# The seed: "set spec.instances.replicas to 2", then apply kustomize/postgres.
# The edit is made on a copy, so the work tree stays as it is.
edit_manifest() {
	cp -r kustomize/postgres "$work/postgres" &&
		sed -i 's/^\( *\)- name: instance1$/&\n\1  replicas: 2/' "$work/postgres/postgres.yaml" &&
		diff kustomize/postgres/postgres.yaml "$work/postgres/postgres.yaml"
	[ "$(grep -cE '^ +replicas: 2$' "$work/postgres/postgres.yaml")" = 1 ]
}
check "the manifest is edited: spec.instances[0].replicas: 2" 0 edit_manifest || bail "could not edit the manifest"
check "kubectl apply -k kustomize/postgres (with replicas: 2)" 0 kubectl apply -k "$work/postgres"

one_master_one_replica() { instances_ready hippo 2; }
# replicated LABEL: a row written through hippo-primary is read back
# through hippo-replicas, from a server in recovery.
replicated() {
	local n out
	n=$((RANDOM * 32768 + RANDOM))
	csql -c "INSERT INTO writes (label, n) VALUES ('$1', $n)" || return 1
	out=$(csql "host=hippo-replicas.postgres-operator.svc" \
		-c "SELECT pg_is_in_recovery(), count(*) FROM writes WHERE label = '$1' AND n = $n" 2>&1)
	[ "$out" = "t|1" ] || {
		echo "through hippo-replicas: '$out'"
		return 1
	}
}
healthy() { one_master_one_replica && replicated sync; }

check "a second instance starts: one pod role=master, one role=replica, both Ready" 420 one_master_one_replica ||
	bail "no second instance"
comment "$(kubectl -n postgres-operator get pods \
	--selector=postgres-operator.crunchydata.com/cluster=hippo,postgres-operator.crunchydata.com/instance-set \
	-L "$L/role" 2>&1)"
check "the replica streams: a row written through hippo-primary is read through hippo-replicas" 180 \
	replicated sync || bail "the replica does not stream"
check "hippo's status reports instance1 with 2 ready replicas" 60 status_ready 2

# --- Test #1: Remove a Service -----------------------------------------------------------

# services_follow PRIMARY: hippo-ha's Endpoints hold PRIMARY's address,
# hippo-primary's hold hippo-ha's ClusterIP (and its name resolves to it in
# the cluster), hippo-replicas' hold the replicas' addresses only, and
# each answers as what it is.
services_follow() {
	local primary=$1 ha replicas want_replicas p out
	ha=$(cluster_ip hippo-ha)
	[ "$(endpoint_ips hippo-ha)" = "$(pod_ip "$primary")" ] || {
		echo "hippo-ha Endpoints: '$(endpoint_ips hippo-ha)'; $primary has $(pod_ip "$primary")"
		return 1
	}
	[ "$(endpoint_ips hippo-primary)" = "$ha" ] || {
		echo "hippo-primary Endpoints: '$(endpoint_ips hippo-primary)'; hippo-ha's ClusterIP is $ha"
		return 1
	}
	out=$(timeout 30 kubectl -n "$NS" exec tutorial-client -- getent hosts hippo-primary.postgres-operator.svc |
		awk '{ print $1 }')
	[ "$out" = "$ha" ] || {
		echo "hippo-primary.postgres-operator.svc resolves to '$out'; hippo-ha's ClusterIP is $ha"
		return 1
	}
	want_replicas=$(for p in $(pods_with_role hippo replica); do printf "%s\n" "$(pod_ip "$p")"; done | sort | tr '\n' ' ' | sed 's/ $//')
	replicas=$(endpoint_ips hippo-replicas)
	[ -n "$want_replicas" ] && [ "$replicas" = "$want_replicas" ] || {
		echo "hippo-replicas Endpoints: '$replicas'; replica pods have '$want_replicas'"
		return 1
	}
	out=$(csql -c "SELECT NOT pg_catalog.pg_is_in_recovery() is_primary" 2>&1)
	[ "$out" = t ] || {
		echo "is_primary through hippo-primary: '$out'"
		return 1
	}
	out=$(csql "host=hippo-replicas.postgres-operator.svc" -c "SELECT pg_catalog.pg_is_in_recovery()" 2>&1)
	[ "$out" = t ] || {
		echo "in recovery through hippo-replicas: '$out'"
		return 1
	}
}

svc_uid=$(uid_of service hippo-primary)
comment "$(kubectl -n postgres-operator get svc --selector=postgres-operator.crunchydata.com/cluster=hippo 2>&1)"
check "kubectl -n postgres-operator delete svc hippo-primary" 0 kubectl -n postgres-operator delete svc hippo-primary
service_back() {
	local out uid
	out=$(kubectl -n postgres-operator get svc --selector=postgres-operator.crunchydata.com/cluster=hippo)
	echo "$out"
	uid=$(uid_of service hippo-primary)
	[ -n "$uid" ] && [ "$uid" != "$svc_uid" ] && [ "$(cluster_ip hippo-primary)" = None ]
}
check "the seed's selector lists hippo-primary again: the operator recreated it (new uid, headless)" 120 service_back
check "the recreated hippo-primary leads to the primary; every Service answers as before" 120 \
	services_follow "$(pods_with_role hippo master)"

# --- the primary pod deleted while a client writes -------------------------------------------

start_writer() {
	local label=$1
	(timeout 600 kubectl -n "$NS" exec tutorial-client -- /opt/writer/writer.sh "$label" 540 \
		>"$work/$label.log" 2>&1) &
	writer_pid=$!
	retry_until 30 grep -q '^ok ' "$work/$label.log"
}
stop_writer() {
	local label=$1
	sleep 3
	timeout 30 kubectl -n "$NS" exec tutorial-client -- touch "/tmp/stop-$label" >/dev/null 2>&1
	retry_until 30 grep -q '^done ' "$work/$label.log"
	kill "$writer_pid" 2>/dev/null
	wait "$writer_pid" 2>/dev/null
	writer_pid=
}
# writes_after LABEL EPOCH: a write was acknowledged that began after EPOCH.
writes_after() { awk -v t="$2" '$1 == "ok" && $3 > t { found = 1 } END { exit !found }' "$work/$1.log"; }
gap() {
	awk '$1 == "ok" { if (prev != "" && $4 - prev > max) max = $4 - prev; prev = $4 }
		END { printf "%.1f\n", max }' "$work/$1.log"
}
# kept LABEL EPOCH: every write acknowledged before EPOCH is in the table.
kept() {
	local missing
	missing=$(comm -23 <(awk -v t="$2" '$1 == "ok" && $4 < t { print $2 }' "$work/$1.log" | sort) \
		<(csql -c "SELECT n FROM writes WHERE label = '$1'" | sort))
	[ -z "$missing" ] || {
		echo "acknowledged before the event and missing now: $(tr '\n' ' ' <<<"$missing" | cut -c1-200)"
		return 1
	}
	[ "$(csql -c "SELECT count(*) FROM writes WHERE label = 'quickstart'")" = 1 ] || {
		echo "the quickstart row is gone"
		return 1
	}
}
report() {
	local label=$1 t0=$2 acked failed lost
	acked=$(grep -c '^ok ' "$work/$label.log")
	failed=$(grep -c '^fail ' "$work/$label.log")
	lost=$(comm -23 <(awk '$1 == "ok" { print $2 }' "$work/$label.log" | sort) \
		<(csql -c "SELECT n FROM writes WHERE label = '$label'" 2>/dev/null | sort) | grep -c .)
	echo "# $label: write gap $(gap "$label") s; $acked writes acknowledged, $lost of them missing afterwards, $failed attempts failed"
}
is_master() { [ "$(role_of "$1")" = master ] && [ "$(pods_with_role hippo master)" = "$1" ]; }
rejoined() {
	[ "$(ready_of "$1")" = True ] && [ "$(role_of "$1")" = replica ] && replicated sync
}

# failover_checks WHAT LABEL OLD NEW T0: after the primary OLD went away.
failover_checks() {
	local what=$1 label=$2 old=$3 new=$4 t0=$5 t1 ok=0
	if check "$what: $new becomes role=master" 180 is_master "$new"; then
		t1=$(now) ok=1
		check "$what: writes succeed again through hippo-primary" 90 writes_after "$label" "$t1"
	fi
	stop_writer "$label"
	[ "$ok" = 1 ] || return 1
	check "$what: every write acknowledged before it, and the quickstart row, survive" 0 kept "$label" "$t0"
	check "$what: $old comes back Ready as role=replica and streams" 420 rejoined "$old"
	check "$what: every Service follows the new primary" 60 services_follow "$new"
	report "$label" "$t0"
	comment "$(kubectl -n postgres-operator get pods \
		--selector=postgres-operator.crunchydata.com/cluster=hippo,postgres-operator.crunchydata.com/instance-set \
		-L "$L/role" 2>&1)"
}

pod_failover() {
	local old new t0
	check "pod deleted: the cluster is healthy and a client writes in a loop" 180 healthy || return 1
	old=$(pods_with_role hippo master) new=$(pods_with_role hippo replica)
	start_writer pod-delete || {
		tap_fail "pod deleted: the writer starts" "$(tail -5 "$work/pod-delete.log")"
		return 1
	}
	sleep 2
	t0=$(now)
	check "kubectl -n postgres-operator delete pod $old (the primary)" 0 \
		kubectl -n postgres-operator delete pod "$old" --wait=false || return 1
	failover_checks "pod deleted" pod-delete "$old" "$new" "$t0"
}
pod_failover

# --- Test #2: Remove the Primary StatefulSet ------------------------------------------------

sts_failover() {
	local old new t0 sts_uid other
	check "StatefulSet deleted: the cluster is healthy and a client writes in a loop" 180 healthy || return 1
	old=$(pods_with_role hippo master) new=$(pods_with_role hippo replica)
	# The seed's commands.
	PRIMARY_POD=$(kubectl -n postgres-operator get pods \
		--selector=postgres-operator.crunchydata.com/role=master \
		-o jsonpath='{.items[*].metadata.labels.postgres-operator\.crunchydata\.com/instance}')
	comment "echo \$PRIMARY_POD: $PRIMARY_POD"
	check "the seed's PRIMARY_POD is the primary's instance (StatefulSet) name" 0 \
		test "$PRIMARY_POD" = "$(instance_of "$old")" || return 1
	other=$(instance_of "$new")
	sts_uid=$(uid_of statefulset "$PRIMARY_POD")
	start_writer sts-delete || {
		tap_fail "StatefulSet deleted: the writer starts" "$(tail -5 "$work/sts-delete.log")"
		return 1
	}
	sleep 2
	t0=$(now)
	check "kubectl delete sts -n postgres-operator \"\${PRIMARY_POD}\"" 0 \
		kubectl delete sts -n postgres-operator "${PRIMARY_POD}" --wait=false || return 1
	sts_back() {
		local out uid
		out=$(kubectl get sts -n postgres-operator \
			--selector=postgres-operator.crunchydata.com/cluster=hippo,postgres-operator.crunchydata.com/instance)
		echo "$out"
		uid=$(uid_of statefulset "$PRIMARY_POD")
		[ -n "$uid" ] && [ "$uid" != "$sts_uid" ] && grep -q "^$other " <<<"$out"
	}
	check "the seed's StatefulSet listing shows $PRIMARY_POD recreated by the operator" 180 sts_back
	new_master() {
		local out
		out=$(kubectl -n postgres-operator get pods \
			--selector=postgres-operator.crunchydata.com/role=master \
			-o jsonpath='{.items[*].metadata.labels.postgres-operator\.crunchydata\.com/instance}')
		echo "$out"
		[ "$out" = "$other" ]
	}
	check "the seed's role=master command names the other instance, $other" 180 new_master
	failover_checks "StatefulSet deleted" sts-delete "$old" "$new" "$t0"
	# The seed: connect to the instance directly and ask.
	is_primary_direct() {
		local out
		start_forward || return 1
		out=$(vf -c "SELECT NOT pg_catalog.pg_is_in_recovery() is_primary" 2>&1)
		echo "$out"
		[ "$out" = t ]
	}
	check "the seed's 'SELECT NOT pg_catalog.pg_is_in_recovery() is_primary' on the new master (port-forward, verify-full)" \
		30 is_primary_direct
}
sts_failover

both_sts_ready() {
	local out
	out=$(kubectl get sts -n postgres-operator \
		--selector=postgres-operator.crunchydata.com/cluster=hippo,postgres-operator.crunchydata.com/instance)
	echo "$out"
	[ "$(kn get sts -l "$L/cluster=hippo,$L/instance" \
		-o jsonpath='{range .items[*]}{.status.readyReplicas}/{.spec.replicas}{"\n"}{end}' | grep -c '^1/1$')" = 2 ]
}
check "the StatefulSets of both instances are READY 1/1" 120 both_sts_ready

# --- Rolling update: a changed memory request --------------------------------------------------

# The seed's architecture section: a change to the pod template (its
# example: the memory request) is rolled out replicas first, then a
# switchover, then the former primary, so a primary always serves. The edit
# goes into the manifest copy as spec.instances[0].resources, re-applied.
set_memory() {
	sed -i "s/^\( *\)- name: instance1\$/&\n\1  resources:\n\1    requests:\n\1      memory: $1/" \
		"$work/postgres/postgres.yaml" || return 1
	diff kustomize/postgres/postgres.yaml "$work/postgres/postgres.yaml"
	[ "$(grep -cE "^ +memory: $1\$" "$work/postgres/postgres.yaml")" = 1 ]
}
# revisions: each instance pod's controller-revision-hash against its
# StatefulSet's updateRevision, one "pod=current/wanted" per line.
revisions() {
	local p sts
	for p in $(instance_pods hippo); do
		sts=$(instance_of "$p")
		echo "$p=$(kn get pod "$p" -o jsonpath='{.metadata.labels.controller-revision-hash}')/$(kn get sts "$sts" \
			-o jsonpath='{.status.updateRevision}')"
	done
}
# rolled MEMORY: every instance pod runs the new template (its revision is
# its StatefulSet's, and it requests MEMORY), two Ready, one master.
rolled() {
	local p out
	out=$(revisions)
	echo "$out"
	[ "$(grep -c . <<<"$out")" = 2 ] || return 1
	while IFS='=/' read -r p current wanted; do
		[ -n "$current" ] && [ "$current" = "$wanted" ] || return 1
		[ "$(kn get pod "$p" -o jsonpath='{.spec.containers[?(@.name=="database")].resources.requests.memory}')" = "$1" ] ||
			return 1
	done <<<"$out"
	instances_ready hippo 2
}
rolling_update() {
	local old_master old_replica t0 order
	check "rolling update: the cluster is healthy and a client writes in a loop" 180 healthy || return 1
	old_master=$(pods_with_role hippo master) old_replica=$(pods_with_role hippo replica)
	start_writer rolling || {
		tap_fail "rolling update: the writer starts" "$(tail -5 "$work/rolling.log")"
		return 1
	}
	sleep 2
	t0=$(now)
	check "the manifest is edited: spec.instances[0].resources.requests.memory: 256Mi" 0 set_memory 256Mi || return 1
	check "kubectl apply -k kustomize/postgres (with the memory request)" 0 kubectl apply -k "$work/postgres" || return 1
	check "both instance pods are replaced with the new template (256Mi), one master and one replica Ready" 420 \
		rolled 256Mi
	check "rolling update: the primary moved by switchover to the former replica, $old_replica" 60 is_master "$old_replica"
	check "rolling update: writes succeed through hippo-primary afterwards" 90 writes_after rolling "$(now)"
	stop_writer rolling
	check "rolling update: every write acknowledged before it survives" 0 kept rolling "$t0"
	check "rolling update: $old_master comes back Ready as role=replica and streams" 420 rejoined "$old_master"
	# The operator's Events say in which order it went: the replica, the switchover, the former primary.
	order() {
		local out
		out=$(kn get events --field-selector involvedObject.kind=PostgresCluster,reason=RollingUpdate \
			--sort-by=.metadata.creationTimestamp -o jsonpath='{range .items[*]}{.message}{"\n"}{end}')
		echo "$out"
		grep -q "^restarting $old_replica on" <<<"$out" &&
			grep -q "^switching over from $old_master to $old_replica" <<<"$out" &&
			grep -q "^restarting $old_master on" <<<"$out" &&
			[ "$(grep -n "^restarting $old_replica on" <<<"$out" | cut -d: -f1 | tail -1)" -lt \
				"$(grep -n "^switching over" <<<"$out" | cut -d: -f1 | tail -1)" ] &&
			[ "$(grep -n "^switching over" <<<"$out" | cut -d: -f1 | tail -1)" -lt \
				"$(grep -n "^restarting $old_master on" <<<"$out" | cut -d: -f1 | tail -1)" ]
	}
	check "rolling update: Events RollingUpdate in order: $old_replica restarted, switchover, $old_master restarted" 30 order
	report rolling "$t0"
}
rolling_update

# --- Scaling: 2 -> 3 -> 1 instances ----------------------------------------------------------

# set_replicas N: spec.instances[0].replicas: N in the copy of kustomize/postgres.
set_replicas() {
	sed -i -E "s/^( +)replicas: [0-9]+\$/\\1replicas: $1/" "$work/postgres/postgres.yaml" || return 1
	diff kustomize/postgres/postgres.yaml "$work/postgres/postgres.yaml"
	[ "$(grep -cE "^ +replicas: $1\$" "$work/postgres/postgres.yaml")" = 1 ]
}
# status_counts N: hippo's status counts N replicas, N ready, in instance1.
status_counts() {
	local got
	got=$(kn get postgrescluster hippo \
		-o jsonpath='{.status.instances[0].name} {.status.instances[0].replicas} {.status.instances[0].readyReplicas}')
	[ "$got" = "instance1 $1 $1" ] || {
		echo "status.instances[0] name, replicas, readyReplicas: '$got'"
		return 1
	}
}
# streaming MASTER: MASTER is the only role=master pod, and pg_stat_replication on it lists every role=replica pod
# (Patroni names the connection after its member, the pod) as streaming, and nothing else.
streaming() {
	local want got
	is_master "$1" || {
		echo "role=master: '$(pods_with_role hippo master)', not $1"
		return 1
	}
	want=$(tr ' ' '\n' <<<"$(pods_with_role hippo replica)" | grep . | sort | sed 's/$/:streaming/' | tr '\n' ' ')
	got=$(pgx "$1" -c "SELECT application_name || ':' || state FROM pg_stat_replication ORDER BY 1" | tr '\n' ' ')
	[ -n "$want" ] && [ "$got" = "$want" ] || {
		echo "replicas: '$want'; pg_stat_replication on $1: '$got'"
		return 1
	}
}
# rows_on POD...: the quickstart row and the scale row are in each POD's own copy.
rows_on() {
	local p out bad=0
	for p in "$@"; do
		out=$(pgx "$p" -c "SELECT count(*) FROM e2e.writes
			WHERE (label, n) IN (('quickstart', 1), ('scale', $scale_n))" 2>&1)
		[ "$out" = 2 ] || {
			echo "$p has '$out' of the 2 rows"
			bad=1
		}
	done
	return $bad
}
# instance_objects INSTANCE: the objects labelled with INSTANCE, by kind/name.
instance_objects() {
	kn get statefulsets,persistentvolumeclaims,configmaps,secrets,pods -l "$L/cluster=hippo,$L/instance=$1" \
		-o name 2>&1
}

scale_up() {
	local t0 master
	master=$(pods_with_role hippo master)
	scale_n=$((RANDOM * 32768 + RANDOM))
	check "scale: a row is written through hippo-primary before scaling" 30 \
		csql -c "INSERT INTO writes (label, n) VALUES ('scale', $scale_n)" || return 1
	check "the manifest is edited: spec.instances[0].replicas: 3" 0 set_replicas 3 || return 1
	t0=$(now)
	check "kubectl apply -k kustomize/postgres (with replicas: 3)" 0 kubectl apply -k "$work/postgres" || return 1
	check "a third instance starts: three pods Ready, one role=master, two role=replica" 600 instances_ready hippo 3 ||
		return 1
	check "$master stays master; both replicas stream from it (pg_stat_replication)" 180 streaming "$master" ||
		return 1
	comment "replicas 2 -> 3: apply to three instances Ready and streaming: $(elapsed "$t0") s"
	comment "$(kubectl -n postgres-operator get pods \
		--selector=postgres-operator.crunchydata.com/cluster=hippo,postgres-operator.crunchydata.com/instance-set \
		-L "$L/role" 2>&1)"
	# shellcheck disable=SC2046 # one word per pod
	check "the rows written before are in each of the three instances' data" 120 rows_on $(instance_pods hippo)
	check "hippo's status reports instance1 with 3 replicas, 3 ready" 60 status_counts 3
	check "every Service follows: hippo-replicas holds both replicas" 60 services_follow "$master"
}
scale_up

# Scaling down removes instances other than the primary: the operator keeps the primary's instance whatever its
# name, and prunes the others' StatefulSets, volumes, ConfigMaps and certificate Secrets.
scale_down() {
	local t0 master instance surplus i sts_uid pvc_uid
	master=$(pods_with_role hippo master)
	instance=$(instance_of "$master")
	surplus=$(for p in $(pods_with_role hippo replica); do printf '%s\n' "$(instance_of "$p")"; done | tr '\n' ' ' | sed 's/ $//')
	sts_uid=$(uid_of statefulset "$instance")
	pvc_uid=$(uid_of persistentvolumeclaim "$instance-pgdata")
	have_surplus() {
		[ "$(wc -w <<<"$surplus")" = 2 ] || return 1
		for i in $surplus; do
			[ -n "$(uid_of statefulset "$i")" ] && [ -n "$(uid_of persistentvolumeclaim "$i-pgdata")" ] || return 1
		done
	}
	[ -n "$master" ] && [ -n "$sts_uid" ] && [ -n "$pvc_uid" ] && have_surplus || {
		tap_fail "scale down: the cluster has a master and two replicas, each with its StatefulSet and pgdata PVC" \
			"master '$master' (StatefulSet uid '$sts_uid', PVC $instance-pgdata uid '$pvc_uid'), replicas of '$surplus'"
		return 1
	}
	comment "scale down: the master is $master; the other instances are $surplus"
	check "the manifest is edited: spec.instances[0].replicas: 1" 0 set_replicas 1 || return 1
	t0=$(now)
	check "kubectl apply -k kustomize/postgres (with replicas: 1)" 0 kubectl apply -k "$work/postgres" || return 1
	only_master() {
		local pods
		pods=$(instance_pods hippo)
		[ "$pods" = "$master" ] && [ "$(ready_of "$master")" = True ] && is_master "$master" || {
			echo "instance pods: '$pods'; $master: Ready=$(ready_of "$master") role=$(role_of "$master")"
			return 1
		}
	}
	check "one instance pod remains: $master, Ready and role=master (the primary is kept)" 300 only_master ||
		return 1
	comment "replicas 3 -> 1: apply to one instance pod left: $(elapsed "$t0") s"
	surplus_gone() {
		local out bad=0
		for i in $surplus; do
			out=$(instance_objects "$i")
			[ -z "$out" ] || {
				echo "left of instance $i: $(tr '\n' ' ' <<<"$out")"
				bad=1
			}
		done
		return $bad
	}
	check "the other instances' ($surplus) StatefulSets, pgdata PVCs, ConfigMaps, Secrets and pods are gone" 240 \
		surplus_gone
	kept_objects() {
		[ "$(uid_of statefulset "$instance")" = "$sts_uid" ] &&
			[ "$(uid_of persistentvolumeclaim "$instance-pgdata")" = "$pvc_uid" ] &&
			[ -z "$(kn get persistentvolumeclaim "$instance-pgdata" -o jsonpath='{.metadata.deletionTimestamp}')" ] || {
			echo "StatefulSet $instance uid '$(uid_of statefulset "$instance")' (was $sts_uid)," \
				"PVC $instance-pgdata uid '$(uid_of persistentvolumeclaim "$instance-pgdata")' (was $pvc_uid)"
			return 1
		}
	}
	check "the primary's StatefulSet and pgdata PVC are the same objects as before (same uids, not deleted)" 0 \
		kept_objects
	check "its data is intact: the quickstart row and the row written before scaling are on $master" 30 \
		rows_on "$master"
	check "hippo's status reports instance1 with 1 replica, 1 ready" 60 status_counts 1
	alone() {
		[ "$(endpoint_ips hippo-ha)" = "$(pod_ip "$master")" ] && [ -z "$(endpoint_ips hippo-replicas)" ] || {
			echo "hippo-ha Endpoints '$(endpoint_ips hippo-ha)' ($master has $(pod_ip "$master"));" \
				"hippo-replicas Endpoints '$(endpoint_ips hippo-replicas)'"
			return 1
		}
		csql -c "INSERT INTO writes (label, n) VALUES ('scale-down', $((RANDOM * 32768 + RANDOM)))"
	}
	check "hippo-ha leads to $master, hippo-replicas has no endpoints, and writes go through hippo-primary" 60 alone
	comment "replication slots left on $master: $(pgx "$master" \
		-c "SELECT coalesce(string_agg(slot_name || CASE WHEN active THEN ' (active)' ELSE '' END, ', '), 'none')
		    FROM pg_replication_slots" 2>&1)"
}
scale_down

# --- uninstall ---------------------------------------------------------------------------

stop_forward
comment "kubectl port-forward exited $(awk '{ n += $1 } END { print n + 0 }' "$work/pf.restarts" 2>/dev/null) times as a psql session over TLS ended, and was started again (kubernetes/kubectl#1169)"
if [ "${TUTORIALS_KEEP:-0}" != 1 ]; then
	check "kubectl delete -k kustomize/postgres" 0 kubectl delete -k "$work/postgres" --timeout=180s
	check "hippo and every object it owned are gone" 180 gone hippo
	uninstalled=1
	check "the seed's uninstall removes the operator and namespace postgres-operator" 0 uninstall
fi
tap_done
