#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Session health against a real Postfix: a directory harvest and a client
# that talks before the greeting are penalised; a slow but legitimate
# sender is not.
#
# With smtpwall running (harvest_min 5 at 50 %, pregreet 1, teardown of
# penalised sources' sessions, penalty base 1m, emergency mode off so that
# only the policies act):
#   - harvester (first attacker address): RCPT TO unknown users, which the
#     lab's Postfix rejects with 550 5.1.1. The 5th rejection penalises the
#     source (reason harvest) and its session is torn down: the harvest of
#     10 recipients is cut short. Its next connection attempt is dropped.
#   - pregreet client (second attacker address): EHLO before the 220.
#     Penalised (reason pregreet); its next attempt is dropped.
#   - slow sender (second legitimate address): 1.5 s before every command,
#     some 9 s a transaction, well within the idle thresholds (10 s):
#     every transaction succeeds, it is not penalised, its sessions count
#     as completed and it is known good.
#   - idle holder (third attacker address): 3 sessions that answer EHLO and
#     go silent, over max_idle 2: once idle past idle_helo (10 s) the daemon
#     penalises it (reason idle) and tears its sessions down.
#   - the legitimate client (first legitimate address) is served throughout.
# Then the totals of `status --json` .health against what the clients and
# Postfix's own log saw.

set -euo pipefail
# The pregreet client (.101): Postfix holds its greeting back a second, so
# that its EHLO comes before the 220 however busy the machine is (without
# it a loaded machine can let Postfix greet first).
LAB_GREET_PAUSE_HOSTS=101
. "$(dirname "$0")/lab.sh"

LEGIT_S=28		# the legitimate client runs through the whole test
SLOW_MS=1500		# the slow sender's pause before each command
SLOW_S=19		# slow transactions start in this time: 3 of ~9 s each
SLOW_TIMEOUT_MS=20000
HARVEST_RCPTS=10
HARVEST_MIN=5
PROBE_TIMEOUT_MS=3000

# The predicates below run through tap_check (shellcheck sees no call).
# all_served OK TOTAL: at least one attempt, and every one succeeded.
# shellcheck disable=SC2317
all_served() {
	[ "${2:-0}" -gt 0 ] && [ "${1:-0}" -eq "$2" ]
}

# all_served_min OK TOTAL MIN: at least MIN attempts, and every one succeeded.
# shellcheck disable=SC2317
all_served_min() {
	all_served "$1" "$2" && [ "$2" -ge "$3" ]
}

# in_range N MIN MAX
# shellcheck disable=SC2317
in_range() {
	[ "$1" -ge "$2" ] && [ "$1" -le "$3" ]
}

# run_load NAME NS ARGS...: smtpload ARGS in NS, in the foreground (30 s at
# most), its output in $LAB_DIR/NAME.out.
run_load() {
	local name=$1 ns=$2

	shift 2
	timeout -k 5 30 nsenter --net="/run/netns/$ns" -- "$SMTPLOAD" "$@" --max-seconds 25 \
		>"$LAB_DIR/$name.out" 2>"$LAB_DIR/$name.err" || true
}

# out NAME: that client's output, for diagnostics.
out() {
	cat "$LAB_DIR/$1.out" "$LAB_DIR/$1.err" 2>/dev/null || true
}

# start_probe NAME ADDR: one connection attempt from ADDR (attacker
# namespace) in the background: a complete transaction, if it gets one.
start_probe() {
	if ! start_load "$1" "$LAB_NS_ATK" legit --to "$LAB_SRV" --from "$2" --duration 1 \
		--interval-ms 10000 --timeout-ms "$PROBE_TIMEOUT_MS" 2>"$LAB_DIR/start.err"; then
		bail "start a probe from $2" "$(cat "$LAB_DIR/start.err")"
	fi
}

