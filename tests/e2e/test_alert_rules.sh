#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The Prometheus rules and the Grafana dashboard stay true to /metrics:
# `promtool check rules` passes on scripts/prometheus/smtpwall-alerts.yml
# and fails on broken copies (a PromQL error, a misspelt key), so the
# check can fail; `promtool test rules` passes its unit tests and fails
# when one expected annotation is changed; the example scrape config is
# valid (its rule_files pointed at these rules). Every smtpwall_* name in
# the rules and in the dashboard's queries is a family of the README's
# metric table (a histogram by its base name: _bucket, _sum and _count
# stripped), and the checker finds a made-up name. The dashboard parses,
# has the DS_PROMETHEUS data source and instance variables, every panel a
# title and a query, every query valid PromQL (checked as recording rules
# once the Grafana variables are replaced). No namespaces, no daemon.
#
# promtool (Debian: prometheus) is required: CI installs it. Without it
# the promtool checks fail, unless SMTPWALL_ALLOW_SKIP is set, when they
# are skipped. README=FILE checks the names against another README.

set -euo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$dir/../.." && pwd)
. "$dir/tap.sh"
cd "$root"

RULES=${RULES:-scripts/prometheus/smtpwall-alerts.yml}
RULE_TESTS=${RULE_TESTS:-scripts/prometheus/smtpwall-alerts.test.yml}
PROM_EXAMPLE=${PROM_EXAMPLE:-scripts/prometheus/prometheus.yml.example}
DASHBOARD=${DASHBOARD:-scripts/grafana/smtpwall-dashboard.json}
README=${README:-$root/README.md}
PROMTOOL=${PROMTOOL:-promtool}
TMPD=$(mktemp -d /tmp/smtpwall-alert-rules.XXXXXX)
trap 'rm -rf "$TMPD"' EXIT

for tool in jq python3; do
	if ! command -v "$tool" >/dev/null; then
		echo "Bail out! $tool is missing: run scripts/install-deps.sh"
		exit 1
	fi
done
for f in "$RULES" "$RULE_TESTS" "$PROM_EXAMPLE" "$DASHBOARD" "$README"; do
	[ -f "$f" ] || { echo "Bail out! $f is missing"; exit 1; }
done

contains() { [[ $1 == *"$2"* ]]; }

# ---------------------------------------------------------------- promtool

if command -v "$PROMTOOL" >/dev/null; then
	check "promtool check rules $RULES" "$PROMTOOL" check rules "$RULES"

	# Broken copies: the check must be able to fail, and say where.
	mkdir -p "$TMPD/broken"
	sed '0,/expr: up{job=~"smtpwall.\*"} == 0/s//expr: up{job=~"smtpwall.*" == 0/' "$RULES" >"$TMPD/broken/promql.yml"
	sed '0,/^\( *\)expr: smtpwall_emergency_active/s//\1exp: smtpwall_emergency_active/' "$RULES" >"$TMPD/broken/key.yml"
	for b in promql key; do
		if cmp -s "$RULES" "$TMPD/broken/$b.yml"; then
			tap_fail "promtool check rules fails on a copy with a $b error" "the sed found nothing to break in $RULES"
			continue
		fi
		rc=0
		out=$("$PROMTOOL" check rules "$TMPD/broken/$b.yml" 2>&1) || rc=$?
		want="parse error"
		[ "$b" = key ] && want="field exp not found"
		if [ "$rc" -ne 0 ] && contains "$out" "$want"; then
			tap_ok "promtool check rules fails on a copy with a $b error"
		else
			tap_fail "promtool check rules fails on a copy with a $b error" "exit $rc: $out"
		fi
	done

	# The unit tests (the geo case's 31 days of evaluations take most of
	# the time), and a copy of their first group expecting one word more
	# in an annotation: it fails.
	out=$("$PROMTOOL" test rules "$RULE_TESTS" 2>&1) && rc=0 || rc=$?
	if [ "$rc" -eq 0 ]; then
		tap_ok "promtool test rules $RULE_TESTS"
	else
		tap_fail "promtool test rules $RULE_TESTS" "exit $rc"$'\n'"$out"
	fi
	cp "$RULES" "$TMPD/broken/"
	python3 - "$RULE_TESTS" "$TMPD/broken/$(basename "$RULE_TESTS")" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
