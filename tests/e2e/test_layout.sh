#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The source layout keeps its shape: user/ in folders by concern, each
# folder depending only on the ones below it (core < config < store <
# kernel < geo < daemon < cli), no dependency cycle between the objects
# (a function of one file calling into a file that calls back), and every
# header compiling on its own (make headers). The BPF headers (bpf/*.h)
# and the parts of include/smtpwall.h (include/smtpwall/*.h) are each in
# the order data flows, a header including only the ones before it; the
# shared logic is free of libc and of BPF helpers; bpf/parse.h also
# compiles natively, as the fuzz harness builds it. Needs the build (make
# tests).

set -euo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$dir/../.." && pwd)
. "$dir/tap.sh"
cd "$root"

BUILD=${BUILD:-build}
LAYERS=(core config store kernel geo accounts maillog metrics daemon cli)

rank_of() {
	local i

	for i in "${!LAYERS[@]}"; do
		[ "${LAYERS[i]}" = "$1" ] && { echo "$i"; return 0; }
	done
	echo -1
}

# 1. Only main.c, the example config and the folders at user/'s top.
stray=$(find user -maxdepth 1 -type f ! -name main.c ! -name smtpwall.conf.example | sort)
tap_is "user/ holds only main.c, the example config and folders" "$stray" ""

folders=$(find user -mindepth 1 -maxdepth 1 -type d ! -name man -printf '%f\n' | sort)
unknown=""
for f in $folders; do
	[ "$(rank_of "$f")" -ge 0 ] || unknown+="$f "
done
tap_is "every folder of user/ has its place in the layers (${LAYERS[*]})" "$unknown" ""

# 2. Includes go down the layers, never up.
declare -A home=()
for h in user/*/*.h; do
	home[$(basename "$h")]=$(basename "$(dirname "$h")")
done
bad=""
for src in user/*/*.c user/*/*.h; do
	from=$(basename "$(dirname "$src")")
	while read -r inc; do
		to=${home[$inc]:-}
		[ -n "$to" ] || continue	# include/, the build's skeletons, the system
		if [ "$(rank_of "$to")" -gt "$(rank_of "$from")" ]; then
			bad+="$src includes $inc ($to is above $from)"$'\n'
		fi
	done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$src")
done
tap_is "no include goes up a layer" "${bad%$'\n'}" ""

# 3. No cycle between objects: who defines what each object needs.
objs=$(find "$BUILD/user" -name '*.o' | sort)
if [ -z "$objs" ]; then
	tap_fail "the objects are built" "no objects under $BUILD/user: run make tests"
else
	declare -A def=()
	while read -r obj sym; do
		def[$sym]=$obj
	done < <(for o in $objs; do nm --defined-only -g "$o" | awk -v o="$o" '$2 ~ /[TDBR]/ { print o, $3 }'; done)
	edges=$(for o in $objs; do
		nm --undefined-only "$o" | awk '{ print $2 }' | while read -r sym; do
			d=${def[$sym]:-}
			if [ -n "$d" ] && [ "$d" != "$o" ]; then
				echo "${d#"$BUILD"/user/} ${o#"$BUILD"/user/}"
			fi
		done
	done | sort -u)
	out=$(tsort <<<"$edges" 2>&1 >/dev/null) || true
	tap_is "no dependency cycle between the objects of user/ ($(wc -l <<<"$edges") links)" "$out" ""
fi

# 4. Self-contained headers.
check "every header compiles on its own (make headers)" make -s BUILD="$BUILD" headers

# 5. Headers in the order data flows: each includes only those before it.
# $1: the folder, $2: how its headers name each other ("" or "smtpwall/"),
# then the order.
check_order() {
	local dir=$1 prefix=$2 bad="" unknown="" h name inc i
	shift 2
	local order=("$@")
	declare -A rank=()

	for i in "${!order[@]}"; do
		rank[${order[i]}]=$i
	done
	for h in "$dir"/*.h; do
		name=$(basename "$h" .h)
		[ -n "${rank[$name]:-}" ] || { unknown+="$h "; continue; }
		while read -r inc; do
			inc=${inc#"$prefix"}
			inc=${inc%.h}
			[ -n "${rank[$inc]:-}" ] || continue	# maps/, the umbrella, the system
			if [ "${rank[$inc]}" -ge "${rank[$name]}" ]; then
				bad+="$h includes $inc.h, which comes after it"$'\n'
			fi
		done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$h")
	done
	tap_is "every header of $dir/ has its place in the order (${order[*]})" "$unknown" ""
	tap_is "the headers of $dir/ include only the ones before them" "${bad%$'\n'}" ""
}
check_order bpf "" parse clock guard geo lists penalty country handshake emergency source \
	session smtp client server
check_order include/smtpwall smtpwall/ common verdict config sources sessions lists geo stats \
	events daemon abi source_key list_verdict gcra tuple_hash pending source_state geo_walk

# 6. The umbrella holds every part; the parts pull in neither libc nor BPF helpers.
missing=""
for h in include/smtpwall/*.h; do
	grep -q "^#include \"smtpwall/$(basename "$h")\"" include/smtpwall.h || missing+="$h "
done
tap_is "include/smtpwall.h includes every part of include/smtpwall/" "$missing" ""
foreign=$(grep -HnE '^#include <|bpf_[a-z_]+\(' include/smtpwall/*.h |
	grep -vE '#include <(linux/types|stdbool)\.h>' || true)
tap_is "include/smtpwall/ uses no libc header and no BPF helper" "$foreign" ""

# 7. bpf/parse.h natively, with the compiler and include path of the fuzz harness.
check "bpf/parse.h compiles natively on its own" \
	bash -c "echo '#include \"parse.h\"' | ${FUZZ_CC:-clang-14} -std=gnu11 -Wall -Wextra -Werror -Iinclude -Ibpf -fsyntax-only -x c -"

tap_done
