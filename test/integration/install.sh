#!/usr/bin/env bash
# The kustomize install and examples against a real kube-apiserver:
#  - the seed's install, customisation and uninstall commands, verbatim;
#  - every kustomization under kustomize/ is accepted;
#  - applying the same manifests twice changes nothing;
#  - RBAC: what the operator may do, and that it holds no pods/exec;
#  - the operator Pod passes the "restricted" Pod Security Standard.
# There are no nodes and no controllers here, so nothing runs.
# shellcheck source=lib.bash
source "$(dirname "$0")/lib.bash"

start_apiserver
work=
make_workdir work

# --- the seed's quickstart, verbatim
tap_check "seed: kubectl apply -k kustomize/install/namespace" \
	kubectl apply -k kustomize/install/namespace
tap_check "seed: kubectl apply --server-side -k kustomize/install/default" \
	kubectl apply --server-side -k kustomize/install/default
tap_check "CRDs Established after the install" wait_crds
tap_check "seed: the operator pod query runs" \
	kubectl -n postgres-operator get pods \
	--selector=postgres-operator.crunchydata.com/control-plane=postgres-operator \
	--field-selector=status.phase=Running
tap_check "Deployment pgo in postgres-operator, found by the control-plane label" \
	test "$(kubectl -n postgres-operator get deploy \
		--selector=postgres-operator.crunchydata.com/control-plane=postgres-operator -o name)" = deployment.apps/pgo
env_of() { # NAME: the value of the operator's environment variable NAME
	kubectl -n postgres-operator get deploy pgo \
		-o jsonpath="{.spec.template.spec.containers[0].env[?(@.name==\"$1\")].value}"
}
tap_check "CRUNCHY_DEBUG is on by default" test "$(env_of CRUNCHY_DEBUG)" = true
tap_check "PGO_NAMESPACE comes from the downward API" test "$(kubectl -n postgres-operator get deploy pgo \
	-o jsonpath='{.spec.template.spec.containers[0].env[?(@.name=="PGO_NAMESPACE")].valueFrom.fieldRef.fieldPath}')" = metadata.namespace
tap_check "RELATED_IMAGE_POSTGRES_17 and _18 are set" \
	test -n "$(env_of RELATED_IMAGE_POSTGRES_17)" -a -n "$(env_of RELATED_IMAGE_POSTGRES_18)"
tap_check "cluster-wide: no PGO_TARGET_NAMESPACE" test -z "$(env_of PGO_TARGET_NAMESPACE)"
tap_check "probes on /healthz and /readyz" test "$(kubectl -n postgres-operator get deploy pgo \
	-o jsonpath='{.spec.template.spec.containers[0].livenessProbe.httpGet.path} {.spec.template.spec.containers[0].readinessProbe.httpGet.path}')" = "/healthz /readyz"

tap_check "seed: kubectl apply -k kustomize/postgres" kubectl apply -k kustomize/postgres
tap_check "seed: kubectl describe postgresclusters.postgres-operator.crunchydata.com hippo" \
	kubectl -n postgres-operator describe postgresclusters.postgres-operator.crunchydata.com hippo

# --- applying again changes nothing
before=$(resource_versions kustomize/install/default)
kubectl apply --server-side -k kustomize/install/default >/dev/null 2>&1
after=$(resource_versions kustomize/install/default)
if [ -n "$before" ] && [ "$before" = "$after" ]; then
	tap_ok "a second server-side apply of kustomize/install/default changes nothing"
else
	tap_fail "a second server-side apply of kustomize/install/default changes nothing" \
		"$(diff <(echo "$before") <(echo "$after"))"
