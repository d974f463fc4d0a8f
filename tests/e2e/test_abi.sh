#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The pinned state's layout version: the loader records it when it creates
# the pins; a daemon or CLI finding pins of another version, or pins without
# one (an older smtpwall), refuses them with a message naming `smtpwall
# detach`, and leaves them alone; after `detach`, `run` starts afresh.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

ABI_MAP=$BPFFS_DIR/sw_abi

# abi_words: the pinned record as bpftool prints it (hex bytes).
abi_bytes() {
	bpftool map lookup pinned "$ABI_MAP" key 0 0 0 0 -j 2>/dev/null | jq -r '.value | join(" ")'
}

e2e_setup
write_config limits.syn_rate=5/min limits.syn_burst=3 limits.max_sessions=0
must_start_daemon
check_native

ours=$(abi_bytes)
ver=$(awk '$2 == "SW_ABI_VERSION" { print $3 }' "$ROOT_DIR/include/smtpwall/abi.h")
# magic "SWAB" little-endian, then the version.
check "the loader recorded the layout version (magic SWAB, version $ver)" \
	grep -Eq "^0x42 0x41 0x57 0x53 $(printf '0x%02x' "$ver") 0x00 0x00 0x00" <<<"$ours"

# Penalise a source, so that there is state the refusal must not destroy.
expect_conn "before: 3 of 5 connects pass the burst" "$(c4 2)" 5 3
stop_daemon

# Another layout version in the pins: refused, pins untouched.
read -ra b <<<"$ours"
b[4]=0x63	# version 99
bpftool map update pinned "$ABI_MAP" key 0 0 0 0 value "${b[@]}"
rc=0
out=$(SW_TIMEOUT=15 sw run 2>&1) || rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q "layout version 99, this smtpwall reads version $ver" <<<"$out" &&
   grep -q 'smtpwall detach' <<<"$out"; then
	tap_ok "run refuses pins of layout version 99, naming smtpwall detach"
else
	tap_fail "run refuses pins of layout version 99, naming smtpwall detach" "exit $rc"$'\n'"$out"
fi
out=$(swj status)
if grep -q 'layout version 99' <<<"$out"; then
	tap_ok "status says why it cannot read the pins"
else
	tap_fail "status says why it cannot read the pins" "$out"
fi
tap_is "the refused pins are left alone (the record still says 99)" "$(abi_bytes | cut -d' ' -f5)" 0x63
check "the refused pins are left alone (the program still enforces: the source stays limited)" \
	sh -c "[ -e $(printf '%q' "$BPFFS_DIR/sw_sources") ]"
expect_conn "the kernel still enforces the old limits while refused" "$(c4 2)" 2 0

# Pins without a layout record (made before the version existed): refused too.
rm -f "$ABI_MAP"
rc=0
out=$(SW_TIMEOUT=15 sw run 2>&1) || rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q 'no layout version' <<<"$out" &&
   grep -q 'smtpwall detach' <<<"$out"; then
	tap_ok "run refuses pins without a layout version, naming smtpwall detach"
else
	tap_fail "run refuses pins without a layout version, naming smtpwall detach" "exit $rc"$'\n'"$out"
fi
out=$(swj status)
if grep -q 'smtpwall detach' <<<"$out"; then
	tap_ok "status names smtpwall detach for pins without a version"
else
	tap_fail "status names smtpwall detach for pins without a version" "$out"
fi

# detach, then run: a fresh start with this build's layout.
check "detach removes the pins" sw detach
must_start_daemon
check_native
tap_is "the new pins carry this build's layout record" "$(abi_bytes)" "$ours"
expect_conn "after the fresh start: 3 of 5 connects pass the burst again" "$(c4 2)" 5 3

tap_done
