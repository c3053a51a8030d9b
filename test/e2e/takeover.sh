#!/usr/bin/env bash
# A cluster PGO managed is taken over cleanly, on the local cluster with the operator image (namespace
# postgres-operator, the seed's install).
#
# What "cleanly" can mean. Server-side apply records, per object, which field manager owns which field. PGO applies
# and patches as "postgrescluster-controller"; an operator that took over under another name would leave PGO's entry
# beside its own: every field both set would stay co-owned (our later apply without it could never remove it), and
# every field PGO set that we do not would stay owned by a manager nobody runs, forever. Under PGO's name there is one
# entry: our first forced apply replaces PGO's field set with ours, so what PGO set and we do not is released (and,
# with no other owner, removed), and what both set has one owner. So, with PGO played by kubectl before the operator
# is installed:
#
#  - PGO's past: PostgresCluster "kiwi" (one instance, no backups) applied by its user; PGO's finalizer and a status
#    merge-patched under postgrescluster-controller; ConfigMap kiwi-config and Service kiwi-primary applied under
#    postgrescluster-controller, controlled by kiwi, each with a label and an annotation this operator does not set,
#    the ConfigMap with a data key it does not write, the Service without the role label it does;
#  - the seed's install; kiwi gets its instance Ready;
#  - both of PGO's objects are the same objects (same uid), now ours: the stale label, annotation and data key are
#    gone, the role label there;
#  - every object kiwi controls has exactly one managedFields entry of postgrescluster-controller, an Apply; kiwi's own
#    entries of that manager are merge patches (Update), one for the object (finalizer) and one for its status; the
#    shared root CA Secret has one Apply (its data) and at most one Update (its owners); no object of kiwi, nor the
#    root CA Secret, has an entry of "postgres-operator" (the name this operator used before) and none has two
#    entries of one manager, operation and subresource;
#  - the operator's pod deleted: its successor reconciles kiwi and every entry of postgrescluster-controller is as
#    it was (same fields, same times: nothing re-applied, nothing duplicated);
#  - kiwi deleted: it and all it owned go; the seed's uninstall.
#
# The operator image must be imported (make operator-image). TAKEOVER_KEEP=1 leaves the operator and kiwi running.
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
MANAGER=postgrescluster-controller
OLD_MANAGER=postgres-operator
STALE=pgo.example.com/stale
OPERATOR_SELECTOR=$L/control-plane=postgres-operator
KINDS=postgresclusters,configmaps,secrets,services,endpoints,serviceaccounts,roles,rolebindings,statefulsets
KINDS=$KINDS,poddisruptionbudgets,persistentvolumeclaims,jobs,pods
work=$(mktemp -d)

# remove_kiwi: kiwi and all it owned gone; its finalizer dropped first when no operator runs to drop it.
remove_kiwi() {
	kn get postgrescluster kiwi >/dev/null 2>&1 || return 0
	[ "$(kn get deployment pgo -o jsonpath='{.status.readyReplicas}' 2>/dev/null)" = 1 ] ||
		kn patch postgrescluster kiwi --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1
	kn delete postgrescluster kiwi --wait=true --timeout=120s >/dev/null 2>&1
}
cleanup() {
	if [ "${TAKEOVER_KEEP:-0}" != 1 ]; then
		remove_kiwi
		uninstall_operator
	fi
	rm -rf "$work"
}
trap cleanup EXIT

diagnose() {
	echo "--- kubectl -n $NS get postgrescluster,sts,pods,svc,cm,secrets"
	kn get postgresclusters,statefulsets,pods,services,configmaps,secrets -o wide 2>&1 | head -40
	echo "--- kiwi .status"
	kn get postgrescluster kiwi -o jsonpath='{.status}' 2>&1 | head -c 2000
	echo
	diagnose_operator 30
	local p
	for p in $(instance_pods kiwi); do
		diagnose_unready "$p"
	done
}

# --- helpers ----------------------------------------------------------------------

# as_pgo FILE: server-side apply FILE as PGO would have.
as_pgo() { kubectl apply --server-side --field-manager="$MANAGER" -f "$1"; }

# kiwi_objects: kiwi, the root CA Secret and every object in NS that is labelled with kiwi or owned by it, as one JSON
# list (kinds: those the operator writes, and Pods and Endpoints, which Patroni and Kubernetes make for it).
kiwi_objects() {
	local uid
	uid=$(uid_of postgrescluster kiwi)
	[ -n "$uid" ] || return 1
	kn get "$KINDS" --show-managed-fields -o json 2>/dev/null | jq --arg uid "$uid" --arg cluster kiwi --arg key "$L/cluster" '
		[.items[] | select((.kind == "PostgresCluster" and .metadata.name == $cluster) or
			.metadata.name == "pgo-root-cacert" or .metadata.labels[$key] == $cluster or
			any(.metadata.ownerReferences[]?; .uid == $uid))]'
}

