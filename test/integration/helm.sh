#!/usr/bin/env bash
# The Helm chart: helm lint, helm template with the values the seed
# documents, the same RBAC and Deployment as the kustomize install, and the
# seed's install, CRD upgrade and uninstall commands against a real
# kube-apiserver. Helm itself is built from its Go module by
# hack/build-helm.sh (cached) when the machine has none.
# shellcheck source=lib.bash
source "$(dirname "$0")/lib.bash"

if ! HELM=$("$ROOT/hack/build-helm.sh" 2>"${TMPDIR:-/tmp}/build-helm.$$.log"); then
	tap_fail "build helm" "$(tail -20 "${TMPDIR:-/tmp}/build-helm.$$.log")"
	rm -f "${TMPDIR:-/tmp}/build-helm.$$.log"
	tap_done
	exit 1
fi
rm -f "${TMPDIR:-/tmp}/build-helm.$$.log"
helm() { "$HELM" "$@"; }
tap_ok "helm is available: $(helm version --short 2>/dev/null)"

work=
make_workdir work

# The values the seed's Helm page shows, all at once.
cat >"$work/seed-values.yaml" <<'EOF'
controllerImages:
  cluster: registry.example.com/postgres-operator:5.8.0
debug: false
singleNamespace: true
disable_check_for_upgrades: true
relatedImages:
  postgres_16:
    image: registry.example.com/postgres:16
  pgbackrest:
    image: registry.example.com/pgbackrest:2.57
imagePullSecrets:
- name: crunchy-regcred
resources:
  controller:
    limits:
      memory: 128Mi
EOF

tap_check "helm lint" helm lint --strict helm/install
tap_check "helm lint with singleNamespace=true" helm lint --strict helm/install --set singleNamespace=true
tap_check "helm lint with the seed's values" helm lint --strict helm/install -f "$work/seed-values.yaml"
tap_check "helm template with the seed's values" \
	helm template pgo helm/install -n postgres-operator -f "$work/seed-values.yaml"
out=$(helm template pgo helm/install -n postgres-operator -f "$work/seed-values.yaml" 2>&1)
grep -A1 'name: CRUNCHY_DEBUG' <<<"$out" | grep -q '"false"' &&
	grep -q 'name: RELATED_IMAGE_POSTGRES_16' <<<"$out" &&
	grep -q 'image: "registry.example.com/postgres-operator:5.8.0"' <<<"$out" &&
	grep -q 'name: crunchy-regcred' <<<"$out" &&
	grep -q 'kind: RoleBinding' <<<"$out" && ! grep -q 'kind: ClusterRole' <<<"$out" &&
	grep -q 'name: PGO_TARGET_NAMESPACE' <<<"$out"
if [ $? -eq 0 ]; then
	tap_ok "the seed's values reach the rendered objects (debug, images, pull secrets, single namespace)"
else
	tap_fail "the seed's values reach the rendered objects" "$out"
fi
out=$(helm template pgo helm/install -n postgres-operator --set imagePullSecretNames='{regcred}' 2>&1)
if grep -A1 'imagePullSecrets:' <<<"$out" | grep -q '"regcred"'; then
	tap_ok "imagePullSecretNames renders imagePullSecrets"
else
	tap_fail "imagePullSecretNames renders imagePullSecrets" "$out"
fi

# --- the same objects as the kustomize install
if py=$(python_with_yaml); then
	for mode in cluster single; do
		if [ $mode = cluster ]; then
			set_ns=false kdir=kustomize/install/default
		else
			set_ns=true kdir=kustomize/install/singlenamespace
		fi
		helm template pgo helm/install -n postgres-operator --set singleNamespace=$set_ns >"$work/helm-$mode.yaml" 2>&1
		kubectl kustomize "$kdir" >"$work/kustomize-$mode.yaml" 2>&1
		tap_check "helm and kustomize ($kdir) render the same RBAC and Deployment" \
			"$py" test/integration/compare-installs.py "$work/helm-$mode.yaml" "$work/kustomize-$mode.yaml"
	done
else
	tap_skip "helm and kustomize render the same RBAC and Deployment" "no python3 with PyYAML"
fi

# --- against a real API server
start_apiserver
kubectl create namespace postgres-operator >/dev/null
tap_check "helm template output is accepted by the API server" \
	bash -c "'$HELM' template pgo helm/install -n postgres-operator | kubectl apply --server-side --dry-run=server -f -"
tap_check "seed: helm install <name> -n <namespace> helm/install" \
	helm install pgo -n postgres-operator helm/install
tap_check "CRDs installed by helm are Established" wait_crds
tap_check "Deployment pgo found by the control-plane label" \
	test "$(kubectl -n postgres-operator get deploy \
		--selector=postgres-operator.crunchydata.com/control-plane=postgres-operator -o name)" = deployment.apps/pgo
tap_check "the quickstart cluster is accepted after a Helm install" \
	kubectl apply --server-side -k kustomize/postgres
out=$(kubectl diff -f helm/install/crds 2>&1)
rc=$?
if [ $rc -le 1 ]; then
	tap_ok "seed: kubectl diff -f helm/install/crds (exit $rc)"
else
	tap_fail "seed: kubectl diff -f helm/install/crds" "$out"
fi
tap_check "seed: kubectl apply --server-side --force-conflicts -f helm/install/crds" \
	kubectl apply --server-side --force-conflicts -f helm/install/crds
tap_check "seed: helm upgrade <name> -n <namespace> helm/install" \
	helm upgrade pgo -n postgres-operator helm/install --set debug=false
tap_check "the upgrade turned debug logging off" test "$(kubectl -n postgres-operator get deploy pgo \
	-o jsonpath='{.spec.template.spec.containers[0].env[?(@.name=="CRUNCHY_DEBUG")].value}')" = false
tap_check "seed: helm uninstall <name> -n <namespace>" helm uninstall pgo -n postgres-operator
tap_check "the uninstall removed the Deployment" \
	test -z "$(kubectl -n postgres-operator get deploy pgo --ignore-not-found -o name)"
tap_check "the uninstall left the CRDs" kubectl get crd postgresclusters.postgres-operator.crunchydata.com
tap_check "seed: kubectl delete -f helm/install/crds" kubectl delete -f helm/install/crds
tap_check "seed: helm install in single-namespace mode" \
	helm install pgo -n postgres-operator helm/install --set singleNamespace=true
tap_check "single namespace: a Role and RoleBinding" \
	kubectl -n postgres-operator get role/postgres-operator rolebinding/postgres-operator
tap_check "helm uninstall again" helm uninstall pgo -n postgres-operator

tap_done
