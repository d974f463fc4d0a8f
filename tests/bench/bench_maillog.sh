#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench, the mail-log follower beside fail2ban: in one lab run (the
# lab of scripts/lab.sh, real Postfix writing its maillog_file), smtpwall's
# follower and a private fail2ban (its postfix-sasl jail, filter
# postfix[mode=auth], nftables ban action in the server's namespace) read
# the same log; failure lines in Postfix's exact format are appended to it
# (tests/bench/maillog_compare.sh says how and from where). Three figures
# for each tool:
#
#   1. time to drop: from the write of a source's fifth failure line to its
#      drop (smtpwall: a SYN of the source gets no answer, dropped at the
#      NIC; fail2ban: the address in its nftables set), -k sources one
#      after the other, median and worst;
#   2. bans per second: -n sources (default 1,000, each its own IPv6 /64)
#      with five failures each, written at once, round robin; the time
#      until every one is banned (smtpwall: the source of the last line
#      dropped at the NIC, then every source probed; fail2ban: its sets'
#      size, polled every 200 ms), and when each tool's own log (to the
#      millisecond) says it gave the last ban;
#   3. a restart of each tool: the bans before, while it is down and after,
#      and the time from its start until all are back.
#
#   tests/bench/bench_maillog.sh [-n SOURCES] [-k SAMPLES] [-t F2B_TIMEOUT_S]
#
# FAIL2BAN=PATH: the fail2ban-server to run (default: the one in PATH).
#
# Output: TAP (what must hold: smtpwall drops within a second, bans every
# source, loses nothing across its restart; fail2ban, when installed, bans
# every source too, and smtpwall is at least 10 x faster to drop), then a
# table. fail2ban missing (scripts/install-deps.sh installs it): its half is
# reported as skipped, not failed. tests/e2e/test_lab_fail2ban.sh runs it
# small (-n 40 -k 5). Lab, daemons and namespaces are removed on exit,
# failure or signal (the lab harness, tests/e2e/lab.sh).

set -euo pipefail

SOURCES=1000
SAMPLES=5
F2B_TIMEOUT=300
usage() {
	echo "usage: $0 [-n SOURCES] [-k SAMPLES] [-t F2B_TIMEOUT_S]" >&2
	exit 2
}
while getopts "n:k:t:h" opt; do
	case $opt in
	n) SOURCES=$OPTARG ;;
	k) SAMPLES=$OPTARG ;;
	t) F2B_TIMEOUT=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage
[[ $SOURCES =~ ^[1-9][0-9]*$ && $SOURCES -le 4000 && $SAMPLES =~ ^[1-9][0-9]?$ &&
   $F2B_TIMEOUT =~ ^[1-9][0-9]*$ ]] || usage

LAB_ATTACKERS=$((SAMPLES < 10 ? 10 : SAMPLES))
export LAB_ATTACKERS
. "$(dirname "${BASH_SOURCE[0]}")/../e2e/lab.sh"
. "$LABT_ROOT/tests/bench/maillog_compare.sh"

labt_setup
mc_bulk_addrs "$SOURCES" || bail "add $SOURCES addresses to the attackers' namespace"
LAT_ADDRS=()
for ((i = 0; i < SAMPLES; i++)); do LAT_ADDRS+=("$LAB_NET.$((100 + i))"); done
note "lab $LAB_ID: $SOURCES bulk sources ${MC_BULK[0]} .. ${MC_BULK[SOURCES - 1]}, latency from ${LAT_ADDRS[*]}"

mc_sw_config "$CONF"
if ! start_daemon 2>"$LAB_DIR/daemon.err"; then
	bail "start the daemon on $LAB_IF_SRV" "$(cat "$LAB_DIR/daemon.err")"
fi
F2B=0
if mc_f2b_available; then
	mc_f2b_setup || bail "write fail2ban's configuration"
	mc_f2b_start 2>"$LAB_DIR/f2b.err" || bail "start fail2ban" "$(cat "$LAB_DIR/f2b.err")"
	F2B=1
	note "fail2ban $("$FAIL2BAN" -V 2>/dev/null | head -n 1) backend $(mc_f2b_backend), jail $MC_F2B_JAIL, nftables in netns $LAB_NS_SRV"
else
	tap_skip "fail2ban: ${FAIL2BAN:-fail2ban-server} (or nft) is not installed (scripts/install-deps.sh): the comparison is skipped"
fi

# Every source gets kernel state (as a source that reached Postfix has).
r=$(mc_probe_count "${LAT_ADDRS[@]}" 2>&1; mc_probe_count "$LAB_DIR/bulk.addrs" 2>&1)
want="refused=$SAMPLES dropped=0 other=0"$'\n'"refused=$SOURCES dropped=0 other=0"
tap_is "before: every source's SYN reaches the server (refused by its stack, port $MC_PROBE_PORT)" "$r" "$want"

