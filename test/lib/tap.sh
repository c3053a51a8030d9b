# TAP helpers for the shell test tiers. Sourced by a test script; each check
# prints one "ok" or "not ok" line, which test/run.sh counts.

_tap_n=0
_tap_failed=0

# tap_ok NAME: record a passing check.
tap_ok() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $1"
}

# tap_fail NAME [REASON]: record a failing check, with the reason as a comment.
tap_fail() {
	_tap_n=$((_tap_n + 1))
	_tap_failed=$((_tap_failed + 1))
	echo "not ok $_tap_n - $1"
	[ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/#   /'
	return 0
}

# tap_check NAME COMMAND...: run COMMAND, pass if it exits 0; its output is
# kept as a comment when it fails.
tap_check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		tap_ok "$name"
	else
		tap_fail "$name" "$(printf '%s\n' "$out" | tail -20)"
	fi
}

# tap_skip NAME REASON: a check that cannot run here, and why.
tap_skip() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $1 # SKIP $2"
}

# tap_done: print the plan and exit non-zero if anything failed.
tap_done() {
	echo "1..$_tap_n"
	[ "$_tap_failed" -eq 0 ]
}

# retry_until SECONDS COMMAND...: run COMMAND every second until it succeeds
# or SECONDS pass. Timeouts bound a wait; they never judge speed.
retry_until() {
	local limit=$1 start=$SECONDS
	shift
	until "$@" >/dev/null 2>&1; do
		[ $((SECONDS - start)) -ge "$limit" ] && return 1
		sleep 1
	done
}
