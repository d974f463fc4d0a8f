#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench, the policy service: Postfix policy requests (build/tools/
# policyload) answered by smtpwall's policy service, on its unix socket and
# on loopback TCP, and by postfwd (postfwd2, Debian's package) on loopback
# TCP, each doing one thing: a per-account send limit, counted on every
# request. First smtpwall's latency at 100 clients offered RATE requests/s
# (default 20,000) between them; then 1, 10 and 100 clients (reused
# connections, one request in flight on each, as smtpd does), a warm-up
# second then -d seconds each, each client sending again as soon as it is
# answered (the most a server answers; its latency is then clients /
# req/s); then 10 clients with the limit exceeded, every answer a 4xx
# (from smtpwall and from postfwd: a comparison target that answers
# nothing is no target). A table: target, clients, req/s, p50, p90 and p99
# latency in µs, the send lag of the paced runs, errors, policyload's CPU
# and the answers by kind.
#
#   tests/bench/bench_policy.sh [-d SECONDS] [-w WARMUP] [-c "1 10 100"] [-r RATE] [-p]
#
# -p pins the servers (smtpwall, postfwd and its children) to the last CPU
# and the load generator to the first, so that on a two-CPU machine the
# two do not take turns on one core (what a policy server beside a busy
# smtpd would not have to do either). Without -p the scheduler places them.
#
# postfwd: rate(sasl_username/LIMIT/3600/450 ...) for any sasl_username,
# started as a daemon of its own (pid file, cache socket, rules and a free
# loopback port under a temporary directory, user nobody), stopped by its
# pid. --perfmon: no logging (there may be no syslog; with logging it is
# slower). A missing postfwd is skipped with a word.
#
# smtpwall: `smtpwall -c CONF run` in a network namespace of its own
# (a veth pair to attach to; the policy's TCP listener is in there, so the
# TCP runs enter it), pins under /sys/fs/bpf/smtpwall-bench-<pid>, state in
# the temporary directory; [accounts] messages_per_hour = 100000 and every
# other send limit off, so that it counts what postfwd counts (the other
# account policies keep their defaults; without a geo database they find
# nothing). The limit-exceeded run reloads it (SIGHUP) with
# messages_per_hour = 10. A build without the policy service is skipped
# ("smtpwall policy service: not built yet"); smtpwall needs root.
#
# Everything started is stopped, and the namespace, pins and files
# removed, on exit, failure or signal. Exit: 0 every run clean (or
# skipped), 1 a run had errors or a server did not start, 2 usage.

set -euo pipefail

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SMTPWALL=${SMTPWALL:-$ROOT_DIR/build/smtpwall}
POLICYLOAD=${POLICYLOAD:-$ROOT_DIR/build/tools/policyload}
POSTFWD=${POSTFWD:-$(command -v postfwd2 || command -v postfwd || true)}
DURATION=3
WARMUP=1
CLIENTS="1 10 100"
RATE=20000		# offered requests/s of the latency runs (-r)
LIMIT_HIGH=100000	# per account and hour: never reached here
LIMIT_LOW=10		# reached by every account within the warm-up
ACCOUNTS=100
SOURCES=100

usage() {
	echo "usage: $0 [-d SECONDS] [-w WARMUP_SECONDS] [-c \"CLIENTS...\"] [-r RATE] [-p]" >&2
	exit 2
}
PIN=0
while getopts "d:w:c:r:ph" opt; do
	case $opt in
	p) PIN=1 ;;
	d) DURATION=$OPTARG ;;
	w) WARMUP=$OPTARG ;;
	c) CLIENTS=$OPTARG ;;
	r) RATE=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage
[[ $DURATION =~ ^[1-9][0-9]*$ && $RATE =~ ^[1-9][0-9]*$ && $WARMUP =~ ^[0-9]+$ && $CLIENTS =~ ^[0-9\ ]+$ ]] || usage

# SRV and GEN: the command prefixes that place the servers and the load generator.
SRV=()
GEN=()
if [ "$PIN" = 1 ]; then
	command -v taskset >/dev/null || { echo "bench_policy: -p needs taskset (util-linux)" >&2; exit 2; }
	ncpu=$(nproc)
	if [ "$ncpu" -ge 2 ]; then
		SRV=(taskset -c "$((ncpu - 1))")
		GEN=(taskset -c 0)
	fi
fi

T0=$SECONDS
TMPD=$(mktemp -d /tmp/smtpwall-bench-policy.XXXXXX)
# postfwd runs as nobody and reads its rules from below here.
chmod 755 "$TMPD"
RESULTS=$TMPD/results.jsonl
FAILED=0
PF_PIDS=()
SW_PID=""
NS=""
BPFFS_DIR=""
SW_CONF=$TMPD/smtpwall.conf

