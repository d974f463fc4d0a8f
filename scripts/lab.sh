#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The smtpwall lab: a mail host running a real Postfix, legitimate senders
# and a crowd of attackers, in network namespaces, under one run id.
#
#   scripts/lab.sh up     [--id ID]    build the lab, start Postfix, print how to use it
#   scripts/lab.sh down   [--id ID]    remove everything the lab made
#   scripts/lab.sh status [--id ID]    what is up (all labs without --id)
#
# Or source it (tests/e2e/lab.sh does) and call lab_init ID, lab_up, ...,
# lab_down; the caller traps lab_down on exit.
#
# Topology (X = 20..219, derived from the id; ID defaults to swl<pid>):
#
#   netns IDl (legit)          netns IDb (switch)            netns IDs (server)
#   veth IDl 10.77.X.2-9 ----- br0 ---------------------- veth IDs 10.77.X.1/24
#    fd77:77:X:2::1, :3::1      |                          fd77:77:X::1/48
#                               |                          Postfix on :25 (both),
#   netns IDa (attackers)       |                          smtpwall attaches to IDs
#   veth IDa 10.77.X.100-159 ---+
#    fd77:77:X:100::1 .. fd77:77:X:13b::1
#
# A bridge rather than a router: every client frame arrives on the server's
# one veth with its own source address, and nothing between rewrites it.
#
# IPv6, always on beside IPv4: the ULA fd77:77:X::/48 ($LAB_NET6 is
# fd77:77:X, X's decimal digits read as a hex group: lab X=219 has
# fd77:77:219::/48), the fourth group the subnet of a /64. Every address is
# added as a /48, so all of them are on-link; DAD and router advertisements
# are off (accept_dad=0, accept_ra=0, addresses added `nodad`), so an
# address is usable the moment it is added and nothing solicits routers.
# smtpwall aggregates IPv6 sources per /64, so each client address has a
# /64 of its own: the server $LAB_NET6::1 ($LAB_SRV6), the legit sender
# $LAB_NET6:2::1 ($LAB_LEGIT6) and a "never seen" one $LAB_NET6:3::1
# ($LAB_LEGIT6_NEW), attacker i (0-based) $LAB_NET6:G::1 with G = 0x100 + i
# in hex (100, 101, .., 109, 10a, .., 13b for the 60th): contiguous, so
# smtpload --from-range "$LAB_ATK6_FIRST-$LAB_ATK6_LAST" enumerates exactly
# the attackers (the array LAB_ATK6 and lab_atk6_addrs list them too).
# LAB_LEGIT_NEW ($LAB_NET.3) is the IPv4 "never seen" legit address.
#
# Postfix: a private instance (config, queue, data and log under the lab
# dir) started with `postfix -c DIR start` inside the server namespace. The
# only change outside the lab: the lab's config dir is added to
# alternate_config_directories in /etc/postfix/main.cf (Postfix refuses
# `-c DIR` otherwise), under the lock /run/smtpwall-lab.lock, and removed
# again by lab_down; the parameter is deleted when no lab is left in it.
# Where Postfix was installed with "No configuration" there is no main.cf:
# the lab then writes one (that also keeps the system's instance off the
# network) and deletes it with the last lab. The system's own Postfix
# instance is neither started nor stopped.
#
# Submission (LAB_SUBMISSION=1): Postfix also listens on 587 (STARTTLS
# required) and 465 (implicit TLS) with SASL through a private Dovecot
# (auth only, passwd-file users $LAB_SASL_USERS with password
# "pw-<name>", its socket at private/auth in the lab's queue; started in
# the server namespace after Postfix, stopped with it), a throwaway
# certificate (openssl, EC P-256, under the lab dir), and the policy
# service hooked as operators are told to: check_policy_service
# unix:private/smtpwall at RCPT and at end of data with
# smtpd_policy_service_default_action = DUNNO (mail flows when smtpwall is
# not answering). $LAB_POLICY_SOCKET is where smtpwall's socket goes.
#
# Knobs (environment): LAB_PROCESS_LIMIT (default_process_limit, 10),
# LAB_SMTPD_TIMEOUT (300s), LAB_ATTACKERS (number of attacker addresses, 60),
# LAB_TMPDIR (/tmp); unset unless given, Postfix's own defaults then:
# LAB_SMTPD_JUNK_LIMIT (smtpd_junk_command_limit, Postfix
# ${stress?{1}:{100}}) and LAB_SMTPD_HARD_ERROR_LIMIT
# (smtpd_hard_error_limit, ${stress?{1}:{20}}). An smtpd started while
# Postfix is at its process limit runs "stressed" for its whole life: it
# hangs up (421 too many errors) on the second NOOP/RSET/VRFY of a session,
# or on its first 5xx; pin both to keep such sessions (smtpload idle
# --drip-ms) open. LAB_GREET_PAUSE_HOSTS: host numbers in $LAB_NET
# (e.g. "101") whose greeting Postfix holds back a second (sleep 1 at
# connect time), so that a client talking first (smtpload pregreet) is
# seen to talk before the 220 however busy the machine is.
set -euo pipefail

LAB_ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LAB_SYS_POSTFIX=/etc/postfix
LAB_LOCK=/run/smtpwall-lab.lock
LAB_USERS=(user alice bob postmaster)
LAB_SASL_USERS=(alice bob carol dave victim traveller)

