#!/usr/bin/env bash
# Every example of the manual runs, and shows what it really prints.
#
# For README.md and each docs/*.md, in order: the ```sql blocks of the page
# run one after the other in one psql session (-v ON_ERROR_STOP=1), in a
# fresh database of their own, from the root of the tree (so that paths such
# as test/fixtures/... resolve).  A ```text block that directly follows a
# ```sql block (blank lines between are allowed) is the output that block
# prints: psql's own aligned output, compared line by line (trailing blanks
# and blank lines at either end ignored).  A block whose first line is
#   -- in the database that cron.database_name names
# needs pg_cron, which can only be created there: it runs in that database,
# on its own (skipped when the server does not load pg_cron).
# Then, per page, every relative link (and the heading it points at) and every
# path of the tree written in backquotes must exist, and source file names (src/...) appear only in
# docs/development.md.  Last, the demo (demo/sample.sql) is loaded and each
# figure it prints is recomputed in plain SQL (test/docs/demo_check.sql).
#
# TAP output: the plan first, then one line per block, page and demo check.
# Needs PGHOST/PGPORT (and PGUSER) of a cluster with tagscrm installed, and a
# superuser (the examples pin the clock with tagscrm.clock_override).
# DOCS_SHOW=1 prints what each block printed (to write a ```text block).
set -u
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root" || exit 1
tmp="$(mktemp -d)"
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
cron_marker='-- in the database that cron.database_name names'

