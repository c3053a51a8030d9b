#!/usr/bin/env bash
# What the operator does with TLS, on the local cluster with the operator
# image, installed and removed with the seed's commands (namespace
# postgres-operator), as tutorials.sh does:
#
#  - custom TLS: the test is its own CA (openssl, EC P-256). It issues a
#    server certificate that names only db.example.internal (none of our
#    Service names, as a user's certificate may; serverAuth) and a
#    replication client certificate CN=_crunchyrepl (clientAuth), stores
#    them as Secrets (the server's under other keys, remapped with `items`)
#    and creates a 2-instance hippo (kustomize/postgres with replicas: 2,
#    spec.customTLSSecret and spec.customReplicationTLSSecret). Checks: both
#    pods Ready; the replica streams, authenticated as /CN=_crunchyrepl
#    (pg_stat_ssl.client_dn on the primary); Postgres' ssl_ca_file is the
#    user's CA followed by the namespace root; verify-full to
#    hippo-primary.<ns>.svc fails on the host name, yet the operator's own
#    SQL session (a client certificate from the namespace root, the server's
#    chain verified against the user's CA with verify-ca) runs
#    (status.usersRevision, Secret hippo-pguser-hippo); psql with the
#    Secret's password over verify-full (host db.example.internal, hostaddr
#    a ClusterIP) passes against the user's CA, to the primary (hippo-ha)
#    and hippo-replicas, and fails against the operator's root CA; the
#    operator issues neither hippo-cluster-cert nor hippo-replication-cert;
#    the CRD's CEL rule refuses customTLSSecret without
#    customReplicationTLSSecret;
#  - renewal without restart: (1) the user's server Secret replaced by a
#    new certificate (same CA, new key and serial): both instances serve it;
#    (2) the primary's <instance>-certs deleted while spec.patroni.logging
#    changes Patroni's configuration file: the operator issues it again and
#    Patroni's REST API (8008) serves the new certificate (Patroni skips its
#    certificate check in a reload whose files changed, so the sidecar keeps
#    signalling until the REST API serves what is on disk);
#    (3) on rhino, a second cluster with the operator's certificates (no
#    backups, to keep it light): a certificate of rhino-cluster-cert that
#    is still young (signed by the root of pgo-root-cacert, 10 days old, 355
#    days to go) is kept byte for byte over a reconcile (the Secret's
#    certificate label removed in the same update comes back: the operator
#    did reconcile it), and one past two thirds of its life (300 days old,
#    65 to go) is replaced by a fresh one (a year ahead, new serial and key,
#    chained to the root) that Postgres then serves. After each, no
#    container restarted (same pod UIDs, restart counts 0);
#  - the operator's login (rhino lists postgres in spec.users): postgres
#    logs in with its Secret's password over TLS (verify-full, root CA); a
#    client certificate CN=_crunchyoperator from the test's CA, which rhino
#    does not trust, is refused; one from the namespace root (the
#    operator's) is refused without a password and with a wrong one, and
#    gets in with the password of Secret rhino-operator (pg_hba wants both:
#    scram-sha-256 clientcert=verify-full). On hippo, whose Postgres trusts
#    the user's CA for client certificates, a certificate CN=_crunchyoperator
#    from that CA is refused without the operator's password (the user's CA
#    can issue the name, not the password);
#  - the seed's uninstall: both clusters and what they owned go, then the
#    operator and its namespace.
#
# Certificates served are read with `openssl s_client` (-starttls postgres
# for 5432) from a client pod on our postgres image, and parsed here. Times
# (Secret change to new certificate served) are TAP comments; no check
# judges speed. Waits are bounded generously.
#
# The operator image must be imported (make check does: make
# operator-image). Environment: CERTIFICATES_KEEP=1 leaves the operator and
# both clusters running at the end (no uninstall).
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
SERVER_SECRET=hippo-custom-server
REPL_SECRET=hippo-custom-repl
CLIENT=certs-client
# The one name the user's server certificate carries: none of our Services.
USER_HOST=db.example.internal
# Patroni handles a SIGHUP in its next cycle, at most loop_wait (PGO's syncPeriodSeconds, 10) later.
PATRONI_LOOP_WAIT=10
work=$(mktemp -d)
pki=$work/pki
uninstalled=0
t_start=$(date +%s.%N)

# --- helpers --------------------------------------------------------------------

uninstall() {
	kn delete pod "$CLIENT" --ignore-not-found --wait=false >/dev/null 2>&1
	if kubectl get crd postgresclusters.postgres-operator.crunchydata.com >/dev/null 2>&1; then
		kn delete postgresclusters --all --wait=true --timeout=180s >/dev/null 2>&1
		# A finalizer that no running operator will remove would hold the namespace.
		local c
		for c in $(kn get postgresclusters -o name 2>/dev/null); do
			kn patch "$c" --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1
		done
	fi
	uninstall_operator
}

cleanup() {
	if [ "${CERTIFICATES_KEEP:-0}" != 1 ] && [ "$uninstalled" = 0 ]; then
		uninstall
	fi
	rm -rf "$work"
}
trap cleanup EXIT

