#!/usr/bin/env bash
# Installs the Debian packages the C build and its tests need.
source "$(dirname "$0")/lib.sh"
ensure_packages gcc make meson ninja-build pkg-config libcurl4-openssl-dev libjansson-dev \
	libssl-dev libpq-dev libyaml-dev libcmocka-dev clang-format valgrind gcovr jq openssl \
	clang-14 libclang-rt-14-dev
# The integration tests compare rendered manifests with PyYAML.
python3 -c 'import yaml' 2>/dev/null || {
	log "installing PyYAML for python3"
	python3 -m pip install --quiet 'PyYAML==6.0.2' || die "could not install PyYAML with pip"
}
