#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Run every suite (unit, BPF verdict, end-to-end) and print one summary line:
# "N passed, N failed". Each suite speaks TAP; cmocka is switched to TAP.
# Usage: tests/run.sh [unit|bpf|e2e]...   (default: all)
set -uo pipefail

cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
suites=("$@")
[ ${#suites[@]} -eq 0 ] && suites=(unit bpf e2e)

passed=0
failed=0
skipped=0
log_dir=$(mktemp -d /tmp/smtpwall-tests.XXXXXX)
trap 'rm -rf "$log_dir"' EXIT

# Count TAP lines of one suite's output; a suite that exits non-zero without
# a failing test line still counts as one failure (it crashed).
run_suite() {
	local name=$1
	shift
	local out="$log_dir/$(echo "$name" | tr '/ ' '__').tap"
	local rc ok notok skip

	echo "# --- $name"
	CMOCKA_MESSAGE_OUTPUT=TAP "$@" >"$out" 2>&1
	rc=$?
	cat "$out"
	ok=$(grep -cE '^ok [0-9]+' "$out" | tr -d ' ')
	skip=$(grep -cE '^ok [0-9]+.*# ?SKIP' "$out" | tr -d ' ')
	notok=$(grep -cE '^not ok [0-9]+' "$out" | tr -d ' ')
	ok=$((ok - skip))
	if [ "$rc" -ne 0 ] && [ "$notok" -eq 0 ]; then
		echo "not ok - $name exited with status $rc"
		notok=1
	fi
	passed=$((passed + ok))
	failed=$((failed + notok))
	skipped=$((skipped + skip))
}

for s in "${suites[@]}"; do
	case "$s" in
	unit | bpf)
		src_dir=tests/$s
		for src in "$src_dir"/test_*.c; do
			[ -e "$src" ] || continue
			bin="$BUILD/tests/$(basename "$src" .c)"
			run_suite "$s/$(basename "$bin")" "$bin"
		done
		;;
	e2e)
		for t in tests/e2e/test_*.sh; do
			[ -e "$t" ] || continue
			run_suite "e2e/$(basename "$t" .sh)" timeout 300 bash "$t"
		done
		;;
	*)
		echo "tests/run.sh: unknown suite $s (unit, bpf, e2e)" >&2
		exit 2
		;;
	esac
done

echo
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
