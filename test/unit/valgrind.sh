#!/usr/bin/env bash
# Runs every unit test binary under valgrind, in a build without sanitizers (build-valgrind/; the two cannot be
# combined), and prints TAP: one "ok"/"not ok" line per binary. A binary fails when one of its tests fails or when
# valgrind finds a memory error or a leak (definite, indirect or possible). Each binary's output is kept in
# _out/test/valgrind/. Usage: test/unit/valgrind.sh [test_name ...]
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=build-valgrind
OUT=_out/test/valgrind
mkdir -p "$OUT"

if [ ! -f "$BUILD/build.ninja" ]; then
	meson setup "$BUILD" --buildtype=debug >"$OUT/setup.log" 2>&1 || {
		echo "1..1"
		echo "not ok 1 - meson setup $BUILD (see $OUT/setup.log)"
		exit 1
	}
fi
ninja -C "$BUILD" >"$OUT/build.log" 2>&1 || {
	echo "1..1"
	echo "not ok 1 - build $BUILD (see $OUT/build.log)"
	tail -20 "$OUT/build.log" | sed 's/^/# /'
	exit 1
}

tests=()
if [ $# -gt 0 ]; then
	for name in "$@"; do tests+=("$BUILD/test/unit/$name"); done
else
	for t in "$BUILD"/test/unit/test_*; do
		[ -f "$t" ] && [ -x "$t" ] && tests+=("$t")
	done
fi

echo "1..${#tests[@]}"
n=0 failed=0
for t in "${tests[@]}"; do
	n=$((n + 1))
	name=${t##*/}
	# The fake API server's forked children are checked too: their exit status is part of the test.
	CMOCKA_MESSAGE_OUTPUT=TAP timeout 900 valgrind --quiet --error-exitcode=99 --leak-check=full \
		--show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible \
		--child-silent-after-fork=yes --track-fds=no "$t" >"$OUT/$name.tap" 2>"$OUT/$name.log"
	rc=$?
	if [ "$rc" -eq 0 ]; then
		echo "ok $n - valgrind $name"
	else
		failed=$((failed + 1))
		echo "not ok $n - valgrind $name (exit $rc)"
		grep -E '^not ok|==[0-9]+==' "$OUT/$name.tap" "$OUT/$name.log" | head -40 | sed 's/^/# /'
	fi
done
[ "$failed" -eq 0 ]
