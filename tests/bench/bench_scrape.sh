#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Scrapes of a live daemon with a full source table: the e2e topology, the
# daemon with its default capacity, a SYN flood from random IPv4 sources
# (hping3 --rand-source) until the kernel holds SCRAPE_SOURCES sources (one
# /32 each), then SCRAPE_ROUNDS scrapes of /metrics one after another and
# one of /sources. Per scrape: the HTTP time (curl), the collection's own
# time (smtpwall_scrape_collect_seconds) and the event loop's worst
# lateness while it was collected (smtpwall_scrape_loop_stall_seconds, the
# daemon's 10 ms probe). The sessions service's walk, which also reads the
# whole table but on the loop, runs once at start here (gc_interval = 1h),
# so the lateness measured is the scrape's alone; its own time is printed
# from a second daemon start over the full table.
#
# Not TAP: a table, like the other benches. Needs root, hping3, curl.

set -euo pipefail
. "$(dirname "$0")/../e2e/lib.sh"

WANT=${SCRAPE_SOURCES:-100000}
ROUNDS=${SCRAPE_ROUNDS:-15}
PORT=$((20000 + $$ % 20000))
URL="http://127.0.0.1:$PORT"

command -v hping3 >/dev/null || { echo "bench_scrape: hping3 missing (scripts/install-deps.sh)" >&2; exit 1; }

value() {	# value TEXT NAME: a sample of an unlabelled series
	awk -v s="$2" '$1 == s { print $2; exit }' <<<"$1"
}

median() {	# median N...: of the arguments
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2];
		else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

maxof() {
	printf '%s\n' "$@" | sort -g | tail -n 1
}

e2e_setup >/dev/null
write_config general.gc_interval=1h flood.new_source_rate=off limits.syn_rate=off \
	metrics.listen="127.0.0.1:$PORT" metrics.top_sources=20
must_start_daemon >/dev/null

# The flood, until the table holds WANT sources (at most 30 s).
nsenter --net="/run/netns/$NS_C" -- timeout -s INT 30 \
	hping3 -q -S -p 25 --flood --rand-source "$SRV4" >"$TMPD/hping.out" 2>&1 &
FLOOD=$!
BG_PIDS+=("$FLOOD")
n=0
for _ in $(seq 1 300); do
	sleep 0.1
	n=$(in_server curl -s --max-time 5 "$URL/metrics" | awk '$1 == "smtpwall_sources" { print $2 }')
	[ "${n:-0}" -ge "$WANT" ] && break
done
kill -INT "$FLOOD" 2>/dev/null || true
wait "$FLOOD" 2>/dev/null || true
sleep 0.5
m=$(in_server curl -s --max-time 10 "$URL/metrics")
n=$(value "$m" smtpwall_sources)
echo "bench_scrape: $(date -u +%F) (UTC), $(nproc) CPUs; $n sources in the kernel's table" \
	"(the flood's, one IPv4 /32 each), $(value "$m" 'smtpwall_map_entries{map="sessions"}') sessions"

http=() collect=() stall=()
for _ in $(seq 1 "$ROUNDS"); do
	t=$(in_server curl -s -o "$TMPD/m.txt" -w '%{time_total}' --max-time 20 "$URL/metrics")
	http+=("$(awk -v t="$t" 'BEGIN { printf "%.1f", t * 1000 }')")
	m=$(cat "$TMPD/m.txt")
	collect+=("$(awk -v v="$(value "$m" smtpwall_scrape_collect_seconds)" 'BEGIN { printf "%.1f", v * 1000 }')")
done
# Each scrape reports the lateness during the one before it: one more.
for _ in $(seq 1 "$ROUNDS"); do
	m=$(in_server curl -s --max-time 20 "$URL/metrics")
	stall+=("$(awk -v v="$(value "$m" smtpwall_scrape_loop_stall_seconds)" 'BEGIN { printf "%.1f", v * 1000 }')")
done
st=$(in_server curl -s -o "$TMPD/s.json" -w '%{time_total} %{size_download}' --max-time 60 "$URL/sources")
srcs=$(jq '.count' "$TMPD/s.json")

# The sessions service's walk over the same table: a restart runs it at once.
stop_daemon
TAP_FINISHED=1
must_start_daemon >/dev/null
sleep 1
m=$(in_server curl -s --max-time 20 "$URL/metrics")
gc=$(awk -v v="$(value "$m" smtpwall_gc_duration_seconds)" 'BEGIN { printf "%.1f", v * 1000 }')

echo
echo "| $ROUNDS scrapes of /metrics, $n sources | median ms | max ms |"
echo "|---|---:|---:|"
echo "| HTTP, curl's time_total | $(median "${http[@]}") | $(maxof "${http[@]}") |"
echo "| the collection (smtpwall_scrape_collect_seconds) | $(median "${collect[@]}") | $(maxof "${collect[@]}") |"
echo "| the event loop's worst lateness meanwhile (10 ms probe) | $(median "${stall[@]}") | $(maxof "${stall[@]}") |"
echo
awk -v t="${st% *}" -v b="${st#* }" -v n="$srcs" \
	'BEGIN { printf "- /sources: %d sources, %.1f MB in %.0f ms\n", n, b / 1e6, t * 1000 }'
echo "- the sessions service's walk of the same table, on the loop (smtpwall_gc_duration_seconds): $gc ms"
stop_daemon
TAP_FINISHED=1
