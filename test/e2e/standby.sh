#!/usr/bin/env bash
# Standby clusters (spec.standby) and their promotion on the local cluster with the operator image (namespace
# postgres-operator, the seed's install), against the S3 server of test/lib/storage.sh over verified HTTPS.
#
#  - penguin: the primary cluster, one instance, repo1 on S3 (bucket "standby", repo1-path /penguin), the custom
#    server and replication certificates of one CA the test makes with openssl (as the seed's streaming standby asks);
#  - auk: a repo-based standby, repo1 on the same bucket and path: its leader is restored from penguin's backup and
#    replays the WAL penguin archives; it refuses writes and follows later writes;
#  - puffin: a streaming standby of penguin-primary with the same custom certificates (_crunchyrepl by certificate),
#    its own repo1 path /puffin; it follows writes within seconds;
#  - gull: a standby with an empty host and no repository (which the CRD lets pass): InvalidStandbyConfiguration,
#    nothing created;
#  - promotion of puffin by standby.enabled false: writable, a new timeline, data intact, its own user made (the
#    operator's role set again on promotion), its stanza (created once Patroni has promoted, no failed attempt) and
#    replica-create backup in its repository.
# Lag and time-to-writable are TAP comments.
#
# Environment: STANDBY_KEEP=1 leaves everything.
# shellcheck source=../lib/tap.sh
source "$(dirname "$0")/../lib/tap.sh"
# shellcheck source=../lib/kube.sh
source "$(dirname "$0")/../lib/kube.sh"
# shellcheck source=../lib/e2e.sh
source "$(dirname "$0")/../lib/e2e.sh"
# shellcheck source=../lib/storage.sh
source "$(dirname "$0")/../lib/storage.sh"
e2e_prepare

NS=postgres-operator
SNS=pgo-standby-storage
L=postgres-operator.crunchydata.com
IMAGE=$POSTGRES_17_IMAGE
CA_FILE=/etc/pgbackrest/conf.d/storage-ca.crt
CLUSTERS="penguin auk puffin gull"
work=$(mktemp -d)
pki=$work/pki

cleanup() {
	if [ "${STANDBY_KEEP:-0}" != 1 ]; then
		# shellcheck disable=SC2086
		kn delete postgrescluster $CLUSTERS --ignore-not-found --wait=true --timeout=180s >/dev/null 2>&1
		uninstall_operator
		kubectl delete namespace "$SNS" --ignore-not-found --wait=true --timeout=120s >/dev/null 2>&1
	fi
	rm -rf "$work"
}
trap cleanup EXIT

diagnose() {
	echo "--- kubectl -n $NS get postgrescluster,sts,pods,jobs"
	kn get postgresclusters,statefulsets,pods,jobs -o wide 2>&1 | head -30
	local c p
	for c in penguin auk puffin; do
		echo "--- $c .status.conditions / .status.pgbackrest"
		kn get postgrescluster "$c" -o jsonpath='{.status.conditions}{"\n"}{.status.pgbackrest}' 2>&1 | head -c 1500
		echo
		for p in $(instance_pods "$c"); do
			echo "--- $p database log (last 12 lines)"
			kn logs "$p" -c database --tail=12 2>&1
		done
	done
	diagnose_operator 20
}

leader() { pods_with_role "$1" master; }
# sql CLUSTER SQL...: psql as postgres in CLUSTER's leader, unaligned, tuples only.
sql() {
	local c=$1
	shift
	timeout 60 kubectl -n "$NS" exec "$(leader "$c")" -c database -- psql -d postgres -XAtq -v ON_ERROR_STOP=1 "$@"
}
backrest() { kn get postgrescluster "$1" -o jsonpath="{.status.pgbackrest$2}" 2>/dev/null; }
condition() { kn get postgrescluster "$1" -o jsonpath="{.status.conditions[?(@.type==\"$2\")].$3}" 2>/dev/null; }

# --- storage and certificates -------------------------------------------------------------

