#!/usr/bin/env bash
# test/bench/bi_bench.sh: what reading tagscrm's views costs a BI tool.
#
# On the demo shop (demo/sample.sql, demo/weeks.sql), reads each of the
# relations of test/drivers/relations.txt whole, as a role in tagscrm_reader,
# three ways in the same run: psql's COPY (the baseline: the server's own
# text output), the JDBC reader and the ODBC reader of test/drivers; and
# times the dashboard's source queries (examples/dashboard/sources).  Each
# figure is the best of RUNS (default 5) runs, with the load average beside
# it.  The driver figures include starting the program (a JVM: about half a
# second); "start" is that start with a one-row query, and "net" the figure
# without it.  Uses the cluster in PGHOST/PGPORT (the extension installed).
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS="${RUNS:-5}"
db=bi_bench reader=bi_bench_reader
jar=/usr/share/java/postgresql.jar
odbc_driver=/usr/lib/x86_64-linux-gnu/odbc/psqlodbcw.so
export PGTZ=UTC
tmp="$(mktemp -d)"; chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
dropdb --if-exists "$db"; q -c "DROP ROLE IF EXISTS $reader" >/dev/null
createdb "$db"
q -d "$db" <demo/sample.sql >/dev/null; q -d "$db" <demo/weeks.sql
# statistics, as autovacuum would gather them on a real database: the fresh
# demo data has none, and tag_usage then takes 0.5 s instead of 10 ms
q -d "$db" -c ANALYZE
q -d "$db" -c "CREATE ROLE $reader LOGIN IN ROLE tagscrm_reader" >/dev/null
javac -d "$tmp" test/drivers/ReadViews.java
gcc -O1 -o "$tmp/read_views_odbc" test/drivers/read_views_odbc.c -lodbc
conn="Driver=$odbc_driver;Server=$PGHOST;Port=${PGPORT:-5432};Database=$db;Uid=$reader;BoolsAsChar=0"

best() {   # command...: the best wall time of RUNS runs, in ms
	local b= t0 t1 ms i
	for i in $(seq "$RUNS"); do
		t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N)
		ms=$(( (t1 - t0) / 1000000 )); [ -z "$b" ] || [ "$ms" -lt "$b" ] && b=$ms
	done
	echo "$b"
}
load() { cut -d' ' -f1 /proc/loadavg; }
jdbc() { (cd "$tmp" && java -Duser.timezone=UTC -cp "$jar:$tmp" ReadViews "$PGHOST" "${PGPORT:-5432}" "$db" "$reader" <"$1"); }
odbc() { (cd "$tmp" && "$tmp/read_views_odbc" "$conn" <"$1"); }
printf 'one\tSELECT 1\n' >"$tmp/one.q"
js=$(best jdbc "$tmp/one.q"); os=$(best odbc "$tmp/one.q")
echo "start with a one-row query: JDBC $js ms, ODBC $os ms (load $(load))"
printf '%-22s %6s %9s %9s %9s %9s %9s %6s\n' relation rows "psql ms" "JDBC net" "ratio" "ODBC net" "ratio" load
for r in $(grep -v '^#' test/drivers/relations.txt) all; do
	if [ "$r" = all ]; then
		for x in $(grep -v '^#' test/drivers/relations.txt); do printf '%s\tSELECT * FROM tagscrm.%s\n' "$x" "$x"; done >"$tmp/q"
		rows=$(for x in $(grep -v '^#' test/drivers/relations.txt); do q -At -d "$db" -c "SELECT count(*) FROM tagscrm.$x"; done |
			awk '{ s += $1 } END { print s }')
		p=$(best psql -X -q -U "$reader" -d "$db" -c "$(cut -f2 "$tmp/q" | sed 's/^\(.*\)$/COPY (\1) TO STDOUT;/' | tr '\n' ' ')")
	else
		printf '%s\tSELECT * FROM tagscrm.%s\n' "$r" "$r" >"$tmp/q"
		rows=$(q -At -d "$db" -c "SELECT count(*) FROM tagscrm.$r")
		p=$(best psql -X -q -U "$reader" -d "$db" -c "COPY (SELECT * FROM tagscrm.$r) TO STDOUT")
	fi
	j=$(( $(best jdbc "$tmp/q") - js )); o=$(( $(best odbc "$tmp/q") - os ))
	ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf (b > 0 ? "%.1f" : "-"), a / b }'; }
	printf '%-22s %6s %9s %9s %9s %9s %9s %6s\n' "$r" "$rows" "$p" "$j" "$(ratio "$j" "$p")" "$o" "$(ratio "$o" "$p")" "$(load)"
done
echo
echo "the dashboard's source queries (examples/dashboard/sources/tagscrm), through psql:"
for f in examples/dashboard/sources/tagscrm/*.sql; do
	printf '%-28s %6s ms  (load %s)\n' "$(basename "$f" .sql)" "$(best psql -X -q -U "$reader" -d "$db" -o /dev/null -f "$f")" "$(load)"
done
q -c "DROP DATABASE $db" -c "DROP ROLE $reader" >/dev/null
