# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Lab test harness, sourced by the tests/e2e/test_*.sh that need a real MTA
# (test_pingpong.sh): the lab of scripts/lab.sh (server with Postfix, legit
# senders, attackers, one bridge), smtpwall in the server namespace, the
# load generator build/tools/smtpload, and TAP output.
#
# Run id: $LAB_E2E_ID or swl<pid>; smtpwall pinned under
# /sys/fs/bpf/smtpwall-lab-<id>, its state and config in the lab dir.
# Everything (load, daemon, pins, Postfix, namespaces, the lab dir and the
# lab's line in /etc/postfix/main.cf) is removed on exit, failure or signal.
#
# Not tests/e2e/lib.sh: sourcing it builds that harness's own topology and
# temp dir and sets its own exit trap. The TAP helpers are shared (tap.sh).

set -euo pipefail

LABT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LABT_ROOT=$(cd "$LABT_DIR/../.." && pwd)
SMTPWALL=${SMTPWALL:-$LABT_ROOT/build/smtpwall}
SMTPLOAD=${SMTPLOAD:-$LABT_ROOT/build/tools/smtpload}

# shellcheck source=scripts/lab.sh
. "$LABT_ROOT/scripts/lab.sh"

LABT_PIDS=()
# start_load's pids by load name (any name; LOAD_PID_<name> too where the
# name is a shell identifier).
declare -gA LABT_LOAD_PID=()
DAEMON_PID=""
DAEMON_LOG=""
CONF=""
_ERR_WHERE=""
_LABT_UP=0

# shellcheck source=tests/e2e/tap.sh
. "$LABT_DIR/tap.sh"
# shellcheck source=tests/e2e/events.sh
. "$LABT_DIR/events.sh"

_labt_cleanup() {
	local rc=$? pid

	trap - EXIT INT TERM ERR
	set +e
	if [ "$TAP_FINISHED" -eq 0 ]; then
		tap_fail "script aborted (exit $rc)" "${_ERR_WHERE:-no command failed: killed?}"
		printf '1..%d\n' "$TAP_N"
		rc=1
	fi
	if [ "$TAP_FAILED" -gt 0 ] && [ -n "$DAEMON_LOG" ] && [ -s "$DAEMON_LOG" ]; then
		printf '# last lines of the daemon log:\n'
		diag "$(tail -n 30 "$DAEMON_LOG")"
	fi
	for pid in "${LABT_PIDS[@]}"; do
		_kill_wait "$pid" TERM 2
	done
	if [ -n "$DAEMON_PID" ]; then
		_kill_wait "$DAEMON_PID" TERM 5
		DAEMON_PID=""
	fi
	events_stop
	if [ "$_LABT_UP" -eq 1 ]; then
		if [ "$TAP_FAILED" -gt 0 ] && [ -n "${E2E_KEEP:-}" ]; then
			# The lab dir is kept, the rest goes: nothing else may outlive the run.
			cp -a "$LAB_DIR" "/tmp/smtpwall-labkept-$LAB_ID" 2>/dev/null &&
				printf "# kept %s\n" "/tmp/smtpwall-labkept-$LAB_ID"
		fi
		# Detaches smtpwall (with $LAB_DIR/smtpwall.conf), removes the pins,
		# stops Postfix, deletes the namespaces and the lab dir.
		lab_down
	fi
	exit "$rc"
}

_labt_signal() {
	_ERR_WHERE="interrupted by SIG$1"
	exit 130
}

# ------------------------------------------------------------------ setup

if [ "$(id -u)" -ne 0 ]; then
	echo "ok 1 # SKIP the lab tests need root (network namespaces, XDP, bpffs, Postfix)"
	echo "1..1"
	exit 0
fi
for _tool in postfix postconf jq ip nsenter timeout flock; do
	if ! command -v "$_tool" >/dev/null; then
		echo "Bail out! $_tool is missing: run scripts/install-deps.sh"
		exit 1
	fi
done
if [ ! -x "$SMTPLOAD" ]; then
	echo "Bail out! $SMTPLOAD is missing: run 'make tests' first"
	exit 1
fi

if ! lab_init "${LAB_E2E_ID:-swl$$}"; then
	echo "Bail out! bad lab id"
	exit 1
fi
CONF=$LAB_DIR/smtpwall.conf
DAEMON_LOG=$LAB_DIR/daemon.log

set -E
trap '_ERR_WHERE="${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND"' ERR
trap _labt_cleanup EXIT
trap '_labt_signal INT' INT
trap '_labt_signal TERM' TERM

# labt_setup: the lab with Postfix answering, or bail out.
labt_setup() {
	local err

	err=$(mktemp "/tmp/smtpwall-labt-$LAB_ID.XXXXXX")
	# Marked up first: a half-built lab is removed too.
	_LABT_UP=1
	if ! lab_up 2>"$err"; then
		bail "build the lab and start Postfix" "$(cat "$err")"
	fi
	rm -f "$err"
}

# ------------------------------------------------------------------ smtpwall

# sw ARGS...: the CLI in the server namespace, with the run's config.
sw() {
	timeout "${SW_TIMEOUT:-20}" nsenter --net="/run/netns/$LAB_NS_SRV" -- \
		"$SMTPWALL" -c "$CONF" "$@"
}

# swj ARGS...: the CLI's output, never failing (for diagnostics and check_jq).
swj() {
	sw "$@" 2>&1 || true
}

