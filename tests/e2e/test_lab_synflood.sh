#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A SYN flood from random spoofed sources against a real Postfix, while a
# legitimate client keeps sending (a transaction every 500 ms).
#
# hping3 in the attacker namespace sends SYNs to port 25 as fast as it can,
# each from a random address outside the lab; the server has a default
# route through the lab's router (lab_gateway_up), so its SYN-ACKs go there
# and no further, as those of a real spoofed flood go nowhere. No handshake
# completes.
#
# Phase A, without smtpwall: a baseline, printed and not asserted on: the
# kernel's SYN cookies may already cope, the number is for the operator.
# Phase B, with smtpwall, the new-source gate at 200/s (burst 200) and
# `[flood] action = drop`: the legitimate client (known before the flood)
# is served in >= 99 % of its attempts, the flood is counted and dropped by
# the gate, the source table holds what the gate let in (not one entry per
# spoofed address), and the daemon stays up.
#
# The SYN rate achieved is measured, not assumed: from smtpwall's counters
# in phase B, from the server interface's packet counter in phase A.
#
# SYNFLOOD_HPING_RATE: hping3's rate option, "--flood" unless set (for
# example "-i u10" on a machine that must not be saturated).

set -euo pipefail
. "$(dirname "$0")/lab.sh"

PRE_S=3			# normal traffic before the flood
FLOOD_A_S=15		# the baseline flood, without smtpwall
FLOOD_B_S=25		# the flood with smtpwall
LEGIT_TIMEOUT_MS=5000
GATE_RATE=200		# [flood] new_source_rate, per second
GATE_BURST=200		# [flood] new_source_burst
MIN_SYN_RATE=5000	# below this (25 x the gate) the test proves nothing
HPING_RATE=${SYNFLOOD_HPING_RATE:---flood}

if ! command -v hping3 >/dev/null; then
	echo "Bail out! hping3 is missing: run scripts/install-deps.sh"
	exit 1
fi

# The predicates below run through tap_check (shellcheck sees no call).
# all_served OK TOTAL: at least one attempt, and every one succeeded.
# shellcheck disable=SC2317
all_served() {
	[ "${2:-0}" -gt 0 ] && [ "${1:-0}" -eq "$2" ]
}

# rate_at_least OK TOTAL PCT, over at least one attempt.
# shellcheck disable=SC2317
rate_at_least() {
	[ "${2:-0}" -gt 0 ] && [ $((${1:-0} * 100)) -ge $(($2 * $3)) ]
}

# in_range N MIN MAX
# shellcheck disable=SC2317
in_range() {
	[ "$1" -ge "$2" ] && [ "$1" -le "$3" ]
}

now_ms() {
	date +%s%3N
}

# rx_packets: frames received on the server's interface (every frame the
# flood got onto it, whatever XDP or the stack then did with them).
rx_packets() {
	ip -n "$LAB_NS_SRV" -s -j link show "$LAB_IF_SRV" | jq '.[0].stats64.rx.packets'
}

# per_s COUNT MS: COUNT per second over MS milliseconds, rounded.
per_s() {
	awk -v n="$1" -v ms="$2" 'BEGIN { printf "%d", (ms > 0 ? n * 1000 / ms : 0) }'
}

# delta FILTER: FILTER's number in $st1 less that in $st0 (the status
# before and after the flood): the flood's share of a counter.
delta() {
	jq -n --argjson a "$st0" --argjson b "$st1" "(\$b | $1) - (\$a | $1)" 2>/dev/null || echo 0
}

# start_flood NAME SECONDS: hping3 in the attacker namespace, in the
# background, for SECONDS; its output in $LAB_DIR/NAME.out. SIGINT at the
# end: hping3 then prints how many packets it sent. lab_down kills what is
# left in the namespace should the script die first.
start_flood() {
	local name=$1 secs=$2

	# shellcheck disable=SC2086 # HPING_RATE may be two words ("-i u10")
	nsenter --net="/run/netns/$LAB_NS_ATK" -- timeout -s INT -k 5 "$secs" \
		hping3 -q -S -p 25 $HPING_RATE --rand-source "$LAB_SRV" \
		>"$LAB_DIR/$name.out" 2>&1 &
	FLOOD_PID=$!
	LABT_PIDS+=("$FLOOD_PID")
}

# hping_sent NAME: packets hping3 says it sent ("N packets transmitted").
hping_sent() {
	sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$LAB_DIR/$1.out" | head -n 1
}

# start_legit NAME SECONDS: the legitimate client, from before the flood.
start_legit() {
	if ! start_load "$1" "$LAB_NS_LEGIT" legit --to "$LAB_SRV" --from "$LAB_LEGIT" \
		--duration "$2" --interval-ms 500 --timeout-ms "$LEGIT_TIMEOUT_MS" \
		2>"$LAB_DIR/start.err"; then
		bail "$1: start the legitimate client" "$(cat "$LAB_DIR/start.err")"
	fi
}

