#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Running as a service: `make install` into a private root (binary, man
# pages, example config, the systemd unit with its paths; a second install
# keeps the operator's config), `systemd-analyze verify` of the unit with
# no complaint (and a broken copy complained about, so the check can
# fail), then the daemon run with exactly the unit's CapabilityBoundingSet
# and systemd's notify protocol: READY=1 once attached and listening, the
# policy socket in a Postfix-like private/ (another owner, mode 0700) given
# to its group, a policy request answered, a ban dropped at the NIC,
# WATCHDOG=1 at half WATCHDOG_USEC, RELOADING=1 and READY=1 around a
# SIGHUP, STOPPING=1 on SIGTERM. Then each capability of the set taken
# away in turn, and the part that needs it failing with its reason: the
# set is what the daemon needs and no more.

set -euo pipefail
. "$(dirname "$0")/lib.sh"

POLICYREQ=$ROOT_DIR/build/tools/policyreq
UNIT_IN=$ROOT_DIR/scripts/systemd/smtpwall.service.in
[ -x "$POLICYREQ" ] || bail "build/tools is missing: run 'make tests' first"
command -v setpriv >/dev/null || bail "setpriv is missing (util-linux)"
command -v python3 >/dev/null || bail "python3 is missing"

e2e_setup

# ---------------------------------------------------------------- install

ROOT=$TMPD/root
if make -s -C "$ROOT_DIR" install DESTDIR="$ROOT" >"$TMPD/install.log" 2>&1; then
	tap_ok "make install DESTDIR=... succeeds"
else
	tap_fail "make install DESTDIR=... succeeds" "$(tail -n 20 "$TMPD/install.log")"
fi
missing=""
for f in usr/local/sbin/smtpwall usr/local/share/man/man8/smtpwall.8 usr/local/share/man/man5/smtpwall.conf.5 \
	etc/smtpwall/smtpwall.conf etc/smtpwall/smtpwall.conf.example usr/local/lib/systemd/system/smtpwall.service \
	usr/local/share/smtpwall/prometheus/smtpwall-alerts.yml usr/local/share/smtpwall/prometheus/smtpwall-alerts.test.yml \
	usr/local/share/smtpwall/prometheus/prometheus.yml.example usr/local/share/smtpwall/grafana/smtpwall-dashboard.json; do
	[ -s "$ROOT/$f" ] || missing+=" $f"
done
tap_is "installed: binary, both man pages, config and example, the unit, alert rules and dashboard" \
	"${missing:-none missing}" "none missing"