# S3 with bucket "standby"; Secret standby-s3 with the keys and the CA; the other options in $work/global.yaml.
storage_up() {
	kubectl create namespace "$SNS" >/dev/null 2>&1
	storage_ca "$SNS" && storage_deploy s3 "$SNS" && storage_bucket s3 "$SNS" standby &&
		storage_repo_options s3 "$SNS" 1 standby "$CA_FILE" >"$work/options" || return 1
	{
		echo "[global]"
		grep -E -- '-(key|key-secret)=' "$work/options"
	} >"$work/s3.conf"
	grep -vE '^repo1-(type|s3-endpoint|s3-region|s3-bucket|s3-key|s3-key-secret)=' "$work/options" |
		sed -E 's/^([^=]+)=(.*)$/        \1: "\2"/' >"$work/global.yaml"
	kubectl -n "$SNS" get secret storage-ca -o jsonpath='{.data.ca\.crt}' | base64 -d >"$work/storage-ca.crt"
	kn create secret generic standby-s3 --from-file=s3.conf="$work/s3.conf" \
		--from-file=storage-ca.crt="$work/storage-ca.crt"
}

new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>&1; }
# issue NAME CN EXTENSIONS: $pki/NAME.key and .crt signed by the test's CA.
issue() {
	new_key "$pki/$1.key" &&
		openssl req -new -key "$pki/$1.key" -subj "/CN=$2" -out "$pki/$1.csr" &&
		openssl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
			-days 30 -sha256 -extfile "$pki/openssl.cnf" -extensions "$3" -out "$pki/$1.crt" 2>&1 &&
		openssl verify -CAfile "$pki/ca.crt" "$pki/$1.crt"
}
# One CA, a server certificate for the clusters' primary Services, a client certificate for _crunchyrepl; Secrets
# standby-tls and standby-repl (tls.crt, tls.key, ca.crt).
pki_up() {
	mkdir -p "$pki" && cat >"$pki/openssl.cnf" <<-EOF
		[ ca_ext ]
		basicConstraints = critical, CA:TRUE, pathlen:0
		keyUsage = critical, keyCertSign, cRLSign
		subjectKeyIdentifier = hash
		[ server_ext ]
		basicConstraints = critical, CA:FALSE
		keyUsage = critical, digitalSignature, keyEncipherment
		extendedKeyUsage = serverAuth
		subjectAltName = DNS:penguin-primary.$NS.svc, DNS:puffin-primary.$NS.svc
		[ client_ext ]
		basicConstraints = critical, CA:FALSE
		keyUsage = critical, digitalSignature, keyEncipherment
		extendedKeyUsage = clientAuth
	EOF
	new_key "$pki/ca.key" &&
		openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=standby-e2e-ca" -config "$pki/openssl.cnf" \
			-extensions ca_ext -days 30 -sha256 -out "$pki/ca.crt" 2>&1 &&
		issue server penguin-primary server_ext && issue repl _crunchyrepl client_ext || return 1
	local name file
	for name in tls:server repl:repl; do
		file=${name#*:}
		kn create secret generic "standby-${name%%:*}" --from-file=tls.crt="$pki/$file.crt" \
			--from-file=tls.key="$pki/$file.key" --from-file=ca.crt="$pki/ca.crt" --dry-run=client -o yaml |
			kubectl apply -f - || return 1
	done
}

# --- manifests ------------------------------------------------------------------------------

# cluster NAME PATH STANDBY TLS: a one-instance cluster with repo1 on S3 at repo1-path PATH, spec.standby STANDBY
# (YAML flow, or "" for none), the custom certificates when TLS is "tls".
cluster() {
	local standby="" tls=""
	[ -n "$3" ] && standby="  standby: $3"
	[ "$4" = tls ] && tls=$'  customTLSSecret: {name: standby-tls}\n  customReplicationTLSSecret: {name: standby-repl}'
	cat >"$work/$1.yaml" <<-EOF
		apiVersion: postgres-operator.crunchydata.com/v1beta1
		kind: PostgresCluster
		metadata:
		  name: $1
		  namespace: $NS
		spec:
		  image: $IMAGE
		  postgresVersion: 17
		$standby
		$tls
		  instances:
		    - name: instance1
		      dataVolumeClaimSpec:
		        accessModes: [ReadWriteOnce]
		        resources: {requests: {storage: 1Gi}}
		  backups:
		    pgbackrest:
		      image: $IMAGE
		      configuration:
		      - secret: {name: standby-s3}
		      global:
		        repo1-path: $2
		$(cat "$work/global.yaml")
		      repos:
		      - name: repo1
		        s3: {bucket: standby, endpoint: s3.$SNS.svc, region: us-east-1}
	EOF
	kubectl apply --server-side -f "$work/$1.yaml"
}

primary_ready() {
	instances_ready penguin 1 || return 1
	local got
	got="$(backrest penguin '.repos[0].stanzaCreated') $(backrest penguin '.repos[0].replicaCreateBackupComplete')"
	[ "$got" = "true true" ] || {
		echo "stanza, replica-create: $got"
		return 1
	}
}
# in_recovery CLUSTER: its leader is a hot standby (pg_is_in_recovery).
in_recovery() { [ "$(sql "$1" -c 'SELECT pg_is_in_recovery()')" = t ]; }
writable() { [ "$(sql "$1" -c 'SELECT pg_is_in_recovery()')" = f ] && sql "$1" -c 'CREATE TABLE IF NOT EXISTS w (n int)'; }
refuses_writes() {
	local out
	out=$(sql "$1" -c 'CREATE TABLE nope (n int)' 2>&1) && return 1
	echo "$out"
	grep -q 'read-only transaction' <<<"$out"
}
# rows CLUSTER N: table birds has N rows in CLUSTER.
rows() {
	local got
	got=$(sql "$1" -c 'SELECT count(*) FROM birds' 2>&1)
	echo "$1: birds has $got rows, want $2"
	[ "$got" = "$2" ]
}
# no_jobs CLUSTER: CLUSTER runs no pgBackRest Job and has no CronJob (a standby writes nothing to the repository).
no_jobs() {
	local left
	left=$(kn get jobs,cronjobs -l "$L/cluster=$1" -o name 2>&1)
	[ -z "$left" ] || {
		echo "$left"
		return 1
	}
}
invalid_standby() {
	local got
	got="$(condition gull Progressing reason) $(kn get statefulsets -l "$L/cluster=gull" -o name 2>&1)"
	echo "gull: $got"
	[ "$got" = "InvalidStandbyConfiguration " ] &&
		kn get events --field-selector reason=InvalidStandbyConfiguration -o name | grep -q .
}
# timeline CLUSTER: the timeline of CLUSTER's current WAL.
timeline() { sql "$1" -c 'SELECT ((pg_control_checkpoint()).timeline_id)'; }
new_timeline() {
	local tl
	sql puffin -c 'CHECKPOINT' >/dev/null
	tl=$(timeline puffin)
	echo "puffin timeline: $tl"
	[ "${tl:-1}" -gt 1 ]
}
# user_login CLUSTER: CLUSTER's own user logs in with its Secret's password over TLS.
user_login() {
	local uri
	uri=$(kn get secret "$1-pguser-$1" -o jsonpath='{.data.uri}' | base64 -d) || return 1
	[ "$(timeout 30 kubectl -n "$NS" exec "$(leader "$1")" -c database -- psql "$uri" -XAtqc 'SELECT current_user')" = "$1" ]
}
backed_up() {
	local got
	got="$(backrest puffin '.repos[0].stanzaCreated') $(backrest puffin '.repos[0].replicaCreateBackupComplete')"
	echo "puffin stanza, replica-create: $got"
	[ "$got" = "true true" ]
}

# --- preconditions, storage, install ----------------------------------------------------------

require_cluster
check "the operator image and $IMAGE are in the cluster's containerd" 0 images_present
check "the S3 server's image is in the cluster's containerd (built when missing)" 0 storage_images s3 ||
	bail "no storage server image"
# shellcheck disable=SC2086
kn delete postgrescluster $CLUSTERS --ignore-not-found --wait=true --timeout=180s >/dev/null 2>&1
uninstall_operator
install_operator || bail "the operator is not running"
check "S3 over HTTPS with bucket standby, the keys in Secret standby-s3" 0 storage_up || bail "no storage"
check "openssl: one CA, the server and _crunchyrepl certificates, Secrets standby-tls and standby-repl" 0 pki_up ||
	bail "no certificates"

# --- the primary --------------------------------------------------------------------------------

check "penguin (repo1 on S3 at /penguin, custom TLS) applied" 0 cluster penguin /penguin "" tls
start=$(now)
check "penguin: Ready, its stanza and replica-create backup in S3" 420 primary_ready || bail "penguin is not ready"
comment "penguin ready with its first backup in $(elapsed "$start") s"
check "rows written on penguin" 0 sql penguin -c "CREATE TABLE birds AS SELECT n FROM generate_series(1, 1000) n"

# --- the standbys ---------------------------------------------------------------------------------

check "gull: standby with an empty host and no repoName applied (the CRD lets it pass)" 0 \
	cluster gull /gull "{enabled: true, host: \"\"}" ""
check "auk: repo-based standby of repo1 (penguin's bucket and path) applied" 0 \
	cluster auk /penguin "{enabled: true, repoName: repo1}" ""
check "puffin: streaming standby of penguin-primary (shared custom TLS) applied" 0 \
	cluster puffin /puffin "{enabled: true, host: penguin-primary.$NS.svc, port: 5432}" tls
start=$(now)
check "gull: Progressing InvalidStandbyConfiguration, an Event, no instance" 60 invalid_standby
check "puffin: its standby leader is Ready (bootstrapped by pg_basebackup from penguin)" 300 instances_ready puffin 1
comment "puffin ready in $(elapsed "$start") s"
check "puffin: in recovery, with penguin's rows" 60 eval 'in_recovery puffin && rows puffin 1000'
check "puffin: refuses writes" 0 refuses_writes puffin
check "auk: its standby leader is Ready (restored from penguin's backup in S3)" 300 instances_ready auk 1
comment "auk ready in $(elapsed "$start") s"
check "auk: in recovery" 30 in_recovery auk
check "auk: refuses writes" 0 refuses_writes auk
check "auk and puffin: no pgBackRest Job and no CronJob while standby" 0 eval 'no_jobs auk && no_jobs puffin'
check "auk and puffin: their users' Secrets are made" 0 \
	kn get secret auk-pguser-auk puffin-pguser-puffin -o name

check "more rows on penguin" 0 sql penguin -c "INSERT INTO birds SELECT n FROM generate_series(1001, 2000) n"
start=$(now)
check "puffin follows by streaming" 60 rows puffin 2000
comment "streaming lag (insert on penguin to rows on puffin, polled each second): $(elapsed "$start") s"
check "penguin archives the WAL segment (pg_switch_wal)" 0 sql penguin -c "SELECT pg_switch_wal()"
check "auk follows from the repository" 180 rows auk 2000
comment "repository lag (insert on penguin to rows on auk, WAL switched at once): $(elapsed "$start") s"

# --- promotion --------------------------------------------------------------------------------------

check "puffin promoted: standby.enabled false" 0 \
	kn patch postgrescluster puffin --type=merge -p '{"spec":{"standby":{"enabled":false}}}'
start=$(now)
check "puffin is writable" 120 writable puffin
comment "time from enabled:false to writable: $(elapsed "$start") s"
check "puffin: a new timeline" 30 new_timeline
check "puffin: data intact" 0 eval 'rows puffin 2000 && sql puffin -c "INSERT INTO birds VALUES (2001)"'
check "puffin: its user made after the promotion logs in with its Secret" 180 user_login puffin
check "puffin: stanza and replica-create backup in its repository" 300 backed_up
check "puffin: its stanza Job ran once the leader was promoted (no failed attempt)" 0 eval \
	'[ -z "$(kn get jobs -l "$L/cluster=puffin,$L/pgbackrest-stanza" -o jsonpath="{.items[*].status.failed}")" ]'
check "auk keeps following penguin, not puffin" 0 eval 'in_recovery auk && rows auk 2000'

tap_done
