#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The man pages stay true: smtpwall(8) and smtpwall.conf(5) in user/man/
# are clean mdoc and render, smtpwall(8) documents every command and
# option of `smtpwall --help`, smtpwall.conf(5) documents exactly the keys
# of the configuration's key table (each under its section) with the
# defaults of user/smtpwall.conf.example, and the example config names no
# key the table lacks. Needs build/smtpwall, mandoc and man; no namespaces.
#
# How the page is read: under a `.Ss` whose title holds "[section]" (the
# first word: "[country home]" is section country), each top-level
# `.It Cm key` of its `.Bl` is a key; inside an entry, a "Default:" text
# line followed by one macro line (`.Ql 30s .`) gives the default.

set -euo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$dir/../.." && pwd)
. "$dir/tap.sh"
cd "$root"

# Each can be pointed elsewhere, to see a check fail on a copy.
SMTPWALL=${SMTPWALL:-build/smtpwall}
MAN8=${MAN8:-user/man/smtpwall.8}
MAN5=${MAN5:-user/man/smtpwall.conf.5}
EXAMPLE=${EXAMPLE:-user/smtpwall.conf.example}
CONFIG_SRC=${CONFIG_SRC:-}
TMPD=$(mktemp -d /tmp/smtpwall-man.XXXXXX)
trap 'rm -rf "$TMPD"' EXIT

# lines TEXT: TEXT without its empty lines, one item a line, for diagnostics.
lines() {
	grep -v '^$' <<<"$1" || true
}

# ------------------------------------------------------------ both pages

for page in "$MAN8" "$MAN5"; do
	if [ ! -f "$page" ]; then
		tap_fail "$page: mandoc -Tlint -W warning reports nothing" "no file $page"
		tap_fail "$page: man -l renders it" "no file $page"
		continue
	fi
	out=$(mandoc -Tlint -W warning "$page" 2>&1) || true
	tap_is "$page: mandoc -Tlint -W warning reports nothing" "$out" ""

	rc=0
	out=$(MANPAGER=cat PAGER=cat MANWIDTH=80 man -l "$page" 2>"$TMPD/man.err") || rc=$?
	if [ "$rc" -eq 0 ] && [ -n "$out" ] && grep -q '^NAME' <<<"$out"; then
		tap_ok "$page: man -l renders it (exit 0, NAME section shown)"
	else
		tap_fail "$page: man -l renders it (exit 0, NAME section shown)" \
			"exit $rc, $(wc -l <<<"$out") lines"$'\n'"$(head -n 20 "$TMPD/man.err")"
	fi
done

# ------------------------------------------------------------ smtpwall(8)

rc=0
help=$("$SMTPWALL" --help 2>&1) || rc=$?
if [ "$rc" -ne 0 ] || [ -z "$help" ]; then
	bail "$SMTPWALL --help prints the usage" "exit $rc (build it with make)"$'\n'"$help"
fi

# The COMMANDS section of smtpwall(8).
commands_sh=$(awk '/^\.Sh /{ on = ($0 == ".Sh COMMANDS") } on' "$MAN8")

# Each "  cmd ..." line of the usage: the command, and a subcommand when the
# second word is one (geo lookup, geo status), not an argument or option.
missing=""
n_cmds=0
while IFS= read -r line; do
	# "  SYNOPSIS (33 columns) SUMMARY": the synopsis only, not the summary's words
	read -r cmd second _ <<<"${line:2:33}"
	sub=""
	[[ $second =~ ^[a-z]+$ ]] && sub=$second
	n_cmds=$((n_cmds + 1))
	if [ -n "$sub" ]; then
		pat="^\.It Cm $cmd( Cm)? $sub( |$)"
	else
		pat="^\.It Cm $cmd( |$)"
	fi
	grep -qE "$pat" <<<"$commands_sh" || missing+="$cmd${sub:+ $sub}"$'\n'
done < <(grep -E '^  [a-z]' <<<"$help")
if [ "$n_cmds" -eq 0 ]; then
	tap_fail "every command of smtpwall --help has an .It Cm entry under COMMANDS" \
		"no command found in the usage:"$'\n'"$help"
else
	tap_is "every command of smtpwall --help ($n_cmds) has an .It Cm entry under COMMANDS" \
		"$(lines "$missing")" ""
fi

