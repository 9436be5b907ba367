#!/usr/bin/env bash
# test/bench/segment_bench.sh: segment counts and member lists from the tag
# sets (CRoaring bitmaps) against the best plain SQL we know, in one run:
#   - EXISTS / NOT EXISTS over customer_tag with an index on (tag_id, customer_id),
#   - INTERSECT / UNION / EXCEPT over the same index,
#   - an int[] of tag ids per customer with a GIN gin__int_ops index (intarray's
#     query_int: tags @@ '40&45&!30'),
# each plain way without and with 2 parallel workers; and the cost of keeping
# the sets current on the write path (the tag-set triggers on and off, which
# includes the writers' automatic compaction).
#
# segment_members maps keys to ids from a cache each backend keeps
# (src/segment_keys.c).  The main loop is for a warm backend: each
# expression's members are listed once before it is timed.  A cold backend
# (a new connection, its caches empty) is timed separately, ours and the
# plain ways alike (with the server's default parallel workers): each
# figure is the first call of a fresh connection, and cold is compared
# with cold, warm with warm.  Each figure is printed with the
# load averages (1 minute) seen during its runs.
#
# Unequal orders: ours lists members in key order (the order customers were
# first seen, the bitmap's own, no sort); "all members" and "first 1000" of
# the plain ways sort by customer_id, and "all members, any order" takes the
# plain ways' rows in whatever order their plan gives (no sort either).
#
# Usage (from the repository root): PGHOST=... PGPORT=... bash test/bench/segment_bench.sh [customers] [repeats]
# Needs a server with tagscrm installed and the intarray contrib (part of
# postgresql-15); creates and drops the database segment_bench.  50 tags of
# 0.1 % to 60 % of the customers (geometric), assigned deterministically
# (hashint4).  Each figure is the median of the repeats (default 3) in
# milliseconds, JIT off; every method's answer is checked against ours.
set -euo pipefail
customers="${1:-1000000}"
repeats="${2:-3}"
db=segment_bench

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db"' EXIT

psql -X -q -d "$db" -v ON_ERROR_STOP=1 <<SQL
\pset footer off
SET jit = off;
SET client_min_messages = warning;
CREATE EXTENSION tagscrm;
CREATE EXTENSION intarray;
SELECT tagscrm.create_tag_group('bench', 'interest') \g /dev/null
SELECT count(tagscrm.create_tag('t' || lpad(i::text, 2, '0'), 'bench')) FROM generate_series(1, 50) i \g /dev/null
-- tag i holds 0.1 % * 600^((i - 1) / 49) of the customers: t01 0.1 %, t50 60 %
CREATE TABLE share AS
SELECT t.tag_id, t.group_id, 0.001 * power(600, (t.tag_id - 1) / 49.0) AS share FROM tagscrm.tag t;
INSERT INTO tagscrm.customer (customer_id, first_seen_at)
SELECT 'u' || lpad(i::text, 7, '0'), now() FROM generate_series(1, $customers) i;
\echo 'loading the assignments (the tag sets follow in the same statement)'
\timing on
INSERT INTO tagscrm.customer_tag (customer_id, tag_id, group_id, source, applied_by, applied_at)
SELECT 'u' || lpad(i::text, 7, '0'), s.tag_id, s.group_id, 'import', 'bench', now()
  FROM generate_series(1, $customers) i, share s
 WHERE abs(hashint4(i * 64 + s.tag_id)) % 1000000 < s.share * 1000000;
\timing off
SELECT tagscrm.segment_compact() \g /dev/null
-- the plain ways' own structures
CREATE INDEX customer_tag_tag_customer ON tagscrm.customer_tag (tag_id, customer_id);
CREATE TABLE customer_tags_array AS
SELECT c.customer_id, COALESCE(array_agg(ct.tag_id ORDER BY ct.tag_id) FILTER (WHERE ct.tag_id IS NOT NULL), '{}') AS tags
  FROM tagscrm.customer c LEFT JOIN tagscrm.customer_tag ct USING (customer_id) GROUP BY c.customer_id;