# secret_key NAME KEY: the decoded value of KEY in Secret NAME.
secret_key() { kn get secret "$1" -o go-template="{{index .data \"$2\" | base64decode}}" 2>/dev/null; }
# serial_of: the serial number of the first certificate of stdin.
serial_of() { openssl x509 -noout -serial 2>/dev/null | sed 's/^serial=//'; }
# pgx POD ARGS...: psql as postgres in POD's database container (its socket).
pgx() { timeout 60 kubectl -n "$NS" exec "$1" -c database -- psql -d postgres -XAtq -v ON_ERROR_STOP=1 "${@:2}"; }
# svc_ip SERVICE: the ClusterIP of SERVICE (<cluster>-primary has none: its Endpoints hold <cluster>-ha's).
svc_ip() { kn get service "$1" -o jsonpath='{.spec.clusterIP}' 2>/dev/null; }
# cpsql CAFILE SERVICE ARGS...: psql in the client pod as hippo with the Secret's password to SERVICE's ClusterIP,
# verify-full against CAFILE for the name the user's certificate carries (USER_HOST).
cpsql() {
	local ip
	ip=$(svc_ip "$2")
	[ -n "$ip" ] && [ "$ip" != None ] || {
		echo "Service $2 has no ClusterIP"
		return 1
	}
	timeout 60 kubectl -n "$NS" exec "$CLIENT" -- psql \
		"host=$USER_HOST hostaddr=$ip port=5432 user=hippo dbname=hippo sslmode=verify-full sslrootcert=$1 connect_timeout=5" \
		-XAtq -v ON_ERROR_STOP=1 "${@:3}"
}
# kpsql PASSWORD CONNINFO ARGS...: psql in the client pod with CONNINFO (connect_timeout 5 added), and PASSWORD in
# place of the pod's PGPASSWORD (hippo's) unless it is empty.
kpsql() {
	local run=(env)
	[ -n "$1" ] && run+=("PGPASSWORD=$1")
	timeout 60 kubectl -n "$NS" exec "$CLIENT" -- "${run[@]}" psql "$2 connect_timeout=5" -XAtq -v ON_ERROR_STOP=1 \
		"${@:3}"
}
# probe IP PORT CAFILE NAME [ARGS...]: what openssl s_client in the client pod says of the server at IP:PORT (its
# certificate in PEM, "Verify return code"), verifying against CAFILE and host name NAME.
probe() {
	timeout 40 kubectl -n "$NS" exec "$CLIENT" -- timeout 20 openssl s_client -connect "$1:$2" -CAfile "$3" \
		-verify_hostname "$4" "${@:5}" 2>&1
}
# served POD PORT CAFILE NAME SERIAL [ARGS...]: POD serves, at PORT, the certificate of serial SERIAL, which verifies
# against CAFILE for NAME.
served() {
	local ip out got
	ip=$(pod_ip "$1")
	[ -n "$ip" ] || {
		echo "$1 has no address"
		return 1
	}
	out=$(probe "$ip" "$2" "$3" "$4" "${@:6}")
	got=$(serial_of <<<"$out")
	[ "$got" = "$5" ] && grep -q 'Verify return code: 0 (ok)' <<<"$out" || {
		echo "$1 ($ip:$2) serves serial '$got' (want $5); $(grep -m1 'Verify return code' <<<"$out")"
		tail -5 <<<"$out"
		return 1
	}
}
# pod_state CLUSTER: each instance pod's name, uid and containers' restart counts, one line each.
pod_state() {
	kn get pods -l "$L/cluster=$1,$L/instance-set" -o jsonpath='{range .items[*]}{.metadata.name} {.metadata.uid}{range .status.containerStatuses[*]} {.name}={.restartCount}{end}{"\n"}{end}' 2>/dev/null
}
# not_restarted CLUSTER BEFORE: the same pods (uids) as in BEFORE, and no container restarted, ever.
not_restarted() {
	local state
	state=$(pod_state "$1")
	[ -n "$state" ] && [ "$state" = "$2" ] && ! grep -qE '=[1-9]' <<<"$state" || {
		printf 'before:\n%s\nnow:\n%s\n' "$2" "$state"
		return 1
	}
}

# The state of everything, for a failure's comment.
diagnose() {
	echo "--- kubectl -n $NS get postgrescluster,sts,pods,secrets"
	kn get postgresclusters,statefulsets,pods,secrets -o wide -L "$L/role" 2>&1 | head -50
	local c p
	for c in hippo rhino; do
		echo "--- $c .status"
		kn get postgrescluster "$c" -o jsonpath='{.status}' 2>&1 | head -c 1500
		echo
	done
	diagnose_operator 25
	for p in $(instance_pods hippo) $(instance_pods rhino); do
		echo "--- $p: replication-cert-copy (last 5 lines)"
		kn logs "$p" -c replication-cert-copy --tail=5 2>&1
		diagnose_unready "$p"
	done
}

# --- the user's certificate authority -----------------------------------------------