log() { printf 'bench_policy: %s\n' "$*" >&2; }

_alive() {
	local state

	[ -n "${1:-}" ] || return 1
	state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# stop_pid PID SECONDS [GROUP]: SIGTERM, wait, SIGKILL (the process group
# too when GROUP is set: postfwd's master is its session leader).
stop_pid() {
	local pid=$1 i pgid=""

	# The group is looked up first: once its leader is gone it has no name.
	[ -n "${3:-}" ] && pgid=$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < $2 * 20; i++)); do
		_alive "$pid" || break
		sleep 0.05
	done
	if _alive "$pid"; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
	if [ -n "$pgid" ] && [ "$pgid" = "$pid" ]; then
		kill -KILL -- "-$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$? pid

	trap - EXIT INT TERM
	set +e
	for pid in "${PF_PIDS[@]}"; do
		stop_pid "$pid" 5 group
	done
	if [ -n "$SW_PID" ]; then
		stop_pid "$SW_PID" 10
		# what the once-a-second save cost the loop and its writer thread
		grep -o 'counts saved in .*' "$TMPD/smtpwall.log" 2>/dev/null | sed 's/^/bench_policy: smtpwall /' >&2
	fi
	if [ -n "$NS" ]; then
		if [ -f "$SW_CONF" ] && [ -x "$SMTPWALL" ]; then
			timeout 10 nsenter --net="/run/netns/$NS" -- "$SMTPWALL" -c "$SW_CONF" detach \
				>>"$TMPD/detach.log" 2>&1
		fi
		ip netns del "$NS" 2>/dev/null
	fi
	[ -n "$BPFFS_DIR" ] && rm -rf "$BPFFS_DIR"
	rm -rf "$TMPD"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ ! -x "$POLICYLOAD" ]; then
	log "$POLICYLOAD is missing: make build/tools/policyload"
	exit 1
fi
for tool in jq ss awk; do
	command -v "$tool" >/dev/null || { log "$tool is missing: scripts/install-deps.sh"; exit 1; }
done