_lab_err() {
	echo "lab: $*" >&2
}

# lab_init ID: the names of everything the lab with this id has or will have.
lab_init() {
	local id=$1 sum i

	if ! [[ $id =~ ^[a-z][a-z0-9]{0,11}$ ]]; then
		_lab_err "id '$id': a lower-case letter, then at most 11 letters or digits"
		return 1
	fi
	LAB_ID=$id
	# The same id gives the same addresses, so `down` needs nothing but it.
	sum=$(printf '%s' "$id" | cksum)
	LAB_X=$(( ${sum%% *} % 200 + 20 ))
	LAB_NET=10.77.$LAB_X
	LAB_NS_SRV=${id}s
	LAB_NS_LEGIT=${id}l
	LAB_NS_ATK=${id}a
	LAB_NS_SW=${id}b
	LAB_IF_SRV=${id}s
	LAB_IF_LEGIT=${id}l
	LAB_IF_ATK=${id}a
	LAB_SRV=$LAB_NET.1
	LAB_LEGIT=$LAB_NET.2
	LAB_LEGIT_LAST=$LAB_NET.9
	LAB_GW=$LAB_NET.254
	LAB_ATTACKERS=${LAB_ATTACKERS:-60}
	if ! [[ $LAB_ATTACKERS =~ ^[0-9]+$ ]] || [ "$LAB_ATTACKERS" -lt 1 ] ||
	   [ "$LAB_ATTACKERS" -gt 150 ]; then
		_lab_err "LAB_ATTACKERS=$LAB_ATTACKERS: 1 to 150 addresses"
		return 1
	fi
	LAB_ATK_FIRST=$LAB_NET.100
	LAB_ATK_LAST=$LAB_NET.$((99 + LAB_ATTACKERS))
	LAB_LEGIT_NEW=$LAB_NET.3
	# IPv6 (see the top): each client address in its own /64 of the /48.
	LAB_NET6=fd77:77:$LAB_X
	LAB_SRV6=$LAB_NET6::1
	LAB_LEGIT6=$LAB_NET6:2::1
	LAB_LEGIT6_NEW=$LAB_NET6:3::1
	LAB_ATK6=()
	for ((i = 0; i < LAB_ATTACKERS; i++)); do
		# As _lab_atk6, without a subshell per address.
		printf -v "LAB_ATK6[i]" '%s:%x::1' "$LAB_NET6" $((0x100 + i))
	done
	LAB_ATK6_FIRST=${LAB_ATK6[0]}
	LAB_ATK6_LAST=${LAB_ATK6[LAB_ATTACKERS - 1]}
	LAB_DIR=${LAB_TMPDIR:-/tmp}/smtpwall-lab-$id
	LAB_PF_DIR=$LAB_DIR/postfix
	LAB_PF_QUEUE=$LAB_DIR/queue
	LAB_PF_DATA=$LAB_DIR/data
	LAB_MAILLOG=$LAB_DIR/maillog
	LAB_SUBMISSION=${LAB_SUBMISSION:-0}
	LAB_DOVECOT_DIR=$LAB_DIR/dovecot
	LAB_POLICY_SOCKET=$LAB_PF_QUEUE/private/smtpwall
	LAB_BPFFS=/sys/fs/bpf/smtpwall-lab-$id
	LAB_PROCESS_LIMIT=${LAB_PROCESS_LIMIT:-10}
	LAB_SMTPD_TIMEOUT=${LAB_SMTPD_TIMEOUT:-300s}
	LAB_SMTPD_JUNK_LIMIT=${LAB_SMTPD_JUNK_LIMIT:-}
	LAB_SMTPD_HARD_ERROR_LIMIT=${LAB_SMTPD_HARD_ERROR_LIMIT:-}
	LAB_GREET_PAUSE_HOSTS=${LAB_GREET_PAUSE_HOSTS:-}
	if ! [[ $LAB_GREET_PAUSE_HOSTS =~ ^[0-9\ ]*$ ]]; then
		_lab_err "LAB_GREET_PAUSE_HOSTS: host numbers in the lab's /24, separated by spaces"
		return 1
	fi
	if ! [[ $LAB_SMTPD_JUNK_LIMIT =~ ^[0-9]*$ && $LAB_SMTPD_HARD_ERROR_LIMIT =~ ^[0-9]*$ ]]; then
		_lab_err "LAB_SMTPD_JUNK_LIMIT, LAB_SMTPD_HARD_ERROR_LIMIT: a number, or unset"
		return 1
	fi
}

# _lab_atk6 I: the IPv6 address of attacker I (0-based), in the /64 0x100 + I.
_lab_atk6() {
	printf '%s:%x::1\n' "$LAB_NET6" $((0x100 + $1))
}

# lab_atk6_addrs: the attackers' IPv6 addresses, one a line, first to last.
lab_atk6_addrs() {
	printf '%s\n' "${LAB_ATK6[@]}"
}

# in_ns NS CMD...: CMD in the namespace's network only. Not `ip netns exec`,
# which mounts a fresh /sys without bpffs.
in_ns() {
	local ns=$1

	shift
	nsenter --net="/run/netns/$ns" -- "$@"
}

lab_in_server() { in_ns "$LAB_NS_SRV" "$@"; }
lab_in_legit() { in_ns "$LAB_NS_LEGIT" "$@"; }
lab_in_attacker() { in_ns "$LAB_NS_ATK" "$@"; }

