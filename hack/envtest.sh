#!/usr/bin/env bash
# A throwaway control plane for the integration tests: etcd and kube-apiserver
# on loopback, no nodes, no controllers. Enough to install CRDs, validate
# objects against their schemas and CEL rules, dry-run and server-side apply.
#
#   hack/envtest.sh start     start one; prints its directory on stdout
#   hack/envtest.sh env [DIR] print shell exports (KUBECONFIG, ENVTEST_DIR,
#                             PATH with the pinned kubectl first) for eval
#   hack/envtest.sh stop [DIR] stop its processes by PID, remove its directory
#
# DIR defaults to $ENVTEST_DIR, then to the last one started on this machine
# (recorded in ${TMPDIR:-/tmp}/pgo-envtest.current). Everything an instance
# writes lives in its directory under ${TMPDIR:-/tmp}: the PKI (made with
# openssl, ECDSA P-256, valid one day), the etcd data, the logs, the PID files
# and the kubeconfig. The binaries come from the cache that hack/build-kube.sh
# fills (/var/cache/pgo-local/kube-v$KUBE_VERSION/bin).
set -euo pipefail

KUBE_VERSION=${KUBE_VERSION:-1.35.4}
CACHE_DIR=${PGO_CACHE_DIR:-/var/cache/pgo-local}
KUBE_BIN=${KUBE_BIN:-$CACHE_DIR/kube-v$KUBE_VERSION/bin}
POINTER=${TMPDIR:-/tmp}/pgo-envtest.current

