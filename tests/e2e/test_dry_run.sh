#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Dry run: nothing is dropped, what would have been is counted.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

e2e_setup
write_config limits.syn_rate=1/min limits.syn_burst=1 limits.max_sessions=0
must_start_daemon --dry-run
check_native

st=$(swj status --json)
check_jq "status: dry_run is true" "$st" '.dry_run == true'

expect_conn "IPv4: over the rate limit, 4 of 4 connects succeed" "$(c4 2)" 4 4
expect_conn "IPv6: over the rate limit, 4 of 4 connects succeed" "$(c6 2)" 4 4
show=$(swj show "$(c4 2)" --json)
check_jq "IPv4: show: 3 would-drops for rate, no drop" "$show" \
	'.would_drop.rate == 3 and .dropped.rate == 0 and .admitted == 4'
show=$(swj show "$(c6 2)" --json)
check_jq "IPv6: show: 3 would-drops for rate, no drop" "$show" \
	'.would_drop.rate == 3 and .dropped.rate == 0'

check "ban $(c4 3) in dry run" sw ban "$(c4 3)" --reason dry
expect_conn "IPv4: a banned source still connects in dry run" "$(c4 3)" 1 1
check "ban $NET6B in dry run" sw ban "$NET6B" --reason dry
expect_conn "IPv6: a banned source still connects in dry run" "$(c6b 3)" 1 1

st=$(swj status --json)
check_jq "status: would_drop.rate >= 6, would_drop.deny >= 2" "$st" \
	'.stats.would_drop.rate >= 6 and .stats.would_drop.deny >= 2'
check_jq "status: nothing dropped at all" "$st" \
	'.stats.dropped.rate == 0 and ([.stats.dropped[]] | add) == 0'

tap_done