lab_exists() {
	[ -d "$LAB_DIR" ] || [ -e "/run/netns/$LAB_NS_SRV" ]
}

# ------------------------------------------------------------------ network

_lab_link_up() {
	ip -n "$LAB_NS_SRV" link show "$LAB_IF_SRV" | grep -q 'state UP' &&
	ip -n "$LAB_NS_LEGIT" link show "$LAB_IF_LEGIT" | grep -q 'state UP' &&
	ip -n "$LAB_NS_ATK" link show "$LAB_IF_ATK" | grep -q 'state UP'
}

# lab_net_up: the four namespaces, the bridge and the addresses.
lab_net_up() {
	local ns i port name ifname

	# Called in a condition, where set -e does not apply: check each step.
	for ns in "$LAB_NS_SW" "$LAB_NS_SRV" "$LAB_NS_LEGIT" "$LAB_NS_ATK"; do
		if [ -e "/run/netns/$ns" ]; then
			_lab_err "netns $ns exists already: another lab with id $LAB_ID? (scripts/lab.sh down --id $LAB_ID)"
			return 1
		fi
		ip netns add "$ns" || return 1
		# IPv6 on, quiet and at once: no DAD (addresses usable as soon as
		# they are added), no router solicitations or advertisements. Set
		# before the veths exist, which take "default".
		in_ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 \
			net.ipv6.conf.default.disable_ipv6=0 \
			net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
			net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 \
			net.ipv6.conf.all.router_solicitations=0 \
			net.ipv6.conf.default.router_solicitations=0 >/dev/null || return 1
		ip -n "$ns" link set lo up || return 1
	done
	# No multicast snooping: without an MLD querier in the lab it would
	# only make neighbour discovery depend on reports having been seen.
	ip -n "$LAB_NS_SW" link add br0 type bridge stp_state 0 forward_delay 0 \
		mcast_snooping 0 || return 1
	# One veth pair per host, its switch end a bridge port.
	for port in "srv:$LAB_NS_SRV:$LAB_IF_SRV" "legit:$LAB_NS_LEGIT:$LAB_IF_LEGIT" \
		"atk:$LAB_NS_ATK:$LAB_IF_ATK"; do
		IFS=: read -r name ns ifname <<<"$port"
		ip -n "$LAB_NS_SW" link add "p-$name" type veth peer name "$ifname" netns "$ns" ||
			return 1
		# A port is no host: no IPv6 of its own (no MLD, link-local, ..
		# from it onto the host's veth).
		in_ns "$LAB_NS_SW" sysctl -qw "net.ipv6.conf.p-$name.disable_ipv6=1" || return 1
		ip -n "$LAB_NS_SW" link set "p-$name" master br0 up || return 1
	done
	ip -n "$LAB_NS_SW" link set br0 up || return 1
	ip -n "$LAB_NS_SRV" addr add "$LAB_SRV/24" dev "$LAB_IF_SRV" || return 1
	ip -n "$LAB_NS_SRV" addr add "$LAB_SRV6/48" dev "$LAB_IF_SRV" nodad || return 1
	{
		for ((i = 2; i <= 9; i++)); do
			echo "addr add $LAB_NET.$i/24 dev $LAB_IF_LEGIT"
		done
		echo "addr add $LAB_LEGIT6/48 dev $LAB_IF_LEGIT nodad"
		echo "addr add $LAB_LEGIT6_NEW/48 dev $LAB_IF_LEGIT nodad"
	} | ip -n "$LAB_NS_LEGIT" -batch - || return 1
	{
		for ((i = 100; i < 100 + LAB_ATTACKERS; i++)); do
			echo "addr add $LAB_NET.$i/24 dev $LAB_IF_ATK"
		done
		for i in "${LAB_ATK6[@]}"; do
			echo "addr add $i/48 dev $LAB_IF_ATK nodad"
		done
	} | ip -n "$LAB_NS_ATK" -batch - || return 1
	ip -n "$LAB_NS_SRV" link set "$LAB_IF_SRV" up || return 1
	ip -n "$LAB_NS_LEGIT" link set "$LAB_IF_LEGIT" up || return 1
	ip -n "$LAB_NS_ATK" link set "$LAB_IF_ATK" up || return 1
	for ((i = 0; i < 50; i++)); do
		_lab_link_up && return 0
		sleep 0.1
	done
	_lab_err "lab links not up after 5 s"
	return 1
}

# lab_gateway_up: an upstream router for the server: 10.77.X.254 on the
# switch's bridge, and the server's default route through it. Not part of
# lab_up: without it the server has no route to addresses outside the lab,
# so the kernel drops a SYN from such an address before it queues it (no
# route for the SYN-ACK). A spoofed flood (random sources) meets a server
# that has a default route; with this one its SYN-ACKs go to the router,
# which does not forward them: they go nowhere, as on the Internet. lab_down
# removes it with the namespaces.
lab_gateway_up() {
	ip -n "$LAB_NS_SW" addr add "$LAB_GW/24" dev br0 || return 1
	ip -n "$LAB_NS_SW" link set br0 up || return 1
	# The router forwards nothing (a fresh namespace has ip_forward = 0):
	# say so, rather than depend on a default.
	in_ns "$LAB_NS_SW" sysctl -qw net.ipv4.ip_forward=0 || return 1
	ip -n "$LAB_NS_SRV" route replace default via "$LAB_GW" dev "$LAB_IF_SRV" || return 1
}

