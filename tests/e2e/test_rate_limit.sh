#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Per-source SYN rate limit: syn_rate 5/min with a burst of 3 admits exactly
# three quick connections from a source and drops the rest of its SYNs,
# while other sources still connect. IPv6 sources are /64 prefixes.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

e2e_setup
write_config limits.syn_rate=5/min limits.syn_burst=3 limits.max_sessions=0
must_start_daemon
check_native

# IPv4
expect_conn "IPv4: 3 of 6 connects from one source pass the burst of 3" "$(c4 2)" 6 3
expect_conn "IPv4: another source is not limited by the first one's rate" "$(c4 3)" 1 1
show=$(swj show "$(c4 2)" --json)
check_jq "IPv4: show counts 6 SYNs, 3 admitted, 3 dropped for rate" "$show" \
	'.source == $s and .known == true and .syn == 6 and .admitted == 3 and
	 .dropped.rate == 3 and .sessions_total == 3 and .sessions_now == 0' \
	--arg s "$(c4 2)/32"

# IPv6
expect_conn "IPv6: 3 of 6 connects from one source pass the burst of 3" "$(c6 2)" 6 3
expect_conn "IPv6: another address of the same /64 is the same source: limited" "$(c6 3)" 1 0
expect_conn "IPv6: a source in another /64 is not limited" "$(c6b 2)" 1 1
show=$(swj show "$(c6 3)" --json)
check_jq "IPv6: show aggregates the /64: 7 SYNs, 3 admitted, 4 dropped for rate" "$show" \
	'.source == $s and .syn == 7 and .admitted == 3 and .dropped.rate == 4' \
	--arg s "$NET6"

st=$(swj status --json)
check_jq "status: dropped.rate >= 7, nothing dropped for another reason" "$st" \
	'.stats.dropped.rate >= 7 and .stats.dropped.concurrency == 0 and
	 .stats.dropped.deny == 0 and .stats.dropped.penalty == 0 and
	 .stats.would_drop.rate == 0 and .dry_run == false'
check_jq "status: daemon running, admitted >= 8, syn >= 15" "$st" \
	'.daemon.running == true and .stats.admitted >= 8 and .stats.syn >= 15'

tap_done
