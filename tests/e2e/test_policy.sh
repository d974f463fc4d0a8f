#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The policy service over its real sockets: a daemon answering Postfix's
# policy protocol for accounts. Send limits suspend only the account over
# its limit while others keep sending; a stolen account tried from twenty
# foreign addresses is capped by the overseas limit and flagged (the notify
# command runs, its mail is routed to the flagged transport); a traveller's
# override lets an account send from abroad until it expires by itself; a
# foreign sender address is refused from abroad and accepted from home; an
# account seen from three countries is flagged; the CLI suspends and
# resumes a running daemon's account within a second; kill -9 loses no
# suspension and no count older than a second; garbage on one connection
# never disturbs another; monitor mode warns and refuses nothing; a
# non-loopback TCP listener is refused at config time.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

POLICYREQ=$ROOT_DIR/build/tools/policyreq
MKMMDB=$ROOT_DIR/build/tools/mkmmdb
[ -x "$POLICYREQ" ] && [ -x "$MKMMDB" ] || bail "build/tools is missing: run 'make tests' first"

e2e_setup
PSOCK=$TMPD/policy.sock
PORT=$((20000 + RANDOM % 20000))
DB=$TMPD/country.mmdb
NOTIFY_OUT=$TMPD/notified
cat >"$TMPD/notify.sh" <<NOTIFY
#!/bin/sh
echo "\$SMTPWALL_ACCOUNT|\$1|\$2" >>"$NOTIFY_OUT"
NOTIFY
chmod 755 "$TMPD/notify.sh"

printf '%s\n' "198.51.100.0/24 JP" "203.0.113.0/24 CN" "192.0.2.0/24 US" "2001:db8:77::/48 BR" |
	"$MKMMDB" --ip-version 6 --alias --schema geoip2 -o "$DB" 2>"$TMPD/mkmmdb.log" ||
	bail "write the fixture database" "$(cat "$TMPD/mkmmdb.log")"

conf=(
	"geo.database=$DB" "geo.home=JP"
	"policy.enabled=yes" "policy.socket=$PSOCK" "policy.socket_group=root" "policy.socket_mode=0660"
	"policy.tcp=127.0.0.1:$PORT"
	"accounts.messages_per_minute=5" "accounts.overseas_messages=3" "accounts.overseas_window=1h"
	"accounts.origins_countries=3" "accounts.origins_addresses=10"
	"accounts.notify_command=$TMPD/notify.sh" "accounts.flagged_filter=smtp-flagged:[192.0.2.25]:25"
)
write_config "${conf[@]}"

