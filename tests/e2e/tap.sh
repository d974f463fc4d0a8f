# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# TAP output and process helpers shared by the end-to-end harnesses
# (tests/e2e/lib.sh, tests/e2e/lab.sh). Sourced; defines functions and the
# TAP counters only.

TAP_N=0
TAP_FAILED=0
TAP_FINISHED=0

# ------------------------------------------------------------------ TAP

_diag() {
	# Every line of "$*" as a TAP diagnostic.
	local line

	while IFS= read -r line; do
		printf '#   %s\n' "$line"
	done <<<"$*"
}

# diag TEXT...: the same, for the lab harness's callers.
diag() {
	_diag "$@"
}

# note TEXT: a one-line TAP comment.
note() {
	printf '# %s\n' "$*"
}

tap_ok() {
	TAP_N=$((TAP_N + 1))
	printf 'ok %d - %s\n' "$TAP_N" "$1"
}

# tap_fail DESC [DETAIL]
tap_fail() {
	TAP_N=$((TAP_N + 1))
	TAP_FAILED=$((TAP_FAILED + 1))
	printf 'not ok %d - %s\n' "$TAP_N" "$1"
	if [ $# -gt 1 ] && [ -n "$2" ]; then
		_diag "$2"
	fi
}

tap_skip() {
	TAP_N=$((TAP_N + 1))
	printf 'ok %d # SKIP %s\n' "$TAP_N" "$1"
}

# tap_is DESC GOT WANT
tap_is() {
	if [ "$2" = "$3" ]; then
		tap_ok "$1"
	else
		tap_fail "$1" "got:  '$2'"$'\n'"want: '$3'"
	fi
}

# check DESC CMD...: ok if CMD exits 0; its output is shown on failure.
check() {
	local desc=$1 out rc=0

	shift
	out=$("$@" 2>&1) || rc=$?
	if [ "$rc" -eq 0 ]; then
		tap_ok "$desc"
	else
		tap_fail "$desc" "command: $*"$'\n'"exit: $rc"$'\n'"$out"
	fi
	return 0
}

# check_fails DESC CMD...: ok if CMD exits non-zero.
check_fails() {
	local desc=$1 out rc=0

	shift
	out=$("$@" 2>&1) || rc=$?
	if [ "$rc" -ne 0 ]; then
		tap_ok "$desc"
	else
		tap_fail "$desc" "command: $* (expected to fail, exit 0)"$'\n'"$out"
	fi
	return 0
}

# tap_check DESC DETAIL CMD...: ok if CMD exits 0, else DETAIL.
tap_check() {
	local desc=$1 detail=$2

	shift 2
	if "$@"; then
		tap_ok "$desc"
	else
		tap_fail "$desc" "$detail"
	fi
	return 0
}

# check_jq DESC JSON FILTER [jq args...]: ok if FILTER is true for JSON.
check_jq() {
	local desc=$1 json=$2 filter=$3

	shift 3
	if jq -e "$@" "$filter" >/dev/null 2>&1 <<<"$json"; then
		tap_ok "$desc"
	else
		tap_fail "$desc" "jq: $filter"$'\n'"json: $json"
	fi
	return 0
}

# The plan, then exit: non-zero if anything failed.
tap_done() {
	printf '1..%d\n' "$TAP_N"
	TAP_FINISHED=1
	if [ "$TAP_FAILED" -gt 0 ]; then
		printf '# %d of %d failed\n' "$TAP_FAILED" "$TAP_N"
		exit 1
	fi
	exit 0
}

# bail DESC [DETAIL]: a failure the rest of the script cannot go on after.
bail() {
	tap_fail "$@"
	tap_done
}

# ------------------------------------------------------------------ cleanup

_proc_alive() {
	# A reaped or zombie process is not alive.
	local state

	[ -n "${1:-}" ] || return 1
	state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

_kill_wait() {
	# _kill_wait PID SIGNAL TIMEOUT_S: signal, wait, then SIGKILL.
	local pid=$1 sig=$2 i

	kill "-$sig" "$pid" 2>/dev/null || true
	for ((i = 0; i < $3 * 20; i++)); do
		_proc_alive "$pid" || break
		sleep 0.05
	done
	if _proc_alive "$pid"; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

# await_daemon IFNAME: wait (10 s at most) until `sw status` shows the
# daemon $DAEMON_PID running and attached to IFNAME; 1 if it exited or did
# not attach. `sw` (the CLI with the run's config) comes from the harness.
await_daemon() {
	local ifname=$1 i st=""

	for ((i = 0; i < 100; i++)); do
		if ! _proc_alive "$DAEMON_PID"; then
			wait "$DAEMON_PID" 2>/dev/null || true
			echo "daemon exited during start-up; log:" >&2
			tail -n 20 "$DAEMON_LOG" >&2
			DAEMON_PID=""
			return 1
		fi
		st=$(sw status --json 2>/dev/null) || st=""
		if [ -n "$st" ] && jq -e --arg i "$ifname" --argjson pid "$DAEMON_PID" \
			'.daemon.running == true and .daemon.pid == $pid and
			 any(.attached[]; .ifname == $i)' >/dev/null 2>&1 <<<"$st"; then
			return 0
		fi
		sleep 0.1
	done
	echo "daemon not attached to $ifname after 10 s; status: $st" >&2
	return 1
}
