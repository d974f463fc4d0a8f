#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The daemon's event stream (`smtpwall events`): decisions arrive as typed
# events over the control socket (mode 0600) - the backlog, -n, --json and
# --follow; a penalty from a real flood carries its source, reason, length
# and evidence; a reload is streamed to a follower; bad requests on the
# socket get an error and harm nothing; log_format = json writes one JSON
# object per line; with the daemon stopped the command says so.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

e2e_setup
SOCK=$TMPD/state/control.sock
base=(limits.syn_rate=5/min limits.syn_burst=2 limits.max_sessions=0 penalty.strikes=3 penalty.base=30s)
write_config "${base[@]}"

out=$(sw events 2>&1) && rc=0 || rc=$?
tap_is "before the daemon runs, events fails (exit 1)" "$rc" 1
check "and says the daemon is not running" grep -q "the daemon is not running" <<<"$out"

must_start_daemon
check_native
tap_is "the control socket is mode 0600" "$(stat -c %a "$SOCK" 2>&1)" 600

# The backlog, straight from the CLI (not the harness's follower).
backlog=$(sw events --json 2>&1 || true)
check_jq "backlog: the lists were loaded at start" "$backlog" \
	'any(.[]; .kind == "lists" and .action == "loaded" and .reason == "start")' -s
check_jq "backlog: the daemon attached to the interface" "$backlog" \
	'any(.[]; .kind == "link" and .action == "attached" and .source == $i)' -s --arg i "$IF_S"
seqs=$(jq -s '[.[].seq] | . == (sort) and length == (unique | length) and .[0] == 1' <<<"$backlog")
tap_is "events are numbered from 1 in order, no number twice" "$seqs" true

# A follower from now on, before the flood.
SW_TIMEOUT=120 sw events --json --follow -n 0 >"$TMPD/follow.jsonl" 2>"$TMPD/follow.err" &
FOLLOWER=$!
BG_PIDS+=("$FOLLOWER")
sleep 0.5

# 8 SYNs from one source: 2 admitted, 6 dropped for rate; the third strike penalises.
expect_conn "a flood: 2 of 8 connects pass the burst" "$(c4 2)" 8 2
pen='.kind == "penalty" and .action == "dropped" and (.source == $a or .source == ($a + "/32")) and
     .reason == "rate" and .count == 3 and .offence == 1 and .duration_s == 30'
check_event "the penalty is an event: source, reason rate, 3 strikes, offence 1, 30 s" "$pen" --arg a "$(c4 2)"
check_jq "its text is the sentence the log has" "$(sw events --json | jq -s "map(select($pen)) | .[0]" --arg a "$(c4 2)")" \
	'.text | test("dropped for 30s: 3 rate strikes \\(offence 1\\)$")'
check "the follower got it as it happened" \
	wait_for 5 sh -c "jq -e -s 'any(.[]; .kind == \"penalty\")' '$TMPD/follow.jsonl'"
check "the follower did not get the backlog (-n 0)" \
	sh -c "! jq -e -s 'any(.[]; .kind == \"lists\")' '$TMPD/follow.jsonl'"
check "the log still has the penalty line" grep -q "penalty: $(c4 2)\(/32\)\? dropped for 30s" "$DAEMON_LOG"

txt=$(sw events -n 1)
tap_is "-n 1 prints one line" "$(wc -l <<<"$txt")" 1
check "text form: TIME kind: text" grep -qE '^[0-9-]{10}T[0-9:.]{12}Z penalty: .* dropped for 30s' <<<"$txt"
tap_is "-n 0 without --follow prints nothing" "$(sw events -n 0 | wc -l)" 0

# A reload reaches the follower.
kill -HUP "$DAEMON_PID"
check "a follower sees the reload" \
	wait_for 5 sh -c "jq -e -s 'any(.[]; .kind == \"daemon\" and .action == \"reloaded\")' '$TMPD/follow.jsonl'"

# Bad requests on the socket: an error line each, nothing else harmed.
raw() {
	python3 - "$SOCK" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode())
data = b""
while True:
    try:
        b = s.recv(65536)
    except socket.timeout:
        break
    if not b:
        break
    data += b
sys.stdout.write(data.decode(errors="replace"))
PY
}
check "an unknown request gets an error" grep -q '^error: unknown request "status"' <<<"$(raw $'status\n')"
check "an unknown option gets an error" grep -q '^error: events: unknown option "bogus"' <<<"$(raw $'events bogus\n')"
check "a bad count gets an error" grep -q '^error: last=x' <<<"$(raw $'events last=x\n')"
check "a request longer than 256 bytes gets an error" grep -q '^error: request longer' \
	<<<"$(raw "$(head -c 5000 /dev/zero | tr '\0' a)")"
out=$(sw -c "$CONF" events -n 2 --json 2>&1 | head -n 1)
check_jq "the daemon still answers after them" "$out" '.seq > 0'
check "and is still running" daemon_alive

# log_format = json: one object per line, decisions with their fields.
write_config "${base[@]}" general.log_format=json
from=$(($(wc -l <"$DAEMON_LOG") + 1))
kill -HUP "$DAEMON_PID"
wait_for 5 sh -c "tail -n +$from '$DAEMON_LOG' | grep -q 'configuration reloaded'" || true
expect_conn "a second flood, with JSON logs" "$(c4 3)" 8 2
wait_for 5 sh -c "tail -n +$from '$DAEMON_LOG' | grep -q '\"kind\":\"penalty\"'" || true
lines=$(tail -n +"$from" "$DAEMON_LOG" | grep -v '^===' || true)
bad=$(while IFS= read -r l; do [ -z "$l" ] || jq -e . >/dev/null 2>&1 <<<"$l" || echo "$l"; done <<<"$lines")
tap_is "every log line after the reload is a JSON object" "$bad" ""
check_jq "the penalty's log line has the event's fields" \
	"$(grep '"kind":"penalty"' <<<"$lines" | tail -n 1)" \
	'.level == "info" and .reason == "rate" and .count == 3 and (.msg | startswith("penalty: "))'

# Stopping ends the follower's stream and removes the socket.
stop_daemon
check "the follower ends when the daemon stops" wait_for 5 sh -c "! kill -0 $FOLLOWER 2>/dev/null"
check "the follower got the daemon's stopping event" \
	jq -e -s 'any(.[]; .kind == "daemon" and .action == "stopping")' "$TMPD/follow.jsonl"
check "the socket is removed" test ! -e "$SOCK"
out=$(sw events 2>&1) && rc=0 || rc=$?
tap_is "with the daemon stopped, events fails (exit 1)" "$rc" 1

tap_done