# The file up to its second test group, each expected summary changed.
groups = [m.start() for m in re.finditer(r"(?m)^  - (name|interval):", text)]
first = text[:groups[1]] if len(groups) > 1 else text
first = re.sub(r'(?m)^(\s+summary: ".*)"$', r'\1 at all"', first)
open(sys.argv[2], "w", encoding="utf-8").write(first)
PY
	rc=0
	out=$(cd "$TMPD/broken" && "$PROMTOOL" test rules "$(basename "$RULE_TESTS")" 2>&1) || rc=$?
	if [ "$rc" -ne 0 ] && contains "$out" "at all"; then
		tap_ok "promtool test rules fails when an expected annotation differs"
	else
		tap_fail "promtool test rules fails when an expected annotation differs" "exit $rc: $out"
	fi

	# The example scrape config, its rule_files (the installed rules) pointed at these.
	mkdir -p "$TMPD/example"
	installed=/usr/local/share/smtpwall/prometheus/smtpwall-alerts.yml
	sed "s|$installed|$(realpath "$RULES")|" "$PROM_EXAMPLE" >"$TMPD/example/prometheus.yml"
	if cmp -s "$PROM_EXAMPLE" "$TMPD/example/prometheus.yml"; then
		tap_fail "promtool check config $PROM_EXAMPLE" "its rule_files does not name $installed"
	else
		check "promtool check config $PROM_EXAMPLE (its rule_files: these rules)" \
			"$PROMTOOL" check config "$TMPD/example/prometheus.yml"
	fi
else
	why="promtool is missing (Debian package prometheus; scripts/install-deps.sh)"
	if [ -n "${SMTPWALL_ALLOW_SKIP:-}" ]; then
		for t in "promtool check rules" "promtool check rules on a copy with a PromQL error" \
			"promtool check rules on a copy with a key error" "promtool test rules" \
			"promtool test rules with an annotation changed" "promtool check config"; do
			tap_skip "$t: $why"
		done
	else
		tap_fail "promtool is installed" "$why; SMTPWALL_ALLOW_SKIP=1 skips the promtool checks"
	fi
fi

# ---------------------------------------------------------------- names

# families README: the README table's families, one a line.
families() {
	python3 - "$1" <<'PY'
import re, sys
for line in open(sys.argv[1], encoding="utf-8"):
    m = re.match(r"\s*\|\s*`(smtpwall_[A-Za-z0-9_]+)[^`]*`\s*\|", line)
    if m:
        print(m.group(1))
PY
}

# unknown_names FAMILIES_FILE TEXT_FILE: the smtpwall_* names of TEXT_FILE
# that are no family (with _bucket/_sum/_count stripped), one a line.
unknown_names() {
	python3 - "$1" "$2" <<'PY'
import re, sys
families = set(open(sys.argv[1]).read().split())
text = open(sys.argv[2], encoding="utf-8").read()
bad = set()
for name in re.findall(r"(?<![A-Za-z0-9_:])smtpwall_[A-Za-z0-9_:]+", text):
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    if name not in families and base not in families:
        bad.add(name)
print("\n".join(sorted(bad)))
PY
}

families "$README" | sort -u >"$TMPD/families"
n_fam=$(wc -l <"$TMPD/families")
tap_check "the README's metric table lists the families ($n_fam in $README)" \
	"no table row whose first cell is a backquoted smtpwall_* name in $README" test "$n_fam" -ge 20

# The rules, comments and annotations included: a name there is a name.
bad=$(unknown_names "$TMPD/families" "$RULES")
tap_is "every smtpwall_* name in $RULES is a family of the README" "$bad" ""

# The dashboard's queries (panels' targets and the variables' queries).
if jq -r '[.. | objects | select(has("expr")) | .expr] + [.templating.list[]? | .definition? // empty] | .[]' \
	"$DASHBOARD" >"$TMPD/dashboard.exprs" 2>"$TMPD/jq.err"; then
	bad=$(unknown_names "$TMPD/families" "$TMPD/dashboard.exprs")
	tap_is "every smtpwall_* name in the dashboard's queries is a family of the README" "$bad" ""
