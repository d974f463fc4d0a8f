# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# The daemon's decisions, read from its event stream (`smtpwall events
# --json`) rather than from log text. Sourced by lib.sh and lab.sh; needs
# their sw() (the CLI with the run's config) and tap.sh.

# Each start of the daemon starts a follower (events_follow NS) that appends
# the whole stream, the start's backlog first, to $EVENTS_FILE: the checks
# read that file, so no event is missed when more than the daemon's backlog
# (1024) happened since. The follower ends when the daemon stops or dies.
EVENTS_FILE=""
EVENTS_PIDS=()

# events_follow NS FILE: start a follower of the daemon in NS, into FILE.
events_follow() {
	local i

	EVENTS_FILE=$2
	# The daemon holds its lock (status says running) before its control
	# socket listens: wait for the socket, then follow from the backlog.
	for ((i = 0; i < 100; i++)); do
		nsenter --net="/run/netns/$1" -- "$SMTPWALL" -c "$CONF" events -n 0 >/dev/null 2>&1 && break
		sleep 0.1
	done
	nsenter --net="/run/netns/$1" -- "$SMTPWALL" -c "$CONF" events --json --follow \
		>>"$EVENTS_FILE" 2>/dev/null &
	EVENTS_PIDS+=("$!")
}

# events_stop: end every follower still running (the cleanup's).
events_stop() {
	local pid

	for pid in "${EVENTS_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	EVENTS_PIDS=()
	return 0
}

# events_json [ARGS...]: the daemon's events as JSON lines: what the
# followers saw, or with ARGS (or no follower) `smtpwall events --json ARGS`.
events_json() {
	if [ $# -eq 0 ] && [ -n "$EVENTS_FILE" ] && [ -f "$EVENTS_FILE" ]; then
		cat "$EVENTS_FILE"
	else
		sw events --json "$@" 2>/dev/null || true
	fi
}

# event_seen JQ_COND [jq args...]: some event of the stream satisfies JQ_COND.
event_seen() {
	local cond=$1

	shift
	events_json | jq -e -s "any(.[]; $cond)" "$@" >/dev/null 2>&1
}

# _event_wait SECONDS JQ_COND [jq args...]: poll until an event satisfies JQ_COND.
_event_wait() {
	local limit=$1 i

	shift
	for ((i = 0; i < limit * 10; i++)); do
		event_seen "$@" && return 0
		sleep 0.1
	done
	return 1
}

# event_text JQ_COND [jq args...]: the text of the last event satisfying JQ_COND.
event_text() {
	local cond=$1

	shift
	events_json | jq -r -s "map(select($cond)) | last | .text // empty" "$@" 2>/dev/null
}

# check_event DESC JQ_COND [jq args...]: an event satisfying JQ_COND
# arrives within 5 s; else the failure shows the last events.
check_event() {
	local desc=$1 cond=$2

	shift 2
	if _event_wait 5 "$cond" "$@"; then
		tap_ok "$desc"
	else
		tap_fail "$desc" "no event with $cond; the last ones:"$'\n'"$(sw events -n 10 2>&1 || true)"
	fi
}