# A configuration for openssl req, x509 and ca: the extensions of each kind of certificate.
write_openssl_config() {
	mkdir -p "$pki" && cat >"$pki/openssl.cnf" <<-EOF
		[ req ]
		distinguished_name = dn
		prompt = no
		[ dn ]
		CN = unused
		[ ca_ext ]
		basicConstraints = critical, CA:TRUE, pathlen:0
		keyUsage = critical, keyCertSign, cRLSign
		subjectKeyIdentifier = hash
		[ server_ext ]
		basicConstraints = critical, CA:FALSE
		keyUsage = critical, digitalSignature, keyEncipherment
		extendedKeyUsage = serverAuth
		subjectKeyIdentifier = hash
		authorityKeyIdentifier = keyid
		subjectAltName = DNS:$USER_HOST
		[ client_ext ]
		basicConstraints = critical, CA:FALSE
		keyUsage = critical, digitalSignature, keyEncipherment
		extendedKeyUsage = clientAuth
		subjectKeyIdentifier = hash
		authorityKeyIdentifier = keyid
		# openssl ca, to forge certificates of the operator's root with chosen dates: the request's extensions
		# (those of the certificate it was made from) and key identifiers.
		[ ca ]
		default_ca = forge
		[ forge ]
		database = $pki/index.txt
		new_certs_dir = $pki
		serial = $pki/serial
		default_md = sha384
		policy = policy_any
		copy_extensions = copyall
		x509_extensions = forge_ext
		unique_subject = no
		[ policy_any ]
		commonName = supplied
		[ forge_ext ]
		subjectKeyIdentifier = hash
		authorityKeyIdentifier = keyid
	EOF
}
new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>&1; }
# issue NAME CN EXTENSIONS [CA]: $pki/NAME.key and NAME.crt, signed by $pki/CA.crt and .key (default ca: the
# user's CA), with a random serial.
issue() {
	local ca=${4:-ca}
	new_key "$pki/$1.key" &&
		openssl req -new -key "$pki/$1.key" -subj "/CN=$2" -config "$pki/openssl.cnf" -out "$pki/$1.csr" &&
		openssl x509 -req -in "$pki/$1.csr" -CA "$pki/$ca.crt" -CAkey "$pki/$ca.key" \
			-set_serial "0x$(openssl rand -hex 16)" -days 30 -sha256 \
			-extfile "$pki/openssl.cnf" -extensions "$3" -out "$pki/$1.crt" 2>&1 &&
		openssl verify -CAfile "$pki/$ca.crt" "$pki/$1.crt"
}
make_pki() {
	write_openssl_config || return 1
	new_key "$pki/ca.key" &&
		openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=certificates-e2e-ca" -config "$pki/openssl.cnf" \
			-extensions ca_ext -days 30 -sha256 -out "$pki/ca.crt" &&
		issue server "$USER_HOST" server_ext && issue repl _crunchyrepl client_ext || return 1
	openssl x509 -in "$pki/server.crt" -noout -subject -serial -ext subjectAltName,extendedKeyUsage
	openssl x509 -in "$pki/repl.crt" -noout -subject -serial -ext extendedKeyUsage
}
# server_secret: Secret SERVER_SECRET from $pki/server.* under keys of its own (server.crt, server.key, ca.pem).
server_secret() {
	kn create secret generic "$SERVER_SECRET" --from-file=server.crt="$pki/server.crt" \
		--from-file=server.key="$pki/server.key" --from-file=ca.pem="$pki/ca.crt" --dry-run=client -o yaml |
		kubectl apply -f -
}
repl_secret() {
	kn create secret generic "$REPL_SECRET" --from-file=tls.crt="$pki/repl.crt" \
		--from-file=tls.key="$pki/repl.key" --from-file=ca.crt="$pki/ca.crt" --dry-run=client -o yaml |
		kubectl apply -f -
}

# --- manifests ------------------------------------------------------------------------

# hippo: kustomize/postgres with replicas: 2 and the two custom Secrets, the server's keys remapped.
edit_hippo() {
	cp -r kustomize/postgres "$work/hippo" &&
		awk -v server="$SERVER_SECRET" -v repl="$REPL_SECRET" '{ print }
			/^  postgresVersion: / {
				print "  customTLSSecret:"
				print "    name: " server
				print "    items:"
				print "      - {key: server.crt, path: tls.crt}"
				print "      - {key: server.key, path: tls.key}"
				print "      - {key: ca.pem, path: ca.crt}"
				print "  customReplicationTLSSecret:"
				print "    name: " repl
			}' kustomize/postgres/postgres.yaml >"$work/hippo/postgres.yaml.new" &&
		sed -i 's/^\( *\)- name: instance1$/&\n\1  replicas: 2/' "$work/hippo/postgres.yaml.new" &&
		mv "$work/hippo/postgres.yaml.new" "$work/hippo/postgres.yaml"
	diff kustomize/postgres/postgres.yaml "$work/hippo/postgres.yaml"
	[ "$(grep -cE '^ +replicas: 2$' "$work/hippo/postgres.yaml")" = 1 ] &&
		[ "$(grep -cE '^  custom(Replication)?TLSSecret:$' "$work/hippo/postgres.yaml")" = 2 ]
}
# A cluster NAME from kustomize/postgres without backups; with customTLSSecret alone when $2 is "half", with
# spec.users listing postgres alone when $2 is "superuser".
edit_plain() {
	mkdir -p "$work/$1" && cp kustomize/postgres/kustomization.yaml "$work/$1/" &&
		sed -e "s/^  name: hippo\$/  name: $1/" -e '/^  backups:/,$d' kustomize/postgres/postgres.yaml \
			>"$work/$1/postgres.yaml" || return 1
	[ "${2:-}" = half ] && printf '  customTLSSecret:\n    name: %s\n' "$SERVER_SECRET" >>"$work/$1/postgres.yaml"
	[ "${2:-}" = superuser ] && printf '  users:\n    - name: postgres\n' >>"$work/$1/postgres.yaml"
	diff kustomize/postgres/postgres.yaml "$work/$1/postgres.yaml"
	grep -qE "^  name: $1\$" "$work/$1/postgres.yaml" && ! grep -q "^  backups:" "$work/$1/postgres.yaml"
}

# --- preconditions ------------------------------------------------------------------

require_cluster
check "the operator image and $IMAGE are in the cluster's containerd" 0 images_present
uninstall

# --- install, the user's certificates, two clusters ---------------------------------------------

install_operator || bail "the operator does not run"

check "openssl makes a CA (EC P-256), a server certificate for $USER_HOST only and a client certificate for _crunchyrepl" \
	0 make_pki || bail "no certificates"
