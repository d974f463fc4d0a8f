#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# smtpwall's main job, on this machine, with one command (as root):
#   installs what is missing, builds, then in a lab of two network
#   namespaces sheds a connection flood while a well-behaved client gets
#   through, and shows the counters. Everything it creates is removed.
#
# Lab: the test harness's topology (tests/e2e/lib.sh): a server namespace
# with a listener on port 25 and smtpwall attached to its veth in native XDP
# mode; a client namespace with several addresses.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: run as root (it installs packages, creates namespaces and attaches XDP)" >&2
	exit 1
fi

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Installing dependencies and building"
scripts/install-deps.sh
make -s all build/tools/tcpconn

# The harness speaks TAP for tests; the demo talks to a person instead.
# shellcheck source=tests/e2e/lib.sh
source tests/e2e/lib.sh
TAP_FINISHED=1

ATTACKERS=("$(c4 5)" "$(c4 6)" "$(c4 7)" "$(c6b 5)")
CLIENT=$(c4 2)

say "Building the lab: namespaces $NS_S (mail host) and $NS_C (senders)"
e2e_setup
write_config "limits.syn_rate=60/min" "limits.syn_burst=10" "limits.max_sessions=10" \
	"penalty.strikes=10" "penalty.window=60s" "penalty.base=2m"
echo "listener on $SRV4 and [$SRV6] port $SMTP_PORT; config:"
sed 's/^/    /' "$CONF"

say "Attaching smtpwall to $IF_S"
must_start_daemon
sw status | sed 's/^/    /' | head -4

say "Flood: ${#ATTACKERS[@]} sources open 60 connections each as fast as they can"
echo "meanwhile the client $CLIENT opens one connection every 500 ms (within its limits)"
flood_out=()
for a in "${ATTACKERS[@]}"; do
	f=$TMPD/flood-$a.out
	flood_out+=("$f")
	conn "$a" --count 60 --timeout-ms 150 >"$f" 2>&1 &
	BG_PIDS+=("$!")
done
client_out=$TMPD/client.out
conn "$CLIENT" --count 12 --interval-ms 500 --timeout-ms 1000 >"$client_out" 2>&1 || true
wait "${BG_PIDS[@]: -${#ATTACKERS[@]}}" 2>/dev/null || true

say "What happened"
total_ok=0
total=0
for i in "${!ATTACKERS[@]}"; do
	line=$(cat "${flood_out[$i]}")
	ok=$(kv "$line" connected)
	printf '    attacker %-22s connected %3s of 60\n' "${ATTACKERS[$i]}" "${ok:-?}"
	total_ok=$((total_ok + ${ok:-0}))
	total=$((total + 60))
done
cline=$(cat "$client_out")
client_ok=$(kv "$cline" connected)
printf '    client   %-22s connected %3s of 12\n' "$CLIENT" "${client_ok:-?}"
echo "    => the flood got $total_ok of $total connections through (the burst, then the rate);"
echo "       the client got ${client_ok:-0} of 12 through"
if [ "${client_ok:-0}" -ne 12 ]; then
	echo "demo: the well-behaved client was refused: this is a bug; daemon log: $DAEMON_LOG" >&2
	E2E_KEEP=1 TAP_FAILED=1
	exit 1
fi

say "Penalties the daemon logged"
grep -E 'penalty:' "$DAEMON_LOG" | sed 's/^/    /' || echo "    (none)"

say "smtpwall status"
sw status | sed 's/^/    /'

say "smtpwall top -n 6 --by drops"
sw top -n 6 --by drops | sed 's/^/    /'

say "smtpwall show ${ATTACKERS[0]}"
sw show "${ATTACKERS[0]}" | sed 's/^/    /'

say "A ban from the CLI: smtpwall ban $CLIENT --for 1m --reason demo"
sw ban "$CLIENT" --for 1m --reason demo | sed 's/^/    /'
line=$(conn "$CLIENT" --count 1 --timeout-ms 700 2>&1 || true)
echo "    client now: $line"
sw unban "$CLIENT" | sed 's/^/    /'
line=$(conn "$CLIENT" --count 1 --timeout-ms 1000 2>&1 || true)
echo "    after unban: $line"

say "Done: removing the lab (smtpwall detach, namespaces, pins)"
