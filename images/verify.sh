#!/usr/bin/env bash
# Runs the images built by hack/build-images.sh in a containerd of its own,
# to show that they work: each image as its default user and, where an
# OpenShift-like cluster would, as an arbitrary UID with GID 0.
#
# Usage: images/verify.sh [NAME...]   (names as for hack/build-images.sh;
#                                      none means all)
#
# The containerd is a throwaway: its root, state, socket, opt directory,
# runc root, FIFOs and cgroups all live under a temporary directory and a
# cgroup "pgo-images-verify" (restrict_oom_score_adj = true, as this VM needs);
# it is stopped by its PID and everything is removed at the end. It never
# touches the cluster's containerd (/run/pgo-local, /var/lib/pgo-local).
# Network checks use the host's loopback only.
#
# The arbitrary-UID runs use a variant of the image under another name whose
# config says User "1000650000:0" (the same layer; ctr run has no --user).
# The last line is "N passed, N failed"; the exit status is 1 on a failure.
source "$(dirname "$0")/../hack/lib.sh"
shopt -s inherit_errexit
IMAGES_DIR=$ROOT_DIR/images
# shellcheck source=lib/oci.sh
source "$IMAGES_DIR/lib/oci.sh"
# shellcheck source=versions.env
source "$IMAGES_DIR/versions.env"

ARBITRARY_USER=1000650000:0
CGROUP_PARENT=pgo-images-verify
V=''
CTRD_PID=''
PASSED=0
FAILED=0

# ctrd ARGS...: ctr against the throwaway containerd.
ctrd() { ctr --address "$V/containerd.sock" -n k8s.io "$@"; }

# start_containerd: a containerd with everything under $V.
start_containerd() {
	V=$(mktemp -d /tmp/pgo-images-verify.XXXXXX)
	mkdir -p "$V/cni" "$V/fifo" "$V/runc"
	cat >"$V/config.toml" <<-EOF
		version = 2
		root = "$V/root"
		state = "$V/state"
		[grpc]
		  address = "$V/containerd.sock"
		[ttrpc]
		  address = "$V/containerd.sock.ttrpc"
		[debug]
		  address = ""
		[metrics]
		  address = ""
		[plugins."io.containerd.internal.v1.opt"]
		  path = "$V/opt"
		[plugins."io.containerd.grpc.v1.cri"]
		  sandbox_image = "$PAUSE_IMAGE"
		  restrict_oom_score_adj = true
		  [plugins."io.containerd.grpc.v1.cri".containerd]
		    snapshotter = "overlayfs"
		    default_runtime_name = "runc"
		    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
		      runtime_type = "io.containerd.runc.v2"
		      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
		        SystemdCgroup = false
		        Root = "$V/runc"
		  [plugins."io.containerd.grpc.v1.cri".cni]
		    bin_dir = "/usr/lib/cni"
		    conf_dir = "$V/cni"
	EOF
	setsid containerd --config "$V/config.toml" >"$V/containerd.log" 2>&1 &
	CTRD_PID=$!
	for _ in $(seq 100); do
		[ -S "$V/containerd.sock" ] && ctrd version >/dev/null 2>&1 && break
		kill -0 "$CTRD_PID" 2>/dev/null || { tail "$V/containerd.log" >&2; die "containerd did not start"; }
		sleep 0.1
	done
	log "throwaway containerd $CTRD_PID at $V/containerd.sock"
}

