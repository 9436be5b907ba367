#!/usr/bin/env bash
# Dump and restore keep tagscrm's library, assignments and history
# (pg_dump -Fc + pg_restore, and plain pg_dump + psql); after a restore the
# sequences continue and tagging works.  TAP output; needs PGHOST/PGPORT.
set -u
cd "$(dirname "$0")/../.."
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "1..25"   # the checks below
n=0
check() {   # description, command...
	local what="$1"; shift
	n=$((n + 1))
	if "$@" >"$tmp/out" 2>&1; then echo "ok $n - $what"; else echo "not ok $n - $what"; sed 's/^/# /' "$tmp/out" | head -20; fi
}
q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

for db in dump_src dump_custom dump_plain; do dropdb --if-exists "$db"; done
createdb dump_src
check "load a database that uses tagscrm" q -d dump_src -f test/dump/load.sql
q -d dump_src -f test/dump/fingerprint.sql >"$tmp/src.txt"
# a saved segment with a condition (the condition's set is not dumped)
segment_right() {
	local r
	r="$(q -At -d "$1" -f test/dump/segment_check.sql)"
	echo "repeat web: $r"
	test "${r#* }" = ok
}
check "a segment with a condition equals plain SQL before the dump" segment_right dump_src
check "the fingerprint covers data" test "$(grep -c '^history' "$tmp/src.txt")" -gt 300

check "pg_dump -Fc" pg_dump -Fc -d dump_src -f "$tmp/src.dump"
createdb dump_custom
check "pg_restore" pg_restore --exit-on-error -d dump_custom "$tmp/src.dump"
q -d dump_custom -f test/dump/fingerprint.sql >"$tmp/custom.txt"
check "custom-format round trip keeps every row" diff "$tmp/src.txt" "$tmp/custom.txt"

check "plain pg_dump" pg_dump -d dump_src -f "$tmp/src.sql"
createdb dump_plain
check "plain restore with psql" q -d dump_plain -f "$tmp/src.sql"
q -d dump_plain -f test/dump/fingerprint.sql >"$tmp/plain.txt"
check "plain round trip keeps every row" diff "$tmp/src.txt" "$tmp/plain.txt"

# after the restore: ids continue, tagging and history go on as before
next_history() { q -At -d "$1" -c "SELECT tagscrm.tag_customer('new-1', 'online'); SELECT max(history_id) FROM tagscrm.tag_history"; }
check "history ids continue after restore" test "$(next_history dump_src | tail -1)" = "$(next_history dump_custom | tail -1)"
check "aliases and merges still resolve after restore" \
	test "$(q -At -d dump_custom -c "SELECT tagscrm.tag_customer('new-2', 'TB'); SELECT tagscrm.tag_customer('new-2', 'kitchen'); SELECT string_agg(tag, ',' ORDER BY tag) FROM tagscrm.customer_tags WHERE customer_id = 'new-2'" | tail -1)" = "Taobao,garden"
check "retired tags stay retired after restore" \
	bash -c "! psql -X -q -d dump_custom -c \"SELECT tagscrm.tag_customer('new-3', 'offline')\" 2>/dev/null"
check "a new tag gets a fresh id after restore" q -d dump_custom -c "SELECT tagscrm.create_tag('balcony', 'interests')"
# the customer keys and tag sets are not dumped: the restore rebuilds them as it loads (docs/segments.md)
tag_sets_match() {
	test "$(q -At -d "$1" -c "SELECT count(*) FROM (SELECT 0 AS tag_id UNION ALL SELECT t.tag_id FROM tagscrm.tag t) t
		WHERE tagscrm.customer_set_cardinality(tagscrm.tag_set(t.tag_id)) <> CASE t.tag_id WHEN 0 THEN (SELECT count(*) FROM tagscrm.customer)
		      ELSE (SELECT count(*) FROM tagscrm.customer_tag ct WHERE ct.tag_id = t.tag_id) END")" = 0
}
check "tag sets equal the assignments after pg_restore" tag_sets_match dump_custom
check "tag sets equal the assignments after a plain restore" tag_sets_match dump_plain

# the history's customer sets hold keys, which the restore assigned anew: it
# must read the same, and a recording after the restore must fit with those
# before it (test/dump/history_check.sql)
history_right() {
	local r
	r="$(q -At -d "$1" -f test/dump/history_check.sql)"
	echo "cells checked|wrong|sizes wrong: $r"
	test "${r%%|*}" -gt 0 && test "${r#*|}" = "0|0"
}
record_after_restore() {
	q -d "$1" -c "SELECT tagscrm.tag_customer(g, 'online') FROM generate_series(1, 90, 9) g" \
		-c "SELECT tagscrm.untag_customer(g::text, 'Taobao') FROM generate_series(3, 200, 3) g WHERE g % 4 = 0" \
		-c "WITH r AS MATERIALIZED (SELECT tagscrm.record_history(quiet => true) AS id) INSERT INTO history_snap SELECT r.id, ct.customer_id, ct.tag_id FROM r, tagscrm.customer_tag ct" >/dev/null
}
for db in dump_custom dump_plain; do
	check "history equals plain SQL after the restore ($db)" history_right "$db"
	record_after_restore "$db"
	check "a recording after the restore fits with those before it ($db)" history_right "$db"
done

# the segment with a condition last: refresh() records history
for db in dump_custom dump_plain; do
	check "a segment with a condition equals plain SQL after the restore ($db)" segment_right "$db"
	q -d "$db" -c "SELECT tagscrm.refresh(all_models => true, quiet => true)" >/dev/null
	check "... and after refresh() builds its condition's set again ($db)" segment_right "$db"
	q -d "$db" -c "INSERT INTO orders VALUES ('3', now(), 5), ('4', now(), 5), ('95', now(), 5), ('95', now(), 5)" >/dev/null
	check "... and after new orders ($db)" segment_right "$db"
done

for db in dump_src dump_custom dump_plain; do dropdb --if-exists "$db"; done
