#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# smtpwall's main job, on this machine, with one command (as root):
#
#   scripts/demo.sh [--quick] [--keep]
#
# It installs what is missing (scripts/install-deps.sh), builds smtpwall and
# the lab's SMTP load generator, then, in the lab of scripts/lab.sh (a real
# Postfix limited to 10 smtpd processes, a legitimate sender, a new sender
# that first connects once the attack has begun, and an attacker with 60
# addresses, in network namespaces on a bridge):
#
#   1. without smtpwall, a "ping-pong-dash" attack (60 addresses x 2 sessions
#      that connect, say EHLO and go silent) takes every smtpd process and
#      both senders are starved;
#   2. with smtpwall running (session health and emergency mode, the
#      configuration of tests/e2e/test_pingpong.sh), the same attack again:
#      idle sessions are torn down, known-good senders keep their priority,
#      the others (the new sender, the attackers) are admitted on probation
#      one session each; the attackers fail it and are penalised, the new
#      sender delivers and is known good from then on.
#
# It narrates what happens as it happens, one line per event, with the time
# since the demo started, then prints a summary and smtpwall's own view
# (top, status). Everything it creates is removed on exit, on failure and on
# Ctrl-C, unless --keep asks to leave the lab up.
#
# Exit status: 0 when the demo ran and, with smtpwall, the legitimate sender
# and the new sender were each served in at least 99 % of the attempts they
# started after the attack's first 10 s; 1 otherwise (the reason is
# printed); 2 for a usage error.
#
# The log handlers and the cleanup are called indirectly (read_new, trap):
# shellcheck disable=SC2317
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

usage() {
	cat <<-EOF
	usage: scripts/demo.sh [--quick] [--keep] [--help]

	Installs the dependencies, builds smtpwall, then shows it protecting a real
	Postfix from a "ping-pong-dash" attack in a lab of network namespaces.
	Needs root. Takes about a minute (plus installing and building).

	  --quick   shorter phases (about 40 s), for a smoke run in CI
	  --keep    leave the lab (Postfix, smtpwall, namespaces) up at the end and
	            print how to use and remove it; a run that stops early (an
	            error, Ctrl-C) is always cleaned up
	  --help    this text

	Exit status 0: with smtpwall, the legitimate sender and a new sender (never
	seen before the attack) were each served in at least 99 % of their attempts
	after the attack's first 10 s; 1 otherwise.
	EOF
}

QUICK=0
KEEP=0
while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--keep) KEEP=1 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "demo: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: run as root (it installs packages, creates network namespaces, runs Postfix and attaches XDP)" >&2
	exit 1
fi

# ------------------------------------------------------------------ timing

# The phases. The measured window with smtpwall starts WARMUP_S after the
# attack: the first seconds are the time smtpwall needs to notice (sessions
# must be idle for [emergency] idle = 2 s before they are torn down).
WARMUP_S=10
if [ "$QUICK" -eq 1 ]; then
	PRE_A_S=3	# normal traffic before the attack, without smtpwall
	ATTACK_A_S=16	# the attack without smtpwall: 3 of the sender's 5 s timeouts
	ATTACK_B_S=18	# the attack with smtpwall: WARMUP_S, then 8 s measured
	CALM_MAX_S=7	# after the attack: until emergency mode is left
else
	PRE_A_S=5
	ATTACK_A_S=21
	ATTACK_B_S=30
	CALM_MAX_S=12
fi
NEW_AFTER_S=5		# the new sender's first connection, into the attack (at most)
GOOD_N=3		# transactions that make the legitimate sender known good
LEGIT_INTERVAL_MS=500	# one transaction every 500 ms ...
LEGIT_TIMEOUT_MS=5000	# ... each given 5 s, as a patient sender would
PER_SOURCE=2		# idle sessions per attacking address
STATUS_EVERY_S=5	# a progress line this often during an attack
TICK_S=0.25		# how often the logs are read

# ------------------------------------------------------------------ output

if [ -t 1 ]; then
	B=$'\033[1m' R=$'\033[31m' G=$'\033[32m' N=$'\033[0m'
else
	B="" R="" G="" N=""
fi

# now_ms: sets NOW_MS to the wall clock in ms (no fork: it runs on every tick).
now_ms() {
	local t=${EPOCHREALTIME//[!0-9]/}

	NOW_MS=$((10#$t / 1000))
}
now_ms
T0_MS=$NOW_MS

# ev TEXT: one event, stamped with the time since the demo started.
ev() {
	local ms

	now_ms
	ms=$((NOW_MS - T0_MS))
	printf '[%3d.%ds] %s\n' $((ms / 1000)) $((ms % 1000 / 100)) "$*"
}

section() {
	printf '\n%s== %s%s\n' "$B" "$*" "$N"
}

indent() {
	sed 's/^/      /'
}

die() {
	FAIL_WHY="$*"
	printf '%sdemo: %s%s\n' "$R" "$*" "$N" >&2
	exit 1
}

# secs MS: "2.4 s".
secs() {
	printf '%d.%d s' $(($1 / 1000)) $(($1 % 1000 / 100))
}

# pct OK TOTAL: "97.5 %" (one decimal), "n/a" without attempts.
pct() {
	if [ "$2" -eq 0 ]; then
		echo "n/a"
	else
		printf '%d.%d %%' $((1000 * $1 / $2 / 10)) $((1000 * $1 / $2 % 10))
	fi
}

# kv LINE KEY: the value of KEY=value in LINE.
kv() {
	local w

	for w in $1; do
		case $w in
		"$2"=*) echo "${w#*=}"; return 0 ;;
		esac
	done
	echo ""
}

# ------------------------------------------------------------------ build

section "Installing dependencies and building"
ev "installing what is missing (scripts/install-deps.sh)"
scripts/install-deps.sh 2>&1 | indent
ev "building smtpwall and the lab's SMTP load generator (make)"
if ! make -s all build/tools/smtpload 2>&1 | indent; then
	die "the build failed (see above)"
fi
for f in build/smtpwall build/tools/smtpload; do
	[ -x "$f" ] || die "$f is missing after make"
done
SMTPWALL=$ROOT/build/smtpwall
SMTPLOAD=$ROOT/build/tools/smtpload

# shellcheck source=scripts/lab.sh
. "$ROOT/scripts/lab.sh"

# ------------------------------------------------------------------ cleanup

LAB_IS_UP=0
DAEMON_PID=""
EVENTS_PID=""
FAIL_WHY=""
FINISHED=0
declare -A LOAD_PID=()

_alive() {
	local state

	[ -n "${1:-}" ] || return 1
	state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$state" ] && [ "$state" != Z ]
}

# kill_wait PID TIMEOUT_S: SIGTERM, then SIGKILL if it is still there.
kill_wait() {
	local pid=$1 i

	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < $2 * 20; i++)); do
		_alive "$pid" || break
		sleep 0.05
	done
	_alive "$pid" && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true
}