else
	tap_fail "every smtpwall_* name in the dashboard's queries is a family of the README" "$(cat "$TMPD/jq.err")"
fi

# The checker itself: a made-up name, a histogram's series, a counter's family.
printf '%s\n' 'rate(smtpwall_no_such_family_total[5m])' \
	"$(head -n 1 "$TMPD/families")_bucket" >"$TMPD/probe"
tap_is "the name check finds a made-up name and nothing else" \
	"$(unknown_names "$TMPD/families" "$TMPD/probe")" "smtpwall_no_such_family_total"

# ---------------------------------------------------------------- the dashboard

check "the dashboard is JSON" jq empty "$DASHBOARD"
check_jq "the dashboard: schemaVersion 36 or later, a title, a uid" "$(cat "$DASHBOARD")" \
	'.schemaVersion >= 36 and (.title | length) > 0 and (.uid | length) > 0'
check_jq "the dashboard: a data source variable DS_PROMETHEUS of type prometheus" "$(cat "$DASHBOARD")" \
	'any(.templating.list[]; .name == "DS_PROMETHEUS" and .type == "datasource" and .query == "prometheus")'
check_jq "the dashboard: an instance variable from the smtpwall series" "$(cat "$DASHBOARD")" \
	'any(.templating.list[]; .name == "instance" and .type == "query" and
	     (.definition | test("smtpwall_")) and .datasource.uid == "${DS_PROMETHEUS}")'

# Every panel (rows' nested ones too): a title; every panel that is not a
# row: a query with an expr, from ${DS_PROMETHEUS}; ids unique; in the grid.
all_panels='[.panels[], (.panels[] | .panels[]?)]'
bad=$(jq -r "$all_panels | .[] | select((.title // \"\") == \"\") | \"panel id \\(.id) has no title\"" "$DASHBOARD")
tap_is "every panel has a title" "$bad" ""
bad=$(jq -r "$all_panels | .[] | select(.type != \"row\") |
	select(([.targets[]? | select((.expr // \"\") != \"\")] | length) == 0) | .title" "$DASHBOARD")
tap_is "every panel has a query with an expr" "$bad" ""
bad=$(jq -r "$all_panels | .[] | select(.type != \"row\") |
	select(.datasource.uid != \"\${DS_PROMETHEUS}\" or any(.targets[]; .datasource.uid != \"\${DS_PROMETHEUS}\")) |
	.title" "$DASHBOARD")
tap_is "every panel and query uses the \${DS_PROMETHEUS} data source" "$bad" ""
bad=$(jq -r "$all_panels | group_by(.id)[] | select(length > 1) | \"id \\(.[0].id): \\(map(.title) | join(\", \"))\"" "$DASHBOARD")
tap_is "panel ids are unique" "$bad" ""
bad=$(jq -r "$all_panels | .[] | select(.gridPos.x < 0 or .gridPos.w < 1 or .gridPos.x + .gridPos.w > 24 or .gridPos.h < 1) |
	.title" "$DASHBOARD")
tap_is "every panel fits the 24-column grid" "$bad" ""

# Every query is PromQL: as recording rules, the variables replaced.
jq -r '[.. | objects | select(has("expr")) | .expr] | .[]' "$DASHBOARD" |
	python3 -c '
import json, re, sys
rules = []
for i, expr in enumerate(sys.stdin.read().splitlines()):
    expr = expr.replace("$__rate_interval", "5m").replace("$__interval", "1m").replace("$__range", "1h")
    expr = re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*(:[a-z]+)?\}?", ".*", expr)
    rules.append({"record": "dashboard:query_%d" % (i + 1), "expr": expr})
# JSON is YAML: promtool reads it as a rules file.
json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, sys.stdout, indent=1)
' >"$TMPD/dashboard-rules.yml"
if command -v "$PROMTOOL" >/dev/null; then
	check "every dashboard query is valid PromQL ($(grep -c '"record":' "$TMPD/dashboard-rules.yml") queries)" \
		"$PROMTOOL" check rules "$TMPD/dashboard-rules.yml"
elif [ -n "${SMTPWALL_ALLOW_SKIP:-}" ]; then
	tap_skip "every dashboard query is valid PromQL: promtool is missing"
fi

tap_done
