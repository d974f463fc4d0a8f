#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Country policy end to end: a fixture database (written by our own mmdb
# writer) places the lab's client addresses in countries. JP is home and
# keeps the base limits; the rest of the world is limited to a burst of 2;
# CN is blocked; addresses the database does not know are blocked too.
# Then the database is replaced under traffic (renamed into place, as
# geoipupdate does) and every packet must be judged by one database or the
# other, never by a mix or by none; a corrupt replacement keeps the old data.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

MKMMDB=${MKMMDB:-$ROOT_DIR/build/tools/mkmmdb}
[ -x "$MKMMDB" ] || bail "$MKMMDB is missing: run 'make tests' first"
DB=$TMPD/country.mmdb

# mkdb OUT [mkmmdb args...] < spec
mkdb() {
	local out=$1
	shift
	"$MKMMDB" "$@" -o "$out" 2>>"$TMPD/mkmmdb.log"
}

# Database A: c4 2-4 JP, c4 5-6 BR, c4 7 CN, c4 8 not in the database;
# IPv6: the c6 /64 JP, the c6b /64 BR, the c6c /64 CN. Written as an IPv6
# database with the IPv4 subtree aliased, like GeoIP2.
spec_a() {
	cat <<EOF
$(c4 2)/31 JP
$(c4 4)/32 JP
$(c4 5)/32 BR
$(c4 6)/32 BR
$(c4 7)/32 CN
$(c4 9)/32 JP
$NET6 JP
$NET6B BR
$NET6C CN
192.0.2.0/24 US
EOF
}

# Database B: the same countries for the addresses that matter here, but
# another structure (flat schema, an IPv4-only tree, more prefixes around);
# c4 5 becomes JP. Used to swap under traffic.
spec_b() {
	cat <<EOF
$(c4 2)/31 JP
$(c4 4)/32 JP
$(c4 5)/32 JP
$(c4 6)/32 BR
$(c4 7)/32 CN
$(c4 9)/32 JP
10.200.$NET_X.128/25 KR
198.51.100.0/24 DE
EOF
}

# geo_gen_above N: the kernel's tables are of a generation after N.
geo_gen_above() {
	local g
	g=$(sw geo status --json | jq -r .generation) || return 1
	[ "$g" -gt "$1" ]
}

geo_ip_version_is() {
	[ "$(sw geo status --json | jq -r .ip_version)" = "$1" ]
}

e2e_setup

spec_a | mkdb "$DB" --ip-version 6 --alias --schema geoip2 ||
	bail "write the fixture database" "$(cat "$TMPD/mkmmdb.log")"

base_conf=(
	"limits.syn_rate=off" "limits.max_sessions=0"
	"geo.database=$DB" "geo.home=JP"
	"country world.action=limit" "country world.syn_rate=1/h" "country world.syn_burst=2"
	"country CN.action=block"
	"country unknown.action=block"
)
write_config "${base_conf[@]}"
must_start_daemon
check_native

gs=$(swj geo status --json)
check_jq "geo status: the fixture is loaded, IPv6 tree, counts and memory reported" "$gs" \
	'.loaded == true and .file == $f and .ip_version == 6 and .ipv4_prefixes == 7 and
	 .ipv6_prefixes == 3 and .kernel_bytes > 0 and .generation >= 1 and
	 .file_changed == false and (.built | startswith("20"))' --arg f "$DB"
GEN_A=$(json_get "$gs" .generation)

# ---- lookups from the kernel's own tables
lk=$(swj geo lookup "$(c4 5)" --json)
check_jq "geo lookup: $(c4 5) is BR from its /32, policy limit" "$lk" \
	'.found == true and .country == "BR" and .prefix == $p and .policy == "limit"' \
	--arg p "$(c4 5)/32"
lk=$(swj geo lookup "$(c4 3)" --json)
check_jq "geo lookup: $(c4 3) is JP from the /31 it came from, policy allow" "$lk" \
	'.country == "JP" and .prefix == $p and .policy == "allow"' --arg p "$(c4 2)/31"
lk=$(swj geo lookup "$(c4 8)" --json)
check_jq "geo lookup: $(c4 8) is not in the database: unknown, blocked" "$lk" \
	'.found == false and .country == null and .policy == "block"'