# keep_message: how to reach the lab left up by --keep, and remove it.
keep_message() {
	local sw="nsenter --net=/run/netns/$LAB_NS_SRV $SMTPWALL -c $CONF"

	section "The lab stays up (--keep)"
	cat <<-EOF | indent
	lab $LAB_ID; its files (configurations, logs) are in $LAB_DIR
	mail server   netns $LAB_NS_SRV, Postfix on $LAB_SRV:25, log $LAB_DIR/maillog
	smtpwall      running there (pid ${DAEMON_PID:-none}), log $LAB_DIR/daemon.log
	                $sw status
	                $sw top -n 10
	legit sender  netns $LAB_NS_LEGIT, $LAB_LEGIT .. $LAB_LEGIT_LAST
	                nsenter --net=/run/netns/$LAB_NS_LEGIT $SMTPLOAD legit --to $LAB_SRV --from $LAB_LEGIT --duration 30
	                nsenter --net=/run/netns/$LAB_NS_LEGIT swaks --server $LAB_SRV --from a@legit.lab.test --to user@lab.test
	attacker      netns $LAB_NS_ATK, $LAB_ATK_FIRST .. $LAB_ATK_LAST
	                nsenter --net=/run/netns/$LAB_NS_ATK $SMTPLOAD idle --to $LAB_SRV --from-range $LAB_ATK_FIRST-$LAB_ATK_LAST --per-source 2 --duration 30
	remove everything (smtpwall, Postfix, namespaces, BPF pins, $LAB_DIR):
	                scripts/lab.sh down --id $LAB_ID
	EOF
}

cleanup() {
	local rc=$? name

	trap - EXIT INT TERM
	set +e
	for name in "${!LOAD_PID[@]}"; do
		kill_wait "${LOAD_PID[$name]}" 2
	done
	if [ "$FINISHED" -eq 0 ] && [ "$rc" -ne 0 ]; then
		echo
		if [ -n "$FAIL_WHY" ]; then
			echo "demo: stopped: $FAIL_WHY" >&2
		else
			echo "demo: stopped (exit $rc)${ERR_WHERE:+ at $ERR_WHERE}" >&2
		fi
		if [ -n "${LAB_DIR:-}" ] && [ -s "$LAB_DIR/daemon.log" ]; then
			echo "demo: the daemon's last lines:" >&2
			tail -n 10 "$LAB_DIR/daemon.log" | indent >&2
		fi
	fi
	if [ "$LAB_IS_UP" -eq 1 ] && [ "$KEEP" -eq 1 ] && [ "$FINISHED" -eq 1 ]; then
		keep_message
		exit "$rc"
	fi
	if [ "$LAB_IS_UP" -eq 1 ]; then
		echo
		ev "removing the lab: smtpwall, Postfix, namespaces, BPF pins, $LAB_DIR"
		if [ -n "$DAEMON_PID" ]; then
			kill_wait "$DAEMON_PID" 10
		fi
		[ -n "$EVENTS_PID" ] && kill_wait "$EVENTS_PID" 2
		# Detaches smtpwall (with $LAB_DIR/smtpwall.conf), removes the pins,
		# stops Postfix, deletes the namespaces, the lab dir and the lab's
		# line in /etc/postfix/main.cf.
		lab_down
		ev "lab removed"
	fi
	exit "$rc"
}

set -E
ERR_WHERE=""
trap 'ERR_WHERE="line $LINENO: $BASH_COMMAND"' ERR
trap cleanup EXIT
trap 'FAIL_WHY="interrupted"; exit 130' INT
trap 'FAIL_WHY="terminated"; exit 143' TERM

# ------------------------------------------------------------------ the lab's programs

sw() {
	timeout 20 nsenter --net="/run/netns/$LAB_NS_SRV" -- "$SMTPWALL" -c "$CONF" "$@"
}

# start_load NAME NS ARGS...: smtpload in NS in the background, its output
# in $LAB_DIR/NAME.out; waits for its start line.
start_load() {
	local name=$1 ns=$2 out=$LAB_DIR/$1.out pid i

	shift 2
	# nsenter execs smtpload: $! is smtpload's pid.
	nsenter --net="/run/netns/$ns" -- "$SMTPLOAD" "$@" >"$out" 2>"$LAB_DIR/$name.err" &
	pid=$!
	LOAD_PID[$name]=$pid
	for ((i = 0; i < 100; i++)); do
		grep -q '^start unix_ms=' "$out" 2>/dev/null && return 0
		_alive "$pid" || break
		sleep 0.05
	done
	die "smtpload $name did not start: $(cat "$out" "$LAB_DIR/$name.err")"
}

