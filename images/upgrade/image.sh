# shellcheck shell=bash disable=SC2034 # sourced by hack/build-images.sh, which reads these
# Descriptor of the upgrade image (PGUpgrade's Jobs): the postgres-18 image
# plus PostgreSQL 17 and its extensions, so pg_upgrade can run from 17 to 18.
# Deriving it from the finished postgres-18 archive shares all that work
# (nothing of 18 is installed twice) and keeps both images identical in what
# they have in common: pgBackRest, Patroni, paths, users, permissions.
OLD_MAJOR=17
NEW_MAJOR=18
IMAGE_REF_VAR=UPGRADE_IMAGE
IMAGE_FROM=postgres-$NEW_MAJOR
# A sid root: its postgresql-common triggers need /proc (see postgres/image.sh).
IMAGE_PROC=1
IMAGE_INSTALL_ENV=("OLD_MAJOR=$OLD_MAJOR" OLD_SUITE=trixie)
IMAGE_CHECK_PGBACKREST=1
IMAGE_LABEL_PACKAGES=("postgresql-$OLD_MAJOR" "postgresql-$NEW_MAJOR" pgbackrest
	"postgresql-$OLD_MAJOR-pgaudit" "postgresql-$NEW_MAJOR-pgaudit"
	"postgresql-$OLD_MAJOR-postgis-3" "postgresql-$NEW_MAJOR-postgis-3"
	"postgresql-$OLD_MAJOR-set-user" "postgresql-$NEW_MAJOR-set-user"
	"postgresql-$OLD_MAJOR-cron" "postgresql-$NEW_MAJOR-cron"
	"postgresql-$OLD_MAJOR-pgvector" "postgresql-$NEW_MAJOR-pgvector"
	"postgresql-$OLD_MAJOR-pgnodemx" "postgresql-$NEW_MAJOR-pgnodemx" libc6)
IMAGE_TITLE="PostgreSQL upgrade $OLD_MAJOR to $NEW_MAJOR"
IMAGE_DESCRIPTION="pg_upgrade from PostgreSQL $OLD_MAJOR (Debian trixie) to $NEW_MAJOR (Debian sid), both with the extensions of the postgres images"
IMAGE_USER=26
IMAGE_ENV=("PATH=/usr/lib/postgresql/$NEW_MAJOR/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	LANG=C.UTF-8 HOME=/var/lib/postgresql "PG_MAJOR=$NEW_MAJOR")
IMAGE_CMD='["pg_upgrade", "--version"]'

# image_version ROOT: the tag tells both versions, <from>-<to>.
image_version() {
	local old new
	old=$(root_pkg_version "$1" "postgresql-$OLD_MAJOR")
	new=$(root_pkg_version "$1" "postgresql-$NEW_MAJOR")
	GOT_VERSION=$(upstream_version "$old")-$(upstream_version "$new")
	GOT_WHAT="postgresql-$OLD_MAJOR $old (trixie) and postgresql-$NEW_MAJOR $new (sid)"
}
