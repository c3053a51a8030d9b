#!/usr/bin/env bash
# `make demo`: the local cluster with our images, the operator installed
# with the seed's commands, the hippo cluster created with the seed's
# `kubectl apply -k kustomize/postgres`, and a psql session to it over
# verify-full TLS through a port-forward, with the password from the user
# Secret and the root CA from Secret pgo-root-cacert. Then it says how to
# connect yourself. Every step is idempotent: run it again at will.
#
# Environment: DEMO_WAIT (seconds to wait for hippo, default 600).
source "$(dirname "$0")/lib.sh"
cd "$ROOT_DIR"
export KUBECONFIG=$KUBECONFIG_FILE PATH=$KUBE_BIN:$PATH
NS=postgres-operator
L=postgres-operator.crunchydata.com
WAIT=${DEMO_WAIT:-600}
work=$(mktemp -d)
pf_pid=''
cleanup() {
	# The port-forward may have exited already (see the note at the end).
	if [ -n "$pf_pid" ]; then kill "$pf_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

hack/cluster-up.sh
hack/build-images.sh --import
make --no-print-directory operator-image
command -v psql >/dev/null || ensure_packages postgresql-client

log "installing the operator: kubectl apply -k kustomize/install/namespace"
kubectl apply -k kustomize/install/namespace
log "kubectl apply --server-side -k kustomize/install/default"
kubectl apply --server-side -k kustomize/install/default
# A CRD just created has no status yet, and kubectl wait then fails at once instead of waiting: try again.
for _ in $(seq 60); do
	kubectl wait --for=condition=Established "crd/postgresclusters.$L" --timeout=5s >/dev/null 2>&1 && break
	sleep 1
done
kubectl -n "$NS" rollout status deployment/pgo --timeout=180s
log "creating hippo: kubectl apply -k kustomize/postgres"
kubectl apply -k kustomize/postgres

# What the operator has made so far, and its log: for a wait that ends badly.
diagnose() {
	kubectl -n "$NS" get postgrescluster,statefulsets,pods,services,secrets -o wide -L "$L/role" >&2 || true
	kubectl -n "$NS" get postgrescluster hippo \
		-o jsonpath='{range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\n"}{end}' >&2 || true
	echo "--- operator log (last 30 lines)" >&2
	kubectl -n "$NS" logs deployment/pgo --tail=30 >&2 || true
}

# hippo is ready when its primary pod (role=master) is Ready and the user
# Secret exists; prints what is still missing.
primary_pod() {
	kubectl -n "$NS" get pods -l "$L/cluster=hippo,$L/role=master" \
		-o jsonpath='{.items[*].metadata.name}' 2>/dev/null || true
}
missing() {
	local pod
	pod=$(primary_pod)
	if [ -z "$pod" ]; then
		echo "no pod labelled role=master yet ($(kubectl -n "$NS" get pods -l "$L/cluster=hippo" --no-headers 2>/dev/null |
			awk '{ printf "%s%s %s %s", sep, $1, $2, $3; sep = ", " }'))"
	elif [ "$(kubectl -n "$NS" get pod "$pod" \
		-o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" != True ]; then
		echo "primary pod $pod not Ready yet"
	elif ! kubectl -n "$NS" get secret hippo-pguser-hippo >/dev/null 2>&1; then
		echo "no Secret hippo-pguser-hippo yet"
	elif ! kubectl -n "$NS" get secret pgo-root-cacert >/dev/null 2>&1; then
		echo "no Secret pgo-root-cacert yet"
	fi
}
log "waiting for hippo (up to $WAIT s): primary pod Ready, Secret hippo-pguser-hippo"
start=$SECONDS last=''
while :; do
	what=$(missing)
	[ -z "$what" ] && break
	if [ $((SECONDS - start)) -ge "$WAIT" ]; then
		diagnose
		die "hippo is not ready after $WAIT s: $what"
	fi
	if [ "$what" != "$last" ]; then
		log "$what"
		last=$what
	fi
	sleep 2
