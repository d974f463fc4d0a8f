#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The accounts side against a real Postfix: submission on 587 (STARTTLS
# required) and 465 (implicit TLS), real SASL (Dovecot), the policy service
# hooked at RCPT and end of data with default_action DUNNO, the mail-log
# follower on Postfix's own log, the fixture geo database placing the
# legitimate senders in JP (home) and the attackers in US, CN and DE.
#
#   - a stolen account used from 20 foreign addresses over 465 and 587 is
#     suspended at its send limit, and only its sending: other accounts keep
#     sending, and its owner at home is refused too;
#   - an owner's sending from home counts under the same limit;
#   - a traveller is capped abroad until an override, which ends by itself;
#   - a foreign sender address is refused from abroad, accepted from home;
#   - an account used from three countries is flagged, the notify command runs;
#   - password guessing from one address is dropped at the NIC after five
#     failures (from Postfix's log), while the account's owner keeps sending;
#   - kill -9 of the daemon under traffic loses no suspension;
#   - with the daemon stopped, mail still flows (DUNNO by default action).

set -euo pipefail
. "$(dirname "$0")/lab.sh"

MKMMDB=$LABT_ROOT/build/tools/mkmmdb
command -v swaks >/dev/null || { echo "Bail out! swaks is missing: scripts/install-deps.sh"; exit 1; }
command -v dovecot >/dev/null || { echo "Bail out! dovecot is missing: scripts/install-deps.sh"; exit 1; }
[ -x "$MKMMDB" ] || { echo "Bail out! $MKMMDB is missing: run 'make tests' first"; exit 1; }

LAB_SUBMISSION=1
labt_setup
DB=$LAB_DIR/country.mmdb
NOTIFY_OUT=$LAB_DIR/notified
HOME1=$LAB_LEGIT		# JP
HOME2=$LAB_NET.4		# JP
US=$LAB_NET.100			# 10.77.X.96/28: US
CN=$LAB_NET.112			# 10.77.X.112/28: CN
DE=$LAB_NET.128			# 10.77.X.128/26: DE
GUESSER=$LAB_NET.150		# DE
note "lab $LAB_ID: submission on $LAB_SRV:587 and :465; home $HOME1, abroad $US (US), $CN (CN), $DE (DE)"

printf '%s\n' "$LAB_NET.0/26 JP" "$LAB_NET.96/28 US" "$LAB_NET.112/28 CN" "$LAB_NET.128/26 DE" |
	"$MKMMDB" --ip-version 6 --alias --schema geoip2 -o "$DB" 2>"$LAB_DIR/mkmmdb.log" ||
	bail "write the fixture database" "$(cat "$LAB_DIR/mkmmdb.log")"
cat >"$LAB_DIR/notify.sh" <<NOTIFY
#!/bin/sh
echo "\$SMTPWALL_ACCOUNT|\$2" >>"$NOTIFY_OUT"
NOTIFY
chmod 755 "$LAB_DIR/notify.sh"

{
	echo "[general]"
	echo "interfaces = $LAB_IF_SRV"
	echo "bpffs_dir = $LAB_BPFFS"
	echo "state_dir = $LAB_DIR/state"
	echo "gc_interval = 500ms"
	echo "[limits]"
	echo "syn_rate = 600/min"
	echo "syn_burst = 100"
	echo "[penalty]"
	echo "strikes = 0"
	echo "base = 2m"
	echo "[emergency]"
	echo "mode = off"
	echo "[geo]"
	echo "database = $DB"
	echo "home = JP"
	echo "[policy]"
	echo "enabled = yes"
	echo "socket = $LAB_POLICY_SOCKET"
	echo "socket_group = postfix"
	echo "[accounts]"
	echo "messages_per_minute = 15"
	echo "overseas_messages = 2"
	echo "overseas_window = 1d"
	echo "origins_countries = 3"
	echo "origins_addresses = 30"
	echo "notify_command = $LAB_DIR/notify.sh"
	echo "[maillog]"
	echo "enabled = yes"
	echo "file = $LAB_MAILLOG"
	echo "auth_failures = 5"
} >"$CONF"

if ! start_daemon 2>"$LAB_DIR/daemon.err"; then
	bail "start the daemon on $LAB_IF_SRV" "$(cat "$LAB_DIR/daemon.err")"$'\n'"$(cat "$CONF")"
