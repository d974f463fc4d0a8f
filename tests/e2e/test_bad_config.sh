#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Configuration errors: a bad file stops `run` with file, line and key; a
# bad file on SIGHUP keeps the daemon and its old limits; a good changed
# file on SIGHUP applies the new limits without losing counters.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

e2e_setup
# The CLI reads the config file too: while $CONF is bad, ask it with a good one.
GOOD=$TMPD/good.conf
write_config_to "$GOOD" limits.syn_rate=5/min limits.syn_burst=3 limits.max_sessions=0

# line_of FILE KEY: the line number of "KEY = ..." in FILE.
line_of() {
	grep -n "^$2 = " "$1" | head -n 1 | cut -d: -f1
}

# A bad value refuses to start, naming file, line and key.
write_config limits.syn_rate=fast limits.syn_burst=3
line=$(line_of "$CONF" syn_rate)
rc=0
out=$(SW_TIMEOUT=10 sw run 2>&1) || rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then
	tap_ok "run with syn_rate = fast exits non-zero ($rc)"
else
	tap_fail "run with syn_rate = fast exits non-zero" "exit $rc (124: still running after 10 s)"$'\n'"$out"
fi
if grep -qF "$CONF:$line" <<<"$out" && grep -q 'syn_rate' <<<"$out"; then
	tap_ok "the message names file:line ($CONF:$line) and key (syn_rate)"
else
	tap_fail "the message names file:line ($CONF:$line) and key (syn_rate)" "$out"
fi
st=$(CONF=$GOOD swj status --json)
check_jq "nothing attached after the refused start" "$st" \
	'(.attached | length) == 0 and .daemon.running == false'

# An unknown key is an error too.
write_config limits.syn_rate=5/min limits.max_sesions=3
line=$(line_of "$CONF" max_sesions)
rc=0
out=$(SW_TIMEOUT=10 sw run 2>&1) || rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -qF "$CONF:$line" <<<"$out" &&
   grep -q 'max_sesions' <<<"$out"; then
	tap_ok "run with a misspelt key exits non-zero naming file:line and key"
else
	tap_fail "run with a misspelt key exits non-zero naming file:line and key" "exit $rc"$'\n'"$out"
fi

# A good config: 5/min, burst 3.
cp "$GOOD" "$CONF"
must_start_daemon
check_native
expect_conn "IPv4: burst 3 enforced" "$(c4 2)" 4 3
expect_conn "IPv6: burst 3 enforced" "$(c6 2)" 4 3
before=$(swj status --json)

# SIGHUP with a bad file: keep running with the old limits, log the error.
write_config limits.syn_rate=5/min limits.syn_burst=lots limits.max_sessions=0
line=$(line_of "$CONF" syn_burst)
log_lines=$(wc -l <"$DAEMON_LOG")
kill -HUP "$DAEMON_PID"
if wait_for 5 bash -c "tail -n +$((log_lines + 1)) '$DAEMON_LOG' | grep -q syn_burst"; then
	tap_ok "bad reload: the error (key syn_burst) is logged"
else
	tap_fail "bad reload: the error (key syn_burst) is logged" \
		"log since SIGHUP:"$'\n'"$(tail -n +$((log_lines + 1)) "$DAEMON_LOG")"
fi
if tail -n +$((log_lines + 1)) "$DAEMON_LOG" | grep -qF "$CONF:$line"; then
	tap_ok "bad reload: the log names file:line ($CONF:$line)"
else
	tap_fail "bad reload: the log names file:line ($CONF:$line)" \
		"$(tail -n +$((log_lines + 1)) "$DAEMON_LOG")"
fi
sleep 0.5
if daemon_alive; then
	tap_ok "bad reload: the daemon keeps running"
else
	bail "bad reload: the daemon keeps running" "$(tail -n 20 "$DAEMON_LOG")"
fi
st=$(CONF=$GOOD swj status --json)
check_jq "bad reload: status still shows the daemon attached" "$st" \
	'.daemon.running == true and any(.attached[]; .ifname == $i)' --arg i "$IF_S"
expect_conn "bad reload: IPv4 old limit still enforced on a fresh source (3 of 4)" "$(c4 3)" 4 3
expect_conn "bad reload: IPv6 old limit still enforced on a fresh source (3 of 4)" "$(c6b 2)" 4 3

# SIGHUP with a good, changed file: burst 6 applies, counters stay.
write_config limits.syn_rate=5/min limits.syn_burst=6 limits.max_sessions=0
mid=$(swj status --json)
kill -HUP "$DAEMON_PID"
sleep 1.5
if daemon_alive; then
	tap_ok "good reload: the daemon keeps running"
else
	bail "good reload: the daemon keeps running" "$(tail -n 20 "$DAEMON_LOG")"
fi
expect_conn "good reload: IPv4 new burst 6 applies to a fresh source (6 of 8)" "$(c4 4)" 8 6
expect_conn "good reload: IPv6 new burst 6 applies to a fresh source (6 of 8)" "$(c6c 2)" 8 6
after=$(swj status --json)
check_jq "good reload: counters not reset" "$after" \
	'.stats.syn >= ($m.stats.syn + 16) and .stats.admitted >= ($m.stats.admitted + 12) and
	 .stats.dropped.rate >= ($m.stats.dropped.rate + 4) and
	 .stats.dropped.rate >= ($b.stats.dropped.rate)' \
	--argjson m "$mid" --argjson b "$before"
check_jq "good reload: per-source counters kept" "$(swj show "$(c4 2)" --json)" \
	'.syn == 4 and .admitted == 3 and .dropped.rate == 1'

tap_done
