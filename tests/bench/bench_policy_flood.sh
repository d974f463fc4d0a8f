#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The policy service's latency while the kernel's source table is full: the
# e2e topology, the daemon with the policy service on a unix socket and the
# sessions service walking the table every second (gc_interval = 1s; the
# walk takes ~0.2 s at 100,000 sources on 2 vCPUs), then Postfix policy
# requests from build/tools/policyload, 100 clients offered RATE requests/s
# between them (default 20,000), for SECONDS (default 5): once on the quiet
# table, once after a SYN flood from random IPv4 sources (hping3
# --rand-source) has left FLOOD_SOURCES sources (default 100,000) in it.
# The policy service answers on a thread of its own, so the second run
# should look like the first; an answer that waited for the walk would be
# late by the walk's time (the max column), and the requests smtpd would
# have sent meanwhile late to leave (lag: how late after their schedule
# policyload could write them).
#
#   tests/bench/bench_policy_flood.sh        (FLOOD_SOURCES, RATE, SECONDS)
#
# Not TAP: a table, like the other benches. Needs root, hping3, curl.

set -euo pipefail
. "$(dirname "$0")/../e2e/lib.sh"

WANT=${FLOOD_SOURCES:-100000}
RATE=${RATE:-20000}
SECS=${SECONDS_EACH:-5}
PORT=$((20000 + $$ % 20000))
URL="http://127.0.0.1:$PORT"
POLICYLOAD=${POLICYLOAD:-$ROOT_DIR/build/tools/policyload}

command -v hping3 >/dev/null || { echo "bench_policy_flood: hping3 missing (scripts/install-deps.sh)" >&2; exit 1; }
[ -x "$POLICYLOAD" ] || { echo "bench_policy_flood: $POLICYLOAD missing (make tests)" >&2; exit 1; }

value() {	# value TEXT NAME: a sample of an unlabelled series
	awk -v s="$2" '$1 == s { print $2; exit }' <<<"$1"
}

e2e_setup >/dev/null
write_config general.gc_interval=1s flood.new_source_rate=off limits.syn_rate=off \
	metrics.listen="127.0.0.1:$PORT" \
	policy.enabled=yes policy.socket="$TMPD/policy.sock" policy.socket_group=root \
	accounts.messages_per_minute=0 accounts.messages_per_hour=100000 accounts.messages_per_day=0 \
	accounts.recipients_per_minute=0 accounts.recipients_per_hour=0 accounts.recipients_per_day=0
must_start_daemon >/dev/null
for _ in $(seq 1 100); do
	[ -S "$TMPD/policy.sock" ] && break
	sleep 0.1
done

# run LABEL: one paced policyload run, a table row.
run() {
	local out m gc

	out=$("$POLICYLOAD" --unix "$TMPD/policy.sock" -c 100 --rate "$RATE" -d "$SECS" --warmup 1 \
		--json --allow-errors)
	m=$(in_server curl -s --max-time 20 "$URL/metrics")
	gc=$(awk -v v="$(value "$m" smtpwall_gc_duration_seconds)" 'BEGIN { printf "%.0f", v * 1000 }')
	jq -r --arg l "$1" --arg n "$(value "$m" smtpwall_sources)" --arg gc "$gc" \
		'"| \($l) | \($n) | \($gc) | \(.rps | floor) | \(.latency_us.p50) | \(.latency_us.p99) | \(.latency_us.max) | \(.lag_us.p99) | \(.lag_us.max) | \(.errors) |"' \
		<<<"$out"
}

echo "bench_policy_flood: $(date -u +%FT%H:%MZ), $(nproc) CPUs, kernel $(uname -r);" \
	"100 clients offered $RATE requests/s for $SECS s, gc_interval 1 s"
echo
echo "| table | sources | walk ms | req/s | p50 µs | p99 µs | max µs | lag p99 µs | lag max µs | errors |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
run "quiet"

# The flood, until the table holds WANT sources (at most 30 s).
nsenter --net="/run/netns/$NS_C" -- timeout -s INT 30 \
	hping3 -q -S -p 25 --flood --rand-source "$SRV4" >"$TMPD/hping.out" 2>&1 &
FLOOD=$!
BG_PIDS+=("$FLOOD")
for _ in $(seq 1 300); do
	sleep 0.1
	n=$(in_server curl -s --max-time 5 "$URL/metrics" | awk '$1 == "smtpwall_sources" { print $2 }')
	[ "${n:-0}" -ge "$WANT" ] && break
done
kill -INT "$FLOOD" 2>/dev/null || true
wait "$FLOOD" 2>/dev/null || true
sleep 2	# two walks over the full table first
run "after the flood"
stop_daemon
TAP_FINISHED=1