# Every option of the usage (-c, -i, --dry-run, --json, ...) as `Fl`.
missing=""
n_opts=0
while read -r opt; do
	n_opts=$((n_opts + 1))
	grep -qE "(^\.| )Fl ${opt#-}( |$)" "$MAN8" || missing+="$opt"$'\n'
done < <(grep -oE '(^|[[ ])--?[a-z][a-z-]*' <<<"$help" | sed 's/^[[ ]*//' | sort -u)
if [ "$n_opts" -eq 0 ]; then
	tap_fail "every option of smtpwall --help appears as Fl in $MAN8" "no option found in the usage"
else
	tap_is "every option of smtpwall --help ($n_opts) appears as Fl in $MAN8" "$(lines "$missing")" ""
fi

# ------------------------------------------------------------ the key table

# The config source, wherever the layout puts it (user/config.c, user/config/config.c):
# tracked or not yet, and present in the work tree (a move may be half staged).
src=$CONFIG_SRC
if [ -z "$src" ]; then
	src=$(git ls-files --cached --others --exclude-standard -- 'user/*config.c' 'user/**/config.c' \
		2>/dev/null | awk -F/ '$NF == "config.c"' | sort -u | while read -r f; do
		[ -f "$f" ] && echo "$f"
	done)
fi
[ -n "$src" ] || src=$(find user -name config.c -type f | sort)
if [ "$(wc -l <<<"$src")" -ne 1 ] || [ ! -f "$src" ]; then
	bail "the config source is found" "want one user/.../config.c, got: '${src}'"
fi

# section.key of every `{ "section", "key", K_...` line, and of the keys of a
# [country ...] section (the country_keys array, apart from the table
# because the section name carries the country).
table=$(
	{
		sed -nE 's/^[[:space:]]*\{[[:space:]]*"([a-z_]+)",[[:space:]]*"([a-z0-9_]+)",[[:space:]]*K_.*/\1.\2/p' "$src"
		awk '/country_keys\[\][[:space:]]*=/ { on = 1 } on { print } on && /};/ { exit }' "$src" |
			grep -oE '"[a-z0-9_]+"' | tr -d '"' | sed 's/^/country./'
	} | sort -u
)
if ! grep -q '^general\.' <<<"$table" || ! grep -q '^country\.action$' <<<"$table"; then
	bail "the key table is read from $src" "got:"$'\n'"$table"
fi
note "key table: $src, $(wc -l <<<"$table") keys"

