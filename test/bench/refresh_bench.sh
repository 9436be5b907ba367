#!/usr/bin/env bash
# test/bench/refresh_bench.sh: issue 3.  On a shop of 1,000,000 customers,
# 10,000,000 orders and 30,000,000 events (times the scale factor), measures
#   - the first backfill: watch_orders + watch_events on the loaded tables;
#   - the nightly SELECT tagscrm.refresh() (breakpoints + everyone re-scored),
#     also after a day of new orders, and refresh(rebuild => true), against
#     the plain-SQL way: a materialized
#     view of per-customer recency/frequency/monetary with NTILE(5) scores and
#     the 8 segments, REFRESH MATERIALIZED VIEW, with 0 and 2 parallel workers
#     and JIT on and off (the best of the four is the plain figure);
#   - COPY ... FROM STDIN (through psql, as a client sends it) of 100,000 new
#     time-ordered orders into the watched orders table against an identical
#     unwatched table with the same indexes; the time the background applier
#     then takes to bring facts and tags up to date; and one COPY with all
#     of that done inside the statement (settings.bulk_rows = NULL).
# Each figure is the median of the repeats (default 3).  Ratios: plain / ours
# (> 1 means ours is faster); COPY: throughput with our triggers as a
# percentage of the throughput without.
#
# Usage: PGHOST=... PGPORT=... bash test/bench/refresh_bench.sh [scale] [repeats] [rebuild_repeats]
#   scale 1 (default) = 1M customers; 0.1 = 100k customers, 1M orders, 3M events;
#   rebuild_repeats (default: repeats) runs of refresh(rebuild => true), which
#   is slow at full scale (0 skips it; the backfill of watch_events is one).
# Needs a server with tagscrm installed (make install); creates and drops the
# database refresh_bench.  The data are generated with hashint8 of the row
# number, time-ordered, so every run measures the same input; tagscrm's clock
# is pinned (tagscrm.clock_override) to the end of the data.
set -euo pipefail
scale="${1:-1}"
repeats="${2:-3}"
rebuild_repeats="${3:-$repeats}"
db=refresh_bench
customers=$(awk "BEGIN { printf \"%d\", 1000000 * $scale }")
orders=$(awk "BEGIN { printf \"%d\", 10000000 * $scale }")
events=$(awk "BEGIN { printf \"%d\", 30000000 * $scale }")
batch=100000
clock='2026-01-01 00:00:00+00'   # tagscrm.now(); the data end just before it
tmp="$(mktemp -d /tmp/refresh_bench.XXXXXX)"
chmod 755 "$tmp"

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
cleanup() {
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" || true
	rm -rf "$tmp"
}
trap cleanup EXIT
export PGOPTIONS="${PGOPTIONS:-} -c tagscrm.clock_override=2026-01-01T00:00:00+00"
run() { psql -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"; }
now() { date +%s.%N; }
# runs SQL on stdin and records its wall time (ms, client side) under a name
timed() {   # name run
	local t0 t1
	t0=$(now)
	run >/dev/null
	t1=$(now)
	run -c "INSERT INTO bench_times VALUES ('$1', $2, ($t1 - $t0) * 1000)"
	echo "  $1 run $2: $(awk "BEGIN { printf \"%.0f\", ($t1 - $t0) * 1000 }") ms" >&2
}

echo "refresh benchmark: scale $scale = $customers customers, $orders orders, $events events; median of $repeats runs" >&2
echo "loading (plain INSERT ... SELECT, before watching)" >&2
t0=$(now)
run <<SQL
CREATE EXTENSION tagscrm;
CREATE TABLE bench_times (what text, run int, ms float8);
-- a uniform number in [0, 1) from a bigint key and a salt
CREATE FUNCTION u(i bigint, salt bigint) RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (abs(hashint8(i * 7919 + salt)) % 1000000007)::float8 / 1000000007;
-- Orders go to the first 70 % of the customers (the rest only browse):
-- half uniformly, half skewed towards low ids (u^2), so frequency runs from 1
-- to a few thousand; amounts 5.00 to 1,004.99; times ascend over two years.
CREATE TABLE orders (
	order_id    bigint PRIMARY KEY,
	customer_id bigint NOT NULL,
	ordered_at  timestamptz NOT NULL,
	amount      numeric(12,2) NOT NULL
);
INSERT INTO orders
SELECT i, 1 + floor(0.7 * $customers * CASE WHEN u(i, 1) < 0.5 THEN u(i, 2) ELSE u(i, 2) ^ 2 END)::bigint,
       timestamptz '2024-01-01 00:00:00+00' + (i - 1) * (interval '730 days' / $orders),
       5 + floor(u(i, 3) * 100000) / 100
FROM generate_series(1, $orders::bigint) AS i;
CREATE INDEX orders_customer_idx ON orders (customer_id);
-- Events to every customer uniformly; kinds view 70 %, cart 15 %, consult
-- 10 %, review 5 %; times ascend over the same two years.
CREATE TABLE events (
	event_id    bigint PRIMARY KEY,
	customer_id bigint NOT NULL,
	at          timestamptz NOT NULL,
	kind        text NOT NULL
);
INSERT INTO events
SELECT i, 1 + floor($customers * u(i, 4))::bigint,
       timestamptz '2024-01-01 00:00:00+00' + (i - 1) * (interval '730 days' / $events),
       CASE WHEN u(i, 5) < 0.70 THEN 'view' WHEN u(i, 5) < 0.85 THEN 'cart'
            WHEN u(i, 5) < 0.95 THEN 'consult' ELSE 'review' END
FROM generate_series(1, $events::bigint) AS i;
CREATE INDEX events_customer_idx ON events (customer_id);
-- the unwatched twin of orders for the COPY comparison
CREATE TABLE orders_plain (LIKE orders INCLUDING ALL);
INSERT INTO orders_plain SELECT * FROM orders;
VACUUM ANALYZE orders, events, orders_plain;
CHECKPOINT;
SQL
t1=$(now)
run -c "INSERT INTO bench_times VALUES ('load', 1, ($t1 - $t0) * 1000)"

# The COPY batches: 2 * repeats batches of 100,000 orders after the loaded
# ones (time-ordered, in the last day before the clock), 80 % to existing
# customers, 20 % to new ones; written to files by psql, sent back by psql.
for r in $(seq 1 $((2 * repeats + 1))); do
	run -c "\copy (SELECT $orders + ($r - 1) * $batch + i,
	                      CASE WHEN u(i, 10 + $r) < 0.8 THEN 1 + floor(0.7 * $customers * u(i, 20 + $r))::bigint
	                           ELSE $customers + ($r - 1) * $batch + i END,
	                      timestamptz '2025-12-31 00:00:00+00' + (($r - 1) * $batch + i) * (interval '1 day' / ($batch * (2 * $repeats + 1) + 1)),
	                      5 + floor(u(i, 30 + $r) * 100000) / 100
	               FROM generate_series(1, $batch) AS i ORDER BY i) TO '$tmp/batch$r.copy'"
