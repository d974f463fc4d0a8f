#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Bans: `smtpwall ban` refuses a source at once, `unban` lets it back in,
# `--for` bans expire by themselves; IPv6 prefixes and single addresses.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

e2e_setup
write_config limits.syn_rate=off limits.max_sessions=0
must_start_daemon
check_native

# IPv4 ban and unban
b4=$(c4 3)
check "IPv4: ban $b4 --reason test" sw ban "$b4" --reason test
expect_conn "IPv4: the banned address is refused" "$b4" 1 0
expect_conn "IPv4: other addresses still connect" "$(c4 2)" 2 2
bans=$(swj list bans --json)
check_jq "list bans --json shows the ban with its reason" "$bans" \
	'any(.bans[]; .cidr == $c and .reason == "test" and .origin == "cli" and
	     .active == true and .expires_in_s == null)' --arg c "$b4/32"
show=$(swj show "$b4" --json)
# Banned before it ever connected: dropped without being given state.
check_jq "show: the banned source is on the deny list, dropped without state" "$show" \
	'.list == "deny" and .list_entry.cidr == $c and .known == false' --arg c "$b4/32"
check_jq "status: the deny drops are counted" "$(swj status --json)" '.stats.dropped.deny >= 1'
check "IPv4: unban $b4" sw unban "$b4"
expect_conn "IPv4: the unbanned address connects again" "$b4" 1 1
bans=$(swj list bans --json)
check_jq "list bans no longer shows it" "$bans" 'all(.bans[]; .cidr != $c)' --arg c "$b4/32"

# A ban that expires
t4=$(c4 4)
check "IPv4: ban $t4 --for 2s" sw ban "$t4" --for 2s --reason temporary
expect_conn "IPv4: the temporarily banned address is refused" "$t4" 1 0
bans=$(swj list bans --json)
check_jq "list bans shows the ban expiring within 2 s" "$bans" \
	'any(.bans[]; .cidr == $c and .active == true and
	     (.expires_in_s | type) == "number" and .expires_in_s <= 2)' --arg c "$t4/32"
sleep 3
expect_conn "IPv4: 3 s later the ban has expired: connects" "$t4" 1 1
bans=$(swj list bans --json)
check_jq "the expired ban is not listed as active" "$bans" \
	'all(.bans[]; .cidr != $c or .active == false)' --arg c "$t4/32"

# IPv6: a /64
# The server's own address is in that /64: the ban needs --force.
rc=0
out=$(sw ban "$NET6" --reason net 2>&1) || rc=$?
if [ "$rc" -eq 2 ] && grep -q "this host's own address" <<<"$out"; then
	tap_ok "IPv6: ban $NET6 (the server's own /64) is refused without --force"
else
	tap_fail "IPv6: ban $NET6 (the server's own /64) is refused without --force" "exit $rc: $out"
fi
check "IPv6: ban $NET6 --force" sw ban "$NET6" --reason net --force
expect_conn "IPv6: $(c6 3) in the banned /64 is refused" "$(c6 3)" 1 0
expect_conn "IPv6: $(c6 7) in the banned /64 is refused" "$(c6 7)" 1 0
expect_conn "IPv6: another /64 still connects" "$(c6b 3)" 1 1
expect_conn "IPv4 still connects during an IPv6 ban" "$(c4 2)" 1 1
bans=$(swj list bans --json)
check_jq "list bans shows the IPv6 prefix" "$bans" \
	'any(.bans[]; .cidr == $c and .reason == "net" and .active == true)' --arg c "$NET6"
check "IPv6: unban $NET6" sw unban "$NET6"
expect_conn "IPv6: unbanned /64 connects again" "$(c6 3)" 1 1

# IPv6: one address inside a /64 source (sources are /64 by default, the
# ban is on the address): only that address is refused, whichever of the
# source's addresses is seen first after the ban.
check "IPv6: ban the single address $(c6b 5)" sw ban "$(c6b 5)" --reason one
expect_conn "IPv6 single-address ban: a neighbour in the same /64 connects (seen first)" "$(c6b 4)" 1 1
expect_conn "IPv6 single-address ban: the banned address is refused (seen second)" "$(c6b 5)" 1 0
check "IPv6: unban $(c6b 5)" sw unban "$(c6b 5)"
check "IPv6: ban $(c6b 5) again" sw ban "$(c6b 5)" --reason one
expect_conn "IPv6 single-address ban: the banned address is refused (seen first)" "$(c6b 5)" 1 0
expect_conn "IPv6 single-address ban: a neighbour in the same /64 connects (seen second)" "$(c6b 4)" 1 1
check "IPv6: unban $(c6b 5)" sw unban "$(c6b 5)"

st=$(swj status --json)
check_jq "status: dropped.deny >= 5" "$st" '.stats.dropped.deny >= 5'

tap_done