# start_daemon: background `smtpwall run`; waits (10 s at most) until status
# shows this daemon running and attached to the server's interface.
start_daemon() {
	if [ ! -x "$SMTPWALL" ]; then
		echo "$SMTPWALL is missing: run 'make' first" >&2
		return 1
	fi
	echo "=== $(date +%T.%N) run" >>"$DAEMON_LOG"
	nsenter --net="/run/netns/$LAB_NS_SRV" -- "$SMTPWALL" -c "$CONF" run >>"$DAEMON_LOG" 2>&1 &
	DAEMON_PID=$!
	await_daemon "$LAB_IF_SRV" || return 1
	events_follow "$LAB_NS_SRV" "$LAB_DIR/events.jsonl"
}

# stop_daemon: SIGTERM, then `smtpwall detach` (the links stay otherwise).
stop_daemon() {
	if [ -n "$DAEMON_PID" ]; then
		_kill_wait "$DAEMON_PID" TERM 10
		DAEMON_PID=""
	fi
	sw detach >/dev/null 2>&1 || true
}

# ------------------------------------------------------------------ load

# load_out NAME [EXT]: the file of that load's output (EXT out, the
# default) or errors (err): $LAB_DIR/NAME.EXT, with any "/" in NAME as "_".
load_out() {
	printf '%s/%s.%s\n' "$LAB_DIR" "${1//\//_}" "${2:-out}"
}

# start_load NAME NS ARGS...: `smtpload ARGS` in the background in NS, its
# output in $(load_out NAME) ($LAB_DIR/NAME.out); records its pid for
# wait_load (and sets LOAD_PID_NAME if NAME is a shell identifier). NAME
# is any non-empty string; each load needs a name of its own. Waits (5 s)
# for its start line.
start_load() {
	local name=$1 ns=$2 out err pid i

	if [ -z "$name" ]; then
		echo "start_load: a load needs a name" >&2
		return 1
	fi
	out=$(load_out "$name")
	err=$(load_out "$name" err)
	shift 2
	# nsenter itself in the background: it execs smtpload, so $! is its pid.
	nsenter --net="/run/netns/$ns" -- "$SMTPLOAD" "$@" >"$out" 2>"$err" &
	pid=$!
	LABT_PIDS+=("$pid")
	LABT_LOAD_PID[$name]=$pid
	if [[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
		printf -v "LOAD_PID_$name" '%s' "$pid"
	fi
	for ((i = 0; i < 100; i++)); do
		grep -q '^start unix_ms=' "$out" 2>/dev/null && return 0
		_proc_alive "$pid" || break
		sleep 0.05
	done
	echo "smtpload $name did not start: $(cat "$out" "$err")" >&2
	return 1
}

# wait_load NAME: until that smtpload has finished (its --duration).
wait_load() {
	local pid=${LABT_LOAD_PID[$1]:-}

	[ -n "$pid" ] || return 0
	wait "$pid" 2>/dev/null || true
}

# load_start_ms NAME: the wall clock (ms) at which that smtpload started.
load_start_ms() {
	sed -n 's/^start unix_ms=\([0-9]*\) .*/\1/p' "$(load_out "$1")" | head -n 1
}

# kv LINE KEY: the value of KEY=value in LINE.
kv() {
	local w

	for w in $1; do
		case $w in
		"$2"=*) echo "${w#*=}"; return 0 ;;
		esac
	done
	echo ""
}

# legit_window NAME ATTACK_START_MS FROM_S TO_S: the legit client's attempts
# on the attack's time line, as "key=value" words:
#   pre_ok/pre_total    attempts started before the attack
#   all_ok/all_total    attempts started 0..TO_S after the attack began
#   ok/total            attempts started FROM_S..TO_S after the attack began
#   max_ms              the longest of those attempts
#   first_ok_ms         end of the first success started after the attack began
#   served_from_ms      end of the first success after the last failure (in
#                       0..TO_S): from then on every attempt succeeded
#   last_fail           the cause of the last failure
legit_window() {
	local out

	out=$(load_out "$1")

	awk -v L="$(load_start_ms "$1")" -v A="$2" -v W0="$(($3 * 1000))" -v W1="$(($4 * 1000))" '
	function val(k,   i, f) {
		for (i = 1; i <= NF; i++)
			if (index($i, k "=") == 1)
				return substr($i, length(k) + 2)
		return ""
	}
	BEGIN { first_ok = -1; served = -1; last_fail_end = -1; cause = "-" }
	/^t=/ {
		rel = L + val("t") * 1000 - A
		ok = val("ok") + 0
		end = rel + val("ms")
		if (rel < 0) {
			pre_total++
			pre_ok += ok
			next
		}
		if (rel >= W1)
			next
		all_total++
		all_ok += ok
		if (rel >= W0) {
			total++
			win_ok += ok
			if (val("ms") + 0 > max_ms)
				max_ms = val("ms") + 0
		}
		if (ok) {
			if (first_ok < 0)
				first_ok = end
			if (served < 0)
				served = end
		} else {
			served = -1
			last_fail_end = end
			cause = val("err")
		}
	}
	END {
		printf "pre_ok=%d pre_total=%d all_ok=%d all_total=%d ok=%d total=%d", pre_ok,
		       pre_total, all_ok, all_total, win_ok, total
		printf " max_ms=%d first_ok_ms=%d served_from_ms=%d last_fail=%s\n", max_ms,
		       first_ok, served, cause
	}' "$out"
}

# pct OK TOTAL: OK/TOTAL in per cent, one decimal ("n/a" without attempts).
pct() {
	if [ "$2" -eq 0 ]; then
		echo "n/a"
	else
		awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", 100 * a / b }'
	fi
}

# secs MS: milliseconds as seconds with one decimal ("never" if negative).
secs() {
	if [ "$1" -lt 0 ]; then
		echo "never"
	else
		awk -v m="$1" 'BEGIN { printf "%.1f s", m / 1000 }'
	fi
}
