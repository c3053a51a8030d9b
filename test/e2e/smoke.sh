#!/usr/bin/env bash
# Smoke tests of the local cluster: storage, DNS, Jobs, logs, exec,
# port-forward, our postgres image, and the restricted Pod Security Standard.
# Every pod here runs in a namespace that enforces "restricted", so each
# check also shows that our images are admitted under it.
source "$(dirname "$0")/../lib/tap.sh"
source "$(dirname "$0")/../lib/kube.sh"
trap cleanup_namespaces EXIT

if ! cluster_reachable; then
	tap_fail "cluster reachable" "the local cluster does not answer; run 'make cluster-up'"
	tap_done
	exit 1
fi

ns=$(new_namespace smoke pod-security.kubernetes.io/enforce=restricted \
	pod-security.kubernetes.io/enforce-version=latest)

# pod NAME IMAGE COMMAND [EXTRA-SPEC]: apply a restricted pod running
# COMMAND under sh.
pod() {
	local name=$1 image=$2 command=$3 extra=${4:-}
	k -n "$ns" apply -f - <<-EOF
		apiVersion: v1
		kind: Pod
		metadata: {name: $name, labels: {app: $name}}
		spec:
		  restartPolicy: Never
		  terminationGracePeriodSeconds: 1
		  securityContext: {runAsNonRoot: true, runAsUser: 1000650000, runAsGroup: 0, fsGroup: 1000650000}
		  containers:
		    - name: main
		      image: $image
		      imagePullPolicy: IfNotPresent
		      command: ["/bin/sh", "-c", "$command"]
		$(restricted_security)
		$extra
	EOF
}

wait_ready() { k -n "$ns" wait --for=condition=Ready "pod/$1" --timeout="${2:-120}s"; }

# --- Pod Security: the namespace enforces restricted -------------------------
check_rejects_privileged() {
	local out
	out=$(k -n "$ns" run privileged --image="$BUSYBOX_IMAGE" --restart=Never \
		--overrides='{"spec":{"containers":[{"name":"p","image":"'"$BUSYBOX_IMAGE"'","securityContext":{"privileged":true}}]}}' \
		-- sleep 1 2>&1)
	echo "$out" | grep -q 'violates PodSecurity "restricted' || {
		echo "expected a PodSecurity rejection, got: $out"
		return 1
	}
}
tap_check "restricted namespace rejects a privileged pod" check_rejects_privileged

# --- storage: data on a PVC outlives its pod ---------------------------------
check_pvc_survives() {
	k -n "$ns" apply -f - <<-EOF || return 1
		apiVersion: v1
		kind: PersistentVolumeClaim
		metadata: {name: data}
		spec:
		  accessModes: [ReadWriteOnce]
		  resources: {requests: {storage: 1Gi}}
	EOF
	local volume='      volumeMounts: [{name: data, mountPath: /data}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]'
	pod writer "$BUSYBOX_IMAGE" "echo kept-$ns > /data/file && sync" "$volume" || return 1
	k -n "$ns" wait --for=jsonpath='{.status.phase}'=Succeeded pod/writer --timeout=120s || {
		k -n "$ns" describe pod writer | tail -20
		return 1
	}
	k -n "$ns" delete pod writer --wait=true || return 1
	pod reader "$BUSYBOX_IMAGE" "cat /data/file" "$volume" || return 1
	k -n "$ns" wait --for=jsonpath='{.status.phase}'=Succeeded pod/reader --timeout=120s || return 1
	[ "$(k -n "$ns" logs reader)" = "kept-$ns" ]
}
tap_check "PVC binds dynamically and its data survives pod deletion (non-root)" check_pvc_survives
tap_check "kubectl logs returns the pod's output" sh -c "'$KUBECTL' -n $ns logs reader | grep -qx kept-$ns"

