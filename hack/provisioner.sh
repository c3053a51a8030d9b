#!/usr/bin/env bash
# The local cluster's volume provisioner, run by cluster-up as a host process.
#
# For every pending PersistentVolumeClaim of a StorageClass whose provisioner
# is "pgo-local/directory" it creates a directory under the cluster's state
# and a `local` PersistentVolume bound to the claim, pinned to the node. The
# directory is world-writable inside the root-only state directory, and the
# kubelet applies a pod's fsGroup to `local` volumes, so non-root pods can
# write to their volumes. A released volume whose reclaim policy is Delete
# loses its directory and its PersistentVolume; Retain keeps both.
#
# It polls every two seconds: a one-node test cluster needs no more.
source "$(dirname "$0")/lib.sh"

PROVISIONER=pgo-local/directory
VOLUMES=$STATE_DIR/volumes
kc() { "$KUBE_BIN/kubectl" --kubeconfig "$STATE_DIR/provisioner.kubeconfig" "$@"; }

# provision: create a volume for each claim that waits for one.
provision() {
	local classes claims
	classes=$(kc get storageclass -o json |
		jq -c --arg p "$PROVISIONER" '[.items[] | select(.provisioner == $p) |
			{(.metadata.name): (.reclaimPolicy // "Delete")}] | add // {}')
	[ "$classes" = "{}" ] && return 0
	claims=$(kc get pvc -A -o json | jq -c --argjson classes "$classes" '.items[] |
		select(.status.phase == "Pending" and (.spec.volumeName // "") == "" and
		       ($classes[.spec.storageClassName // ""] != null)) |
		{ns: .metadata.namespace, name: .metadata.name, uid: .metadata.uid,
		 class: .spec.storageClassName, policy: $classes[.spec.storageClassName],
		 size: .spec.resources.requests.storage, modes: .spec.accessModes,
		 mode: (.spec.volumeMode // "Filesystem")}')
	local claim pv dir
	while IFS= read -r claim; do
		[ -n "$claim" ] || continue
		pv=pvc-$(jq -r .uid <<<"$claim")
		if [ "$(jq -r .mode <<<"$claim")" != Filesystem ]; then
			log "claim $(jq -r '.ns + "/" + .name' <<<"$claim"): only Filesystem volumes are supported"
			continue
		fi
		kc get pv "$pv" >/dev/null 2>&1 && continue
		dir=$VOLUMES/$pv
		mkdir -p "$dir"
		chmod 0777 "$dir"
		jq --arg pv "$pv" --arg dir "$dir" --arg node "$NODE_NAME" --arg p "$PROVISIONER" '{
			apiVersion: "v1", kind: "PersistentVolume",
			metadata: {name: $pv, annotations: {"pv.kubernetes.io/provisioned-by": $p}},
			spec: {capacity: {storage: .size}, accessModes: .modes, volumeMode: "Filesystem",
				persistentVolumeReclaimPolicy: .policy, storageClassName: .class,
				claimRef: {apiVersion: "v1", kind: "PersistentVolumeClaim",
					namespace: .ns, name: .name, uid: .uid},
				local: {path: $dir},
				nodeAffinity: {required: {nodeSelectorTerms: [{matchExpressions: [
					{key: "kubernetes.io/hostname", operator: "In", values: [$node]}]}]}}}}' \
			<<<"$claim" | kc create -f - >/dev/null &&
			log "provisioned $pv for $(jq -r '.ns + "/" + .name' <<<"$claim")"
	done <<<"$claims"
}

# reclaim: delete released volumes of ours whose policy says Delete.
reclaim() {
	local pv
	for pv in $(kc get pv -o json | jq -r --arg p "$PROVISIONER" '.items[] |
		select(.metadata.annotations["pv.kubernetes.io/provisioned-by"] == $p and
		       .status.phase == "Released" and .spec.persistentVolumeReclaimPolicy == "Delete") |
		.metadata.name'); do
		case $pv in pvc-*) ;; *) continue ;; esac
		rm -rf --one-file-system "${VOLUMES:?}/$pv"
		kc delete pv "$pv" --wait=false >/dev/null && log "deleted released volume $pv"
	done
}

mkdir -p "$VOLUMES"
log "watching claims for $PROVISIONER"
while true; do
	provision || log "provisioning pass failed; retrying"
	reclaim || log "reclaim pass failed; retrying"
	sleep 2
done
