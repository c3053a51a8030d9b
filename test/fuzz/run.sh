#!/usr/bin/env bash
# Builds the libFuzzer targets of test/fuzz/ with clang-14 (-fsanitize=fuzzer,address,undefined) against the sources
# of src/common and src/kube, runs each for SECONDS (default 20) on a copy of its seed corpus, and prints TAP: one
# "ok"/"not ok" line per target, with the crashing input's path on failure. Exits non-zero when a target crashed.
# Work files and crash inputs go to _out/fuzz/. Usage: test/fuzz/run.sh [SECONDS]
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
SECONDS_PER_TARGET=${1:-20}
OUT=$ROOT/_out/fuzz
TARGETS=(watch status quantity selector)
CC=clang-14

command -v "$CC" >/dev/null && [ -n "$(ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a 2>/dev/null)" ] ||
	hack/install-build-deps.sh >&2 || exit 1

rm -rf "$OUT" && mkdir -p "$OUT/obj"
CFLAGS=(-std=c17 -g -O1 -D_GNU_SOURCE -Isrc -Itest/fuzz -Wall -Wextra -Werror -fno-omit-frame-pointer
	"-fmacro-prefix-map=$ROOT/=" -fsanitize=address,undefined -fno-sanitize-recover=all
	$(pkg-config --cflags jansson libcurl openssl yaml-0.1))
LIBS=($(pkg-config --libs jansson libcurl openssl yaml-0.1))

echo "1..${#TARGETS[@]}"
objs=()
for src in src/common/*.c src/kube/{quantity,selector,status,watch}.c test/fuzz/targets.c; do
	obj=$OUT/obj/$(echo "${src%.c}" | tr / _).o
	if ! "$CC" "${CFLAGS[@]}" -fsanitize=fuzzer-no-link -c "$src" -o "$obj" 2>>"$OUT/build.log"; then
		echo "not ok 1 - compile $src (see $OUT/build.log)"
		tail -20 "$OUT/build.log" | sed 's/^/# /'
		exit 1
	fi
	objs+=("$obj")
done

n=0 failed=0
for target in "${TARGETS[@]}"; do
	n=$((n + 1))
	dir=$OUT/$target
	mkdir -p "$dir/corpus"
	cp test/fuzz/corpus/"$target"/* "$dir/corpus/"
	if ! "$CC" "${CFLAGS[@]}" -fsanitize=fuzzer "test/fuzz/fuzz_$target.c" "${objs[@]}" "${LIBS[@]}" \
		-o "$dir/fuzz_$target" 2>>"$OUT/build.log"; then
		failed=$((failed + 1))
		echo "not ok $n - fuzz $target: link failed (see $OUT/build.log)"
		continue
	fi
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 timeout $((SECONDS_PER_TARGET + 120)) \
		"$dir/fuzz_$target" -max_total_time="$SECONDS_PER_TARGET" -max_len=4096 -timeout=10 \
		-print_final_stats=1 -artifact_prefix="$dir/" "$dir/corpus" >"$dir/log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log")
	if [ "$rc" -eq 0 ]; then
		echo "ok $n - fuzz $target: ${execs:-?} runs, ${rate:-?} exec/s, $(ls "$dir/corpus" | wc -l) corpus files"
	else
		failed=$((failed + 1))
		crash=$(ls "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-* 2>/dev/null | head -1)
		echo "not ok $n - fuzz $target: exit $rc, input ${crash:-(none saved)} (log $dir/log)"
		grep -E 'ERROR|SUMMARY|#[0-9]+ +0x' "$dir/log" | head -20 | sed 's/^/# /'
	fi
done
[ "$failed" -eq 0 ]
