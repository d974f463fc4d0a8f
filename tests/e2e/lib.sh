# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# End-to-end test harness, sourced by every tests/e2e/test_*.sh.
#
# Each run builds its own topology, named after a run id (swe<pid>):
#
#   netns ${ID}s (server)                      netns ${ID}c (client)
#   veth ${ID}s  <------------------------->   veth ${ID}c
#   10.200.X.1/24, fd00:200:X::1/64            10.200.X.2 .. .9
#                                              fd00:200:X::2 .. ::9
#   routes fd00:200:X:{1,2}::/64 on-link       fd00:200:X:1::2 .. ::9
#                                              fd00:200:X:2::2 .. ::9
#
# The client /64s are distinct IPv6 sources when sources are aggregated to
# /64 (the default ipv6_prefix).
#
# smtpwall runs in the server namespace with `nsenter --net` (not `ip netns
# exec`, which mounts a fresh /sys without bpffs), pinned under
# /sys/fs/bpf/smtpwall-e2e-<id>, with its state under a temporary directory.
# Everything is torn down on exit, failure or signal.
#
# Output is TAP: "ok N - desc" / "not ok N - desc", the plan "1..N" last.

set -euo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=$(cd "$E2E_DIR/../.." && pwd)
SMTPWALL=${SMTPWALL:-$ROOT_DIR/build/smtpwall}
TCPCONN=${TCPCONN:-$ROOT_DIR/build/tools/tcpconn}
SMTP_PORT=25

BG_PIDS=()
DAEMON_PID=""
DAEMON_LOG=""
TOPOLOGY_UP=0
_ERR_WHERE=""

# shellcheck source=tests/e2e/tap.sh
. "$E2E_DIR/tap.sh"
# shellcheck source=tests/e2e/events.sh
. "$E2E_DIR/events.sh"

_cleanup() {
	local rc=$? pid

	trap - EXIT INT TERM ERR
	set +e
	if [ "$TAP_FINISHED" -eq 0 ]; then
		tap_fail "script aborted (exit $rc)" "${_ERR_WHERE:-no command failed: killed?}"
		printf '1..%d\n' "$TAP_N"
		rc=1
	fi
	if [ "$TAP_FAILED" -gt 0 ] && [ -n "$DAEMON_LOG" ] && [ -s "$DAEMON_LOG" ]; then
		printf '# last lines of the daemon log (%s):\n' "$DAEMON_LOG"
		_diag "$(tail -n 30 "$DAEMON_LOG")"
	fi
	if [ -n "$DAEMON_PID" ]; then
		_kill_wait "$DAEMON_PID" TERM 5
		DAEMON_PID=""
	fi
	events_stop
	for pid in "${BG_PIDS[@]}"; do
		_kill_wait "$pid" TERM 2
	done
	if [ "$TOPOLOGY_UP" -eq 1 ] && [ -x "$SMTPWALL" ] && [ -f "${CONF:-}" ]; then
		timeout 10 nsenter --net="/run/netns/$NS_S" -- "$SMTPWALL" -c "$CONF" detach \
			>/dev/null 2>&1
	fi
	[ -n "${BPFFS_DIR:-}" ] && rm -rf "$BPFFS_DIR"
	ip netns del "$NS_C" 2>/dev/null
	ip netns del "$NS_S" 2>/dev/null
	if [ -n "${TMPD:-}" ] && [ -d "$TMPD" ]; then
		if [ "$TAP_FAILED" -gt 0 ] && [ -n "${E2E_KEEP:-}" ]; then
			printf '# kept %s\n' "$TMPD"
		else
			rm -rf "$TMPD"
		fi
	fi
	exit "$rc"
}

_on_signal() {
	_ERR_WHERE="interrupted by SIG$1"
	exit 130
}

# ------------------------------------------------------------------ setup

if [ "$(id -u)" -ne 0 ]; then
	echo "ok 1 # SKIP the end-to-end tests need root (network namespaces, XDP, bpffs)"
	echo "1..1"
	exit 0
fi

ID=${E2E_ID:-swe$$}
NET_X=$(( $$ % 200 + 20 ))
NS_S=${ID}s
NS_C=${ID}c
IF_S=${ID}s
IF_C=${ID}c
SRV4=10.200.$NET_X.1
SRV6=fd00:200:$NET_X::1
BPFFS_DIR=/sys/fs/bpf/smtpwall-e2e-$ID
TMPD=$(mktemp -d "/tmp/smtpwall-e2e-$ID.XXXXXX")
CONF=$TMPD/smtpwall.conf
DAEMON_LOG=$TMPD/daemon.log
SIGNAL_FILE=$TMPD/release