# check_penalised WHO ADDR REASON LOGTEXT: ADDR is in the penalty box for
# REASON, and the daemon logged it.
check_penalised() {
	local who=$1 addr=$2 reason=$3 text=$4 show

	show=$(swj show "$addr" --json)
	check_jq "$who $addr: penalised, reason $reason" "$show" \
		'.penalty.active == true and .penalty.reason == $r' --arg r "$reason"
	check_event "$who $addr: the penalty is an event, reason $reason, with its evidence ($text)" \
		'.kind == "penalty" and (.source == $a or .source == ($a + "/32")) and .reason == $r and
		 .count > 0 and (.text | contains($t))' --arg a "$addr" --arg r "$reason" --arg t "$text"
}

# check_dropped WHO ADDR PROBE DROPPED_BEFORE: the probe from ADDR got no
# answer at all (a drop, not a refusal), and the kernel counted the drops.
check_dropped() {
	local who=$1 addr=$2 probe=$3 before=$4 line after

	line=$(grep '^t=' "$LAB_DIR/$probe.out" | head -n 1)
	after=$(swj show "$addr" --json | jq '.dropped.penalty' 2>/dev/null || echo 0)
	if [ "$(kv "$line" ok)" = 0 ] && [ "$(kv "$line" err)" = connect_timeout ] &&
	   [ "$after" -gt "$before" ]; then
		tap_ok "$who $addr: its next connection attempt is dropped (penalty drops $before -> $after)"
	else
		tap_fail "$who $addr: its next connection attempt is dropped (penalty drops $before -> $after)" \
			"probe: $(out "$probe")"
	fi
}

labt_setup
HARVESTER=$LAB_ATK_FIRST
PREGREETER=$LAB_NET.101
IDLER=$LAB_NET.102
SLOW=$LAB_NET.3
note "lab $LAB_ID: Postfix on $LAB_SRV:25; legit $LAB_LEGIT, slow sender $SLOW" \
	"(--slow-ms $SLOW_MS), harvester $HARVESTER, pregreet $PREGREETER"

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
	echo "[penalty]"
	echo "base = 1m"
	echo "[sessions]"
	echo "idle_greeted = 10s"
	echo "idle_helo = 10s"
	echo "idle_mail = 10s"
	echo "max_idle = 2"
	echo "harvest_min = $HARVEST_MIN"
	echo "harvest_ratio = 50%"
	echo "pregreet = 1"
	echo "window = 10m"
	echo "teardown = penalised"
	echo "[emergency]"
	echo "mode = off"
} >"$CONF"

if ! start_daemon 2>"$LAB_DIR/daemon.err"; then
	bail "start the daemon on $LAB_IF_SRV" \
		"$(cat "$LAB_DIR/daemon.err")"$'\n'"config:"$'\n'"$(cat "$CONF")"
fi
st=$(swj status --json)
check_jq "XDP attached to $LAB_IF_SRV in native mode, emergency mode off" "$st" \
	'any(.attached[]; .ifname == $i and .mode == "native") and .emergency.mode == "off"' \
	--arg i "$LAB_IF_SRV"

# Three sessions that say EHLO and go silent, from one address.
if ! start_load idler "$LAB_NS_ATK" idle --to "$LAB_SRV" --from-range "$IDLER-$IDLER" --per-source 3 \
	--stage helo --duration 20 2>"$LAB_DIR/start.err"; then
	bail "start the idle holder" "$(cat "$LAB_DIR/start.err")"
fi
if ! start_load legit "$LAB_NS_LEGIT" legit --to "$LAB_SRV" --from "$LAB_LEGIT" \
	--duration "$LEGIT_S" --interval-ms 500 --timeout-ms 5000 2>"$LAB_DIR/start.err"; then
	bail "start the legitimate client" "$(cat "$LAB_DIR/start.err")"
fi
if ! start_load slow "$LAB_NS_LEGIT" legit --to "$LAB_SRV" --from "$SLOW" --slow-ms "$SLOW_MS" \
	--duration "$SLOW_S" --interval-ms 1000 --timeout-ms "$SLOW_TIMEOUT_MS" \
	2>"$LAB_DIR/start.err"; then
	bail "start the slow sender" "$(cat "$LAB_DIR/start.err")"