check "Secret $SERVER_SECRET (server.crt, server.key, ca.pem) and $REPL_SECRET (tls.crt, tls.key, ca.crt)" 0 \
	eval 'server_secret && repl_secret' || bail "no Secrets"

# The CRD's rule: one custom Secret without the other is refused.
half_refused() {
	local out
	edit_plain hippo-half half >/dev/null || return 1
	if out=$(kubectl apply -k "$work/hippo-half" 2>&1); then
		echo "accepted: $out"
		kn delete postgrescluster hippo-half --wait=true --timeout=120s >/dev/null 2>&1
		return 1
	fi
	echo "$out"
	grep -q 'customTLSSecret and customReplicationTLSSecret go together' <<<"$out"
}
check "a cluster with customTLSSecret and no customReplicationTLSSecret is refused (CEL: they go together)" 0 half_refused

check "the manifest: kustomize/postgres with replicas: 2, customTLSSecret (keys remapped with items), customReplicationTLSSecret" \
	0 edit_hippo || bail "could not edit the manifest"
check "the manifest of rhino: kustomize/postgres named rhino, without backups, spec.users: [postgres]" 0 \
	edit_plain rhino superuser || bail "could not edit the manifest"
t_apply=$(now)
check "kubectl apply -k (hippo with custom TLS)" 0 kubectl apply -k "$work/hippo" || bail "hippo could not be created"
check "kubectl apply -k (rhino)" 0 kubectl apply -k "$work/rhino"

check "hippo: two instance pods Ready, one role=master, one role=replica" 480 instances_ready hippo 2 ||
	bail "hippo does not run with the custom certificates"
comment "apply to both hippo instances Ready: $(elapsed "$t_apply") s"
comment "$(kn get pods -l "$L/cluster=hippo,$L/instance-set" -L "$L/role" 2>&1)"

# --- custom TLS -------------------------------------------------------------------------

# streaming: the replica streams from the primary over TLS, authenticated by the user's client certificate.
streaming() {
	local master replica got
	master=$(pods_with_role hippo master) replica=$(pods_with_role hippo replica)
	got=$(pgx "$master" -c "SELECT r.application_name, r.state, s.ssl, s.client_dn
		FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)" 2>&1)
	[ -n "$replica" ] && [ "$got" = "$replica|streaming|t|/CN=_crunchyrepl" ] || {
		echo "replica '$replica'; pg_stat_replication on '$master': '$got'"
		return 1
	}
}
check "the replica streams; pg_stat_replication on the primary shows TLS and client_dn /CN=_crunchyrepl" 180 streaming

client_cas() {
	local p bad=0
	cat "$pki/ca.crt" >"$work/bundle.want" && secret_key pgo-root-cacert root.crt >>"$work/bundle.want" || return 1
	for p in $(instance_pods hippo); do
		kn exec "$p" -c database -- cat /pgconf/tls/ca.crt >"$work/bundle.got" 2>&1
		cmp -s "$work/bundle.want" "$work/bundle.got" || {
			echo "$p: /pgconf/tls/ca.crt holds $(grep -c 'BEGIN CERTIFICATE' "$work/bundle.got") certificates," \
				"not the user's CA followed by the root"
			bad=1
		}
	done
	[ "$(pgx "$(pods_with_role hippo master)" -c 'SHOW ssl_ca_file')" = /pgconf/tls/ca.crt ] || {
		echo "ssl_ca_file is not /pgconf/tls/ca.crt"
		bad=1
	}
	return $bad
}
check "Postgres' ssl_ca_file on both instances: the user's CA followed by the namespace root (pgo-root-cacert)" 60 \
	client_cas

# users_reconciled CLUSTER USER: the operator's SQL session ran (status.usersRevision) and Secret
# CLUSTER-pguser-USER holds a password.
users_reconciled() {
	local revision password
	revision=$(kn get postgrescluster "$1" -o jsonpath='{.status.usersRevision}')
	password=$(secret_key "$1-pguser-$2" password)
	[ -n "$revision" ] && [ -n "$password" ] || {
		echo "status.usersRevision '$revision'; Secret $1-pguser-$2 $([ -n "$password" ] && echo has || echo lacks) a password"
		kn get events --field-selector involvedObject.name="$1" 2>&1 | tail -3
		return 1
	}
}
check "the operator's SQL session (root client certificate and its password, verify-ca against the user's CA) runs: status.usersRevision set, Secret hippo-pguser-hippo" \
	180 users_reconciled hippo hippo

no_operator_certs() {
	local out
	out=$(kn get secret hippo-cluster-cert hippo-replication-cert -o name 2>/dev/null)
	[ -z "$out" ] || {
		echo "exist: $out"
		return 1
	}
}
check "the operator issues no hippo-cluster-cert nor hippo-replication-cert (the user's Secrets stand in)" 0 \
	no_operator_certs

client_pod() {
	kn create configmap "$CLIENT-ca" --from-file=user-ca.crt="$pki/ca.crt" --dry-run=client -o yaml |
		kubectl apply -f - >/dev/null || return 1
	sleeper_pod "$CLIENT" client <<-EOF | kubectl apply --filename=- || return 1
		      env:
		        - name: PGPASSWORD
		          valueFrom: { secretKeyRef: { name: hippo-pguser-hippo, key: password } }
		      volumeMounts:
		        - {name: certs, mountPath: /certs, readOnly: true}
		        - {name: keys, mountPath: /keys}
		  volumes:
		    - name: certs
		      projected:
		        sources:
		          - configMap: {name: $CLIENT-ca, items: [{key: user-ca.crt, path: user-ca.crt}]}
		          - secret: {name: pgo-root-cacert, items: [{key: root.crt, path: root.crt}]}
		    - name: keys
		      emptyDir: {medium: Memory}
	EOF
	kn wait --for=condition=Ready "pod/$CLIENT" --timeout=120s
}
check "a client pod with the user's CA, the root CA (pgo-root-cacert) and a place for client keys" 0 client_pod ||
	bail "no client pod"

