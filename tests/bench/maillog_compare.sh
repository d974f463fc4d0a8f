# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# smtpwall's mail-log follower beside fail2ban (its postfix-sasl jail,
# filter postfix[mode=auth]) on the same Postfix log of one lab run:
# sourced by tests/bench/bench_maillog.sh (make bench, 1,000 sources) and
# tests/e2e/test_lab_fail2ban.sh (a smaller run with assertions), after
# tests/e2e/lab.sh (the lab harness: its cleanup stops what is started
# here by pid, then removes the lab).
#
# Both read $LAB_MAILLOG, both ban after 5 failures within 10 minutes for an
# hour. smtpwall runs as in production (`smtpwall run` in the server
# namespace, XDP on the server's veth); fail2ban is a private instance
# (config copied from /etc/fail2ban into $LAB_DIR/f2b with Debian's
# jail.d removed, its own socket, pid file, log and sqlite database there,
# `fail2ban-server -f` in the server namespace, so that its nftables
# action's table inet f2b-table lives and dies with that namespace: the
# host's firewall is never touched).
#
# The failure lines are Postfix 3.7's, as its postlogd writes them to
# maillog_file, appended to the log Postfix itself writes; the sources are
# in the lab's ranges: $LAB_NET.100.. (IPv4, the lab's attackers) and, for
# the bulk, one address in each of the /64s fd77:77:X:1000:: onwards
# (added to the attackers' namespace here). smtpwall penalises only a
# source it holds state for, as every source that reached Postfix is: each
# source first sends one SYN to a guarded port where nothing listens
# ($MC_PROBE_PORT), which also is how a drop is seen: refused (a reset from
# the server's stack) before, no answer after (dropped at the NIC).
# fail2ban's drop is its ban rule: the address in its nftables set (with
# smtpwall in front, a connection cannot tell what fail2ban does).

# FAIL2BAN: the fail2ban-server to compare with (fail2ban-client beside it).
FAIL2BAN=${FAIL2BAN:-$(command -v fail2ban-server || true)}
MC_F2B_CLIENT=$(dirname "${FAIL2BAN:-/nonexistent/x}")/fail2ban-client
MC_PROBE=$LABT_ROOT/tests/bench/srcprobe.py
MC_PROBE_PORT=2525
MC_F2B_DIR=$LAB_DIR/f2b
MC_F2B_PID=""
MC_F2B_JAIL=postfix-sasl
MC_BULK=()

# mc_f2b_available: fail2ban and nft are installed (else the comparison is skipped).
mc_f2b_available() {
	[ -n "$FAIL2BAN" ] && [ -x "$FAIL2BAN" ] && [ -x "$MC_F2B_CLIENT" ] &&
		command -v nft >/dev/null && [ -d /etc/fail2ban/filter.d ]
}

# mc_sw_config FILE: smtpwall for the comparison: the follower on the
# lab's log, 5 failures in 10 minutes, penalties of an hour; no per-source
# rate or session limit (the probes send many SYNs).
mc_sw_config() {
	cat >"$1" <<-EOF
	[general]
	interfaces = $LAB_IF_SRV
	bpffs_dir = $LAB_BPFFS
	state_dir = $LAB_DIR/state
	[limits]
	ports = 25, 465, 587, $MC_PROBE_PORT
	syn_rate = off
	max_sessions = 0
	[penalty]
	strikes = 0
	base = 1h
	[maillog]
	enabled = yes
	file = $LAB_MAILLOG
	auth_failures = 5
	auth_window = 10m
	EOF
}

# mc_f2b_setup: the private fail2ban's configuration.
mc_f2b_setup() {
	local d=$MC_F2B_DIR

	mkdir -p "$d" || return 1
	cp -a /etc/fail2ban "$d/etc" || return 1
	# Debian's jail.d enables sshd: only the one jail here.
	rm -rf "$d/etc/jail.d" "$d/etc/fail2ban.d" "$d/etc/jail.local" "$d/etc/fail2ban.local"
	mkdir -p "$d/etc/jail.d" "$d/etc/fail2ban.d" || return 1
	cat >"$d/etc/fail2ban.local" <<-EOF || return 1
	[Definition]
	loglevel = INFO
	logtarget = $d/fail2ban.log
	socket = $d/fail2ban.sock
	pidfile = $d/fail2ban.pid
	dbfile = $d/fail2ban.sqlite3
	EOF
	# backend auto: pyinotify where installed, else polling every second.
	cat >"$d/etc/jail.local" <<-EOF || return 1
	[DEFAULT]
	banaction = nftables[type=multiport]
	banaction_allports = nftables[type=allports]
	ignoreip = 127.0.0.1/8 ::1
	[$MC_F2B_JAIL]
	enabled = true
	filter = postfix[mode=auth]
	port = smtp,465,submission
	logpath = $LAB_MAILLOG
	backend = auto
	maxretry = 5
	findtime = 10m
	bantime = 1h
	EOF
}