CREATE INDEX customer_tags_array_gin ON customer_tags_array USING gin (tags gin__int_ops);
CREATE INDEX customer_tags_array_id ON customer_tags_array (customer_id);
VACUUM ANALYZE;
SELECT count(*) AS customers, (SELECT count(*) FROM tagscrm.customer_tag) AS assignments,
       (SELECT min(n) FROM (SELECT count(*) n FROM tagscrm.customer_tag GROUP BY tag_id) x) AS smallest_tag,
       (SELECT max(n) FROM (SELECT count(*) n FROM tagscrm.customer_tag GROUP BY tag_id) x) AS largest_tag
  FROM tagscrm.customer;

CREATE TABLE bench_times (expr int, what text, method text, workers int, run int, ms float8, answer bigint,
                          load float8 DEFAULT split_part(pg_read_file('/proc/loadavg'), ' ', 1)::float8);
CREATE TABLE bench_exprs (expr int PRIMARY KEY, e text);
INSERT INTO bench_exprs VALUES (1, \$\$tag('t40') and tag('t45') and not tag('t30')\$\$),
	(2, \$\$(tag('t50') or tag('t48')) and tag('t35') and not tag('t20')\$\$),
	(3, \$\$tag('t49') and (tag('t10') or tag('t25') or tag('t44')) and not tag('t47')\$\$);
CREATE TABLE bench_plain (expr int PRIMARY KEY, exists_where text, gin_query text);
INSERT INTO bench_plain VALUES
	(1, 'a.tag_id = 40 AND EXISTS (SELECT FROM tagscrm.customer_tag b WHERE b.tag_id = 45 AND b.customer_id = a.customer_id)'
	    ' AND NOT EXISTS (SELECT FROM tagscrm.customer_tag b WHERE b.tag_id = 30 AND b.customer_id = a.customer_id)', '40&45&!30'),
	(2, 'a.tag_id = 35 AND EXISTS (SELECT FROM tagscrm.customer_tag b WHERE b.tag_id IN (50, 48) AND b.customer_id = a.customer_id)'
	    ' AND NOT EXISTS (SELECT FROM tagscrm.customer_tag b WHERE b.tag_id = 20 AND b.customer_id = a.customer_id)', '(50|48)&35&!20'),
	(3, 'a.tag_id = 49 AND EXISTS (SELECT FROM tagscrm.customer_tag b WHERE b.tag_id IN (10, 25, 44) AND b.customer_id = a.customer_id)'
	    ' AND NOT EXISTS (SELECT FROM tagscrm.customer_tag b WHERE b.tag_id = 47 AND b.customer_id = a.customer_id)', '49&(10|25|44)&!47');
\\echo 'a cold backend: the first call of a new connection (its caches empty), ours and the plain ways alike, 3 connections per figure'
SQL
for run in 1 2 3; do
	for i in 1 2 3; do
		for what in count 'all members' 'first 1000'; do
			for method in segment EXISTS 'int[] GIN'; do
				psql -X -q -d "$db" -v ON_ERROR_STOP=1 <<SQL
SET jit = off;
DO \$cold\$
DECLARE
	e text := (SELECT e FROM bench_exprs WHERE expr = $i);
	p bench_plain := (SELECT p FROM bench_plain p WHERE expr = $i);
	t0 timestamptz := clock_timestamp();
	n bigint;
