#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The fuzz harnesses (tests/fuzz/README.md) build and hold: make fuzz-build
# into $BUILD/fuzz, then each harness fuzzed for FUZZ_SECONDS (default 10)
# on a copy of its seeds, and its regression inputs replayed
# (tests/fuzz/run.sh). One line per harness; a crash names the input.
# clang-14 and libFuzzer (libclang-rt-14-dev) are required, not optional:
# scripts/install-deps.sh installs them. No namespaces, no daemon.

set -euo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$dir/../.." && pwd)
. "$dir/tap.sh"
cd "$root"

BUILD=${BUILD:-build}
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
FUZZ_CC=${FUZZ_CC:-clang-14}
TMPD=$(mktemp -d /tmp/smtpwall-fuzz-test.XXXXXX)
trap 'rm -rf "$TMPD"' EXIT

harnesses=()
for src in tests/fuzz/fuzz_*.c; do
	name=${src##*/fuzz_}
	harnesses+=("${name%.c}")
done
note "harnesses: ${harnesses[*]}; ${FUZZ_SECONDS} s each"

# The toolchain first, so that its absence reads as what it is.
if ! command -v "$FUZZ_CC" >/dev/null 2>&1; then
	bail "$FUZZ_CC links a libFuzzer harness" \
		"$FUZZ_CC is not installed: scripts/install-deps.sh installs clang-14 and libclang-rt-14-dev"
fi
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }' \
	>"$TMPD/probe.c"
if ! out=$("$FUZZ_CC" -fsanitize=fuzzer,address,undefined "$TMPD/probe.c" -o "$TMPD/probe" 2>&1); then
	bail "$FUZZ_CC links a libFuzzer harness" \
		"libFuzzer or the sanitizers are missing (Debian: libclang-rt-14-dev, scripts/install-deps.sh):"$'\n'"$out"
fi

if ! make -j2 BUILD="$BUILD" FUZZ_CC="$FUZZ_CC" fuzz-build >"$TMPD/build.log" 2>&1; then
	bail "make fuzz-build builds ${#harnesses[@]} harnesses into $BUILD/fuzz" \
		"$(grep -E 'error|Error' "$TMPD/build.log" | head -n 20)"$'\n'"$(tail -n 10 "$TMPD/build.log")"
fi
tap_ok "make fuzz-build builds ${#harnesses[@]} harnesses into $BUILD/fuzz"

for name in "${harnesses[@]}"; do
	rc=0
	out=$(FUZZ_SECONDS=$FUZZ_SECONDS FUZZ_DIR=$BUILD/fuzz tests/fuzz/run.sh "$name" 2>&1) || rc=$?
	if [ "$rc" -eq 0 ]; then
		# "fuzz_x: 10 s, N runs, ..." and "fuzz_x: N regression inputs replayed", in one line.
		tap_ok "$(grep "^fuzz_$name: " <<<"$out" | sed "s/^fuzz_$name: //" | paste -sd ';' |
			sed "s/^/fuzz_$name: /; s/;/; /")"
	else
		tap_fail "fuzz_$name: no crash in ${FUZZ_SECONDS} s, regression inputs pass" "$out"
	fi
done

tap_done
