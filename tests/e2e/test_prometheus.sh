#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A real Prometheus scraping a real daemon during an attack: the Debian
# prometheus binary runs in the server namespace (its own TSDB in the run's
# directory, scrape and rule evaluation every second, the shipped alerting
# rules loaded) against the daemon's [metrics] endpoint, with the geo
# database, the policy service and the mail-log follower on, so that every
# family has series. One source floods SYNs over its rate (drops for rate,
# then a penalty and drops for penalty), others hold good sessions, Postfix
# asks a policy question, the mail log gets lines. Then, through
# Prometheus's HTTP API: the target is up, the attack's figures are there
# (drops for rate, penalties, sessions opened, the session-duration
# histogram, the attacker's own series, build info), every rule evaluates
# without an error and SmtpwallDropsSpiking sees the flood, and every query
# of the Grafana dashboard returns data (the test lists those that do not).
# The daemon's own /metrics passes `promtool check metrics`, and /sources
# is JSON naming the attacker.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

PROMETHEUS=${PROMETHEUS:-/usr/bin/prometheus}
PROMTOOL=${PROMTOOL:-promtool}
RULES=${RULES:-$ROOT_DIR/scripts/prometheus/smtpwall-alerts.yml}
DASHBOARD=${DASHBOARD:-$ROOT_DIR/scripts/grafana/smtpwall-dashboard.json}
POLICYREQ=$ROOT_DIR/build/tools/policyreq
MKMMDB=$ROOT_DIR/build/tools/mkmmdb
JOB=smtpwall-e2e
[ -x "$POLICYREQ" ] && [ -x "$MKMMDB" ] || bail "build/tools is missing: run 'make tests' first"
[ -x "$PROMETHEUS" ] || bail "$PROMETHEUS is missing: scripts/install-deps.sh installs prometheus"
command -v "$PROMTOOL" >/dev/null || bail "promtool is missing: scripts/install-deps.sh installs prometheus"
for _tool in curl python3 ss; do
	command -v "$_tool" >/dev/null || bail "$_tool is missing: run scripts/install-deps.sh"
done

e2e_setup

# free_port AFTER: a TCP port above AFTER nobody listens on in the server namespace.
free_port() {
	local p=$(($1 + 1))

	while [ -n "$(in_server ss -Htln "sport = :$p")" ]; do
		p=$((p + 1))
	done
	echo "$p"
}
METRICS_PORT=$(free_port $((20000 + $$ % 20000)))
PROM_PORT=$(free_port "$METRICS_PORT")

# The fixture database: the client addresses in JP (home), the other /64s in BR.
DB=$TMPD/country.mmdb
printf '%s\n' "10.200.$NET_X.0/24 JP" "$NET6 JP" "$NET6B BR" "$NET6C BR" |
	"$MKMMDB" --ip-version 6 --alias --schema geoip2 -o "$DB" 2>"$TMPD/mkmmdb.log" ||
	bail "write the fixture database" "$(cat "$TMPD/mkmmdb.log")"
PSOCK=$TMPD/policy.sock
MAILLOG=$TMPD/mail.log
: >"$MAILLOG"
write_config limits.syn_rate=5/min limits.syn_burst=3 limits.max_sessions=0 \
	penalty.strikes=3 penalty.base=60s \
	"geo.database=$DB" "geo.home=JP" \
	"policy.enabled=yes" "policy.socket=$PSOCK" "policy.socket_group=root" "policy.socket_mode=0660" \
	"maillog.enabled=yes" "maillog.file=$MAILLOG" \
	"metrics.listen=127.0.0.1:$METRICS_PORT"
must_start_daemon
check_native

# ---------------------------------------------------------------- Prometheus

PDIR=$TMPD/prometheus
mkdir -p "$PDIR/data"
cat >"$PDIR/prometheus.yml" <<EOF
# smtpwall e2e run $ID
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $RULES
scrape_configs:
  - job_name: $JOB
    static_configs:
      - targets: ['127.0.0.1:$METRICS_PORT']
EOF
# ip netns exec execs Prometheus: $! is its pid, which the cleanup kills.
ip netns exec "$NS_S" "$PROMETHEUS" --config.file="$PDIR/prometheus.yml" \
	--storage.tsdb.path="$PDIR/data" --web.listen-address="127.0.0.1:$PROM_PORT" \
	--log.level=warn >"$PDIR/prometheus.log" 2>&1 &
PROM_PID=$!
BG_PIDS+=("$PROM_PID")