BEGIN
	IF '$method' = 'segment' THEN
		IF '$what' = 'count' THEN
			n := tagscrm.segment_count(e);
		ELSE
			SELECT count(*) INTO n FROM tagscrm.segment_members(e, NULL, CASE WHEN '$what' = 'first 1000' THEN 1000 ELSE 2000000000 END);
		END IF;
	ELSIF '$method' = 'EXISTS' AND '$what' = 'count' THEN
		EXECUTE 'SELECT count(*) FROM tagscrm.customer_tag a WHERE ' || p.exists_where INTO n;
	ELSIF '$method' = 'EXISTS' THEN
		EXECUTE 'SELECT count(*) FROM (SELECT a.customer_id FROM tagscrm.customer_tag a WHERE ' || p.exists_where
		        || CASE '$what' WHEN 'all members' THEN ' ORDER BY 1' ELSE ' ORDER BY 1 LIMIT 1000' END || ') s' INTO n;
	ELSIF '$what' = 'count' THEN
		EXECUTE 'SELECT count(*) FROM customer_tags_array WHERE tags @@ \$1::query_int' INTO n USING p.gin_query;
	ELSE
		EXECUTE 'SELECT count(*) FROM (SELECT customer_id FROM customer_tags_array WHERE tags @@ \$1::query_int'
		        || CASE '$what' WHEN 'all members' THEN ' ORDER BY 1' ELSE ' ORDER BY 1 LIMIT 1000' END || ') s'
		   INTO n USING p.gin_query;
	END IF;
	INSERT INTO bench_times (expr, what, method, workers, run, ms, answer)
	VALUES ($i, '$what', '$method (cold backend)', 0, $run, 1000 * extract(epoch FROM clock_timestamp() - t0), n);
END
\$cold\$;
SQL
			done
		done
	done
done
psql -X -q -d "$db" -v ON_ERROR_STOP=1 <<SQL
\pset footer off
SET jit = off;
SET client_min_messages = warning;
DO \$bench\$
DECLARE
	-- each expression: ours, then EXISTS, INTERSECT and GIN (the tag named tNN has
	-- tag_id NN); the expressions, EXISTS and GIN as the cold runs above read them
	e constant text[] := ARRAY(SELECT x.e FROM bench_exprs x ORDER BY x.expr);
	ex constant text[] := ARRAY(SELECT p.exists_where FROM bench_plain p ORDER BY p.expr);
	it constant text[] := ARRAY[
		'(SELECT customer_id FROM tagscrm.customer_tag WHERE tag_id = 40 INTERSECT SELECT customer_id FROM tagscrm.customer_tag WHERE tag_id = 45'
		' EXCEPT SELECT customer_id FROM tagscrm.customer_tag WHERE tag_id = 30)',
		'((SELECT customer_id FROM tagscrm.customer_tag WHERE tag_id = 50 UNION SELECT customer_id FROM tagscrm.customer_tag WHERE tag_id = 48)'
		' INTERSECT SELECT customer_id FROM tagscrm.customer_tag WHERE tag_id = 35 EXCEPT SELECT customer_id FROM tagscrm.customer_tag WHERE tag_id = 20)',
		'((SELECT customer_id FROM tagscrm.customer_tag WHERE tag_id = 49) INTERSECT (SELECT customer_id FROM tagscrm.customer_tag WHERE tag_id = 10'
		' UNION SELECT customer_id FROM tagscrm.customer_tag WHERE tag_id = 25 UNION SELECT customer_id FROM tagscrm.customer_tag WHERE tag_id = 44)'
		' EXCEPT SELECT customer_id FROM tagscrm.customer_tag WHERE tag_id = 47)'];
	gq constant text[] := ARRAY(SELECT p.gin_query FROM bench_plain p ORDER BY p.expr);
	t0 timestamptz;
	n bigint;
	w int;

