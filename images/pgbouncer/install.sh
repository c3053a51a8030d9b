#!/bin/bash
# Installs PgBouncer from trixie. It runs as postgres (UID/GID 26, as in the
# postgres images, since Debian runs PgBouncer as postgres too). The operator
# projects its configuration at /etc/pgbouncer; Debian's own files there
# only serve a bare `docker run`. Where Debian's configuration would write
# (pid file and socket in /run/postgresql, log in /var/log/postgresql) is
# group-0 writable for an arbitrary UID.
source "$(dirname "$0")/lib-root.sh"

if [ "$(getent group 26 | cut -d: -f1)" = tape ]; then groupmod --new-name postgres tape; fi
add_user postgres 26 /var/lib/postgresql /bin/bash
apt_install pgbouncer libnss-unknown ca-certificates procps
group_writable postgres /var/lib/postgresql /run/postgresql /var/log/postgresql
nss_any_uid
finish_root