fi
# These two were applied client-side above (as the seed does); the first
# server-side apply moves their fields to another manager, so count from the
# second.
for dir in kustomize/install/namespace kustomize/postgres; do
	kubectl apply --server-side -k "$dir" >/dev/null 2>&1
	before=$(resource_versions "$dir")
	kubectl apply --server-side -k "$dir" >/dev/null 2>&1
	after=$(resource_versions "$dir")
	if [ -n "$before" ] && [ "$before" = "$after" ]; then
		tap_ok "server-side apply of $dir twice changes nothing"
	else
		tap_fail "server-side apply of $dir twice changes nothing" "$(diff <(echo "$before") <(echo "$after"))"
	fi
done

# kube-apiserver writes a PersistentVolumeClaim again on every apply, even an
# unchanged one (its resourceVersion moves, nothing else does), so claims are
# left out of the count and checked with kubectl diff instead.
for dir in kustomize/keycloak kustomize/monitoring; do
	kubectl apply --server-side -k "$dir" >/dev/null 2>&1
	before=$(resource_versions "$dir" | grep -v '^PersistentVolumeClaim ')
	kubectl apply --server-side -k "$dir" >/dev/null 2>&1
	after=$(resource_versions "$dir" | grep -v '^PersistentVolumeClaim ')
	tap_check "kubectl diff --server-side -k $dir shows nothing after an apply" \
		kubectl diff --server-side -k "$dir"
	if [ -n "$before" ] && [ "$before" = "$after" ]; then
		tap_ok "server-side apply of $dir twice changes nothing"
	else
		tap_fail "server-side apply of $dir twice changes nothing" "$(diff <(echo "$before") <(echo "$after"))"
	fi
done

# --- every kustomization is accepted
while read -r k; do
	dir=${k%/kustomization.yaml}
	tap_check "accepted: kubectl apply --server-side --dry-run=server -k $dir" \
		kubectl apply --server-side --dry-run=server -k "$dir"
done < <(find kustomize -name kustomization.yaml | sort)

# --- RBAC
can() { [ "$(kubectl auth can-i "$@" --as="$PGO_SA" 2>/dev/null)" = yes ]; }
cannot() { ! can "$@"; }
tap_check "operator may list PostgresClusters everywhere" can list postgresclusters.postgres-operator.crunchydata.com -A
tap_check "operator may patch PostgresCluster status" can patch postgresclusters.postgres-operator.crunchydata.com --subresource=status -n app
tap_check "operator may create StatefulSets" can create statefulsets.apps -n app
tap_check "operator may create CronJobs" can create cronjobs.batch -n app
tap_check "operator may renew its Lease" can update leases.coordination.k8s.io/cpk-leader-election-lease -n postgres-operator
tap_check "operator may not touch other Leases" cannot update leases.coordination.k8s.io/other -n postgres-operator
tap_check "operator may not exec into Pods" cannot create pods --subresource=exec -n app
tap_check "operator may not attach to Pods" cannot create pods --subresource=attach -n app
tap_check "operator may not change nodes" cannot patch nodes
tap_check "operator may not change CRDs" cannot patch customresourcedefinitions.apiextensions.k8s.io
tap_check "operator may not read Secrets through impersonation" cannot impersonate serviceaccounts -n app
wildcards=$(kubectl kustomize kustomize/install/default | grep -nE "(verbs|resources|apiGroups): \[?.*['\"]?\*" || true)
if [ -z "$wildcards" ]; then
	tap_ok "no wildcard in any rule"
else
	tap_fail "no wildcard in any rule" "$wildcards"
fi
kubectl create namespace app >/dev/null
# The Role each cluster gets for Patroni: the operator must hold all of it.
tap_check "operator can grant Patroni's Role (no escalation)" \
	kubectl -n app create role hippo-instance --as="$PGO_SA" --dry-run=server \
	--verb=create,deletecollection,get,list,patch,watch --resource=endpoints
tap_check "operator can grant Patroni's Pod permissions" \
	kubectl -n app create role hippo-instance-pods --as="$PGO_SA" --dry-run=server \
	--verb=get,list,patch,watch --resource=pods