BEGIN
	-- warm: this backend's cache of ids holds every member of the three
	FOR i IN 1..3 LOOP
		PERFORM count(*) FROM tagscrm.segment_members(e[i], NULL, 2000000000);
	END LOOP;
	FOR run IN 1..$repeats LOOP
		FOR i IN 1..3 LOOP
			FOREACH w IN ARRAY ARRAY[0, 2] LOOP
				PERFORM set_config('max_parallel_workers_per_gather', w::text, true);
				IF w = 0 THEN
					t0 := clock_timestamp();
					n := tagscrm.segment_count(e[i]);
					INSERT INTO bench_times VALUES (i, 'count', 'segment (warm backend)', 0, run, 1000 * extract(epoch FROM clock_timestamp() - t0), n);
					t0 := clock_timestamp();
					SELECT count(*) INTO n FROM tagscrm.segment_members(e[i], NULL, 2000000000);
					INSERT INTO bench_times VALUES (i, 'all members', 'segment (warm backend)', 0, run, 1000 * extract(epoch FROM clock_timestamp() - t0), n);
					-- ours has one order (the keys'); timed again against plain ways without ORDER BY
					t0 := clock_timestamp();
					SELECT count(*) INTO n FROM tagscrm.segment_members(e[i], NULL, 2000000000);
					INSERT INTO bench_times VALUES (i, 'all members, any order', 'segment (warm backend)', 0, run, 1000 * extract(epoch FROM clock_timestamp() - t0), n);
					t0 := clock_timestamp();
					SELECT count(*) INTO n FROM tagscrm.segment_members(e[i], NULL, 1000);
					INSERT INTO bench_times VALUES (i, 'first 1000', 'segment (warm backend)', 0, run, 1000 * extract(epoch FROM clock_timestamp() - t0), n);
				END IF;
				-- counts
				t0 := clock_timestamp();
				EXECUTE 'SELECT count(*) FROM tagscrm.customer_tag a WHERE ' || ex[i] INTO n;
				INSERT INTO bench_times VALUES (i, 'count', 'EXISTS', w, run, 1000 * extract(epoch FROM clock_timestamp() - t0), n);
				t0 := clock_timestamp();
				EXECUTE 'SELECT count(*) FROM ' || it[i] || ' s' INTO n;
				INSERT INTO bench_times VALUES (i, 'count', 'INTERSECT', w, run, 1000 * extract(epoch FROM clock_timestamp() - t0), n);
				t0 := clock_timestamp();
				EXECUTE 'SELECT count(*) FROM customer_tags_array WHERE tags @@ \$1::query_int' INTO n USING gq[i];
				INSERT INTO bench_times VALUES (i, 'count', 'int[] GIN', w, run, 1000 * extract(epoch FROM clock_timestamp() - t0), n);
				-- every member, in customer_id order (what an export reads)
				t0 := clock_timestamp();
				EXECUTE 'SELECT count(*) FROM (SELECT a.customer_id FROM tagscrm.customer_tag a WHERE ' || ex[i] || ' ORDER BY 1) s' INTO n;
				INSERT INTO bench_times VALUES (i, 'all members', 'EXISTS', w, run, 1000 * extract(epoch FROM clock_timestamp() - t0), n);
				t0 := clock_timestamp();
				EXECUTE 'SELECT count(*) FROM (SELECT customer_id FROM ' || it[i] || ' s ORDER BY 1) s' INTO n;
				INSERT INTO bench_times VALUES (i, 'all members', 'INTERSECT', w, run, 1000 * extract(epoch FROM clock_timestamp() - t0), n);
				t0 := clock_timestamp();
				EXECUTE 'SELECT count(*) FROM (SELECT customer_id FROM customer_tags_array WHERE tags @@ \$1::query_int ORDER BY 1) s' INTO n USING gq[i];
				INSERT INTO bench_times VALUES (i, 'all members', 'int[] GIN', w, run, 1000 * extract(epoch FROM clock_timestamp() - t0), n);
				-- every member in whatever order the plan gives (no sort)
				t0 := clock_timestamp();
				EXECUTE 'SELECT count(*) FROM (SELECT a.customer_id FROM tagscrm.customer_tag a WHERE ' || ex[i] || ' OFFSET 0) s' INTO n;
				INSERT INTO bench_times VALUES (i, 'all members, any order', 'EXISTS', w, run, 1000 * extract(epoch FROM clock_timestamp() - t0), n);
				t0 := clock_timestamp();
				EXECUTE 'SELECT count(*) FROM (SELECT customer_id FROM customer_tags_array WHERE tags @@ \$1::query_int OFFSET 0) s' INTO n USING gq[i];
				INSERT INTO bench_times VALUES (i, 'all members, any order', 'int[] GIN', w, run, 1000 * extract(epoch FROM clock_timestamp() - t0), n);
				-- the first page of 1000
				t0 := clock_timestamp();
				EXECUTE 'SELECT count(*) FROM (SELECT a.customer_id FROM tagscrm.customer_tag a WHERE ' || ex[i] || ' ORDER BY 1 LIMIT 1000) s' INTO n;
				INSERT INTO bench_times VALUES (i, 'first 1000', 'EXISTS', w, run, 1000 * extract(epoch FROM clock_timestamp() - t0), n);
				t0 := clock_timestamp();
				EXECUTE 'SELECT count(*) FROM (SELECT customer_id FROM customer_tags_array WHERE tags @@ \$1::query_int ORDER BY 1 LIMIT 1000) s' INTO n USING gq[i];
				INSERT INTO bench_times VALUES (i, 'first 1000', 'int[] GIN', w, run, 1000 * extract(epoch FROM clock_timestamp() - t0), n);
			END LOOP;
		END LOOP;
	END LOOP;
END
\$bench\$;

\echo 'medians (ms); answer: the count, or the members listed; every answer must equal ours'
SELECT expr, what, method, workers, round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1) AS median_ms,
       min(answer) AS answer, min(answer) = max(answer) AS stable, min(load) || '-' || max(load) AS load
  FROM bench_times GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 5;