PROM=http://127.0.0.1:$PROM_PORT
# query EXPR: Prometheus's JSON answer to an instant query.
query() {
	in_server curl -sS --max-time 5 -G "$PROM/api/v1/query" --data-urlencode "query=$1"
}
# value EXPR: the value of the first series of EXPR ("none" if no series).
value() {
	query "$1" 2>/dev/null | jq -r '.data.result[0].value[1] // "none"' 2>/dev/null || echo none
}
# positive EXPR: EXPR has a series, and its first value is above 0.
positive() {
	local v

	v=$(value "$1")
	[ "$v" != none ] && awk -v v="$v" 'BEGIN { exit !(v + 0 > 0) }'
}
prom_ready() { in_server curl -sf --max-time 2 -o /dev/null "$PROM/-/ready"; }
target_up() { [ "$(value "up{job=\"$JOB\"}")" = 1 ]; }

if ! wait_for 20 prom_ready; then
	bail "Prometheus starts in the server namespace" "$(tail -n 20 "$PDIR/prometheus.log")"
fi
tap_ok "Prometheus starts in the server namespace (127.0.0.1:$PROM_PORT, pid $PROM_PID)"
if wait_for 10 target_up; then
	tap_ok "Prometheus scrapes the daemon: up{job=\"$JOB\"} == 1"
else
	tap_fail "Prometheus scrapes the daemon: up{job=\"$JOB\"} == 1" \
		"$(in_server curl -sS --max-time 5 "$PROM/api/v1/targets" | jq -c '.data.activeTargets[] | {health, lastError}' 2>&1)"
fi

# ---------------------------------------------------------------- traffic

ATT=$(c4 2)
# good sessions, IPv4 and IPv6, before and after the flood
expect_conn "good sessions from $(c4 3) (3, within the burst)" "$(c4 3)" 3 3
expect_conn "good sessions from $(c6b 3) (2)" "$(c6b 3)" 2 2

# The flood: 1000 SYNs from $ATT, each from its own port, not waited on.
flood=$(in_client python3 - "$ATT" "$SRV4" "$SMTP_PORT" 1000 <<'PY' 2>&1
import errno, socket, sys
src, dst, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
sent = 0
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, 40000 + i))
    s.setblocking(False)
    if s.connect_ex((dst, port)) in (0, errno.EINPROGRESS):
        sent += 1
    s.close()
print("sent=%d" % sent)
PY
) || true
tap_is "the flood: 1000 SYNs sent from $ATT" "$flood" "sent=1000"
expect_conn "the attacker is in the penalty box: refused" "$ATT" 1 0
expect_conn "good sessions from $(c4 4) during the attack" "$(c4 4)" 2 2

# A policy question, as smtpd asks it.
ans=$(printf 'request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=%s\nsasl_username=alice\nsender=alice@example.org\nrecipient=r@example.com\ninstance=P1\n\n' \
	"$(c4 3)" | "$POLICYREQ" --unix "$PSOCK" --timeout 5 2>&1 || true)
tap_is "the policy service answers" "$ans" "DUNNO"

# Mail-log lines as Postfix writes them: a failed login, a login.
printf '%s mx1 postfix/submission/smtpd[%d]: warning: unknown[%s]: SASL LOGIN authentication failed: authentication failure, sasl_username=bob\n' \
	"$(date '+%b %e %T')" $$ "$(c4 5)" >>"$MAILLOG"
printf '%s mx1 postfix/submission/smtpd[%d]: 4ZQ%s: client=unknown[%s], sasl_method=PLAIN, sasl_username=alice\n' \
	"$(date '+%b %e %T')" $$ "$RANDOM" "$(c4 3)" >>"$MAILLOG"

# Prometheus has the state after all of it: the penalty, the mail-log line, the
# policy answer, and the newest source's series in two scrapes (a rate over 5 s).
scraped() {
	positive "smtpwall_penalties_total{job=\"$JOB\",reason=\"rate\"}" &&
	positive "smtpwall_maillog_last_line_timestamp_seconds{job=\"$JOB\"}" &&
	positive "sum(smtpwall_policy_requests_total{job=\"$JOB\"})" &&
	positive "count_over_time(smtpwall_source_packets_total{job=\"$JOB\",source=\"$(c4 4)\"}[5s]) >= 2"
}
if wait_for 15 scraped; then
	tap_ok "Prometheus has scraped the attack (penalty, mail-log line, policy request)"
else
	tap_fail "Prometheus has scraped the attack (penalty, mail-log line, policy request)" \
		"$(query "{job=\"$JOB\",__name__=~\"smtpwall_(penalties_total|maillog_last_line_timestamp_seconds|policy_requests_total)\"}" 2>&1)"
fi

# ---------------------------------------------------------------- through the API