# legit_result NAME FLOOD_START_MS FLOOD_S: legit_window over the attempts
# started while the flood ran that also ended while it ran (started at
# least a timeout before its end).
legit_result() {
	legit_window "$1" "$2" 0 $(($3 - LEGIT_TIMEOUT_MS / 1000))
}

labt_setup
# Without a route back to the spoofed addresses the kernel would drop their
# SYNs before queueing them: the flood would cost the server nothing.
if ! lab_gateway_up 2>"$LAB_DIR/gw.err"; then
	bail "give the server a default route through the lab's router" "$(cat "$LAB_DIR/gw.err")"
fi
note "lab $LAB_ID: Postfix on $LAB_SRV:25 in $LAB_NS_SRV, default route via $LAB_GW;" \
	"SYN flood with hping3 $HPING_RATE --rand-source from $LAB_NS_ATK;" \
	"legitimate client $LAB_LEGIT, a transaction every 500 ms"
note "server: tcp_syncookies=$(lab_in_server sysctl -n net.ipv4.tcp_syncookies)" \
	"tcp_max_syn_backlog=$(lab_in_server sysctl -n net.ipv4.tcp_max_syn_backlog)"

# ------------------------------------------------------------------ phase A

start_legit legit_a $((PRE_S + FLOOD_A_S))
sleep "$PRE_S"
rx0=$(rx_packets)
flood_a_ms=$(now_ms)
start_flood flood_a "$FLOOD_A_S"
wait "$FLOOD_PID" 2>/dev/null || true
elapsed_a=$(($(now_ms) - flood_a_ms))
rx1=$(rx_packets)
wait_load legit_a
rate_a=$(per_s $((rx1 - rx0)) "$elapsed_a")
RESULT_a=$(legit_result legit_a "$flood_a_ms" "$FLOOD_A_S")
ok_a=$(kv "$RESULT_a" ok) total_a=$(kv "$RESULT_a" total)
pct_a=$(pct "$ok_a" "$total_a")
note "without smtpwall: $((rx1 - rx0)) frames reached $LAB_IF_SRV in $elapsed_a ms ($rate_a/s);" \
	"hping3 sent $(hping_sent flood_a)"
note "without smtpwall: legit $RESULT_a"
note "without smtpwall: the server's SYN counters:" \
	"$(lab_in_server nstat -azs TcpExtTCPReqQFullDoCookies TcpExtSyncookiesSent \
		TcpExtSyncookiesRecv TcpExtListenDrops 2>/dev/null | awk 'NR > 1 { printf "%s=%s ", $1, $2 }')"
note "without smtpwall: legit $ok_a/$total_a ($pct_a %) served during the flood (not asserted)"

# ------------------------------------------------------------------ phase B

{
	echo "[general]"
	echo "interfaces = $LAB_IF_SRV"
	echo "bpffs_dir = $LAB_BPFFS"
	echo "state_dir = $LAB_DIR/state"
	echo "gc_interval = 500ms"
	echo "[limits]"
	echo "syn_rate = 600/min"
	echo "syn_burst = 100"
	echo "max_sessions = 20"
	echo "[sessions]"
	echo "idle_greeted = 3s"
	echo "idle_helo = 3s"
	echo "idle_mail = 10s"
	echo "max_idle = 1"
	echo "[emergency]"
	echo "mode = auto"
	echo "capacity = 10"
	echo "high = 80%"
	echo "low = 50%"
	echo "hold = 5s"
	echo "idle = 2s"
	echo "[flood]"
	echo "new_source_rate = $GATE_RATE/s"
	echo "new_source_burst = $GATE_BURST"
	echo "action = drop"
} >"$CONF"

if ! start_daemon 2>"$LAB_DIR/daemon.err"; then
	tap_fail "with smtpwall: start the daemon on $LAB_IF_SRV" \
		"$(cat "$LAB_DIR/daemon.err")"$'\n'"config:"$'\n'"$(cat "$CONF")"
	note "SYN flood at $rate_a SYN/s from random sources: without smtpwall $pct_a % served," \
		"with smtpwall n/a (the daemon did not start)"
	tap_done
fi
st=$(swj status --json)
check_jq "with smtpwall: XDP attached to $LAB_IF_SRV in native mode" "$st" \
	'any(.attached[]; .ifname == $i and .mode == "native")' --arg i "$LAB_IF_SRV"

