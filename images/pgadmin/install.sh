#!/bin/bash
# Installs pgAdmin 4 from PyPI with pip into a virtual environment on
# Debian's Python (trixie), with gunicorn to serve it, Debian's PostgreSQL 17
# client programs for its Backup/Restore/PSQL tools, and the start script.
#
#   /opt/pgadmin4               the virtual environment (on PATH)
#   $PGADMIN_DIR                pgAdmin's package directory (config_distro.py)
#   /var/lib/pgadmin            DATA_DIR, where the operator mounts a volume
#   /etc/pgadmin                config_system.py, projected by the operator
#   user pgadmin, UID/GID 5050  (pgAdmin's own images use 5050); the
#                               writable dirs are group 0 for any UID
#
# Build-time only (hack/build-images.sh sets them, a Containerfile need not):
# PIP_CACHE_DIR, a cache that outlives the build root, and PIP_BUILD_CA, the
# CA bundle to trust for PyPI (a host behind a TLS-inspecting proxy).
source "$(dirname "$0")/lib-root.sh"
here=$(dirname "$0")
venv=/opt/pgadmin4

add_user pgadmin 5050 /var/lib/pgadmin
apt_install python3 python3-venv postgresql-client-17 libnss-unknown ca-certificates
python3 -m venv "$venv"

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_ROOT_USER_ACTION=ignore
[ -n "${PIP_CACHE_DIR:-}" ] || export PIP_NO_CACHE_DIR=1
if [ -n "${PIP_BUILD_CA:-}" ] && [ -f "$PIP_BUILD_CA" ]; then export SSL_CERT_FILE=$PIP_BUILD_CA PIP_CERT=$PIP_BUILD_CA; fi
msg "pip install -r requirements.txt"
"$venv/bin/pip" install --quiet -r "$here/requirements.txt" ||
	fail "pip could not install pgAdmin (see above): check access to PyPI, and that every" \
		"package pip chose has a wheel or is pure Python (no compiler here)"
"$venv/bin/pip" freeze --all >"$venv/requirements.lock"
# pip itself is not needed to run pgAdmin.
"$venv/bin/python3" -m pip uninstall --quiet --yes pip

pgadmin_dir=$("$venv/bin/python3" -c 'import os, pgadmin4; print(os.path.dirname(pgadmin4.__file__))' 2>/dev/null ||
	echo "$venv/lib/python3/site-packages/pgadmin4")
[ -f "$pgadmin_dir/pgAdmin4.py" ] || pgadmin_dir=$(dirname "$(find "$venv/lib" -name pgAdmin4.py | head -n 1)")
[ -f "$pgadmin_dir/pgAdmin4.py" ] || fail "pgAdmin4.py not found under $venv"
install -m 644 "$here/config_distro.py" "$pgadmin_dir/config_distro.py"
ln -sfn "$pgadmin_dir" /usr/local/lib/pgadmin4
install -m 755 "$here/pgadmin4-start" /usr/local/bin/pgadmin4-start

group_writable pgadmin /var/lib/pgadmin /var/log/pgadmin /etc/pgadmin
nss_any_uid
finish_root
