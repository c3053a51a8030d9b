# Entry points. `make demo` and `make check` are the two a newcomer needs;
# the rest are their parts.

SHELL := /bin/bash
KUBECONFIG ?= /var/lib/pgo-local/admin.kubeconfig
export KUBECONFIG

.PHONY: all build build-release unit integration e2e check demo \
	kube-binaries images operator-image cluster-up cluster-down cluster-status clean format

all: build

# The C build: debug with AddressSanitizer and UBSan by default.
build: build/build.ninja
	ninja -C build
build/build.ninja:
	hack/install-build-deps.sh
	meson setup build --buildtype=debug -Db_sanitize=address,undefined

build-release:
	hack/install-build-deps.sh
	meson setup build-release --buildtype=release -Db_ndebug=true --reconfigure 2>/dev/null || \
		meson setup build-release --buildtype=release -Db_ndebug=true
	ninja -C build-release

# The local Kubernetes and our images (cached outside the work tree).
kube-binaries:
	hack/build-kube.sh
images:
	hack/build-images.sh
# The operator image: the release binary on the operator base, imported into
# the local cluster when it runs.
operator-image: build-release
	images/operator/build.sh $$([ -S /run/pgo-local/containerd/containerd.sock ] && echo --import) \
		build-release/src/cmd/postgres-operator
cluster-up: kube-binaries
	hack/cluster-up.sh
	hack/build-images.sh --import
cluster-down:
	hack/cluster-down.sh
cluster-status:
	hack/cluster-status.sh

# Test tiers. `check` runs all three on a cluster it starts and stops.
unit:
	test/run.sh unit
integration: kube-binaries
	test/run.sh integration
e2e:
	test/run.sh e2e
check:
	hack/check.sh

demo: kube-binaries
	hack/demo.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-release _out