# --- 1. time to drop, one source at a time
SW_LAT=() F2B_LAT=()
for a in "${LAT_ADDRS[@]}"; do
	r=$(mc_latency "$a")
	SW_LAT+=("$(kv "$r" sw_ms)")
	F2B_LAT+=("$(kv "$r" f2b_ms)")
	note "time to drop, $a: smtpwall $(kv "$r" sw_ms) ms, fail2ban $(kv "$r" f2b_ms) ms"
done
sw_med=$(mc_median "${SW_LAT[@]}")
sw_max=$(printf '%s\n' "${SW_LAT[@]}" | sort -g | tail -n 1)
sw_min=$(printf '%s\n' "${SW_LAT[@]}" | sort -g | head -n 1)
tap_check "smtpwall drops every source at the NIC within 1 s of its fifth failure line (worst ${sw_max} ms)" \
	"${SW_LAT[*]}" awk -v lo="$sw_min" -v hi="$sw_max" 'BEGIN { exit !(lo >= 0 && hi < 1000) }'
if [ "$F2B" = 1 ]; then
	f2b_med=$(mc_median "${F2B_LAT[@]}")
	f2b_max=$(printf '%s\n' "${F2B_LAT[@]}" | sort -g | tail -n 1)
	f2b_min=$(printf '%s\n' "${F2B_LAT[@]}" | sort -g | head -n 1)
	tap_check "fail2ban bans every source too (median ${f2b_med} ms)" "${F2B_LAT[*]}" \
		awk -v lo="$f2b_min" 'BEGIN { exit !(lo >= 0) }'
	lat_ratio=$(awk -v a="$f2b_med" -v b="$sw_med" 'BEGIN { printf "%.0f", (b > 0.1 ? a / b : a / 0.1) }')
	tap_check "smtpwall is at least 10 x faster to drop than fail2ban (medians: ${sw_med} vs ${f2b_med} ms, ${lat_ratio} x)" \
		"$lat_ratio" test "$lat_ratio" -ge 10
fi

# --- 2. bans per second, SOURCES sources at once
mc_bulk_lines "$LAB_DIR/bulk.lines"
sw_wait=$LAB_DIR/bulk.sw f2b_wait=$LAB_DIR/bulk.f2b
# smtpwall reads the lines in order: when the source of the last line is
# dropped at the NIC, every one before it was judged (all are probed after).
lab_in_attacker "$MC_PROBE" until-dropped --to "$LAB_SRV6" --port "$MC_PROBE_PORT" \
	--from "${MC_BULK[SOURCES - 1]}" --timeout-ms 20 --max-s 60 >"$sw_wait" 2>&1 &
pid_sw=$!
LABT_PIDS+=("$pid_sw")
pid_f2b=""
if [ "$F2B" = 1 ]; then
	(mc_wait_until mc_f2b_count "$((SOURCES + SAMPLES))" "$F2B_TIMEOUT" 0.2 >"$f2b_wait") &
	pid_f2b=$!
	LABT_PIDS+=("$pid_f2b")
fi
sleep 0.3	# the probes are running
t0=$(mc_now_ns)
cat "$LAB_DIR/bulk.lines" >>"$LAB_MAILLOG"
sw_bulk_ms=-1
if wait "$pid_sw"; then
	sw_bulk_ms=$(mc_ms_since "$t0" "$(sed -n 's/^dropped_at_ns=\([0-9]*\).*/\1/p' "$sw_wait")")
fi
r=$(mc_probe_count "$LAB_DIR/bulk.addrs" 2>&1)
tap_is "smtpwall: all $SOURCES sources penalised (${sw_bulk_ms} ms) and dropped at the NIC" "$r" \
	"refused=0 dropped=$SOURCES other=0"
sw_bps=$(awk -v n="$SOURCES" -v ms="$sw_bulk_ms" 'BEGIN { printf "%.0f", (ms > 0 ? n * 1000 / ms : n * 1000) }')
[ "$sw_bulk_ms" -ge 0 ] || sw_bps=0
f2b_bulk_ms=skip f2b_bps=skip
if [ -n "$pid_f2b" ]; then
	wait "$pid_f2b" || true
	f2b_bulk_ms=$(mc_ms_since "$t0" "$(cat "$f2b_wait")")
	tap_check "fail2ban: all $SOURCES sources banned (${f2b_bulk_ms} ms, $(mc_f2b_count) in its sets)" \
		"$f2b_bulk_ms" test "$f2b_bulk_ms" -ge 0
	f2b_bps=$(awk -v n="$SOURCES" -v ms="$f2b_bulk_ms" 'BEGIN { printf "%.1f", (ms > 0 ? n * 1000 / ms : 0) }')
fi
# The tools' own logs, to the millisecond: when the last ban was given.
bulk_re="$LAB_NET6:1[0-9a-f]{3}:"
sw_log_ms=$(mc_ms_since "$t0" "$(mc_sw_log_last_ns "penalty: $bulk_re:/64 dropped")")
f2b_log_ms=skip
[ "$F2B" = 1 ] && f2b_log_ms=$(mc_ms_since "$t0" "$(mc_f2b_log_last_ns "\\] Ban $bulk_re")")
note "the last ban in each tool's own log: smtpwall $sw_log_ms ms, fail2ban $f2b_log_ms ms after the write"
note "bans per second: smtpwall $sw_bps ($SOURCES in $sw_bulk_ms ms), fail2ban $f2b_bps ($SOURCES in $f2b_bulk_ms ms)"