lk=$(swj geo lookup "$(c6c 5)" --json)
check_jq "geo lookup: an address of the c6c /64 is CN" "$lk" '.country == "CN" and .policy == "block"'
out=$(sw geo lookup not-an-address 2>&1) && rc=0 || rc=$?
tap_is "geo lookup: a bad address is a usage error (exit 2)" "$rc" 2

# ---- the policies, on real connections
expect_conn "home (JP) IPv4 source: 6 of 6 connects pass" "$(c4 2)" 6 6
expect_conn "world (BR) IPv4 source: 2 of 6 pass the world burst of 2" "$(c4 5)" 6 2
expect_conn "another world source has its own burst" "$(c4 6)" 3 2
expect_conn "blocked country (CN): 0 of 3 pass" "$(c4 7)" 3 0
expect_conn "not in the database (unknown, blocked): 0 of 3 pass" "$(c4 8)" 3 0
expect_conn "home (JP) IPv6 /64: 6 of 6 pass" "$(c6 2)" 6 6
expect_conn "world (BR) IPv6 /64: 2 of 6 pass" "$(c6b 2)" 6 2
expect_conn "blocked (CN) IPv6 /64: 0 of 2 pass" "$(c6c 2)" 2 0

show=$(swj show "$(c4 5)" --json)
check_jq "show: the world source is BR, 4 SYNs dropped for rate" "$show" \
	'.country == "BR" and .syn == 6 and .admitted == 2 and .dropped.rate == 4'
top=$(swj top --json)
check_jq "top: every source carries its country" "$top" \
	'[.sources[] | select(.source == $jp) | .country] == ["JP"] and
	 [.sources[] | select(.source == $br) | .country] == ["BR"]' \
	--arg jp "$(c4 2)/32" --arg br "$(c4 5)/32"
ct=$(swj countries --json)
check_jq "countries: JP admitted every SYN, dropped none" "$ct" \
	'.geo_loaded == true and (.countries[] | select(.country == "JP") |
	 .syn >= 12 and .admitted == .syn and ([.dropped[]] | add) == 0 and .policy == "allow")'
check_jq "countries: BR 15 SYNs, 6 admitted, 9 dropped for rate, policy limit" "$ct" \
	'.countries[] | select(.country == "BR") | .syn == 15 and .admitted == 6 and
	 .dropped.rate == 9 and .policy == "limit"'
check_jq "countries: CN dropped for country, admitted none" "$ct" \
	'.countries[] | select(.country == "CN") | .admitted == 0 and .dropped.country == 5 and
	 .policy == "block"'
check_jq "countries: unknown addresses dropped for country" "$ct" \
	'.countries[] | select(.country == "unknown") | .dropped.country == 3 and .admitted == 0'
txt=$(swj countries)
check "countries: the table names the columns and the countries" \
	grep -qE '^BR +limit' <<<"$txt"

# ---- replace the file under traffic: no packet may be misclassified
# Home source c4 3 must always connect, CN source c4 7 never, whichever
# database is in force at each instant, through 7 swaps A -> B -> A ... -> B.
spec_b | mkdb "$TMPD/b.mmdb" --ip-version 4 --schema flat ||
	bail "write the second fixture" "$(cat "$TMPD/mkmmdb.log")"
cp "$DB" "$TMPD/a.mmdb"
conn "$(c4 3)" --count 1000 --interval-ms 10 --timeout-ms 700 >"$TMPD/home.out" 2>&1 &
HOME_PID=$!
BG_PIDS+=("$HOME_PID")
conn "$(c4 7)" --count 60 --interval-ms 50 --timeout-ms 200 >"$TMPD/cn.out" 2>&1 &
CN_PID=$!
BG_PIDS+=("$CN_PID")
swaps=0
gen=$GEN_A
for i in 1 2 3 4 5 6 7; do
	if [ $((i % 2)) -eq 1 ]; then src=$TMPD/b.mmdb; else src=$TMPD/a.mmdb; fi
	cp "$src" "$DB.tmp"
	mv -f "$DB.tmp" "$DB"
	if wait_for 10 geo_gen_above "$gen"; then
		swaps=$((swaps + 1))
		gen=$(json_get "$(swj geo status --json)" .generation)
	fi
	sleep 0.3