\echo 'answers that differ from ours (must be none)'
SELECT b.expr, b.what, b.method, b.workers, b.answer, o.answer AS ours
  FROM bench_times b JOIN bench_times o ON o.expr = b.expr AND o.what = b.what AND o.run = b.run AND o.method = 'segment (warm backend)'
 WHERE b.answer <> o.answer;
\echo 'ours against the fastest plain way, per expression (ratio = plain / ours: how many times faster ours is); cold against cold, warm against warm'
WITH m AS (SELECT expr, what, method, workers, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS ms,
                  min(load) || '-' || max(load) AS load, method LIKE '%(cold backend)' AS cold FROM bench_times GROUP BY 1, 2, 3, 4)
SELECT o.expr, o.what, o.method AS ours, round(o.ms::numeric, 1) AS ours_ms,
       (SELECT p.method || ', ' || p.workers || ' workers' FROM m p WHERE p.expr = o.expr AND p.what = o.what AND p.method NOT LIKE 'segment%' AND p.cold = o.cold ORDER BY p.ms LIMIT 1) AS best_plain,
       round((SELECT min(p.ms) FROM m p WHERE p.expr = o.expr AND p.what = o.what AND p.method NOT LIKE 'segment%' AND p.cold = o.cold)::numeric, 1) AS plain_ms,
       round(((SELECT min(p.ms) FROM m p WHERE p.expr = o.expr AND p.what = o.what AND p.method NOT LIKE 'segment%' AND p.cold = o.cold) / o.ms)::numeric, 1) AS ratio,
       o.load AS load_ours, (SELECT p.load FROM m p WHERE p.expr = o.expr AND p.what = o.what AND p.method NOT LIKE 'segment%' AND p.cold = o.cold ORDER BY p.ms LIMIT 1) AS load_plain
  FROM m o WHERE o.method LIKE 'segment%' ORDER BY 1, 2, 3;

-- the write path: the same tag changes with the tag-set triggers on and off,
-- alternating, so that load changes hit both alike
CREATE TABLE write_times (what text, triggers boolean, run int, ms float8,
                          load float8 DEFAULT split_part(pg_read_file('/proc/loadavg'), ' ', 1)::float8);
DO \$write\$
DECLARE
	t0 timestamptz;
	on_ boolean;
