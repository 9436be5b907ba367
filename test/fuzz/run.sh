#!/usr/bin/env bash
# test/fuzz/run.sh: builds the libFuzzer harness of the rule parser and
# evaluator (ASan + UBSan, no PostgreSQL), runs the limit cases, replays the
# seed corpus, then fuzzes for FUZZ_SECONDS (default 60).  TAP output.
# Run from the repository root.  Longer runs: FUZZ_SECONDS=1800 bash test/fuzz/run.sh
# New inputs go to a temporary copy of the corpus; copy any crash reproducer
# into test/fuzz/corpus by hand after fixing it.
set -u
cd "$(dirname "$0")/../.."
seconds="${FUZZ_SECONDS:-60}"
work="$(mktemp -d /tmp/tagscrm-fuzz.XXXXXX)"
trap 'rm -rf "$work"' EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; [ -n "${2:-}" ] && sed 's/^/# /' "$2" | tail -30; }
check() {   # description, log, command... (passes when the command succeeds)
	local what="$1" log="$2"; shift 2
	if "$@" >"$log" 2>&1; then ok "$what"; else notok "$what" "$log"; fi
}
bin="$work/rule_fuzz"
CC="${CC:-clang}"
# the standard-C core of the rule language (see src/rule.h)
core="src/rule_vocabulary.c src/rule_arena.c src/rule_lex.c src/rule_parse.c src/rule_check.c
	src/rule_measure.c src/rule_print.c src/rule_eval.c"

# Limit cases: each input file, and the line its verbose run must print.
rep() { awk -v s="$1" -v n="$2" 'BEGIN { for (i = 0; i < n; i++) printf "%s", s }'; }
seqjoin() { awk -v p="$1" -v sep="$2" -v n="$3" 'BEGIN { for (i = 0; i < n; i++) printf "%s%s%d", (i ? sep : ""), p, i }'; }
cases=()
add_case() {   # name, expected output line; the input comes on stdin (not a pipe: cases+= must stay here)
	cat >"$work/case-$1"
	cases+=("$1"$'\t'"$2")
}
add_case paren-100k "ERROR 54000 at -1: rule is too long" < <({ rep '(' 100000; printf "has_tag('x')"; rep ')' 100000; })
add_case one-mb "ERROR 54000 at -1: rule is too long" < <({ rep "has_tag('x') or " 65536; printf true; })
add_case parens-255 "OK has_tag('x')" < <({ rep '(' 255; printf "has_tag('x')"; rep ')' 255; })
add_case parens-256 "ERROR 54000 at 255: rule is nested too deeply" < <({ rep '(' 256; printf "has_tag('x')"; rep ')' 256; })
add_case not-100 "OK $(rep '(not ' 100)has_tag('x')$(rep ')' 100)" < <({ rep 'not ' 100; printf "has_tag('x')"; })
add_case not-101 "ERROR 54000 at 0: rule is nested too deeply" < <({ rep 'not ' 101; printf "has_tag('x')"; })
add_case not-15k "ERROR 54000 at 1020: rule is nested too deeply" < <({ rep 'not ' 15000; printf "has_tag('x')"; })
add_case tree-101 "ERROR 54000 at 915: rule is nested too deeply" < <({ rep '(' 101; printf "(has_tag('x') = true)"; rep ' = true)' 101; })
add_case or-10k "ERROR 54000 at -1: rule is too long" < <(seqjoin 'age = ' ' or ' 10000)
add_case or-4k "OK ((age = 0) or (age = 1) or" < <(seqjoin 'age = ' ' or ' 4000)
add_case in-25k "ERROR 54000 at 40004: rule is too complex" < <({ printf 'age in ('; rep '1,' 25000; printf '1)'; })
add_case zero-byte "ERROR 22021 at 7: rule contains a zero byte" < <(printf 'age = 1\0')
add_case empty "ERROR 42601 at 0: syntax error at end of rule" < <(printf '')
add_case comment "ERROR 42601 at 8: syntax error at or near \"--\"" < <(printf 'age > 1 -- x')
printf '%s\n' "${cases[@]}" >"$work/cases"
# the plan: the build, each limit case, the corpus replay and the fuzz run
echo "1..$((${#cases[@]} + 3))"
if ! command -v "$CC" >/dev/null; then
	for i in $(seq 1 $((${#cases[@]} + 3))); do echo "ok $i # SKIP $CC is not installed"; done
	exit 0
fi
check "harness builds with -fsanitize=fuzzer,address,undefined" "$work/build.log" \
	"$CC" -g -O1 -Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-Isrc test/fuzz/rule_fuzz.c $core -lm -o "$bin"
[ -x "$bin" ] || exit 1

while IFS=$'\t' read -r name want; do
	RULE_FUZZ_VERBOSE=1 "$bin" "$work/case-$name" >"$work/case-$name.log" 2>&1
	if [ $? = 0 ] && grep -qF -- "$want" "$work/case-$name.log"; then
		ok "limit case $name: ${want:0:60}"
	else
		echo "# expected: $want"; notok "limit case $name" "$work/case-$name.log"
	fi
done <"$work/cases"

check "replays the seed corpus ($(ls test/fuzz/corpus | wc -l) inputs) without a finding" "$work/replay.log" \
	"$bin" -runs=0 test/fuzz/corpus

mkdir -p "$work/corpus" "$work/artifacts"
cp test/fuzz/corpus/* "$work/corpus/"
if "$bin" "$work/corpus" -dict=test/fuzz/rule.dict -max_total_time="$seconds" -timeout=1 \
	-max_len=4096 -rss_limit_mb=1024 -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
	>"$work/fuzz.log" 2>&1; then
	ok "fuzzes ${seconds} s without a finding"
else
	notok "fuzzes ${seconds} s without a finding" "$work/fuzz.log"
	ls "$work/artifacts" | sed 's/^/# artifact: /'
fi
grep -E '^stat::(number_of_executed_units|peak_rss_mb)|cov:' "$work/fuzz.log" | tail -3 | sed 's/^/# /'
