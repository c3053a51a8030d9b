#!/usr/bin/env bash
# Backups to cloud repositories on the local cluster with the operator image
# (namespace postgres-operator, the seed's install), against real storage
# services started by test/lib/storage.sh in a namespace of their own: S3
# (moto's server), GCS (fake-gcs-server) and Azure Blob (Azurite), each over
# HTTPS verified against the test's CA.
#
# Cluster "heron" has three repositories and no volume one: repo1 on S3 (an
# incremental backup every minute), repo2 on GCS, repo3 on Azure. As a PGO
# user configures them: the bucket, endpoint and region in the repository's
# own fields, the other options (ports, URI style, the CA file) in
# spec.backups.pgbackrest.global, the keys in a Secret projected by
# spec.backups.pgbackrest.configuration.
#
#  - no repository host, no repository volume;
#  - stanzas in all three, the replica-create backup in repo1;
#  - the instance archives its WAL (pg_stat_archiver);
#  - the schedule's Job succeeds;
#  - manual backups to repo2, then to repo3;
#  - `pgbackrest info` in the instance lists a full backup in each repository.
#
# Environment: CLOUD_KEEP=1 leaves everything.
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
SNS=pgo-cloud-storage
L=postgres-operator.crunchydata.com
IMAGE=$POSTGRES_17_IMAGE
CA_FILE=/etc/pgbackrest/conf.d/storage-ca.crt
work=$(mktemp -d)

cleanup() {
	if [ "${CLOUD_KEEP:-0}" != 1 ]; then
		kn delete postgrescluster heron --ignore-not-found --wait=true --timeout=180s >/dev/null 2>&1
		uninstall_operator
		kubectl delete namespace "$SNS" --ignore-not-found --wait=true --timeout=120s >/dev/null 2>&1
	fi
	rm -rf "$work"
}
trap cleanup EXIT

diagnose() {
	echo "--- kubectl -n $NS get postgrescluster,sts,pods,pvc,jobs,cronjobs"
	kn get postgresclusters,statefulsets,pods,persistentvolumeclaims,jobs,cronjobs -o wide 2>&1 | head -30
	echo "--- heron .status.pgbackrest"
	kn get postgrescluster heron -o jsonpath='{.status.pgbackrest}' 2>&1 | head -c 2000
	echo
	local job
	for job in $(kn get jobs -l "$L/cluster=heron" -o name 2>/dev/null); do
		echo "--- $job (last 10 lines)"
		kn logs "$job" --tail=10 2>&1
	done
	storage_diagnose "$SNS" 2>&1 | tail -30
	diagnose_operator 20
}

primary() { pods_with_role heron master; }
pgx() { timeout 60 kubectl -n "$NS" exec "$(primary)" -c database -- psql -d postgres -XAtq -v ON_ERROR_STOP=1 "$@"; }
backrest() { kn get postgrescluster heron -o jsonpath="{.status.pgbackrest$1}" 2>/dev/null; }
condition() {
	kn get postgrescluster heron -o jsonpath="{.status.conditions[?(@.type==\"$1\")].$2}" 2>/dev/null
}

# The storage services, their buckets, and what heron needs of them: the CA and the keys in Secret heron-cloud
# (storage-ca.crt, cloud.conf), the other options as spec.backups.pgbackrest.global lines in $work/global.yaml.
storage_up() {
	kubectl create namespace "$SNS" >/dev/null 2>&1
	storage_ca "$SNS" || return 1
	local kind n=0
	: >"$work/options"
	for kind in s3 gcs azure; do
		n=$((n + 1))
		storage_deploy "$kind" "$SNS" && storage_bucket "$kind" "$SNS" heron &&
			storage_repo_options "$kind" "$SNS" "$n" heron "$CA_FILE" >>"$work/options" || return 1
	done
	# The repository's own fields carry these; the operator writes them.
	grep -vE '^repo[0-9]-(type|s3-endpoint|s3-region|s3-bucket|gcs-bucket|azure-container)=' "$work/options" >"$work/rest"
	{
		echo "[global]"
		grep -E -- '-(key|key-secret|account)=' "$work/rest"
	} >"$work/cloud.conf"
	grep -vE -- '-(key|key-secret|account)=' "$work/rest" | sed -E 's/^([^=]+)=(.*)$/        \1: "\2"/' >"$work/global.yaml"
	kubectl -n "$SNS" get secret storage-ca -o jsonpath='{.data.ca\.crt}' | base64 -d >"$work/storage-ca.crt"
	kn create secret generic heron-cloud --from-file=cloud.conf="$work/cloud.conf" \
		--from-file=storage-ca.crt="$work/storage-ca.crt"
}