done
primary=$(primary_pod)
log "hippo is ready after $((SECONDS - start)) s: primary $primary"
kubectl -n "$NS" get pods -l "$L/cluster=hippo" -L "$L/role"

# The seed's port-forward, on 5432 if it is free (else a port kubectl picks).
port=5432
[ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ] && port=''
kubectl -n "$NS" port-forward "pod/$primary" "$port:5432" >"$work/pf.log" 2>&1 &
pf_pid=$!
for _ in $(seq 30); do
	grep -q '^Forwarding from 127.0.0.1:' "$work/pf.log" && break
	kill -0 "$pf_pid" 2>/dev/null || break
	sleep 1
done
port=$(sed -n 's/^Forwarding from 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$work/pf.log" | head -1)
[ -n "$port" ] || die "kubectl port-forward did not start: $(cat "$work/pf.log")"

kubectl -n "$NS" get secret pgo-root-cacert -o go-template='{{index .data "root.crt" | base64decode}}' \
	>"$work/ca.crt"
uri=$(kubectl -n "$NS" get secret hippo-pguser-hippo -o go-template='{{.data.uri | base64decode}}')
[ "$port" = 5432 ] || uri="$uri?port=$port"

log "psql over sslmode=verify-full: host hippo-primary.$NS.svc (the Secret's uri) at 127.0.0.1:$port"
session() {
	PGHOSTADDR=127.0.0.1 PGSSLMODE=verify-full PGSSLROOTCERT=$work/ca.crt PGCONNECT_TIMEOUT=5 PGPASSFILE=/dev/null \
		psql "$uri" -X -v ON_ERROR_STOP=1 -a -P pager=off <<-'EOF'
			\conninfo
			SELECT version();
			SELECT current_user, current_database(), s.ssl, s.version AS tls, s.cipher
			  FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid();
			SELECT NOT pg_catalog.pg_is_in_recovery() AS is_primary;
		EOF
}
# The first connection can race Patroni's last steps: try for a while.
for _ in $(seq 30); do
	session >"$work/session.out" 2>&1 && break
	sleep 2
done
cat "$work/session.out"
grep -q 'SSL connection' "$work/session.out" && grep -q '^ t$' "$work/session.out" ||
	die "the psql session failed (above)"

cat <<EOF

hippo runs. To connect yourself (PGO's quickstart, with verify-full):

  export KUBECONFIG=$KUBECONFIG_FILE PATH=$KUBE_BIN:\$PATH

  # in another terminal: forward local port 5432 to the primary. kubectl's
  # port-forward exits when a TLS session ends (kubernetes/kubectl#1169):
  # the loop starts it again.
  while :; do kubectl -n $NS port-forward \\
    "\$(kubectl -n $NS get pod -o name -l $L/cluster=hippo,$L/role=master)" 5432:5432; sleep 1; done

  # the cluster's root CA, and psql with the user Secret's uri: the name in the
  # uri (hippo-primary.$NS.svc) is the one the certificate carries, reached at 127.0.0.1
  kubectl -n $NS get secret pgo-root-cacert -o go-template='{{index .data "root.crt" | base64decode}}' >hippo-ca.crt
  PGHOSTADDR=127.0.0.1 PGSSLMODE=verify-full PGSSLROOTCERT=hippo-ca.crt \\
    psql "\$(kubectl -n $NS get secret hippo-pguser-hippo -o go-template='{{.data.uri | base64decode}}')"

  # or the seed's form (TLS, certificate not checked)
  PGPASSWORD=\$(kubectl -n $NS get secret hippo-pguser-hippo -o go-template='{{.data.password | base64decode}}') \\
    psql -h localhost -U hippo hippo

Inside the cluster, applications read host, port, dbname, user and password
from Secret hippo-pguser-hippo (env valueFrom secretKeyRef), and the CA from
Secret pgo-root-cacert. More: the HA tutorial (scale to replicas: 2), and
'kubectl delete -k kustomize/postgres' to remove hippo.
EOF