PRIMARY_HOST=hippo-primary.$NS.svc
verify_user_ca() {
	local out
	out=$(cpsql /certs/user-ca.crt hippo-ha \
		-c "SELECT current_user, ssl, NOT pg_is_in_recovery() FROM pg_stat_ssl WHERE pid = pg_backend_pid()" 2>&1)
	echo "$out"
	[ "$out" = "hippo|t|t" ]
}
check "psql with the Secret's password, verify-full against the user's CA as $USER_HOST, to the primary (hippo-ha)" \
	60 verify_user_ca
verify_replicas() {
	local out
	out=$(cpsql /certs/user-ca.crt hippo-replicas -c "SELECT pg_is_in_recovery()" 2>&1)
	echo "$out"
	[ "$out" = t ]
}
check "psql verify-full against the user's CA as $USER_HOST to hippo-replicas' address reaches the replica" 60 \
	verify_replicas
root_refused() {
	local out
	out=$(cpsql /certs/root.crt hippo-ha -c "SELECT 1" 2>&1) && {
		echo "verify-full against the operator's root CA was accepted: $out"
		return 1
	}
	echo "$out"
	grep -q 'certificate verify failed' <<<"$out"
}
check "psql verify-full against the operator's root CA (pgo-root-cacert) fails: certificate verify failed" 30 root_refused
# The user's certificate names none of our Services: verify-full to the Service's name fails on the name, which is
# why the operator's session (users_reconciled above) verifies the chain only.
name_refused() {
	local out
	out=$(kpsql "" "host=$PRIMARY_HOST port=5432 user=hippo dbname=hippo sslmode=verify-full sslrootcert=/certs/user-ca.crt" \
		-c "SELECT 1" 2>&1) && {
		echo "verify-full to $PRIMARY_HOST was accepted: $out"
		return 1
	}
	echo "$out"
	grep -q "does not match host name \"$PRIMARY_HOST\"" <<<"$out"
}
check "psql verify-full against the user's CA to $PRIMARY_HOST fails: the certificate does not name it" 30 name_refused

serial1=$(serial_of <"$pki/server.crt")
both_serve() {
	local p bad=0
	for p in $(instance_pods hippo); do
		served "$p" 5432 /certs/user-ca.crt "$USER_HOST" "$1" -starttls postgres || bad=1
	done
	return $bad
}
check "both instances serve the user's server certificate (serial $serial1) on 5432" 60 both_serve "$serial1"

# --- renewal without restart (1): the user's server certificate -----------------------------------

before=$(pod_state hippo)
comment "hippo's pods before the renewals:" "$before"
renew_server() {
	mv "$pki/server.crt" "$pki/server-1.crt" && mv "$pki/server.key" "$pki/server-1.key" &&
		issue server "$USER_HOST" server_ext >/dev/null && server_secret
}
if check "Secret $SERVER_SECRET replaced: a new certificate and key from the same CA" 0 renew_server; then
	t0=$(now)
	serial2=$(serial_of <"$pki/server.crt")
	if check "within a bounded wait both instances serve the new certificate (serial $serial2)" 300 \
		both_serve "$serial2"; then
		comment "Secret $SERVER_SECRET replaced to the new certificate served by both instances: $(elapsed "$t0") s"
	fi
	check "no container restarted (same pod UIDs, restart counts 0)" 0 not_restarted hippo "$before"
	check "psql verify-full against the user's CA still connects (new certificate)" 30 verify_user_ca
	check "the replica still streams as /CN=_crunchyrepl" 60 streaming
	comment "$(for p in $(instance_pods hippo); do
		kn logs "$p" -c replication-cert-copy 2>/dev/null | grep 'loaded the certificates' | tail -1 | sed "s/^/$p: /"
	done)"
fi

# --- renewal without restart (2): Patroni's REST API certificate -----------------------------------

