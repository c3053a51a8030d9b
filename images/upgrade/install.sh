#!/bin/bash
# Adds the older PostgreSQL ($OLD_MAJOR, from $OLD_SUITE) with the same
# extensions to a root that already has the newer one: the postgres image of
# the target version (see image.sh). pg_upgrade needs both versions' server
# programs, and the new version must have every library the old cluster
# uses (pgAudit in shared_preload_libraries, PostGIS, ...).
#
# In a sid root, trixie's packages for $OLD_MAJOR are taken by name
# (pkg/trixie); the few libraries they need that sid no longer has (an older
# ICU, LLVM, GDAL) come from trixie with them, beside sid's.
source "$(dirname "$0")/lib-root.sh"
: "${OLD_MAJOR:?OLD_MAJOR must name the PostgreSQL version to upgrade from}"
: "${OLD_SUITE:?OLD_SUITE must name the suite of that version}"

extensions=(pgaudit postgis-3 set-user cron pgvector pgnodemx)
pkgs=("postgresql-$OLD_MAJOR" "postgresql-client-$OLD_MAJOR" "${extensions[@]/#/postgresql-$OLD_MAJOR-}")
apt_install "${pkgs[@]/%//$OLD_SUITE}"
ln -sfn "/usr/lib/postgresql/$OLD_MAJOR" "/usr/pgsql-$OLD_MAJOR"
finish_root