# ------------------------------------------------------------------ postfix

_lab_locked() {
	# _lab_locked CMD...: CMD under the lab lock: parallel labs edit one main.cf.
	(
		flock -w 30 9 || { _lab_err "cannot lock $LAB_LOCK"; exit 1; }
		"$@"
	) 9>>"$LAB_LOCK"
}

_lab_alt_dirs() {
	postconf -c "$LAB_SYS_POSTFIX" -h alternate_config_directories 2>/dev/null | tr ', ' '\n' |
		grep -v '^$' || true
}

# The first line of a main.cf the lab had to create (see _lab_register_unlocked).
LAB_MAINCF_MARK="# Created by smtpwall's scripts/lab.sh"

_lab_register_unlocked() {
	local -a dirs
	local d

	if [ ! -e "$LAB_SYS_POSTFIX/main.cf" ]; then
		# Postfix installed with "No configuration" has no main.cf, yet
		# `postfix -c DIR` wants DIR listed in it. The file made here keeps
		# the system's own instance (should it start) off the network, and
		# goes with the last lab.
		cat >"$LAB_SYS_POSTFIX/main.cf" <<-EOF || return 1
		$LAB_MAINCF_MARK for its private Postfix instances:
		# Postfix was installed without a configuration, and 'postfix -c DIR'
		# needs DIR in alternate_config_directories here. Removed by
		# 'scripts/lab.sh down' with the last lab.
		compatibility_level = 3.6
		master_service_disable = inet
		EOF
	fi
	mapfile -t dirs < <(_lab_alt_dirs)
	for d in "${dirs[@]}"; do
		[ "$d" = "$LAB_PF_DIR" ] && return 0
	done
	dirs+=("$LAB_PF_DIR")
	postconf -c "$LAB_SYS_POSTFIX" -e "alternate_config_directories = ${dirs[*]}"
}

_lab_unregister_unlocked() {
	local -a dirs keep=()
	local d

	[ -f "$LAB_SYS_POSTFIX/main.cf" ] || return 0
	mapfile -t dirs < <(_lab_alt_dirs)
	for d in "${dirs[@]}"; do
		[ "$d" = "$LAB_PF_DIR" ] || keep+=("$d")
	done
	[ "${#keep[@]}" -eq "${#dirs[@]}" ] && return 0
	if [ "${#keep[@]}" -gt 0 ]; then
		postconf -c "$LAB_SYS_POSTFIX" -e "alternate_config_directories = ${keep[*]}"
	elif [ "$(head -n 1 "$LAB_SYS_POSTFIX/main.cf")" = "$LAB_MAINCF_MARK for its private Postfix instances:" ]; then
		rm -f "$LAB_SYS_POSTFIX/main.cf"
	else
		# The system's main.cf as it was before the first lab.
		postconf -c "$LAB_SYS_POSTFIX" -X alternate_config_directories
	fi
}