# A loopback TCP port nothing listens on (in this namespace).
free_port() {
	local p i

	for ((i = 0; i < 100; i++)); do
		p=$((20000 + RANDOM % 40000))
		if [ -z "$(ss -Htln "sport = :$p")" ]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# ---------------------------------------------------------------- postfwd

PF_RULE="id=LIMIT; sasl_username=~.; action=rate(sasl_username/%s/3600/450 4.7.1 sending limit exceeded)"
PF_VERSION=""

# start_postfwd NAME LIMIT: sets PF_STARTED_PORT to the port it listens on
# and adds its master's pid to PF_PIDS (not in a subshell: the pid must
# reach cleanup, or the daemon outlives the bench).
start_postfwd() {
	local name=$1 dir=$TMPD/postfwd-$1 port user group pid i

	mkdir -p "$dir"
	# shellcheck disable=SC2059
	printf "$PF_RULE\n" "$2" >"$dir/rules.cf"
	chmod 644 "$dir/rules.cf"
	# A rule postfwd cannot read is no rule: it would answer DUNNO to all.
	if ! [[ $("$POSTFWD" -f "$dir/rules.cf" -C 2>&1) == *'action->"rate('* ]]; then
		log "postfwd does not parse $(cat "$dir/rules.cf")"
		return 1
	fi
	if [ "$(id -u)" -eq 0 ]; then
		user=nobody
		group=$(id -gn nobody 2>/dev/null || echo nogroup)
	else
		user=$(id -un)
		group=$(id -gn)
	fi
	chown "$user:$group" "$dir"
	port=$(free_port) || { log "no free loopback port"; return 1; }
	# It daemonizes (chdir /: every path absolute) and writes its pid file.
	"${SRV[@]}" "$POSTFWD" --daemon -f "$dir/rules.cf" --interface 127.0.0.1 --port "$port" \
		--pidfile "$dir/master.pid" --cache_socket "unix::$dir/cache.sock" \
		--user "$user" --group "$group" --perfmon >"$dir/out.log" 2>&1 || {
		log "postfwd $name did not start: $(cat "$dir/out.log")"
		return 1
	}
	for ((i = 0; i < 100; i++)); do
		pid=$(cat "$dir/master.pid" 2>/dev/null || true)
		if [ -n "$pid" ] && [ -n "$(ss -Htln "sport = :$port")" ]; then
			PF_PIDS+=("$pid")
			PF_STARTED_PORT=$port
			return 0
		fi
		sleep 0.1
	done
	[ -n "$pid" ] && PF_PIDS+=("$pid")
	log "postfwd $name not listening on 127.0.0.1:$port after 10 s: $(cat "$dir/out.log")"
	return 1
}

# ---------------------------------------------------------------- smtpwall

write_smtpwall_conf() {
	cat >"$SW_CONF" <<-EOF
	# bench_policy.sh, run $$
	[general]
	interfaces = ${NS}a
	bpffs_dir = $BPFFS_DIR
	state_dir = $TMPD/state
	[policy]
	enabled = yes
	socket = $TMPD/policy.sock
	socket_group = root
	tcp = 127.0.0.1:$SW_PORT
	[accounts]
	messages_per_minute = 0
	messages_per_hour = $1
	messages_per_day = 0
	recipients_per_minute = 0
	recipients_per_hour = 0
	recipients_per_day = 0
	EOF
}

in_ns() { nsenter --net="/run/netns/$NS" -- "$@"; }

# start_smtpwall: 0 running, 1 failed, 3 built without the policy service.
start_smtpwall() {
	local i

	NS=swpb$$
	BPFFS_DIR=/sys/fs/bpf/smtpwall-bench-$$
	SW_PORT=10040
	ip netns add "$NS" &&
		ip -n "$NS" link add "${NS}a" type veth peer name "${NS}b" &&
		ip -n "$NS" link set lo up &&
		ip -n "$NS" link set "${NS}a" up &&
		ip -n "$NS" link set "${NS}b" up || { log "cannot create namespace $NS"; return 1; }
	write_smtpwall_conf "$LIMIT_HIGH"
	# nsenter execs smtpwall: $! is the daemon's pid (SIGHUP, SIGTERM).
	"${SRV[@]}" nsenter --net="/run/netns/$NS" -- "$SMTPWALL" -c "$SW_CONF" run >"$TMPD/smtpwall.log" 2>&1 &
	SW_PID=$!
	for ((i = 0; i < 100; i++)); do
		if ! _alive "$SW_PID"; then
			wait "$SW_PID" 2>/dev/null || true
			SW_PID=""
			if grep -qiE 'policy.*(unknown|not a section|no such)|(unknown|not a section).*policy' \
				"$TMPD/smtpwall.log"; then
				return 3
			fi
			log "smtpwall exited during start-up:"
			tail -n 15 "$TMPD/smtpwall.log" >&2
			return 1
		fi
		if [ -S "$TMPD/policy.sock" ] && [ -n "$(in_ns ss -Htln "sport = :$SW_PORT")" ]; then
			return 0
		fi
		sleep 0.1
	done
	if ! grep -qi 'policy' "$TMPD/smtpwall.log"; then
		return 3
	fi
	log "smtpwall policy service not listening after 10 s:"
	tail -n 15 "$TMPD/smtpwall.log" >&2
	return 1
}

# reload_smtpwall LIMIT: SIGHUP with a new hourly limit; waits (5 s) until
# an account over it is refused.
reload_smtpwall() {
	local i out

	write_smtpwall_conf "$1"
	kill -HUP "$SW_PID"
	for ((i = 0; i < 50; i++)); do
		out=$("$POLICYLOAD" --unix "$TMPD/policy.sock" -n 1 --json --allow-errors 2>/dev/null) || true
		[ "$(jq -r '.actions["4xx"] // 0' <<<"$out" 2>/dev/null)" = 1 ] && return 0
		sleep 0.1
	done
	log "smtpwall reloaded with messages_per_hour = $1 still accepts: $out"
	return 1
}

# ---------------------------------------------------------------- runs

# load LABEL CLIENTS [ns] ARGS...: one policyload run, its JSON kept.
load() {
	local label=$1 clients=$2 out err rc=0
	local -a pre=()

	shift 2
	if [ "$1" = ns ]; then
		pre=(nsenter --net="/run/netns/$NS" --)
		shift
	fi
	err=$TMPD/load.err
	out=$("${GEN[@]}" "${pre[@]}" "$POLICYLOAD" "$@" -c "$clients" -d "$DURATION" --warmup "$WARMUP" \
		--accounts "$ACCOUNTS" --sources "$SOURCES" --json --allow-errors 2>"$err") || rc=$?
	if [ "$rc" -ne 0 ] || ! jq -e . >/dev/null 2>&1 <<<"$out"; then
		log "$label, $clients clients: policyload failed (exit $rc): $(cat "$err")"
		FAILED=1
		return 0
	fi
	if [ "$(jq -r .errors <<<"$out")" != 0 ]; then
		log "$label, $clients clients: $(jq -c .errors_by_kind <<<"$out"): $(cat "$err")"
		FAILED=1
	fi
	jq -c --arg name "$label" '. + {"label": $name}' <<<"$out" >>"$RESULTS"
}

# lag p99: how late the 99th percentile request of a --rate run was sent
# (0: the server kept up with the rate offered).
table() {
	printf '\n%-26s %7s %9s %8s %8s %8s %8s %6s %8s  %s\n' target clients "req/s" "p50 µs" \
		"p90 µs" "p99 µs" "lag p99" errors "load cpu" answers
	jq -r '. as $r | [.label, .connections, (.rps | floor),
		.latency_us.p50, .latency_us.p90, .latency_us.p99,
		(if .rate > 0 then .lag_us.p99 else "-" end), .errors,
		((if .elapsed_s > 0 then 100 * .client_cpu_s / .elapsed_s else 0 end | floor | tostring) + "%"),
		([.actions | to_entries[] | select(.value > 0) |
		  "\(.key) \(.value * 1000 / $r.requests | floor / 10)%"] | join(" "))]
		| @tsv' "$RESULTS" |
		awk -F'\t' '{ printf "%-26s %7s %9s %8s %8s %8s %8s %6s %8s  %s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 }'
}

