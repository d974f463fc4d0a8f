#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The mail-log follower against a real Postfix (the submission lab: 587
# with STARTTLS required, Dovecot SASL), over IPv6 and in an emergency:
#
#   - password guessing spread over five addresses of one IPv6 /64, real
#     SMTP AUTH failures over STARTTLS to [server]:587, is one source: the
#     /64 is penalised (reason auth) and a sixth address of it, never used,
#     is dropped at the NIC, while another /64 still connects;
#   - in an emergency (`smtpwall emergency on`), a sender never seen before
#     that logs in correctly over 587 and sends is admitted (on probation),
#     and its login vouches for it: known good, it then holds two sessions
#     at once; a never-seen sender with a wrong password is not vouched
#     for and keeps the probation limit of one session;
#   - `postfix logrotate` (rename to maillog.DATE, reload, gzip) in the
#     middle of a guesser's failed logins loses none: two before it, three
#     while it runs, the fifth penalises, and the follower counted five;
#   - a restart of the daemon resumes at its saved place in Postfix's log:
#     three failures before it, two while it is down, penalised after it
#     with five counted (none read twice).

set -euo pipefail
. "$(dirname "$0")/lab.sh"

TCPCONN=$LABT_ROOT/build/tools/tcpconn
command -v swaks >/dev/null || { echo "Bail out! swaks is missing: scripts/install-deps.sh"; exit 1; }
command -v dovecot >/dev/null || { echo "Bail out! dovecot is missing: scripts/install-deps.sh"; exit 1; }
[ -x "$TCPCONN" ] || { echo "Bail out! $TCPCONN is missing: run 'make tests' first"; exit 1; }

LAB_SUBMISSION=1
LAB_ATTACKERS=10
labt_setup
# Five guessing addresses and a sixth, unused, in one /64; another /64 beside.
G64=$LAB_NET6:200
G6=("$G64::a" "$G64::b" "$G64::c" "$G64::d" "$G64::e")
G6_UNUSED=$G64::f00
OTHER6=$LAB_NET6:201::1
printf 'addr add %s/48 dev '"$LAB_IF_ATK"' nodad\n' "${G6[@]}" "$G6_UNUSED" "$OTHER6" |
	ip -n "$LAB_NS_ATK" -batch - || bail "add the IPv6 guessers to $LAB_NS_ATK"
NEW_OK=$LAB_LEGIT_NEW		# never seen; logs in correctly in the emergency
NEW_BAD=$LAB_NET.7		# never seen; a wrong password in the emergency
ROTATED=$LAB_NET.105		# guesses across a log rotation
RESUMED=$LAB_NET.106		# guesses across a restart of the daemon
note "lab $LAB_ID: guessers ${G6[*]} ($G64::/64), new senders $NEW_OK and $NEW_BAD, rotation $ROTATED"

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
	echo "base = 10m"
	echo "[emergency]"
	echo "mode = off"
	echo "[policy]"
	echo "enabled = yes"
	echo "socket = $LAB_POLICY_SOCKET"
	echo "socket_group = postfix"
	echo "[maillog]"
	echo "enabled = yes"
	echo "file = $LAB_MAILLOG"
	echo "auth_failures = 5"
} >"$CONF"
if ! start_daemon 2>"$LAB_DIR/daemon.err"; then
	bail "start the daemon on $LAB_IF_SRV" "$(cat "$LAB_DIR/daemon.err")"
fi
for ((i = 0; i < 50; i++)); do [ -S "$LAB_POLICY_SOCKET" ] && break; sleep 0.1; done

