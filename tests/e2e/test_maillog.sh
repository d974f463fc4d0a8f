#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The mail-log follower over real TCP: Postfix lines appended to a log
# file become kernel penalties within a second. A source with five failed
# logins is dropped at the NIC (reason auth) while another with four is
# not; guessing spread over one IPv6 /64 is one source; an address from
# which three accounts logged in (a NAT) is shared and never dropped, and
# show says so; a login vouches for its source; one account failing from
# four sources is flagged; a source that keeps presenting a suspended
# account's credentials to the policy service is dropped; a rename
# rotation in the middle of the failures loses none; a restart resumes at
# its saved place (lines written while it was down are read, none twice);
# a hostile username never moves the address; a backlog read after a
# restart counts at the lines' own times (an hour-old failure is outside
# the window).

set -euo pipefail
. "$(dirname "$0")/lib.sh"

POLICYREQ=$ROOT_DIR/build/tools/policyreq
[ -x "$POLICYREQ" ] || bail "build/tools is missing: run 'make tests' first"

e2e_setup
LOG=$TMPD/mail.log
PSOCK=$TMPD/policy.sock
: >"$LOG"
write_config "maillog.enabled=yes" "maillog.file=$LOG" "maillog.auth_failures=5" "maillog.auth_window=10m" \
	"maillog.guess_sources=4" "maillog.shared_accounts=3" "maillog.suspended_uses=3" \
	"policy.enabled=yes" "policy.socket=$PSOCK" "policy.socket_group=root" \
	"penalty.base=60s"
must_start_daemon

# fail ADDR [USER]: one failed login line as Postfix 3.9 writes it.
fail() {
	local u=${2:+, sasl_username=$2}
	printf '%s mx1 postfix/submission/smtpd[%d]: warning: unknown[%s]: SASL LOGIN authentication failed: authentication failure%s\n' \
		"$(date '+%b %e %T')" $$ "$1" "$u" >>"${LOGFILE:-$LOG}"
}
login() {
	printf '%s mx1 postfix/submission/smtpd[%d]: %s: client=unknown[%s], sasl_method=PLAIN, sasl_username=%s\n' \
		"$(date '+%b %e %T')" $$ "4ZQ$RANDOM$RANDOM" "$1" "$2" >>"$LOG"
}
penalised() { sw show "$1" --json 2>/dev/null | jq -e '.penalty.active and .penalty.reason == "auth"' >/dev/null; }
not_penalised() { ! penalised "$1"; }
known_good() { sw show "$1" --json 2>/dev/null | jq -e '[.. | .known_good? // empty] | any' >/dev/null; }
flagged() { sw account show "$1" --json 2>/dev/null | jq -e '.flagged == true' >/dev/null; }
text_shared() { sw show "$1" | grep -q 'shared:    yes'; }
# connects ADDR: 1 if a connection from ADDR completes, else 0.
connects() { kv "$(conn "$1" --count 1 --timeout-ms 700 2>&1)" connected; }

# Every client source gets kernel state first (a penalty needs it).
for a in "$(c4 2)" "$(c4 3)" "$(c4 4)" "$(c4 5)" "$(c4 6)" "$(c4 7)" "$(c4 8)" "$(c6 2)" "$(c6b 2)"; do
	conn "$a" --count 1 --timeout-ms 2000 >/dev/null 2>&1 || true
done

# --- five failures drop the source, four do not
for i in 1 2 3 4; do fail "$(c4 2)" alice; fail "$(c4 3)" bob; done
t0=$(date +%s%N)
fail "$(c4 2)" alice
if wait_for 3 penalised "$(c4 2)"; then
	ms=$((($(date +%s%N) - t0) / 1000000))
	tap_ok "five failed logins: the source is penalised for auth ($ms ms from the line)"
	tap_check "the penalty came within a second of the line" "$ms ms" test "$ms" -lt 1000
else
	tap_fail "five failed logins: the source is penalised for auth" "$(swj show "$(c4 2)")"
	tap_fail "the penalty came within a second of the line" "never"
fi
tap_is "the penalised source is dropped at the NIC" "$(connects "$(c4 2)")" 0
sleep 0.5
tap_check "four failed logins: not penalised" "$(swj show "$(c4 3)")" not_penalised "$(c4 3)"
tap_is "a source with four failures still connects" "$(connects "$(c4 3)")" 1
check_jq "the event names the source, the reason and the count" "$(events_json | jq -s -c '.')" \
	'any(.[]; .kind == "maillog" and .action == "penalised" and .source == $s and .reason == "auth" and .count == 5)' \
	--arg s "$(c4 2)"

