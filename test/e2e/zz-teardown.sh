#!/usr/bin/env bash
# Runs last: stops the local cluster with cluster-down and checks that the
# host is as it was before cluster-up (processes, network devices and
# namespaces, mounts, cgroups, iptables, listening sockets, sysctls, paths).
# Only when the cluster was started by this run (make check sets
# PGO_HOST_SNAPSHOT): a developer's running cluster is left alone.
source "$(dirname "$0")/../lib/tap.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)

if [ -z "${PGO_HOST_SNAPSHOT:-}" ] || [ ! -f "$PGO_HOST_SNAPSHOT" ]; then
	tap_skip "cluster-down restores the host" "the cluster was not started by this run"
	tap_done
	exit 0
fi
tap_check "cluster-down succeeds" "$root/hack/cluster-down.sh"
check_same() {
	diff "$PGO_HOST_SNAPSHOT" <("$root/hack/host-snapshot.sh")
}
tap_check "after cluster-down the host is as before cluster-up" check_same
tap_done
