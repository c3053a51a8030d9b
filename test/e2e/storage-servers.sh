#!/usr/bin/env bash
# The storage services of the cloud repository tests (test/lib/storage.sh)
# work with pgBackRest, with nothing of the operator: in a throwaway
# namespace that enforces the restricted Pod Security Standard, it deploys
# the S3 (moto), GCS (fake-gcs-server) and Azure Blob (Azurite) servers, each
# over HTTPS with a certificate from the test's own CA, and creates a bucket
# or container on each. A pod of our postgres image then runs initdb and a
# small PostgreSQL that archives its WAL with pgBackRest to three
# repositories at once, repo1 on S3, repo2 on GCS and repo3 on Azure, with
# the options storage_repo_options prints (TLS verified against the CA from
# Secret storage-ca). Checks: stanza-create; a full backup to each
# repository; `pgbackrest info` lists it on each; a restore from each into
# an empty directory (every file read back and checked by pgBackRest).
# Compression is off and the database holds a table of about 10 MB, so the
# WAL segments (16 MB) and that table's file go up in several parts
# (multipart upload on S3, a resumable upload on GCS, blocks on Azure), as
# a real database's files do. Then everything is removed.
#
# The servers' images are built and imported first when the cluster lacks
# them (hack/build-images.sh --import s3 gcs azure: several minutes on a
# cold machine). It does not touch namespace postgres-operator or the
# operator. Times are TAP comments.
# shellcheck source=../lib/tap.sh
source "$(dirname "$0")/../lib/tap.sh"
# shellcheck source=../lib/kube.sh
source "$(dirname "$0")/../lib/kube.sh"
# shellcheck source=../lib/e2e.sh
source "$(dirname "$0")/../lib/e2e.sh"
# shellcheck source=../lib/storage.sh
source "$(dirname "$0")/../lib/storage.sh"
e2e_prepare
require_cluster

IMAGE=$POSTGRES_17_IMAGE
CLIENT=pgbackrest-client
BUCKET=pgbackrest
CA_DIR=/etc/storage-ca
CONF=/etc/pgbackrest-test/pgbackrest.conf
REPOS=(s3 gcs azure) # repo1, repo2, repo3
work=$(mktemp -d)
NS=$(new_namespace storage pod-security.kubernetes.io/enforce=restricted \
	pod-security.kubernetes.io/enforce-version=latest) || bail "cannot create a namespace"
cleanup() {
	storage_remove "$NS" >/dev/null 2>&1
	cleanup_namespaces
	rm -rf "$work"
}
trap cleanup EXIT

diagnose() {
	storage_diagnose "$NS"
	echo "--- $CLIENT"
	kn get pod "$CLIENT" -o wide 2>&1
	kn logs "$CLIENT" --tail=15 2>&1
}

# pgbr ARGS...: pgbackrest in the client pod, stanza db.
pgbr() { kn exec "$CLIENT" -- pgbackrest --config="$CONF" --stanza=db "$@"; }

started=$(now)
check "the storage servers' images are in the cluster (built and imported if missing)" 0 storage_images
comment "images ready after $(elapsed "$started") s"

for kind in "${REPOS[@]}"; do
	t=$(now)
	check "$kind server deployed over HTTPS and Ready (restricted)" 0 storage_deploy "$kind" "$NS" ||
		bail "the $kind server does not run"
	comment "$kind Ready after $(elapsed "$t") s"
	check "$kind: bucket $BUCKET created (TLS verified against the CA)" 30 storage_bucket "$kind" "$NS" "$BUCKET"
done

# The pgBackRest configuration: the three repositories as the library gives them.
config() {
	local i
	printf '%s\n' "[global]" log-level-console=info log-level-stderr=off log-level-file=off \
		compress-type=none start-fast=y archive-timeout=120 process-max=2
	for i in 1 2 3; do
		storage_repo_options "${REPOS[$((i - 1))]}" "$NS" "$i" "$BUCKET" "$CA_DIR/ca.crt" || return 1
		printf '%s\n' "repo$i-path=/pgbackrest/$NS" "repo$i-retention-full=2"
	done
	printf '%s\n' "" "[db]" pg1-path=/pgdata/data pg1-socket-path=/tmp pg1-user=postgres
}
make_config() {
	config >"$work/pgbackrest.conf" || return 1
	kn create secret generic pgbackrest-test --from-file=pgbackrest.conf="$work/pgbackrest.conf"
}
check "pgbackrest.conf with repo1 (s3), repo2 (gcs), repo3 (azure) from storage_repo_options" 0 make_config
comment "$(grep -E '^repo[0-9]-' "$work/pgbackrest.conf" | grep -vE -- '-key(-secret)?=' | tr '\n' ' ')"

