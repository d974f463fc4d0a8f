#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# CLI errors: bad arguments exit non-zero with a message naming what was
# wrong, and change nothing.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

e2e_setup
write_config limits.syn_rate=off limits.max_sessions=0
must_start_daemon
check_native

# expect_error DESC PATTERN ARGS...: sw ARGS exits non-zero, and its output
# (stdout and stderr) matches the extended regexp PATTERN.
expect_error() {
	local desc=$1 pat=$2 out rc=0

	shift 2
	out=$(sw "$@" 2>&1) || rc=$?
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -qiE -- "$pat" <<<"$out"; then
		tap_ok "$desc"
	else
		tap_fail "$desc" "smtpwall $*: exit $rc, want non-zero and output matching /$pat/"$'\n'"$out"
	fi
}

expect_error "ban not-a-cidr: error naming the argument" 'not-a-cidr' ban not-a-cidr
expect_error "ban 10.0.0.1/33: bad prefix length" '33' ban 10.0.0.1/33
expect_error "ban 10.0.0.1/24: host bits set" '10\.0\.0\.1/24' ban 10.0.0.1/24
expect_error "ban without an argument: usage" 'usage|CIDR' ban
expect_error "ban --for soon: bad duration" 'soon' ban "$(c4 3)" --for soon
expect_error "allow 300.1.2.3: error naming the argument" '300\.1\.2\.3' allow 300.1.2.3
expect_error "unban garbage: error naming the argument" 'garbage' unban garbage
expect_error "show 999.1.1.1: error naming the argument" '999\.1\.1\.1' show 999.1.1.1
expect_error "show fd00::zz: error naming the argument" 'fd00::zz' show fd00::zz
expect_error "list frobs: bans or allows expected" 'frobs|bans' list frobs
expect_error "top --by nonsense: error" 'nonsense|by' top --by nonsense
expect_error "unknown command: usage" 'usage' frobnicate
expect_error "unknown option of status: error" 'bogus|usage' status --bogus
out=$(timeout 10 nsenter --net="/run/netns/$NS_S" -- "$SMTPWALL" 2>&1) && rc=0 || rc=$?
if [ "$rc" -ne 0 ] && grep -qi usage <<<"$out"; then
	tap_ok "no command: usage and non-zero exit"
else
	tap_fail "no command: usage and non-zero exit" "exit $rc"$'\n'"$out"
fi
out=$(timeout 10 nsenter --net="/run/netns/$NS_S" -- "$SMTPWALL" -c "$TMPD/missing.conf" status 2>&1) &&
	rc=0 || rc=$?
if [ "$rc" -ne 0 ] && grep -qF "$TMPD/missing.conf" <<<"$out"; then
	tap_ok "-c with a missing file: error naming the file"
else
	tap_fail "-c with a missing file: error naming the file" "exit $rc"$'\n'"$out"
fi

bans=$(swj list bans --json)
check_jq "no ban was added by the failed commands" "$bans" '.bans | length == 0'
allows=$(swj list allows --json)
check_jq "no allow was added by the failed commands" "$allows" '.allows | length == 0'
if daemon_alive; then
	tap_ok "the daemon is still running"
else
	tap_fail "the daemon is still running" "$(tail -n 20 "$DAEMON_LOG")"
fi
expect_conn "connections still pass" "$(c4 3)" 1 1

tap_done