# stop_load NAME: SIGTERM (smtpload prints its summary and exits).
stop_load() {
	[ -n "${LOAD_PID[$1]:-}" ] || return 0
	kill_wait "${LOAD_PID[$1]}" 5
	unset "LOAD_PID[$1]"
}

load_start_ms() {
	sed -n 's/^start unix_ms=\([0-9]*\) .*/\1/p' "$LAB_DIR/$1.out" | head -n 1
}

# ------------------------------------------------------------------ following the logs

# Lines of each followed file already read. read_new reads only whole lines
# (read fails on a last line without its newline: it is taken next time).
declare -A SEEN=()

read_new() {
	local f=$1 cb=$2 line n

	[ -f "$f" ] || return 0
	n=${SEEN[$f]:-0}
	while IFS= read -r line; do
		n=$((n + 1))
		"$cb" "$line"
	done < <(tail -n "+$((n + 1))" "$f")
	SEEN[$f]=$n
}

# pretty_ns TEXT: durations the log gives in nanoseconds ("2078702209ns")
# as seconds ("2.1 s"), for a reader.
pretty_ns() {
	local t=$1 out="" n

	while [[ $t =~ ^(.*[^0-9])?([0-9]{7,})ns(.*)$ ]]; do
		n=${BASH_REMATCH[2]}
		out="$(secs $((10#$n / 1000000)))${BASH_REMATCH[3]}$out"
		t=${BASH_REMATCH[1]}
	done
	echo "$t$out"
}

human_err() {
	case $1 in
	connect_timeout) echo "no connection: its SYN went unanswered for 5 s (Postfix's listen queue is full)" ;;
	timeout_at_greeting) echo "connected, but no greeting within 5 s (no smtpd process free to answer)" ;;
	connect_refused) echo "connection refused" ;;
	timeout_at_*) echo "no reply to ${1#timeout_at_} within 5 s" ;;
	reset_at_*) echo "connection reset at ${1#reset_at_}" ;;
	closed_at_*) echo "connection closed by the server at ${1#closed_at_}" ;;
	reply_*_at_*) echo "the server answered ${1#reply_}" ;;
	*) echo "$1" ;;
	esac
}

# The legitimate sender's attempts, per phase, on the attack's time line.
reset_phase() {
	PHASE=$1
	LEGIT_NAME=legit_$1
	ATTACK_NAME=attack_$1
	LEGIT_START_MS=""
	ATTACK_MS=""
	ATTACK_STOP_MS=""
	PRE_OK=0 PRE_N=0 PRE_MS=0
	ATK_OK=0 ATK_N=0 ATK_MS=0	# started during the attack
	WIN_OK=0 WIN_N=0		# started after its first WARMUP_S
	POST_OK=0 POST_N=0		# started after it
	FIRST_OK_MS=-1			# end of the first success, from the attack's start
	MAX_MS=0
	FAIL_RUN=0
	LAST_ATTACK=""
	LIMIT_SEEN=0
	# The new sender: never seen before, it starts once the attack has begun.
	NEW_NAME=new_$1
	NEW_START_MS=""
	NEW_OK=0 NEW_N=0 NEW_WIN_OK=0 NEW_WIN_N=0 NEW_FIRST_MS=-1 NEW_FAIL_RUN=0
}

on_legit() {
	local line=$1 t ok ms err start rel

	case $line in
	t=*) ;;
	*) return 0 ;;
	esac
	t=$(kv "$line" t) ok=$(kv "$line" ok) ms=$(kv "$line" ms) err=$(kv "$line" err)
	t=${t/./}
	start=$((LEGIT_START_MS + 10#$t))
	if [ -z "$ATTACK_MS" ] || [ "$start" -lt "$ATTACK_MS" ]; then
		PRE_N=$((PRE_N + 1)) PRE_OK=$((PRE_OK + ok)) PRE_MS=$((PRE_MS + ms))
		return 0
	fi
	rel=$((start - ATTACK_MS))
	if [ -n "$ATTACK_STOP_MS" ] && [ "$start" -ge "$ATTACK_STOP_MS" ]; then
		POST_N=$((POST_N + 1)) POST_OK=$((POST_OK + ok))
		return 0
	fi
	ATK_N=$((ATK_N + 1)) ATK_OK=$((ATK_OK + ok)) ATK_MS=$((ATK_MS + ms))
	if [ "$rel" -ge $((WARMUP_S * 1000)) ]; then
		WIN_N=$((WIN_N + 1)) WIN_OK=$((WIN_OK + ok))
	fi
	if [ "$ms" -gt "$MAX_MS" ]; then
		MAX_MS=$ms
	fi
	if [ "$ok" -eq 1 ]; then
		if [ "$FIRST_OK_MS" -lt 0 ]; then
			FIRST_OK_MS=$((rel + ms))
			ev "legitimate sender: message delivered, $(secs "$FIRST_OK_MS") after the attack began (the transaction took $ms ms)"
		elif [ "$FAIL_RUN" -gt 0 ]; then
			ev "legitimate sender: delivering again after $FAIL_RUN failed attempt(s) (took $ms ms)"
		fi
		FAIL_RUN=0
	else
		FAIL_RUN=$((FAIL_RUN + 1))
		ev "legitimate sender: attempt FAILED after $(secs "$ms"): $(human_err "$err")"
	fi
}

# The new sender's attempts while the attack runs.
on_new() {
	local line=$1 t ok ms err start rel

	case $line in
	t=*) ;;
	*) return 0 ;;
	esac
	t=$(kv "$line" t) ok=$(kv "$line" ok) ms=$(kv "$line" ms) err=$(kv "$line" err)
	t=${t/./}
	start=$((NEW_START_MS + 10#$t))
	if [ -n "$ATTACK_STOP_MS" ] && [ "$start" -ge "$ATTACK_STOP_MS" ]; then
		return 0
	fi
	rel=$((start - ATTACK_MS))
	NEW_N=$((NEW_N + 1)) NEW_OK=$((NEW_OK + ok))
	if [ "$rel" -ge $((WARMUP_S * 1000)) ]; then
		NEW_WIN_N=$((NEW_WIN_N + 1)) NEW_WIN_OK=$((NEW_WIN_OK + ok))
	fi
	if [ "$ok" -eq 1 ]; then
		if [ "$NEW_FIRST_MS" -lt 0 ]; then
			NEW_FIRST_MS=$((rel + ms))
			ev "new sender $LAB_LEGIT_NEW (never seen before): message delivered, $(secs "$NEW_FIRST_MS") after the attack began"
		elif [ "$NEW_FAIL_RUN" -gt 0 ]; then
			ev "new sender: delivering again after $NEW_FAIL_RUN failed attempt(s)"
		fi
		NEW_FAIL_RUN=0
	else
		NEW_FAIL_RUN=$((NEW_FAIL_RUN + 1))
		if [ "$NEW_FAIL_RUN" -le 2 ]; then
			ev "new sender: attempt FAILED after $(secs "$ms"): $(human_err "$err")"
		fi
	fi
}

on_attack() {
	case $1 in
	t=* | summary\ *) LAST_ATTACK=$1 ;;
	esac
}

