#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The source layout keeps its shape: user/ in folders by concern, each
# folder depending only on the ones below it (core < config < store <
# kernel < geo < daemon < cli), no dependency cycle between the objects
# (a function of one file calling into a file that calls back), and every
# header compiling on its own (make headers). Needs the build (make tests).

set -euo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$dir/../.." && pwd)
. "$dir/tap.sh"
cd "$root"

BUILD=${BUILD:-build}
LAYERS=(core config store kernel geo daemon cli)

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

tap_done