# managed_fields_problems: one line per object whose managedFields break the rules in the header; none when all hold.
managed_fields_problems() {
	local uid
	uid=$(uid_of postgrescluster kiwi)
	kiwi_objects >"$work/objects.json" && [ "$(jq length "$work/objects.json")" -gt 1 ] || {
		echo "cannot read kiwi's objects"
		return 1
	}
	jq -r --arg uid "$uid" --arg m "$MANAGER" --arg old "$OLD_MANAGER" '
		def key: "\(.operation)/\(.subresource // "")";
		.[] | "\(.kind)/\(.metadata.name)" as $id | [.metadata.managedFields[]? | select(.manager == $m)] as $ours |
		([$ours[] | key]) as $keys | [$ours[] | select(.operation == "Apply")] as $applies |
		[$ours[] | select(.operation == "Update")] as $updates |
		(if any(.metadata.managedFields[]?; .manager == $old) then "\($id): an entry of manager \($old)" else empty end),
		(.metadata.managedFields // [] | group_by([.manager, .operation, .subresource // ""])[] |
			select(length > 1) | "\($id): \(length) entries of \(.[0].manager) \(.[0] | key)"),
		(if any(.metadata.ownerReferences[]?; .uid == $uid and .controller == true) and
			($applies | length) != 1 then "\($id): \($applies | length) Apply entries of \($m), not 1" else empty end),
		(if .kind == "PostgresCluster" and
			(($applies | length) != 0 or ($keys | any(. == "Update/status") | not) or
			 ($keys - ["Update/", "Update/status"] | length) != 0)
			then "\($id): entries of \($m): \($keys), want Update/status and at most Update/" else empty end),
		(if .metadata.name == "pgo-root-cacert" and
			(($applies | length) != 1 or ($updates | length) > 1 or ($ours | length) != ($applies + $updates | length))
			then "\($id): entries of \($m): \($keys), want one Apply and at most one Update" else empty end)
	' "$work/objects.json" | sort >"$work/problems"
	cat "$work/problems"
	[ ! -s "$work/problems" ]
}

# our_entries: every managedFields entry of ours on kiwi's objects, sorted, one line each: object, then the entry.
our_entries() {
	kiwi_objects | jq -c --arg m "$MANAGER" '.[] | "\(.kind)/\(.metadata.name)" as $id |
		.metadata.managedFields[]? | select(.manager == $m) | [$id, .]' | sort
}

# reconciled_by POD: POD logged a finished reconcile of kiwi; prints its writes.
reconciled_by() {
	local line
	line=$(kn logs "$1" -c operator 2>/dev/null | grep -E '(msg=|"msg":)"?reconciled"?[ ,]' |
		grep -E 'name[=":]+kiwi' | grep -E 'writes[=":]+[0-9]' | head -1)
	[ -n "$line" ] || return 1
	sed -E 's/.*writes[=":]+([0-9]+).*/\1/' <<<"$line"
}

# --- PGO's past -------------------------------------------------------------------

require_cluster
check "the operator image and $IMAGE are in the cluster's containerd" 0 images_present
remove_kiwi
uninstall_operator

check "kubectl apply -k kustomize/install/namespace" 0 kubectl apply -k kustomize/install/namespace
check "the CRDs alone, no operator (kubectl apply --server-side -k config/crd)" 0 \
	kubectl apply --server-side -k config/crd
check "the PostgresCluster CRD is Established" 60 \
	kubectl wait --for condition=Established crd/postgresclusters.postgres-operator.crunchydata.com --timeout=5s

cat >"$work/kiwi.yaml" <<-EOF
	apiVersion: postgres-operator.crunchydata.com/v1beta1
	kind: PostgresCluster
	metadata:
	  name: kiwi
	  namespace: $NS
	spec:
	  image: $IMAGE
	  postgresVersion: 17
	  instances:
	    - name: instance1
	      replicas: 1
	      dataVolumeClaimSpec:
	        accessModes: [ReadWriteOnce]
	        resources: {requests: {storage: 1Gi}}
EOF
check "kiwi applied by its user" 0 kubectl apply --server-side -f "$work/kiwi.yaml"
uid=$(uid_of postgrescluster kiwi)
[ -n "$uid" ] || bail "kiwi has no uid"
check "PGO's finalizer on kiwi, merge-patched as $MANAGER" 0 kn patch postgrescluster kiwi --type=merge \
	--field-manager="$MANAGER" -p "{\"metadata\":{\"finalizers\":[\"$L/finalizer\"]}}"
check "PGO's status of kiwi, merge-patched as $MANAGER" 0 kn patch postgrescluster kiwi --type=merge \
	--subresource=status --field-manager="$MANAGER" -p '{"status":{"observedGeneration":1}}'

owner="ownerReferences:
    - {apiVersion: $L/v1beta1, kind: PostgresCluster, name: kiwi, uid: $uid, controller: true, blockOwnerDeletion: true}"