set -E
trap '_ERR_WHERE="${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND"' ERR
trap _cleanup EXIT
trap '_on_signal INT' INT
trap '_on_signal TERM' TERM

# Client addresses: c4 N = 10.200.X.N, c6 N = fd00:200:X::N,
# c6b N = fd00:200:X:1::N, c6c N = fd00:200:X:2::N (N = 2..9).
c4() { echo "10.200.$NET_X.$1"; }
c6() { echo "fd00:200:$NET_X::$1"; }
c6b() { echo "fd00:200:$NET_X:1::$1"; }
c6c() { echo "fd00:200:$NET_X:2::$1"; }
# The /64s of c6, c6b and c6c addresses (for the test scripts).
# shellcheck disable=SC2034
NET6=fd00:200:$NET_X::/64
NET6B=fd00:200:$NET_X:1::/64
NET6C=fd00:200:$NET_X:2::/64

for _bin in "$SMTPWALL" "$TCPCONN"; do
	if [ ! -x "$_bin" ]; then
		echo "Bail out! $_bin is missing: run 'make tests' first"
		TAP_FINISHED=1
		exit 1
	fi
done
for _tool in jq ip nsenter timeout; do
	if ! command -v "$_tool" >/dev/null; then
		echo "Bail out! $_tool is missing: run scripts/install-deps.sh"
		TAP_FINISHED=1
		exit 1
	fi
done

in_server() { nsenter --net="/run/netns/$NS_S" -- "$@"; }
in_client() { nsenter --net="/run/netns/$NS_C" -- "$@"; }

setup_topology() {
	local i

	# Called in a condition, where set -e does not apply: check each step.
	ip netns add "$NS_S" || return 1
	TOPOLOGY_UP=1
	ip netns add "$NS_C" || return 1
	ip -n "$NS_S" link add "$IF_S" type veth peer name "$IF_C" netns "$NS_C" || return 1
	ip -n "$NS_S" link set lo up || return 1
	ip -n "$NS_C" link set lo up || return 1
	ip -n "$NS_S" addr add "$SRV4/24" dev "$IF_S" || return 1
	ip -n "$NS_S" -6 addr add "$SRV6/64" dev "$IF_S" nodad || return 1
	for i in 2 3 4 5 6 7 8 9; do
		ip -n "$NS_C" addr add "$(c4 "$i")/24" dev "$IF_C" || return 1
		ip -n "$NS_C" -6 addr add "$(c6 "$i")/64" dev "$IF_C" nodad || return 1
		ip -n "$NS_C" -6 addr add "$(c6b "$i")/64" dev "$IF_C" nodad || return 1
		ip -n "$NS_C" -6 addr add "$(c6c "$i")/64" dev "$IF_C" nodad || return 1
	done
	# No duplicate address detection on the link-local addresses either:
	# while they are tentative, the first neighbour discovery may be lost
	# and a SYN retransmitted a second later.
	in_server sysctl -qw "net.ipv6.conf.$IF_S.accept_dad=0" || return 1
	in_client sysctl -qw "net.ipv6.conf.$IF_C.accept_dad=0" || return 1
	ip -n "$NS_S" link set "$IF_S" up || return 1
	ip -n "$NS_C" link set "$IF_C" up || return 1
	wait_for 5 _link_ready || { echo "veth pair not up after 5 s" >&2; return 1; }
	# The server reaches the other client /64s on the link too.
	ip -n "$NS_S" -6 route add "$NET6B" dev "$IF_S" || return 1
	ip -n "$NS_S" -6 route add "$NET6C" dev "$IF_S" || return 1
}

_link_ready() {
	ip -n "$NS_S" link show "$IF_S" | grep -q 'state UP' &&
	ip -n "$NS_C" link show "$IF_C" | grep -q 'state UP' &&
	[ -z "$(ip -n "$NS_S" -6 addr show dev "$IF_S" tentative)" ] &&
	[ -z "$(ip -n "$NS_C" -6 addr show dev "$IF_C" tentative)" ]
}