# lab_postfix_setup: the private instance's config, queue, data and log.
lab_postfix_setup() {
	local users="" u

	command -v postfix >/dev/null || { _lab_err "postfix is missing: scripts/install-deps.sh"; return 1; }
	[ -d "$LAB_SYS_POSTFIX" ] || { _lab_err "$LAB_SYS_POSTFIX is missing: reinstall postfix"; return 1; }
	mkdir -p "$LAB_PF_DIR" "$LAB_PF_QUEUE" "$LAB_PF_DATA" || return 1
	# Postfix's daemons run as postfix and chdir into the queue under the lab dir.
	chmod 0755 "$LAB_DIR" "$LAB_PF_DIR" "$LAB_PF_QUEUE" || return 1
	chown root:root "$LAB_PF_QUEUE" || return 1
	chown postfix:postfix "$LAB_PF_DATA" && chmod 0700 "$LAB_PF_DATA" || return 1
	for u in "${LAB_USERS[@]}"; do
		users+="$u=$u, "
	done
	cat >"$LAB_PF_DIR/main.cf" <<-EOF || return 1
	# smtpwall lab $LAB_ID: a private Postfix instance in netns $LAB_NS_SRV,
	# written by scripts/lab.sh; removed by 'scripts/lab.sh down --id $LAB_ID'.
	compatibility_level = 3.6
	queue_directory = $LAB_PF_QUEUE
	data_directory = $LAB_PF_DATA
	meta_directory = $LAB_SYS_POSTFIX
	mail_owner = postfix
	setgid_group = postdrop

	# There is no syslog in the namespace.
	maillog_file = $LAB_MAILLOG
	maillog_file_prefixes = $LAB_DIR

	myhostname = mx.lab.test
	mydomain = lab.test
	myorigin = lab.test
	mydestination = lab.test
	inet_interfaces = $LAB_SRV, [$LAB_SRV6]
	inet_protocols = ipv4, ipv6
	# Only the host itself, over either protocol: lab clients (legit or
	# not) are trusted for nothing, they send to local users.
	mynetworks = 127.0.0.0/8, [::1]/128
	smtpd_banner = \$myhostname ESMTP smtpwall lab
	smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
	biff = no
	smtputf8_enable = no

	# A few real users; others get 550 5.1.1 (what a harvest finds out).
	local_recipient_maps = inline:{ ${users%, } }
	alias_maps =
	alias_database =
	# Accepted mail (250 after DATA) is queued, then delivered to discard.
	local_transport = discard:lab.test
	default_transport = discard:lab.test
	relay_transport = discard:lab.test

	# Nothing to look up in a namespace without DNS: a reverse lookup of
	# every client would delay every greeting by the resolver's timeout.
	smtpd_peername_lookup = no
	smtp_dns_support_level = disabled

	# The scarce resource the attack is after: smtpd processes. Postfix's
	# stock smtpd_timeout is \${stress?{10}:{300}}s; the lab pins 300 s so
	# that an idle session holds its process as long as an unstressed
	# server lets it.
	default_process_limit = $LAB_PROCESS_LIMIT
	smtpd_timeout = $LAB_SMTPD_TIMEOUT
	EOF
	if [ -n "$LAB_SMTPD_JUNK_LIMIT" ]; then
		echo "smtpd_junk_command_limit = $LAB_SMTPD_JUNK_LIMIT" >>"$LAB_PF_DIR/main.cf" ||
			return 1
	fi
	if [ -n "$LAB_SMTPD_HARD_ERROR_LIMIT" ]; then
		echo "smtpd_hard_error_limit = $LAB_SMTPD_HARD_ERROR_LIMIT" >>"$LAB_PF_DIR/main.cf" ||
			return 1
	fi
	if [ -n "$LAB_GREET_PAUSE_HOSTS" ]; then
		local h
		: >"$LAB_PF_DIR/greet_pause.cidr" || return 1
		for h in $LAB_GREET_PAUSE_HOSTS; do
			echo "$LAB_NET.$h/32 sleep 1" >>"$LAB_PF_DIR/greet_pause.cidr" || return 1
		done
		cat >>"$LAB_PF_DIR/main.cf" <<-EOF || return 1
		smtpd_delay_reject = no
		smtpd_client_restrictions = check_client_access cidr:$LAB_PF_DIR/greet_pause.cidr
		EOF
	fi
	# No chroot (the lab dirs are not set up for it), no postscreen: plain
	# smtpd on port 25, and the postlog service for maillog_file.
	cat >"$LAB_PF_DIR/master.cf" <<-'EOF' || return 1
	# smtpwall lab: service type  private unpriv  chroot  wakeup  maxproc command
	smtp       inet        n       -       n       -       -       smtpd
	pickup     unix        n       -       n       60      1       pickup
	cleanup    unix        n       -       n       -       0       cleanup
	qmgr       unix        n       -       n       300     1       qmgr
	rewrite    unix        -       -       n       -       -       trivial-rewrite
	bounce     unix        -       -       n       -       0       bounce
	defer      unix        -       -       n       -       0       bounce
	trace      unix        -       -       n       -       0       bounce
	verify     unix        -       -       n       -       1       verify
	flush      unix        n       -       n       1000?   0       flush
	proxymap   unix        -       -       n       -       -       proxymap
	proxywrite unix        -       -       n       -       1       proxymap
	showq      unix        n       -       n       -       -       showq
	error      unix        -       -       n       -       -       error
	retry      unix        -       -       n       -       -       error
	discard    unix        -       -       n       -       -       discard
	anvil      unix        -       -       n       -       1       anvil
	scache     unix        -       -       n       -       1       scache
	postlog    unix-dgram  n       -       n       -       1       postlogd
	EOF
	: >"$LAB_MAILLOG" || return 1
	if [ "$LAB_SUBMISSION" = 1 ]; then
		_lab_submission_setup || return 1
	fi
	_lab_locked _lab_register_unlocked || return 1
}

# _lab_submission_setup: 587 and 465 with TLS and Dovecot SASL, the policy hook.
_lab_submission_setup() {
	local d=$LAB_DOVECOT_DIR u

	command -v dovecot >/dev/null || { _lab_err "dovecot is missing: scripts/install-deps.sh"; return 1; }
	command -v openssl >/dev/null || { _lab_err "openssl is missing: scripts/install-deps.sh"; return 1; }
	mkdir -p "$d/run" "$d/state" || return 1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj /CN=mx.lab.test -keyout "$LAB_DIR/tls.key" -out "$LAB_DIR/tls.crt" \
		>"$LAB_DIR/openssl.log" 2>&1 || { _lab_err "openssl: $(cat "$LAB_DIR/openssl.log")"; return 1; }
	chmod 0600 "$LAB_DIR/tls.key" || return 1
	: >"$d/users"
	for u in "${LAB_SASL_USERS[@]}"; do
		echo "$u:{PLAIN}pw-$u" >>"$d/users"
	done
	chmod 0640 "$d/users" && chgrp dovecot "$d/users" || return 1
	cat >"$d/dovecot.conf" <<-EOF || return 1
	# smtpwall lab $LAB_ID: Dovecot for SASL only (no IMAP/POP3)
	base_dir = $d/run
	state_dir = $d/state
	instance_name = smtpwall-lab-$LAB_ID
	protocols = none
	log_path = $d/dovecot.log
	ssl = no
	auth_mechanisms = plain login
	disable_plaintext_auth = no
	passdb {
	  driver = passwd-file
	  args = username_format=%u $d/users
	}
	userdb {
	  driver = static
	  args = uid=nobody gid=nogroup home=/nonexistent
	}
	service auth {
	  unix_listener $LAB_PF_QUEUE/private/auth {
	    mode = 0660
	    user = postfix
	    group = postfix
	  }
	}
	service anvil {
	  chroot =
	}
	EOF
	cat >>"$LAB_PF_DIR/main.cf" <<-EOF || return 1

	# Submission (LAB_SUBMISSION=1): TLS, Dovecot SASL, smtpwall's policy service.
	smtpd_tls_cert_file = $LAB_DIR/tls.crt
	smtpd_tls_key_file = $LAB_DIR/tls.key
	smtpd_tls_security_level = may
	smtpd_sasl_type = dovecot
	smtpd_sasl_path = private/auth
	smtpd_policy_service_default_action = DUNNO
	smtpd_policy_service_timeout = 10s
	lab_policy = check_policy_service unix:private/smtpwall
	lab_submission_rcpt = \$lab_policy, permit_sasl_authenticated, reject
	EOF
	cat >>"$LAB_PF_DIR/master.cf" <<-'EOF' || return 1
	tlsmgr     unix        -       -       n       1000?   1       tlsmgr
	submission inet        n       -       n       -       -       smtpd
	  -o syslog_name=postfix/submission
	  -o smtpd_tls_security_level=encrypt
	  -o smtpd_sasl_auth_enable=yes
	  -o smtpd_tls_auth_only=yes
	  -o smtpd_recipient_restrictions=$lab_submission_rcpt
	  -o smtpd_end_of_data_restrictions=$lab_policy
	smtps      inet        n       -       n       -       -       smtpd
	  -o syslog_name=postfix/smtps
	  -o smtpd_tls_wrappermode=yes
	  -o smtpd_sasl_auth_enable=yes
	  -o smtpd_recipient_restrictions=$lab_submission_rcpt
	  -o smtpd_end_of_data_restrictions=$lab_policy
	EOF
}

