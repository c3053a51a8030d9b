# shellcheck shell=bash disable=SC2034 # sourced by hack/build-images.sh, which reads these
# Descriptor of the pgAdmin 4 image (pgAdmin from PyPI in a venv on trixie's
# Python, served by gunicorn). The tag tells pgAdmin's version, which is
# pinned in requirements.txt.
IMAGE_REF_VAR=PGADMIN_IMAGE
IMAGE_FROM=trixie
IMAGE_INSTALL_ENV=(PIP_CACHE_DIR=/tmp/build/pip-cache PIP_BUILD_CA=/tmp/build/host-ca.crt)
IMAGE_LABEL_PACKAGES=(python3 postgresql-client-17 libc6 libnss-unknown)
IMAGE_TITLE="pgAdmin 4"
IMAGE_DESCRIPTION="pgAdmin 4 from PyPI under gunicorn, on Debian trixie's Python"
IMAGE_USER=5050
IMAGE_ENV=("PATH=/opt/pgadmin4/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	LANG=C.UTF-8 HOME=/var/lib/pgadmin PGADMIN_DIR=/usr/local/lib/pgadmin4 PYTHONDONTWRITEBYTECODE=1)
IMAGE_ENTRYPOINT='["/usr/local/bin/pgadmin4-start"]'
IMAGE_PORTS=(5050/tcp)

# image_before_install ROOT: a pip cache that outlives the root, and the
# host's CA bundle for PyPI.
image_before_install() {
	mkdir -p "$IMAGE_CACHE/pip-cache" "$1/tmp/build/pip-cache"
	mount --bind "$IMAGE_CACHE/pip-cache" "$1/tmp/build/pip-cache"
	if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
		cp /etc/ssl/certs/ca-certificates.crt "$1/tmp/build/host-ca.crt"
	fi
}

# pypi_version ROOT DIST: the version of a Python distribution in the venv.
pypi_version() {
	sed -n "s/^$2==//Ip" "$1/opt/pgadmin4/requirements.lock"
}

# image_version ROOT: the tag tells pgAdmin's version.
image_version() {
	GOT_VERSION=$(pypi_version "$1" pgadmin4)
	GOT_WHAT="pgadmin4 $GOT_VERSION from PyPI (pinned in images/pgadmin/requirements.txt)"
}

# image_labels ROOT: the versions of what pip installed that matter most.
image_labels() {
	local d
	for d in pgadmin4 gunicorn psycopg flask sqlalchemy; do
		echo "local.pgo.pypi.$d=$(pypi_version "$1" "$d")"
	done
}
