#!/usr/bin/env bash
# PgBouncer on the local cluster with the operator image (namespace
# postgres-operator, the seed's install), as a PGO user runs it: cluster
# "bouncy" (no backups) with spec.proxy.pgBouncer (one replica, transaction
# pooling) and max_connections 25 (Patroni's floor: it replaces a lower value
# with 100); its user gets a schema of its own
# (autoCreateUserSchema), since PUBLIC may not create in public.
#
#  - the objects: Deployment, Service, ConfigMap and Secret bouncy-pgbouncer,
#    labelled cluster=bouncy and role=pgbouncer; the Deployment available,
#    status.proxy.pgBouncer.readyReplicas 1, condition ProxyAvailable True;
#    the user Secret's pgbouncer-host, -port, -uri and -jdbc-uri (with
#    prepareThreshold=0);
#  - a client pod (restricted) connects with the Secret's pgbouncer-uri and
#    sslmode=verify-full against the root CA (pgo-root-cacert): the query
#    runs, and Postgres sees the PgBouncer pod's address as its client
#    (inet_client_addr), over TLS: the proof it went through PgBouncer;
#  - pgbench with 50 clients through PgBouncer (pool_mode transaction, pool
#    of 8) runs with no failed transaction, where 50 clients straight to
#    Postgres are refused (max_connections 25); the TPS of the run goes in a
#    comment;
#  - the frontend certificate cleared from the Secret is issued anew, the
#    sidecar pgbouncer-config logs that it sent SIGHUP, and a new
#    connection is served with the new certificate (its serial, as openssl
#    s_client sees it) and verifies;
#  - removing spec.proxy removes the Deployment, Service, ConfigMap, Secret,
#    the pgbouncer-* keys of the user Secret, the role _crunchypgbouncer
#    and the schema pgbouncer, and status.proxy.
#
# Environment: PGBOUNCER_KEEP=1 leaves everything.
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
CLIENT=bouncy-client
work=$(mktemp -d)
t0=$(now)

cleanup() {
	if [ "${PGBOUNCER_KEEP:-0}" != 1 ]; then
		kn delete pod "$CLIENT" --ignore-not-found --wait=false >/dev/null 2>&1
		kn delete postgrescluster bouncy --ignore-not-found --wait=true --timeout=180s >/dev/null 2>&1
		uninstall_operator
	fi
	rm -rf "$work"
}
trap cleanup EXIT

diagnose() {
	echo "--- kubectl -n $NS get postgrescluster,deploy,sts,pods,svc"
	kn get postgresclusters,deployments,statefulsets,pods,services -o wide 2>&1 | head -30
	echo "--- bouncy .status.proxy and conditions"
	kn get postgrescluster bouncy -o jsonpath='{.status.proxy} {.status.conditions}' 2>&1 | head -c 2000
	echo
	echo "--- pgbouncer logs"
	kn logs deployment/bouncy-pgbouncer --all-containers --tail=15 2>&1
	diagnose_operator 30
}

# bouncy PROXY: apply bouncy; PROXY "on" with spec.proxy.pgBouncer, "off" without.
bouncy() {
	cat >"$work/bouncy.yaml" <<-EOF
		apiVersion: postgres-operator.crunchydata.com/v1beta1
		kind: PostgresCluster
		metadata:
		  name: bouncy
		  namespace: $NS
		  annotations:
		    $L/autoCreateUserSchema: "true"
		spec:
		  image: $IMAGE
		  postgresVersion: 17
		  patroni:
		    dynamicConfiguration:
		      postgresql:
		        parameters:
		          max_connections: 25
		  instances:
		    - name: instance1
		      dataVolumeClaimSpec:
		        accessModes: [ReadWriteOnce]
		        resources: {requests: {storage: 1Gi}}
		  proxy:
		    pgBouncer:
		      replicas: 1
		      config:
		        global:
		          pool_mode: transaction
		          default_pool_size: "8"
		          max_client_conn: "200"
	EOF
	[ "$1" = on ] || sed -i '/^  proxy:/,$d' "$work/bouncy.yaml"
	kubectl apply --server-side -f "$work/bouncy.yaml"
}