on_maillog() {
	local line=$1

	[ "$LIMIT_SEEN" -eq 0 ] || return 0
	case $line in
	*"reached its process limit"*) ;;
	*) return 0 ;;
	esac
	LIMIT_SEEN=1
	if [[ $line =~ (postfix/[a-z]+)\[[0-9]+\]:\ (.*) ]]; then
		line="${BASH_REMATCH[1]}: ${BASH_REMATCH[2]}"
	fi
	ev "Postfix's log: $line"
}

# smtpwall's decisions, summarised: every emergency transition, the first few of
# each kind of action, counts in the progress lines.
EM_IN=0 EM_OUT=0 TD=0 TD_FAIL=0 IDLE_PEN=0 PROB_FAIL=0 PEN=0 OTHER_WARN=0
declare -A IDLE_SRC=() PROB_SRC=()

# on_event KIND ACTION SEVERITY SOURCE TEXT: one decision of the daemon,
# from its event stream (`smtpwall events --json --follow`).
on_event() {
	local kind=$1 action=$2 sev=$3 src=$4 msg=$5 detail

	case $kind in
	emergency)
		if [ "$action" = entered ]; then
			EM_IN=$((EM_IN + 1))
			detail=${msg#entered: }
			detail=${detail%%; new sessions*}
			if [ "$EM_IN" -eq 1 ]; then
				ev "smtpwall: EMERGENCY MODE ON: $detail. New sessions now from known-good senders, and from the others on probation (one session each, in a reserved share); idle sessions are torn down"
				ev "smtpwall's event: emergency: $msg"
			else
				ev "smtpwall: emergency mode on again (time $EM_IN): $detail"
			fi
		else
			EM_OUT=$((EM_OUT + 1))
			ev "smtpwall: emergency mode off: ${msg#left: }"
		fi
		;;
	teardown)
		if [ "$action" = "torn down" ]; then
			TD=$((TD + 1))
			if [ "$TD" -le 2 ]; then
				ev "smtpwall tore down an idle session (example $TD): $(pretty_ns "$msg")"
			fi
		else
			TD_FAIL=$((TD_FAIL + 1))
			if [ "$TD_FAIL" -le 2 ]; then
				ev "smtpwall could not tear down a session: $msg"
			fi
		fi
		;;
	idle)
		IDLE_PEN=$((IDLE_PEN + 1))
		IDLE_SRC[$src]=1
		if [ "$IDLE_PEN" -le 2 ]; then
			ev "smtpwall penalised a source for idle sessions: $msg"
		fi
		;;
	probation)
		PROB_FAIL=$((PROB_FAIL + 1))
		PROB_SRC[$src]=1
		if [ "$PROB_FAIL" -le 2 ]; then
			ev "smtpwall judged a source on probation: $msg"
		fi
		;;
	penalty)
		PEN=$((PEN + 1))
		if [ "$PEN" -le 2 ]; then
			ev "smtpwall: penalty: $msg"
		fi
		;;
	link)
		if [ "$action" = attached ]; then
			ev "smtpwall: $msg"
		fi
		;;
	*)
		if [ "$sev" = error ] || [ "$sev" = warn ]; then
			OTHER_WARN=$((OTHER_WARN + 1))
			if [ "$OTHER_WARN" -le 5 ]; then
				ev "smtpwall ($sev): $kind: $msg"
			fi
		fi
		;;
	esac
}

# read_new_events: the complete lines the event follower wrote since the
# last call, through one jq for the lot.
read_new_events() {
	local f=$LAB_DIR/events.jsonl n k kind action sev src msg

	[ -f "$f" ] || return 0
	n=${SEEN[$f]:-0}
	k=$(tail -n "+$((n + 1))" "$f" | wc -l)
	[ "$k" -gt 0 ] || return 0
	# Fields joined by US (0x1f): unlike a tab, not whitespace to read, so an
	# empty source stays a field.
	while IFS=$'\x1f' read -r kind action sev src msg; do
		on_event "$kind" "$action" "$sev" "$src" "$msg"
	done < <(tail -n "+$((n + 1))" "$f" | head -n "$k" |
		jq -r '[.kind, .action, .severity, .source, .text] | map(gsub("[\u001f\n]"; " ")) | join("\u001f")' \
			2>/dev/null)
	SEEN[$f]=$((n + k))
}