pages=(README.md)
for f in docs/*.md; do [ -e "$f" ] && pages+=("$f"); done

# Splits a page into $tmp/<i>.script (the blocks with a marker before each),
# $tmp/<i>.<k>.expected (a block's shown output), $tmp/<i>.<k>.cron (a
# pg_cron block) and $tmp/<i>.<k>.line (where the block starts); prints the
# number of blocks.
extract() {   # page, index
	awk -v dir="$tmp" -v i="$2" -v marker="$cron_marker" '
		function flush_sql() { close(script); if (cron) close(cronfile) }
		BEGIN { script = dir "/" i ".script"; printf "" > script; n = 0; state = "out"; after_sql = 0 }
		state == "sql" && /^```[[:space:]]*$/ { state = "out"; after_sql = 1; next }
		state == "text" && /^```[[:space:]]*$/ { state = "out"; after_sql = 0; close(expected); next }
		state == "sql" {
			if (first && index($0, marker) == 1) { cron = 1; cronfile = dir "/" i "." n ".cron" }
			first = 0
			if (cron) print > cronfile; else print > script
			next
		}
		state == "text" { print > expected; next }
		state == "other" { if (/^```[[:space:]]*$/) state = "out"; next }
		/^```sql[[:space:]]*$/ {
			n++; state = "sql"; first = 1; cron = 0; after_sql = 0
			print "\\echo @@docs-block " n > script
			print NR > (dir "/" i "." n ".line"); close(dir "/" i "." n ".line")
			next
		}
		/^```text[[:space:]]*$/ && after_sql { state = "text"; expected = dir "/" i "." n ".expected"; printf "" > expected; next }
		/^```/ { state = "other"; after_sql = 0; next }
		/^[[:space:]]*$/ { next }
		{ after_sql = 0 }
		END { print "\\echo @@docs-block end" > script; close(script); print n }
	' "$1"
}

# Shown output and printed output, compared without trailing blanks and
# without blank lines at either end.
normalize() { sed -e 's/[[:space:]]*$//' "$1" | awk 'NF { for (; blank > 0; blank--) print ""; print; seen = 1; next } seen { blank++ }'; }

# The relative links and backquoted paths of a page that do not exist, and
# source file names where they do not belong.
missing_paths() {   # page
	local page="$1" dir target
	dir="$(dirname "$page")"
	grep -oE '\]\([^)[:space:]]+\)' "$page" | sed 's/^](//; s/)$//' | grep -vE '^[a-z]+:' | sort -u | while read -r target; do
		file="${target%%#*}"; anchor=; [ "$file" != "$target" ] && anchor="${target#*#}"
		if [ -z "$file" ]; then file="$page"; else file="$dir/$file"; fi
		if [ ! -e "$file" ]; then echo "link to $target"; continue; fi
		# a heading whose GitHub anchor this is (lower case, punctuation dropped, blanks as -)
		[ -z "$anchor" ] || awk '/^```/ { code = !code } !code && /^#+ / { sub(/^#+ +/, ""); print }' "$file" |
			tr 'A-Z' 'a-z' | sed 's/[^a-z0-9 _-]//g; s/ /-/g' | grep -qx -- "$anchor" || echo "link to $target: no such heading"
	done
	grep -oE '`(\.ci|demo|docs|expected|sql|src|test|tools)/[^` ]*`|`(Makefile|CHANGELOG\.md|README\.md|tagscrm\.control)`' "$page" |
		tr -d '`' | sort -u | while read -r target; do
			compgen -G "$target" >/dev/null || [ -e "$target" ] || echo "path $target"
		done
	if [ "$page" != docs/development.md ] && grep -nE '\bsrc/' "$page" >/dev/null; then
		grep -nE '\bsrc/' "$page" | sed 's/^/source file name at line /'
	fi
}

q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

# the plan: every block, every page, the demo load and its checks
total=0
for i in "${!pages[@]}"; do
	blocks[i]=$(extract "${pages[i]}" "$i")
	total=$((total + blocks[i] + 1))
done
demo_checks=$(grep -c '^-- check:' test/docs/demo_check.sql)
total=$((total + 1 + 1 + demo_checks))
echo "1..$total"

n=0
failed=0
pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; [ -n "${2:-}" ] && [ -s "$2" ] && sed 's/^/# /' "$2" | head -30; return 0; }
cron_db=$(q -At -d postgres -c 'SHOW cron.database_name' 2>/dev/null)

for i in "${!pages[@]}"; do
	page="${pages[i]}"
	db="docs_$(basename "$page" .md | tr 'A-Z.-' 'a-z__')"
	dropdb --if-exists "$db" 2>/dev/null
	createdb "$db"
	q -d "$db" -f "$tmp/$i.script" >"$tmp/$i.out" 2>"$tmp/$i.err"
	for ((k = 1; k <= blocks[i]; k++)); do
		what="$page block $k (line $(cat "$tmp/$i.$k.line"))"
		if [ -e "$tmp/$i.$k.cron" ]; then
			if [ -z "$cron_db" ]; then
				n=$((n + 1)); echo "ok $n - $what # SKIP the server does not load pg_cron"; continue
			fi
			made=
			if [ -z "$(q -At -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$cron_db'")" ]; then
				createdb "$cron_db" && made=1
			fi
			q -d "$cron_db" -f "$tmp/$i.$k.cron" >"$tmp/$i.$k.out" 2>"$tmp/$i.$k.err"
			status=$?
			[ -n "$made" ] && dropdb "$cron_db"
			[ -n "${DOCS_SHOW:-}" ] && { echo "# --- $what printed:"; sed 's/^/#| /' "$tmp/$i.$k.out"; }
			if [ $status != 0 ]; then fail "$what" "$tmp/$i.$k.err"; continue; fi
		else
			# the block ran to its end if the next marker was printed
			next=$((k + 1)); [ $k = "${blocks[i]}" ] && next=end
			if ! grep -qx "@@docs-block $next" "$tmp/$i.out"; then
				if grep -qx "@@docs-block $k" "$tmp/$i.out"; then fail "$what" "$tmp/$i.err"
				else fail "$what (not run: an earlier block failed)"; fi
				continue
			fi
			awk -v k="$k" -v next_="$next" '$0 == "@@docs-block " k { on = 1; next } $0 == "@@docs-block " next_ { on = 0 } on' \
				"$tmp/$i.out" >"$tmp/$i.$k.out"
			[ -n "${DOCS_SHOW:-}" ] && { echo "# --- $what printed:"; sed 's/^/#| /' "$tmp/$i.$k.out"; }
		fi
		if [ -e "$tmp/$i.$k.expected" ] &&
		   ! diff <(normalize "$tmp/$i.$k.expected") <(normalize "$tmp/$i.$k.out") >"$tmp/$i.$k.diff"; then
			fail "$what prints what the page shows" "$tmp/$i.$k.diff"
		else
			pass "$what"
		fi
	done
	dropdb --if-exists "$db"
	missing_paths "$page" >"$tmp/$i.paths"
	if [ -s "$tmp/$i.paths" ]; then fail "$page: links and paths exist" "$tmp/$i.paths"; else pass "$page: links and paths exist"; fi
done

# The tables of docs/rules.md's "Measures" section are the rule vocabulary
# (tagscrm.rule_vocabulary(), which the parser and the evaluator read): the
# same names, kinds, types and time dependence; and every aggregate function
# is named there.
doc_vocabulary() {
	awk -F'|' '/^### Measures/ { on = 1; next } /^### / { on = 0 }
		on && /^\| [a-z]/ && !/^\| (kind|source) \|/ {
			kind = $2; gsub(/ /, "", kind); type = $4; sub(/^ */, "", type); sub(/[ (].*/, "", type)
			td = ($5 ~ /yes/) ? "t" : "f"
			if (kind == "order" || kind == "event") kind = kind " field"
			n = split($3, names, ",")
			for (i = 1; i <= n; i++) { w = names[i]; gsub(/[` ]/, "", w); sub(/\(.*/, "", w); print kind "|" w "|" type "|" td }
		}' docs/rules.md
	awk '/^### Measures/ { on = 1; next } /^### / { on = 0 } on' docs/rules.md |
		grep -oE '`(count|exists|sum|min|max|avg|has_event)[(`]' | tr -d '`(' | sort -u | sed 's/^/aggregate|/'
}
dropdb --if-exists docs_vocabulary 2>/dev/null
createdb docs_vocabulary
q -At -d docs_vocabulary -c 'CREATE EXTENSION tagscrm' \
	-c "SELECT kind || '|' || name || '|' || value_type || '|' || CASE WHEN time_dependent THEN 't' ELSE 'f' END
	      FROM tagscrm.rule_vocabulary() WHERE kind <> 'aggregate'" \
	-c "SELECT 'aggregate|' || name FROM tagscrm.rule_vocabulary() WHERE kind = 'aggregate'" \
	2>&1 | LC_ALL=C sort >"$tmp/vocabulary.db"
dropdb --if-exists docs_vocabulary
if diff "$tmp/vocabulary.db" <(doc_vocabulary | LC_ALL=C sort) >"$tmp/vocabulary.diff"; then
	pass "docs/rules.md lists the rule vocabulary"
else
	fail "docs/rules.md lists the rule vocabulary (< tagscrm.rule_vocabulary(), > the page)" "$tmp/vocabulary.diff"
fi

# the demo, and each figure it prints recomputed in plain SQL
dropdb --if-exists docs_demo 2>/dev/null
createdb docs_demo
if q -d docs_demo -f demo/sample.sql >"$tmp/demo.out" 2>"$tmp/demo.err"; then pass "demo/sample.sql loads and prints"; else fail "demo/sample.sql loads and prints" "$tmp/demo.err"; fi
q -d docs_demo -f test/docs/demo_check.sql >"$tmp/check.out" 2>"$tmp/check.err"
ran=0
while IFS='|' read -r name result; do
	[ -n "$name" ] || continue
	ran=$((ran + 1))
	if [ "$result" = t ]; then pass "demo: $name"; else fail "demo: $name" "$tmp/check.err"; fi
done <"$tmp/check.out"
for ((; ran < demo_checks; ran++)); do fail "demo check not run" "$tmp/check.err"; done
dropdb --if-exists docs_demo

[ "$n" = "$total" ] || { echo "# ran $n checks, planned $total"; exit 1; }
[ "$failed" = 0 ]
