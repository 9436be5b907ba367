#!/usr/bin/env bash
# What BI tools read, read through their drivers: every relation of
# test/drivers/relations.txt (all that tagscrm_reader may read) of the demo
# shop (demo/sample.sql and demo/weeks.sql), as a login role that is a member
# of tagscrm_reader, through
#   - JDBC (pgjdbc, /usr/share/java/postgresql.jar: Metabase, Tableau, DBeaver),
#     a small Java program compiled here (test/drivers/ReadViews.java), and
#   - ODBC (unixODBC and psqlODBC's psqlodbcw.so: Excel, Power BI), a small C
#     program compiled here (test/drivers/read_views_odbc.c), DSN-less;
# both over the cluster's Unix socket.  Per relation and driver: each column's
# reported type equals test/drivers/columns.txt, and every row equals psql's
# COPY of the same ordered query, value for value, with only the conversions
# the ODBC driver makes by definition undone (a timestamp comes as
# SQL_TYPE_TIMESTAMP in the session's time zone, UTC here, without the
# offset; a boolean as 1 or 0).  demo/weeks.sql pins the clock for the
# database, so figures that depend on the time (recency, churn) read the same
# in every session.
# TAP output; needs PGHOST/PGPORT (and PGUSER) of a cluster with tagscrm, as a
# superuser.  A driver that is not installed is skipped (tools/setup.sh
# installs them).
set -u
cd "$(dirname "$0")/../.."
tmp="$(mktemp -d)"
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
db=bi_drivers
reader=bi_drivers_reader
jar=/usr/share/java/postgresql.jar
odbc_driver=/usr/lib/x86_64-linux-gnu/odbc/psqlodbcw.so
export PGTZ=UTC   # psql and psqlODBC (libpq); java gets -Duser.timezone=UTC

relations=($(grep -v '^#' test/drivers/relations.txt))
echo "1..$((8 + 4 * ${#relations[@]}))"
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; [ -s "$tmp/out" ] && sed 's/^/# /' "$tmp/out" | head -20; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }
check() {   # description, command...
	local what="$1"; shift
	if "$@" >"$tmp/out" 2>&1; then ok "$what"; else not_ok "$what"; fi
}
q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

dropdb --if-exists "$db" >/dev/null 2>&1
q -c "DROP ROLE IF EXISTS $reader" >/dev/null 2>&1
createdb "$db"
check "load the demo shop (demo/sample.sql, demo/weeks.sql)" \
	bash -c "psql -X -q -v ON_ERROR_STOP=1 -d $db <demo/sample.sql >/dev/null && psql -X -q -v ON_ERROR_STOP=1 -d $db <demo/weeks.sql"
# demo/weeks.sql pins the clock for the database: every session reads the same
check "a login role in tagscrm_reader; the clock pinned for its sessions" \
	bash -c "psql -X -q -v ON_ERROR_STOP=1 -d $db -c 'CREATE ROLE $reader LOGIN IN ROLE tagscrm_reader' &&
	         test \"\$(psql -X -At -U $reader -d $db -c 'SELECT tagscrm.now()')\" = '2026-07-27 03:00:00+00'"
# relations.txt is exactly what the reader may read
q -At -d "$db" -c "SELECT c.relname FROM pg_catalog.pg_class c
	WHERE c.relnamespace = 'tagscrm'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
	  AND pg_catalog.has_table_privilege('tagscrm_reader', c.oid, 'SELECT') ORDER BY 1" >"$tmp/granted"
printf '%s\n' "${relations[@]}" | LC_ALL=C sort >"$tmp/listed"
LC_ALL=C sort -o "$tmp/granted" "$tmp/granted"
check "test/drivers/relations.txt lists every relation tagscrm_reader may read, and only those" \
	diff "$tmp/granted" "$tmp/listed"
# every relation's columns are in columns.txt, in order
q -At -F ' ' -d "$db" -c "SELECT c.relname, a.attname FROM pg_catalog.pg_class c
	JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
	WHERE c.relnamespace = 'tagscrm'::regnamespace AND c.relname = ANY (string_to_array('${relations[*]}', ' '))
	ORDER BY c.relname COLLATE pg_catalog.\"C\", a.attnum" >"$tmp/columns"
check "test/drivers/columns.txt has every column of every relation, in order" \
	diff "$tmp/columns" <(grep -v '^#' test/drivers/columns.txt | awk '{ print $1, $2 }' | LC_ALL=C sort -s -k1,1)

