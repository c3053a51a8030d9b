# shellcheck shell=bash disable=SC2034 # sourced by hack/build-images.sh, which reads these
# Descriptor of the postgres images (postgres-17, postgres-18), sourced by
# hack/build-images.sh with NAME set. install.sh does the work; this file
# says which base, which checks and which OCI configuration.
#
# PostgreSQL 17 comes from trixie and 18 from sid. The 18 image starts from a
# sid base rather than a trixie one: sid's postgresql-18 needs sid's libc
# (2.43), ICU and libxml2, so on trixie it would drag a third of sid in
# through a partial upgrade of the C library; a sid root keeps every package
# of that image from one consistent suite. pgBackRest comes from sid in both.
PG_MAJOR=${NAME#postgres-}
case $PG_MAJOR in
17) IMAGE_FROM=trixie ;;
18) IMAGE_FROM=sid ;;
*) die "no PostgreSQL $PG_MAJOR image: add its suite to images/postgres/image.sh" ;;
esac
IMAGE_REF_VAR=POSTGRES_${PG_MAJOR}_IMAGE
# sid's postgresql-common runs systemd-tmpfiles in its postinst, which needs
# /proc; trixie's does not.
[ "$IMAGE_FROM" = sid ] && IMAGE_PROC=1
IMAGE_INSTALL_ENV=("PG_MAJOR=$PG_MAJOR")
IMAGE_CHECK_PGBACKREST=1
IMAGE_LABEL_PACKAGES=("postgresql-$PG_MAJOR" patroni pgbackrest postgresql-common
	"postgresql-$PG_MAJOR-pgaudit" "postgresql-$PG_MAJOR-postgis-3" "postgresql-$PG_MAJOR-set-user"
	"postgresql-$PG_MAJOR-cron" "postgresql-$PG_MAJOR-pgvector" "postgresql-$PG_MAJOR-pgnodemx"
	libnss-unknown libnss-wrapper libc6)
IMAGE_TITLE="PostgreSQL $PG_MAJOR"
IMAGE_DESCRIPTION="PostgreSQL $PG_MAJOR with Patroni, pgBackRest, pgAudit, PostGIS, set_user, pg_cron, pgvector and pgnodemx (Debian $IMAGE_FROM)"
IMAGE_USER=26
IMAGE_ENV=("PATH=/usr/lib/postgresql/$PG_MAJOR/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	LANG=C.UTF-8 HOME=/var/lib/postgresql "PG_MAJOR=$PG_MAJOR")
# The operator runs Patroni with its configuration projected at /etc/patroni.
IMAGE_CMD='["patroni", "/etc/patroni"]'
IMAGE_PORTS=(5432/tcp 8008/tcp)

# image_version ROOT: the tag tells PostgreSQL's version.
image_version() {
	local v
	v=$(root_pkg_version "$1" "postgresql-$PG_MAJOR")
	GOT_VERSION=$(upstream_version "$v")
	GOT_WHAT="postgresql-$PG_MAJOR $v from $IMAGE_FROM"
}