# patroni_settled CLUSTER: the operator is done configuring Patroni for now (status condition PGBackRestReplicaCreate,
# after which it adds pgBackRest to the replica methods), and each instance pod's /etc/patroni holds the ConfigMaps'
# current files: the serial the REST API serves before the renewal is then the settled one.
patroni_settled() {
	local p instance ok=0 condition
	condition=$(kn get postgrescluster "$1" \
		-o jsonpath='{.status.conditions[?(@.type=="PGBackRestReplicaCreate")].status}')
	[ "$condition" = True ] || {
		echo "condition PGBackRestReplicaCreate is '$condition'"
		ok=1
	}
	for p in $(instance_pods "$1"); do
		instance=$(instance_of "$p")
		cmp -s <(kn get configmap "$1-config" -o jsonpath='{.data.patroni\.yaml}') \
			<(kn exec "$p" -c database -- cat /etc/patroni/~postgres-operator_cluster.yaml) &&
			cmp -s <(kn get configmap "$instance-config" -o jsonpath='{.data.patroni\.yaml}') \
				<(kn exec "$p" -c database -- cat /etc/patroni/~postgres-operator_instance.yaml) || {
			echo "$p: /etc/patroni does not hold the ConfigMaps' files yet"
			ok=1
		}
	done
	return $ok
}
renew_api() {
	local primary instance secret old_uid old_serial new_serial t0 api_name
	check "hippo's Patroni configuration has settled: each pod's /etc/patroni holds the ConfigMaps' files" 180 \
		patroni_settled hippo || return 1
	# replication-cert-copy signals within 5 s of a change; Patroni reloads within loop_wait of the signal.
	sleep $((PATRONI_LOOP_WAIT + 5))
	# The renewal arrives together with a change of Patroni's configuration file (logging to files), the case where
	# one reload of Patroni does not look at the certificate.
	logging() {
		kn patch postgrescluster hippo --type=merge -p '{"spec":{"patroni":{"logging":{"storageLimit":"100Mi"}}}}'
	}
	primary=$(pods_with_role hippo master)
	instance=$(instance_of "$primary")
	secret=$instance-certs
	old_uid=$(uid_of secret "$secret")
	old_serial=$(secret_key "$secret" dns.crt | serial_of)
	api_name=$primary.hippo-pods.$NS.svc
	check "Patroni's REST API on $primary (8008) serves the certificate of Secret $secret (serial $old_serial)" 60 \
		served "$primary" 8008 /certs/root.crt "$api_name" "$old_serial" || return 1
	before=$(pod_state hippo)
	check "kubectl delete secret $secret (the primary's instance certificates) and, at once, spec.patroni.logging set" 0 \
		eval 'kn delete secret "$secret" && logging' || return 1
	t0=$(now)
	reissued() {
		local uid owner
		uid=$(uid_of secret "$secret")
		owner=$(kn get secret "$secret" \
			-o jsonpath='{range .metadata.ownerReferences[?(@.controller==true)]}{.kind}/{.name}{end}' 2>/dev/null)
		new_serial=$(secret_key "$secret" dns.crt | serial_of)
		[ -n "$uid" ] && [ "$uid" != "$old_uid" ] && [ "$owner" = PostgresCluster/hippo ] &&
			[ -n "$new_serial" ] && [ "$new_serial" != "$old_serial" ] || {
			echo "Secret $secret: uid '$uid' (was $old_uid), controller '$owner', dns.crt serial '$new_serial'"
			return 1
		}
	}
	check "the operator issues $secret again (new uid, controlled by hippo, a new dns.crt)" 120 reissued || return 1
	comment "Secret $secret deleted to issued again: $(elapsed "$t0") s (serial $new_serial)"
	if check "within a bounded wait Patroni's REST API on $primary serves the new certificate" 300 \
		served "$primary" 8008 /certs/root.crt "$api_name" "$new_serial"; then
		comment "Secret $secret deleted to the new certificate served on 8008: $(elapsed "$t0") s"
	fi
	check "no container restarted (same pod UIDs, restart counts 0)" 0 not_restarted hippo "$before"
	check "$primary is still the primary and the replica still streams" 60 \
		eval '[ "$(pods_with_role hippo master)" = "$primary" ] && streaming'
}
renew_api

# --- renewal before expiry (3): an operator-issued certificate, on rhino ------------------------------

check "rhino: one instance pod Ready, role=master" 300 instances_ready rhino 1 || bail "rhino does not run"
rhino_pod=$(instance_pods rhino)
RHINO_HOST=rhino-primary.$NS.svc
rhino_serial=$(secret_key rhino-cluster-cert tls.crt | serial_of)
check "rhino's Postgres serves rhino-cluster-cert's certificate (serial $rhino_serial), verified with the root" 120 \
	served "$rhino_pod" 5432 /certs/root.crt "$RHINO_HOST" "$rhino_serial" -starttls postgres

# forge NAME FROM TO: $pki/NAME.crt, rhino-cluster-cert's certificate (subject, extensions, key) signed again by the
# root of pgo-root-cacert, valid from FROM to TO (date -d phrases).
forge() {
	[ -f "$pki/root.key" ] || {
		secret_key pgo-root-cacert root.crt >"$pki/root.crt" && secret_key pgo-root-cacert root.key >"$pki/root.key" &&
			secret_key rhino-cluster-cert tls.crt >"$pki/rhino.crt" &&
			secret_key rhino-cluster-cert tls.key >"$pki/rhino.key" || return 1
	}
	: >"$pki/index.txt" && openssl rand -hex 16 >"$pki/serial" &&
		openssl x509 -x509toreq -in "$pki/rhino.crt" -signkey "$pki/rhino.key" -copy_extensions copyall \
			-out "$pki/$1.csr" 2>&1 &&
		openssl ca -config "$pki/openssl.cnf" -batch -notext -preserveDN -cert "$pki/root.crt" \
			-keyfile "$pki/root.key" -in "$pki/$1.csr" -out "$pki/$1.crt" \
			-startdate "$(date -u -d "$2" +%Y%m%d%H%M%SZ)" -enddate "$(date -u -d "$3" +%Y%m%d%H%M%SZ)" 2>&1 &&
		openssl verify -CAfile "$pki/root.crt" "$pki/$1.crt" &&
		openssl x509 -in "$pki/$1.crt" -noout -serial -dates
}
# put_cert FILE [LABELS]: FILE as tls.crt of rhino-cluster-cert, in one update with metadata.labels LABELS (a JSON
# merge patch).
put_cert() {
	kn patch secret rhino-cluster-cert --type=merge \
		-p "{\"metadata\":{\"labels\":${2:-{\}}},\"data\":{\"tls.crt\":\"$(base64 -w0 <"$1")\"}}"
}
rhino_before=$(pod_state rhino)

