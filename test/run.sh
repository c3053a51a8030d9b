#!/usr/bin/env bash
# Runs the test tiers named as arguments (unit, integration, e2e; all three by
# default) and ends with one line: "N passed, N failed".
#
# Every test is an executable that prints TAP. Unit tests are the cmocka
# binaries that meson builds (run with TAP output); the integration and e2e
# tiers are the executable files test/<tier>/*.sh. Each test's output is kept
# in _out/test/<tier>/, and a failing test's lines are printed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/_out/test
tiers=("$@")
[ ${#tiers[@]} -eq 0 ] && tiers=(unit integration e2e)

passed=0 failed=0 skipped=0

# count FILE NAME EXIT: add one TAP output to the totals.
count() {
	local file=$1 name=$2 rc=$3 p f s
	# cmocka 1.1 reports a skipped test as "not ok N # SKIP": a skip either way.
	p=$(grep -cE '^ok [0-9]+' "$file")
	s=$(grep -cE '^(not )?ok [0-9]+.*# SKIP' "$file")
	f=$(grep -cE '^not ok [0-9]+' "$file")
	f=$((f - $(grep -cE '^not ok [0-9]+.*# SKIP' "$file")))
	p=$((p + $(grep -cE '^not ok [0-9]+.*# SKIP' "$file")))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		# The test died before reporting a failure: that is a failure too.
		f=1
		echo "not ok - $name exited with status $rc" >>"$file"
	fi
	passed=$((passed + p - s)) failed=$((failed + f)) skipped=$((skipped + s))
	printf '  %-44s %3d passed %3d failed %3d skipped\n' "$name" "$((p - s))" "$f" "$s"
	if [ "$f" -gt 0 ]; then
		grep -E -A20 '^not ok' "$file" | sed 's/^/    /' | head -60
	fi
}

run_unit() {
	if [ ! -f meson.build ]; then
		return 0
	fi
	# The include rule between the layers of src/ (hack/check-layers.sh) and the checker's self-test; before the
	# build, so that a broken build still reports it.
	test/unit/layers.sh >"$OUT/unit/layers.tap" 2>"$OUT/unit/layers.log"
	count "$OUT/unit/layers.tap" "unit/layers" $?
	make --no-print-directory build >"$OUT/unit/build.log" 2>&1 || {
		tail -30 "$OUT/unit/build.log"
		echo "not ok 1 - build" >"$OUT/unit/build.tap"
		count "$OUT/unit/build.tap" build 1
		return
	}
	# The SQL session tests start a throw-away PostgreSQL server when its programs are around (Debian keeps them
	# off PATH, in pg_config's bindir); without them those tests are skipped and say so.
	local t name bindir
	bindir=$(pg_config --bindir 2>/dev/null) && [ -x "$bindir/initdb" ] && PATH=$PATH:$bindir
	for t in build/test/unit/test_*; do
		[ -f "$t" ] && [ -x "$t" ] || continue
		name=${t##*/}
		CMOCKA_MESSAGE_OUTPUT=TAP timeout 300 "$t" >"$OUT/unit/$name.tap" 2>"$OUT/unit/$name.err"
		count "$OUT/unit/$name.tap" "unit/$name" $?
	done
	# The same binaries again, without sanitizers, under valgrind.
	test/unit/valgrind.sh >"$OUT/unit/valgrind.tap" 2>"$OUT/unit/valgrind.log"
	count "$OUT/unit/valgrind.tap" "unit/valgrind" $?
	# A short libFuzzer run of each parser on its corpus.
	test/fuzz/run.sh "${FUZZ_SECONDS:-10}" >"$OUT/unit/fuzz.tap" 2>"$OUT/unit/fuzz.log"
	count "$OUT/unit/fuzz.tap" "unit/fuzz" $?
}

run_scripts() {
	local tier=$1 t name
	for t in test/"$tier"/*.sh; do
		[ -x "$t" ] || continue
		name=${t##*/}
		name=${name%.sh}
		echo "  ... $tier/$name"
		timeout "${TEST_TIMEOUT:-1800}" "$t" >"$OUT/$tier/$name.tap" 2>"$OUT/$tier/$name.log"
		count "$OUT/$tier/$name.tap" "$tier/$name" $?
	done
}

for tier in "${tiers[@]}"; do
	mkdir -p "$OUT/$tier"
	rm -f "$OUT/$tier"/*.tap
	echo "== $tier"
	case $tier in
	unit) run_unit ;;
	integration | e2e) run_scripts "$tier" ;;
	*) echo "unknown tier $tier" && failed=$((failed + 1)) ;;
	esac
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
