#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# "Ping-pong-dash" against a real Postfix (../shared/domain.md, section 2):
# from 60 addresses, 2 sessions each connect, answer EHLO and go silent,
# reconnecting whenever the server closes them. Postfix has 10 smtpd
# processes (default_process_limit = 10) and lets an idle session hold one
# for smtpd_timeout (300 s), so a legitimate sender gets no slot.
#
# Phase A, without smtpwall: the lab reproduces the starvation (the
# legitimate client is served in well under half of its attempts).
# Phase B, with smtpwall (session policy and emergency mode): after the
# first 10 s of the attack the legitimate client is served in >= 99 % of
# its attempts.
#
# Time line of each phase: the legitimate client starts (one transaction
# every 500 ms, 5 s timeout each); 5 s later the attack starts and lasts
# ATTACK_S + 6 s, so that every attempt started in the window [10 s,
# ATTACK_S) after the attack began ends while the attack still runs.
#
# PINGPONG_BASIC_CONFIG=1 leaves out the [sessions] and [emergency]
# sections: only to check the plumbing of phase B on a daemon without them.

set -euo pipefail
. "$(dirname "$0")/lab.sh"

ATTACK_S=30		# the measured part of the attack
WARMUP_S=10		# the attack's first seconds, not measured
PRE_S=5			# normal traffic before the attack
TAIL_S=6		# the attack outlasts the window by more than a timeout
LEGIT_TIMEOUT_MS=5000
PER_SOURCE=2

# The predicates below run through tap_check (shellcheck sees no call).
# all_served OK TOTAL: at least one attempt, and every one succeeded.
# shellcheck disable=SC2317
all_served() {
	[ "${2:-0}" -gt 0 ] && [ "${1:-0}" -eq "$2" ]
}

# rate_below OK TOTAL PCT / rate_at_least OK TOTAL PCT, over at least one attempt.
# shellcheck disable=SC2317
rate_below() {
	[ "${2:-0}" -gt 0 ] && [ $((${1:-0} * 100)) -lt $(($2 * $3)) ]
}

# shellcheck disable=SC2317
rate_at_least() {
	[ "${2:-0}" -gt 0 ] && [ $((${1:-0} * 100)) -ge $(($2 * $3)) ]
}

# run_phase NAME: legit client and attack on the lab's Postfix; sets RESULT
# to legit_window's words and ATTACK to the attack's summary line.
run_phase() {
	local name=$1 attack_ms

	if ! start_load "legit_$name" "$LAB_NS_LEGIT" legit --to "$LAB_SRV" --from "$LAB_LEGIT" \
		--duration $((PRE_S + ATTACK_S + TAIL_S)) --interval-ms 500 \
		--timeout-ms "$LEGIT_TIMEOUT_MS" 2>"$LAB_DIR/start.err"; then
		bail "$name: start the legitimate client" "$(cat "$LAB_DIR/start.err")"
	fi
	sleep "$PRE_S"
	if ! start_load "attack_$name" "$LAB_NS_ATK" idle --to "$LAB_SRV" \
		--from-range "$LAB_ATK_FIRST-$LAB_ATK_LAST" --per-source "$PER_SOURCE" --stage helo \
		--duration $((ATTACK_S + TAIL_S)) --timeout-ms 3000 --report-ms 5000 \
		2>"$LAB_DIR/start.err"; then
		bail "$name: start the attack" "$(cat "$LAB_DIR/start.err")"
	fi
	attack_ms=$(load_start_ms "attack_$name")
	# Halfway through, what holds the server's processes.
	sleep $((WARMUP_S + 5))
	note "$name: $(lab_smtpd_count) smtpd processes (limit $LAB_PROCESS_LIMIT) at +$((WARMUP_S + 5)) s;" \
		"attack: $(grep '^t=' "$LAB_DIR/attack_$name.out" | tail -n 1)"
	wait_load "attack_$name"
	wait_load "legit_$name"
	RESULT=$(legit_window "legit_$name" "$attack_ms" "$WARMUP_S" "$ATTACK_S")
	ATTACK=$(grep '^summary ' "$LAB_DIR/attack_$name.out" || echo "summary (none)")
	note "$name: legit $RESULT"
	note "$name: attack $ATTACK"
}

labt_setup
note "lab $LAB_ID: Postfix on $LAB_SRV:25 in $LAB_NS_SRV (process limit $LAB_PROCESS_LIMIT," \
	"smtpd_timeout $LAB_SMTPD_TIMEOUT); attack from $LAB_ATK_FIRST-$LAB_ATK_LAST," \
	"$PER_SOURCE sessions each, stage helo"

# ------------------------------------------------------------------ phase A

run_phase a
RESULT_a=$RESULT ATTACK_a=$ATTACK
pre_ok=$(kv "$RESULT_a" pre_ok) pre_total=$(kv "$RESULT_a" pre_total)
ok_a=$(kv "$RESULT_a" ok) total_a=$(kv "$RESULT_a" total)
pct_a=$(pct "$ok_a" "$total_a")
note "without smtpwall: legit $ok_a/$total_a ok ($pct_a %) after the first $WARMUP_S s of the attack" \
	"($(kv "$RESULT_a" all_ok)/$(kv "$RESULT_a" all_total) in its first $ATTACK_S s)"

