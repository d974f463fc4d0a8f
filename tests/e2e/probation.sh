# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Emergency probation against a real Postfix, sourced by
# test_lab_probation*.sh. A ping-pong-dash attack (every attacking address
# holds 2 sessions that answer EHLO and then go silent, or, with
# PROB_DRIP_MS, send a harmless command every PROB_DRIP_MS ms: NOOP, RSET,
# EHLO, HELP, VRFY) takes the MTA's 10 processes; smtpwall enters
# emergency mode. What is measured:
#   - a sender NEVER SEEN before, starting after the attack began, is
#     served in >= 99 % of its attempts after the attack's first 10 s;
#   - a sender known good before the attack: every attempt served;
#   - every attacking address that connected is penalised (reason
#     probation or idle) within PROB_JUDGE_S of the emergency's start, and
#     is still refused right after the emergency ends;
#   - (PROB_SLOW=1) a slow sender (1 s before each command) and a slow
#     large upload (256 KiB in 1 KiB writes, 30 ms apart), both new, are
#     served and never penalised.
#
# PROB_FAMILY=4|6: the addresses used (IPv6: each attacker its own /64).
# The test's time line: the known-good sender starts; PRE_S later the
# attack starts and lasts ATTACK_S + TAIL_S; the new senders start 2 s
# into the attack.

set -euo pipefail
# A stressed Postfix (every process busy) drops a session after one junk
# command; the drip attack is meant to stay, as it does on a server
# tuned for it.
if [ "${PROB_DRIP_MS:-0}" -gt 0 ]; then
	export LAB_SMTPD_JUNK_LIMIT=1000 LAB_SMTPD_HARD_ERROR_LIMIT=1000
fi
. "$(dirname "${BASH_SOURCE[0]}")/lab.sh"

PROB_FAMILY=${PROB_FAMILY:-4}
PROB_DRIP_MS=${PROB_DRIP_MS:-0}
PROB_SLOW=${PROB_SLOW:-0}
PROB_JUDGE_S=${PROB_JUDGE_S:-20}
ATTACK_S=30
WARMUP_S=10
PRE_S=5
TAIL_S=6
NEW_AFTER_S=2
LEGIT_TIMEOUT_MS=5000

# shellcheck disable=SC2317
all_served() {
	[ "${2:-0}" -gt 0 ] && [ "${1:-0}" -eq "$2" ]
}

# shellcheck disable=SC2317
rate_at_least() {
	[ "${2:-0}" -gt 0 ] && [ $((${1:-0} * 100)) -ge $(($2 * $3)) ]
}

# within MS LIMIT_MS: MS is a time (not -1, never) of at most LIMIT_MS.
# shellcheck disable=SC2317
within() {
	[ "$1" -ge 0 ] && [ "$1" -le "$2" ]
}

labt_setup

if [ "$PROB_FAMILY" = 6 ]; then
	SRV=$LAB_SRV6 KNOWN=$LAB_LEGIT6 NEWCOMER=$LAB_LEGIT6_NEW
	ATK_RANGE=$LAB_ATK6_FIRST-$LAB_ATK6_LAST
	mapfile -t ATK_ADDRS < <(lab_atk6_addrs)
else
	SRV=$LAB_SRV KNOWN=$LAB_LEGIT NEWCOMER=$LAB_LEGIT_NEW
	ATK_RANGE=$LAB_ATK_FIRST-$LAB_ATK_LAST
	ATK_ADDRS=()
	for ((i = 100; i < 100 + LAB_ATTACKERS; i++)); do
		ATK_ADDRS+=("$LAB_NET.$i")
	done
fi
SLOW=$LAB_NET.5 UPLOAD=$LAB_NET.6
how="silent after EHLO"
[ "$PROB_DRIP_MS" -gt 0 ] && how="a harmless command every $PROB_DRIP_MS ms after EHLO"
note "lab $LAB_ID (IPv$PROB_FAMILY): Postfix on $SRV, process limit $LAB_PROCESS_LIMIT;" \
	"${#ATK_ADDRS[@]} attacking addresses, 2 sessions each, $how"

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
	echo "idle = 3s"
	echo "probation_share = 50%"
	echo "probation_greeted = 3s"
	echo "probation_helo = 3s"
	echo "probation_mail = 5s"
	echo "probation_data = 10s"
	echo "probation_lifetime = 30s"
} >"$CONF"

if ! start_daemon 2>"$LAB_DIR/daemon.err"; then
	bail "start the daemon on $LAB_IF_SRV" "$(cat "$LAB_DIR/daemon.err")"$'\n'"$(cat "$CONF")"