cat >"$work/pgo-config.yaml" <<-EOF
	apiVersion: v1
	kind: ConfigMap
	metadata:
	  name: kiwi-config
	  namespace: $NS
	  labels: {$L/cluster: kiwi, $STALE: "true"}
	  annotations: {$STALE: "true"}
	  $owner
	data:
	  patroni.yaml: "# PGO's\n"
	  stale.yaml: "# a key PGO wrote and this operator does not\n"
EOF
cat >"$work/pgo-primary.yaml" <<-EOF
	apiVersion: v1
	kind: Service
	metadata:
	  name: kiwi-primary
	  namespace: $NS
	  labels: {$L/cluster: kiwi, $STALE: "true"}
	  annotations: {$STALE: "true"}
	  $owner
	spec:
	  clusterIP: None
	  ports:
	    - {name: postgres, port: 5432, protocol: TCP, targetPort: postgres}
EOF
check "PGO's ConfigMap kiwi-config applied as $MANAGER" 0 as_pgo "$work/pgo-config.yaml"
check "PGO's Service kiwi-primary applied as $MANAGER" 0 as_pgo "$work/pgo-primary.yaml"
config_uid=$(uid_of configmap kiwi-config)
primary_uid=$(uid_of service kiwi-primary)

# --- the takeover -----------------------------------------------------------------

install_operator || bail "the operator is not running"
check "kiwi: one instance Ready" 300 instances_ready kiwi 1

# taken_over KIND NAME UID: KIND NAME is still object UID, has none of PGO's stale fields and one Apply entry of ours.
taken_over() {
	local json
	json=$(kn get "$1" "$2" --show-managed-fields -o json) || return 1
	jq -e --arg uid "$3" --arg stale "$STALE" --arg m "$MANAGER" '
		.metadata.uid == $uid and (.metadata.labels | has($stale) | not) and
		(.metadata.annotations // {} | has($stale) | not) and
		([.metadata.managedFields[] | select(.manager == $m and .operation == "Apply")] | length) == 1' \
		<<<"$json" >/dev/null || {
		jq '{uid: .metadata.uid, labels: .metadata.labels, annotations: .metadata.annotations,
			managers: [.metadata.managedFields[] | [.manager, .operation]]}' <<<"$json"
		return 1
	}
}
config_ours() {
	taken_over configmap kiwi-config "$config_uid" || return 1
	kn get configmap kiwi-config -o json | jq -e '(.data | has("stale.yaml") | not) and
		(.data["patroni.yaml"] | startswith("# Written by the postgres operator"))' >/dev/null || {
		kn get configmap kiwi-config -o jsonpath='{.data}' | head -c 300
		return 1
	}
}
primary_ours() {
	taken_over service kiwi-primary "$primary_uid" &&
		[ "$(kn get service kiwi-primary -o jsonpath="{.metadata.labels.postgres-operator\.crunchydata\.com/role}")" = primary ]
}
check "kiwi-config is PGO's object, now ours: stale label, annotation and data key released" 60 config_ours
check "kiwi-primary is PGO's object, now ours: stale label and annotation released, role label set" 60 primary_ours
check "managedFields: one Apply of $MANAGER per object kiwi controls, no $OLD_MANAGER, no duplicate entry" 60 \
	managed_fields_problems
comment "objects checked: $(jq -r '[.[] | "\(.kind)/\(.metadata.name)"] | join(" ")' "$work/objects.json")"

# --- the operator restarted -------------------------------------------------------

our_entries >"$work/before"
old_pod=$(kn get pods -l "$OPERATOR_SELECTOR" -o jsonpath='{.items[0].metadata.name}')
check "the operator's pod deleted" 0 kn delete pod "$old_pod" --wait=true --timeout=60s
check "the operator Deployment rolls out again" 0 kn rollout status deployment/pgo --timeout=180s
new_pod=$(kn get pods -l "$OPERATOR_SELECTOR" -o jsonpath='{.items[0].metadata.name}')
check "the new operator pod ($new_pod) reconciles kiwi" 120 reconciled_by "$new_pod"
comment "writes of its first reconcile of kiwi: $(reconciled_by "$new_pod")"
same_entries() {
	our_entries >"$work/after"
	[ -s "$work/before" ] && diff "$work/before" "$work/after"
}
check "every managedFields entry of $MANAGER is as before the restart ($(wc -l <"$work/before") entries)" 0 same_entries
check "managedFields still obey the rules after the restart" 0 managed_fields_problems

# --- kiwi deleted -----------------------------------------------------------------

if [ "${TAKEOVER_KEEP:-0}" != 1 ]; then
	check "kiwi deleted" 0 kn delete postgrescluster kiwi --wait=true --timeout=120s
	check "kiwi and all it owned are gone" 120 gone kiwi
fi
tap_done