tap_is "up == 1 for job $JOB" "$(value "up{job=\"$JOB\"}")" 1
tap_is "smtpwall_build_info == 1" "$(value "smtpwall_build_info{job=\"$JOB\"}")" 1
tap_check "smtpwall_dropped_packets_total{reason=\"rate\"} > 0" \
	"$(query "smtpwall_dropped_packets_total{job=\"$JOB\"}")" \
	positive "smtpwall_dropped_packets_total{job=\"$JOB\",reason=\"rate\"}"
tap_check "smtpwall_penalties_total > 0" "$(query "smtpwall_penalties_total{job=\"$JOB\"}")" \
	positive "sum(smtpwall_penalties_total{job=\"$JOB\"})"
tap_check "smtpwall_sessions_opened_total > 0" "$(query "smtpwall_sessions_opened_total{job=\"$JOB\"}")" \
	positive "smtpwall_sessions_opened_total{job=\"$JOB\"}"
tap_check "smtpwall_session_duration_seconds_count > 0" \
	"$(query "{job=\"$JOB\",__name__=~\"smtpwall_session_duration_seconds_.*\"}")" \
	positive "smtpwall_session_duration_seconds_count{job=\"$JOB\"}"
att_attempts=$(value "smtpwall_source_connection_attempts_total{job=\"$JOB\",source=\"$ATT\"}")
tap_check "the attacker has its series: smtpwall_source_connection_attempts_total{source=\"$ATT\"} ($att_attempts) >= 1000" \
	"$(query "smtpwall_source_connection_attempts_total{job=\"$JOB\"}")" \
	awk -v v="$att_attempts" 'BEGIN { exit !(v != "none" && v + 0 >= 1000) }'

# The rules: all evaluate; the flood is seen; nothing claims the daemon is down.
rules=$(in_server curl -sS --max-time 5 "$PROM/api/v1/rules?type=alert" 2>&1 || true)
n_rules=$(grep -c '^ *- alert: ' "$RULES")
n_loaded=$(jq '[.data.groups[].rules[]] | length' <<<"$rules" 2>/dev/null || echo "none: $rules")
bad=$(jq -r '.data.groups[].rules[] | select(.health != "ok") | "\(.name): \(.health) \(.lastError // "")"' \
	<<<"$rules" 2>/dev/null || true)
tap_is "all $n_rules alerting rules of $(basename "$RULES") are loaded" "$n_loaded" "$n_rules"
tap_is "every alerting rule evaluates without an error" "$bad" ""
alerts=$(in_server curl -sS --max-time 5 "$PROM/api/v1/alerts" 2>&1 || true)
check_jq "SmtpwallDropsSpiking sees the flood (pending or firing)" "$alerts" \
	'any(.data.alerts[]; .labels.alertname == "SmtpwallDropsSpiking" and .labels.job == $j and
	     (.state == "pending" or .state == "firing"))' --arg j "$JOB"
# The fixture database is mkmmdb's, built 2023-11-14: stale, pending for its hour.
check_jq "SmtpwallGeoDatabaseStale sees the fixture database's age (pending)" "$alerts" \
	'any(.data.alerts[]; .labels.alertname == "SmtpwallGeoDatabaseStale" and .labels.job == $j and
	     .state == "pending")' --arg j "$JOB"
check_jq "SmtpwallDown and SmtpwallNotScraped are not active" "$alerts" \
	'all(.data.alerts[]; .labels.alertname != "SmtpwallDown" and .labels.alertname != "SmtpwallNotScraped")'

# Every query of the dashboard, with Grafana's variables replaced, has data.
jq -r '.. | objects | select(has("expr")) | .expr' "$DASHBOARD" >"$TMPD/dashboard.exprs"
n_expr=0
empty=""
while IFS= read -r expr; do
	n_expr=$((n_expr + 1))
	q=${expr//\$__rate_interval/5s}
	q=${q//\$__interval/1s}
	q=${q//\$__range/1m}
	q=$(sed -E 's/\$\{?[A-Za-z_][A-Za-z0-9_]*(:[a-z]+)?\}?/.*/g' <<<"$q")
	ans=$(query "$q" 2>&1 || true)
	if ! jq -e '.status == "success" and (.data.result | length) > 0' >/dev/null 2>&1 <<<"$ans"; then
		empty+="$q"$'\n'"  -> $(jq -c '{status, error, result: .data.result}' <<<"$ans" 2>/dev/null || echo "$ans")"$'\n'
	fi
done <"$TMPD/dashboard.exprs"
tap_check "every dashboard query ($n_expr) returns data" "no data:"$'\n'"$empty" test -z "$empty"

# Prometheus said nothing about the scrapes or the rules (it logs at warn and above).
tap_is "Prometheus logged no warning or error (scrapes parsed, rules evaluated)" \
	"$(grep -E 'level=(warn|error)' "$PDIR/prometheus.log" || true)" ""

# ---------------------------------------------------------------- the daemon's endpoint

in_server curl -sS --max-time 10 -o "$TMPD/metrics.txt" "http://127.0.0.1:$METRICS_PORT/metrics" || true
rc=0
lint=$("$PROMTOOL" check metrics <"$TMPD/metrics.txt" 2>&1) || rc=$?
if [ "$rc" -eq 0 ] && [ -s "$TMPD/metrics.txt" ]; then
	tap_ok "promtool check metrics passes on the daemon's /metrics ($(grep -c '^smtpwall_' "$TMPD/metrics.txt") samples)"
else
	tap_fail "promtool check metrics passes on the daemon's /metrics" "exit $rc: $lint"
fi
src=$(in_server curl -sS --max-time 10 "http://127.0.0.1:$METRICS_PORT/sources" 2>&1 || true)
check_jq "/sources is JSON and has the attacker $ATT" "$src" \
	'any(.sources[]; .source == $a or .source == ($a + "/32"))' --arg a "$ATT"

tap_done