fi
for ((i = 0; i < 50; i++)); do [ -S "$LAB_POLICY_SOCKET" ] && break; sleep 0.1; done
tap_is "the policy socket is in Postfix's private/, group postfix, mode 0660" \
	"$(stat -c '%G %a' "$LAB_POLICY_SOCKET" 2>&1)" "postfix 660"

# send FROM PORT USER [SENDER] [PASSWORD]: one message over 587 (STARTTLS)
# or 465 (TLS on connect) from FROM (its namespace found by the address);
# prints "250" when queued, else the first refusal's code and text.
send() {
	local from=$1 port=$2 user=$3 sender=${4:-$3@lab.test} pw=${5:-pw-$3} ns tls out

	case $from in
	"$LAB_NET".[2-9]) ns=$LAB_NS_LEGIT ;;
	*) ns=$LAB_NS_ATK ;;
	esac
	[ "$port" = 465 ] && tls=--tls-on-connect || tls=--tls
	out=$(timeout 20 nsenter --net="/run/netns/$ns" -- swaks --server "$LAB_SRV" --port "$port" "$tls" \
		--local-interface "$from" --auth PLAIN --auth-user "$user" --auth-password "$pw" \
		--from "$sender" --to user@lab.test --timeout 10 2>&1) || true
	if grep -q 'queued as' <<<"$out"; then
		echo 250
	else
		grep -m1 -E '^(<\*\*|<~\*|\*\*\*) ' <<<"$out" | sed -E 's/^(<\*\*|<~\*|\*\*\*) //' || echo "no answer"
	fi
}
acct() { swj account show "$1" --json; }
# labt_wait SECONDS CMD...: poll CMD every 100 ms until it succeeds.
labt_wait() {
	local i

	for ((i = 0; i < $1 * 10; i++)); do
		"${@:2}" && return 0
		sleep 0.1
	done
	return 1
}
penalised() { sw show "$1" --json 2>/dev/null | jq -e '.penalty.active' >/dev/null; }

# --- before anything
tap_is "alice sends from home over 587" "$(send "$HOME1" 587 alice)" 250
tap_is "bob sends from home over 465" "$(send "$HOME2" 465 bob)" 250

# --- a stolen account from 20 foreign addresses (its overseas cap raised:
# the send limit is what stops it here)
sw account set victim overseas=100 --reason "e2e: a frequent traveller" >/dev/null
ok=0 refused=0 first_refusal=""
for i in $(seq 0 19); do
	addr=$LAB_NET.$((100 + i * 3))	# 100..157: US, CN and DE
	port=$((i % 2 ? 465 : 587))
	r=$(send "$addr" "$port" victim)
	if [ "$r" = 250 ]; then
		ok=$((ok + 1))
	else
		refused=$((refused + 1))
		[ -n "$first_refusal" ] || first_refusal=$r
	fi
done
tap_is "the stolen account sent its 15 messages a minute from 20 foreign addresses, then was refused" \
	"$ok sent, $refused refused" "15 sent, 5 refused"
sleep 1.2	# addresses and counts reach state.db once a second
tap_check "the refusal says sending is suspended, with the figures" "$first_refusal" \
	grep -q '450 4.7.1 .*Sending suspended for this account: message limit: 16 messages in the last minute' \
	<<<"$first_refusal"
check_jq "account show: suspended by policy, 20 addresses in 3 countries" "$(acct victim)" \
	'.suspended == true and .suspension.by == "policy" and (.addresses | length) == 20 and
	 ([.countries[].country] | sort) == ["CN","DE","US"]'
tap_is "other accounts keep sending (alice, home, 587)" "$(send "$HOME1" 587 alice)" 250
tap_is "other accounts keep sending (bob, home, 465)" "$(send "$HOME2" 465 bob)" 250
r=$(send "$HOME1" 587 victim)
tap_check "the stolen account's owner at home is refused too (sending only)" "$r" grep -q '^450 4.7.1' <<<"$r"
tap_check "the suspended account can still log in (AUTH succeeded in Postfix's log)" \
	"$(tail -n 30 "$LAB_MAILLOG")" grep -q "sasl_username=victim" "$LAB_MAILLOG"

# --- sending from home counts under the same limit
ok=0
for i in $(seq 1 15); do [ "$(send "$HOME2" 587 carol)" = 250 ] && ok=$((ok + 1)); done
r=$(send "$HOME2" 587 carol)
tap_is "carol's 15 messages from home went" "$ok" 15
tap_check "her 16th from home is refused by the same limit" "$r" grep -q '^450 4.7.1 .*message limit' <<<"$r"

