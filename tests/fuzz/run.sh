#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Fuzz each harness for FUZZ_SECONDS on a scratch copy of its seed corpus
# (tests/fuzz/corpus/NAME: the committed corpus never grows by accident),
# then replay its regression inputs (tests/fuzz/regress/NAME), one at a time.
# Exits non-zero if any harness crashed, leaked, hung or ran out of memory,
# naming the input that did it; those found while fuzzing are kept under
# FUZZ_DIR/artifacts/NAME/.
#
#   tests/fuzz/run.sh [NAME...]     (default: every $FUZZ_DIR/fuzz_* built)
#
# FUZZ_SECONDS  per harness, default 60; 0: no fuzzing, only the seeds and
#               the regression inputs are run
# FUZZ_DIR      where make fuzz-build put the harnesses (default build/fuzz)
# FUZZ_FLAGS    more libFuzzer flags, e.g. -jobs=2 or -seed=1

set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
fuzz_src=$root/tests/fuzz
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_DIR=${FUZZ_DIR:-build/fuzz}
FUZZ_FLAGS=${FUZZ_FLAGS:-}
cd "$root" || exit 2

if ! [[ $FUZZ_SECONDS =~ ^[0-9]+$ ]]; then
	echo "run.sh: FUZZ_SECONDS=$FUZZ_SECONDS is not a number of seconds" >&2
	exit 2
fi

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	for bin in "$FUZZ_DIR"/fuzz_*; do
		[ -x "$bin" ] && [ -f "$bin" ] && names+=("${bin##*/fuzz_}")
	done
fi
if [ ${#names[@]} -eq 0 ]; then
	echo "run.sh: no harness in $FUZZ_DIR (make fuzz-build)" >&2
	exit 2
fi

scratch=$(mktemp -d /tmp/smtpwall-fuzz.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
failed=()

# stat NAME LOG: a libFuzzer statistic of -print_final_stats=1.
stat() {
	sed -n "s/^stat::$1: *//p" "$2" | tail -n 1
}

# The input a crashing run names ("Test unit written to PATH"), or "".
crash_input() {
	sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$1" | tail -n 1
}

for name in "${names[@]}"; do
	bin=$FUZZ_DIR/fuzz_$name
	corpus=$scratch/$name/corpus
	artifacts=$FUZZ_DIR/artifacts/$name
	log=$scratch/$name/fuzz.log
	dict=()

	if [ ! -x "$bin" ]; then
		echo "run.sh: $bin: not built (make fuzz-build)" >&2
		failed+=("$name")
		continue
	fi
	mkdir -p "$corpus" "$artifacts"
	if [ -d "$fuzz_src/corpus/$name" ]; then
		cp -R "$fuzz_src/corpus/$name/." "$corpus/"
	fi
	[ -f "$fuzz_src/$name.dict" ] && dict=(-dict="$fuzz_src/$name.dict")
	if [ "$FUZZ_SECONDS" -gt 0 ]; then
		limit=(-max_total_time="$FUZZ_SECONDS")
	else
		limit=(-runs=0)
	fi

	# -timeout: an input that runs 10 s is a hang, and fails like a crash.
	# shellcheck disable=SC2086 # FUZZ_FLAGS is a list of flags
	"$bin" "${limit[@]}" -timeout=10 -print_final_stats=1 "${dict[@]}" \
		-artifact_prefix="$artifacts/" $FUZZ_FLAGS "$corpus" >"$log" 2>&1
	rc=$?
	seeds=$(find "$fuzz_src/corpus/$name" -type f 2>/dev/null | wc -l)
	if [ "$rc" -ne 0 ]; then
		input=$(crash_input "$log")
		echo "run.sh: fuzz_$name failed (exit $rc) on ${input:-an input it did not write}; its log ends:"
		grep -v -e '^#[0-9]' -e '# Uses:' "$log" | tail -n 40
		[ -n "$input" ] && echo "run.sh: crashing input: $input"
		failed+=("$name")
		continue
	fi
	done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done_line")
	corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$done_line")
	echo "fuzz_$name: ${FUZZ_SECONDS} s, $(stat number_of_executed_units "$log") runs," \
		"$(stat average_exec_per_sec "$log") exec/s, cov ${cov:-?} ft ${ft:-?}," \
		"corpus ${corp:-?} inputs from $seeds seeds, peak rss $(stat peak_rss_mb "$log") MB"

	# The regression inputs, one by one: a failure names its file.
	replayed=0
	bad=0
	if [ -d "$fuzz_src/regress/$name" ]; then
		while IFS= read -r -d '' input; do
			replayed=$((replayed + 1))
			if ! "$bin" -timeout=10 "$input" >"$log" 2>&1; then
				echo "run.sh: fuzz_$name fails on regression input $input; its log ends:"
				grep -v '^INFO:' "$log" | tail -n 40
				echo "run.sh: crashing input: $input"
				bad=$((bad + 1))
			fi
		done < <(find "$fuzz_src/regress/$name" -type f ! -name '*.md' -print0 | sort -z)
	fi
	if [ "$bad" -gt 0 ]; then
		failed+=("$name")
	else
		echo "fuzz_$name: $replayed regression inputs replayed"
	fi
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "run.sh: failed: ${failed[*]}"
	exit 1
fi
exit 0
