#!/usr/bin/env bash
# The CRDs: generated files up to date, accepted by a real kube-apiserver,
# Established and structural; kubectl explain shows our descriptions;
# defaults, the status subresource and the printer columns work.
# shellcheck source=lib.bash
source "$(dirname "$0")/lib.bash"

start_apiserver

# --- generated files
if py=$(python_with_yaml); then
	tap_check "generated files (CRDs, Helm rules, images) are up to date" \
		"$py" hack/gen-api.py check
	tap_check "config/crd/kubernetes/types.yaml matches this kube-apiserver's OpenAPI" \
		"$py" hack/gen-api.py check --live
else
	tap_skip "generated files are up to date" "no python3 with PyYAML and none could be installed"
	tap_skip "Kubernetes types match the API server" "no python3 with PyYAML"
fi
tap_check "helm/install/crds holds the same CRDs as config/crd/bases" \
	diff -r config/crd/bases helm/install/crds

# --- install
tap_check "CRDs are accepted by kube-apiserver v$KUBE_VERSION" \
	kubectl apply --server-side -f config/crd/bases
for crd in postgresclusters pgupgrades; do
	name=$crd.postgres-operator.crunchydata.com
	tap_check "$crd: Established" retry_until 60 crd_condition "$name" Established
	tap_check "$crd: NamesAccepted" retry_until 10 crd_condition "$name" NamesAccepted
	nonstructural=$(kubectl get "crd/$name" -o jsonpath='{.status.conditions[?(@.type=="NonStructuralSchema")].message}')
	if [ -z "$nonstructural" ]; then
		tap_ok "$crd: structural schema"
	else
		tap_fail "$crd: structural schema" "$nonstructural"
	fi
	tap_check "$crd: status subresource" \
		test "$(kubectl get "crd/$name" -o jsonpath='{.spec.versions[0].subresources.status}')" = "{}"
done

# --- kubectl explain (the seed's "kubectl explain postgresclusters")
out=$(kubectl explain postgresclusters 2>&1)
if grep -q "highly available PostgreSQL cluster" <<<"$out"; then
	tap_ok "kubectl explain postgresclusters shows our description"
else
	tap_fail "kubectl explain postgresclusters shows our description" "$out"
fi
out=$(kubectl explain postgrescluster.spec.instances.dataVolumeClaimSpec 2>&1)
if grep -q "The storage that holds the PostgreSQL data directory" <<<"$out" &&
	grep -q "accessModes" <<<"$out" && grep -q "storageClassName" <<<"$out"; then
	tap_ok "kubectl explain postgrescluster.spec.instances.dataVolumeClaimSpec shows our description and the PVC fields"
else
	tap_fail "kubectl explain postgrescluster.spec.instances.dataVolumeClaimSpec" "$out"
fi
out=$(kubectl explain pgupgrade.spec.fromPostgresVersion 2>&1)
if grep -q "refuses to" <<<"$out"; then
	tap_ok "kubectl explain pgupgrade.spec.fromPostgresVersion shows our description"
else
	tap_fail "kubectl explain pgupgrade.spec.fromPostgresVersion" "$out"
fi
out=$(kubectl explain postgrescluster.spec.backups.pgbackrest.repos.schedules.full 2>&1)
if grep -q "full backup" <<<"$out"; then
	tap_ok "kubectl explain reaches fields inside \$use definitions"
else
	tap_fail "kubectl explain postgrescluster.spec.backups.pgbackrest.repos.schedules.full" "$out"
fi

# --- defaults, status, printer columns
kubectl create namespace postgres-operator >/dev/null 2>&1
tap_check "the quickstart cluster is created" kubectl apply --server-side -k kustomize/postgres
get() { kubectl -n postgres-operator get postgrescluster hippo -o jsonpath="$1"; }
tap_check "default: spec.port is 5432" test "$(get '{.spec.port}')" = 5432
tap_check "default: instances[0].replicas is 1" test "$(get '{.spec.instances[0].replicas}')" = 1
kubectl -n postgres-operator patch postgrescluster hippo --type=merge \
	-p '{"spec":{"patroni":{"switchover":{"enabled":true}},"service":{}}}' >/dev/null