# lab_dovecot_start: the lab's Dovecot (SASL) in the server namespace, after Postfix made private/.
lab_dovecot_start() {
	local i

	[ "$LAB_SUBMISSION" = 1 ] || return 0
	if ! lab_in_server dovecot -c "$LAB_DOVECOT_DIR/dovecot.conf" >"$LAB_DIR/dovecot-start.log" 2>&1; then
		_lab_err "dovecot failed to start: $(cat "$LAB_DIR/dovecot-start.log" "$LAB_DOVECOT_DIR/dovecot.log" 2>/dev/null)"
		return 1
	fi
	for ((i = 0; i < 50; i++)); do
		[ -S "$LAB_PF_QUEUE/private/auth" ] && return 0
		sleep 0.1
	done
	_lab_err "dovecot's auth socket did not appear: $(cat "$LAB_DOVECOT_DIR/dovecot.log" 2>/dev/null)"
	return 1
}

lab_dovecot_stop() {
	local pid

	[ -f "$LAB_DOVECOT_DIR/run/master.pid" ] || return 0
	pid=$(cat "$LAB_DOVECOT_DIR/run/master.pid" 2>/dev/null) || return 0
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
	rm -f "$LAB_DOVECOT_DIR/run/master.pid"
	return 0
}

# Every postfix command runs in the server namespace: elsewhere the address
# in inet_interfaces is not local, and postfix gives up (logging why to a
# syslog that is not there).
lab_postfix_running() {
	[ -e "/run/netns/$LAB_NS_SRV" ] &&
		lab_in_server postfix -c "$LAB_PF_DIR" status >/dev/null 2>&1
}

# lab_postfix_start: Postfix's master in the server namespace.
lab_postfix_start() {
	local out=$LAB_DIR/postfix-start.log

	# postfix forks the master, which keeps the namespace the command ran in.
	if ! lab_in_server postfix -c "$LAB_PF_DIR" start >"$out" 2>&1; then
		_lab_err "postfix -c $LAB_PF_DIR start failed:"
		cat "$out" >&2
		return 1
	fi
	lab_wait_smtp 20 && lab_dovecot_start
}

# lab_postfix_stop: master and every smtpd, at once (sessions are not worth
# waiting for in a lab).
lab_postfix_stop() {
	local i

	lab_dovecot_stop
	lab_postfix_running || return 0
	lab_in_server postfix -c "$LAB_PF_DIR" abort >/dev/null 2>&1 || true
	for ((i = 0; i < 100; i++)); do
		lab_postfix_running || break
		sleep 0.1
	done
	# Children that were busy with a client when the master went.
	_lab_kill_ns "$LAB_NS_SRV"
}

lab_postfix_restart() {
	lab_postfix_stop && lab_postfix_start
}

# _lab_greets ADDR: one 220 from the server at ADDR, asked from its own namespace.
_lab_greets() {
	# shellcheck disable=SC2016 # the inner script expands its own $1
	lab_in_server timeout 3 bash -c '
		exec 3<>"/dev/tcp/$1/25" || exit 1
		IFS= read -r -t 2 line <&3 || exit 1
		printf "QUIT\r\n" >&3
		[[ $line == 220* ]]' _ "$1" 2>/dev/null
}

# lab_wait_smtp [TIMEOUT_S]: until the server answers 220 on port 25, over
# IPv4 and IPv6.
lab_wait_smtp() {
	local limit=${1:-20} end

	end=$((SECONDS + limit))
	while [ "$SECONDS" -lt "$end" ]; do
		_lab_greets "$LAB_SRV" && _lab_greets "$LAB_SRV6" && return 0
		sleep 0.2
	done
	_lab_err "no 220 from $LAB_SRV:25 and [$LAB_SRV6]:25 within $limit s; maillog:"
	tail -n 20 "$LAB_MAILLOG" >&2 2>/dev/null || true
	return 1
}