tap_check "without smtpwall: before the attack the legitimate client is served ($pre_ok/$pre_total)" \
	"$RESULT_a" all_served "$pre_ok" "$pre_total"
open_a=$(kv "$ATTACK_a" open)
tap_check "without smtpwall: the attack holds every smtpd process (${open_a:-no} sessions open)" \
	"$ATTACK_a" [ "${open_a:-0}" -ge "$LAB_PROCESS_LIMIT" ]
# Well below half: the lab reproduces the starvation it is for.
tap_check "without smtpwall: the MTA is starved: legit $ok_a/$total_a ($pct_a %) served, under 20 %" \
	"$RESULT_a" rate_below "$ok_a" "$total_a" 20
if grep -q 'has reached its process limit' "$LAB_MAILLOG"; then
	tap_ok "without smtpwall: Postfix logged that smtp reached its process limit"
else
	tap_fail "without smtpwall: Postfix logged that smtp reached its process limit" \
		"$(tail -n 10 "$LAB_MAILLOG")"
fi

# The idle sessions still hold their processes (smtpd_timeout): a fresh start.
if ! lab_postfix_restart 2>"$LAB_DIR/restart.err"; then
	bail "restart Postfix between the phases" "$(cat "$LAB_DIR/restart.err")"
fi

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
	if [ -z "${PINGPONG_BASIC_CONFIG:-}" ]; then
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
	fi
} >"$CONF"

if ! start_daemon 2>"$LAB_DIR/daemon.err"; then
	tap_fail "with smtpwall: start the daemon on $LAB_IF_SRV" \
		"$(cat "$LAB_DIR/daemon.err")"$'\n'"config:"$'\n'"$(cat "$CONF")"
	note "ping-pong-dash from $LAB_ATTACKERS addresses: without smtpwall $pct_a % served," \
		"with smtpwall n/a (the daemon did not start) (after the first $WARMUP_S s)"
	tap_done
fi
st=$(swj status --json)
check_jq "with smtpwall: XDP attached to $LAB_IF_SRV in native mode" "$st" \
	'any(.attached[]; .ifname == $i and .mode == "native")' --arg i "$LAB_IF_SRV"

run_phase b
RESULT_b=$RESULT ATTACK_b=$ATTACK
pre_ok=$(kv "$RESULT_b" pre_ok) pre_total=$(kv "$RESULT_b" pre_total)
ok_b=$(kv "$RESULT_b" ok) total_b=$(kv "$RESULT_b" total)
pct_b=$(pct "$ok_b" "$total_b")
note "with smtpwall: legit $ok_b/$total_b ok ($pct_b %) after the first $WARMUP_S s of the attack" \
	"($(kv "$RESULT_b" all_ok)/$(kv "$RESULT_b" all_total) in its first $ATTACK_S s," \
	"the slowest $(kv "$RESULT_b" max_ms) ms);" \
	"first success $(secs "$(kv "$RESULT_b" first_ok_ms)") after the attack began," \
	"served without a failure from $(secs "$(kv "$RESULT_b" served_from_ms)")"

st=$(swj status --json)
note "with smtpwall: status .emergency:"
diag "$(jq -c '.emergency' <<<"$st" 2>/dev/null || echo "$st")"
# Whatever the daemon calls its teardown counters; and what the attacker saw.
note "with smtpwall: teardown counters in status: $(jq -c \
	'[paths(scalars) as $p | select($p | map(tostring) | join(".") | test("torn|teardown|destroy"))
	  | {key: ($p | map(tostring) | join(".")), value: getpath($p)}] | from_entries' \
	<<<"$st" 2>/dev/null || echo n/a)"
note "with smtpwall: sessions the attacker had closed by the server: $(kv "$ATTACK_b" closed_by_server)" \
	"(resets $(kv "$ATTACK_b" resets)), connects refused $(kv "$ATTACK_b" refused)," \
	"timed out $(kv "$ATTACK_b" connect_timeouts)"
note "with smtpwall: smtpwall top:"
diag "$(swj top -n 10)"

tap_check "with smtpwall: before the attack the legitimate client is served ($pre_ok/$pre_total)" \
	"$RESULT_b" all_served "$pre_ok" "$pre_total"
tap_check "with smtpwall: after the first $WARMUP_S s of the attack legit $ok_b/$total_b ($pct_b %) served, at least 99 %" \
	"$RESULT_b"$'\n'"$(grep '^t=' "$LAB_DIR/legit_b.out" | grep 'ok=0' | head -n 20)" \
	rate_at_least "$ok_b" "$total_b" 99
if _proc_alive "$DAEMON_PID"; then
	tap_ok "with smtpwall: the daemon ran through the attack"
else
	tap_fail "with smtpwall: the daemon ran through the attack" "$(tail -n 20 "$DAEMON_LOG")"
fi
stop_daemon

note "ping-pong-dash from $LAB_ATTACKERS addresses: without smtpwall $pct_a % served," \
	"with smtpwall $pct_b % served (after the first $WARMUP_S s)"
tap_done