tap_check "default: patroni lease 30 s, loop 10 s, port 8008" \
	test "$(get '{.spec.patroni.leaderLeaseDurationSeconds}/{.spec.patroni.syncPeriodSeconds}/{.spec.patroni.port}')" = 30/10/8008
tap_check "default: switchover type Switchover" test "$(get '{.spec.patroni.switchover.type}')" = Switchover
tap_check "default: service type ClusterIP" test "$(get '{.spec.service.type}')" = ClusterIP

status='{"status":{"observedGeneration":1,"postgresVersion":17,
 "conditions":[{"type":"Progressing","status":"False","reason":"Paused","message":"spec.paused is true","lastTransitionTime":"2026-01-01T00:00:00Z"}],
 "instances":[{"name":"instance1","replicas":1,"readyReplicas":1,"updatedReplicas":1}],
 "patroni":{"systemIdentifier":"7000000000000000000"},
 "pgbackrest":{"repoHost":{"apiVersion":"apps/v1","kind":"StatefulSet","ready":true},
   "repos":[{"name":"repo1","bound":true,"stanzaCreated":true,"replicaCreateBackupComplete":true}],
   "manualBackup":{"id":"1","finished":true,"succeeded":1}},
 "proxy":{"pgBouncer":{"replicas":1,"readyReplicas":1}},
 "startupInstance":"hippo-instance1-abcd","usersRevision":"abc"}}'
tap_check "status is written through the status subresource" \
	kubectl -n postgres-operator patch postgrescluster hippo --subresource=status --type=merge -p "$status"
tap_check "status keeps PGO's shape" \
	test "$(get '{.status.pgbackrest.repos[0].stanzaCreated}/{.status.patroni.systemIdentifier}/{.status.instances[0].readyReplicas}')" = "true/7000000000000000000/1"
kubectl -n postgres-operator patch postgrescluster hippo --type=merge -p '{"status":{"startupInstance":"changed"}}' >/dev/null 2>&1
tap_check "status cannot be changed through the main resource" \
	test "$(get '{.status.startupInstance}')" = hippo-instance1-abcd
out=$(kubectl -n postgres-operator get postgrescluster hippo 2>&1)
if grep -qE '^NAME +VERSION +PROGRESSING +AGE' <<<"$out" && grep -qE '^hippo +17 +Paused' <<<"$out"; then
	tap_ok "printer columns: VERSION and PROGRESSING"
else
	tap_fail "printer columns: VERSION and PROGRESSING" "$out"
fi
tap_check "a PGUpgrade is created" kubectl apply --server-side -n postgres-operator -f test/integration/valid/10-seed-pgupgrade.yaml
out=$(kubectl -n postgres-operator get pgupgrade hippo-upgrade 2>&1)
if grep -qE '^hippo-upgrade +hippo +17 +18' <<<"$out"; then
	tap_ok "printer columns: CLUSTER, FROM, TO"
else
	tap_fail "printer columns: CLUSTER, FROM, TO" "$out"
fi
out=$(kubectl -n postgres-operator patch pgupgrade hippo-upgrade --type=merge -p '{"spec":{"postgresClusterName":"rhino"}}' 2>&1)

if grep -q "postgresClusterName, fromPostgresVersion and toPostgresVersion cannot" <<<"$out"; then
	tap_ok "a PGUpgrade cannot be pointed at another cluster"
else
	tap_fail "a PGUpgrade cannot be pointed at another cluster" "$out"
fi
tap_check "a PGUpgrade's other fields can change" \
	kubectl -n postgres-operator patch pgupgrade hippo-upgrade --type=merge -p '{"spec":{"jobs":2,"transferMethod":"Copy"}}'

tap_done