fi

# penalised_attackers: how many attacking addresses are in the penalty box now.
penalised_attackers() {
	local top

	top=$(swj top -n 100000 --json)
	if [ "$PROB_FAMILY" = 6 ]; then
		jq --arg p "$LAB_NET6:" '[.sources[] | select((.source | startswith($p)) and
			(.source | test(":1[0-9a-f][0-9a-f]::/64$")) and .penalty_remaining_s > 0)] | length' \
			<<<"$top" 2>/dev/null || echo 0
	else
		jq --arg p "$LAB_NET." '[.sources[] | select((.source | startswith($p)) and
			((.source | ltrimstr($p) | rtrimstr("/32") | tonumber) >= 100) and
			.penalty_remaining_s > 0)] | length' <<<"$top" 2>/dev/null || echo 0
	fi
}

start_load known "$LAB_NS_LEGIT" legit --to "$SRV" --from "$KNOWN" \
	--duration $((PRE_S + ATTACK_S + TAIL_S)) --interval-ms 500 --timeout-ms "$LEGIT_TIMEOUT_MS" ||
	bail "start the known-good sender"
sleep "$PRE_S"
attack_args=(idle --to "$SRV" --from-range "$ATK_RANGE" --per-source 2 --stage helo
	--duration $((ATTACK_S + TAIL_S)) --timeout-ms 3000 --report-ms 5000)
[ "$PROB_DRIP_MS" -gt 0 ] && attack_args+=(--drip-ms "$PROB_DRIP_MS")
start_load attack "$LAB_NS_ATK" "${attack_args[@]}" || bail "start the attack"
attack_ms=$(load_start_ms attack)
sleep "$NEW_AFTER_S"
start_load newcomer "$LAB_NS_LEGIT" legit --to "$SRV" --from "$NEWCOMER" \
	--duration $((ATTACK_S - NEW_AFTER_S)) --interval-ms 500 --timeout-ms "$LEGIT_TIMEOUT_MS" ||
	bail "start the new sender"
if [ "$PROB_SLOW" = 1 ]; then
	start_load slow "$LAB_NS_LEGIT" legit --to "$SRV" --from "$SLOW" --duration 20 \
		--interval-ms 500 --slow-ms 1000 --timeout-ms 20000 || bail "start the slow sender"
	start_load upload "$LAB_NS_LEGIT" legit --to "$SRV" --from "$UPLOAD" --duration 20 \
		--interval-ms 500 --body-kb 256 --body-delay-ms 30 --timeout-ms 30000 ||
		bail "start the slow upload"
fi

# Every second: when did every attacking address get penalised?
all_penalised_ms=-1
max_penalised=0
first_judged_n=0
for ((t = NEW_AFTER_S; t < ATTACK_S + TAIL_S; t++)); do
	n=$(penalised_attackers)
	[ "$n" -gt "$max_penalised" ] && max_penalised=$n
	if [ "$all_penalised_ms" -lt 0 ] && [ "$n" -ge "${#ATK_ADDRS[@]}" ]; then
		all_penalised_ms=$(($(date +%s%3N) - attack_ms))
	fi
	[ $(($(date +%s%3N) - attack_ms)) -le $((PROB_JUDGE_S * 1000)) ] && first_judged_n=$n
	sleep 1
done
wait_load attack
wait_load newcomer
wait_load known
[ "$PROB_SLOW" = 1 ] && { wait_load slow; wait_load upload; }

st=$(swj status --json)
since=$(jq -r '.emergency.since // empty' <<<"$st")
entered=$(jq -r '.emergency.entered // 0' <<<"$st")
note "status .emergency: $(jq -c '.emergency' <<<"$st" 2>/dev/null || echo "$st")"
note "attack: $(grep '^summary ' "$(load_out attack)" || echo none)"

R_new=$(legit_window newcomer "$attack_ms" "$WARMUP_S" "$ATTACK_S")
R_known=$(legit_window known "$attack_ms" 0 "$ATTACK_S")
ok_new=$(kv "$R_new" ok) total_new=$(kv "$R_new" total)
note "new sender: $R_new"
note "known-good sender: $R_known"
tap_check "an emergency was entered (entered=$entered)" "$st" [ "${entered:-0}" -ge 1 ]
tap_check "a sender never seen before, arriving during the attack: $ok_new/$total_new ($(pct "$ok_new" "$total_new") %) served after the first $WARMUP_S s, at least 99 %" \
	"$R_new"$'\n'"$(grep 'ok=0' "$(load_out newcomer)" | head -n 20)" \
	rate_at_least "$ok_new" "$total_new" 99