# lab_smtpd_count: smtpd processes of the lab's Postfix.
lab_smtpd_count() {
	local pid n=0

	for pid in $(ip netns pids "$LAB_NS_SRV" 2>/dev/null); do
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = smtpd ] && n=$((n + 1))
	done
	echo "$n"
}

# ------------------------------------------------------------------ up, down

# _lab_kill_ns NS: end the processes left in one of the lab's
# namespaces: they were all started there for the lab.
_lab_kill_ns() {
	local ns=$1 pids i

	[ -e "/run/netns/$ns" ] || return 0
	pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
	[ -n "${pids// /}" ] || return 0
	# shellcheck disable=SC2086
	kill -TERM $pids 2>/dev/null || true
	for ((i = 0; i < 30; i++)); do
		pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
		[ -n "${pids// /}" ] || return 0
		sleep 0.1
	done
	# shellcheck disable=SC2086
	kill -KILL $pids 2>/dev/null || true
}

# lab_up: namespaces, Postfix configured and started.
lab_up() {
	if lab_exists; then
		_lab_err "lab $LAB_ID exists already ($LAB_DIR): scripts/lab.sh down --id $LAB_ID"
		return 1
	fi
	# mkdir, not -p: it fails if a lab (or anything) took the name meanwhile.
	mkdir -m 0755 "$LAB_DIR" || return 1
	{
		echo "LAB_ID=$LAB_ID"
		echo "LAB_NET=$LAB_NET"
		echo "LAB_NET6=$LAB_NET6"
		echo "LAB_ATTACKERS=$LAB_ATTACKERS"
		echo "LAB_PROCESS_LIMIT=$LAB_PROCESS_LIMIT"
	} >"$LAB_DIR/lab.env"
	lab_net_up || return 1
	lab_postfix_setup || return 1
	lab_postfix_start || return 1
}

# lab_down: everything lab_up (and whoever used the lab) made. Never fails.
lab_down() {
	local ns

	[ -n "${LAB_ID:-}" ] || return 0
	set +e
	if [ -f "$LAB_PF_DIR/main.cf" ]; then
		lab_postfix_stop
	fi
	# smtpwall, if a test or a person attached it: detach, then the pins.
	if [ -d "$LAB_BPFFS" ]; then
		if [ -x "$LAB_ROOT_DIR/build/smtpwall" ] && [ -f "$LAB_DIR/smtpwall.conf" ] &&
		   [ -e "/run/netns/$LAB_NS_SRV" ]; then
			timeout 10 nsenter --net="/run/netns/$LAB_NS_SRV" -- \
				"$LAB_ROOT_DIR/build/smtpwall" -c "$LAB_DIR/smtpwall.conf" detach \
				>/dev/null 2>&1
		fi
		rm -rf "$LAB_BPFFS"
	fi
	for ns in "$LAB_NS_SRV" "$LAB_NS_LEGIT" "$LAB_NS_ATK" "$LAB_NS_SW"; do
		_lab_kill_ns "$ns"
		[ -e "/run/netns/$ns" ] && ip netns del "$ns" 2>/dev/null
	done
	if command -v postconf >/dev/null; then
		_lab_locked _lab_unregister_unlocked
	fi
	rm -rf "$LAB_DIR"
	set -e
	return 0
}

lab_describe() {
	local sw=$LAB_ROOT_DIR/build/smtpwall load=$LAB_ROOT_DIR/build/tools/smtpload

	cat <<-EOF
	lab $LAB_ID is up; its files are in $LAB_DIR
	  server    netns $LAB_NS_SRV  interface $LAB_IF_SRV  $LAB_SRV/24  $LAB_SRV6/48
	            Postfix (config $LAB_PF_DIR): $LAB_SRV:25 and [$LAB_SRV6]:25,
	            process limit $LAB_PROCESS_LIMIT, smtpd_timeout $LAB_SMTPD_TIMEOUT,
	            smtpd_junk_command_limit ${LAB_SMTPD_JUNK_LIMIT:-stock}, smtpd_hard_error_limit ${LAB_SMTPD_HARD_ERROR_LIMIT:-stock},
	            users ${LAB_USERS[*]} @lab.test, log $LAB_MAILLOG
	  legit     netns $LAB_NS_LEGIT  $LAB_LEGIT .. $LAB_LEGIT_LAST (never seen: $LAB_LEGIT_NEW)
	            $LAB_LEGIT6 (never seen: $LAB_LEGIT6_NEW)
	  attackers netns $LAB_NS_ATK  $LAB_ATK_FIRST .. $LAB_ATK_LAST ($LAB_ATTACKERS addresses)
	            $LAB_ATK6_FIRST .. $LAB_ATK6_LAST (one a /64, the 4th group in hex)
	  switch    netns $LAB_NS_SW  bridge br0, ports p-srv p-legit p-atk
	try:
	  nsenter --net=/run/netns/$LAB_NS_LEGIT swaks --server $LAB_SRV --from a@legit.lab.test --to user@lab.test
	  nsenter --net=/run/netns/$LAB_NS_LEGIT $load legit --to $LAB_SRV --from $LAB_LEGIT --duration 30
	  nsenter --net=/run/netns/$LAB_NS_LEGIT $load legit --to $LAB_SRV6 --from $LAB_LEGIT6 --duration 30
	  nsenter --net=/run/netns/$LAB_NS_ATK $load idle --to $LAB_SRV \\
	      --from-range $LAB_ATK_FIRST-$LAB_ATK_LAST --per-source 2 --stage helo --duration 30
	  nsenter --net=/run/netns/$LAB_NS_ATK $load idle --to $LAB_SRV6 \\
	      --from-range $LAB_ATK6_FIRST-$LAB_ATK6_LAST --stage helo --drip-ms 2000 --duration 30
	  nsenter --net=/run/netns/$LAB_NS_SRV $sw -c CONF run    # [general] interfaces = $LAB_IF_SRV
	                                                 #   bpffs_dir = $LAB_BPFFS
	remove it: scripts/lab.sh down --id $LAB_ID
	EOF
}