done

echo "first backfill" >&2
echo "SELECT tagscrm.watch_orders('orders', 'customer_id', 'ordered_at', 'amount')" | timed watch_orders 1
echo "SELECT tagscrm.watch_events('events', 'customer_id', 'at', 'kind')" | timed watch_events 1
run -c "VACUUM ANALYZE tagscrm.customer_fact, tagscrm.customer_day, tagscrm.customer_event_fact,
        tagscrm.customer, tagscrm.customer_tag"

echo "nightly refresh" >&2
for r in $(seq 0 "$repeats"); do   # run 0 warms up and is not counted
	echo "SELECT tagscrm.refresh(quiet => true)" | timed refresh "$r"
done
for r in $(seq 1 "$rebuild_repeats"); do
	echo "SELECT tagscrm.refresh(rebuild => true, quiet => true)" | timed refresh_rebuild "$r"
done
# A night after a day of business: a day's worth of new orders (orders / 730,
# 80 % to existing customers) written in statements of 1,000 rows, as an
# application would (each kept current by the triggers), then refresh()
# timed: the breakpoints move, so customers between the old and the new
# basis are re-scored.
day=$((orders / 730))
echo "a day of orders ($day), then refresh" >&2
for r in $(seq 1 "$repeats"); do
	run -c "DO \$\$ BEGIN FOR k IN 0..($day - 1) / 1000 LOOP
		INSERT INTO orders
		SELECT 2 * $orders + ($r - 1) * $day + i,
		       CASE WHEN u(i, 40 + $r) < 0.8 THEN 1 + floor(0.7 * $customers * u(i, 50 + $r))::bigint
		            ELSE 3 * $customers + ($r - 1) * $day + i END,
		       timestamptz '2025-12-31 00:00:00+00' + i * (interval '1 day' / ($day + 1)),
		       5 + floor(u(i, 60 + $r) * 100000) / 100
		  FROM generate_series(k * 1000 + 1, least((k + 1) * 1000, $day)) AS i;
	END LOOP; END \$\$"
	echo "SELECT tagscrm.refresh(quiet => true)" | timed refresh_after_day "$r"
done

# The plain-SQL way: recency in whole days to the same clock, frequency,
# monetary per customer straight from the orders; NTILE(5) scores; segment
# by comparison with the population mean (tagscrm's default basis).
echo "plain SQL: materialized view" >&2
run <<SQL
CREATE MATERIALIZED VIEW rfm_mv AS
WITH f AS (
	SELECT customer_id,
	       floor(extract(epoch FROM timestamptz '$clock' - max(ordered_at)) / 86400) AS recency,
	       count(*)::float8 AS frequency,
	       sum(amount)::float8 AS monetary
	  FROM orders GROUP BY customer_id),