echo "bench_policy: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, kernel $(uname -r)," \
	"smtpwall $(git -C "$ROOT_DIR" rev-parse --short HEAD 2>/dev/null || echo '?');" \
	"${DURATION} s per run after ${WARMUP} s of warm-up, $ACCOUNTS accounts, $SOURCES sources," \
	"${SRV[*]:+servers on CPU ${SRV[2]}, load on CPU ${GEN[2]},}" \
	"protocol_state=RCPT"

PF_PORT="" PF_LOW_PORT=""
if [ -z "$POSTFWD" ] || [ ! -x "$POSTFWD" ]; then
	echo "postfwd: not installed (apt-get install postfwd, or scripts/install-deps.sh): skipped"
else
	PF_VERSION=$("$POSTFWD" --version 2>&1 | head -n 1 || true)
	echo "postfwd: $PF_VERSION"
	# shellcheck disable=SC2059
	echo "postfwd rule: $(printf "$PF_RULE" "$LIMIT_HIGH"); limit exceeded: $LIMIT_LOW"
	# Both now: the second starts its children while the first is measured.
	PF_STARTED_PORT=""
	if start_postfwd high "$LIMIT_HIGH"; then PF_PORT=$PF_STARTED_PORT; else FAILED=1; fi
	PF_STARTED_PORT=""
	if start_postfwd low "$LIMIT_LOW"; then PF_LOW_PORT=$PF_STARTED_PORT; else FAILED=1; fi
fi

SW_UP=0
if [ "$(id -u)" -ne 0 ]; then
	echo "smtpwall: needs root (network namespace, XDP, bpffs): skipped"
elif [ ! -x "$SMTPWALL" ]; then
	echo "smtpwall policy service: not built yet ($SMTPWALL is missing)"
else
	rc=0
	start_smtpwall || rc=$?
	case $rc in
	0) SW_UP=1
	   echo "smtpwall: [accounts] messages_per_hour = $LIMIT_HIGH, other send limits 0 (off);" \
		"limit exceeded: $LIMIT_LOW" ;;
	3) echo "smtpwall policy service: not built yet" ;;
	*) FAILED=1 ;;
	esac
fi

# The latency target: RATE requests/s offered by 100 clients, not as many
# as answered (then the latency is only 100 / req/s, Little's law). First,
# on a quiet machine: postfwd's pre-forking server grows to a child per
# client in its 100-client run and retires them over the next 10-20 s, and
# a run measured while it does measures postfwd's clean-up (p99 1.4-3.2 ms
# after it, 0.2-0.5 ms without, 2026-12-07).
if [ "$SW_UP" -eq 1 ]; then
	load "smtpwall unix @ $RATE/s" 100 --unix "$TMPD/policy.sock" --rate "$RATE"
	load "smtpwall tcp @ $RATE/s" 100 ns --tcp "127.0.0.1:$SW_PORT" --rate "$RATE"
fi
for c in $CLIENTS; do
	if [ "$SW_UP" -eq 1 ]; then
		load "smtpwall unix" "$c" --unix "$TMPD/policy.sock"
		load "smtpwall tcp" "$c" ns --tcp "127.0.0.1:$SW_PORT"
	fi
	[ -n "$PF_PORT" ] && load "postfwd tcp" "$c" --tcp "127.0.0.1:$PF_PORT"
done
if [ "$SW_UP" -eq 1 ]; then
	if reload_smtpwall "$LIMIT_LOW"; then
		load "smtpwall unix, limit hit" 10 --unix "$TMPD/policy.sock"
	else
		FAILED=1
	fi
fi
[ -n "$PF_LOW_PORT" ] && load "postfwd tcp, limit hit" 10 --tcp "127.0.0.1:$PF_LOW_PORT"

if [ -s "$RESULTS" ]; then
	table
fi
echo "bench_policy: $((SECONDS - T0)) s"
exit "$FAILED"