# --- IPv6: guessing spread over a /64 is one source
for i in 11 12 13 14 15; do fail "fd00:200:$NET_X::$i" carol; done
if wait_for 3 penalised "$(c6 2)"; then
	tap_ok "five failures from five addresses of one /64: the /64 is penalised"
else
	tap_fail "five failures from five addresses of one /64: the /64 is penalised" "$(swj show "$(c6 2)")"
fi
tap_check "another /64 is not" "$(swj show "$(c6b 2)")" not_penalised "$(c6b 2)"

# --- a shared address: three accounts logged in from it
for u in u1 u2 u3; do login "$(c4 4)" "$u"; done
sleep 0.5
for i in $(seq 1 20); do fail "$(c4 4)" u1; done
sleep 1
tap_check "an address three accounts logged in from is never penalised for one account's failures" \
	"$(swj show "$(c4 4)")" not_penalised "$(c4 4)"
tap_is "the shared address still connects" "$(connects "$(c4 4)")" 1
check_jq "show says the address is shared, with its accounts" "$(swj show "$(c4 4)" --json)" \
	'.maillog.shared == true and .maillog.accounts_logged_in == 3 and
	 any(.maillog.accounts[]; .account == "u1" and .logins == 1 and .failures == 20)'
tap_check "show's text says shared" "$(swj show "$(c4 4)")" text_shared "$(c4 4)"
check_jq "the spared penalty is an event, once" "$(events_json | jq -s -c '.')" \
	'[.[] | select(.kind == "maillog" and .action == "spared" and .source == $s)] | length == 1' --arg s "$(c4 4)"

# --- a login vouches for its source (known good: emergency admits it)
login "$(c4 8)" dave
if wait_for 3 known_good "$(c4 8)"; then
	tap_ok "a logged login makes its source known good"
else
	tap_fail "a logged login makes its source known good" "$(swj show "$(c4 8)" --json)"
fi
check_jq "account show lists the login source with its kernel state" "$(swj account show dave --json)" \
	'any(.login_sources[]; .source == $s and .logins == 1 and .kernel == "known good")' --arg s "$(c4 8)"

# --- a distributed guess flags the account
for a in "$(c4 5)" "$(c4 6)" "$(c4 7)" "$(c6b 3)"; do fail "$a" victim@example.org; done
if wait_for 3 flagged victim@example.org; then
	tap_ok "failures against one account from four sources flag it"
else
	tap_fail "failures against one account from four sources flag it" "$(swj account show victim@example.org --json)"
fi
check_jq "its history says why, by maillog" "$(swj account show victim@example.org --json)" \
	'any(.history[]; .action == "flagged" and (.reason | test("distributed guess")))'

# --- a hostile username stays a username
fail "$(c4 7)" 'x, sasl_username=u2]: SASL PLAIN authentication failed: y, sasl_username=z'
sleep 1
check_jq "a username imitating the line's syntax is one account on the right address" \
	"$(swj show "$(c4 7)" --json)" \
	'any(.maillog.accounts[]; .account | startswith("x, sasl_username=u2]"))'

# --- rotation by rename in the middle of the failures
for i in 1 2; do fail "$(c4 5)" eve; done
mv "$LOG" "$LOG.1"
LOGFILE=$LOG.1 fail "$(c4 5)" eve	# written by a writer still on the old file
: >"$LOG"
for i in 1 2; do fail "$(c4 5)" eve; done
if wait_for 3 penalised "$(c4 5)"; then
	tap_ok "two failures, a rename rotation, one more in the old file, two in the new: penalised"
else
	tap_fail "two failures, a rename rotation, one more in the old file, two in the new: penalised" \
		"$(swj show "$(c4 5)" --json)"$'\n'"$(tail -n 20 "$DAEMON_LOG")"
fi

# --- a suspended account's credentials, presented again and again
sw account suspend stolen --reason "e2e: password stolen" >/dev/null
for i in 1 2 3; do
	printf 'request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=%s\nsasl_username=stolen\nsender=stolen@example.org\nrecipient=x@example.com\ninstance=S%d\n\n' \
		"$(c4 6)" "$i" | "$POLICYREQ" --unix "$PSOCK" --timeout 5 >/dev/null
done
if wait_for 3 penalised "$(c4 6)"; then
	tap_ok "a source refused three times for a suspended account is penalised at the NIC"
else
	tap_fail "a source refused three times for a suspended account is penalised at the NIC" "$(swj show "$(c4 6)" --json)"
fi

# --- a restart resumes at its place, and keeps counting
# (c4 3 had four failures at the start: one more is its fifth, if they survived)
lines_before=$(wc -l <"$LOG")
stop_daemon
fail "$(c4 3)" bob	# written while it is down
must_start_daemon
if wait_for 3 penalised "$(c4 3)"; then
	tap_ok "four failures before a restart and one written while it was down: the fifth penalises"