out=$(kubectl -n app create role exec --as="$PGO_SA" --dry-run=server --verb=create --resource=pods/exec 2>&1)
if grep -q "attempting to grant RBAC permissions not currently held" <<<"$out"; then
	tap_ok "operator cannot grant pods/exec to anything it creates"
else
	tap_fail "operator cannot grant pods/exec to anything it creates" "$out"
fi

# --- Pod Security: the operator Pod meets "restricted"
kubectl create namespace psa-restricted >/dev/null
kubectl label namespace psa-restricted pod-security.kubernetes.io/enforce=restricted >/dev/null
kubectl -n psa-restricted create serviceaccount pgo >/dev/null
pod=$(kubectl -n postgres-operator get deploy pgo -o json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(json.dumps({"apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "pgo-psa", "namespace": "psa-restricted"},
    "spec": d["spec"]["template"]["spec"]}))')
out=$(kubectl create --dry-run=server -f - <<<"$pod" 2>&1)
if [ $? -eq 0 ] && ! grep -qi warning <<<"$out"; then
	tap_ok "the operator Pod is admitted under the restricted Pod Security Standard"
else
	tap_fail "the operator Pod is admitted under the restricted Pod Security Standard" "$out"
fi

# --- the seed's customisations, on a copy of the tree
cp -r config kustomize "$work/"
cat >>"$work/kustomize/install/manager/kustomization.yaml" <<-'EOF'
	patchesStrategicMerge:
	- |-
	  apiVersion: apps/v1
	  kind: Deployment
	  metadata:
	    name: pgo
	  spec:
	    template:
	      spec:
	        containers:
	        - name: operator
	          env:
	          - name: CRUNCHY_DEBUG
	            value: "false"
EOF
out=$(kubectl kustomize "$work/kustomize/install/default" 2>&1)
if grep -A1 'name: CRUNCHY_DEBUG' <<<"$out" | grep -q '"false"'; then
	tap_ok "seed: CRUNCHY_DEBUG=false through kustomize/install/manager/kustomization.yaml"
else
	tap_fail "seed: CRUNCHY_DEBUG=false through kustomize/install/manager/kustomization.yaml" "$(grep -A1 CRUNCHY_DEBUG <<<"$out")"
fi
cp -r kustomize/install/manager "$work/kustomize/install/"
sed -i 's/value: "true"/value: "false"/' "$work/kustomize/install/manager/manager.yaml"
out=$(kubectl kustomize "$work/kustomize/install/default" 2>&1)
if grep -A1 'name: CRUNCHY_DEBUG' <<<"$out" | grep -q '"false"'; then
	tap_ok "seed: CRUNCHY_DEBUG=false by editing kustomize/install/manager/manager.yaml"
else
	tap_fail "seed: CRUNCHY_DEBUG=false by editing kustomize/install/manager/manager.yaml" "$(grep -A1 CRUNCHY_DEBUG <<<"$out")"
fi

cp kustomize/install/default/kustomization.yaml "$work/kustomization.default"
cat >>"$work/kustomize/install/default/kustomization.yaml" <<-'EOF'

	patchesJson6902:
	  - target:
	      group: apps
	      version: v1
	      kind: Deployment
	      name: pgo
	    patch: |-
	      - op: remove
	        path: /spec/selector/matchLabels/app.kubernetes.io~1name
	      - op: remove
	        path: /spec/selector/matchLabels/app.kubernetes.io~1version
	      - op: add
	        path: /spec/template/spec/imagePullSecrets
	        value:
	          - name: crunchy-regcred
EOF
sed -i 's|newName: .*|newName: registry.example.com/postgres-operator|' "$work/kustomize/install/default/kustomization.yaml"
# A fresh install is what the guide describes: a Deployment's selector cannot
# change, so try it in another namespace.
sed -i 's/^namespace: postgres-operator/namespace: private-registry/' "$work/kustomize/install/default/kustomization.yaml"
kubectl create namespace private-registry >/dev/null
if out=$(kubectl kustomize "$work/kustomize/install/default" 2>&1) &&
	grep -q 'name: crunchy-regcred' <<<"$out" &&
	grep -q 'image: registry.example.com/postgres-operator:' <<<"$out"; then
	tap_ok "seed: private registry images: and patchesJson6902 in kustomize/install/default"
	tap_check "seed: the patched install is accepted" kubectl apply --server-side --dry-run=server -f - <<<"$out"
else
	tap_fail "seed: private registry images: and patchesJson6902 in kustomize/install/default" "$out"
	tap_fail "seed: the patched install is accepted" "not built"
fi
cp "$work/kustomization.default" "$work/kustomize/install/default/kustomization.yaml"

sed -i 's/name: postgres-operator/name: custom-namespace/' "$work/kustomize/install/namespace/namespace.yaml"
sed -i 's/^namespace: postgres-operator/namespace: custom-namespace/' "$work/kustomize/install/default/kustomization.yaml"
out=$(kubectl kustomize "$work/kustomize/install/default" 2>&1)
bad=$(grep -n 'namespace: postgres-operator' <<<"$out" || true)
if [ -z "$bad" ] && grep -q 'namespace: custom-namespace' <<<"$out"; then
	tap_ok "seed: a custom namespace reaches every object, RoleBinding subjects included"
else
	tap_fail "seed: a custom namespace reaches every object, RoleBinding subjects included" "$bad"
fi
tap_check "seed: the custom namespace installs" kubectl apply -k "$work/kustomize/install/namespace"
tap_check "seed: the install in the custom namespace is accepted" \
	kubectl apply --server-side --dry-run=server -k "$work/kustomize/install/default"

# --- uninstall, and the single-namespace install
tap_check "seed: kubectl delete -k kustomize/install/default" \
	kubectl delete -k kustomize/install/default
tap_check "the cluster-wide RBAC is gone" cannot list postgresclusters.postgres-operator.crunchydata.com -A
tap_check "seed: kubectl apply --server-side -k kustomize/install/singlenamespace" \
	kubectl apply --server-side -k kustomize/install/singlenamespace
tap_check "CRDs Established again" wait_crds
tap_check "single namespace: a Role, not a ClusterRole" \
	kubectl -n postgres-operator get role/postgres-operator rolebinding/postgres-operator
tap_check "single namespace: no ClusterRole postgres-operator" \
	test -z "$(kubectl get clusterrole postgres-operator --ignore-not-found -o name)"
tap_check "single namespace: PGO_TARGET_NAMESPACE from the downward API" \
	test "$(kubectl -n postgres-operator get deploy pgo \
		-o jsonpath='{.spec.template.spec.containers[0].env[?(@.name=="PGO_TARGET_NAMESPACE")].valueFrom.fieldRef.fieldPath}')" = metadata.namespace
tap_check "single namespace: may list PostgresClusters in its namespace" \
	can list postgresclusters.postgres-operator.crunchydata.com -n postgres-operator
tap_check "single namespace: may not list them elsewhere" \
	cannot list postgresclusters.postgres-operator.crunchydata.com -n app
before=$(resource_versions kustomize/install/singlenamespace)
kubectl apply --server-side -k kustomize/install/singlenamespace >/dev/null 2>&1
after=$(resource_versions kustomize/install/singlenamespace)
if [ -n "$before" ] && [ "$before" = "$after" ]; then
	tap_ok "a second server-side apply of kustomize/install/singlenamespace changes nothing"
else
	tap_fail "a second server-side apply of kustomize/install/singlenamespace changes nothing" \
		"$(diff <(echo "$before") <(echo "$after"))"
fi
tap_check "seed: kubectl delete -k kustomize/install/singlenamespace" \
	kubectl delete -k kustomize/install/singlenamespace
# Without the namespace controller a namespace stays Terminating, so do not
# wait for it to go.
tap_check "seed: kubectl delete -k kustomize/install/namespace (not waiting for the namespace controller)" \
	kubectl delete -k kustomize/install/namespace --wait=false

tap_done