unit=$ROOT/usr/local/lib/systemd/system/smtpwall.service
check_grep() { grep -qE -- "$1" "$2"; }
check_fixed() { grep -qF -- "$1" "$2"; }
quiet() { "$@" >/dev/null 2>&1; }
# in_range N MIN MAX
in_range() { [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }
# contains TEXT NEEDLE
contains() { [[ $1 == *"$2"* ]]; }
tap_check "the installed unit runs the installed binary with the installed config" "$(grep -E '^Exec' "$unit" 2>&1)" \
	check_grep '^ExecStart=/usr/local/sbin/smtpwall -c /etc/smtpwall/smtpwall.conf run$' "$unit"
tap_check "the installed unit has no placeholder left" "$(grep -n '@' "$unit" 2>&1)" \
	bash -c "! grep -q '@[A-Z]*@' '$unit'"
echo "# the operator's change" >>"$ROOT/etc/smtpwall/smtpwall.conf"
make -s -C "$ROOT_DIR" install DESTDIR="$ROOT" >>"$TMPD/install.log" 2>&1 || true
tap_check "a second install keeps the operator's config" "$(tail -n 3 "$ROOT/etc/smtpwall/smtpwall.conf")" \
	check_grep "^# the operator's change$" "$ROOT/etc/smtpwall/smtpwall.conf"
tap_check "the installed binary checks the installed config" "$("$ROOT/usr/local/sbin/smtpwall" \
	-c "$ROOT/etc/smtpwall/smtpwall.conf" check 2>&1)" \
	quiet "$ROOT/usr/local/sbin/smtpwall" -c "$ROOT/etc/smtpwall/smtpwall.conf" check

# ---------------------------------------------------------------- systemd-analyze verify

# The unit as `make install SBINDIR=build` would write it, so its commands exist here.
mkdir -p "$TMPD/units" "$TMPD/broken"
sed -e "s|@SBINDIR@|$ROOT_DIR/build|g" -e "s|@SYSCONFDIR@|/etc|g" "$UNIT_IN" >"$TMPD/units/smtpwall.service"
if command -v systemd-analyze >/dev/null; then
	out=$(systemd-analyze verify --man=no "$TMPD/units/smtpwall.service" 2>&1) && rc=0 || rc=$?
	if [ "$rc" = 0 ] && [ -z "$out" ]; then
		tap_ok "systemd-analyze verify: the unit, without a complaint"
	else
		tap_fail "systemd-analyze verify: the unit, without a complaint" "exit $rc: $out"
	fi
	sed -e 's/^Restart=always/Restart=alwayz/' -e 's/^WatchdogSec=/WatchdogSecs=/' \
		"$TMPD/units/smtpwall.service" >"$TMPD/broken/smtpwall.service"
	out=$(systemd-analyze verify --man=no "$TMPD/broken/smtpwall.service" 2>&1) || true
	tap_check "systemd-analyze verify complains about a broken copy (the check can fail)" "$out" \
		contains "$out" "alwayz"
else
	tap_skip "systemd-analyze verify: systemd-analyze is missing"
	tap_skip "systemd-analyze verify of a broken copy: systemd-analyze is missing"
fi

# ---------------------------------------------------------------- the capability set

caps_line=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT_IN")
read -r -a UNIT_CAPS <<<"$caps_line"
tap_check "the unit bounds the daemon's capabilities (${caps_line:-none})" "$caps_line" \
	test "${#UNIT_CAPS[@]}" -ge 1
# setpriv's spelling: +bpf,+net_admin,...
setpriv_caps() {
	local c out=""
	for c in "$@"; do
		c=${c#CAP_}
		out+="${out:+,}+${c,,}"
	done
	echo "$out"
}

PRIV=$TMPD/spool/private
mkdir -p "$PRIV"
chown nobody:nogroup "$TMPD/spool" "$PRIV"
chmod 0700 "$PRIV"
PSOCK=$PRIV/smtpwall
write_config "policy.enabled=yes" "policy.socket=$PSOCK" "policy.socket_group=nogroup" "policy.socket_mode=0660"

NSOCK=$TMPD/notify.sock
NOTES=$TMPD/notify.txt
: >"$NOTES"
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        out.write(s.recv(4096).decode(errors="replace").replace("\n", " | ") + "\n")
' "$NSOCK" "$NOTES" &
BG_PIDS+=("$!")
for ((i = 0; i < 50; i++)); do [ -S "$NSOCK" ] && break; sleep 0.1; done

# run_capped LOG CAP...: the daemon as the unit runs it, with only CAP...
run_capped() {
	local log=$1
	shift
	: >"$log"
	NOTIFY_SOCKET=$NSOCK WATCHDOG_USEC=1000000 nsenter --net="/run/netns/$NS_S" -- \
		setpriv --inh-caps=-all --ambient-caps=-all --bounding-set="-all,$(setpriv_caps "$@")" -- \
		"$SMTPWALL" -c "$CONF" run >>"$log" 2>&1 &
	DAEMON_PID=$!
}
# wait_note TEXT [AFTER_LINE]: a notify message with TEXT after line AFTER_LINE, within 10 s.
wait_note() {
	local i
	for ((i = 0; i < 100; i++)); do
		tail -n +"$((${2:-0} + 1))" "$NOTES" | grep -qF -- "$1" && return 0
		sleep 0.1
	done
	return 1
}
notes_n() { wc -l <"$NOTES"; }

DAEMON_LOG=$TMPD/capped.log
run_capped "$DAEMON_LOG" "${UNIT_CAPS[@]}"
tap_check "with the unit's capabilities: READY=1 once started" "$(cat "$NOTES") / $(tail -n 5 "$DAEMON_LOG")" \
	wait_note "READY=1"
check_native
st=$(stat -c '%U:%G %a' "$PSOCK" 2>&1 || true)
tap_is "the policy socket in a private/ of another owner (0700), given to its group" "$st" "root:nogroup 660"
ans=$(printf 'request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=192.0.2.9\nsasl_username=alice\nsender=alice@example.org\nrecipient=r@example.com\ninstance=S1\n\n' |
	"$POLICYREQ" --unix "$PSOCK" --timeout 5 2>&1 || true)
tap_is "a policy request is answered" "$ans" "DUNNO"
b=$(c4 3)
sw ban "$b/32" --reason "service test" >/dev/null 2>&1 || true
expect_conn "a ban made by the CLI is dropped at the NIC" "$b" 1 0
expect_conn "other addresses still connect" "$(c4 2)" 1 1
n0=$(notes_n)
sleep 2.2
wd=$(tail -n +"$((n0 + 1))" "$NOTES" | grep -c "WATCHDOG=1" || true)
tap_check "WATCHDOG=1 at half WATCHDOG_USEC (1 s): $wd in 2.2 s" "$(cat "$NOTES")" in_range "$wd" 3 6
n0=$(notes_n)
kill -HUP "$DAEMON_PID"
if wait_note "RELOADING=1" "$n0"; then
	n1=$(grep -n "RELOADING=1" "$NOTES" | tail -n 1 | cut -d: -f1)
	tap_check "SIGHUP: RELOADING=1, then READY=1" "$(tail -n +"$((n0 + 1))" "$NOTES")" wait_note "READY=1" "$n1"
else
	tap_fail "SIGHUP: RELOADING=1, then READY=1" "$(tail -n +"$((n0 + 1))" "$NOTES")"
fi
n0=$(notes_n)
kill -TERM "$DAEMON_PID"
rc=0
wait "$DAEMON_PID" || rc=$?
DAEMON_PID=""
tap_is "SIGTERM: the daemon exits 0" "$rc" "0"
tap_check "SIGTERM: STOPPING=1" "$(tail -n +"$((n0 + 1))" "$NOTES")" wait_note "STOPPING=1" "$n0"
sw detach >/dev/null 2>&1 || true

# Each capability taken away: what needs it fails, and says why.
declare -A WHY=(
	[CAP_BPF]="cannot load the BPF program"
	[CAP_PERFMON]="cannot load the BPF program"
	[CAP_NET_ADMIN]="cannot load the BPF program"
	[CAP_DAC_OVERRIDE]="policy: cannot listen on $PSOCK: Permission denied"
	[CAP_CHOWN]="policy: cannot give $PSOCK to group nogroup"
)
for cap in "${UNIT_CAPS[@]}"; do
	rest=()
	for c in "${UNIT_CAPS[@]}"; do [ "$c" = "$cap" ] || rest+=("$c"); done
	why=${WHY[$cap]:-}
	if [ -z "$why" ]; then
		tap_fail "without $cap: something fails" "the test does not know what $cap is for: add it to WHY"
		continue
	fi
	DAEMON_LOG=$TMPD/without-$cap.log
	rm -f "$PSOCK"
	run_capped "$DAEMON_LOG" "${rest[@]}"
	for ((i = 0; i < 100; i++)); do
		grep -qF -- "$why" "$DAEMON_LOG" && break
		daemon_alive || break
		sleep 0.1
	done
	tap_check "without $cap: \"$why\"" "$(tail -n 8 "$DAEMON_LOG")" check_fixed "$why" "$DAEMON_LOG"
	stop_daemon
	sw detach >/dev/null 2>&1 || true
done
DAEMON_LOG=""

tap_done