mc_f2b_client() {
	timeout 10 "$MC_F2B_CLIENT" -c "$MC_F2B_DIR/etc" -s "$MC_F2B_DIR/fail2ban.sock" "$@"
}

# mc_f2b_start: fail2ban-server in the foreground (its pid is ours to
# stop) in the server namespace; waits (30 s) until its jail answers.
mc_f2b_start() {
	local i

	# nsenter execs fail2ban-server: $! is the server's pid.
	nsenter --net="/run/netns/$LAB_NS_SRV" -- "$FAIL2BAN" -c "$MC_F2B_DIR/etc" \
		-s "$MC_F2B_DIR/fail2ban.sock" -p "$MC_F2B_DIR/fail2ban.pid" -x -f \
		>>"$MC_F2B_DIR/server.out" 2>&1 &
	MC_F2B_PID=$!
	LABT_PIDS+=("$MC_F2B_PID")
	for ((i = 0; i < 300; i++)); do
		mc_f2b_client status "$MC_F2B_JAIL" >/dev/null 2>&1 && return 0
		_proc_alive "$MC_F2B_PID" || break
		sleep 0.1
	done
	echo "fail2ban did not start: $(tail -n 5 "$MC_F2B_DIR/server.out" "$MC_F2B_DIR/fail2ban.log" 2>&1)" >&2
	return 1
}

# mc_f2b_stop: SIGTERM (as systemd stops it: it removes its rules), wait for it.
mc_f2b_stop() {
	[ -n "$MC_F2B_PID" ] || return 0
	_kill_wait "$MC_F2B_PID" TERM 30
	MC_F2B_PID=""
}

# mc_f2b_backend: the backend the jail uses (pyinotify, polling, ..).
mc_f2b_backend() {
	sed -n "s/.*Jail '$MC_F2B_JAIL' uses \([a-z]*\).*/\1/p" "$MC_F2B_DIR/fail2ban.log" | tail -n 1
}

# mc_f2b_count: addresses in fail2ban's nftables sets (both families).
mc_f2b_count() {
	lab_in_server nft -j list table inet f2b-table 2>/dev/null |
		jq '[.nftables[] | .set? // empty | .elem // [] | length] | add // 0' 2>/dev/null || echo 0
}

# mc_f2b_banned ADDR: ADDR is in fail2ban's set, so its rule rejects it.
mc_f2b_banned() {
	local set=addr-set-$MC_F2B_JAIL

	[[ $1 == *:* ]] && set=addr6-set-$MC_F2B_JAIL
	lab_in_server nft get element inet f2b-table "$set" "{ $1 }" >/dev/null 2>&1
}

# mc_fail_line ADDR [PID]: a failed login as Postfix 3.7 logs it to maillog_file.
mc_fail_line() {
	printf '%s mx.lab.test postfix/submission/smtpd[%s]: warning: unknown[%s]: SASL PLAIN authentication failed: authentication failure\n' \
		"$(date '+%b %e %T')" "${2:-4242}" "$1"
}

# mc_bulk_addrs N: N attacking addresses, each in a /64 of its own
# (fd77:77:X:1000::1 ..), added to the attackers' namespace; in MC_BULK.
mc_bulk_addrs() {
	local n=$1 i

	MC_BULK=()
	for ((i = 0; i < n; i++)); do
		printf -v "MC_BULK[i]" '%s:%x::1' "$LAB_NET6" $((0x1000 + i))
	done
	printf 'addr add %s/48 dev '"$LAB_IF_ATK"' nodad\n' "${MC_BULK[@]}" | ip -n "$LAB_NS_ATK" -batch - || return 1
	printf '%s\n' "${MC_BULK[@]}" >"$LAB_DIR/bulk.addrs"
}

# mc_probe_count FILE|ADDR...: one SYN from each at once: "refused=N dropped=N other=N".
mc_probe_count() {
	local -a args=()

	if [ -f "${1:-}" ]; then args=(-f "$1"); else args=("$@"); fi
	lab_in_attacker "$MC_PROBE" count --to4 "$LAB_SRV" --to6 "$LAB_SRV6" --port "$MC_PROBE_PORT" \
		--timeout-ms 700 "${args[@]}"
}

# mc_now_ns: the wall clock in ns.
mc_now_ns() { date +%s%N; }