s AS (
	SELECT f.*,
	       6 - ntile(5) OVER (ORDER BY recency) AS r_score,
	       ntile(5) OVER (ORDER BY frequency) AS f_score,
	       ntile(5) OVER (ORDER BY monetary) AS m_score,
	       recency < avg(recency) OVER () AS rh,
	       frequency > avg(frequency) OVER () AS fh,
	       monetary > avg(monetary) OVER () AS mh
	  FROM f)
SELECT customer_id, recency, frequency, monetary, r_score, f_score, m_score,
       CASE WHEN rh THEN CASE WHEN fh THEN CASE WHEN mh THEN 'important_value' ELSE 'general_value' END
                         ELSE CASE WHEN mh THEN 'important_develop' ELSE 'general_develop' END END
            ELSE CASE WHEN fh THEN CASE WHEN mh THEN 'important_keep' ELSE 'general_keep' END
                 ELSE CASE WHEN mh THEN 'important_retain' ELSE 'general_retain' END END END AS segment
  FROM s;
SQL
for par in 0 2; do
	for jit in off on; do
		for r in $(seq 0 "$repeats"); do
			printf 'SET max_parallel_workers_per_gather = %s;\nSET jit = %s;\nREFRESH MATERIALIZED VIEW rfm_mv;\n' "$par" "$jit" |
				timed "mv_par${par}_jit_$jit" "$r"
		done
	done
done

# sanity: the RFM tags tagscrm holds equal the segments of the view (same
# definitions: whole days to the clock, mean basis), for every buyer
run -c "CREATE TABLE sanity AS
SELECT count(*) FILTER (WHERE t.value IS DISTINCT FROM v.segment) AS differing, count(v.segment) AS view_rows,
       count(t.value) AS rfm_tags
  FROM rfm_mv v
  FULL JOIN (SELECT ct.customer_id, mt.value FROM tagscrm.customer_tag ct
               JOIN tagscrm.model_tag mt ON mt.tag_id = ct.tag_id AND mt.model = 'rfm') t
    ON t.customer_id = v.customer_id::text"

echo "COPY of $batch orders" >&2
run -c "CREATE TABLE hist_mark AS SELECT COALESCE(max(history_id), 0) AS before,
        (SELECT count(*) FROM tagscrm.customer_fact) AS customers FROM tagscrm.tag_history"
# A COPY of more than settings.bulk_rows rows (default 10,000) is applied
# by the background applier once it commits: the time from the end of the
# COPY until its queue entry is gone (facts and tags current) is recorded as
# apply_*.  Waiting for it also keeps the applier out of the next timing.
wait_applied() {   # name run
	local t0 t1
	t0=$(now)
	until [ "$(run -Atc 'SELECT count(*) FROM tagscrm.pending_customers')" = 0 ]; do sleep 0.05; done
	t1=$(now)
	run -c "INSERT INTO bench_times VALUES ('$1', $2, ($t1 - $t0) * 1000)"
	echo "  $1 run $2: $(awk "BEGIN { printf \"%.0f\", ($t1 - $t0) * 1000 }") ms" >&2
}
# alternate the two tables so that drift on the shared machine hits both
for r in $(seq 1 "$repeats"); do
	echo "\\copy orders_plain FROM '$tmp/batch$((2 * r - 1)).copy'" | timed copy_plain "$r"
	echo "\\copy orders FROM '$tmp/batch$((2 * r - 1)).copy'" | timed copy_watched "$r"
	wait_applied apply_watched "$r"
	echo "\\copy orders FROM '$tmp/batch$((2 * r)).copy'" | timed copy_watched_b "$r"
	wait_applied apply_watched_b "$r"
	echo "\\copy orders_plain FROM '$tmp/batch$((2 * r)).copy'" | timed copy_plain_b "$r"
done
# once more with everything done inside the statement (bulk_rows = NULL),
# for comparison: the COPY then carries the whole maintenance
run -c "UPDATE tagscrm.settings SET bulk_rows = NULL"
echo "\\copy orders FROM '$tmp/batch$((2 * repeats + 1)).copy'" | timed copy_in_statement 1
run -c "UPDATE tagscrm.settings SET bulk_rows = DEFAULT"
# sanity: after all the COPYs, the facts equal a plain recompute from orders
run -c "CREATE TABLE copy_sanity AS
SELECT count(*) AS differing_customers
  FROM (SELECT customer_id::text, count(*) AS n, sum(amount) AS total, max(ordered_at) AS last_at
          FROM orders GROUP BY 1) o
  FULL JOIN (SELECT customer_id, order_count, order_total, last_order_at FROM tagscrm.customer_fact
              WHERE order_count > 0) f USING (customer_id)
 WHERE (o.n, o.total, o.last_at) IS DISTINCT FROM (f.order_count, f.order_total, f.last_order_at)"

