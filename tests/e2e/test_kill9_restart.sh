#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The daemon is not in the data path: after kill -9 enforcement goes on
# (bans, rate limits), held sessions survive, and a restarted daemon adopts
# the pinned state without resetting counters, bans or sessions. `detach`
# removes everything.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

e2e_setup
write_config limits.syn_rate=5/min limits.syn_burst=3 limits.max_sessions=0
must_start_daemon
check_native

check "ban $(c4 3)" sw ban "$(c4 3)" --reason kill9
check "ban $NET6B" sw ban "$NET6B" --reason kill9
for f in 4 6; do
	if [ "$f" = 4 ]; then a=$(c4 2); else a=$(c6 2); fi
	if ! start_hold "v$f" "$a" 3 2>"$TMPD/hold.err"; then
		bail "IPv$f: hold 3 connections" "$(cat "$TMPD/hold.err")"
	fi
	tap_is "IPv$f: holder has its 3 connections" "$(hold_output "v$f")" "connected=3 failed=0"
done

before=$(swj status --json)
check_jq "status before kill -9: counters sane" "$before" \
	'.stats.admitted >= 6 and .stats.syn >= 6 and .stats.sessions_opened >= 6'
b_admitted=$(json_get "$before" '.stats.admitted')
b_syn=$(json_get "$before" '.stats.syn')
b_opened=$(json_get "$before" '.stats.sessions_opened')
check_jq "IPv4: show: the holding source has sessions_now 3" "$(swj show "$(c4 2)" --json)" \
	'.sessions_now == 3'
check_jq "IPv6: show: the holding source has sessions_now 3" "$(swj show "$(c6 2)" --json)" \
	'.sessions_now == 3'

# kill -9: nothing may change for the data path.
pid=$DAEMON_PID
kill9_daemon
if _proc_alive "$pid"; then
	tap_fail "daemon killed by SIGKILL" "pid $pid still alive"
else
	tap_ok "daemon killed by SIGKILL"
fi
st=$(swj status --json)
check_jq "status without a daemon: not running, program still attached" "$st" \
	'.daemon.running == false and any(.attached[]; .ifname == $i)' --arg i "$IF_S"
expect_conn "no daemon: IPv4 banned address still refused" "$(c4 3)" 1 0
expect_conn "no daemon: IPv6 banned /64 still refused" "$(c6b 4)" 1 0
expect_conn "no daemon: IPv4 rate limit still applies (burst used by the holder)" "$(c4 2)" 1 0
expect_conn "no daemon: IPv6 rate limit still applies (burst used by the holder)" "$(c6 3)" 1 0
expect_conn "no daemon: IPv4 fresh source: 3 of 4 pass" "$(c4 5)" 4 3
expect_conn "no daemon: IPv6 fresh source: connects" "$(c6c 2)" 1 1

# Restart: adopt the pins.
must_start_daemon
check_native
after=$(swj status --json)
check_jq "after restart: counters not reset (admitted, syn, sessions_opened)" "$after" \
	'.stats.admitted >= $a and .stats.syn >= $s and .stats.sessions_opened >= $o and
	 .stats.dropped.deny >= 2 and .stats.dropped.rate >= 3' \
	--argjson a "$b_admitted" --argjson s "$b_syn" --argjson o "$b_opened"
bans=$(swj list bans --json)
check_jq "after restart: both bans still listed" "$bans" \
	'any(.bans[]; .cidr == $a and .active == true) and
	 any(.bans[]; .cidr == $b and .active == true)' --arg a "$(c4 3)/32" --arg b "$NET6B"
expect_conn "after restart: IPv4 ban still enforced" "$(c4 3)" 1 0
expect_conn "after restart: IPv6 ban still enforced" "$(c6b 3)" 1 0
check_jq "after restart: IPv4 holder still has sessions_now 3" "$(swj show "$(c4 2)" --json)" \
	'.sessions_now == 3'
check_jq "after restart: IPv6 holder still has sessions_now 3" "$(swj show "$(c6 2)" --json)" \
	'.sessions_now == 3'

release_holds v4 v6
tap_is "IPv4: the held sessions survived kill -9 and restart" "$(hold_output v4 | tail -n 1)" "alive=3"
tap_is "IPv6: the held sessions survived kill -9 and restart" "$(hold_output v6 | tail -n 1)" "alive=3"
check_jq "IPv4: the sessions closed by FIN: sessions_now 0" "$(swj show "$(c4 2)" --json)" \
	'.sessions_now == 0'

# SIGTERM leaves enforcement attached; detach removes it.
stop_daemon
st=$(swj status --json)
check_jq "SIGTERM: daemon gone, program still attached" "$st" \
	'.daemon.running == false and any(.attached[]; .ifname == $i)' --arg i "$IF_S"
expect_conn "after SIGTERM: IPv4 ban still enforced" "$(c4 3)" 1 0
check "detach" sw detach
st=$(swj status --json)
check_jq "after detach: status shows nothing attached" "$st" '.attached | length == 0'
check "after detach: no XDP program on $IF_S" \
	bash -c "! ip -n '$NS_S' link show '$IF_S' | grep -q xdp"
check "after detach: no pins left under $BPFFS_DIR" \
	bash -c "[ ! -e '$BPFFS_DIR' ] || [ -z \"\$(ls -A '$BPFFS_DIR')\" ]"
expect_conn "after detach: the banned IPv4 address connects" "$(c4 3)" 1 1
expect_conn "after detach: the banned IPv6 /64 connects" "$(c6b 3)" 1 1
expect_conn "after detach: no rate limit" "$(c4 2)" 4 4

tap_done
