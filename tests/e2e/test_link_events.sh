#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# An interface that disappears and comes back (the veth deleted and made
# again, as a bond rebuild or a driver reload does) gets a new ifindex; the
# daemon hears the link event and attaches to it again, XDP and egress,
# without a restart, and enforcement resumes.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

# The veth pair again, with the addresses setup_topology gives it.
recreate_link() {
	local i

	ip -n "$NS_S" link add "$IF_S" type veth peer name "$IF_C" netns "$NS_C" || return 1
	ip -n "$NS_S" addr add "$SRV4/24" dev "$IF_S" || return 1
	ip -n "$NS_S" -6 addr add "$SRV6/64" dev "$IF_S" nodad || return 1
	for i in 2 3 4 5 6 7 8 9; do
		ip -n "$NS_C" addr add "$(c4 "$i")/24" dev "$IF_C" || return 1
	done
	in_server sysctl -qw "net.ipv6.conf.$IF_S.accept_dad=0" || return 1
	in_client sysctl -qw "net.ipv6.conf.$IF_C.accept_dad=0" || return 1
	ip -n "$NS_S" link set "$IF_S" up || return 1
	ip -n "$NS_C" link set "$IF_C" up || return 1
}

attached_to() {
	sw status --json | jq -e --argjson ix "$1" --arg i "$IF_S" \
		'any(.attached[]; .ifname == $i and .ifindex == $ix and .mode == "native")' >/dev/null
}

e2e_setup
write_config limits.syn_rate=off limits.max_sessions=0
must_start_daemon
check_native
old_ix=$(ip -n "$NS_S" -j link show "$IF_S" | jq '.[0].ifindex')
check "the egress program is attached as a pinned tcx link" test -e "$BPFFS_DIR/egress_$IF_S"

check "ban $(c4 3) takes effect" sw ban "$(c4 3)/32" --reason "link test"
expect_conn "the banned source is dropped before the link goes away" "$(c4 3)" 2 0

ip -n "$NS_S" link del "$IF_S"
sleep 0.5
check "the daemon survives its interface going away" daemon_alive
if ! recreate_link 2>"$TMPD/link.err"; then
	bail "recreate the veth pair" "$(cat "$TMPD/link.err")"
fi
new_ix=$(ip -n "$NS_S" -j link show "$IF_S" | jq '.[0].ifindex')
tap_ok "the interface came back with ifindex $new_ix (was $old_ix)"
if wait_for 10 attached_to "$new_ix"; then
	tap_ok "the daemon attached again to the new interface (native XDP), without a restart"
else
	tap_fail "the daemon attached again to the new interface" "$(swj status --json)"
fi
check "the egress link is pinned again" test -e "$BPFFS_DIR/egress_$IF_S"
check_event "the daemon told the re-attachment (link events)" \
	'.kind == "link" and .action == "changed" and (.text | startswith("link change on a configured interface"))'
wait_for 5 _link_ready || true
expect_conn "enforcement resumed: the banned source is dropped on the new interface" "$(c4 3)" 2 0
expect_conn "another source connects through the new interface" "$(c4 4)" 2 2
st=$(swj status --json)
check_jq "the egress side sees the server again (server segments counted)" "$st" \
	'.health.server_packets > 0'

tap_done