# on_daemon LINE: the daemon's log, for what is not a decision (those come
# from the event stream): warnings and errors.
on_daemon() {
	local line=$1 level msg

	[[ $line =~ ^[0-9T:.Z-]+\ smtpwall\ ([a-z]+):\ (.*)$ ]] || return 0
	level=${BASH_REMATCH[1]}
	msg=${BASH_REMATCH[2]}
	[[ $msg =~ ^(penalty|teardown|idle|probation|emergency|lists|geo|link|daemon):\  ]] && return 0
	if [ "$level" = warn ] || [ "$level" = error ]; then
		OTHER_WARN=$((OTHER_WARN + 1))
		if [ "$OTHER_WARN" -le 5 ]; then
			ev "smtpwall ($level): $msg"
		fi
	fi
}

poll_events() {
	read_new "$LAB_DIR/$LEGIT_NAME.out" on_legit
	read_new "$LAB_DIR/$NEW_NAME.out" on_new
	read_new "$LAB_DIR/$ATTACK_NAME.out" on_attack
	read_new "$LAB_MAILLOG" on_maillog
	read_new "$LAB_DIR/daemon.log" on_daemon
	read_new_events
}

# postfix_load: PF_BUSY, the connections on port 25 an smtpd process has
# taken, and PF_QUEUED, those still waiting in the listen queue for one.
postfix_load() {
	local counts

	counts=$(lab_in_server ss -Htnp state established '( sport = :25 )' 2>/dev/null |
		awk '/"smtpd"/ { b++ } !/users:/ { q++ } END { print b + 0, q + 0 }') || counts="? ?"
	read -r PF_BUSY PF_QUEUED <<<"$counts"
}

LAST_PROGRESS_MS=0

progress() {
	local a=$LAST_ATTACK msg

	now_ms
	LAST_PROGRESS_MS=$NOW_MS

	msg="so far: legitimate sender $ATK_OK delivered, $((ATK_N - ATK_OK)) failed since the attack began"
	msg+="; new sender $NEW_OK delivered, $((NEW_N - NEW_OK)) failed"
	if [ -n "$a" ]; then
		msg+="; attacker: $(kv "$a" open) sessions idle, $(kv "$a" connecting) waiting to connect or for a greeting"
		msg+=", $(kv "$a" closed_by_server) closed by the server"
	fi
	postfix_load
	msg+="; Postfix: $PF_BUSY of $LAB_PROCESS_LIMIT smtpd processes busy, connections queued for one: $PF_QUEUED"
	if [ "$PHASE" = b ]; then
		msg+="; smtpwall: $TD sessions torn down, $((${#PROB_SRC[@]} + ${#IDLE_SRC[@]})) attacking addresses penalised"
	fi
	ev "$msg"
}

# final_progress: the state as the attack ends, unless a progress line just said it.
final_progress() {
	now_ms
	if [ $((NOW_MS - LAST_PROGRESS_MS)) -ge 2000 ]; then
		progress
	fi
}