BEGIN
	FOR run IN 1..$repeats LOOP
		FOREACH on_ IN ARRAY ARRAY[true, false] LOOP
			EXECUTE format('ALTER TABLE tagscrm.customer_tag %s TRIGGER tag_set_track_insert', CASE WHEN on_ THEN 'ENABLE' ELSE 'DISABLE' END);
			EXECUTE format('ALTER TABLE tagscrm.customer_tag %s TRIGGER tag_set_track_delete', CASE WHEN on_ THEN 'ENABLE' ELSE 'DISABLE' END);
			t0 := clock_timestamp();
			PERFORM tagscrm.tag_customer('u' || lpad(i::text, 7, '0'), 't01') FROM generate_series(1, 500) i;
			PERFORM tagscrm.untag_customer('u' || lpad(i::text, 7, '0'), 't01') FROM generate_series(1, 500) i;
			INSERT INTO write_times (what, triggers, run, ms) VALUES ('500 tag_customer + 500 untag_customer calls', on_, run, 1000 * extract(epoch FROM clock_timestamp() - t0));
			t0 := clock_timestamp();
			INSERT INTO tagscrm.customer_tag (customer_id, tag_id, group_id, source, applied_by, applied_at)
			SELECT 'u' || lpad(i::text, 7, '0'), 2, 1, 'import', 'bench', now() FROM generate_series(1, $customers, 10) i
			ON CONFLICT DO NOTHING;
			DELETE FROM tagscrm.customer_tag WHERE tag_id = 2 AND applied_by = 'bench' AND applied_at = now();
			INSERT INTO write_times (what, triggers, run, ms) VALUES (format('insert + delete of %s assignments in 2 statements', $customers / 10), on_, run,
			                                1000 * extract(epoch FROM clock_timestamp() - t0));
		END LOOP;
	END LOOP;
	ALTER TABLE tagscrm.customer_tag ENABLE TRIGGER tag_set_track_insert;
	ALTER TABLE tagscrm.customer_tag ENABLE TRIGGER tag_set_track_delete;
END
\$write\$;
\echo 'write path: medians (ms) with and without the tag-set triggers'
SELECT what, round((percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE triggers))::numeric, 1) AS with_sets_ms,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE NOT triggers))::numeric, 1) AS without_ms,
       round(((percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE triggers))
              / (percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE NOT triggers)))::numeric, 2) AS ratio,
       min(load) || '-' || max(load) AS load
  FROM write_times GROUP BY 1 ORDER BY 1;
-- what a writer that folds pays: one fold of 64 log rows into the largest
-- tag's base (t50), the rows made at REPEATABLE READ so that no writer folds them
SET default_transaction_isolation = 'repeatable read';
CREATE TABLE fold_times (run int, ms float8, rows_folded bigint,
                         load float8 DEFAULT split_part(pg_read_file('/proc/loadavg'), ' ', 1)::float8);
DO \$fold\$
DECLARE
	t0 timestamptz;
	n bigint;
BEGIN
	FOR run IN 1..$repeats LOOP
		PERFORM tagscrm.untag_customer(ct.customer_id, 't50')
		   FROM (SELECT customer_id FROM tagscrm.customer_tag WHERE tag_id = 50 ORDER BY customer_id LIMIT 64) ct;
		t0 := clock_timestamp();
		n := tagscrm.tag_set_fold(50);
		INSERT INTO fold_times (run, ms, rows_folded) VALUES (run, 1000 * extract(epoch FROM clock_timestamp() - t0), n);
	END LOOP;
END
\$fold\$;
RESET default_transaction_isolation;
SELECT 'one fold of 64 log rows into the largest tag' AS what, min(rows_folded) AS rows_folded,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1) AS median_ms,
       (SELECT count(*) FROM tagscrm.customer_tag WHERE tag_id = 50) AS tag_customers, min(load) || '-' || max(load) AS load
  FROM fold_times;
\\echo 'the log rows left after the write path (automatic compaction keeps each tag near 64 or fewer)'
SELECT max(n) AS most_log_rows_of_a_tag FROM (SELECT count(*) AS n FROM tagscrm.tag_set_log GROUP BY tag_id) x;
SQL
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