# --- a traveller: capped abroad (2 a day), an override that ends by itself
tap_is "the traveller's first message from abroad goes" "$(send "$US" 587 traveller)" 250
tap_is "and the second" "$(send "$US" 465 traveller)" 250
r=$(send "$US" 587 traveller)
tap_check "the third is over the overseas cap of 2" "$r" grep -q '^450 4.7.1 .*overseas sending limit' <<<"$r"
sw account set traveller overseas=50 --for 6s --reason "e2e: travelling" >/dev/null
sleep 1.5
tap_is "with an override for 6 s, sending from abroad works" "$(send "$US" 587 traveller)" 250
sleep 6
r=$(send "$US" 587 traveller)
tap_check "the override ended by itself: capped again" "$r" grep -q '^450 4.7.1 .*overseas' <<<"$r"

# --- sender mismatch: from abroad only
r=$(send "$CN" 465 bob ceo@bank.example)
tap_check "a foreign sender address from abroad is refused (550 5.7.1)" "$r" grep -q '^550 5.7.1' <<<"$r"
tap_is "the same sender from home is accepted" "$(send "$HOME2" 465 bob ceo@bank.example)" 250

# --- three countries: flagged, the notify command runs
send "$HOME1" 587 dave >/dev/null
send "$US" 587 dave >/dev/null
send "$DE" 465 dave >/dev/null
for ((i = 0; i < 50; i++)); do grep -q '^dave|' "$NOTIFY_OUT" 2>/dev/null && break; sleep 0.1; done
check_jq "dave, seen from JP, US and DE, is flagged" "$(acct dave)" \
	'.flagged == true and (.flag_reason | test("3 countries"))'
tap_check "the notify command ran for dave with the reason" "$(cat "$NOTIFY_OUT" 2>/dev/null)" \
	grep -q '^dave|used from 3 countries' "$NOTIFY_OUT"

# --- password guessing, from Postfix's log to the NIC
for i in 1 2 3 4 5; do send "$GUESSER" 587 alice "" wrong-password >/dev/null; done
if labt_wait 3 penalised "$GUESSER"; then
	tap_ok "five failed logins from $GUESSER in Postfix's log: the source is penalised"
else
	tap_fail "five failed logins from $GUESSER in Postfix's log: the source is penalised" \
		"$(swj show "$GUESSER")"$'\n'"$(grep -c 'authentication failed' "$LAB_MAILLOG")"
fi
r=$(send "$GUESSER" 587 alice)
tap_check "its next connection is dropped at the NIC" "$r" grep -qiv '^250' <<<"$r"
check_jq "show says why: auth" "$(swj show "$GUESSER" --json)" \
	'.penalty.reason == "auth" and any(.maillog.accounts[]; .account == "alice" and .failures >= 5)'
tap_is "alice herself keeps sending from home" "$(send "$HOME1" 587 alice)" 250

# --- kill -9 under traffic: the suspension stays
(for i in $(seq 1 8); do send "$HOME1" 587 alice >>"$LAB_DIR/traffic.out"; done) &
traffic=$!
LABT_PIDS+=("$traffic")
sleep 1
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true
DAEMON_PID=""
wait "$traffic" 2>/dev/null || true
tap_check "mail flowed through the kill (DUNNO by default action): every message of the traffic queued" \
	"$(cat "$LAB_DIR/traffic.out")" bash -c "[ \$(grep -c '^250$' '$LAB_DIR/traffic.out') -eq 8 ]"
r=$(send "$HOME1" 587 alice)
tap_is "with the daemon down, mail still flows" "$r" 250
if ! start_daemon 2>"$LAB_DIR/daemon.err"; then
	bail "restart the daemon" "$(cat "$LAB_DIR/daemon.err")"
fi
for ((i = 0; i < 50; i++)); do [ -S "$LAB_POLICY_SOCKET" ] && break; sleep 0.1; done
r=$(send "$US" 465 victim)
tap_check "after kill -9 and a restart the stolen account is still suspended" "$r" \
	grep -q '^450 4.7.1 .*Sending suspended' <<<"$r"
tap_check "and the guesser still dropped (the kernel kept its penalty)" "$(swj show "$GUESSER")" penalised "$GUESSER"

tap_done