# The keys smtpwall.conf(5) documents, as section.key, and their defaults
# as section.key<TAB>value.
page_keys() {
	awk '
	function strip(s) { gsub(/\\&/, "", s); return s }
	/^\.Sh / { section = ""; depth = 0; key = ""; next }
	/^\.Ss / {
		key = ""; depth = 0; section = ""
		t = strip($0)
		if (match(t, /\[[a-z]+/))
			section = substr(t, RSTART + 1, RLENGTH - 1)
		next
	}
	section == "" { next }
	/^\.Bl / { depth++; next }
	/^\.El/ { if (depth == 1) key = ""; depth--; next }
	depth == 1 && /^\.It / {
		key = ""; want = 0
		if ($2 == "Cm") {
			key = section "." strip($3)
			print "key\t" key
		}
		next
	}
	key != "" && want {
		want = 0
		if ($0 ~ /^\.[A-Z][a-z] /) {
			v = strip($0)
			sub(/^\.[A-Z][a-z] /, "", v)
			sub(/ [.,;:]$/, "", v)
			print "default\t" key "\t" v
		}
		next
	}
	key != "" && $0 == "Default:" { want = 1 }
	' "$MAN5"
}
parsed=$(page_keys)
documented=$(awk -F'\t' '$1 == "key" { print $2 }' <<<"$parsed" | sort -u)
defaults=$(awk -F'\t' '$1 == "default" { print $2 "\t" $3 }' <<<"$parsed")

tap_is "every key of the key table is documented in $MAN5 under its section" \
	"$(lines "$(comm -23 <(echo "$table") <(echo "$documented"))")" ""
tap_is "no key is documented in $MAN5 that the key table lacks" \
	"$(lines "$(comm -13 <(echo "$table") <(echo "$documented"))")" ""

# ------------------------------------------------------------ the example config

# section.key<TAB>commented (0 or 1)<TAB>line<TAB>value for every key of the
# example, commented out ("# key = value", ";key = value") or not.
example_keys() {
	awk '
	{ line = $0; commented = 0 }
	line ~ /^[#;]/ { commented = 1; sub(/^[#;][[:space:]]*/, "", line) }
	line ~ /^[[:space:]]*\[[^]]+\][[:space:]]*$/ {
		s = line
		gsub(/^[[:space:]]*\[|\][[:space:]]*$/, "", s)
		sub(/ .*/, "", s)		# [country home] is section country
		section = s
		next
	}
	line ~ /^[[:space:]]*[a-z][a-z0-9_]*[[:space:]]*=/ {
		k = line
		sub(/^[[:space:]]*/, "", k)
		v = k
		sub(/[[:space:]]*=.*/, "", k)
		sub(/^[^=]*=[[:space:]]*/, "", v)
		sub(/[[:space:]]+;.*$/, "", v)	# an inline comment
		sub(/[[:space:]]+$/, "", v)
		printf "%s.%s\t%d\t%d\t%s\n", section == "" ? "(none)" : section, k, commented, NR, v
	}
	' "$EXAMPLE"
}
example=$(example_keys)
unknown=$(awk -F'\t' -v ex="$EXAMPLE" 'NR == FNR { known[$0] = 1; next }
	!($1 in known) { print ex ":" $3 ": " $1 }' <(echo "$table") <(echo "$example"))
if [ -z "$example" ]; then
	tap_fail "every key of $EXAMPLE exists in the key table" "no key found in $EXAMPLE"
else
	tap_is "every key of $EXAMPLE ($(wc -l <<<"$example"), commented-out ones too) exists in the key table" \
		"$(lines "$unknown")" ""
fi

# The example sets every key it does not comment out to its default (the
# unit tests hold it to the code); the page must give the same.
n_set=$(awk -F'\t' '$2 == 0' <<<"$example" | wc -l)
wrong=$(awk -F'\t' -v ex="$EXAMPLE" -v man="$MAN5" '
	NR == FNR { if (!($1 in page)) page[$1] = $2; next }
	$2 == 0 && (!($1 in page) || page[$1] != $4) {
		printf "%s: %s:%d has \x27%s\x27, %s has %s\n", $1, ex, $3, $4, man,
			$1 in page ? "\x27" page[$1] "\x27" : "no Default: line"
	}' <(echo "$defaults") <(echo "$example"))
if [ "$n_set" -eq 0 ]; then
	tap_fail "$MAN5 gives the defaults of $EXAMPLE" "no key set in $EXAMPLE"
else
	tap_is "$MAN5 gives the defaults of $EXAMPLE ($n_set keys)" "$(lines "$wrong")" ""
fi

# ------------------------------------------------------------ the page's example

# The EXAMPLES config of smtpwall.conf(5) loads: `list bans` reads it and
# lists its [deny] entries (state and pins kept under $TMPD).
awk '/^\.Sh /{ on = ($0 == ".Sh EXAMPLES") } on && /^\.Ed/ { exit } on && lit { print } on && /^\.Bd -literal/ { lit = 1 }' \
	"$MAN5" | sed -e 's/\\&//g' -e 's/\\e/\\/g' >"$TMPD/example.conf"
printf '\n[general]\nbpffs_dir = %s/bpffs\nstate_dir = %s/state\n' "$TMPD" "$TMPD" >>"$TMPD/example.conf"
want_deny=$(awk '/^\[/ { s = $0 } s == "[deny]" && /^cidr[[:space:]]*=/ { sub(/^cidr[[:space:]]*=[[:space:]]*/, ""); print }' \
	"$TMPD/example.conf")
rc=0
out=$("$SMTPWALL" -c "$TMPD/example.conf" list bans 2>&1) || rc=$?
missing=""
for cidr in $want_deny; do
	awk -v c="$cidr" '$1 == c && $2 == "config" { found = 1 } END { exit !found }' <<<"$out" ||
		missing+="$cidr "
done
if [ "$rc" -eq 0 ] && [ -n "$want_deny" ] && [ -z "$missing" ]; then
	tap_ok "the EXAMPLES config of $MAN5 loads (list bans shows its [deny] entries)"
else
	tap_fail "the EXAMPLES config of $MAN5 loads (list bans shows its [deny] entries)" \
		"exit $rc; [deny] in the example: '${want_deny//$'\n'/ }'; not listed: '$missing'"$'\n'"$out"
fi

tap_done