ns_of() {
	case $1 in
	"$LAB_NET".[2-9] | "$LAB_NET6":[23]::*) echo "$LAB_NS_LEGIT" ;;
	*) echo "$LAB_NS_ATK" ;;
	esac
}
# send FROM USER [PASSWORD]: one message over 587 (STARTTLS) from FROM;
# prints "250" when queued, else the first refusal or error.
send() {
	local from=$1 user=$2 pw=${3:-pw-$2} srv=$LAB_SRV out

	[[ $from == *:* ]] && srv=$LAB_SRV6
	out=$(timeout 20 nsenter --net="/run/netns/$(ns_of "$from")" -- swaks --server "$srv" --port 587 --tls \
		--local-interface "$from" --auth PLAIN --auth-user "$user" --auth-password "$pw" \
		--from "$user@lab.test" --to user@lab.test --timeout 8 2>&1) || true
	if grep -q 'queued as' <<<"$out"; then
		echo 250
	else
		grep -m1 -E '^(<\*\*|<~\*|\*\*\*) ' <<<"$out" | sed -E 's/^(<\*\*|<~\*|\*\*\*) //' || echo "no answer"
	fi
}
# connects FROM: how many of 1 connection to 587 complete (0 or 1).
connects() {
	local srv=$LAB_SRV

	[[ $1 == *:* ]] && srv=$LAB_SRV6
	kv "$(timeout 10 nsenter --net="/run/netns/$(ns_of "$1")" -- "$TCPCONN" connect --to "$srv" --port 587 \
		--from "$1" --count 1 --timeout-ms 1000 2>&1)" connected
}
# holds FROM N: how many of N sessions to 587 held at once from FROM are admitted.
holds() {
	local out=$LAB_DIR/hold-$1.out sig=$LAB_DIR/hold-$1.release pid i

	rm -f "$sig"
	nsenter --net="/run/netns/$(ns_of "$1")" -- "$TCPCONN" hold --to "$LAB_SRV" --port 587 --from "$1" \
		--count "$2" --signal-file "$sig" --timeout-ms 1000 --max-seconds 30 >"$out" 2>&1 &
	pid=$!
	LABT_PIDS+=("$pid")
	for ((i = 0; i < 100; i++)); do
		grep -q '^connected=' "$out" 2>/dev/null && break
		sleep 0.05
	done
	touch "$sig"
	wait "$pid" 2>/dev/null || true
	kv "$(grep -m1 '^connected=' "$out" 2>/dev/null)" connected
}
labt_wait() {
	local i

	for ((i = 0; i < $1 * 10; i++)); do
		"${@:2}" && return 0
		sleep 0.1
	done
	return 1
}
penalised() { sw show "$1" --json 2>/dev/null | jq -e '.penalty.active and .penalty.reason == "auth"' >/dev/null; }
known_good() { sw show "$1" --json 2>/dev/null | jq -e '.health.known_good == true' >/dev/null; }
not_known_good() { ! known_good "$1"; }
failures_logged() { grep -c "\[$1\]: SASL PLAIN authentication failed" "$LAB_MAILLOG" 2>/dev/null || true; }

tap_is "before: alice sends over IPv6 to [$LAB_SRV6]:587 from $OTHER6" "$(send "$OTHER6" alice)" 250
tap_is "before: $G6_UNUSED connects to 587" "$(connects "$G6_UNUSED")" 1

# --- guessing spread over one /64: five addresses, one failure each, real AUTH over STARTTLS
pids=()
for a in "${G6[@]}"; do
	send "$a" bob wrong-password >"$LAB_DIR/guess-$a.out" &
	pids+=("$!")
	LABT_PIDS+=("$!")
done
wait "${pids[@]}" 2>/dev/null || true
n=0
for a in "${G6[@]}"; do n=$((n + $(failures_logged "$a"))); done
tap_is "Postfix logged five failed logins, one from each address of $G64::/64" "$n" 5
if labt_wait 3 penalised "$G6_UNUSED"; then
	tap_ok "the /64 is one source: penalised for auth after five failures from five addresses"
else
	tap_fail "the /64 is one source: penalised for auth after five failures from five addresses" \
		"$(swj show "$G6_UNUSED" --json)"$'\n'"$(grep 'authentication failed' "$LAB_MAILLOG" | tail -n 5)"
fi
check_jq "show names the /64 and counts the five failures against bob" "$(swj show "${G6[0]}" --json)" \
	'.source == $s and any(.maillog.accounts[]; .account == "bob" and .failures == 5)' --arg s "$G64::/64"
tap_is "an address of the /64 that never tried is dropped at the NIC" "$(connects "$G6_UNUSED")" 0
tap_is "another /64 still connects" "$(connects "$OTHER6")" 1

# --- an emergency: a correct login from a new address is admitted and vouches for it
check "emergency on" sw emergency on
check_jq "the emergency is on" "$(swj emergency --json)" '.active == true'
tap_is "in the emergency, a sender never seen ($NEW_OK) logs in correctly over 587 and sends" \
	"$(send "$NEW_OK" carol)" 250