secret_key() { kn get secret "$1" -o go-template="{{index .data \"$2\" | base64decode}}" 2>/dev/null; }
proxy_status() { kn get postgrescluster bouncy -o jsonpath="{.status.proxy.pgBouncer$1}" 2>/dev/null; }
condition() {
	kn get postgrescluster bouncy -o jsonpath="{.status.conditions[?(@.type==\"$1\")].$2}" 2>/dev/null
}
# cx ARGS...: a command in the client pod.
cx() { timeout 120 kubectl -n "$NS" exec "$CLIENT" -c client -- "$@"; }
# bpsql ARGS...: psql in the client pod through PgBouncer (the Secret's pgbouncer-uri), verify-full.
bpsql() {
	cx psql "$(secret_key bouncy-pguser-bouncy pgbouncer-uri)?sslmode=verify-full&sslrootcert=/certs/root.crt" \
		-XAtq -v ON_ERROR_STOP=1 "$@"
}
# dpsql ARGS...: psql in the client pod straight to the primary (the Secret's uri), verify-full.
dpsql() {
	cx psql "$(secret_key bouncy-pguser-bouncy uri)?sslmode=verify-full&sslrootcert=/certs/root.crt" \
		-XAtq -v ON_ERROR_STOP=1 "$@"
}

# --- preconditions and install ---------------------------------------------------

require_cluster
check "the operator image and $IMAGE are in the cluster's containerd" 0 images_present
check "the PgBouncer image $PGBOUNCER_IMAGE is in the cluster's containerd" 30 \
	eval "ctr --address '$CONTAINERD_SOCK' -n k8s.io images ls -q | grep -qxF '$PGBOUNCER_IMAGE'"
kn delete postgrescluster bouncy --ignore-not-found --wait=true --timeout=180s >/dev/null 2>&1
uninstall_operator
install_operator || bail "the operator is not running"

# --- the objects ----------------------------------------------------------------------

check "bouncy with spec.proxy.pgBouncer (replicas 1, pool_mode transaction) applied" 0 bouncy on
start=$(now)
check "bouncy's instance is Ready" 300 instances_ready bouncy 1 || bail "bouncy is not ready"
labelled() {
	local kind got
	for kind in deployment service configmap secret; do
		got=$(kn get "$kind" bouncy-pgbouncer -o go-template="{{index .metadata.labels \"$L/cluster\"}}/{{index .metadata.labels \"$L/role\"}}") || return 1
		echo "$kind: $got"
		[ "$got" = bouncy/pgbouncer ] || return 1
	done
}
check "Deployment, Service, ConfigMap and Secret bouncy-pgbouncer, labelled cluster=bouncy, role=pgbouncer" 120 labelled
available() {
	echo "readyReplicas=$(proxy_status .readyReplicas) ProxyAvailable=$(condition ProxyAvailable status)"
	kn rollout status deployment/bouncy-pgbouncer --timeout=5s >/dev/null &&
		[ "$(proxy_status .readyReplicas)" = 1 ] && [ "$(condition ProxyAvailable status)" = True ] &&
		[ -n "$(proxy_status .postgresRevision)" ]
}
check "the Deployment is available; status.proxy.pgBouncer (readyReplicas 1, postgresRevision), ProxyAvailable True" \
	240 available || bail "PgBouncer is not available"