done
wait "$HOME_PID" || true
wait "$CN_PID" || true
tap_is "7 replacements of the file were each picked up" "$swaps" 7
home=$(cat "$TMPD/home.out")
check_jq "under the swaps the home source connected 1000 of 1000" \
	"{\"c\":$(kv "$home" connected),\"f\":$(kv "$home" failed)}" '.c == 1000 and .f == 0'
cn=$(cat "$TMPD/cn.out")
tap_is "under the swaps the blocked source connected 0 of 60" "$(kv "$cn" connected)" 0
ct=$(swj countries --json)
check_jq "countries: JP still dropped nothing, CN admitted nothing" "$ct" \
	'(.countries[] | select(.country == "JP") | ([.dropped[]] | add) == 0) and
	 (.countries[] | select(.country == "CN") | .admitted == 0)'

# Now database B is in force: c4 5 is JP (home) and its limit is gone; a
# source cached as BR is classified again by the new data.
gs=$(swj geo status --json)
check_jq "geo status: database B (IPv4 tree, flat schema) in force" "$gs" \
	'.ip_version == 4 and .ipv4_prefixes == 8 and .ipv6_prefixes == 0'
expect_conn "after the swap, the source that was BR is home: 4 of 4 pass" "$(c4 5)" 4 4
lk=$(swj geo lookup "$(c6 2)" --json)
check_jq "an IPv4-only database places no IPv6 address: unknown" "$lk" \
	'.found == false and .policy == "block"'
expect_conn "so the IPv6 /64 that was JP is now blocked as unknown" "$(c6 3)" 2 0

# ---- a corrupt or missing file keeps the data in force
head -c 100 "$TMPD/a.mmdb" >"$DB.tmp"
mv -f "$DB.tmp" "$DB"
gen_before=$gen
sleep 2
gs=$(swj geo status --json)
check_jq "a truncated replacement is not loaded: generation unchanged, file_changed" "$gs" \
	'.generation == ($g | tonumber) and .ip_version == 4 and .file_changed == true' \
	--arg g "$gen_before"
check_event "the daemon told why, naming the file (a geo event)" \
	'.kind == "geo" and .action == "failed" and .reason == "invalid" and (.text | startswith($d + ": ")) and
	 (.text | contains("keeping the tables loaded from " + $d))' --arg d "$DB"
expect_conn "the old data still applies: the home source connects" "$(c4 2)" 2 2
rm -f "$DB"
sleep 1.5
gs=$(swj geo status --json)
check_jq "a missing file: the tables stay, status says the file is gone" "$gs" \
	'.loaded == true and .file_missing == true and .generation == ($g | tonumber)' \
	--arg g "$gen_before"
check_event "the daemon told of the missing file (a geo event)" \
	'.kind == "geo" and .action == "failed" and .reason == "unreadable" and
	 (.text | startswith("cannot read " + $d + ": No such file"))' --arg d "$DB"
expect_conn "a blocked source stays blocked" "$(c4 7)" 2 0

# ---- SIGHUP reloads the policy and the database
cp "$TMPD/a.mmdb" "$DB"
write_config "${base_conf[@]}" "country world.action=block"
kill -HUP "$DAEMON_PID"
wait_for 10 geo_ip_version_is 6 || true
gs=$(swj geo status --json)
check_jq "SIGHUP loaded database A again" "$gs" '.ip_version == 6 and .file_changed == false'
expect_conn "after SIGHUP the world is blocked: BR source 0 of 2" "$(c4 6)" 2 0
ct=$(swj countries --json)
check_jq "countries: BR policy is now block" "$ct" '.countries[] | select(.country == "BR") | .policy == "block"'

# ---- a restart keeps the tables (same file: not loaded again)
gen=$(json_get "$(swj geo status --json)" .generation)
stop_daemon
lk=$(swj geo lookup "$(c4 7)" --json)
check_jq "with the daemon stopped, geo lookup still reads the kernel's tables" "$lk" '.country == "CN"'
expect_conn "with the daemon stopped, CN is still blocked" "$(c4 7)" 1 0
must_start_daemon
gs=$(swj geo status --json)
check_jq "restart: the same file's tables are adopted, not rebuilt" "$gs" \
	'.generation == ($g | tonumber)' --arg g "$gen"

tap_done