# start_server [PORT]: the SMTP-ish test server in the server namespace.
start_server() {
	local port=${1:-$SMTP_PORT} out=$TMPD/server-${1:-$SMTP_PORT}.out pid i

	# nsenter itself, not a shell function, in the background: $! is then
	# the server's own pid (nsenter execs it), which cleanup can kill.
	nsenter --net="/run/netns/$NS_S" -- "$TCPCONN" serve --port "$port" --max-seconds 600 \
		>"$out" 2>"$TMPD/server.err" &
	pid=$!
	BG_PIDS+=("$pid")
	for ((i = 0; i < 100; i++)); do
		grep -q '^ready' "$out" 2>/dev/null && return 0
		_proc_alive "$pid" || break
		sleep 0.05
	done
	echo "test server on port $port did not start: $(cat "$TMPD/server.err")" >&2
	return 1
}

# write_config_to FILE [section.key=value]...: the per-run config with
# overrides; "section.key=" (empty value) leaves the key out. Sections may
# hold a space: "country JP.action=block" writes [country JP].
write_config_to() {
	local file=$1 kv key val sec k
	local -A vals=()
	local -a order=()

	shift
	for kv in "general.interfaces=$IF_S" \
		"general.bpffs_dir=$BPFFS_DIR" \
		"general.state_dir=$TMPD/state" \
		"general.gc_interval=500ms" \
		"limits.ports=$SMTP_PORT" \
		"penalty.strikes=0" \
		"$@"; do
		key=${kv%%=*}
		val=${kv#*=}
		case $key in
		*.*) ;;
		*) echo "write_config: '$kv' is not section.key=value" >&2; return 1 ;;
		esac
		[ -n "${vals[$key]+set}" ] || order+=("$key")
		vals[$key]=$val
	done
	# Sections in the file's usual order; [country ...] ones as first given.
	local -a secs=(general limits penalty flood capacity sessions emergency geo policy accounts maillog metrics)
	for key in "${order[@]}"; do
		sec=${key%%.*}
		case $sec in
		country\ *) [[ " ${secs[*]} " == *" $sec "* ]] || secs+=("$sec") ;;
		esac
	done
	secs+=(allow deny)
	# A key whose section is not written would vanish without a word.
	for key in "${order[@]}"; do
		if [[ " ${secs[*]} " != *" ${key%%.*} "* ]]; then
			echo "write_config: unknown section in '$key'" >&2
			return 1
		fi
	done
	{
		echo "# smtpwall e2e config, run $ID"
		for sec in "${secs[@]}"; do
			local header=0
			for key in "${order[@]}"; do
				[ "${key%%.*}" = "$sec" ] || continue
				[ -n "${vals[$key]}" ] || continue
				if [ "$header" -eq 0 ]; then
					echo "[$sec]"
					header=1
				fi
				k=${key#*.}
				echo "$k = ${vals[$key]}"
			done
		done
	} >"$file"
}

write_config() {
	write_config_to "$CONF" "$@"
}

# ------------------------------------------------------------------ smtpwall

# sw ARGS...: the CLI in the server namespace, with the per-run config.
sw() {
	timeout "${SW_TIMEOUT:-20}" nsenter --net="/run/netns/$NS_S" -- "$SMTPWALL" -c "$CONF" "$@"
}

# json_get JSON FILTER
json_get() {
	jq -r "$2" <<<"$1"
}

status_json() {
	sw status --json
}

# start_daemon [run args...]: background `smtpwall run`; waits (10 s at
# most) until status shows this daemon running and the interface attached.
start_daemon() {
	echo "=== $(date +%T.%N) run $*" >>"$DAEMON_LOG"
	nsenter --net="/run/netns/$NS_S" -- "$SMTPWALL" -c "$CONF" run "$@" >>"$DAEMON_LOG" 2>&1 &
	DAEMON_PID=$!
	await_daemon "$IF_S" || return 1
	events_follow "$NS_S" "$TMPD/events.jsonl"
}

# stop_daemon: SIGTERM (enforcement stays attached), SIGKILL after 10 s.
stop_daemon() {
	[ -n "$DAEMON_PID" ] || return 0
	_kill_wait "$DAEMON_PID" TERM 10
	DAEMON_PID=""
}

kill9_daemon() {
	[ -n "$DAEMON_PID" ] || return 0
	kill -KILL "$DAEMON_PID" 2>/dev/null || true
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=""
}

daemon_alive() {
	_proc_alive "$DAEMON_PID"
}

# check_native: the program is attached to the server veth in native mode.
check_native() {
	local st

	st=$(status_json 2>&1) || st="status failed: $st"
	check_jq "XDP attached to $IF_S in native mode" "$st" \
		'any(.attached[]; .ifname == $i and .mode == "native")' --arg i "$IF_S"
}

# ------------------------------------------------------------------ clients

_server_of() {
	case $1 in
	*:*) echo "$SRV6" ;;
	*) echo "$SRV4" ;;
	esac
}