fi
sleep 2

# ------------------------------------------------------------------ attackers

run_load harvest "$LAB_NS_ATK" harvest --to "$LAB_SRV" --from "$HARVESTER" \
	--rcpts "$HARVEST_RCPTS" --timeout-ms 3000
run_load pregreet "$LAB_NS_ATK" pregreet --to "$LAB_SRV" --from "$PREGREETER" --count 1 \
	--timeout-ms 3000
# The penalty is the kernel's at once; its log line and the teardown come
# with the daemon's next ring buffer poll and GC run (gc_interval 500 ms).
sleep 1
harvest_sum=$(grep '^sessions=' "$LAB_DIR/harvest.out" || echo "sessions=0")
harvest_seen=$(kv "$harvest_sum" rejected)
note "harvester: $(grep '^session=' "$LAB_DIR/harvest.out" || out harvest)"
note "pregreet: $(grep '^n=' "$LAB_DIR/pregreet.out" || out pregreet)"

check_penalised harvester "$HARVESTER" harvest "rejected recipients (directory harvest)"
# Cut short: the penalty came at the 5th rejection, and the session went.
tap_check "harvester $HARVESTER: the harvest was cut short ($harvest_seen of $HARVEST_RCPTS recipients rejected, at least $HARVEST_MIN)" \
	"$(out harvest)" in_range "${harvest_seen:-0}" "$HARVEST_MIN" $((HARVEST_RCPTS - 1))
check_penalised pregreet "$PREGREETER" pregreet "sessions talking before the greeting"
# What Postfix made of it: the client talked first.
if grep -q "improper command pipelining after CONNECT from unknown\[$PREGREETER\]" "$LAB_MAILLOG"; then
	note "pregreet: Postfix saw it too (improper command pipelining after CONNECT)"
fi

drops_h=$(swj show "$HARVESTER" --json | jq '.dropped.penalty' 2>/dev/null || echo 0)
drops_p=$(swj show "$PREGREETER" --json | jq '.dropped.penalty' 2>/dev/null || echo 0)
start_probe probe_harvest "$HARVESTER"
start_probe probe_pregreet "$PREGREETER"
wait_load probe_harvest
wait_load probe_pregreet
check_dropped harvester "$HARVESTER" probe_harvest "$drops_h"
check_dropped pregreet "$PREGREETER" probe_pregreet "$drops_p"

# ------------------------------------------------------------------ senders

wait_load slow
wait_load legit
slow_sum=$(grep '^attempts=' "$LAB_DIR/slow.out" || echo "attempts=0 ok=0")
slow_ok=$(kv "$slow_sum" ok) slow_total=$(kv "$slow_sum" attempts)
legit_sum=$(grep '^attempts=' "$LAB_DIR/legit.out" || echo "attempts=0 ok=0")
legit_ok=$(kv "$legit_sum" ok) legit_total=$(kv "$legit_sum" attempts)
note "slow sender: $(grep '^t=' "$LAB_DIR/slow.out" | tr '\n' ';')"
note "legit: $legit_sum"

tap_check "slow sender $SLOW: every transaction succeeded ($slow_ok/$slow_total, at least 2)" \
	"$(out slow)" all_served_min "$slow_ok" "$slow_total" 2
show_slow=$(swj show "$SLOW" --json)
check_jq "slow sender $SLOW: not penalised" "$show_slow" \
	'.penalty.active == false and .dropped.penalty == 0'
if jq -e 'has("health")' >/dev/null 2>&1 <<<"$show_slow"; then
	check_jq "slow sender $SLOW: $slow_ok sessions completed, none abandoned (show .health)" \
		"$show_slow" '.health.sessions_completed >= $n and .health.sessions_abandoned == 0 and
		 .health.messages >= $n' --argjson n "$slow_ok"
	check_jq "slow sender $SLOW: known good" "$show_slow" '.health.known_good == true'