# --- 3. restarts
TOTAL=$((SOURCES + SAMPLES))
printf '%s\n' "${LAT_ADDRS[@]}" >"$LAB_DIR/all.addrs"
cat "$LAB_DIR/bulk.addrs" >>"$LAB_DIR/all.addrs"
dropped() { kv "$(mc_probe_count "$LAB_DIR/all.addrs" 2>&1)" dropped; }
sw_before=$(dropped)
t0=$(mc_now_ns)
stop_daemon_only() { _kill_wait "$DAEMON_PID" TERM 10; DAEMON_PID=""; }
stop_daemon_only
sw_stop_ms=$((($(mc_now_ns) - t0) / 1000000))
sw_down=$(dropped)
t0=$(mc_now_ns)
if ! start_daemon 2>"$LAB_DIR/daemon.err"; then
	bail "restart the daemon" "$(cat "$LAB_DIR/daemon.err")"
fi
sw_start_ms=$((($(mc_now_ns) - t0) / 1000000))
sw_after=$(dropped)
tap_is "smtpwall restart: sources dropped before, while it is down, after (of $TOTAL)" \
	"$sw_before $sw_down $sw_after" "$TOTAL $TOTAL $TOTAL"
note "smtpwall restart: stop $sw_stop_ms ms, start to running $sw_start_ms ms; dropped before/down/after: $sw_before/$sw_down/$sw_after"

f2b_before=skip f2b_down=skip f2b_after=skip f2b_restore_ms=skip f2b_stop_ms=skip
if [ "$F2B" = 1 ]; then
	f2b_before=$(mc_f2b_count)
	t0=$(mc_now_ns)
	mc_f2b_stop
	f2b_stop_ms=$((($(mc_now_ns) - t0) / 1000000))
	f2b_down=$(mc_f2b_count)
	t0=$(mc_now_ns)
	mc_f2b_start 2>"$LAB_DIR/f2b.err" || bail "restart fail2ban" "$(cat "$LAB_DIR/f2b.err")"
	f2b_restore_ms=$(mc_ms_since "$t0" "$(mc_wait_until mc_f2b_count "$f2b_before" "$F2B_TIMEOUT" 0.2)") || true
	f2b_after=$(mc_f2b_count)
	f2b_gap_ms=skip
	[ "$f2b_restore_ms" -lt 0 ] || f2b_gap_ms=$((f2b_stop_ms + f2b_restore_ms))
	tap_is "fail2ban restart: its bans are restored from its database (of $TOTAL)" "$f2b_before $f2b_after" \
		"$TOTAL $TOTAL"
	note "fail2ban restart: stop $f2b_stop_ms ms, bans before/down/after: $f2b_before/$f2b_down/$f2b_after, all back $f2b_restore_ms ms after its start"
fi

# --- the table
bans_ratio=skip
[ "$F2B" = 1 ] && bans_ratio=$(awk -v a="$sw_bps" -v b="$f2b_bps" 'BEGIN { printf "%.0f", (b > 0 ? a / b : 0) }')
note ""
note "mail-log bench $(date +%F), $SOURCES sources, $SAMPLES latency samples ($(nproc) CPUs, kernel $(uname -r))"
note "| figure | smtpwall | fail2ban | ratio |"
note "|---|---:|---:|---:|"
note "| time to drop, median (worst) ms | $sw_med ($sw_max) | ${f2b_med:-skip} (${f2b_max:-skip}) | ${lat_ratio:-skip} |"
note "| $SOURCES sources: all banned after ms | $sw_bulk_ms | $f2b_bulk_ms | |"
note "| $SOURCES sources: the last ban in the tool's log after ms | $sw_log_ms | $f2b_log_ms | |"
note "| bans per second | $sw_bps | $f2b_bps | $bans_ratio |"
note "| restart: bans before / while down / after | $sw_before / $sw_down / $sw_after | $f2b_before / $f2b_down / $f2b_after | |"
note "| restart: stop ms; all bans back after start ms | $sw_stop_ms; 0 (never lifted; running after $sw_start_ms) | $f2b_stop_ms; $f2b_restore_ms | |"
note "| restart: time without every ban in place ms | 0 | ${f2b_gap_ms:-skip} | |"
echo "result sw_drop_ms=$sw_med sw_drop_max_ms=$sw_max f2b_drop_ms=${f2b_med:-skip} drop_ratio=${lat_ratio:-skip}" \
	"sw_bans_s=$sw_bps f2b_bans_s=$f2b_bps bans_ratio=$bans_ratio sw_restart=$sw_before/$sw_down/$sw_after" \
	"f2b_restart=$f2b_before/$f2b_down/$f2b_after f2b_restore_ms=$f2b_restore_ms sw_log_ms=$sw_log_ms f2b_log_ms=$f2b_log_ms" | sed 's/^/# /'

tap_done