# conn FROM [connect args...]: prints "connected=X failed=Y held_ok=Z".
conn() {
	local from=$1

	shift
	timeout 60 nsenter --net="/run/netns/$NS_C" -- "$TCPCONN" connect \
		--to "$(_server_of "$from")" --port "$SMTP_PORT" --from "$from" "$@"
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

# expect_conn DESC FROM COUNT WANT_CONNECTED [connect args...]: COUNT
# sequential attempts (700 ms each at most) of which exactly WANT succeed.
expect_conn() {
	local desc=$1 from=$2 count=$3 want=$4 out

	shift 4
	out=$(conn "$from" --count "$count" --timeout-ms 700 "$@" 2>&1) || true
	if [ "$(kv "$out" connected)" = "$want" ] &&
	   [ "$(kv "$out" failed)" = "$((count - want))" ]; then
		tap_ok "$desc"
	else
		tap_fail "$desc" "from $from, $count attempts: want connected=$want failed=$((count - want))"$'\n'"got: $out"
	fi
}

# start_hold NAME FROM COUNT: background `tcpconn hold` released by
# $SIGNAL_FILE; waits (10 s at most) for its connected= line.
start_hold() {
	local name=$1 from=$2 count=$3 out=$TMPD/hold-$1.out i pid

	nsenter --net="/run/netns/$NS_C" -- "$TCPCONN" hold --to "$(_server_of "$from")" --port "$SMTP_PORT" \
		--from "$from" --count "$count" --signal-file "$SIGNAL_FILE" \
		--timeout-ms 700 --max-seconds 120 >"$out" 2>"$TMPD/hold-$name.err" &
	pid=$!
	BG_PIDS+=("$pid")
	eval "HOLD_PID_$name=$pid"
	for ((i = 0; i < 200; i++)); do
		grep -q '^connected=' "$out" 2>/dev/null && return 0
		_proc_alive "$pid" || break
		sleep 0.05
	done
	echo "hold $name: no connected= line: $(cat "$out" "$TMPD/hold-$name.err")" >&2
	return 1
}

# hold_output NAME: what the holder printed so far.
hold_output() {
	cat "$TMPD/hold-$1.out" 2>/dev/null || true
}

# release_holds NAME...: create the signal file, wait (10 s) for alive= lines.
release_holds() {
	local name i pid

	touch "$SIGNAL_FILE"
	for name in "$@"; do
		pid=$(eval "echo \${HOLD_PID_$name:-}")
		for ((i = 0; i < 200; i++)); do
			grep -q '^alive=' "$TMPD/hold-$name.out" 2>/dev/null && break
			_proc_alive "$pid" || break
			sleep 0.05
		done
		wait "$pid" 2>/dev/null || true
	done
	rm -f "$SIGNAL_FILE"
}

# wait_for TIMEOUT_S CMD...: poll CMD every 100 ms until it succeeds.
wait_for() {
	local limit=$1 i

	shift
	for ((i = 0; i < limit * 10; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# One round trip through both families before any test, so that ARP and
# neighbour discovery are done and a failed connect means a dropped SYN.
warm_up() {
	local out4 out6

	out4=$(conn "$(c4 9)" --count 1 --timeout-ms 2000 2>&1) || true
	out6=$(conn "$(c6 9)" --count 1 --timeout-ms 2000 2>&1) || true
	if [ "$(kv "$out4" connected)" != 1 ] || [ "$(kv "$out6" connected)" != 1 ]; then
		echo "warm-up connects failed: v4: $out4; v6: $out6" >&2
		return 1
	fi
}

# e2e_setup: topology, test server and a warmed-up path; bails on failure.
e2e_setup() {
	local err=$TMPD/setup.err

	if ! setup_topology 2>"$err"; then
		bail "create the test topology" "$(cat "$err")"
	fi
	if ! start_server 2>"$err"; then
		bail "start the test server" "$(cat "$err")"
	fi
	if ! warm_up 2>"$err"; then
		bail "connect through the test topology without smtpwall" "$(cat "$err")"
	fi
}

# must_start_daemon [run args...]: start_daemon, or bail out of the script.
must_start_daemon() {
	local err=$TMPD/start.err

	if ! start_daemon "$@" 2>"$err"; then
		bail "start the daemon (run $*)" "$(cat "$err")"
	fi
}

# swj ARGS...: the CLI's output (stdout and stderr), never failing: for
# check_jq, which shows the text when it is not the JSON expected.
swj() {
	sw "$@" 2>&1 || true
}

