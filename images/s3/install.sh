#!/bin/bash
# Installs moto's server from trixie (python3-moto) as an S3-compatible
# storage service for tests: pgBackRest's S3 repositories (repoN-type=s3)
# back up to it. moto keeps every bucket and object in memory, so a restart
# loses them; it checks no signature, so any access key works.
#
# moto serves every AWS service it knows on one port and picks the service
# from the request's signature; the image sets
# S3_IGNORE_SUBDOMAIN_BUCKETNAME=true so that a bucket is always the first
# path segment (repoN-s3-uri-style=path), whatever the Host header says.
# It runs under gunicorn (one process, threads; gunicorn.conf.py), not
# moto_server: behind that one (werkzeug's development server, which closes
# the connection after every answer) pgBackRest's PUT requests failed with
# "TLS error ... unexpected eof while reading"; under gunicorn they pass.
# HTTPS: --certfile FILE --keyfile FILE.
#
# It runs as nobody (65534) and writes nothing but /tmp.
source "$(dirname "$0")/lib-root.sh"

# python3-flask-cors is only a Recommends of python3-moto, but its server
# imports it; boto3 (a Depends) is there for scripts that create buckets.
apt_install python3-moto python3-flask-cors python3-gunicorn libnss-unknown ca-certificates
install -D -m 644 "$(dirname "$0")/moto_s3.py" /usr/local/lib/moto-s3/moto_s3.py
install -D -m 644 "$(dirname "$0")/gunicorn.conf.py" /etc/moto-s3/gunicorn.conf.py
(cd /tmp && python3 -c 'import sys; sys.path.insert(0, "/usr/local/lib/moto-s3"); import moto_s3') ||
	fail "moto's WSGI application does not load"
nss_any_uid
finish_root
