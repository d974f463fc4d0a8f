#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Allowlist: an allowed source is not rate limited (but still counted);
# `disallow` subjects it to the limits again.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

e2e_setup
write_config limits.syn_rate=1/min limits.syn_burst=1 limits.max_sessions=0
must_start_daemon
check_native

for fam in 4 6; do
	if [ "$fam" = 4 ]; then
		a=$(c4 4) cidr=$(c4 4)/32 ctl=$(c4 5)
	else
		a=$(c6b 4) cidr=$NET6B ctl=$(c6 5)
	fi

	expect_conn "IPv$fam: control: the limit (1/min, burst 1) admits 1 of 3" "$ctl" 3 1
	check "IPv$fam: allow $cidr" sw allow "$cidr" --reason friend
	allows=$(swj list allows --json)
	check_jq "IPv$fam: list allows --json shows it" "$allows" \
		'any(.allows[]; .cidr == $c and .reason == "friend" and .active == true)' --arg c "$cidr"
	expect_conn "IPv$fam: allowlisted source: 5 sequential connects all succeed" "$a" 5 5
	show=$(swj show "$a" --json)
	check_jq "IPv$fam: show counts the 5 allowlisted connections" "$show" \
		'.list == "allow" and .syn == 5 and .admitted == 5 and .dropped.rate == 0 and
		 .sessions_total == 5'
	check "IPv$fam: disallow $cidr" sw disallow "$cidr"
	out=$(conn "$a" --count 3 --timeout-ms 700 2>&1) || true
	if [ "$(kv "$out" connected)" -le 1 ] 2>/dev/null && [ "$(kv "$out" failed)" -ge 2 ]; then
		tap_ok "IPv$fam: after disallow the limit applies again (at most 1 of 3)"
	else
		tap_fail "IPv$fam: after disallow the limit applies again (at most 1 of 3)" "got: $out"
	fi
	show=$(swj show "$a" --json)
	check_jq "IPv$fam: show: no longer on a list, rate drops counted" "$show" \
		'.list == "none" and .dropped.rate >= 2'
done

allows=$(swj list allows --json)
check_jq "list allows is empty again" "$allows" '.allows | length == 0'

tap_done