run <<SQL
\pset footer off
\echo
\echo 'refresh benchmark, scale $scale: median of $repeats runs (ms), client-side wall time'
SELECT (SELECT count(*) FROM tagscrm.customer_fact) AS customers,
       (SELECT count(*) FROM tagscrm.customer_fact WHERE order_count > 0) AS buyers,
       (SELECT count(*) FROM orders) AS orders, (SELECT count(*) FROM events) AS events,
       (SELECT count(*) FROM tagscrm.customer_day) AS customer_days,
       (SELECT count(*) FROM tagscrm.customer_tag) AS tags,
       current_setting('server_version') AS server, current_setting('shared_buffers') AS shared_buffers,
       current_setting('work_mem') AS work_mem;
\echo 'RFM segment tags vs the materialized view (differing must be 0):'
SELECT * FROM sanity;
CREATE TEMP TABLE med AS
SELECT what, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS ms, count(*) AS runs
  FROM bench_times WHERE run > 0 GROUP BY what;
\echo 'times (ms)'
SELECT what, round(ms::numeric) AS ms, runs FROM med ORDER BY what;
CREATE TEMP TABLE best_mv AS SELECT what, ms FROM med WHERE what LIKE 'mv%' ORDER BY ms LIMIT 1;
\echo 'ratios: plain best / ours (target: refresh >= 3)'
SELECT (SELECT what FROM best_mv) AS plain_best_setting,
       round((SELECT ms FROM best_mv)::numeric) AS plain_best_ms,
       round((SELECT ms FROM med WHERE what = 'refresh')::numeric) AS refresh_ms,
       round(((SELECT ms FROM best_mv) / (SELECT ms FROM med WHERE what = 'refresh'))::numeric, 2) AS refresh_ratio,
       round((SELECT ms FROM med WHERE what = 'refresh_after_day')::numeric) AS refresh_after_day_ms,
       round(((SELECT ms FROM best_mv) / (SELECT ms FROM med WHERE what = 'refresh_after_day'))::numeric, 2)
         AS refresh_after_day_ratio,
       round((SELECT ms FROM med WHERE what = 'refresh_rebuild')::numeric) AS rebuild_ms,
       round(((SELECT ms FROM best_mv) / (SELECT ms FROM med WHERE what = 'refresh_rebuild'))::numeric, 2) AS rebuild_ratio,
       round(((SELECT ms FROM best_mv) / (SELECT ms FROM bench_times WHERE what = 'watch_events'))::numeric, 2)
         AS watch_events_backfill_ratio;
\echo 'facts vs a plain recompute from orders after the COPYs (differing_customers must be 0):'
SELECT * FROM copy_sanity;
\echo 'COPY of $batch orders: rows/s, and with triggers as % of without (target >= 60 %);'
\echo 'applied_after_ms: from the end of the COPY until the background applier has brought facts and tags up to date'
WITH w AS (SELECT run, ms FROM bench_times WHERE what IN ('copy_watched', 'copy_watched_b')),
     p AS (SELECT run, ms FROM bench_times WHERE what IN ('copy_plain', 'copy_plain_b')),
     mw AS (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS ms, count(*) AS n FROM w),
     mp AS (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS ms, count(*) AS n FROM p)
SELECT round(mp.ms::numeric) AS plain_ms, round($batch / mp.ms * 1000) AS plain_rows_per_s,
       round(mw.ms::numeric) AS watched_ms, round($batch / mw.ms * 1000) AS watched_rows_per_s,
       round((100 * mp.ms / mw.ms)::numeric, 1) AS watched_pct_of_plain, mw.n AS copies_each,
       (SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric) FROM bench_times
         WHERE what LIKE 'apply_watched%') AS applied_after_ms,
       (SELECT round(ms::numeric) FROM bench_times WHERE what = 'copy_in_statement') AS in_statement_ms,
       (SELECT round((100 * mp.ms / ms)::numeric, 1) FROM bench_times WHERE what = 'copy_in_statement')
         AS in_statement_pct_of_plain,
       (SELECT count(*) FROM tagscrm.tag_history WHERE history_id > (SELECT before FROM hist_mark)) / (mw.n + 1)
         AS tag_changes_per_copy,
       ((SELECT count(*) FROM tagscrm.customer_fact) - (SELECT customers FROM hist_mark)) / (mw.n + 1) AS new_customers_per_copy
  FROM mw, mp;
SQL
