#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Emergency mode from the command line: `smtpwall emergency on` with
# probation off (probation_share = 0%) refuses new sessions from sources not
# known to be good while allowlisted ones and established sessions carry on;
# the mode is kept in state.db, so a daemon killed with -9 and started again
# is still in emergency mode; `auto` lets the controller leave once calm,
# `off` forces it off; bad arguments are usage errors. Then, with probation
# on (the default share) and a reload: an unproven source is admitted one
# session at a time, its second concurrent session refused as busy, and
# status and show count both.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

active_is() {
	[ "$(sw status --json | jq -r .emergency.active)" = "$1" ]
}

e2e_setup
write_config limits.syn_rate=off limits.max_sessions=0 emergency.hold=1s \
	emergency.probation_share=0% "allow.cidr=$(c4 4)/32"
must_start_daemon
check_native

expect_conn "before: an unknown source connects" "$(c4 2)" 1 1
start_hold est "$(c4 3)" 2 || bail "hold two sessions from $(c4 3)" "$(hold_output est)"

out=$(sw emergency maybe 2>&1) && rc=0 || rc=$?
tap_is "emergency maybe: a usage error (exit 2)" "$rc" 2
out=$(sw emergency on off 2>&1) && rc=0 || rc=$?
tap_is "emergency on off: a usage error (exit 2)" "$rc" 2

check "emergency on" sw emergency on
js=$(swj emergency --json)
check_jq "emergency --json: mode on, active" "$js" '.mode == "on" and .active == true'
if _event_wait 5 '.kind == "emergency" and .action == "entered" and .reason == "manual" and
		 (.text | startswith("entered: turned on by the operator"))'; then
	tap_ok "the daemon told the transition with its reason (an emergency event)"
else
	tap_fail "the daemon logged the transition with its reason" "$(tail -n 5 "$DAEMON_LOG")"
fi
expect_conn "in emergency: a source never seen is refused" "$(c4 5)" 2 0
expect_conn "in emergency: a known source that never completed a session is refused" "$(c4 2)" 2 0
expect_conn "in emergency: an allowlisted source is admitted" "$(c4 4)" 2 2
release_holds est
check_jq "in emergency: the established sessions carried on" "$(hold_output est)" \
	'true' --raw-input >/dev/null 2>&1
ho=$(hold_output est)
tap_is "in emergency: both held sessions were still alive when released" "$(kv "$(grep '^alive=' <<<"$ho")" alive)" 2
st=$(swj status --json)
check_jq "status: emergency active, mode on, reason manual; refusals counted" "$st" \
	'.emergency.active == true and .emergency.mode == "on" and .emergency.reason == "manual" and
	 .stats.dropped.emergency >= 4 and .emergency.entered >= 1'
check "show: the refused source's drops are counted as emergency" \
	sh -c "$(printf '%q ' "$SMTPWALL") -c $(printf '%q' "$CONF") show $(c4 5) --json | jq -e '.known == false'"

# A crash and a restart: the mode comes from state.db, the state from the pins.
kill9_daemon
expect_conn "daemon killed: the kernel still refuses unknown sources" "$(c4 6)" 1 0
must_start_daemon
st=$(swj status --json)
check_jq "restarted: still in emergency mode, mode on, the count kept" "$st" \
	'.emergency.active == true and .emergency.mode == "on" and .emergency.entered >= 1'
expect_conn "restarted: unknown sources still refused" "$(c4 6)" 1 0

# auto: the controller leaves once sessions are below the low-water mark and
# nothing has pressed for the hold time (1 s).
check "emergency auto" sw emergency auto
if wait_for 10 active_is false; then
	tap_ok "auto: emergency mode left once calm"
else
	tap_fail "auto: emergency mode left once calm" "$(swj status --json | jq -c .emergency)"
fi
check_event "the daemon told why it left (an emergency event)" \
	'.kind == "emergency" and .action == "left" and (.text | test("below the low-water mark"))'
expect_conn "after: unknown sources connect again" "$(c4 6)" 1 1

check "emergency on, then off" sh -c "$(printf '%q ' "$SMTPWALL") -c $(printf '%q' "$CONF") emergency on >/dev/null &&
	$(printf '%q ' "$SMTPWALL") -c $(printf '%q' "$CONF") emergency off >/dev/null"
wait_for 5 active_is false || true
st=$(swj status --json)
check_jq "off: inactive, mode off" "$st" '.emergency.active == false and .emergency.mode == "off"'
expect_conn "off: unknown sources connect" "$(c4 7)" 1 1

# Probation: the default share (20 % of mta_capacity), one session per
# unproven source. A reload brings it in; the mode stays as set.
write_config limits.syn_rate=off limits.max_sessions=0 emergency.hold=1s \
	"allow.cidr=$(c4 4)/32"
log_lines=$(wc -l <"$DAEMON_LOG")
kill -HUP "$DAEMON_PID"
if wait_for 5 sh -c "tail -n +$((log_lines + 1)) $(printf '%q' "$DAEMON_LOG") | grep -q 'configuration reloaded'"; then
	tap_ok "probation: the daemon reloaded the config"
else
	tap_fail "probation: the daemon reloaded the config" "$(tail -n 5 "$DAEMON_LOG")"
fi
check "probation: emergency on" sw emergency on
# The slots are the health controller's, set on its next run (gc_interval).
slots_are() { [ "$(sw status --json | jq -r .emergency.probation.slots)" = "$1" ]; }
wait_for 5 slots_are 20 || true
js=$(swj status --json)
check_jq "probation: status shows the slots (20 of capacity 100), one per source" "$js" \
	'.emergency.active == true and .emergency.probation.slots == 20 and .emergency.probation.per_source == 1'
start_hold prob "$(c4 8)" 1 || bail "probation: hold one session from $(c4 8)" "$(hold_output prob)"
tap_is "probation: an unproven source is admitted on probation" "$(kv "$(hold_output prob)" connected)" 1
expect_conn "probation: its second concurrent session is refused (one per source)" "$(c4 8)" 1 0
expect_conn "probation: another unproven source is admitted beside it" "$(c4 9)" 1 1
release_holds prob
js=$(swj status --json)
check_jq "probation: admissions and the busy refusal counted" "$js" \
	'.emergency.probation.admitted >= 2 and .emergency.probation.refused_busy >= 1'
sh_out=$(swj show "$(c4 8)" --json)
check_jq "probation: show names the source's probation admission" "$sh_out" \
	'.known == true and .health.probation.admitted >= 1'
check "probation: emergency off" sw emergency off

tap_done