# stop_containerd: remove containers, stop containerd by its PID, unmount
# and remove its directories and cgroups.
stop_containerd() {
	[ -n "$V" ] || return 0
	local c m d
	if [ -n "$CTRD_PID" ] && kill -0 "$CTRD_PID" 2>/dev/null; then
		for c in $(ctrd containers ls -q 2>/dev/null); do
			ctrd task kill -s SIGKILL "$c" >/dev/null 2>&1 || true
			sleep 0.2
			ctrd task delete "$c" >/dev/null 2>&1 || true
			ctrd containers delete "$c" >/dev/null 2>&1 || true
		done
		kill "$CTRD_PID"
		for _ in $(seq 50); do kill -0 "$CTRD_PID" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$CTRD_PID" 2>/dev/null && kill -9 "$CTRD_PID"
	fi
	while read -r m; do
		[ -n "$m" ] && { umount "$m" 2>/dev/null || umount -l "$m"; }
	done < <(awk -v p="$V" 'index($5, p "/") == 1 { print length($5) "\t" $5 }' /proc/self/mountinfo |
		sort -rn | cut -f2-)
	rm -rf --one-file-system "$V"
	for d in /sys/fs/cgroup/*/"$CGROUP_PARENT" /sys/fs/cgroup/"$CGROUP_PARENT"; do
		[ -d "$d" ] || continue
		find "$d" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null || true
		rmdir "$d" 2>/dev/null || true
	done
	V=''
}

# run ID REF [ctr-run-options...] -- ARGS...: run a container to completion
# and print its output.
run() {
	local id=$1 ref=$2 opts=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	shift
	ctrd run --rm --fifo-dir "$V/fifo" --runc-root "$V/runc" --cgroup "$CGROUP_PARENT/$id" \
		"${opts[@]}" "$ref" "$id" "$@"
}

# start ID REF [ctr-run-options...] -- ARGS...: run a container in the
# background.
start() {
	local id=$1 ref=$2 opts=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	shift
	ctrd run -d --null-io --fifo-dir "$V/fifo" --runc-root "$V/runc" --cgroup "$CGROUP_PARENT/$id" \
		"${opts[@]}" "$ref" "$id" "$@" >/dev/null
}

# finish ID: kill and remove a background container.
finish() {
	ctrd task kill -s SIGKILL "$1" >/dev/null 2>&1 || true
	for _ in $(seq 30); do
		ctrd task ls 2>/dev/null | awk -v id="$1" '$1 == id && $3 == "RUNNING" { r = 1 } END { exit !r }' || break
		sleep 0.1
	done
	ctrd task delete "$1" >/dev/null 2>&1 || true
	ctrd containers delete "$1" >/dev/null 2>&1 || true
}

# check DESCRIPTION COMMAND...: run a check, count it, show output on failure.
check() {
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then
		PASSED=$((PASSED + 1))
		echo "ok - $what"
		[ -z "${VERBOSE:-}" ] || echo "$out" | sed 's/^/    /'
	else
		FAILED=$((FAILED + 1))
		echo "not ok - $what"
		echo "$out" | tail -n 25 | sed 's/^/    /'
	fi
}

# expect_output PATTERNS COMMAND...: the command succeeds and its output
# matches every extended regex of PATTERNS (separated by " && ").
expect_output() {
	local patterns=$1 out p
	shift
	out=$("$@" 2>&1) || {
		echo "$out"
		return 1
	}
	echo "$out"
	while read -r p; do
		grep -Eq -- "$p" <<<"$out" || {
			echo "(expected: $p)"
			return 1
		}
	done < <(sed 's/ && /\n/g' <<<"$patterns")
}

# import REF: import an image's archive into the throwaway containerd.
import() {
	local archive
	archive=$(archive_of "$1")
	[ -f "$archive" ] || die "no archive for $1: run hack/build-images.sh first"
	oci_import "$V/containerd.sock" "$1" "$archive" "$(meta_get "$archive" MANIFEST_DIGEST)" 2>/dev/null
}

# as_user REF USER: import a variant of image REF that runs as USER; prints
# its reference.
as_user() {
	local ref=$1 user=$2 new w
	new=localhost/verify/${ref##*/}-uid${user%%:*}
	w=$(mktemp -d "$V/variant.XXXXXX")
	oci_unpack "$(archive_of "$ref")" "$w/oci"
	jq -c --arg u "$user" '.config.User = $u' "$CONFIG_FILE" >"$w/config.json"
	oci_finish "$w/oci" "$new" "$w/config.json" "$(jq -c .layers "$MANIFEST_FILE")"
	oci_pack "$w/oci" "$w/image.tar"
	ctrd images import "$w/image.tar" >/dev/null
	rm -rf "$w"
	echo "$new"
}

# wait_http URL PATTERN SECONDS: poll URL on the loopback until it answers
# with PATTERN.
wait_http() {
	for _ in $(seq "$3"); do
		curl -fsS --max-time 2 "$1" 2>/dev/null | grep -Eq "$2" && return 0
		sleep 1
	done
	curl -sS --max-time 2 "$1"
	return 1
}

# port_free PORT WHAT: nothing listens on the loopback at PORT (else say
# that WHAT is skipped).
port_free() {
	ss -Hltn "sport = :$1" | grep -q . || return 0
	echo "skip - $2: port $1 is in use on this machine"
	return 1
}