# watch S [UNTIL_CMD...]: follow the logs for S seconds (or until UNTIL_CMD
# succeeds), with a progress line every STATUS_EVERY_S while the attack runs.
watch() {
	local end next

	now_ms
	end=$((NOW_MS + $1 * 1000))
	next=$((NOW_MS + STATUS_EVERY_S * 1000))
	shift
	while :; do
		poll_events
		now_ms
		[ "$NOW_MS" -ge "$end" ] && break
		if [ $# -gt 0 ] && "$@"; then
			break
		fi
		if [ -n "$ATTACK_MS" ] && [ -z "$ATTACK_STOP_MS" ] && [ "$NOW_MS" -ge "$next" ]; then
			progress
			next=$((next + STATUS_EVERY_S * 1000))
		fi
		sleep "$TICK_S"
	done
}

legit_known_good() {
	[ "$PRE_OK" -ge "$GOOD_N" ]
}

emergency_on() {
	[ "$EM_IN" -gt "$EM_OUT" ]
}

emergency_off() {
	[ "$EM_IN" -eq "$EM_OUT" ]
}

start_legit() {
	start_load "$LEGIT_NAME" "$LAB_NS_LEGIT" legit --to "$LAB_SRV" --from "$LAB_LEGIT" \
		--duration 600 --interval-ms "$LEGIT_INTERVAL_MS" --timeout-ms "$LEGIT_TIMEOUT_MS"
	LEGIT_START_MS=$(load_start_ms "$LEGIT_NAME")
}

# The new sender: an address smtpwall has never seen, sending like the
# legitimate one from the moment the attack has begun.
start_new() {
	start_load "$NEW_NAME" "$LAB_NS_LEGIT" legit --to "$LAB_SRV" --from "$LAB_LEGIT_NEW" \
		--duration 600 --interval-ms "$LEGIT_INTERVAL_MS" --timeout-ms "$LEGIT_TIMEOUT_MS"
	NEW_START_MS=$(load_start_ms "$NEW_NAME")
	ev "new sender $LAB_LEGIT_NEW started: never seen before, it first connects during the attack"
}

start_attack() {
	# --duration only as a safety net: the demo stops it.
	start_load "$ATTACK_NAME" "$LAB_NS_ATK" idle --to "$LAB_SRV" \
		--from-range "$LAB_ATK_FIRST-$LAB_ATK_LAST" --per-source "$PER_SOURCE" --stage helo \
		--duration 600 --timeout-ms 3000 --report-ms 1000
	ATTACK_MS=$(load_start_ms "$ATTACK_NAME")
	ev "ATTACK STARTED: $LAB_ATTACKERS addresses x $PER_SOURCE sessions connect, answer the greeting with EHLO, then go silent; whatever the server closes they open again"
}

stop_attack() {
	now_ms
	ATTACK_STOP_MS=$NOW_MS
	stop_load "$ATTACK_NAME"
	read_new "$LAB_DIR/$ATTACK_NAME.out" on_attack
}

pre_summary() {
	local avg=0

	[ "$PRE_N" -gt 0 ] && avg=$((PRE_MS / PRE_N))
	ev "legitimate sender: $PRE_OK of $PRE_N transactions delivered (EHLO, MAIL, RCPT, DATA, QUIT), $avg ms each on average"
}

# ------------------------------------------------------------------ 1. the lab

lab_init "swd$$"
CONF=$LAB_DIR/smtpwall.conf

section "1. The lab"
ev "building it: network namespaces ${LAB_NS_SRV} (mail server), ${LAB_NS_LEGIT} (legitimate sender), ${LAB_NS_ATK} (attacker), joined by a bridge in ${LAB_NS_SW}"
LAB_IS_UP=1	# from here on, a half-built lab is removed too
lab_up || die "could not build the lab (see above)"
PF_VERSION=$(postconf -d -h mail_version 2>/dev/null || echo "?")
ev "mail server $LAB_SRV: a real Postfix $PF_VERSION on port 25, at most $LAB_PROCESS_LIMIT smtpd processes (default_process_limit = $LAB_PROCESS_LIMIT), each waiting up to $LAB_SMTPD_TIMEOUT for a silent client (smtpd_timeout)"
ev "legitimate sender $LAB_LEGIT: sends one message every $((LEGIT_INTERVAL_MS)) ms and gives each up to $((LEGIT_TIMEOUT_MS / 1000)) s"
ev "new sender $LAB_LEGIT_NEW: sends the same way, but first connects a few seconds into the attack (a correspondent never seen before)"
ev "attacker: $LAB_ATTACKERS addresses, $LAB_ATK_FIRST to $LAB_ATK_LAST"

# ------------------------------------------------------------------ 2-3. without smtpwall

section "2. Without smtpwall"
reset_phase a
start_legit
ev "legitimate sender started"
watch "$PRE_A_S"
pre_summary
start_attack
# The new sender arrives NEW_AFTER_S into the attack, as it does below.
watch "$NEW_AFTER_S"
start_new
watch $((ATTACK_A_S - NEW_AFTER_S))
final_progress
# The senders first: every attempt they report then ended under the attack.
stop_load "$LEGIT_NAME"
stop_load "$NEW_NAME"
stop_attack
poll_events
A_OK=$ATK_OK A_N=$ATK_N A_AVG=$((ATK_MS / (ATK_N > 0 ? ATK_N : 1))) A_WIN_OK=$WIN_OK A_WIN_N=$WIN_N A_FIRST=$FIRST_OK_MS A_MAX=$MAX_MS A_LIMIT=$LIMIT_SEEN
AN_OK=$NEW_OK AN_N=$NEW_N AN_WIN_OK=$NEW_WIN_OK AN_WIN_N=$NEW_WIN_N AN_FIRST=$NEW_FIRST_MS
ev "attack stopped. Without smtpwall the legitimate sender got $A_OK of $A_N attempts through during the attack ($(pct "$A_OK" "$A_N")), the new sender $AN_OK of $AN_N ($(pct "$AN_OK" "$AN_N"))"
if [ "$A_LIMIT" -eq 0 ]; then
	ev "(Postfix did not log that it reached its process limit)"
fi
# The attacker's sockets are closed: Postfix's processes are free again.
lab_wait_smtp 20 || die "Postfix did not recover after the attack"
ev "Postfix answers again: the attacker's connections are closed, its processes free"

# ------------------------------------------------------------------ 4-5. with smtpwall

section "3. With smtpwall"
cat >"$CONF" <<EOF
# scripts/demo.sh: smtpwall in front of the lab's Postfix.
[general]
interfaces = $LAB_IF_SRV
bpffs_dir = $LAB_BPFFS
state_dir = $LAB_DIR/state
# Judge sessions twice a second: the lab's time line is short.
gc_interval = 500ms

[limits]
# Rate limits well above what the attacker's reconnects need: this demo is
# about session health, not connection floods.
syn_rate = 600/min
syn_burst = 100
max_sessions = 20

[sessions]
# A session is idle when the server has waited this long on a silent client
# after its greeting, EHLO or MAIL; a source with more than max_idle idle
# sessions goes to the penalty box.
idle_greeted = 3s
idle_helo = 3s
idle_mail = 10s
max_idle = 1

[emergency]
# Postfix has 10 processes: at 8 sessions (80 %) admit new sessions from
# known-good senders, and from the others on probation, and tear idle ones
# down; back to normal below 5 (50 %) after at least 5 s.
mode = auto
capacity = $LAB_PROCESS_LIMIT
high = 80%
low = 50%
hold = 5s
idle = 3s
# Probation: half of Postfix's processes for senders not yet proven, one
# session each; a session that makes no progress for 3 s after greeting or
# EHLO (5 s after MAIL, 10 s in DATA) fails, and its address is penalised.
# The lab's time line is short: the defaults are 10 s, 10 s, 20 s and 30 s.
probation_share = 50%
probation_greeted = 3s
probation_helo = 3s
probation_mail = 5s
probation_data = 10s
probation_lifetime = 30s
EOF
reset_phase b
: >"$LAB_DIR/daemon.log"
ev "starting smtpwall in the server's namespace: smtpwall -c $CONF run"
ev "its policy: a session silent for 3 s after greeting or EHLO is idle, more than 1 idle per address is punished; emergency mode at 8 of Postfix's 10 sessions, sessions idle for 3 s then torn down, unproven senders on probation (5 sessions, one per address; no progress for 3 s and the address is penalised)"
nsenter --net="/run/netns/$LAB_NS_SRV" -- "$SMTPWALL" -c "$CONF" run >>"$LAB_DIR/daemon.log" 2>&1 &
DAEMON_PID=$!
attached=0
for ((i = 0; i < 100; i++)); do
	_alive "$DAEMON_PID" || die "smtpwall exited at start-up: $(tail -n 5 "$LAB_DIR/daemon.log")"
	if sw status --json 2>/dev/null | jq -e --arg i "$LAB_IF_SRV" \
		'.daemon.running and any(.attached[]; .ifname == $i)' >/dev/null 2>&1; then
		attached=1
		break
	fi
	sleep 0.1
done
[ "$attached" -eq 1 ] || die "smtpwall did not attach to $LAB_IF_SRV within 10 s"
# Its decisions, as they happen, from the event stream (the backlog first).
for ((i = 0; i < 100; i++)); do
	sw events -n 0 >/dev/null 2>&1 && break
	sleep 0.1
done
nsenter --net="/run/netns/$LAB_NS_SRV" -- "$SMTPWALL" -c "$CONF" events --json --follow \
	>"$LAB_DIR/events.jsonl" 2>/dev/null &
EVENTS_PID=$!
poll_events
start_legit
ev "legitimate sender started again"
watch 15 legit_known_good
pre_summary
legit_known_good || die "the legitimate sender got only $PRE_OK of $PRE_N transactions through before the attack"
kg=$(sw show "$LAB_LEGIT" --json 2>/dev/null | jq -r '.health.known_good // "?"' 2>/dev/null || echo "?")
ev "smtpwall show $LAB_LEGIT: known good = $kg (it completed sessions; emergency mode keeps admitting it)"
start_attack
# The new sender arrives once emergency mode is on: it is on probation.
now_ms
t0=$NOW_MS
watch "$NEW_AFTER_S" emergency_on
watch 1
start_new
now_ms
watch $((ATTACK_B_S - (NOW_MS - t0) / 1000))
final_progress
stop_attack
ev "attack stopped"
# Let it calm down: emergency mode is left below the low-water mark.
watch "$CALM_MAX_S" emergency_off
stop_load "$LEGIT_NAME"
stop_load "$NEW_NAME"
poll_events
B_OK=$ATK_OK B_N=$ATK_N B_AVG=$((ATK_MS / (ATK_N > 0 ? ATK_N : 1))) B_WIN_OK=$WIN_OK B_WIN_N=$WIN_N B_FIRST=$FIRST_OK_MS B_MAX=$MAX_MS
BN_OK=$NEW_OK BN_N=$NEW_N BN_WIN_OK=$NEW_WIN_OK BN_WIN_N=$NEW_WIN_N BN_FIRST=$NEW_FIRST_MS
if ! emergency_off; then
	ev "emergency mode still on $CALM_MAX_S s after the attack (it is left once sessions stay below the low-water mark)"
fi
# The attackers judged: still refused now that the emergency is over?
ATK_PEN=0 ATK_REFUSED=0
for ((i = 0; i < LAB_ATTACKERS; i++)); do
	pj=$(sw show "$LAB_NET.$((100 + i))" --json 2>/dev/null | jq -c '.penalty' 2>/dev/null) || pj='{}'
	if jq -e '.active' <<<"$pj" >/dev/null 2>&1; then
		ATK_REFUSED=$((ATK_REFUSED + 1))
	fi
	if jq -e '.offences > 0' <<<"$pj" >/dev/null 2>&1; then
		ATK_PEN=$((ATK_PEN + 1))
	fi
done
ev "attacking addresses penalised: $ATK_PEN of $LAB_ATTACKERS; still refused now the attack is over: $ATK_REFUSED"

# ------------------------------------------------------------------ what smtpwall did

section "4. What smtpwall did"
st=$(sw status --json 2>/dev/null) || st='{}'
j() {
	jq -r "$1 // 0" <<<"$st" 2>/dev/null || echo 0
}
S_TD=$(j .health.teardowns)
S_TD_EM=$(j .health.teardowns_emergency)
S_TD_PEN=$(j .health.teardowns_penalised)
S_TD_FAIL=$(j .health.teardown_failed)
S_IDLE_PEN=$(j .health.idle_penalties)
S_PEN=$(j .stats.penalties)
S_EM_IN=$(j .emergency.entered)
S_EM_OUT=$(j .emergency.left)
S_EM_DROP=$(j .stats.dropped.emergency)
S_PEN_DROP=$(j .stats.dropped.penalty)
S_PR_ADM=$(j .emergency.probation.admitted)
S_PR_GRAD=$(j .emergency.probation.graduated)
S_PR_FAIL=$(j .emergency.probation.failed)
ev "emergency mode: entered $S_EM_IN times, left $S_EM_OUT times (it comes back while the attack keeps refilling Postfix's slots)"
ev "sessions torn down: $S_TD ($S_TD_EM idle during an emergency, $S_TD_PEN of penalised sources, $S_TD_FAIL failed)"
if [ "$S_IDLE_PEN" -eq 0 ]; then
	# What the lab shows with this configuration: the emergency's 2 s
	# teardown comes before a session counts as idle for the policy (3 s).
	ev "sources penalised for idle sessions: none (in an emergency sessions idle for 2 s were torn down before they counted as idle for the penalty, at 3 s; $S_PEN penalties in all)"
else
	ev "sources penalised for idle sessions: ${#IDLE_SRC[@]} addresses ($S_IDLE_PEN idle penalties; $S_PEN penalties in all)"
fi
ev "probation: $S_PR_ADM sessions of unproven senders admitted, $S_PR_GRAD delivered a message (the sender is known good from then on), $S_PR_FAIL sources failed and were penalised (${#PROB_SRC[@]} addresses)"
ev "connection attempts dropped at the NIC: $S_EM_DROP from unproven senders during emergencies (no probation slot free, or one session each already), $S_PEN_DROP from penalised sources"
ev "the new sender during the attack: without smtpwall $AN_OK/$AN_N ($(pct "$AN_OK" "$AN_N")), with smtpwall $BN_OK/$BN_N ($(pct "$BN_OK" "$BN_N"))"
ev "the legitimate sender during the attack: without smtpwall $A_OK/$A_N ($(pct "$A_OK" "$A_N")), with smtpwall $B_OK/$B_N ($(pct "$B_OK" "$B_N"))"

# ------------------------------------------------------------------ 6. summary

section "5. Summary"
first_a=never first_b=never nfirst_a=never nfirst_b=never
if [ "$AN_FIRST" -ge 0 ]; then
	nfirst_a=$(secs "$AN_FIRST")
fi
if [ "$BN_FIRST" -ge 0 ]; then
	nfirst_b=$(secs "$BN_FIRST")
fi
if [ "$A_FIRST" -ge 0 ]; then
	first_a=$(secs "$A_FIRST")
fi
if [ "$B_FIRST" -ge 0 ]; then
	first_b=$(secs "$B_FIRST")
fi
row() {
	printf '%-46s %-19s %s\n' "$@"
}
{
	row "" "without smtpwall" "with smtpwall"
	row "legitimate sender served during the attack" "$A_OK/$A_N ($(pct "$A_OK" "$A_N"))" "$B_OK/$B_N ($(pct "$B_OK" "$B_N"))"
	row "  after the attack's first $WARMUP_S s" "$A_WIN_OK/$A_WIN_N ($(pct "$A_WIN_OK" "$A_WIN_N"))" "$B_WIN_OK/$B_WIN_N ($(pct "$B_WIN_OK" "$B_WIN_N"))"
	row "  time to its first success" "$first_a" "$first_b"
	row "  its attempts took on average" "$(secs "$A_AVG")" "$(secs "$B_AVG")"
	row "  its slowest attempt" "$(secs "$A_MAX")" "$(secs "$B_MAX")"
	row "new sender (first seen during the attack)" "$AN_OK/$AN_N ($(pct "$AN_OK" "$AN_N"))" "$BN_OK/$BN_N ($(pct "$BN_OK" "$BN_N"))"
	row "  after the attack's first $WARMUP_S s" "$AN_WIN_OK/$AN_WIN_N ($(pct "$AN_WIN_OK" "$AN_WIN_N"))" "$BN_WIN_OK/$BN_WIN_N ($(pct "$BN_WIN_OK" "$BN_WIN_N"))"
	row "  time to its first success" "$nfirst_a" "$nfirst_b"
	row "attacking addresses penalised / still refused" "-" "$ATK_PEN / $ATK_REFUSED of $LAB_ATTACKERS"
	row "Postfix logged its process limit reached" "$([ "$A_LIMIT" -eq 1 ] && echo yes || echo no)" "-"
	row "idle sessions torn down" "-" "$S_TD"
	row "penalties (idle / failed probation)" "-" "$S_PEN ($S_IDLE_PEN / $S_PR_FAIL)"
	row "emergency mode entered / left" "-" "$S_EM_IN / $S_EM_OUT"
	row "new sessions refused in emergencies" "-" "$S_EM_DROP SYNs"
} | indent

echo
echo "  smtpwall top -n 5:"
sw top -n 5 2>&1 | indent || true
echo
echo "  smtpwall status:"
sw status 2>&1 | indent || true

# ------------------------------------------------------------------ verdict

echo
FINISHED=1
verdict=0
if [ "$B_WIN_N" -eq 0 ] || [ "$BN_WIN_N" -eq 0 ]; then
	printf '%sRESULT: FAIL: a sender made no attempt after the attack'"'"'s first %d s (legitimate %d, new %d)%s\n' \
		"$R" "$WARMUP_S" "$B_WIN_N" "$BN_WIN_N" "$N"
	exit 1
fi
for who in legitimate new; do
	if [ "$who" = legitimate ]; then
		ok=$B_WIN_OK n=$B_WIN_N without=$(pct "$A_OK" "$A_N")
	else
		ok=$BN_WIN_OK n=$BN_WIN_N without=$(pct "$AN_OK" "$AN_N")
	fi
	if [ $((ok * 100)) -ge $((n * 99)) ]; then
		printf '%sRESULT: PASS: with smtpwall the %s sender was served in %s of its attempts after the attack'"'"'s first %d s (without: %s)%s\n' \
			"$G" "$who" "$(pct "$ok" "$n")" "$WARMUP_S" "$without" "$N"
	else
		printf '%sRESULT: FAIL: with smtpwall the %s sender was served in only %s (%d/%d) of its attempts after the attack'"'"'s first %d s; at least 99 %% was expected. The daemon log: %s%s\n' \
			"$R" "$who" "$(pct "$ok" "$n")" "$ok" "$n" "$WARMUP_S" \
			"$([ "$KEEP" -eq 1 ] && echo "$LAB_DIR/daemon.log" || echo "(removed; run with --keep to look at it)")" "$N"
		verdict=1
	fi
done
exit "$verdict"
