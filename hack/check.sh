#!/usr/bin/env bash
# `make check`: every test tier on a real cluster. Builds what is missing
# (C code, Kubernetes binaries, images), starts the local cluster unless one
# already runs, runs unit, integration and e2e tests, and stops the cluster
# again if it started it. The last line printed is test/run.sh's summary.
source "$(dirname "$0")/lib.sh"
cd "$ROOT_DIR"
mkdir -p _out
set +e

# The unit tier needs no cluster and mostly keeps one core busy, while the
# cluster's start and the e2e tier mostly wait: it runs beside them, its
# report held back until they are done.
unit_pid=''
unit_out=_out/unit-tier.out

# The e2e tier's last test stops a cluster this run started and compares
# the host with this snapshot; the trap only covers an early exit.
started=0
teardown() {
	if [ "$started" = 1 ] && [ -d "$RUN_DIR/pids" ]; then
		hack/cluster-down.sh >_out/cluster-down.log 2>&1 ||
			echo "cluster-down failed; see _out/cluster-down.log" >&2
	fi
}
trap teardown EXIT

hack/install-build-deps.sh || exit 1
# A failure to build images or start the cluster is reported by the e2e
# tier, which then fails; the other tiers still run.
status=$(hack/cluster-status.sh 2>/dev/null)
if [[ $status != *" 9 of 9 processes running"* ]]; then
	started=1
	# Whatever a crashed or half-started cluster left is removed first, so
	# that the snapshot shows the host as it is without any of it.
	hack/cluster-down.sh >_out/cluster-down.before.log 2>&1 ||
		echo "cleaning up an earlier cluster failed; see _out/cluster-down.before.log" >&2
	hack/host-snapshot.sh >_out/host.before
	export PGO_HOST_SNAPSHOT=$PWD/_out/host.before
fi
test/run.sh unit >"$unit_out" 2>&1 &
unit_pid=$!
hack/build-kube.sh || exit 1
if [ "$started" = 1 ]; then
	hack/cluster-up.sh || echo "cluster-up failed; the e2e tier will fail" >&2
fi
hack/build-images.sh --import || echo "building or importing images failed; the e2e tier will fail" >&2
# The e2e files share the namespace postgres-operator and the operator
# image's tag: one run at a time on a machine, under a lock that an e2e file
# run by hand takes too, and the image built inside it. -o: the lock is
# flock's own, so a cluster component an e2e file restarts does not inherit
# it and hold it after the run.
flock -o /tmp/pgo-e2e.lock bash -c '
	make --no-print-directory operator-image >_out/operator-image.log 2>&1 ||
		echo "building the operator image failed (see _out/operator-image.log); the e2e tier will fail" >&2
	test/run.sh integration e2e' | tee _out/cluster-tiers.out
wait "$unit_pid"
# The unit tier's report, then one summary over all tiers.
sed '$d' "$unit_out"
tail -n 1 "$unit_out" _out/cluster-tiers.out 2>/dev/null | awk '
	/^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$/ { p += $1; f += $3; s += $5; n++ }
	END { if (n < 2) f++; printf "%d passed, %d failed, %d skipped\n", p, f, s; exit (f > 0) }'