# --- DNS and Services ---------------------------------------------------------
check_dns() {
	pod web "$BUSYBOX_IMAGE" "mkdir -p /tmp/www && echo hello-web > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www" ||
		return 1
	k -n "$ns" expose pod web --port=80 --target-port=8080 --name=web || return 1
	wait_ready web || return 1
	pod client "$BUSYBOX_IMAGE" "nslookup web.$ns.svc.cluster.local && wget -qO- http://web.$ns.svc.cluster.local/ && wget -qO- http://web/" ||
		return 1
	k -n "$ns" wait --for=jsonpath='{.status.phase}'=Succeeded pod/client --timeout=120s || {
		k -n "$ns" logs client
		return 1
	}
	local out
	out=$(k -n "$ns" logs client)
	[ "$(echo "$out" | grep -c hello-web)" = 2 ] || {
		echo "$out"
		return 1
	}
}
tap_check "a Service name resolves through cluster DNS and routes to its pod" check_dns

check_no_upstream_dns() {
	pod outside "$BUSYBOX_IMAGE" "nslookup debian.org; echo rc=\$?" || return 1
	k -n "$ns" wait --for=jsonpath='{.status.phase}'=Succeeded pod/outside --timeout=120s || return 1
	# The cluster's DNS answers NXDOMAIN for any name outside the cluster.
	k -n "$ns" logs outside | grep -q 'rc=1'
}
tap_check "names outside the cluster do not resolve (no upstream DNS)" check_no_upstream_dns

# --- exec and port-forward ----------------------------------------------------
tap_check "kubectl exec runs a command in a pod" sh -c "'$KUBECTL' -n $ns exec web -- cat /tmp/www/index.html | grep -qx hello-web"

check_port_forward() {
	local port=18080 pf out
	k -n "$ns" port-forward pod/web "$port:8080" >/dev/null 2>&1 &
	pf=$!
	retry_until 20 curl -fsS "http://127.0.0.1:$port/"
	out=$(curl -fsS "http://127.0.0.1:$port/")
	kill "$pf" 2>/dev/null
	wait "$pf" 2>/dev/null
	[ "$out" = hello-web ]
}
tap_check "kubectl port-forward reaches a pod" check_port_forward

# --- Jobs ------------------------------------------------------------------------
check_job() {
	k -n "$ns" apply -f - <<-EOF || return 1
		apiVersion: batch/v1
		kind: Job
		metadata: {name: sum}
		spec:
		  backoffLimit: 0
		  template:
		    spec:
		      restartPolicy: Never
		      securityContext: {runAsNonRoot: true, runAsUser: 1000650000}
		      containers:
		        - name: main
		          image: $BUSYBOX_IMAGE
		          imagePullPolicy: IfNotPresent
		          command: ["/bin/sh", "-c", "echo \$((20 + 22))"]
		          securityContext:
		            allowPrivilegeEscalation: false
		            capabilities: {drop: [ALL]}
		            seccompProfile: {type: RuntimeDefault}
	EOF
	k -n "$ns" wait --for=condition=Complete job/sum --timeout=120s || return 1
	[ "$(k -n "$ns" logs job/sum)" = 42 ]
}
tap_check "a Job runs to completion" check_job

# --- our postgres image ------------------------------------------------------------
check_postgres() {
	pod pg "$POSTGRES_17_IMAGE" "initdb -D /tmp/pgdata -U postgres --auth=trust >/tmp/initdb.log && exec postgres -D /tmp/pgdata -c listen_addresses=* -k /tmp" ||
		return 1
	retry_until 120 "$KUBECTL" -n "$ns" exec pg -- psql -h /tmp -U postgres -Atc 'select 1' || {
		k -n "$ns" logs pg | tail -20
		return 1
	}
	[ "$(k -n "$ns" exec pg -- psql -h /tmp -U postgres -Atc 'select 6 * 7')" = 42 ] || return 1
	local port=15432 pf out
	k -n "$ns" port-forward pod/pg "$port:5432" >/dev/null 2>&1 &
	pf=$!
	retry_until 20 psql -h 127.0.0.1 -p "$port" -U postgres -Atc 'select 1'
	out=$(psql -h 127.0.0.1 -p "$port" -U postgres -Atc 'show server_version_num')
	kill "$pf" 2>/dev/null
	wait "$pf" 2>/dev/null
	case $out in 17*) ;; *)
		echo "server_version_num=$out"
		return 1
		;;
	esac
}
tap_check "a pod of our postgres image answers psql (exec and port-forward)" check_postgres

tap_done