# A young certificate is kept. The Secret's certificate label is removed in the same update; once the operator has
# put it back, it has reconciled the Secret as it was, young certificate included.
label_back() {
	local label
	label=$(kn get secret rhino-cluster-cert -o jsonpath="{.metadata.labels.postgres-operator\.crunchydata\.com/cluster-certificate}")
	[ "$label" = postgres-tls ] || {
		echo "the certificate label is '$label'"
		return 1
	}
}
young_kept() {
	secret_key rhino-cluster-cert tls.crt >"$work/young.got"
	cmp "$pki/young.crt" "$work/young.got" || {
		echo "tls.crt is no longer the young certificate: serial $(serial_of <"$work/young.got")"
		return 1
	}
}
if check "a young certificate of the root for rhino-cluster-cert (10 days old, 355 to go)" 0 \
	forge young "10 days ago" "355 days" &&
	check "it is put in Secret rhino-cluster-cert, the certificate label removed in the same update" 0 \
		put_cert "$pki/young.crt" "{\"$L/cluster-certificate\":null}"; then
	check "the operator reconciles the Secret (it puts the label back)" 60 label_back &&
		check "and keeps the young certificate byte for byte" 0 young_kept
fi

old_renewed() {
	local serial notafter notbefore
	secret_key rhino-cluster-cert tls.crt >"$work/fresh.crt"
	secret_key rhino-cluster-cert tls.key >"$work/fresh.key"
	serial=$(serial_of <"$work/fresh.crt")
	[ -n "$serial" ] && [ "$serial" != "$old_serial" ] && [ "$serial" != "$young_serial" ] || {
		echo "tls.crt has serial '$serial' (the old one: $old_serial)"
		return 1
	}
	notbefore=$(date -d "$(openssl x509 -in "$work/fresh.crt" -noout -startdate | cut -d= -f2)" +%s)
	notafter=$(date -d "$(openssl x509 -in "$work/fresh.crt" -noout -enddate | cut -d= -f2)" +%s)
	# A year from now, give or take a day; notBefore in the last two hours (the operator backdates by one).
	[ $((notafter - $(date +%s))) -gt $((364 * 86400)) ] && [ $((notafter - $(date +%s))) -lt $((366 * 86400)) ] &&
		[ "$notbefore" -le "$(date +%s)" ] && [ "$notbefore" -gt $(($(date +%s) - 7200)) ] || {
		echo "the new certificate is valid from $(date -u -d "@$notbefore") to $(date -u -d "@$notafter")"
		return 1
	}
	openssl verify -CAfile "$pki/root.crt" "$work/fresh.crt" || return 1
	[ "$(openssl x509 -in "$work/fresh.crt" -noout -pubkey)" = "$(openssl pkey -in "$work/fresh.key" -pubout)" ] || {
		echo "tls.key is not the key of tls.crt"
		return 1
	}
	[ "$(openssl x509 -in "$work/fresh.crt" -noout -subject -ext subjectAltName,extendedKeyUsage)" = \
		"$(openssl x509 -in "$pki/rhino.crt" -noout -subject -ext subjectAltName,extendedKeyUsage)" ] || {
		echo "the new certificate's subject, names or usage differ from the first one's"
		return 1
	}
	fresh_serial=$serial
}
young_serial=$(serial_of <"$pki/young.crt" 2>/dev/null)
if check "a certificate of the root for rhino-cluster-cert past two thirds of its life (300 days old, 65 to go)" 0 \
	forge old "300 days ago" "65 days"; then
	old_serial=$(serial_of <"$pki/old.crt")
	check "it is put in Secret rhino-cluster-cert (tls.key matching)" 0 put_cert "$pki/old.crt" && t0=$(now)
	if check "the operator replaces it: a new serial, valid a year from now, chained to the root, its key, same names" \
		60 old_renewed; then
		comment "old certificate put to the Secret renewed: $(elapsed "$t0") s"
		if check "within a bounded wait rhino's Postgres serves the fresh certificate (serial $fresh_serial)" 300 \
			served "$rhino_pod" 5432 /certs/root.crt "$RHINO_HOST" "$fresh_serial" -starttls postgres; then
			comment "old certificate put to the fresh certificate served by Postgres: $(elapsed "$t0") s"
		fi
	fi
	check "no container of rhino restarted (same pod UID, restart counts 0)" 0 not_restarted rhino "$rhino_before"
fi

# --- the operator's login ----------------------------------------------------------------------

# to_client NAME: $pki/NAME.crt and NAME.key into the client pod's /keys, readable by its user only (libpq demands it).
to_client() {
	kn exec -i "$CLIENT" -- sh -c "umask 077 && cat >/keys/$1.crt" <"$pki/$1.crt" &&
		kn exec -i "$CLIENT" -- sh -c "umask 077 && cat >/keys/$1.key" <"$pki/$1.key"
}
# as_operator CLUSTER CAFILE NAME CERT: psql in the client pod as _crunchyoperator with client certificate CERT (in
# /keys) to the primary at CLUSTER-ha's ClusterIP (where the operator goes), the server verified against CAFILE as
# NAME. Prints the role and whether it is a superuser.
# as_operator CLUSTER CAFILE HOST KEYNAME [PASSWORD]: psql as _crunchyoperator with the client certificate KEYNAME.
as_operator() {
	kpsql "${5:-}" "host=$3 hostaddr=$(svc_ip "$1-ha") port=5432 user=_crunchyoperator dbname=postgres \
sslmode=verify-full sslrootcert=$2 sslcert=/keys/$4.crt sslkey=/keys/$4.key" \
		-c "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user"
}

check "rhino's users are reconciled: status.usersRevision set, Secret rhino-pguser-postgres" 180 users_reconciled rhino postgres

