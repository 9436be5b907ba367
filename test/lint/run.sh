#!/usr/bin/env bash
# Static checks of the sources and of the installed catalog. TAP output.
set -u
cd "$(dirname "$0")/../.."
echo "1..8"   # the checks below
n=0
check() {   # description, command... (passes when the command succeeds)
	local what="$1"; shift
	n=$((n + 1))
	if out="$("$@" 2>&1)"; then echo "ok $n - $what"; else echo "not ok $n - $what"; printf '%s\n' "$out" | sed 's/^/# /' | head -20; fi
}
none() { ! grep -nE "$@"; }   # passes when the pattern is nowhere

script=$(ls tagscrm--*.sql 2>/dev/null | head -1)
[ -n "$script" ] || { make -s "tagscrm--$(sed -n "s/^default_version = '\(.*\)'/\1/p" tagscrm.control).sql"; script=$(ls tagscrm--*.sql | head -1); }
check "install script starts with the \\echo guard" grep -q '^\\echo Use "CREATE EXTENSION tagscrm"' "$script"
check "install script has no CREATE OR REPLACE" none -i 'create +or +replace' "$script"
check "update scripts have the \\echo guard" bash -c 'for f in src/updates/*.sql; do [ -e "$f" ] || continue; grep -q "^\\\\echo Use \"ALTER EXTENSION tagscrm UPDATE" "$f" || { echo "$f"; exit 1; }; done'
check "no banned C string functions" none -E '\b(strcpy|strcat|sprintf|gets|vsprintf)\(' src/*.c
check "every ereport has an errcode" perl test/lint/ereport_errcode.pl src/*.c
check "every CREATE FUNCTION/AGGREGATE/TABLE/VIEW/TYPE in the scripts has a COMMENT" bash -c '
	for obj in $(grep -oE "CREATE (FUNCTION|AGGREGATE|TABLE|VIEW|TYPE) @extschema@\.[a-z_0-9]+" '"$script"' | awk "{print \$3}" | sort -u); do
		grep -qE "COMMENT ON [A-Z]+ ${obj//./\\.}[ (]" '"$script"' || { echo "no comment: $obj"; exit 1; }
	done'
check "the SQL parts call each other only downstream; each table is defined in one part" perl test/lint/flow.pl
check "no unqualified objects of ours: every CREATE names @extschema@" none -E '^CREATE (FUNCTION|TABLE|VIEW|AGGREGATE|TYPE|INDEX [a-z_]+ ON) +[a-z_]+[ (]' src/*.sql