log() { printf '%s [envtest] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# free_port: print a TCP port on 127.0.0.1 that nothing listens on now and
# that no earlier call of this run handed out. Ports come from 20000-29999:
# below Linux's ephemeral range (32768 and up, where outgoing connections
# could take them first) and Kubernetes' NodePort range (30000-32767).
declare -A _taken=()
free_port() {
	local port listening
	listening=$(ss -Hltn 2>/dev/null | awk '{print $4}' | sed 's/.*://' | sort -u)
	for _ in $(seq 1 200); do
		port=$((20000 + RANDOM % 10000))
		[ -n "${_taken[$port]:-}" ] && continue
		grep -qx "$port" <<<"$listening" && continue
		_taken[$port]=1
		echo "$port"
		return 0
	done
	die "found no free TCP port on 127.0.0.1"
}

resolve_dir() {
	local dir=${1:-${ENVTEST_DIR:-}}
	if [ -z "$dir" ] && [ -f "$POINTER" ]; then
		dir=$(cat "$POINTER")
	fi
	[ -n "$dir" ] || die "no envtest directory given, and none was started"
	echo "$dir"
}

make_pki() {
	local pki=$1
	mkdir -p "$pki"
	(
		cd "$pki"
		umask 077
		openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
		openssl req -x509 -new -key ca.key -sha256 -days 1 -subj "/CN=pgo-envtest-ca" \
			-addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.crt 2>/dev/null
		leaf() { # name subject extensions
			openssl ecparam -name prime256v1 -genkey -noout -out "$1.key" 2>/dev/null
			openssl req -new -key "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null
			printf '%s\n' "$3" >"$1.ext"
			openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
				-sha256 -days 1 -extfile "$1.ext" -out "$1.crt" 2>/dev/null
			rm -f "$1.csr" "$1.ext"
		}
		leaf apiserver "/CN=kube-apiserver" \
			"$(printf '%s\n' 'basicConstraints=CA:FALSE' 'keyUsage=critical,digitalSignature' \
				'extendedKeyUsage=serverAuth' \
				'subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes.default.svc')"
		leaf admin "/O=system:masters/CN=envtest-admin" \
			"$(printf '%s\n' 'basicConstraints=CA:FALSE' 'keyUsage=critical,digitalSignature' \
				'extendedKeyUsage=clientAuth')"
		openssl ecparam -name prime256v1 -genkey -noout -out sa.key 2>/dev/null
		openssl ec -in sa.key -pubout -out sa.pub 2>/dev/null
	) || die "openssl could not make the PKI in $pki"
}

cmd_start() {
	if [ ! -x "$KUBE_BIN/kube-apiserver" ] || [ ! -x "$KUBE_BIN/etcd" ]; then
		die "kube-apiserver and etcd are not in $KUBE_BIN; run hack/build-kube.sh (make kube-binaries)"
	fi
	command -v openssl >/dev/null || die "openssl is not installed"
	local dir
	dir=$(mktemp -d "${TMPDIR:-/tmp}/pgo-envtest.XXXXXX")
	local etcd_port peer_port api_port
	etcd_port=$(free_port)
	peer_port=$(free_port)
	api_port=$(free_port)
	make_pki "$dir/pki"
	local pki=$dir/pki

	setsid "$KUBE_BIN/etcd" --name envtest --data-dir "$dir/etcd" \
		--listen-client-urls "http://127.0.0.1:$etcd_port" \
		--advertise-client-urls "http://127.0.0.1:$etcd_port" \
		--listen-peer-urls "http://127.0.0.1:$peer_port" \
		--initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
		--initial-cluster "envtest=http://127.0.0.1:$peer_port" \
		--unsafe-no-fsync --log-level warn \
		</dev/null >"$dir/etcd.log" 2>&1 &
	echo $! >"$dir/etcd.pid"

	setsid "$KUBE_BIN/kube-apiserver" \
		--advertise-address 127.0.0.1 --bind-address 127.0.0.1 --secure-port "$api_port" \
		--etcd-servers "http://127.0.0.1:$etcd_port" \
		--cert-dir "$dir/apiserver" \
		--tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
		--client-ca-file "$pki/ca.crt" \
		--service-account-issuer https://kubernetes.default.svc \
		--service-account-key-file "$pki/sa.pub" \
		--service-account-signing-key-file "$pki/sa.key" \
		--service-cluster-ip-range 10.0.0.0/24 \
		--authorization-mode RBAC \
		--enable-priority-and-fairness=false \
		--v 1 \
		</dev/null >"$dir/apiserver.log" 2>&1 &
	echo $! >"$dir/apiserver.pid"

	cat >"$dir/kubeconfig" <<-EOF
		apiVersion: v1
		kind: Config
		clusters:
		- name: envtest
		  cluster:
		    server: https://127.0.0.1:$api_port
		    certificate-authority: $pki/ca.crt
		users:
		- name: envtest-admin
		  user:
		    client-certificate: $pki/admin.crt
		    client-key: $pki/admin.key
		contexts:
		- name: envtest
		  context: {cluster: envtest, user: envtest-admin, namespace: default}
		current-context: envtest
	EOF
	echo "$dir" >"$POINTER"

	local start=$SECONDS limit=${ENVTEST_START_TIMEOUT:-180}
	until KUBECONFIG=$dir/kubeconfig "$KUBE_BIN/kubectl" get --raw /readyz >/dev/null 2>&1; do
		local why=
		kill -0 "$(cat "$dir/etcd.pid")" 2>/dev/null || why="etcd exited"
		kill -0 "$(cat "$dir/apiserver.pid")" 2>/dev/null || why="kube-apiserver exited"
		[ $((SECONDS - start)) -ge "$limit" ] && why="kube-apiserver was not ready within $limit s"
		if [ -n "$why" ]; then
			log "$why (ports: etcd $etcd_port/$peer_port, apiserver $api_port); the end of their logs:"
			tail -n 25 "$dir/etcd.log" | sed 's/^/  etcd: /' >&2 || true
			tail -n 40 "$dir/apiserver.log" | sed 's/^/  kube-apiserver: /' >&2 || true
			KUBECONFIG=$dir/kubeconfig "$KUBE_BIN/kubectl" get --raw '/readyz?verbose' 2>&1 |
				grep -v '\[+\]' | sed 's/^/  readyz: /' >&2 || true
			cmd_stop "$dir"
			die "$why"
		fi
		sleep 0.5
	done
	# The default namespace and its ServiceAccount appear only with
	# controllers; tests that need them create them.
	log "ready in $((SECONDS - start)) s: https://127.0.0.1:$api_port ($dir)"
	echo "$dir"
}

cmd_env() {
	local dir
	dir=$(resolve_dir "${1:-}")
	[ -f "$dir/kubeconfig" ] || die "$dir holds no envtest"
	printf 'export KUBECONFIG=%q\n' "$dir/kubeconfig"
	printf 'export ENVTEST_DIR=%q\n' "$dir"
	# shellcheck disable=SC2016 # $PATH is for the shell that evals this
	printf 'export PATH=%q:"$PATH"\n' "$KUBE_BIN"
}

# stop_pid FILE: TERM the process named in FILE, KILL it after 10 s.
stop_pid() {
	local file=$1 pid
	[ -f "$file" ] || return 0
	pid=$(cat "$file")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	rm -f "$file"
}

cmd_stop() {
	local dir
	dir=$(resolve_dir "${1:-}")
	case $dir in
	"${TMPDIR:-/tmp}"/pgo-envtest.*) ;;
	*) die "refusing to remove $dir: not an envtest directory" ;;
	esac
	[ -d "$dir" ] || return 0
	stop_pid "$dir/apiserver.pid"
	stop_pid "$dir/etcd.pid"
	rm -rf "$dir"
	if [ -f "$POINTER" ] && [ "$(cat "$POINTER")" = "$dir" ]; then
		rm -f "$POINTER"
	fi
	log "stopped and removed $dir"
}

case ${1:-} in
start) cmd_start ;;
env) cmd_env "${2:-}" ;;
stop) cmd_stop "${2:-}" ;;
*)
	echo "usage: $0 start | env [DIR] | stop [DIR]" >&2
	exit 2
	;;
esac
