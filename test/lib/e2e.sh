# shellcheck shell=bash
# Helpers of the end-to-end tests that install the operator with the seed's
# commands and run clusters in it (test/e2e/tutorials.sh, certificates.sh),
# and of bench/failover.sh for its pods. A test sources it after tap.sh and
# kube.sh; the bench after hack/lib.sh and images/versions.env, and calls
# nothing of TAP.
#
# Offers:
#  - e2e_prepare (a test's working directory, PATH and environment);
#  - kn (kubectl in NS), now, elapsed, comment;
#  - what a pod is: ready_of, role_of, instance_of, pod_ip, uid_of; a
#    cluster's pods: instance_pods, pods_with_role, instances_ready;
#  - check (a TAP check that retries, with diagnose's output on failure),
#    bail; diagnose_operator and diagnose_unready, pieces of a diagnose;
#  - require_cluster, images_present, install_operator, uninstall_operator
#    (the seed's install and uninstall), gone (a cluster and all it owned);
#  - sleeper_pod and container_security, for a test's own client pods.
#
# Expects: NS (the namespace of the operator or the clusters), L (the label
# prefix, postgres-operator.crunchydata.com), IMAGE (the postgres image of
# the test's own pods), work (a scratch directory, for check) and, where
# check is used, a function diagnose that prints the state of everything.
# kube.sh gives ROOT_DIR, KUBE_BIN, OPERATOR_IMAGE and CONTAINERD_SOCK;
# tap.sh retry_until.

# e2e_prepare: the test runs from the repository's root; the seed's commands call kubectl by name, and find the
# cluster's own version first on PATH; nothing from the caller's environment may steer a psql.
e2e_prepare() {
	cd "$ROOT_DIR" || exit 1
	PATH=$KUBE_BIN:$PATH
	unset PGHOST PGHOSTADDR PGPORT PGUSER PGPASSWORD PGDATABASE PGSSLMODE PGSSLROOTCERT \
		PGSERVICE PGSERVICEFILE PGOPTIONS PGCONNECT_TIMEOUT PGAPPNAME
}

kn() { kubectl -n "$NS" "$@"; }
now() { date +%s.%N; }
# elapsed START: whole seconds from START (a now) to now.
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }'; }
# comment LINE...: the lines as TAP comments.
comment() { printf '%s\n' "$@" | sed 's/^/# /'; }

