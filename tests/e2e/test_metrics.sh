#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The metrics service: /metrics in the Prometheus text format (checked by
# promtool) and in OpenMetrics when asked, with the figures of a real
# attack (a source over its SYN rate: drops for rate, its own series among
# the busiest sources, the sessions' durations in the kernel's histogram);
# /sources as JSON; errors for other paths and methods; the busiest-N
# bound; a listen address already taken leaves the daemon running; SIGHUP
# moves the endpoint; a restart keeps the kernel's counters.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

PORT=$((20000 + $$ % 20000))
PORT2=$((PORT + 1))

scrape() {	# scrape [curl args...]: the body of /metrics (or what the args name)
	in_server curl -sS --max-time 10 "$@"
}

value() {	# value TEXT SERIES: the sample value of one exact series line
	awk -v s="$2" '$1 == s { print $2; found = 1; exit } END { if (!found) print "absent" }' <<<"$1"
}

e2e_setup
write_config limits.syn_rate=5/min limits.syn_burst=3 limits.max_sessions=0 \
	metrics.listen="127.0.0.1:$PORT" metrics.top_sources=5
must_start_daemon
check_native

ATT=$(c4 2)
expect_conn "attack: 3 of 6 connects from $ATT pass the burst of 3" "$ATT" 6 3
expect_conn "a legitimate source connects during the attack" "$(c4 3)" 1 1

# The sessions ended (client FIN) before the scrape: give the kernel a moment.
sleep 0.3
m=$(scrape "http://127.0.0.1:$PORT/metrics")
printf '%s\n' "$m" >"$TMPD/metrics.txt"

if command -v promtool >/dev/null; then
	rc=0
	lint=$(promtool check metrics <"$TMPD/metrics.txt" 2>&1) || rc=$?
	if [ "$rc" -eq 0 ]; then
		tap_ok "promtool check metrics accepts a live scrape"
	else
		tap_fail "promtool check metrics accepts a live scrape" "$lint"
	fi
else
	tap_fail "promtool check metrics accepts a live scrape" "promtool not installed (scripts/install-deps.sh installs prometheus)"
fi

check "every family has HELP and TYPE, counters end in _total" \
	awk '/^# HELP /{h[$3]=1} /^# TYPE /{ if (!h[$3]) { print "no HELP:", $3; bad=1 }
	     if ($4 == "counter" && $3 !~ /_total$/) { print "counter without _total:", $3; bad=1 } }
	     END { exit bad }' "$TMPD/metrics.txt"
check "drops for rate: 3 from the attacker" test "$(value "$m" 'smtpwall_dropped_packets_total{reason="rate"}')" = 3
check "connection attempts: 7 in all" test "$(value "$m" smtpwall_syns_total)" = 7
check "the attacker has its own series: 6 attempts, 3 admitted, 3 dropped" \
	test "$(value "$m" "smtpwall_source_connection_attempts_total{source=\"$ATT\"}") \
$(value "$m" "smtpwall_source_admitted_total{source=\"$ATT\"}") \
$(value "$m" "smtpwall_source_dropped_packets_total{source=\"$ATT\"}")" = "6 3 3"
check "the attacker ranks first among the busiest sources" \
	bash -c "grep '^smtpwall_source_connection_attempts_total{' <<<\"\$1\" | head -1 | grep -qF \"\$2\"" _ "$m" "\"$ATT\""
check "the legitimate source has its series, 1 attempt admitted" \
	test "$(value "$m" "smtpwall_source_admitted_total{source=\"$(c4 3)\"}")" = 1
count=$(value "$m" smtpwall_session_duration_seconds_count)
inf=$(value "$m" 'smtpwall_session_duration_seconds_bucket{le="+Inf"}')
check "session durations: the 4 sessions ended are in the histogram (+Inf bucket = count)" \
	test "$count $inf" = "4 4"
check "session durations: buckets are cumulative" \
	bash -c "grep '^smtpwall_session_duration_seconds_bucket' <<<\"\$1\" | awk '{ if (\$2 < p) exit 1; p = \$2 }'" _ "$m"
check "sessions opened: 4" test "$(value "$m" smtpwall_sessions_opened_total)" = 4
check "map occupancy: 2 sources of a capacity" \
	test "$(value "$m" 'smtpwall_map_entries{map="sources"}') $(value "$m" 'smtpwall_map_capacity{map="sources"}')" \
	= "2 131072"
check "build info and service table" \
	bash -c "grep -q '^smtpwall_build_info{version=\".*\",abi=\"[0-9]*\"} 1$' <<<\"\$1\" &&
		 grep -q '^smtpwall_service_up{service=\"metrics\"} 1$' <<<\"\$1\"" _ "$m"