heron() {
	cat >"$work/heron.yaml" <<-EOF
		apiVersion: postgres-operator.crunchydata.com/v1beta1
		kind: PostgresCluster
		metadata:
		  name: heron
		  namespace: $NS
		spec:
		  image: $IMAGE
		  postgresVersion: 17
		  instances:
		    - name: instance1
		      dataVolumeClaimSpec:
		        accessModes: [ReadWriteOnce]
		        resources: {requests: {storage: 1Gi}}
		  backups:
		    pgbackrest:
		      image: $IMAGE
		      configuration:
		      - secret: {name: heron-cloud}
		      global:
		$(cat "$work/global.yaml")
		      manual:
		        repoName: $1
		        options: [--type=full]
		      repos:
		      - name: repo1
		        schedules: {incremental: '* * * * *'}
		        s3: {bucket: heron, endpoint: s3.$SNS.svc, region: us-east-1}
		      - name: repo2
		        gcs: {bucket: heron}
		      - name: repo3
		        azure: {container: heron}
	EOF
	kubectl apply --server-side -f "$work/heron.yaml"
}

ready() {
	instances_ready heron 1 || return 1
	local got
	got="$(backrest '.repos[0].stanzaCreated') $(backrest '.repos[1].stanzaCreated') $(backrest '.repos[2].stanzaCreated')"
	got="$got $(backrest '.repos[0].replicaCreateBackupComplete')"
	[ "$got" = "true true true true" ] || {
		echo "stanzas repo1-3, replica-create: $got; status.pgbackrest: $(backrest '')"
		return 1
	}
}
no_repo_host() {
	local left
	left=$(kn get statefulsets,pvc -l "$L/cluster=heron,$L/pgbackrest" -o name 2>&1)
	[ -z "$left" ] || {
		echo "$left"
		return 1
	}
}
archiving() {
	local got
	pgx -c "SELECT pg_switch_wal()" >/dev/null || return 1
	got=$(pgx -c "SELECT archived_count > 0, failed_count FROM pg_stat_archiver") || return 1
	echo "archived > 0, failed: $got"
	[[ $got == t\|* ]]
}
scheduled() { [[ "$(backrest '.scheduledBackups[?(@.succeeded==1)].cronJobName')" == heron-repo1-incr* ]]; }
manual_done() {
	local got
	got="$(backrest '.manualBackup.id') $(backrest '.manualBackup.finished') $(backrest '.manualBackup.succeeded')"
	echo "manualBackup: $got"
	[ "$got" = "$1 true 1" ]
}
# info_full REPO...: `pgbackrest info` in the instance lists a full backup in each REPO.
info_full() {
	kn exec "$(primary)" -c database -- pgbackrest info --output=json >"$work/info.json" 2>&1 || {
		cat "$work/info.json"
		return 1
	}
	python3 -c '
import json, sys
info = json.load(open(sys.argv[1]))
have = {b["database"]["repo-key"] for s in info for b in s["backup"] if b["type"] == "full"}
want = {int(r[4:]) for r in sys.argv[2:]}
print("repositories with a full backup:", sorted(have))
sys.exit(0 if want <= have else 1)
' "$work/info.json" "$@"
}

# --- preconditions, storage, install ----------------------------------------------------

require_cluster
check "the operator image and $IMAGE are in the cluster's containerd" 0 images_present
check "the storage servers' images are in the cluster's containerd (built when missing)" 0 storage_images s3 gcs azure ||
	bail "no storage server images"
kn delete postgrescluster heron --ignore-not-found --wait=true --timeout=180s >/dev/null 2>&1
uninstall_operator
install_operator || bail "the operator is not running"
check "S3, GCS and Azure servers over HTTPS, bucket heron in each, the keys in Secret heron-cloud" 0 storage_up ||
	bail "no storage"

# --- backups ------------------------------------------------------------------------------

check "heron with repo1 on S3, repo2 on GCS, repo3 on Azure applied" 0 heron repo2
start=$(now)
check "heron: Ready, stanzas in the three repositories, the replica-create backup in repo1" 600 ready ||
	bail "heron is not ready"
comment "heron ready with its first backup in $(elapsed "$start") s"
check "no repository host and no repository volume" 0 no_repo_host
check "the instance archives its WAL to the repositories" 120 archiving
check "rows written" 0 pgx -c "CREATE TABLE herons AS SELECT n FROM generate_series(1, 500) n"
check "the S3 schedule's Job succeeds (status.pgbackrest.scheduledBackups)" 240 scheduled
check "a manual backup to repo2 (GCS)" 0 kn annotate postgrescluster heron --overwrite "$L/pgbackrest-backup=gcs"
check "it finishes" 300 manual_done gcs
check "manual.repoName repo3 (Azure) and a new id" 0 eval \
	'heron repo3 && kn annotate postgrescluster heron --overwrite "$L/pgbackrest-backup=azure"'
check "it finishes" 300 manual_done azure
check "pgbackrest info lists a full backup in S3, GCS and Azure" 60 info_full repo1 repo2 repo3

tap_done