# the queries: every column, ordered by all of them; the reference is psql's COPY
: >"$tmp/queries"
for r in "${relations[@]}"; do
	cols=$(awk -v r="$r" '$1 == r { n++ } END { print n }' test/drivers/columns.txt)
	order=$(seq -s, 1 "$cols")
	printf '%s\tSELECT * FROM tagscrm.%s ORDER BY %s\n' "$r" "$r" "$order" >>"$tmp/queries"
	q -U "$reader" -d "$db" -c "COPY (SELECT * FROM tagscrm.$r ORDER BY $order) TO STDOUT" >"$tmp/$r.psql"
done

# JDBC
jdbc=ready
if ! command -v javac >/dev/null || ! command -v java >/dev/null || [ ! -r "$jar" ]; then
	jdbc="javac, java or $jar missing (Debian: openjdk-17-jdk-headless libpostgresql-jdbc-java)"
	skip "$jdbc"
else
	mkdir "$tmp/jdbc"
	check "compile the JDBC reader (javac)" javac -d "$tmp/jdbc" test/drivers/ReadViews.java || jdbc="it did not compile"
fi
if [ "$jdbc" = ready ]; then
	(cd "$tmp" && java -Duser.timezone=UTC -cp "$jar:$tmp/jdbc" ReadViews "$PGHOST" "${PGPORT:-5432}" "$db" "$reader" <"$tmp/queries") \
		>"$tmp/out" 2>&1 && ok "read every relation through JDBC" || { not_ok "read every relation through JDBC"; jdbc="reading failed"; }
else
	skip "JDBC: $jdbc"
fi

# ODBC
odbc=ready
if ! command -v gcc >/dev/null || [ ! -r /usr/include/sql.h ] || [ ! -r "$odbc_driver" ]; then
	odbc="gcc, unixODBC's headers or $odbc_driver missing (Debian: gcc unixodbc-dev odbc-postgresql)"
	skip "$odbc"
else
	check "compile the ODBC reader (gcc, unixODBC)" \
		gcc -Wall -Wextra -Werror -O1 -o "$tmp/read_views_odbc" test/drivers/read_views_odbc.c -lodbc || odbc="it did not compile"
fi
if [ "$odbc" = ready ]; then
	# DSN-less: the driver by its file, the server by its socket directory
	conn="Driver=$odbc_driver;Server=$PGHOST;Port=${PGPORT:-5432};Database=$db;Uid=$reader;BoolsAsChar=0"
	(cd "$tmp" && "$tmp/read_views_odbc" "$conn" <"$tmp/queries") >"$tmp/out" 2>&1 &&
		ok "read every relation through ODBC" || { not_ok "read every relation through ODBC"; odbc="reading failed"; }
else
	skip "ODBC: $odbc"
fi

# per relation: the types each driver reports, and the rows
for r in "${relations[@]}"; do
	rows=$(wc -l <"$tmp/$r.psql")
	if [ "$jdbc" = ready ]; then
		check "$r: JDBC column types as in columns.txt" \
			diff <(awk -v r="$r" '$1 == r { print $2 "\t" $3 }' test/drivers/columns.txt) "$tmp/$r.jdbc.types"
		check "$r: $rows rows through JDBC equal psql's" diff "$tmp/$r.psql" "$tmp/$r.jdbc.rows"
	else
		skip "$r: JDBC: $jdbc"; skip "$r: JDBC: $jdbc"
	fi
	if [ "$odbc" = ready ]; then
		check "$r: ODBC column types as in columns.txt" \
			diff <(awk -v r="$r" '$1 == r { print $2 "\t" $4 }' test/drivers/columns.txt) "$tmp/$r.odbc.types"
		# psql's values as psqlODBC converts them: per column, by its SQL type
		awk -F '\t' -v OFS='\t' -v types="$(cut -f2 "$tmp/$r.odbc.types" | paste -sd,)" '
			BEGIN { split(types, t, ",") }
			{
				for (i = 1; i <= NF; i++) {
					if ($i == "\\N") continue
					if (t[i] == "SQL_TYPE_TIMESTAMP") sub(/\+00$/, "", $i)
					if (t[i] == "SQL_BIT") $i = ($i == "t") ? "1" : "0"
				}
				print
			}' "$tmp/$r.psql" >"$tmp/$r.psql-odbc"
		check "$r: $rows rows through ODBC equal psql's" diff "$tmp/$r.psql-odbc" "$tmp/$r.odbc.rows"
	else
		skip "$r: ODBC: $odbc"; skip "$r: ODBC: $odbc"
	fi
done
q -c "DROP DATABASE $db" -c "DROP ROLE $reader" >/dev/null 2>&1