# req STATE CLIENT ACCOUNT SENDER INSTANCE: one request as smtpd sends it.
req() {
	printf 'request=smtpd_access_policy\nprotocol_state=%s\nprotocol_name=ESMTP\nclient_address=%s\n' "$1" "$2"
	printf 'client_name=unknown\nhelo_name=client.example\nsasl_method=PLAIN\nsasl_username=%s\n' "$3"
	printf 'sender=%s\nrecipient=rcpt@example.com\nrecipient_count=0\ninstance=%s\nsize=0\n' "$4" "$5"
	printf 'encryption_protocol=TLSv1.3\nserver_port=587\n\n'
}
# ask [--tcp]: stdin's requests over one connection; one answer per line.
ask() {
	if [ "${1:-}" = --tcp ]; then
		# the daemon's loopback is the server namespace's
		in_server "$POLICYREQ" --tcp "127.0.0.1:$PORT" --timeout 5
	else
		"$POLICYREQ" --unix "$PSOCK" --timeout 5
	fi
}
# one STATE CLIENT ACCOUNT SENDER INSTANCE: the answer to a single request.
one() { req "$@" | ask; }
# _wait_file_has FILE TEXT: FILE holds TEXT within 5 s.
_wait_file_has() {
	local i
	for ((i = 0; i < 50; i++)); do
		grep -qF -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
seq_n=0
inst() { seq_n=$((seq_n + 1)); echo "I$seq_n.$RANDOM"; }

must_start_daemon
for ((i = 0; i < 50; i++)); do [ -S "$PSOCK" ] && break; sleep 0.1; done
tap_is "the policy socket is mode 0660" "$(stat -c %a "$PSOCK" 2>&1)" 660
tap_is "and belongs to the configured group" "$(stat -c %G "$PSOCK" 2>&1)" root
check "the listening event names the socket" _event_wait 5 '.kind == "policy" and .action == "listening"'

# --- send limits: the account over its limit is suspended, no one else.
answers=$(for i in 1 2 3 4 5 6 7; do req RCPT 198.51.100.7 alice alice@example.jp "$(inst)"; done | ask)
tap_is "alice's first five messages are let through" "$(head -5 <<<"$answers" | sort -u)" DUNNO
check "the sixth is deferred with the suspension's reason" grep -q '^450 4.7.1 Sending suspended.*limit 5' <<<"$(sed -n 6p <<<"$answers")"
check "and the next is refused as suspended" grep -q '^450 4.7.1 Sending suspended' <<<"$(sed -n 7p <<<"$answers")"
tap_is "bob, at home too, keeps sending" "$(one RCPT 198.51.100.8 bob bob@example.jp "$(inst)")" DUNNO
check "alice's MAIL FROM is refused as well" grep -q '^450' <<<"$(one MAIL 198.51.100.7 alice alice@example.jp "$(inst)")"
check "the suspension is an event with the account and reason" \
	_event_wait 5 '.kind == "account" and .action == "suspended" and .account == "alice" and (.text | test("limit 5"))'
sleep 1.2
show=$(swj account show alice --json)
check_jq "account show: alice suspended by policy, with the figures" "$show" \
	'.suspended and .suspension.by == "policy" and (.suspension.reason | test("6 messages in the last minute \\(limit 5\\)"))'
check_jq "account show: the history records it" "$show" 'any(.history[]; .action == "suspended" and .by == "policy")'

# --- the stolen account: twenty foreign addresses.
out=$(for i in $(seq 1 20); do req RCPT "203.0.113.$i" victim victim@example.jp "$(inst)"; done | ask)
tap_is "victim from abroad: three messages pass the overseas cap" "$(head -3 <<<"$out" | sort -u)" DUNNO
tap_is "the other seventeen are deferred by the cap" "$(tail -17 <<<"$out" | grep -c '^450 4.7.1 overseas sending limit')" 17
check "victim is flagged for its many addresses" \
	_event_wait 5 '.kind == "account" and .action == "flagged" and .account == "victim" and (.text | test("10 addresses"))'
check "the notify command ran for victim" _wait_file_has "$NOTIFY_OUT" 'victim|victim|used from 10 addresses'
tap_is "victim's mail from home now goes to the flagged transport" \
	"$(one RCPT 198.51.100.20 victim victim@example.jp "$(inst)")" "FILTER smtp-flagged:[192.0.2.25]:25"
sleep 1.2	# counts and addresses reach state.db once a second
show=$(swj account show victim --json)
check_jq "account show: victim's addresses with their country" "$show" \
	'(.addresses | length) == 21 and any(.addresses[]; .address == "203.0.113.7" and .country == "CN")'
check_jq "account show: counts per country" "$show" 'any(.countries[]; .country == "CN" and .messages == 3)'

# --- a traveller's override expires by itself.
out=$(for i in 1 2 3 4; do req RCPT 203.0.113.50 carol carol@example.jp "$(inst)"; done | ask)
tap_is "carol abroad: the fourth message meets the cap" "$(tail -1 <<<"$out" | cut -c1-3)" 450
check "account set carol overseas=100 --for 3s" sw account set carol overseas=100 --for 3s --reason "travelling"
sleep 1.5
tap_is "with the override, carol sends from abroad" "$(one RCPT 203.0.113.50 carol carol@example.jp "$(inst)")" DUNNO
sleep 2.5
check "after it ran out, the cap applies again" grep -q '^450' <<<"$(one RCPT 203.0.113.50 carol carol@example.jp "$(inst)")"
check "the expiry is an event" _event_wait 5 '.kind == "account" and .action == "override-expired" and .account == "carol"'

# --- sender mismatch: refused only from abroad.
check "dave from the US with another's sender: refused" \
	grep -q '^550 5.7.1 sender <ceo@bank.example> is not' <<<"$(one RCPT 192.0.2.9 dave ceo@bank.example "$(inst)")"
tap_is "dave from home with the same sender: accepted" "$(one RCPT 198.51.100.9 dave ceo@bank.example "$(inst)")" DUNNO
tap_is "dave from the US with his own address: accepted" "$(one RCPT 192.0.2.9 dave dave@example.jp "$(inst)")" DUNNO

# --- three countries flag an account (IPv6 included).
for a in 198.51.100.30 192.0.2.30 2001:db8:77::30; do one RCPT "$a" erin erin@example.jp "$(inst)" >/dev/null; done
check "erin, seen from JP, US and BR, is flagged" \
	_event_wait 5 '.kind == "account" and .action == "flagged" and .account == "erin" and (.text | test("3 countries"))'
check "the notify command ran for erin" _wait_file_has "$NOTIFY_OUT" 'erin|erin|used from 3 countries'
sleep 1.2
check_jq "erin's IPv6 address is kept as its /64" "$(swj account show erin --json)" \
	'any(.addresses[]; .address == "2001:db8:77::/64" and .country == "BR")'
check_jq "account list --flagged: victim and erin" "$(swj account list --flagged --json)" \
	'[.[].account] == ["erin", "victim"]'

# --- the CLI against a running daemon.
check "account suspend bob --reason" sw account suspend bob --reason "abuse desk ticket 42"
sleep 1.5
check "bob is refused within a second" grep -q '^450.*abuse desk ticket 42' <<<"$(one RCPT 198.51.100.8 bob bob@example.jp "$(inst)")"
check "account resume bob" sw account resume bob --reason "owner called"
sleep 1.5
tap_is "bob sends again" "$(one RCPT 198.51.100.8 bob bob@example.jp "$(inst)")" DUNNO
check_jq "bob's history: suspended and resumed by the CLI" "$(swj account show bob --json)" \
	'[.history[] | .action + "/" + .by] == ["suspended/cli:root", "resumed/cli:root"]'

# --- TCP on loopback answers the same way.
tap_is "over TCP: bob sends" "$(req RCPT 198.51.100.8 bob bob@example.jp "$(inst)" | ask --tcp)" DUNNO
check "over TCP: alice is still suspended" grep -q '^450' <<<"$(req RCPT 198.51.100.7 alice x@y "$(inst)" | ask --tcp)"

# --- garbage on one connection disturbs no other.
{ printf 'this is not a policy request\nnor=this\n\n'; req RCPT 198.51.100.8 bob bob@example.jp "$(inst)"; } |
	"$POLICYREQ" --unix "$PSOCK" --raw --timeout 2 >"$TMPD/garbage.out" &
gpid=$!
good=$(for i in 1 2 3; do req RCPT 198.51.100.40 gina gina@example.jp "$(inst)"; done | ask)
wait "$gpid" || true
tap_is "a malformed request is answered DUNNO, the next one on its connection read" \
	"$(tr '\n' ' ' <"$TMPD/garbage.out")" "DUNNO DUNNO "
tap_is "meanwhile another client gets its answers" "$(tr '\n' ' ' <<<"$good")" "DUNNO DUNNO DUNNO "
head -c 10000 /dev/zero | tr '\0' 'a' | "$POLICYREQ" --unix "$PSOCK" --raw --timeout 2 >"$TMPD/long.out" || true
tap_is "a line too long gets DUNNO and the connection is closed" "$(cat "$TMPD/long.out")" DUNNO
check "malformed requests are counted as events" _event_wait 5 '.kind == "policy" and .action == "malformed"'

# --- many clients at once.
load_pids=()
for c in $(seq 1 30); do
	(for i in 1 2 3 4; do req RCPT "198.51.100.$((100 + c))" "load$c" "load$c@example.jp" "L$c.$i"; done | ask) >"$TMPD/load.$c" &
	load_pids+=("$!")
done
wait "${load_pids[@]}" || true
tap_is "30 concurrent clients: 120 answers, all DUNNO" "$(cat "$TMPD"/load.* | grep -c '^DUNNO$')" 120

# --- kill -9 loses no suspension and no count older than a second.
sleep 1.5
kill9_daemon
must_start_daemon
for ((i = 0; i < 50; i++)); do [ -S "$PSOCK" ] && break; sleep 0.1; done
check "after kill -9 alice is still suspended" grep -q '^450' <<<"$(one RCPT 198.51.100.7 alice alice@example.jp "$(inst)")"
check_jq "gina's three messages survived the kill" "$(swj account show gina --json)" '.windows.minute.messages == 3'
out=$(for i in 1 2 3; do req RCPT 198.51.100.40 gina gina@example.jp "$(inst)"; done | ask)
tap_is "and still count under the limit (the sixth in a minute is refused)" "$(tr '\n' ' ' <<<"$out" | cut -c1-16)" "DUNNO DUNNO 450 "

# --- monitor mode, through a reload: warned, counted, nothing refused.
write_config "${conf[@]}" "accounts.limits_mode=monitor"
kill -HUP "$DAEMON_PID"
check "the reload is seen" _event_wait 5 '.kind == "daemon" and .action == "reloaded"'
out=$(for i in $(seq 1 7); do req RCPT 198.51.100.50 hank hank@example.jp "$(inst)"; done | ask)
tap_is "monitor: hank's sixth and seventh are WARN" "$(tail -2 <<<"$out" | cut -c1-21 | sort -u)" "WARN smtpwall monitor"
sleep 1.2
check_jq "monitor: hank is not suspended and all 7 counted" "$(swj account show hank --json)" \
	'(.suspended | not) and .windows.minute.messages == 7'
check "a would-refuse event" _event_wait 5 '.kind == "account" and .action == "would-refuse" and .account == "hank"'

# --- stopped, the socket is gone (Postfix then applies its default action).
stop_daemon
check_fails "after a stop the socket is removed" test -e "$PSOCK"
check "the CLI still works with the daemon stopped" sw account show alice

# --- configuration errors are clear.
write_config "${conf[@]}" "policy.tcp=192.0.2.1:10040"
out=$(sw run 2>&1) && rc=0 || rc=$?
tap_is "a non-loopback tcp listener: run fails (exit 1)" "$rc" 1
check "and says why" grep -q "not a loopback address" <<<"$out"
write_config "${conf[@]}" "accounts.suspend_reply=250"
out=$(sw run 2>&1) || true
check "a suspend_reply that is not 4xx/5xx is refused" grep -q "suspend_reply" <<<"$out"

tap_done
