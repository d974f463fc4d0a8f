#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# State faults: a damaged state.db (not a database at all, or a truncated
# one) no longer keeps the daemon from starting. It is set aside, never
# overwritten; the daemon says so loudly, runs on a fresh state.db, takes
# the CLI's bans still loaded in the kernel back into it, and `status`
# shows the fault while the set-aside file is there. Bans that would cut
# the host off (every address, or the host's own) need --force.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

DB=$TMPD/state/state.db

# start_ready: must_start_daemon, then wait (20 s) until this run has
# loaded: the pinned link passes status's check before the program loads.
start_ready() {
	local from

	from=$(($(wc -l <"$DAEMON_LOG") + 1))
	must_start_daemon
	wait_for 20 sh -c "tail -n +$from $(printf '%q' "$DAEMON_LOG") | grep -q 'guarding ports'" ||
		bail "the daemon did not finish starting" "$(tail -n 20 "$DAEMON_LOG")"
}

e2e_setup
write_config limits.syn_rate=off limits.max_sessions=0
must_start_daemon
check_native

BAN1=$(c4 5) BAN2=$(c6 5)
check "ban $BAN1 (no end)" sw ban "$BAN1" --reason "test abuse"
check "ban $BAN2 for 1h" sw ban "$BAN2" --for 1h
expect_conn "the banned source is dropped" "$BAN1" 1 0
stop_daemon

# 1. Not a database at all.
printf 'this is not an SQLite database, just damage\n%.0s' {1..200} >"$DB"
rm -f "$DB-wal" "$DB-shm"
cp "$DB" "$TMPD/damaged.copy"
log_lines=$(wc -l <"$DAEMON_LOG")
start_ready
check_native
if tail -n +"$((log_lines + 1))" "$DAEMON_LOG" | grep -q 'STATE DATABASE DAMAGED: .*set aside as'; then
	tap_ok "the daemon started and said loudly that state.db was damaged and set aside"
else
	tap_fail "the daemon started and said loudly that state.db was damaged and set aside" \
		"$(tail -n 20 "$DAEMON_LOG")"
fi
mapfile -t bad < <(ls "$TMPD"/state/state.db.bad-* 2>/dev/null | grep -v -- '-wal$\|-shm$')
tap_is "one set-aside file" "${#bad[@]}" 1
check "the set-aside file is the damaged one, byte for byte" cmp "${bad[0]}" "$TMPD/damaged.copy"
expect_conn "the ban still loaded in the kernel is enforced" "$BAN1" 1 0
bans=$(swj list bans --json)
check_jq "both CLI bans were taken back from the kernel into the fresh state.db" "$bans" \
	'([.bans[] | select(.reason | test("recovered from the kernel"))] | length == 2)
	 and any(.bans[]; .cidr == $a)' --arg a "$BAN1/32"
check_jq "the timed ban kept its end (within the hour)" "$bans" \
	'any(.bans[]; (.cidr | test(":")) and .expires_in_s != null and .expires_in_s > 3500
	 and .expires_in_s <= 3600)'
st=$(swj status --json)
check_jq "status --json names the fault and the set-aside file" "$st" \
	'.state_recovered.set_aside_as == $f and (.state_recovered.why | test("not a database"))' \
	--arg f "${bad[0]}"
out=$(swj status)
if grep -q 'DAMAGED state.db set aside as' <<<"$out"; then
	tap_ok "status says so in text"
else
	tap_fail "status says so in text" "$out"
fi
check "a new ban is recorded in the fresh state.db" sw ban "$(c4 6)"

# Survives a restart: the recovered bans are in the fresh database now.
stop_daemon
start_ready
bans=$(swj list bans --json)
check_jq "after a restart: the recovered bans and the new one are there" "$bans" '.bans | length == 3'

# The operator moved the file away: the note goes.
mv "${bad[0]}" "$TMPD/looked-at.db"
st=$(swj status --json)
check_jq "once the set-aside file is moved away, status no longer shows the fault" "$st" \
	'.state_recovered == null'

# 2. A truncated database: it opens, but does not read whole.
stop_daemon
size=$(stat -c %s "$DB")
truncate -s 1024 "$DB"
note "state.db truncated from $size to 1024 bytes"
log_lines=$(wc -l <"$DAEMON_LOG")
start_ready
if tail -n +"$((log_lines + 1))" "$DAEMON_LOG" | grep -q 'STATE DATABASE DAMAGED'; then
	tap_ok "a truncated state.db is found damaged too, and set aside"
else
	tap_fail "a truncated state.db is found damaged too, and set aside" "$(tail -n 20 "$DAEMON_LOG")"
fi
expect_conn "the bans are still enforced after the second fault" "$BAN1" 1 0
check_jq "and recovered again" "$(swj list bans --json)" '.bans | length == 3'

# Bans that would cut the host off need --force.
srv_net=$(c4 0)/24
for cidr in 0.0.0.0/0 ::/0 "$srv_net" "$(c4 1)/32"; do
	rc=0
	out=$(sw ban "$cidr" 2>&1) || rc=$?
	if [ "$rc" -eq 2 ] && grep -q -- '--force' <<<"$out"; then
		tap_ok "ban $cidr is refused without --force"
	else
		tap_fail "ban $cidr is refused without --force" "exit $rc: $out"
	fi
done
check_jq "nothing was recorded by the refused bans" "$(swj list bans --json)" '.bans | length == 3'
check "ban 0.0.0.0/0 --force is accepted" sw ban 0.0.0.0/0 --force --for 1m
expect_conn "... and enforced" "$(c4 7)" 1 0
check "unban 0.0.0.0/0 undoes it" sw unban 0.0.0.0/0
expect_conn "... and sources connect again" "$(c4 7)" 1 1
rc=0
out=$(sw allow 0.0.0.0/0 --force 2>&1) || rc=$?
tap_is "--force goes with ban only (a usage error elsewhere)" "$rc" 2

tap_done