# The client: PostgreSQL 17 archiving to the three repositories.
client_pod() {
	kn apply -f - <<-EOF
		apiVersion: v1
		kind: Pod
		metadata:
		  name: $CLIENT
		spec:
		  enableServiceLinks: false
		  automountServiceAccountToken: false
		  terminationGracePeriodSeconds: 5
		  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
		  containers:
		    - name: postgres
		      image: $IMAGE
		      imagePullPolicy: IfNotPresent
		      command:
		        - /bin/sh
		        - -c
		        - |
		          initdb -D /pgdata/data -U postgres --auth=trust >/pgdata/initdb.log 2>&1 || { cat /pgdata/initdb.log; exit 1; }
		          cat >>/pgdata/data/postgresql.conf <<'CONF'
		          listen_addresses = ''
		          unix_socket_directories = '/tmp'
		          archive_mode = on
		          archive_command = 'pgbackrest --config=$CONF --stanza=db archive-push %p'
		          CONF
		          exec postgres -D /pgdata/data
		      readinessProbe:
		        exec: {command: [pg_isready, -h, /tmp, -U, postgres]}
		        periodSeconds: 2
		      resources:
		        requests: {cpu: 50m, memory: 128Mi}
		        limits: {memory: 1Gi}
		$(container_security 6)
		      volumeMounts:
		        - {name: pgdata, mountPath: /pgdata}
		        - {name: tmp, mountPath: /tmp}
		        - {name: ca, mountPath: $CA_DIR, readOnly: true}
		        - {name: conf, mountPath: ${CONF%/*}, readOnly: true}
		  volumes:
		    - {name: pgdata, emptyDir: {}}
		    - {name: tmp, emptyDir: {}}
		    - {name: ca, secret: {secretName: storage-ca}}
		    - {name: conf, secret: {secretName: pgbackrest-test}}
	EOF
	kn wait --for=condition=Ready "pod/$CLIENT" --timeout=120s
}
check "a pod of $IMAGE runs initdb and PostgreSQL, archiving with pgBackRest" 0 client_pod ||
	bail "no PostgreSQL to back up"

psql_c() { kn exec "$CLIENT" -- psql -h /tmp -U postgres -v ON_ERROR_STOP=1 -Atc "$1"; }
check "about 10 MB of data (a table file larger than every upload chunk)" 0 \
	psql_c "create table filler as select g, md5(g::text) as h from generate_series(1, 150000) g; checkpoint"

t=$(now)
check "pgbackrest stanza-create on repo1 (s3), repo2 (gcs) and repo3 (azure)" 0 pgbr stanza-create
comment "stanza-create took $(elapsed "$t") s"
check "pgbackrest check: WAL archiving reaches the three repositories" 0 pgbr check

for i in 1 2 3; do
	t=$(now)
	check "pgbackrest backup --type=full to repo$i (${REPOS[$((i - 1))]})" 0 pgbr --repo="$i" --type=full backup
	comment "backup to repo$i took $(elapsed "$t") s"
done

# in_parts: the servers' logs show uploads in parts: S3 multipart (a part 2), GCS resumable (an upload id), Azure
# blocks (a block list).
in_parts() {
	local ok=0 kind pattern what
	for kind in s3 gcs azure; do
		case $kind in
		s3) pattern='partNumber=2' what="multipart upload with a part 2" ;;
		gcs) pattern='upload_id=' what="resumable upload" ;;
		azure) pattern='comp=blocklist' what="block list" ;;
		esac
		# The whole log first: grep -q would stop reading early, and pipefail would count kubectl's SIGPIPE.
		kn logs "deployment/$kind" >"$work/$kind.log" 2>&1 || ok=1
		if grep -q -- "$pattern" "$work/$kind.log"; then
			echo "$kind: $(grep -c -- "$pattern" "$work/$kind.log") requests with $pattern"
		else
			echo "$kind: no $what in its log"
			ok=1
		fi
	done
	return $ok
}
check "large files went up in parts (S3 multipart, GCS resumable, Azure blocks)" 0 in_parts &&
	comment "$(cat "$work/check.out")"

# has_backup N: `pgbackrest info` of repo N lists a full backup, stanza status ok.
has_backup() {
	local out
	out=$(pgbr --repo="$1" info) || return 1
	echo "$out"
	grep -q 'status: ok' <<<"$out" && grep -qE 'full backup: [0-9]{8}-[0-9]{6}F' <<<"$out"
}
for i in 1 2 3; do
	check "pgbackrest info lists a full backup on repo$i (${REPOS[$((i - 1))]})" 0 has_backup "$i"
done
# The JSON view as well: one backup per repository key.
info_json() {
	local keys
	keys=$(pgbr --output=json info | grep -oE '"repo-key":[0-9]+' | sort -u | tr '\n' ' ')
	echo "repo keys of the backups: $keys"
	[ "$keys" = '"repo-key":1 "repo-key":2 "repo-key":3 ' ]
}
check "pgbackrest info --output=json lists backups of repo keys 1, 2 and 3" 0 info_json

# restore_from N: restore repo N's backup into an empty directory; pgBackRest checks each file it reads.
restore_from() {
	kn exec "$CLIENT" -- sh -c "rm -rf /pgdata/restore && mkdir -m 700 /pgdata/restore" || return 1
	pgbr --repo="$1" --pg1-path=/pgdata/restore restore || return 1
	kn exec "$CLIENT" -- sh -c 'test -s /pgdata/restore/PG_VERSION && test -s /pgdata/restore/global/pg_control'
}
for i in 1 2 3; do
	t=$(now)
	check "pgbackrest restore from repo$i (${REPOS[$((i - 1))]}) reads the backup back" 0 restore_from "$i"
	comment "restore from repo$i took $(elapsed "$t") s"
done

removed() {
	kn delete pod "$CLIENT" --wait=true --timeout=60s >/dev/null || return 1
	storage_remove "$NS" || return 1
	local left
	left=$(kn get deployments,services,secrets,pods -l "$STORAGE_LABEL" -o name 2>&1)
	[ -z "$left" ] || {
		echo "left: $left"
		return 1
	}
}
check "storage_remove removes the servers, their Services and Secrets" 0 removed
comment "storage-servers.sh took $(elapsed "$started") s"
tap_done