comment "PgBouncer available $(elapsed "$start") s after the cluster was applied"
shape() {
	local got
	got=$(kn get deployment bouncy-pgbouncer -o go-template='{{.spec.strategy.rollingUpdate.maxUnavailable}} {{.spec.template.spec.shareProcessNamespace}} {{range .spec.template.spec.containers}}{{.name}}:{{.securityContext.runAsNonRoot}}:{{.securityContext.allowPrivilegeEscalation}} {{end}}')
	echo "$got"
	[ "$got" = "0 true pgbouncer:true:false pgbouncer-config:true:false " ] &&
		[ "$(kn get service bouncy-pgbouncer -o jsonpath='{.spec.ports[0].name}')" = pgbouncer ]
}
check "maxUnavailable 0, a shared process namespace, restricted pgbouncer and pgbouncer-config, port pgbouncer" 0 shape
keys() {
	local host port uri jdbc
	host=$(secret_key bouncy-pguser-bouncy pgbouncer-host)
	port=$(secret_key bouncy-pguser-bouncy pgbouncer-port)
	uri=$(secret_key bouncy-pguser-bouncy pgbouncer-uri)
	jdbc=$(secret_key bouncy-pguser-bouncy pgbouncer-jdbc-uri)
	echo "host=$host port=$port jdbc=${jdbc%%\?*}"
	[ "$host" = "bouncy-pgbouncer.$NS.svc" ] && [ "$port" = 5432 ] &&
		[[ $uri == postgresql://bouncy:*@bouncy-pgbouncer.$NS.svc:5432/bouncy ]] &&
		[[ $jdbc == jdbc:postgresql://bouncy-pgbouncer.$NS.svc:5432/bouncy\?*prepareThreshold=0* ]]
}
check "bouncy-pguser-bouncy: pgbouncer-host, -port, -uri, -jdbc-uri (prepareThreshold=0)" 60 keys

# --- through PgBouncer ---------------------------------------------------------------

client_pod() {
	sleeper_pod "$CLIENT" client <<-EOF | kubectl apply --filename=- || return 1
		      volumeMounts:
		        - {name: certs, mountPath: /certs, readOnly: true}
		  volumes:
		    - name: certs
		      secret: {secretName: pgo-root-cacert, items: [{key: root.crt, path: root.crt}]}
	EOF
	kn wait --for=condition=Ready "pod/$CLIENT" --timeout=120s
}
check "a restricted client pod with the root CA (pgo-root-cacert)" 0 client_pod || bail "no client pod"
through() {
	local pod ip out
	pod=$(kn get pods -l "$L/cluster=bouncy,$L/role=pgbouncer" -o jsonpath='{.items[0].metadata.name}')
	ip=$(pod_ip "$pod")
	out=$(bpsql -c "SELECT current_user, host(inet_client_addr()), ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
	echo "PgBouncer pod $pod at $ip; Postgres sees: $out"
	[ -n "$ip" ] && [ "$out" = "bouncy|$ip|t" ]
}
check "psql with pgbouncer-uri, verify-full: Postgres sees the PgBouncer pod as its client, over TLS" 60 through
check "pgbench -i straight to the primary" 0 \
	cx pgbench -q -i -s 1 "$(secret_key bouncy-pguser-bouncy uri)?sslmode=verify-full&sslrootcert=/certs/root.crt"
pgbench_through() {
	cx pgbench -n -c 50 -j 4 -T 10 \
		"$(secret_key bouncy-pguser-bouncy pgbouncer-uri)?sslmode=verify-full&sslrootcert=/certs/root.crt" \
		>"$work/pgbench.out" 2>&1
	local rc=$?
	grep -E 'clients|failed|tps|latency average' "$work/pgbench.out"
	[ $rc = 0 ] && grep -q 'number of failed transactions: 0' "$work/pgbench.out"
}
check "pgbench -c 50 through PgBouncer (transaction pooling, pool 8, max_connections 25): no failure" 0 \
	pgbench_through
comment "through PgBouncer: $(grep -E '^tps' "$work/pgbench.out" | head -1)" \
	"through PgBouncer: $(grep -E '^latency average' "$work/pgbench.out" | head -1)"
direct_refused() {
	local out
	echo "max_connections: $(dpsql -c 'SHOW max_connections')"
	out=$(cx pgbench -n -c 50 -j 4 -T 3 \
		"$(secret_key bouncy-pguser-bouncy uri)?sslmode=verify-full&sslrootcert=/certs/root.crt" 2>&1)
	tail -3 <<<"$out"
	grep -qE 'too many clients|remaining connection slots' <<<"$out"
}
check "the same 50 clients straight to Postgres are refused (too many clients)" 0 direct_refused

# --- the frontend certificate renewed ------------------------------------------------------

served_serial() {
	cx sh -c 'openssl s_client -starttls postgres -connect bouncy-pgbouncer:5432 </dev/null 2>/dev/null |
		openssl x509 -noout -serial' 2>/dev/null
}
secret_serial() {
	secret_key bouncy-pgbouncer pgbouncer-frontend.crt | openssl x509 -noout -serial 2>/dev/null
}
old=$(secret_serial)
check "PgBouncer serves the Secret's frontend certificate ($old)" 30 eval '[ -n "$old" ] && [ "$(served_serial)" = "$old" ]'
reloads_before=$(kn logs deployment/bouncy-pgbouncer -c pgbouncer-config 2>/dev/null | grep -c 'sent SIGHUP')
check "pgbouncer-frontend.crt and .key cleared from Secret bouncy-pgbouncer" 0 \
	kn patch secret bouncy-pgbouncer --type=json \
	-p '[{"op":"remove","path":"/data/pgbouncer-frontend.crt"},{"op":"remove","path":"/data/pgbouncer-frontend.key"}]'
start=$(now)
renewed() {
	local now_serial
	now_serial=$(secret_serial)
	echo "serial: $now_serial (was $old)"
	[ -n "$now_serial" ] && [ "$now_serial" != "$old" ]
}
check "the operator issues a new frontend certificate" 60 renewed
new=$(secret_serial)
reloaded() {
	local n
	n=$(kn logs deployment/bouncy-pgbouncer -c pgbouncer-config 2>/dev/null | grep -c 'sent SIGHUP')
	kn logs deployment/bouncy-pgbouncer -c pgbouncer-config 2>/dev/null | tail -2
	[ "$n" -gt "$reloads_before" ] && [ "$(served_serial)" = "$new" ]
}
check "pgbouncer-config logs that it sent SIGHUP; PgBouncer serves the new certificate" 150 reloaded
comment "new frontend certificate served $(elapsed "$start") s after the old one was cleared"
check "a new connection through PgBouncer verifies and runs" 30 eval '[ "$(bpsql -c "SELECT 6 * 7")" = 42 ]'

# --- removal ------------------------------------------------------------------------------

check "spec.proxy removed" 0 bouncy off
start=$(now)
removed() {
	local left
	left=$(kn get deployments,services,configmaps,secrets,poddisruptionbudgets -l "$L/cluster=bouncy,$L/role=pgbouncer" \
		-o name 2>&1)
	[ -z "$left" ] || {
		echo "left: $left"
		return 1
	}
	left=$(kn get secret bouncy-pguser-bouncy -o go-template='{{range $k, $v := .data}}{{$k}} {{end}}')
	[[ $left != *pgbouncer* ]] || {
		echo "bouncy-pguser-bouncy keys: $left"
		return 1
	}
	left=$(dpsql -c "SELECT (SELECT count(*) FROM pg_roles WHERE rolname = '_crunchypgbouncer'),
		(SELECT count(*) FROM pg_namespace WHERE nspname = 'pgbouncer')")
	[ "$left" = "0|0" ] || {
		echo "role, schema: $left"
		return 1
	}
	[ -z "$(kn get postgrescluster bouncy -o jsonpath='{.status.proxy}')" ] &&
		[ -z "$(condition ProxyAvailable status)" ]
}
check "PgBouncer's objects, the user Secret's pgbouncer-* keys, the role, the schema and status.proxy are gone" 120 removed
comment "removed in $(elapsed "$start") s; the whole file ran $(elapsed "$t0") s"
check "a direct connection still works" 0 eval '[ "$(dpsql -c "SELECT 6 * 7")" = 42 ]'

tap_done
