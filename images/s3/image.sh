# shellcheck shell=bash disable=SC2034 # sourced by hack/build-images.sh, which reads these
# Descriptor of the S3 test server image: moto's server (Debian trixie's
# python3-moto) under gunicorn. Built on demand (`hack/build-images.sh s3`), not by
# `make cluster-up`: only the tests of cloud repositories need it.
IMAGE_REF_VAR=S3_SERVER_IMAGE
IMAGE_FROM=trixie
IMAGE_LABEL_PACKAGES=(python3-moto python3-gunicorn python3-werkzeug python3-flask python3 libnss-unknown libc6)
IMAGE_TITLE="moto S3 server"
IMAGE_DESCRIPTION="moto's server (Debian trixie's python3-moto), an in-memory S3-compatible service for tests"
IMAGE_USER=65534
IMAGE_ENV=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" LANG=C.UTF-8 HOME=/tmp
	S3_IGNORE_SUBDOMAIN_BUCKETNAME=true PYTHONDONTWRITEBYTECODE=1)
# Plain HTTP on 9000 unless the arguments add --certfile and --keyfile.
IMAGE_ENTRYPOINT='["python3", "-m", "gunicorn", "--config", "/etc/moto-s3/gunicorn.conf.py"]'
IMAGE_PORTS=(9000/tcp)

# image_version ROOT: the tag tells moto's version.
image_version() {
	local v
	v=$(root_pkg_version "$1" python3-moto)
	GOT_VERSION=$(upstream_version "$v")
	GOT_WHAT="python3-moto $v from trixie"
}