else
	tap_fail "four failures before a restart and one written while it was down: the fifth penalises" \
		"$(swj show "$(c4 3)" --json)"
fi
stop_daemon
read_after=$(grep -o 'maillog: [0-9]* lines' "$DAEMON_LOG" | tail -n 1 | grep -o '[0-9]*')
tap_is "the restarted follower read exactly the line written after the first stopped (of $((lines_before + 1)))" \
	"$read_after" 1

# --- a backlog counts when its lines were written, not when they are read
# Four failures of the last hour, 15 minutes apart (none within 10 minutes
# of another), written while the daemon is down, in rsyslog's RFC 3339 form:
# with one more failure now they are five lines but one in the window.
b6=$(c6c 2)
conn "$b6" --count 1 --timeout-ms 2000 >/dev/null 2>&1 || true
now_s=$(date +%s)
for k in 4 3 2 1; do
	printf '%s mx1 postfix/submission/smtpd[%d]: warning: unknown[%s]: SASL LOGIN authentication failed: authentication failure, sasl_username=erin\n' \
		"$(date -u -d "@$((now_s - k * 900 - 60))" +%Y-%m-%dT%H:%M:%S.000000+00:00)" $$ "$b6" >>"$LOG"
done
must_start_daemon
fail "$b6" erin
sleep 1
tap_check "a backlog of four failures an hour old and one now: not penalised (one in the 10 minute window)" \
	"$(swj show "$b6" --json)" not_penalised "$b6"
for i in 1 2 3 4; do fail "$b6" erin; done
if wait_for 3 penalised "$b6"; then
	tap_ok "four more now: five in the window, penalised"
else
	tap_fail "four more now: five in the window, penalised" "$(swj show "$b6" --json)"
fi
stop_daemon

# --- the journal instead of a file: the same hints, and a cursor kept across a restart
JR=/lib/systemd/systemd-journal-remote
JDIR=$TMPD/journal
mkdir -p "$JDIR"
jclock=$(($(date +%s) * 1000000 - 60000000))	# a minute ago: entries are judged at their own time
# jwrite MESSAGE...: entries of postfix/submission/smtpd, appended to the journal file.
jwrite() {
	local m
	for m in "$@"; do
		jclock=$((jclock + 1000))
		printf '__REALTIME_TIMESTAMP=%s\n__MONOTONIC_TIMESTAMP=%s\n_BOOT_ID=0123456789abcdef0123456789abcdef\n' \
			"$jclock" "$((jclock - 1764000000000000))"
		printf 'SYSLOG_FACILITY=2\nSYSLOG_IDENTIFIER=postfix/submission/smtpd\nSYSLOG_PID=77\nMESSAGE=%s\n\n' "$m"
	done | "$JR" --output="$JDIR/x.journal" - 2>/dev/null
}
jfail() { echo "warning: unknown[$1]: SASL LOGIN authentication failed: authentication failure, sasl_username=$2"; }
if [ -x "$JR" ]; then
	conn "$(c4 9)" --count 1 --timeout-ms 2000 >/dev/null 2>&1 || true
	jwrite "connect from unknown[$(c4 9)]"
	write_config "maillog.enabled=yes" "maillog.journal=yes" "maillog.journal_dir=$JDIR" \
		"maillog.auth_failures=5" "penalty.base=60s"
	must_start_daemon
	sleep 0.5
	jwrite "$(jfail "$(c4 9)" mallory)" "$(jfail "$(c4 9)" mallory)" "$(jfail "$(c4 9)" mallory)"
	sleep 0.5
	stop_daemon
	jwrite "$(jfail "$(c4 9)" mallory)" "$(jfail "$(c4 9)" mallory)" "$(jfail "$(c4 9)" mallory)" \
		"$(jfail "$(c4 9)" mallory)" "$(jfail "$(c4 9)" mallory)"
	must_start_daemon
	if wait_for 5 penalised "$(c4 9)"; then
		tap_ok "journal: failures written while the daemon was down are read from its saved cursor"
	else
		tap_fail "journal: failures written while the daemon was down are read from its saved cursor" \
			"$(swj show "$(c4 9)" --json)"$'\n'"$(tail -n 20 "$DAEMON_LOG")"
	fi
	stop_daemon
	read_after=$(grep -o 'maillog: [0-9]* lines' "$DAEMON_LOG" | tail -n 1 | grep -o '[0-9]*')
	tap_is "journal: the restarted reader read exactly the 5 entries written while it was down" "$read_after" 5
else
	tap_skip "journal: $JR is not installed (scripts/install-deps.sh installs systemd-journal-remote)"
fi

tap_done