ready_of() { kn get pod "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null; }
role_of() { kn get pod "$1" -o jsonpath="{.metadata.labels.postgres-operator\.crunchydata\.com/role}" 2>/dev/null; }
instance_of() { kn get pod "$1" -o jsonpath="{.metadata.labels.postgres-operator\.crunchydata\.com/instance}" 2>/dev/null; }
pod_ip() { kn get pod "$1" -o jsonpath='{.status.podIP}' 2>/dev/null; }
# uid_of KIND NAME: the uid of KIND NAME, empty when there is none.
uid_of() { kn get "$1" "$2" -o jsonpath='{.metadata.uid}' 2>/dev/null; }
# instance_pods CLUSTER: the cluster's instance pods, by name.
instance_pods() { kn get pods -l "$L/cluster=$1,$L/instance-set" -o jsonpath='{.items[*].metadata.name}' 2>/dev/null; }
# pods_with_role CLUSTER ROLE: the cluster's pods labelled ROLE (master, replica), by name.
pods_with_role() { kn get pods -l "$L/cluster=$1,$L/role=$2" -o jsonpath='{.items[*].metadata.name}' 2>/dev/null; }

# instances_ready CLUSTER N: N instance pods, all Ready, one role=master, the others role=replica.
instances_ready() {
	local pods p n=0 roles=
	pods=$(instance_pods "$1")
	for p in $pods; do
		n=$((n + 1))
		[ "$(ready_of "$p")" = True ] || {
			echo "$p is not Ready"
			return 1
		}
		roles="$roles $(role_of "$p")"
	done
	[ "$n" = "$2" ] && [ "$(tr ' ' '\n' <<<"$roles" | grep -c '^master$')" = 1 ] &&
		[ "$(tr ' ' '\n' <<<"$roles" | grep -c '^replica$')" = $(($2 - 1)) ] || {
		echo "pods: $pods; roles:$roles"
		return 1
	}
}

# check NAME SECONDS COMMAND...: run COMMAND in this shell, every second
# until it passes or SECONDS pass (0: once); on failure the last attempt's
# output and diagnose's go into the comment. Returns COMMAND's verdict.
# shellcheck disable=SC2154 # work is the sourcing test's
check() {
	local name=$1 seconds=$2 start=$SECONDS
	shift 2
	until "$@" >"$work/check.out" 2>&1; do
		if [ $((SECONDS - start)) -ge "$seconds" ]; then
			tap_fail "$name" "$(tail -25 "$work/check.out")"
			diagnose 2>&1 | sed 's/^/# /'
			return 1
		fi
		sleep 1
	done
	tap_ok "$name"
}

# bail REASON: the later checks have nothing to stand on.
bail() {
	echo "# bailing out: $1"
	tap_done
	exit 1
}

# diagnose_operator LINES: for a diagnose, the namespace's last events and the operator's last LINES log lines.
diagnose_operator() {
	echo "--- events (last 15)"
	kn get events --sort-by=.lastTimestamp 2>&1 | tail -15
	echo "--- operator log (last $1 lines)"
	kn logs deployment/pgo --tail="$1" 2>&1
}
# diagnose_unready POD: for a diagnose, the end of POD's description and database log when it is not Ready.
diagnose_unready() {
	[ "$(ready_of "$1")" = True ] && return 0
	echo "--- pod $1 is not Ready: describe (last 15 lines), database log (last 15 lines)"
	kn describe pod "$1" 2>&1 | tail -15
	kn logs "$1" -c database --tail=15 2>&1
}

# require_cluster: the local cluster answers, else a failed check and exit.
require_cluster() {
	cluster_reachable && return 0
	tap_fail "cluster reachable" "the local cluster does not answer; run 'make cluster-up'"
	tap_done
	exit 1
}
# images_present: the operator image and IMAGE are in the cluster's containerd.
images_present() {
	local have ref ok=0
	have=$(ctr --address "$CONTAINERD_SOCK" -n k8s.io images ls -q 2>/dev/null)
	for ref in "$OPERATOR_IMAGE" "$IMAGE"; do
		grep -qxF "$ref" <<<"$have" || {
			echo "$ref is not in the cluster's containerd (make operator-image; hack/build-images.sh --import)"
			ok=1
		}
	done
	return $ok
}

# install_operator: the seed's install, a check a command; returns the rollout's verdict.
install_operator() {
	check "kubectl apply -k kustomize/install/namespace" 0 kubectl apply -k kustomize/install/namespace
	check "kubectl apply --server-side -k kustomize/install/default" 0 \
		kubectl apply --server-side -k kustomize/install/default
	check "the operator Deployment rolls out" 0 \
		kubectl -n postgres-operator rollout status deployment/pgo --timeout=180s
}
# uninstall_operator: the seed's uninstall of the operator, then of its namespace, waited for.
uninstall_operator() {
	kubectl delete -k kustomize/install/default --ignore-not-found --timeout=120s >/dev/null 2>&1
	kubectl delete -k kustomize/install/namespace --ignore-not-found --timeout=180s >/dev/null 2>&1
	retry_until 120 sh -c "! kubectl get namespace $NS"
}

# gone CLUSTER...: the PostgresClusters CLUSTER and every object labelled with one of them are gone.
gone() {
	local out c left=0
	out=$(kn get statefulsets,pods,services,persistentvolumeclaims,secrets,configmaps,jobs \
		-l "$L/cluster in ($(IFS=,; echo "$*"))" -o name 2>&1)
	for c in "$@"; do
		kn get postgrescluster "$c" >/dev/null 2>&1 && left=1
	done
	[ -z "$out" ] && [ "$left" = 0 ] || {
		echo "left: $out"
		return 1
	}
}

# container_security INDENT: a container's securityContext under the restricted Pod Security Standard, with a
# read-only root file system; its key INDENT spaces in.
container_security() {
	printf '%s\n' "securityContext:" "  allowPrivilegeEscalation: false" "  capabilities: {drop: [ALL]}" \
		"  readOnlyRootFilesystem: true" "  runAsNonRoot: true" "  seccompProfile: {type: RuntimeDefault}" |
		sed "s/^/$(printf '%*s' "$1" '')/"
}
# sleeper_pod NAME CONTAINER: the manifest of pod NAME in NS, whose one container CONTAINER sleeps on IMAGE,
# restricted; stdin follows it: the container's other fields (env, volumeMounts: 6 spaces in), then the pod's
# volumes (2 spaces in).
sleeper_pod() {
	cat <<-EOF
		apiVersion: v1
		kind: Pod
		metadata:
		  name: $1
		  namespace: $NS
		spec:
		  enableServiceLinks: false
		  automountServiceAccountToken: false
		  terminationGracePeriodSeconds: 1
		  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
		  containers:
		    - name: $2
		      image: $IMAGE
		      imagePullPolicy: IfNotPresent
		      command: [sleep, infinity]
		$(container_security 6)
	EOF
	cat
}