else
	# A show without session health: the totals have to do.
	check_jq "slow sender $SLOW: its sessions count as completed (status .health)" \
		"$(swj status --json)" '.health.sessions_completed >= $n' --argjson n "$slow_ok"
fi
tap_check "legitimate client $LAB_LEGIT: served throughout ($legit_ok/$legit_total)" \
	"$(grep 'ok=0' "$LAB_DIR/legit.out" | head -n 20)" all_served "$legit_ok" "$legit_total"
check_jq "legitimate client $LAB_LEGIT: not penalised" "$(swj show "$LAB_LEGIT" --json)" \
	'.penalty.active == false and .dropped.penalty == 0'

# ------------------------------------------------------------------ idle holder

wait_load idler
check_penalised "idle holder" "$IDLER" idle "idle sessions"
check_event "idle holder $IDLER: the daemon said why (3 or more idle sessions, limit 2)" \
	'.kind == "idle" and .action == "penalised" and (.source == $a or .source == ($a + "/32")) and
	 .count >= 3 and (.text | contains("(limit 2;"))' --arg a "$IDLER"
check_event "idle holder $IDLER: its sessions were torn down" \
	'.kind == "teardown" and .action == "torn down" and (.source | startswith($a + ":")) and
	 (.text | endswith("source penalised (idle)"))' --arg a "$IDLER"
note "idle holder: $(grep '^t=' "$LAB_DIR/idler.out" | tail -n 1)"

# ------------------------------------------------------------------ totals

st=$(swj status --json)
note "status .health: $(jq -c .health <<<"$st" 2>/dev/null || echo "$st")"
# Postfix's own count of the recipients it rejected (every one the harvester's).
pf_rejected=$(grep -c "NOQUEUE: reject: RCPT from .*: 550 " "$LAB_MAILLOG" || true)
note "Postfix rejected $pf_rejected recipients; the harvester saw $harvest_seen rejections"
# One harvester is cut off at harvest_min: more rejections than that it
# cannot collect, so the total is judged against harvest_min and Postfix.
check_jq "status .health: rcpt_rejected >= $HARVEST_MIN, pregreet >= 1" "$st" \
	'.health.rcpt_rejected >= $min and .health.pregreet >= 1' --argjson min "$HARVEST_MIN"
# Counted from the server's replies on egress: each reply once, however
# often TCP sends it (the penalty drops the client's ACKs, so the server
# retransmits its last reply until the teardown).
rej=$(jq '.health.rcpt_rejected' <<<"$st" 2>/dev/null || echo -1)
tap_check "status .health: rcpt_rejected ($rej) is what Postfix rejected ($pf_rejected)" \
	"harvester's show .health: $(swj show "$HARVESTER" --json | jq -c .health 2>/dev/null)"$'\n'"server: $(
	lab_in_server nstat -azs TcpRetransSegs TcpExtTCPTimeouts 2>/dev/null |
		awk 'NR > 1 { printf "%s=%s ", $1, $2 }')"$'\n'"Postfix: $(
	grep -F "[$HARVESTER]" "$LAB_MAILLOG" | sed 's/.*\]: //' | cut -c 1-100)" \
	[ "$rej" -eq "$pf_rejected" ]
check_jq "status .health: messages >= the slow sender's and the client's ($slow_ok + $legit_ok)" \
	"$st" '.health.messages >= $n' --argjson n $((slow_ok + legit_ok))
check_jq "status: three penalties (harvest, pregreet, idle), their sessions torn down" "$st" \
	'.stats.penalties >= 3 and .health.teardowns_penalised >= 5 and .health.idle_penalties >= 1'
if _proc_alive "$DAEMON_PID"; then
	tap_ok "the daemon ran through the test"
else
	tap_fail "the daemon ran through the test" "$(tail -n 20 "$DAEMON_LOG")"
fi
stop_daemon
tap_done
