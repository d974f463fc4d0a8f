#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Install every Debian package that smtpwall's build, tests, bench and demo
# need. Idempotent: packages already present are left alone.
set -euo pipefail

PKGS=(
	# build
	make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config
	libinih-dev libsqlite3-dev linux-libc-dev libmaxminddb-dev mmdb-bin
	libnl-3-dev libnl-route-3-dev libevent-dev libsystemd-dev
	# tests and bench; fuzzing (libFuzzer); the man pages' lint
	libcmocka-dev iproute2 jq util-linux procps xdp-tools perl
	clang-14 libclang-rt-14-dev mandoc man-db
	# the journal reader's tests write journal files from the export format
	systemd-journal-remote
	# the lab (scripts/lab.sh): a real MTA, SMTP and packet tools
	postfix swaks hping3
	# the submission lab: real SASL (Dovecot), TLS test certificates
	dovecot-core openssl ca-certificates
	# the policy bench's comparison
	postfwd
	# the mail-log comparison (tests/bench/bench_maillog.sh): fail2ban, its
	# inotify backend (a Recommends, not pulled by --no-install-recommends)
	# and its nftables ban action, run inside the lab's server namespace
	fail2ban python3-pyinotify nftables
	# monitoring: a real Prometheus and promtool (metrics, rules, the dashboard's queries), curl
	prometheus curl
)

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: run as root (apt-get install)" >&2
	exit 1
fi

missing=()
for p in "${PKGS[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#PKGS[@]} packages present"
	exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Before apt-get: Postfix would ask which mail setup to make. The lab runs
# private instances (postfix -c DIR), so the system's gets no configuration.
echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
