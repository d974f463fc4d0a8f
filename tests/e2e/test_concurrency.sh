#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Per-source concurrency limit: max_sessions 2 refuses a third concurrent
# connection of a source; the client's FIN frees the slot again.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

e2e_setup
write_config limits.syn_rate=off limits.max_sessions=2
must_start_daemon
check_native

for fam in 4 6; do
	if [ "$fam" = 4 ]; then
		a=$(c4 2) same=$(c4 2) other=$(c4 3) src=$(c4 2)/32
	else
		# c6 addresses share one /64: one source.
		a=$(c6 2) same=$(c6 3) other=$(c6b 2) src=$NET6
	fi

	out=$(conn "$a" --count 3 --timeout-ms 700 --hold-ms 1500 2>&1) || true
	tap_is "IPv$fam: 3 concurrent connects from one source: 2 connected and stay usable" \
		"$out" "connected=2 failed=1 held_ok=2"
	show=$(swj show "$a" --json)
	check_jq "IPv$fam: sessions closed by FIN: sessions_now 0, sessions_total 2" "$show" \
		'.source == $s and .sessions_now == 0 and .sessions_total == 2 and
		 .dropped.concurrency == 1' --arg s "$src"
	expect_conn "IPv$fam: after those closed, a new connect succeeds" "$a" 1 1

	if ! start_hold "v$fam" "$a" 2 2>"$TMPD/hold.err"; then
		bail "IPv$fam: hold 2 connections" "$(cat "$TMPD/hold.err")"
	fi
	tap_is "IPv$fam: holder has its 2 connections" "$(hold_output "v$fam")" "connected=2 failed=0"
	show=$(swj show "$a" --json)
	check_jq "IPv$fam: show reports sessions_now 2 while held" "$show" '.sessions_now == 2'
	if [ "$fam" = 4 ]; then
		expect_conn "IPv4: a third concurrent connect of the source is refused" "$same" 1 0
	else
		expect_conn "IPv6: another address of the same /64 is refused too" "$same" 1 0
	fi
	expect_conn "IPv$fam: another source still connects" "$other" 1 1
	release_holds "v$fam"
	tap_is "IPv$fam: held sessions were alive to the end" \
		"$(hold_output "v$fam" | tail -n 1)" "alive=2"
	expect_conn "IPv$fam: once released, the source connects again" "$same" 2 2
done

st=$(swj status --json)
check_jq "status: dropped.concurrency >= 4, nothing for rate, sessions opened == closed" "$st" \
	'.stats.dropped.concurrency >= 4 and .stats.dropped.rate == 0 and
	 .stats.sessions_opened == .stats.sessions_closed and .sessions == 0'

tap_done