check "the scrape's own collection time is stated" \
	bash -c "grep -Eq '^smtpwall_scrape_collect_seconds [0-9.e-]+$' <<<\"\$1\"" _ "$m"

# OpenMetrics when the scraper asks for it (Prometheus's own Accept header).
hdr=$TMPD/om.hdr
om=$(scrape -D "$hdr" -H 'Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1' \
	"http://127.0.0.1:$PORT/metrics")
check "OpenMetrics: asked for, given (content type)" grep -qi '^content-type: application/openmetrics-text; version=1.0.0' "$hdr"
check "OpenMetrics: ends with # EOF, counters typed without _total" \
	bash -c "[ \"\$(tail -n1 <<<\"\$1\")\" = '# EOF' ] && grep -q '^# TYPE smtpwall_packets counter$' <<<\"\$1\" &&
		 grep -q '^smtpwall_packets_total ' <<<\"\$1\"" _ "$om"
scrape -o /dev/null -D "$hdr" -H 'Accept: text/plain;version=0.0.4' "http://127.0.0.1:$PORT/metrics"
check "text format when OpenMetrics is not asked for" grep -qi '^content-type: text/plain; version=0.0.4' "$hdr"

# /sources: the whole table.
src=$(scrape "http://127.0.0.1:$PORT/sources")
check_jq "/sources: JSON with both sources, the attacker's figures" "$src" \
	'.count == 2 and (.sources | length) == 2 and
	 (.sources[] | select(.source == $a) | .connection_attempts == 6 and .admitted == 3 and
	  .dropped_by_reason.rate == 3 and .penalised == false)' --arg a "$ATT"

code=$(scrape -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/nope")
check "an unknown path is 404" test "$code" = 404
code=$(scrape -o /dev/null -w '%{http_code}' -X POST -d x=1 "http://127.0.0.1:$PORT/metrics")
check "POST is 405" test "$code" = 405

# Many concurrent scrapes: all answered, the daemon still running.
pids=()
for i in $(seq 1 20); do
	scrape -o "$TMPD/par.$i" "http://127.0.0.1:$PORT/metrics" &
	pids+=($!)
done
ok=0
for p in "${pids[@]}"; do wait "$p" && ok=$((ok + 1)); done
full=0
for i in $(seq 1 20); do grep -q '^smtpwall_build_info' "$TMPD/par.$i" 2>/dev/null && full=$((full + 1)); done
check "20 concurrent scrapes: all answered in full" test "$ok $full" = "20 20"

# Bounded series: with top_sources = 1, one source only.
write_config limits.syn_rate=5/min limits.syn_burst=3 limits.max_sessions=0 \
	metrics.listen="127.0.0.1:$PORT2" metrics.top_sources=1
kill -HUP "$DAEMON_PID"
wait_for 5 in_server curl -sf -o /dev/null "http://127.0.0.1:$PORT2/metrics" || true
m=$(scrape "http://127.0.0.1:$PORT2/metrics")
check "SIGHUP: the endpoint moved to the new port, top_sources = 1 gives one source" \
	test "$(grep -c '^smtpwall_source_connection_attempts_total{' <<<"$m")" = 1
code=$(scrape -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/metrics" || true)
check "SIGHUP: the old port no longer answers" test "$code" = 000

# A restart keeps the kernel's counters; a taken port leaves the daemon running.
stop_daemon
nsenter --net="/run/netns/$NS_S" -- python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); time.sleep(60)' "$PORT2" &
BLOCKER=$!
BG_PIDS+=("$BLOCKER")
sleep 0.3
must_start_daemon
check "a taken listen address: the daemon runs and says why" \
	grep -q "metrics: cannot listen on 127.0.0.1:$PORT2" "$DAEMON_LOG"
expect_conn "a taken listen address: enforcement goes on (the attacker still limited)" "$ATT" 1 0
kill "$BLOCKER" 2>/dev/null || true
wait "$BLOCKER" 2>/dev/null || true
kill -HUP "$DAEMON_PID"
wait_for 5 in_server curl -sf -o /dev/null "http://127.0.0.1:$PORT2/metrics" || true
m=$(scrape "http://127.0.0.1:$PORT2/metrics" || true)
check "after a restart and SIGHUP: the endpoint serves, the counters kept (8 attempts, 4 drops for rate)" \
	test "$(value "$m" smtpwall_syns_total) $(value "$m" 'smtpwall_dropped_packets_total{reason="rate"}')" = "8 4"

tap_done