POSTGRES_SCRIPT='set -eu
echo "uid=$(id -u) gid=$(id -g) name=$(id -un) HOME=$HOME"
initdb -D /tmp/pgdata -U postgres --auth=trust -k >/tmp/initdb.log
pg_ctl -D /tmp/pgdata -l /tmp/pg.log -w -o "-k /tmp -c listen_addresses= -c shared_preload_libraries=pgaudit,pg_cron,set_user,pgnodemx -c cron.database_name=postgres" start >/dev/null
q() { psql -h /tmp -U postgres -d postgres -v ON_ERROR_STOP=1 -Atc "$1"; }
q "select version()"
for e in pgaudit postgis vector pg_cron set_user pgnodemx; do q "create extension $e" >/dev/null; done
echo "extensions: $(q "select string_agg(extname || '"'"' '"'"' || extversion, '"'"', '"'"' order by extname) from pg_extension")"
echo "postgis: $(q "select postgis_lib_version()")"
echo "vector: $(q "select '"'"'[1,2,3]'"'"'::vector <-> '"'"'[1,2,4]'"'"'::vector")"
pg_ctl -D /tmp/pgdata -w -m fast stop >/dev/null
pgbackrest version
patroni --version
python3 -c "import patroni.dcs.kubernetes; print(\"patroni kubernetes DCS importable\")"
test ! -e /etc/pgbackrest.conf && echo "no /etc/pgbackrest.conf"
echo ALL-OK'

UPGRADE_SCRIPT='set -eu
cd /tmp
old=/usr/lib/postgresql/17/bin new=/usr/lib/postgresql/18/bin
opts="-k /tmp -c listen_addresses= -c shared_preload_libraries=pgaudit"
$old/initdb -D /tmp/pg17 -U postgres --auth=trust -k >/dev/null
$old/pg_ctl -D /tmp/pg17 -l /tmp/pg17.log -w -o "$opts" start >/dev/null
$old/psql -h /tmp -U postgres -v ON_ERROR_STOP=1 -qc "create extension pgaudit; create extension postgis; create extension vector;
  create table t (v vector(3), g geometry); insert into t values ('"'"'[1,2,3]'"'"', '"'"'POINT(1 2)'"'"');"
