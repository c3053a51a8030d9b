#!/bin/bash
# The operator's base: only the run-time libraries of the C binary (libcurl,
# jansson, OpenSSL 3, libpq) and the CA certificates. The binary is added on
# top by images/operator/build.sh. It is built on the project's build host
# (bookworm) against the same libraries' sonames, which trixie keeps
# (libcurl.so.4, libjansson.so.4, libssl.so.3, libpq.so.5, libyaml-0.so.2); build.sh checks
# with ldd that every library the binary needs is in the base. Add a package
# here when the binary starts linking a new library.
source "$(dirname "$0")/lib-root.sh"

add_user postgres-operator 65532 /nonexistent
apt_install libcurl4t64 libjansson4 libssl3t64 libpq5 libyaml-0-2 ca-certificates libnss-unknown
nss_any_uid
finish_root
