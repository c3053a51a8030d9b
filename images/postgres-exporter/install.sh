#!/bin/bash
# Installs Debian's prometheus-postgres-exporter from sid (0.19, the series
# PGO ships, which knows PostgreSQL 18's statistics views) into a trixie
# root: it needs nothing newer than trixie's C library. Also reachable as
# postgres_exporter, the upstream name that PGO's sidecar script runs; bash
# and procps are there for such scripts. It writes nothing but /tmp.
source "$(dirname "$0")/lib-root.sh"

apt_install prometheus-postgres-exporter/sid libnss-unknown ca-certificates procps
ln -sfn prometheus-postgres-exporter /usr/bin/postgres_exporter
# The package's defaults file and service are for a host, not a container.
rm -f /etc/default/prometheus-postgres-exporter
nss_any_uid
finish_root