if labt_wait 3 known_good "$NEW_OK"; then
	tap_ok "its login (client= with sasl_username in Postfix's log) vouched for it: known good"
else
	tap_fail "its login (client= with sasl_username in Postfix's log) vouched for it: known good" \
		"$(swj show "$NEW_OK" --json)"
fi
tap_is "known good, it holds two sessions on 587 at once in the emergency" "$(holds "$NEW_OK" 2)" 2
tap_is "and sends again" "$(send "$NEW_OK" carol)" 250
r=$(send "$NEW_BAD" dave wrong-password)
tap_check "a never-seen sender with a wrong password is refused by Postfix ($NEW_BAD)" "$r" grep -qv '^250' <<<"$r"
sleep 1
tap_check "it is not vouched for" "$(swj show "$NEW_BAD" --json)" not_known_good "$NEW_BAD"
tap_is "it keeps the probation limit: one of two sessions at once" "$(holds "$NEW_BAD" 2)" 1
check "emergency off" sw emergency off

# --- postfix logrotate in the middle of a guesser's failures
# guess FROM USER N: N failed logins of USER from FROM at once.
guess() {
	local -a ps=()

	for ((i = 0; i < $3; i++)); do
		send "$1" "$2" wrong-password >/dev/null &
		ps+=("$!")
		LABT_PIDS+=("$!")
	done
	wait "${ps[@]}" 2>/dev/null || true
}
guess "$ROTATED" alice 2
# Three more while Postfix renames its log, reloads and compresses the old one.
(guess "$ROTATED" alice 3) &
guesser=$!
LABT_PIDS+=("$guesser")
lab_in_server postfix -c "$LAB_PF_DIR" logrotate >"$LAB_DIR/logrotate.out" 2>&1 ||
	tap_fail "postfix logrotate" "$(cat "$LAB_DIR/logrotate.out")"
wait "$guesser" 2>/dev/null || true
rotated=$(ls "$LAB_MAILLOG".* 2>/dev/null | head -n 1)
before=$( (zcat -f "$LAB_MAILLOG".* 2>/dev/null || true) | grep -c "\[$ROTATED\]: SASL PLAIN authentication failed" || true)
after=$(failures_logged "$ROTATED")
tap_check "Postfix rotated its log ($(basename "${rotated:-none}")) between the failures: $before before, $after after" \
	"$before/$after" test "$before" -ge 1 -a "$after" -ge 1 -a $((before + after)) -eq 5
if labt_wait 3 penalised "$ROTATED"; then
	tap_ok "$before failures before the rotation and $after after: penalised"
else
	tap_fail "$before failures before the rotation and $after after: penalised" \
		"$(swj show "$ROTATED" --json)"$'\n'"$(grep maillog "$DAEMON_LOG" | tail -n 5)"
fi
check_jq "the follower counted all five" "$(swj show "$ROTATED" --json)" \
	'any(.maillog.accounts[]; .account == "alice" and .failures == 5)'
tap_is "the guesser is dropped at the NIC" "$(connects "$ROTATED")" 0

# --- a daemon restart resumes at its saved place in Postfix's log
guess "$RESUMED" dave 3
labt_wait 3 bash -c "[ \$(grep -c '\[$RESUMED\]: SASL PLAIN authentication failed' '$LAB_MAILLOG') -ge 3 ]" || true
sleep 1.2	# the follower's place and the failures reach state.db with each batch
_kill_wait "$DAEMON_PID" TERM 10	# enforcement stays attached
DAEMON_PID=""
guess "$RESUMED" dave 2
tap_is "three failures from $RESUMED before a restart, two while the daemon is down" "$(failures_logged "$RESUMED")" 5
if ! start_daemon 2>"$LAB_DIR/daemon.err"; then
	bail "restart the daemon" "$(cat "$LAB_DIR/daemon.err")"
fi
if labt_wait 3 penalised "$RESUMED"; then
	tap_ok "after the restart the fifth counts: penalised"
else
	tap_fail "after the restart the fifth counts: penalised" "$(swj show "$RESUMED" --json)"
fi
check_jq "none read twice: five failures against dave, not more" "$(swj show "$RESUMED" --json)" \
	'any(.maillog.accounts[]; .account == "dave" and .failures == 5)'

tap_done
