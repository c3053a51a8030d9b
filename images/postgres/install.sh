#!/bin/bash
# Installs PostgreSQL $PG_MAJOR with Patroni, pgBackRest and the extensions
# PGO ships (those Debian packages) into the image's root. Runs inside that
# root as root (chroot or Containerfile RUN), on a base prepared by
# base/setup-base.sh: trixie for PostgreSQL 17, sid for 18 (see image.sh).
#
# Layout (what the operator relies on):
#   /usr/lib/postgresql/$PG_MAJOR/bin   server and client programs (on PATH via
#                                       the image config), also reachable as
#                                       /usr/pgsql-$PG_MAJOR/bin (PGO's path)
#   user postgres, UID/GID 26           PGO's numbers; HOME /var/lib/postgresql
#   pgBackRest from sid                 one version in every image; no
#                                       /etc/pgbackrest.conf (Debian's sets
#                                       repo1-path), /etc/pgbackrest/conf.d
#                                       for the operator's projected files
#   group-0 writable dirs               HOME, /run/postgresql, and pgBackRest's
#                                       default log, repository and spool
#                                       paths, for an arbitrary UID with GID 0
#   passwd: files unknown               any UID resolves (base/lib-root.sh)
#   nss_wrapper                         for PGO-style pods that preload it
#                                       (LD_PRELOAD=/usr/lib64/libnss_wrapper.so)
source "$(dirname "$0")/lib-root.sh"
: "${PG_MAJOR:?PG_MAJOR must name the PostgreSQL major version}"

# The extensions PGO's images carry that Debian packages (all of them are
# packaged for 17 and 18, pgnodemx included).
extensions=(pgaudit postgis-3 set-user cron pgvector pgnodemx)

# UID and GID 26, as in PGO's images (its pods set fsGroup 26). Debian's
# static GID 26 is "tape", meaningless in a container: it becomes postgres.
if [ "$(getent group 26 | cut -d: -f1)" = tape ]; then groupmod --new-name postgres tape; fi
add_user postgres 26 /var/lib/postgresql /bin/bash

# postgresql-common first, to switch off the "main" cluster that the server
# package would otherwise create at install time.
apt_install postgresql-common
sed -ri 's/^#? *create_main_cluster *=.*/create_main_cluster = false/' \
	/etc/postgresql-common/createcluster.conf
grep -q '^create_main_cluster = false' /etc/postgresql-common/createcluster.conf ||
	fail "could not switch off create_main_cluster in createcluster.conf"

apt_install "postgresql-$PG_MAJOR" "postgresql-client-$PG_MAJOR" \
	"${extensions[@]/#/postgresql-$PG_MAJOR-}" \
	patroni pgbackrest/sid \
	libnss-unknown libnss-wrapper ca-certificates procps curl

# pgBackRest: no packaged configuration; the operator projects its own.
rm -f /etc/pgbackrest.conf
mkdir -p /etc/pgbackrest/conf.d

group_writable postgres /var/lib/postgresql /run/postgresql /var/log/postgresql \
	/var/log/pgbackrest /var/lib/pgbackrest /var/spool/pgbackrest

# PGO's paths, so that scripts written for its images find the programs.
ln -sfn "/usr/lib/postgresql/$PG_MAJOR" "/usr/pgsql-$PG_MAJOR"
wrapper=$(dpkg -L libnss-wrapper | grep '/libnss_wrapper\.so$' | head -n 1)
[ -n "$wrapper" ] || fail "libnss-wrapper ships no libnss_wrapper.so"
mkdir -p /usr/lib64
ln -sfn "$wrapper" /usr/lib64/libnss_wrapper.so

nss_any_uid
finish_root
