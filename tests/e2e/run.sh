#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the end-to-end tests as one TAP stream: every tests/e2e/test_*.sh (or
# the ones named: run.sh rate_limit ban ...), renumbered, each line tagged
# with its script. Exits non-zero if any test failed or a script crashed.

set -euo pipefail

dir=$(cd "$(dirname "$0")" && pwd)
per_script_timeout=${E2E_TIMEOUT:-120}
scripts=()

if [ $# -eq 0 ]; then
	scripts=("$dir"/test_*.sh)
else
	for name in "$@"; do
		name=${name#test_}
		name=${name%.sh}
		if [ ! -f "$dir/test_$name.sh" ]; then
			echo "run.sh: no test $dir/test_$name.sh" >&2
			exit 2
		fi
		scripts+=("$dir/test_$name.sh")
	done
fi

n=0
failed=0
bad_scripts=()
start=$(date +%s)

for script in "${scripts[@]}"; do
	name=$(basename "$script" .sh)
	t0=$(date +%s)
	echo "# --- $name"
	rc=unknown
	notok=0
	while IFS= read -r line; do
		if [[ $line =~ ^(not\ )?ok\ [0-9]+(.*)$ ]]; then
			n=$((n + 1))
			rest=${BASH_REMATCH[2]}
			if [ -n "${BASH_REMATCH[1]}" ]; then
				failed=$((failed + 1))
				notok=1
				echo "not ok $n - $name:${rest# -}"
			elif [[ $rest =~ ^\ *#\ *SKIP ]]; then
				echo "ok $n - $name $rest"
			else
				echo "ok $n - $name:${rest# -}"
			fi
		elif [[ $line =~ ^__rc=([0-9]+)$ ]]; then
			rc=${BASH_REMATCH[1]}
		elif [[ $line =~ ^1\.\.[0-9]+$ ]]; then
			: # one plan for the whole stream, at the end
		else
			echo "$line"
		fi
	done < <(
		# Last line: the exit status (set -e holds here too: no bare failure).
		st=0
		timeout --kill-after=10 "$per_script_timeout" bash "$script" 2>&1 || st=$?
		echo "__rc=$st"
	)
	if [ "$rc" != 0 ] && [ "$notok" -eq 0 ]; then
		n=$((n + 1))
		failed=$((failed + 1))
		echo "not ok $n - $name: exited with status $rc without a failing test"
	fi
	[ "$rc" = 0 ] || bad_scripts+=("$name")
	echo "# $name: $(( $(date +%s) - t0 )) s, exit $rc"
done

echo "1..$n"
echo "# e2e: $n tests, $failed failed, $(( $(date +%s) - start )) s"
if [ "${#bad_scripts[@]}" -gt 0 ]; then
	echo "# failing scripts: ${bad_scripts[*]}"
	exit 1
fi
exit 0