$old/pg_ctl -D /tmp/pg17 -w -m fast stop >/dev/null
$new/initdb -D /tmp/pg18 -U postgres --auth=trust -k >/dev/null
echo "shared_preload_libraries = '"'"'pgaudit'"'"'" >>/tmp/pg18/postgresql.conf
up() { $new/pg_upgrade -b $old -B $new -d /tmp/pg17 -D /tmp/pg18 -U postgres "$@"; }
up --check >/tmp/check.log 2>&1 || { tail -20 /tmp/check.log; exit 1; }
grep -E "required libraries|Clusters are compatible" /tmp/check.log
[ "${1:-}" = check-only ] && { echo ALL-OK; exit 0; }
if ! up --link >/tmp/upgrade.log 2>&1; then
	tail -4 /tmp/upgrade.log
	grep -h "ERROR:" /tmp/pg18/pg_upgrade_output.d/*/log/*.log | sort -u | head -3
	exit 1
fi
$new/pg_ctl -D /tmp/pg18 -l /tmp/pg18.log -w -o "$opts" start >/dev/null
$new/psql -h /tmp -U postgres -Atc "select version()"
$new/psql -h /tmp -U postgres -Atc "select '"'"'rows after upgrade: '"'"' || count(*) || '"'"', '"'"' || ST_AsText(min(g)) from t"
$new/pg_ctl -D /tmp/pg18 -w -m fast stop >/dev/null
echo ALL-OK'

# verify_pause: the sandbox image holds and stops on SIGINT.
verify_pause() {
	import "$PAUSE_IMAGE"
	start pause "$PAUSE_IMAGE" -- /bin/pause -P
	sleep 1
	ctrd task ls | awk '$1 == "pause" { print $1, $3 }' | grep -q RUNNING || return 1
	ctrd task kill -s SIGINT pause
	for _ in $(seq 50); do
		ctrd task ls | awk '$1 == "pause" { print $3 }' | grep -q STOPPED && break
		sleep 0.1
	done
	local state
	state=$(ctrd task ls | awk '$1 == "pause" { print $3 }')
	finish pause
	echo "pause: running, then $state after SIGINT"
	[ "$state" = STOPPED ]
}

# busybox_script: what the smoke tests need of busybox.
BUSYBOX_SCRIPT='set -e; id
for a in sh nslookup wget sleep cat httpd; do command -v $a; done
mkdir -p /tmp/www && echo hello-web >/tmp/www/index.html
httpd -p 127.0.0.1:28080 -h /tmp/www && sleep 0.3
wget -qO- http://127.0.0.1:28080/
echo ALL-OK'

verify_busybox() {
	import "$BUSYBOX_IMAGE"
	port_free 28080 busybox || return 0
	check "busybox as its user (65534): sh nslookup wget sleep cat httpd" \
		expect_output 'hello-web && ALL-OK' run bb1 "$BUSYBOX_IMAGE" --net-host -- sh -c "$BUSYBOX_SCRIPT"
	local ref
	ref=$(as_user "$BUSYBOX_IMAGE" "$ARBITRARY_USER")
	check "busybox as UID $ARBITRARY_USER" \
		expect_output 'uid=1000650000 gid=0' run bb2 "$ref" -- sh -c 'id; echo x >/tmp/f && cat /tmp/f'
}

verify_postgres() {
	local ref=$1 major=$2 aref
	import "$ref"
	check "postgres $major as UID 26: initdb, start, 6 extensions, pgBackRest, Patroni" \
		expect_output "ALL-OK" run "pg$major-26" "$ref" -- sh -c "$POSTGRES_SCRIPT"
	aref=$(as_user "$ref" "$ARBITRARY_USER")
	check "postgres $major as UID $ARBITRARY_USER GID 0: the same" \
		expect_output "name=uid-1000650000 && ALL-OK" run "pg$major-any" "$aref" -- sh -c "$POSTGRES_SCRIPT"
	check "postgres $major: postgres --version says $major" \
		expect_output "PostgreSQL\\) $major\\." run "pg$major-v" "$ref" -- postgres --version
}

verify_upgrade() {
	import "$UPGRADE_IMAGE"
	local aref
	aref=$(as_user "$UPGRADE_IMAGE" "$ARBITRARY_USER")
	check "upgrade as UID 26: pg_upgrade --check 17 -> 18 with pgaudit, postgis, pgvector" \
		expect_output "Clusters are compatible && ALL-OK" \
		run up-c26 "$UPGRADE_IMAGE" -- sh -c "$UPGRADE_SCRIPT" sh check-only
	check "upgrade as UID $ARBITRARY_USER GID 0: pg_upgrade --check" \
		expect_output "Clusters are compatible && ALL-OK" \
		run up-cany "$aref" -- sh -c "$UPGRADE_SCRIPT" sh check-only
	check "upgrade as UID 26: pg_upgrade --link 17 -> 18, data readable after" \
		expect_output "rows after upgrade: 1, POINT\\(1 2\\) && ALL-OK" \
		run up-26 "$UPGRADE_IMAGE" -- sh -c "$UPGRADE_SCRIPT"
	check "upgrade as UID $ARBITRARY_USER GID 0: pg_upgrade --link" \
		expect_output "ALL-OK" run up-any "$aref" -- sh -c "$UPGRADE_SCRIPT"
}

verify_pgbouncer() {
	import "$PGBOUNCER_IMAGE"
	port_free 26432 pgbouncer || return 0
	local script='set -eu
printf "[databases]\n* = host=127.0.0.1 port=1\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = 26432\nauth_type = trust\nauth_file = /tmp/users.txt\nunix_socket_dir =\nlogfile =\npidfile =\n" >/tmp/pgb.ini
echo "\"u\" \"p\"" >/tmp/users.txt
pgbouncer --version | head -1
id
rc=0; timeout 2 pgbouncer /tmp/pgb.ini 2>/tmp/err || rc=$?
[ $rc = 124 ] && echo "ran until stopped" || { cat /tmp/err; exit 1; }'
	check "pgbouncer as UID 26: starts and listens" \
		expect_output "ran until stopped" run pgb-26 "$PGBOUNCER_IMAGE" --net-host -- sh -c "$script"
	local aref
	aref=$(as_user "$PGBOUNCER_IMAGE" "$ARBITRARY_USER")
	check "pgbouncer as UID $ARBITRARY_USER GID 0: the same" \
		expect_output "ran until stopped" run pgb-any "$aref" --net-host -- sh -c "$script"
}

verify_exporter() {
	import "$POSTGRES_EXPORTER_IMAGE"
	port_free 29187 postgres-exporter || return 0
	# ctr run replaces the whole command (entrypoint included) by its arguments.
	check "postgres_exporter --version" expect_output 'postgres_exporter, version' \
		run pge-v "$POSTGRES_EXPORTER_IMAGE" -- postgres_exporter --version
	local aref
	aref=$(as_user "$POSTGRES_EXPORTER_IMAGE" "$ARBITRARY_USER")
	start pge "$aref" --net-host \
		--env 'DATA_SOURCE_NAME=postgresql://u@127.0.0.1:1/postgres?sslmode=disable' -- \
		postgres_exporter --web.listen-address=127.0.0.1:29187 || true
	check "postgres_exporter as UID $ARBITRARY_USER serves /metrics" \
		wait_http http://127.0.0.1:29187/metrics '^pg_up 0' 20
	finish pge
}

verify_pgadmin() {
	import "$PGADMIN_IMAGE"
	port_free 25050 pgadmin || return 0
	local ref user
	for user in default "$ARBITRARY_USER"; do
		ref=$PGADMIN_IMAGE
		[ "$user" = default ] || ref=$(as_user "$PGADMIN_IMAGE" "$user")
		start pga "$ref" --net-host --env PGADMIN_DEFAULT_EMAIL=admin@example.com \
			--env PGADMIN_DEFAULT_PASSWORD=verify-only-password --env PGADMIN_LISTEN_ADDRESS=127.0.0.1 \
			--env PGADMIN_LISTEN_PORT=25050 -- /usr/local/bin/pgadmin4-start || true
		check "pgadmin as ${user/default/UID 5050}: setup-db, gunicorn, /misc/ping" \
			wait_http http://127.0.0.1:25050/misc/ping '^PING$' 120
		check "pgadmin as ${user/default/UID 5050}: the login page" \
			wait_http http://127.0.0.1:25050/login 'pgAdmin' 5
		finish pga
	done
}

verify_operator() {
	import "$OPERATOR_BASE_IMAGE"
	local src=$V/opx.c bin=$V/opx ref=localhost/verify/postgres-operator:0.0.0-verify archive
	cat >"$src" <<-'EOF'
		#include <stdio.h>
		#include <curl/curl.h>
		#include <jansson.h>
		#include <openssl/crypto.h>
		#include <libpq-fe.h>
		int main(void) {
			printf("%s\njansson %s\n%s\nlibpq %d\n", curl_version(), jansson_version_str(),
			       OpenSSL_version(OPENSSL_VERSION), PQlibVersion());
			return 0;
		}
	EOF
	if ! gcc -o "$bin" "$src" -I/usr/include/postgresql -lcurl -ljansson -lcrypto -lpq 2>"$V/gcc.log"; then
		echo "skip - operator: no C toolchain or -dev packages here ($(head -1 "$V/gcc.log"))"
		return 0
	fi
	archive=$("$IMAGES_DIR/operator/build.sh" --ref "$ref" "$bin" 2>"$V/operator-build.log") || {
		cat "$V/operator-build.log"
		FAILED=$((FAILED + 1))
		echo "not ok - images/operator/build.sh"
		return 0
	}
	import "$ref"
	check "operator image (base + a binary linking curl, jansson, OpenSSL, libpq) runs" \
		expect_output 'libpq [0-9]+' run op "$ref" -- /usr/local/bin/postgres-operator
	local aref
	aref=$(as_user "$ref" "$ARBITRARY_USER")
	check "operator image as UID $ARBITRARY_USER" expect_output 'jansson' \
		run op-any "$aref" -- /usr/local/bin/postgres-operator
	rm -f "$archive" "$(meta_of "$archive")"
}

verify_import_skip() {
	import "$BUSYBOX_IMAGE"
	check "hack/build-images.sh --import skips images containerd already has" \
		expect_output 'already in containerd' env IMAGES_CONTAINERD_SOCK="$V/containerd.sock" \
		"$ROOT_DIR/hack/build-images.sh" --import busybox
}

main() {
	local names=("$@") n
	[ ${#names[@]} -gt 0 ] || names=(pause busybox operator postgres-17 postgres-18 upgrade pgbouncer postgres-exporter pgadmin)
	[ "$(id -u)" = 0 ] || die "run as root"
	trap stop_containerd EXIT
	start_containerd
	for n in "${names[@]}"; do
		case $n in
		pause) check "pause: catatonit holds the sandbox and stops on SIGINT" verify_pause ;;
		busybox) verify_busybox ;;
		operator) verify_operator ;;
		postgres) verify_postgres "$POSTGRES_17_IMAGE" 17 && verify_postgres "$POSTGRES_18_IMAGE" 18 ;;
		postgres-17) verify_postgres "$POSTGRES_17_IMAGE" 17 ;;
		postgres-18) verify_postgres "$POSTGRES_18_IMAGE" 18 ;;
		upgrade) verify_upgrade ;;
		pgbouncer) verify_pgbouncer ;;
		postgres-exporter) verify_exporter ;;
		pgadmin) verify_pgadmin ;;
		*) die "unknown image $n" ;;
		esac
	done
	verify_import_skip
	stop_containerd
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" = 0 ]
}

main "$@"