# postgres_login PASSWORD: psql as postgres with PASSWORD over TLS, verify-full against the root, to the Secret's host.
postgres_login() {
	kpsql "$1" "host=$(secret_key rhino-pguser-postgres host) port=$(secret_key rhino-pguser-postgres port) \
user=postgres dbname=postgres sslmode=verify-full sslrootcert=/certs/root.crt" \
		-c "SELECT current_user, s.ssl, r.rolsuper FROM pg_stat_ssl s, pg_roles r
			WHERE s.pid = pg_backend_pid() AND r.rolname = current_user"
}
postgres_password() {
	local out
	out=$(postgres_login "$(secret_key rhino-pguser-postgres password)" 2>&1)
	echo "$out"
	[ "$out" = "postgres|t|t" ]
}
check "postgres (in spec.users) logs in with its Secret's password over TLS, verify-full against the root, as superuser" \
	60 postgres_password
wrong_password() {
	local out
	out=$(postgres_login "not-$(secret_key rhino-pguser-postgres password)" 2>&1) && {
		echo "a wrong password was accepted: $out"
		return 1
	}
	echo "$out"
	grep -q 'password authentication failed for user "postgres"' <<<"$out"
}
check "and with a wrong password it is refused (password authentication failed)" 30 wrong_password

# A certificate named after the operator's role, from a CA the cluster does not trust (the test's), from the
# cluster's root (what the operator signs itself), and, on hippo, from the user's CA, which hippo trusts.
foreign_refused() {
	local out
	out=$(as_operator rhino /certs/root.crt "$RHINO_HOST" op-user-ca 2>&1) && {
		echo "accepted: $out"
		return 1
	}
	echo "$out"
	grep -qiE 'unknown ca|certificate verify failed' <<<"$out"
}
root_pki() {
	[ -f "$pki/root.key" ] || {
		secret_key pgo-root-cacert root.crt >"$pki/root.crt" && secret_key pgo-root-cacert root.key >"$pki/root.key"
	}
}
operator_in() {
	local out
	out=$(as_operator rhino /certs/root.crt "$RHINO_HOST" op-root "$(secret_key rhino-operator password)" 2>&1)
	echo "$out"
	[ "$out" = "_crunchyoperator|t" ]
}
# no_password CLUSTER CAFILE HOST KEYNAME [PASSWORD]: as_operator is refused by password authentication (no password,
# or a wrong one), which comes after the certificate was accepted.
no_password() {
	local out
	out=$(as_operator "$@" 2>&1) && {
		echo "accepted: $out"
		return 1
	}
	echo "$out"
	grep -qiE 'no password supplied|password authentication failed for user "_crunchyoperator"' <<<"$out"
}
operator_secret() {
	local password
	password=$(secret_key rhino-operator password)
	[ "${#password}" -eq 43 ] || {
		echo "Secret rhino-operator has a password of ${#password} characters, not 43"
		return 1
	}
	if kn get configmap -o json | grep -qF -- "$password"; then
		echo "the password is in a ConfigMap"
		return 1
	fi
	if kn get pods -l "$L/cluster=rhino" -o json | grep -q '"secretName": *"rhino-operator"'; then
		echo "a pod of rhino mounts Secret rhino-operator"
		return 1
	fi
}
if check "a client certificate CN=_crunchyoperator from the test's CA, in the client pod" 0 \
	eval 'issue op-user-ca _crunchyoperator client_ext && to_client op-user-ca'; then
	check "rhino refuses it (its Postgres trusts the namespace root only)" 30 foreign_refused
	check "Secret rhino-operator holds the operator's password (43 characters), in no ConfigMap, mounted by no pod" 0 \
		operator_secret
	if check "a client certificate CN=_crunchyoperator from the namespace root (pgo-root-cacert), in the client pod" 0 \
		eval 'root_pki && issue op-root _crunchyoperator client_ext root && to_client op-root'; then
		check "rhino refuses it without a password (the certificate alone is not the operator's login)" 30 \
			no_password rhino /certs/root.crt "$RHINO_HOST" op-root
		check "rhino refuses it with a wrong password" 30 \
			no_password rhino /certs/root.crt "$RHINO_HOST" op-root "not-$(secret_key rhino-operator password)"
		check "with the password of Secret rhino-operator it logs in to rhino as _crunchyoperator, a superuser: the operator's login" \
			30 operator_in
	fi
	# hippo trusts the user's CA for client certificates (customReplicationTLSSecret comes from it), and pg_hba cannot
	# ask which CA signed a certificate: that CA can issue the operator's name, but not the operator's password.
	check "hippo refuses a client certificate CN=_crunchyoperator from the user's CA (no password)" 30 \
		no_password hippo /certs/user-ca.crt "$USER_HOST" op-user-ca
	check "hippo refuses it with a wrong password" 30 \
		no_password hippo /certs/user-ca.crt "$USER_HOST" op-user-ca "not-$(secret_key hippo-operator password)"
fi

# --- uninstall ---------------------------------------------------------------------------

if [ "${CERTIFICATES_KEEP:-0}" != 1 ]; then
	kn delete pod "$CLIENT" --wait=false >/dev/null 2>&1
	kn delete configmap "$CLIENT-ca" >/dev/null 2>&1
	check "kubectl delete -k (hippo, rhino)" 0 \
		eval 'kubectl delete -k "$work/hippo" --timeout=180s && kubectl delete -k "$work/rhino" --timeout=180s'
	check "hippo, rhino and every object they owned are gone" 180 gone hippo rhino
	kn delete secret "$SERVER_SECRET" "$REPL_SECRET" --ignore-not-found >/dev/null 2>&1
	uninstalled=1
	check "the seed's uninstall removes the operator and namespace postgres-operator" 0 uninstall
fi
comment "certificates.sh ran $(elapsed "$t_start") s"
tap_done
