#!/usr/bin/env bash
# test/segment_fuzz/run.sh: a SQL-level fuzzer of the segment expression
# language (src/segment.c uses palloc and SPI, so it cannot be built alone
# like the rule parser in test/fuzz).  In a fresh database with a library and
# nested saved segments (setup.sql): the limit cases with their exact
# SQLSTATEs (limits.sql), then FUZZ_COUNT inputs (default 3000; more while
# FUZZ_SECONDS have not passed) from seed FUZZ_SEED (default 14): valid
# expressions checked against plain SQL, rewrites that keep their answer,
# mutations, junk, inputs near the limits (fuzz.sql); then that the server
# is still up.  TAP output; needs PGHOST/PGPORT, as a superuser.
#   FUZZ_SEED=7 FUZZ_SECONDS=600 bash test/segment_fuzz/run.sh
#   FUZZ_VERBOSE=1 ...     prints each input (as a WARNING) before it runs
set -u
cd "$(dirname "$0")/../.."
seed="${FUZZ_SEED:-14}"
count="${FUZZ_COUNT:-3000}"
seconds="${FUZZ_SECONDS:-0}"
db=segment_fuzz
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# the checks below: 3 + the 45 lines of limits.sql + the 10 lines of fuzz.sql's report
planned=58
echo "1..$planned"
echo "# seed $seed, $count inputs, $seconds s (FUZZ_SEED, FUZZ_COUNT, FUZZ_SECONDS)"
n=0 failed_any=
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); failed_any=1; echo "not ok $n - $1"; [ -n "${2:-}" ] && sed 's/^/# /' "$2" | tail -20; }
q() { psql -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"; }
tap_lines() {   # name|expected or failures|...: limits (name|want|got) or the fuzz report (name|failed|checked|example)
	local kind="$1" file="$2" name a b rest
	while IFS='|' read -r name a b rest; do
		if [ "$kind" = limit ]; then
			if [ "$a" = "$b" ]; then ok "$name: $a"; else notok "$name: expected $a, got $b"; fi
		elif [ "$a" = 0 ]; then ok "$name ($b checked)"
		else notok "$name: $a of $b failed"; echo "#   first: $rest"; fi
	done <"$file"
}

dropdb --if-exists "$db" >/dev/null 2>&1
createdb "$db"
if q -f test/segment_fuzz/setup.sql >"$tmp/setup.log" 2>&1; then ok "the library, customers and nested segments load"
else notok "the library, customers and nested segments load" "$tmp/setup.log"; fi

q -f test/segment_fuzz/limits.sql >"$tmp/limits.txt" 2>"$tmp/limits.err"
tap_lines limit "$tmp/limits.txt"

start=$(date +%s)
PGOPTIONS="-c fuzz.verbose=$([ -n "${FUZZ_VERBOSE:-}" ] && echo on || echo off)" \
	q -v seed="$seed" -v count="$count" -v seconds="$seconds" -f test/segment_fuzz/fuzz.sql >"$tmp/fuzz.txt" 2>"$tmp/fuzz.err"
status=$?
[ -n "${FUZZ_VERBOSE:-}" ] && cat "$tmp/fuzz.err"
if [ $status = 0 ]; then ok "the fuzz run ends without an error ($(( $(date +%s) - start )) s)"
else notok "the fuzz run ends without an error (seed $seed; FUZZ_VERBOSE=1 shows the input)" "$tmp/fuzz.err"; fi
tap_lines report "$tmp/fuzz.txt"

# the server survived: a new connection answers
if [ "$(psql -X -At -d "$db" -c 'SELECT 1' 2>&1)" = 1 ]; then ok "the server is up and answers SELECT 1"
else notok "the server is up and answers SELECT 1"; fi
[ -s "$tmp/limits.err" ] && sed 's/^/# limits: /' "$tmp/limits.err" | head -10
dropdb --if-exists "$db" >/dev/null 2>&1
[ "$n" = "$planned" ] || echo "# ran $n checks, $planned planned"
[ "$n" = "$planned" ] && [ -z "$failed_any" ]