lab_status() {
	local ns state

	echo "lab $LAB_ID ($LAB_DIR):"
	for ns in "$LAB_NS_SRV" "$LAB_NS_LEGIT" "$LAB_NS_ATK" "$LAB_NS_SW"; do
		if [ -e "/run/netns/$ns" ]; then
			echo "  netns $ns: $(ip netns pids "$ns" 2>/dev/null | wc -l) processes"
		else
			echo "  netns $ns: missing"
		fi
	done
	if [ -f "$LAB_PF_DIR/main.cf" ] && lab_postfix_running; then
		state="running, $(lab_smtpd_count) smtpd processes"
	else
		state="not running"
	fi
	echo "  Postfix on $LAB_SRV:25 and [$LAB_SRV6]:25: $state"
	echo "  IPv4: server $LAB_SRV, legit $LAB_LEGIT .. $LAB_LEGIT_LAST (never seen: $LAB_LEGIT_NEW), attackers $LAB_ATK_FIRST .. $LAB_ATK_LAST"
	echo "  IPv6: server $LAB_SRV6, legit $LAB_LEGIT6 (never seen: $LAB_LEGIT6_NEW), attackers $LAB_ATK6_FIRST .. $LAB_ATK6_LAST"
	if [ -d "$LAB_BPFFS" ]; then
		echo "  smtpwall pins: $LAB_BPFFS"
	fi
	if [ -s "$LAB_MAILLOG" ]; then
		echo "  last maillog lines:"
		tail -n 5 "$LAB_MAILLOG" | sed 's/^/    /'
	fi
}

# ------------------------------------------------------------------ CLI

_lab_ids() {
	local d

	for d in "${LAB_TMPDIR:-/tmp}"/smtpwall-lab-*; do
		[ -d "$d" ] && echo "${d##*/smtpwall-lab-}"
	done
	return 0
}

_lab_usage() {
	echo "usage: scripts/lab.sh up|down|status [--id ID]" >&2
	exit 2
}

_lab_help() {
	cat <<-'EOF'
	usage: scripts/lab.sh up|down|status [--id ID]
	  up      build the lab (IPv4 and IPv6), start Postfix, print how to use it
	  down    remove everything the lab made (the only lab, without --id)
	  status  what is up (all labs without --id)
	The top of scripts/lab.sh describes the topology, the addresses and the
	knobs (LAB_ATTACKERS, LAB_PROCESS_LIMIT, LAB_SMTPD_TIMEOUT, LAB_TMPDIR,
	LAB_SMTPD_JUNK_LIMIT, LAB_SMTPD_HARD_ERROR_LIMIT).
	EOF
}

lab_main() {
	local cmd=${1:-} id="" ids

	[ $# -ge 1 ] || _lab_usage
	case $cmd in
	-h | --help | help)
		_lab_help
		exit 0
		;;
	esac
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		--id)
			[ $# -ge 2 ] || _lab_usage
			id=$2
			shift 2
			;;
		--id=*)
			id=${1#--id=}
			shift
			;;
		*) _lab_usage ;;
		esac
	done
	if [ "$(id -u)" -ne 0 ]; then
		_lab_err "run as root (network namespaces, Postfix)"
		exit 1
	fi
	case $cmd in
	up)
		lab_init "${id:-swl$$}" || exit 2
		# A half-built lab is removed, not left behind.
		if ! lab_up; then
			[ -d "$LAB_DIR" ] && lab_down
			exit 1
		fi
		lab_describe
		;;
	down | status)
		if [ -z "$id" ]; then
			mapfile -t ids < <(_lab_ids)
			if [ "$cmd" = status ]; then
				[ "${#ids[@]}" -gt 0 ] || { echo "no lab is up"; exit 0; }
				for id in "${ids[@]}"; do
					lab_init "$id" && lab_status
				done
				exit 0
			fi
			if [ "${#ids[@]}" -eq 0 ]; then
				echo "no lab is up"
				exit 0
			fi
			if [ "${#ids[@]}" -ne 1 ]; then
				_lab_err "${#ids[@]} labs are up (${ids[*]:-none}): say which with --id"
				exit 2
			fi
			id=${ids[0]}
		fi
		lab_init "$id" || exit 2
		if [ "$cmd" = status ]; then
			lab_exists || { echo "lab $id is not up"; exit 1; }
			lab_status
		else
			lab_down
			echo "lab $id removed"
		fi
		;;
	*) _lab_usage ;;
	esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	lab_main "$@"
fi
