#!/usr/bin/env bash
# test/bench/overview_bench.sh: the dashboard's queries over customer_overview
# against the same queries over a plain table holding the same rows, in one
# run, interleaved, medians of the repeats, without and with 2 parallel workers:
#   - plain, all columns: CREATE TABLE AS SELECT * FROM customer_overview (the
#     issue's "plain table of the same columns": what a user who materialized
#     the view would scan);
#   - plain, narrow: only the columns each query reads (the strictest plain way:
#     no row is wider than the query needs).
# Every answer is checked equal to ours.
#
# Usage (from the repository root): PGHOST=... PGPORT=... bash test/bench/overview_bench.sh [customers] [repeats]
# Creates and drops the database overview_bench.  The population is loaded
# straight into tagscrm's tables (facts and model tags, the copy in
# customer_fact kept by the triggers as it loads); it is data for reading,
# generated deterministically, not a measure of the write path.
set -euo pipefail
customers="${1:-1000000}"
repeats="${2:-5}"
db=overview_bench

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db"' EXIT

psql -X -q -d "$db" -v ON_ERROR_STOP=1 <<SQL
\pset footer off
SET jit = off;
SET client_min_messages = warning;
CREATE EXTENSION tagscrm;
-- an empty watched table creates the model groups and tags
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint, paid_at timestamptz, amount numeric);
SELECT tagscrm.watch_orders('orders', 'customer_id', 'paid_at', 'amount') \g /dev/null
\echo 'loading $customers customers: facts, then four model tags each'
\timing on
INSERT INTO tagscrm.customer (customer_id, first_seen_at)
SELECT i::text, now() FROM generate_series(1, $customers) i;
INSERT INTO tagscrm.customer_fact (customer_id, first_order_at, last_order_at, order_count, order_total)
SELECT i::text, '2025-01-01'::timestamptz + (h % 300) * interval '1 day',
       '2025-01-01'::timestamptz + (h % 300 + h % 97) * interval '1 day',
       1 + (h % 1000 < 400)::int + (h % 1000 < 150)::int * (1 + h % 7),
       round((exp(3 + (h % 1000) / 250.0) * (1 + (h >> 10) % 5))::numeric, 2)
  FROM generate_series(1, $customers) i, LATERAL (SELECT abs(hashint4(i)) AS h) x;
-- model tags: the RFM segment, lifecycle, status and level (a realistic skew)
CREATE TEMP TABLE model_pick AS
SELECT mt.model, row_number() OVER (PARTITION BY mt.model ORDER BY mt.tag_id) - 1 AS k,
       count(*) OVER (PARTITION BY mt.model) AS n, mt.tag_id, t.group_id
  FROM tagscrm.model_tag mt JOIN tagscrm.tag t USING (tag_id)
 WHERE mt.model IN ('rfm', 'lifecycle', 'status', 'level');
INSERT INTO tagscrm.customer_tag (customer_id, tag_id, group_id, exclusive_group_id, source, applied_by, applied_at)
SELECT i::text, p.tag_id, p.group_id, p.group_id, 'model', 'bench', now()
  FROM generate_series(1, $customers) i
  CROSS JOIN (SELECT DISTINCT model, n FROM model_pick) m
  JOIN model_pick p ON p.model = m.model
       AND p.k = floor(m.n * power((abs(hashint4(i * 7 + length(m.model))) % 1000) / 1000.0, 2))::int;
\timing off
-- the load wrote each fact row twice (the facts, then the copy of its model
-- tags): compact it, as the plain tables are compact when created
VACUUM FULL tagscrm.customer_fact;
VACUUM ANALYZE;
\echo 'the plain tables'
CREATE TABLE plain_all AS SELECT * FROM tagscrm.customer_overview;
CREATE TABLE plain_narrow AS SELECT customer_id, rfm_segment, status, lifecycle, total_paid, orders FROM tagscrm.customer_overview;
VACUUM ANALYZE plain_all, plain_narrow;
SELECT (SELECT count(*) FROM tagscrm.customer_fact) AS customers,
       (SELECT count(*) FROM tagscrm.customer_tag) AS model_tags,
       pg_size_pretty(pg_relation_size('tagscrm.customer_fact')) AS customer_fact_size,
       pg_size_pretty(pg_relation_size('plain_all')) AS plain_all_size,
       pg_size_pretty(pg_relation_size('plain_narrow')) AS plain_narrow_size;

CREATE TABLE bench_times (query int, method text, workers int, run int, ms float8, answer text);
DO \$bench\$
DECLARE
	q constant text[] := ARRAY[
		'SELECT rfm_segment, count(*), sum(total_paid) FROM %s GROUP BY 1',
		'SELECT status, lifecycle, count(*), round(avg(orders), 6) FROM %s GROUP BY 1, 2'];
	src constant text[] := ARRAY['tagscrm.customer_overview', 'plain_all', 'plain_narrow'];
	t0 timestamptz;
	a text;
	w int;
BEGIN
	FOR run IN 1..$repeats LOOP
		FOR i IN 1..2 LOOP
			FOREACH w IN ARRAY ARRAY[0, 2] LOOP
				PERFORM set_config('max_parallel_workers_per_gather', w::text, true);
				FOR s IN 1..3 LOOP
					t0 := clock_timestamp();
					EXECUTE format('SELECT string_agg(x::text, ''|'' ORDER BY x::text) FROM (' || q[i] || ') x', src[s]) INTO a;
					INSERT INTO bench_times VALUES (i, src[s], w, run, 1000 * extract(epoch FROM clock_timestamp() - t0), md5(a));
				END LOOP;
			END LOOP;
		END LOOP;
	END LOOP;
END
\$bench\$;

\echo 'queries: 1 = rfm_segment, count(*), sum(total_paid) GROUP BY 1; 2 = status, lifecycle, count(*), avg(orders) GROUP BY 1, 2'
\echo 'medians (ms); ratio = ours / plain (the target: at most 1.5)'
WITH m AS (SELECT query, method, workers, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS ms
             FROM bench_times GROUP BY 1, 2, 3)
SELECT o.query, o.workers, round(o.ms::numeric, 1) AS ours_ms,
       round(pa.ms::numeric, 1) AS plain_all_ms, round((o.ms / pa.ms)::numeric, 2) AS ratio_all,
       round(pn.ms::numeric, 1) AS plain_narrow_ms, round((o.ms / pn.ms)::numeric, 2) AS ratio_narrow
  FROM m o
  JOIN m pa ON pa.query = o.query AND pa.workers = o.workers AND pa.method = 'plain_all'
  JOIN m pn ON pn.query = o.query AND pn.workers = o.workers AND pn.method = 'plain_narrow'
 WHERE o.method = 'tagscrm.customer_overview' ORDER BY 1, 2;
\echo 'answers that differ from ours (must be none)'
SELECT b.query, b.method, b.workers, b.run
  FROM bench_times b JOIN bench_times o ON o.query = b.query AND o.run = b.run AND o.workers = b.workers
       AND o.method = 'tagscrm.customer_overview'
 WHERE b.answer <> o.answer;
SQL
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