tap_check "the sender known good before the attack: $(kv "$R_known" all_ok)/$(kv "$R_known" all_total) served during the attack" \
	"$R_known"$'\n'"$(grep 'ok=0' "$(load_out known)" | head -n 20)" \
	all_served "$(kv "$R_known" all_ok)" "$(kv "$R_known" all_total)"
note "attacking addresses penalised: at most $max_penalised of ${#ATK_ADDRS[@]};" \
	"all of them $(secs "$all_penalised_ms") after the attack began"
# Only addresses that reached the MTA can be judged: the rest never got
# past the full accept queue, and are not penalised for what they did not do.
tap_check "attacking addresses penalised within $PROB_JUDGE_S s of the attack's start: $first_judged_n by then (at least 10)" \
	"max $max_penalised of ${#ATK_ADDRS[@]}"$'\n'"$(swj top -n 20)" [ "$first_judged_n" -ge 10 ]
src=$(swj show "${ATK_ADDRS[0]}" --json)
check_jq "show ${ATK_ADDRS[0]}: penalised for its sessions (probation or idle), with the failure told" "$src" \
	'.penalty.active and (.penalty.reason == "probation" or .penalty.reason == "idle")
	 and (.penalty.reason != "probation" or (.health.probation.last_failure | test("progress|lifetime")))'
if [ "$PROB_DRIP_MS" -gt 0 ]; then
	check_jq "show ${ATK_ADDRS[0]}: the dripping sessions never counted as progress (reason probation or idle)" \
		"$src" '.penalty.reason == "probation" or .penalty.reason == "idle"'
fi
if event_seen '.kind == "probation" and .action == "penalised" and (.text | test(" failed: "))'; then
	tap_ok "the daemon told each probation failure with its reason (probation events)"
	note "e.g. probation: $(event_text '.kind == "probation"')"
else
	tap_fail "the daemon told each probation failure with its reason (probation events)" \
		"$(events_json | tail -n 10)"
fi

if [ "$PROB_SLOW" = 1 ]; then
	for who in slow upload; do
		addr=$SLOW
		[ "$who" = upload ] && addr=$UPLOAD
		R=$(legit_window "$who" "$attack_ms" 0 $((ATTACK_S + TAIL_S)))
		note "$who sender ($addr): $R"
		tap_check "the $who sender ($addr), new during the attack, served in every attempt" \
			"$R"$'\n'"$(cat "$(load_out "$who")")" all_served "$(kv "$R" all_ok)" "$(kv "$R" all_total)"
		check_jq "the $who sender ($addr) is not penalised and failed no probation" \
			"$(swj show "$addr" --json)" \
			'(.penalty.active | not) and .penalty.offences == 0 and .health.probation.failed == 0'
	done
fi

# After the attack: the emergency ends, the attackers stay refused.
for ((i = 0; i < 60; i++)); do
	st=$(swj status --json)
	[ "$(jq -r '.emergency.active' <<<"$st")" = false ] && break
	sleep 0.5
done
check_jq "the emergency ended after the attack" "$st" '.emergency.active == false'
n=$(penalised_attackers)
tap_check "right after the emergency, every attacking address penalised during it still is ($n of $max_penalised)" \
	"$(swj top -n 20)" [ "$n" -ge "$max_penalised" ]
start_load retry "$LAB_NS_ATK" legit --to "$SRV" --from "${ATK_ADDRS[1]}" --duration 1 \
	--interval-ms 1000 --timeout-ms 3000 || bail "start the attacker's retry"
wait_load retry
tap_check "an attacking address that tries again after the emergency is refused" \
	"$(cat "$(load_out retry)")" grep -q 'ok=0' "$(load_out retry)"
start_load after "$LAB_NS_LEGIT" legit --to "$SRV" --from "$NEWCOMER" --duration 2 \
	--interval-ms 500 --timeout-ms 3000 || bail "start the sender after the attack"
wait_load after
R=$(legit_window after "$(load_start_ms after)" 0 999999)
tap_check "after the emergency the new sender is served: $(kv "$R" all_ok)/$(kv "$R" all_total)" "$R" \
	all_served "$(kv "$R" all_ok)" "$(kv "$R" all_total)"
if _proc_alive "$DAEMON_PID"; then
	tap_ok "the daemon ran through the attack"
else
	tap_fail "the daemon ran through the attack" "$(tail -n 20 "$DAEMON_LOG")"
fi
note "since=$since; probation: $(jq -c '.emergency.probation' <<<"$st" 2>/dev/null)"
stop_daemon
tap_done
