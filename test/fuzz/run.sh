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

check "harness builds with -fsanitize=fuzzer,address,undefined" "$work/build.log" \
	"$CC" -g -O1 -Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-Isrc test/fuzz/rule_fuzz.c src/rule_parse.c src/rule_eval.c -lm -o "$bin"
if [ ! -x "$bin" ]; then echo "1..$n"; exit 1; fi

# Limit cases: each input file, and the line its verbose run must print.
python3 - "$work" <<'PY'
import sys
d = sys.argv[1]
cases = {
    "paren-100k": ("(" * 100000 + "has_tag('x')" + ")" * 100000, "ERROR 54000 at -1: rule is too long"),
    "one-mb": ("has_tag('x') or " * 65536 + "true", "ERROR 54000 at -1: rule is too long"),
    "parens-255": ("(" * 255 + "has_tag('x')" + ")" * 255, "OK has_tag('x')"),
    "parens-256": ("(" * 256 + "has_tag('x')" + ")" * 256, "ERROR 54000 at 255: rule is nested too deeply"),
    "not-100": ("not " * 100 + "has_tag('x')", "OK " + "(not " * 100 + "has_tag('x')" + ")" * 100),
    "not-101": ("not " * 101 + "has_tag('x')", "ERROR 54000 at 0: rule is nested too deeply"),
    "not-15k": ("not " * 15000 + "has_tag('x')", "ERROR 54000 at 1020: rule is nested too deeply"),
    "tree-101": ("(" * 101 + "(has_tag('x') = true)" + " = true)" * 101, "ERROR 54000 at 915: rule is nested too deeply"),
    "or-10k": (" or ".join("age = %d" % i for i in range(10000)), "ERROR 54000 at -1: rule is too long"),
    "or-4k": (" or ".join("age = %d" % i for i in range(4000)), "OK ((age = 0) or (age = 1) or"),
    "in-25k": ("age in (" + ",".join("1" for i in range(25000)) + ")", "ERROR 54000 at 40004: rule is too complex"),
    "zero-byte": ("age = 1\0", "ERROR 22021 at 7: rule contains a zero byte"),
    "empty": ("", "ERROR 42601 at 0: syntax error at end of rule"),
}
with open(d + "/cases", "w") as f:
    for name, (text, want) in cases.items():
        open(d + "/case-" + name, "wb").write(text.encode())
        f.write(name + "\t" + want + "\n")
PY
while IFS=$'\t' read -r name want; do
	RULE_FUZZ_VERBOSE=1 "$bin" "$work/case-$name" >"$work/case-$name.log" 2>&1
	if [ $? = 0 ] && grep -qF -- "$want" "$work/case-$name.log"; then
		ok "limit case $name: $want"
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
echo "1..$n"