# mc_latency ADDR: 4 failures from ADDR (both tools read them), then the
# fifth; prints "sw_ms=X f2b_ms=Y" from the fifth line's write to the drop
# at the NIC (smtpwall: the first probe without an answer) and to the
# address in fail2ban's set ("-1": not within 10 s; "skip": no fail2ban).
mc_latency() {
	local a=$1 out=$LAB_DIR/latency.$1 t0 sw f2b i line pid_sw pid_f2b=""

	for i in 1 2 3 4; do mc_fail_line "$a" >>"$LAB_MAILLOG"; done
	sleep 1.5
	lab_in_attacker "$MC_PROBE" until-dropped --to "$LAB_SRV" --port "$MC_PROBE_PORT" --from "$a" \
		--timeout-ms 20 --max-s 10 >"$out.sw" 2>&1 &
	pid_sw=$!
	LABT_PIDS+=("$pid_sw")
	if [ -n "$MC_F2B_PID" ]; then
		(
			end=$(($(date +%s) + 10))
			while [ "$(date +%s)" -lt "$end" ]; do
				if mc_f2b_banned "$a"; then
					mc_now_ns
					exit 0
				fi
				sleep 0.005
			done
			exit 1
		) >"$out.f2b" 2>&1 &
		pid_f2b=$!
		LABT_PIDS+=("$pid_f2b")
	fi
	sleep 0.3	# the probes are running, fail2ban's poll too
	line=$(mc_fail_line "$a")
	t0=$(mc_now_ns)
	printf '%s\n' "$line" >>"$LAB_MAILLOG"
	sw=-1
	if wait "$pid_sw"; then
		sw=$(sed -n 's/^dropped_at_ns=\([0-9]*\).*/\1/p' "$out.sw")
		sw=$(awk -v a="$sw" -v b="$t0" 'BEGIN { d = (a - b) / 1e6; printf "%.1f", d < 0 ? 0 : d }')
	fi
	f2b=skip
	if [ -n "$pid_f2b" ]; then
		f2b=-1
		if wait "$pid_f2b"; then
			f2b=$(awk -v a="$(cat "$out.f2b")" -v b="$t0" 'BEGIN { printf "%.1f", (a - b) / 1e6 }')
		fi
	fi
	echo "sw_ms=$sw f2b_ms=$f2b"
}

# mc_median V...: the median (the lower middle) of numbers.
mc_median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : -1 }'
}

# mc_bulk_lines FILE: 5 failures from each MC_BULK address, round robin
# (every source's fifth failure in the last round), into FILE.
mc_bulk_lines() {
	local a ts

	ts=$(date '+%b %e %T')
	for _ in 1 2 3 4 5; do
		for a in "${MC_BULK[@]}"; do
			echo "$ts mx.lab.test postfix/submission/smtpd[4242]: warning: unknown[$a]: SASL PLAIN authentication failed: authentication failure"
		done
	done >"$1"
}


# mc_wait_until CMD WANT TIMEOUT_S INTERVAL_S: poll CMD until it prints at
# least WANT; prints the wall clock (ns) of then, or -1 after TIMEOUT_S.
mc_wait_until() {
	local cmd=$1 want=$2 limit=$3 step=$4 t0 n now

	t0=$(mc_now_ns)
	while :; do
		n=$($cmd)
		now=$(mc_now_ns)
		if [ "${n:-0}" -ge "$want" ]; then
			echo "$now"
			return 0
		fi
		if [ $(((now - t0) / 1000000000)) -ge "$limit" ]; then
			echo -1
			return 1
		fi
		sleep "$step"
	done
}

# mc_ms_since T0_NS [T_NS]: milliseconds from T0_NS to T_NS (now); -1 if T_NS is -1.
mc_ms_since() {
	local t=${2:-$(mc_now_ns)}

	[ "$t" = -1 ] && { echo -1; return 0; }
	echo $(((t - $1) / 1000000))
}

# mc_sw_log_last_ns PATTERN: the time (ns) of the daemon log's last line
# matching PATTERN (its own millisecond stamp, UTC), or -1.
mc_sw_log_last_ns() {
	local ts

	ts=$(grep -E "$1" "$DAEMON_LOG" | tail -n 1 | cut -d' ' -f1)
	[ -n "$ts" ] && date -d "$ts" +%s%N || echo -1
}

# mc_f2b_log_last_ns PATTERN: the same from fail2ban's log (local time, "Y-m-d H:M:S,ms").
mc_f2b_log_last_ns() {
	local ts

	ts=$(grep -E "$1" "$MC_F2B_DIR/fail2ban.log" | tail -n 1 | cut -d' ' -f1,2)
	[ -n "$ts" ] && date -d "${ts/,/.}" +%s%N || echo -1
}