start_legit legit_b $((PRE_S + FLOOD_B_S))
sleep "$PRE_S"
st0=$(swj status --json)
flood_b_ms=$(now_ms)
start_flood flood_b "$FLOOD_B_S"
# Halfway: the daemon answers while the flood runs, and what it has seen.
sleep $((FLOOD_B_S / 2))
mid=$(swj status --json)
if jq -e '.daemon.running == true' >/dev/null 2>&1 <<<"$mid"; then
	tap_ok "with smtpwall: status answers during the flood"
else
	tap_fail "with smtpwall: status answers during the flood" "$mid"
fi
note "with smtpwall: at +$((FLOOD_B_S / 2)) s: $(jq -c '{sources, syn: .stats.syn,
	untracked_syn: .stats.untracked_syn, dropped_flood: .stats.dropped.flood}' \
	<<<"$mid" 2>/dev/null || echo "$mid")"
wait "$FLOOD_PID" 2>/dev/null || true
st1=$(swj status --json)
elapsed_b=$(($(now_ms) - flood_b_ms))
wait_load legit_b

RESULT_b=$(legit_result legit_b "$flood_b_ms" "$FLOOD_B_S")
pre_ok=$(kv "$RESULT_b" pre_ok) pre_total=$(kv "$RESULT_b" pre_total)
ok_b=$(kv "$RESULT_b" ok) total_b=$(kv "$RESULT_b" total)
pct_b=$(pct "$ok_b" "$total_b")
syn_b=$(delta .stats.syn)
flood_drops=$(delta .stats.dropped.flood)
untracked=$(delta .stats.untracked_syn)
admitted=$(delta .stats.admitted)
sources=$(jq '.sources' <<<"$st1" 2>/dev/null || echo -1)
rate_b=$(per_s "$syn_b" "$elapsed_b")
# What the gate may let in over the flood: its burst, its rate, and the
# client's own source; some slack for the clock of the status snapshots.
gate_max=$((GATE_BURST + GATE_RATE * (elapsed_b / 1000 + 2) + 10))
note "with smtpwall: $syn_b SYNs in $elapsed_b ms ($rate_b/s; hping3 sent $(hping_sent flood_b)):" \
	"admitted $admitted, dropped by the gate $flood_drops, untracked $untracked;" \
	"sources $sources (the gate allows at most $gate_max)"
note "with smtpwall: legit $RESULT_b"
note "with smtpwall: stats $(jq -c '.stats | {syn, admitted, untracked_syn,
	source_table_full, sessions_opened, dropped}' <<<"$st1" 2>/dev/null || echo "$st1")"

tap_check "with smtpwall: before the flood the legitimate client is served ($pre_ok/$pre_total)" \
	"$RESULT_b" all_served "$pre_ok" "$pre_total"
tap_check "with smtpwall: the flood reached the server at $rate_b SYN/s, at least $MIN_SYN_RATE/s" \
	"$syn_b SYNs in $elapsed_b ms; hping3: $(cat "$LAB_DIR/flood_b.out")" \
	[ "$rate_b" -ge "$MIN_SYN_RATE" ]
tap_check "with smtpwall: during the flood legit $ok_b/$total_b ($pct_b %) served, at least 99 %" \
	"$RESULT_b"$'\n'"$(grep '^t=' "$LAB_DIR/legit_b.out" | grep 'ok=0' | head -n 20)" \
	rate_at_least "$ok_b" "$total_b" 99
tap_check "with smtpwall: the gate dropped the flood ($flood_drops of $syn_b SYNs)" \
	"$(jq -c .stats <<<"$st1" 2>/dev/null || echo "$st1")" [ "$flood_drops" -gt 0 ]
tap_check "with smtpwall: the source table holds what the gate let in ($sources sources, at most $gate_max)" \
	"$(jq -c '{sources, stats}' <<<"$st1" 2>/dev/null || echo "$st1")" \
	in_range "$sources" 0 "$gate_max"
tap_check "with smtpwall: sources ($sources) well below the SYNs ($syn_b): under 1 %" \
	"$(jq -c '{sources, stats}' <<<"$st1" 2>/dev/null || echo "$st1")" \
	[ $((sources * 100)) -lt "$syn_b" ]
if _proc_alive "$DAEMON_PID" && jq -e '.daemon.running == true' >/dev/null 2>&1 <<<"$st1"; then
	tap_ok "with smtpwall: the daemon ran through the flood"
else
	tap_fail "with smtpwall: the daemon ran through the flood" "$(tail -n 20 "$DAEMON_LOG")"
fi
stop_daemon

note "SYN flood at $rate_b SYN/s from random sources: without smtpwall $pct_a % served," \
	"with smtpwall $pct_b %"
note "(baseline flood: $rate_a SYN/s reached $LAB_IF_SRV; legit $ok_a/$total_a without," \
	"$ok_b/$total_b with smtpwall)"
tap_done
