#!/usr/bin/env bash
# test/bench/rule_batch_bench.sh: 20 realistic rule tags over every customer,
# tagscrm's batch evaluator (rule_verdicts, one pass per source) vs the same
# (customer, tag) sets written by hand in plain SQL from the base tables, in
# one run.  Plain SQL is tried as one pass of FILTER aggregates and as one
# query per rule, each with 0 and 2 parallel workers, JIT off and on; the
# best is the reference.  Both sides must produce identical sets (the script
# fails otherwise).  With WRITE_TAGS=1, the rule pass that also writes the
# tags (maintain_in_batches, batches of 50,000) is timed last and its tags
# checked against the same sets.  KEEP_DB=1 keeps the database; REUSE_DB=1
# times again on a kept one.  A plain variant that runs longer than
# PLAIN_TIMEOUT (default 600 s) is reported as such.
#
# Usage (from the repository root): PGHOST=... PGPORT=... [WRITE_TAGS=1] bash test/bench/rule_batch_bench.sh [customers]
# Needs a server with tagscrm installed (superuser: the clock is pinned with
# tagscrm.clock_override); creates and drops the database rule_batch_bench.
# Data are generated deterministically (hashint4): customers, 5 orders and 10
# events per customer on average.  Model tags (RFM, lifecycle, status) come
# from tagscrm.refresh(); the plain SQL reads them from tagscrm.customer_tag
# (as any SQL would have to), and computes everything else from the base
# tables.  Each figure is one run in milliseconds; ratio = ours / plain.
set -euo pipefail
customers="${1:-1000000}"
db=rule_batch_bench
now='2026-06-01 12:00:00+00'

[ -n "${KEEP_DB:-}${REUSE_DB:-}" ] || trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db"' EXIT
if [ -z "${REUSE_DB:-}" ]; then
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -d "$db" -v ON_ERROR_STOP=1 <<SQL
\timing on
SET client_min_messages = warning;
SET timezone = 'UTC';
SET tagscrm.clock_override = '$now';
CREATE EXTENSION tagscrm;
\echo == data
CREATE TABLE b_customers (id bigint PRIMARY KEY, city text, gender text, born date);
CREATE TABLE b_orders (id bigint PRIMARY KEY, cust bigint NOT NULL, paid_at timestamptz NOT NULL, amount numeric(10,2) NOT NULL);
CREATE TABLE b_events (id bigint PRIMARY KEY, cust bigint NOT NULL, at timestamptz NOT NULL, kind text NOT NULL,
                       object text, seconds integer);
-- watched while empty, loaded without the triggers, then one refresh(rebuild)
-- builds every fact and model tag (three backfills would each evaluate everyone)
SELECT tagscrm.watch_customers('b_customers', 'id', attributes => ARRAY['city', 'gender'], birth_date => 'born');
SELECT tagscrm.watch_orders('b_orders', 'cust', 'paid_at', 'amount');
SELECT tagscrm.watch_events('b_events', 'cust', 'at', 'kind', object => 'object', duration => 'seconds');
SET session_replication_role = replica;
INSERT INTO b_customers
SELECT i, (ARRAY['Shanghai', 'Beijing', 'Chengdu', 'Shenzhen', NULL])[1 + abs(hashint4(i::int)) % 5],
       (ARRAY['female', 'male', NULL])[1 + abs(hashint4(i::int + 7)) % 3],
       CASE WHEN i % 11 <> 0 THEN date '1950-01-01' + abs(hashint4(i::int + 13)) % 20000 END
  FROM generate_series(1, $customers) i;
-- orders: 70 % of the customers, over two years
INSERT INTO b_orders
SELECT i, 1 + abs(hashint4(i::int)) % ($customers * 7 / 10),
       timestamptz '$now' - make_interval(secs => abs(hashint4(i::int + 1)) % (730 * 86400)),
       (abs(hashint4(i::int + 2)) % 300000) / 100.0
  FROM generate_series(1, $customers * 5) i;
-- events: everyone, over 90 days (a third of the customers quiet for the last 30)
INSERT INTO b_events
SELECT i, c, timestamptz '$now' - make_interval(secs => (c % 3 = 0)::int * 30 * 86400 + abs(hashint4(i::int + 1)) % (90 * 86400)),
       (ARRAY['view', 'view', 'view', 'view', 'view', 'view', 'view', 'view', 'view', 'view',
              'read', 'read', 'read', 'read', 'consult', 'consult', 'cart', 'cart', 'cart', 'register'])[1 + abs(hashint4(i::int + 2)) % 20],
       (ARRAY['wardrobe-guide', 'sofa-guide', 'lamp-guide'])[1 + abs(hashint4(i::int + 3)) % 3],
       abs(hashint4(i::int + 4)) % 120
  FROM (SELECT i, 1 + abs(hashint4(i::int)) % $customers AS c FROM generate_series(1, $customers * 10) i) g;
RESET session_replication_role;
CREATE INDEX ON b_orders (cust);
CREATE INDEX ON b_events (cust);
VACUUM ANALYZE b_customers, b_orders, b_events;
SELECT (SELECT count(*) FROM b_customers) AS customers, (SELECT count(*) FROM b_orders) AS orders,
       (SELECT count(*) FROM b_events) AS events;

\echo == tagscrm: facts and model tags (refresh rebuild), hand tags
SELECT tagscrm.refresh(rebuild => true, quiet => true);
SELECT tagscrm.create_tag_group('manual tags', 'manual');
SELECT tagscrm.create_tag('vip', 'manual tags'), tagscrm.create_tag('blacklist', 'manual tags');
CREATE TABLE b_hand (customer_id text, tag text);
INSERT INTO b_hand SELECT id::text, 'vip' FROM b_customers WHERE id % 20 = 0
                   UNION ALL SELECT id::text, 'blacklist' FROM b_customers WHERE id % 60 = 0;
SELECT count(*) AS rejected FROM tagscrm.import_tags('b_hand');
VACUUM ANALYZE;

CREATE TABLE b_rules (n integer PRIMARY KEY, name text, rule text);
INSERT INTO b_rules VALUES
 (1, 'high spender', \$\$sum(order.amount, last 365 days) >= 5000\$\$),
 (2, 'wardrobe interest', \$\$count(event 'read' where object = 'wardrobe-guide' and duration > 30 s) >= 1\$\$),
 (3, 'member', \$\$has_event('register')\$\$),
 (4, 'predicted churn', \$\$count(event 'view', from 60 days ago to 30 days ago) > 4 and count(event 'view', last 30 days) = 0\$\$),
 (5, 'high intent', \$\$count(event 'consult', last 14 days) >= 3 and order_count = 0\$\$),
 (6, 'city and age', \$\$city in ('Shanghai', 'Beijing') and age between 25 and 35\$\$),
 (7, 'important value', \$\$rfm_segment = 'important_value'\$\$),
 (8, 'super and active', \$\$lifecycle_stage = 'super' and customer_status = 'active'\$\$),
 (9, 'vip not blacklisted', \$\$has_tag('vip') and not has_tag('blacklist')\$\$),
 (10, 'big total', \$\$total_paid >= 10000\$\$),
 (11, 'frequent', \$\$order_count >= 8\$\$),
 (12, 'recent buyer', \$\$days_since_last_order < 30\$\$),
 (13, 'lapsed non-member', \$\$days_since_last_order between 180 and 365 and not has_event('register')\$\$),
 (14, 'female Shanghai', \$\$gender = 'female' and city = 'Shanghai'\$\$),
 (15, 'guide reader', \$\$count(event 'read' where object in ('sofa-guide', 'lamp-guide'), last 90 days) >= 2\$\$),
 (16, 'cart abandoner', \$\$count(event 'cart', last 7 days) >= 1 and count(order, last 7 days) = 0\$\$),
 (17, 'big ticket', \$\$max(order.amount, last 180 days) > 1500\$\$),
 (18, 'premium basket', \$\$avg(order.amount where amount > 100) >= 1000\$\$),
 (19, 'outside target', \$\$not (age between 18 and 30) and city not in ('Shanghai')\$\$),
 (20, 'engaged', \$\$count(event, last 30 days) >= 10 or count(event 'view' where duration > 60 s, last 30 days) >= 5\$\$);

-- the same 20 rules by hand, one pass of FILTER aggregates per table
CREATE VIEW plain_one_pass AS
WITH t AS (SELECT timestamptz '$now' AS now),
o AS (SELECT o.cust,
             sum(o.amount) FILTER (WHERE o.paid_at > t.now - interval '365 days' AND o.paid_at <= t.now) AS paid365,
             count(*) AS orders, sum(o.amount) AS total, max(o.paid_at) AS last_paid,
             count(*) FILTER (WHERE o.paid_at > t.now - interval '7 days' AND o.paid_at <= t.now) AS orders7,
             max(o.amount) FILTER (WHERE o.paid_at > t.now - interval '180 days' AND o.paid_at <= t.now) AS max180,
             avg(o.amount) FILTER (WHERE o.amount > 100) AS avg100
        FROM b_orders o, t GROUP BY o.cust),
e AS (SELECT e.cust,
             count(*) FILTER (WHERE e.kind = 'read' AND e.object = 'wardrobe-guide' AND e.seconds > 30) AS wardrobe,
             count(*) FILTER (WHERE e.kind = 'register') AS registered,
             count(*) FILTER (WHERE e.kind = 'view' AND e.at > t.now - interval '60 days' AND e.at <= t.now - interval '30 days') AS views_old,
             count(*) FILTER (WHERE e.kind = 'view' AND e.at > t.now - interval '30 days' AND e.at <= t.now) AS views_new,
             count(*) FILTER (WHERE e.kind = 'consult' AND e.at > t.now - interval '14 days' AND e.at <= t.now) AS consult14,
             count(*) FILTER (WHERE e.kind = 'read' AND e.object IN ('sofa-guide', 'lamp-guide') AND e.at > t.now - interval '90 days' AND e.at <= t.now) AS reads90,
             count(*) FILTER (WHERE e.kind = 'cart' AND e.at > t.now - interval '7 days' AND e.at <= t.now) AS cart7,
             count(*) FILTER (WHERE e.at > t.now - interval '30 days' AND e.at <= t.now) AS events30,
             count(*) FILTER (WHERE e.kind = 'view' AND e.seconds > 60 AND e.at > t.now - interval '30 days' AND e.at <= t.now) AS long_views30
        FROM b_events e, t GROUP BY e.cust),
m AS (SELECT ct.customer_id, max(mt.value) FILTER (WHERE mt.model = 'rfm') AS rfm,
             max(mt.value) FILTER (WHERE mt.model = 'lifecycle') AS lifecycle, max(mt.value) FILTER (WHERE mt.model = 'status') AS status
        FROM tagscrm.customer_tag ct JOIN tagscrm.model_tag mt ON mt.tag_id = ct.tag_id
       WHERE mt.model IN ('rfm', 'lifecycle', 'status') GROUP BY 1),
h AS (SELECT ct.customer_id, bool_or(t.name = 'vip') AS vip, bool_or(t.name = 'blacklist') AS blacklist
        FROM tagscrm.customer_tag ct JOIN tagscrm.tag t ON t.tag_id = ct.tag_id WHERE t.name IN ('vip', 'blacklist') GROUP BY 1),
x AS (SELECT c.id::text AS customer_id, c.city, c.gender,
             date_part('year', age((t.now AT TIME ZONE 'UTC')::date, c.born)) AS age,
             extract(epoch FROM t.now - o.last_paid) / 86400 AS since_order,
             o.paid365, COALESCE(o.orders, 0) AS orders, COALESCE(o.total, 0) AS total, COALESCE(o.orders7, 0) AS orders7,
             o.max180, o.avg100, COALESCE(e.wardrobe, 0) AS wardrobe, COALESCE(e.registered, 0) AS registered,
             COALESCE(e.views_old, 0) AS views_old, COALESCE(e.views_new, 0) AS views_new, COALESCE(e.consult14, 0) AS consult14,
             COALESCE(e.reads90, 0) AS reads90, COALESCE(e.cart7, 0) AS cart7, COALESCE(e.events30, 0) AS events30,
             COALESCE(e.long_views30, 0) AS long_views30, m.rfm, m.lifecycle, m.status,
             COALESCE(h.vip, false) AS vip, COALESCE(h.blacklist, false) AS blacklist
        FROM b_customers c CROSS JOIN t LEFT JOIN o ON o.cust = c.id LEFT JOIN e ON e.cust = c.id
        LEFT JOIN m ON m.customer_id = c.id::text LEFT JOIN h ON h.customer_id = c.id::text)
SELECT x.customer_id, r.n FROM x CROSS JOIN LATERAL (VALUES
	(1, x.paid365 >= 5000), (2, x.wardrobe >= 1), (3, x.registered > 0), (4, x.views_old > 4 AND x.views_new = 0),
	(5, x.consult14 >= 3 AND x.orders = 0), (6, x.city IN ('Shanghai', 'Beijing') AND x.age BETWEEN 25 AND 35),
	(7, x.rfm = 'important_value'), (8, x.lifecycle = 'super' AND x.status = 'active'), (9, x.vip AND NOT x.blacklist),
	(10, x.total >= 10000), (11, x.orders >= 8), (12, x.since_order < 30),
	(13, x.since_order BETWEEN 180 AND 365 AND x.registered = 0), (14, x.gender = 'female' AND x.city = 'Shanghai'),
	(15, x.reads90 >= 2), (16, x.cart7 >= 1 AND x.orders7 = 0), (17, x.max180 > 1500), (18, x.avg100 >= 1000),
	(19, NOT (x.age BETWEEN 18 AND 30) AND x.city NOT IN ('Shanghai')),
	(20, x.events30 >= 10 OR x.long_views30 >= 5)) r(n, holds)
 WHERE r.holds;

-- the same, one query per rule
CREATE VIEW plain_per_rule AS
WITH t AS (SELECT timestamptz '$now' AS now)
SELECT o.cust::text AS customer_id, 1 AS n FROM b_orders o, t WHERE o.paid_at > t.now - interval '365 days' AND o.paid_at <= t.now
 GROUP BY o.cust HAVING sum(o.amount) >= 5000
UNION ALL SELECT DISTINCT e.cust::text, 2 FROM b_events e WHERE e.kind = 'read' AND e.object = 'wardrobe-guide' AND e.seconds > 30
UNION ALL SELECT DISTINCT e.cust::text, 3 FROM b_events e WHERE e.kind = 'register'
UNION ALL SELECT e.cust::text, 4 FROM b_events e, t WHERE e.kind = 'view' AND e.at > t.now - interval '60 days'
 GROUP BY e.cust HAVING count(*) FILTER (WHERE e.at <= t.now - interval '30 days') > 4
                    AND count(*) FILTER (WHERE e.at > t.now - interval '30 days' AND e.at <= t.now) = 0
UNION ALL SELECT e.cust::text, 5 FROM b_events e, t WHERE e.kind = 'consult' AND e.at > t.now - interval '14 days' AND e.at <= t.now
 GROUP BY e.cust HAVING count(*) >= 3 AND NOT EXISTS (SELECT FROM b_orders o WHERE o.cust = e.cust)
UNION ALL SELECT c.id::text, 6 FROM b_customers c, t WHERE c.city IN ('Shanghai', 'Beijing')
   AND date_part('year', age((t.now AT TIME ZONE 'UTC')::date, c.born)) BETWEEN 25 AND 35
UNION ALL SELECT ct.customer_id, 7 FROM tagscrm.customer_tag ct JOIN tagscrm.model_tag mt ON mt.tag_id = ct.tag_id
 WHERE mt.model = 'rfm' AND mt.value = 'important_value'
UNION ALL SELECT ct.customer_id, 8 FROM tagscrm.customer_tag ct JOIN tagscrm.model_tag mt ON mt.tag_id = ct.tag_id
 WHERE mt.model = 'lifecycle' AND mt.value = 'super'
   AND EXISTS (SELECT FROM tagscrm.customer_tag c2 JOIN tagscrm.model_tag m2 ON m2.tag_id = c2.tag_id
                WHERE c2.customer_id = ct.customer_id AND m2.model = 'status' AND m2.value = 'active')
UNION ALL SELECT ct.customer_id, 9 FROM tagscrm.customer_tag ct JOIN tagscrm.tag g ON g.tag_id = ct.tag_id WHERE g.name = 'vip'
   AND NOT EXISTS (SELECT FROM tagscrm.customer_tag c2 JOIN tagscrm.tag g2 ON g2.tag_id = c2.tag_id
                    WHERE c2.customer_id = ct.customer_id AND g2.name = 'blacklist')
UNION ALL SELECT o.cust::text, 10 FROM b_orders o GROUP BY o.cust HAVING sum(o.amount) >= 10000
UNION ALL SELECT o.cust::text, 11 FROM b_orders o GROUP BY o.cust HAVING count(*) >= 8
UNION ALL SELECT o.cust::text, 12 FROM b_orders o, t GROUP BY o.cust, t.now HAVING extract(epoch FROM t.now - max(o.paid_at)) / 86400 < 30
UNION ALL SELECT o.cust::text, 13 FROM b_orders o, t GROUP BY o.cust, t.now
 HAVING extract(epoch FROM t.now - max(o.paid_at)) / 86400 BETWEEN 180 AND 365
    AND NOT EXISTS (SELECT FROM b_events e WHERE e.cust = o.cust AND e.kind = 'register')
UNION ALL SELECT c.id::text, 14 FROM b_customers c WHERE c.gender = 'female' AND c.city = 'Shanghai'
UNION ALL SELECT e.cust::text, 15 FROM b_events e, t WHERE e.kind = 'read' AND e.object IN ('sofa-guide', 'lamp-guide')
   AND e.at > t.now - interval '90 days' AND e.at <= t.now GROUP BY e.cust HAVING count(*) >= 2
UNION ALL SELECT DISTINCT e.cust::text, 16 FROM b_events e, t WHERE e.kind = 'cart' AND e.at > t.now - interval '7 days' AND e.at <= t.now
   AND NOT EXISTS (SELECT FROM b_orders o WHERE o.cust = e.cust AND o.paid_at > t.now - interval '7 days' AND o.paid_at <= t.now)
UNION ALL SELECT o.cust::text, 17 FROM b_orders o, t WHERE o.paid_at > t.now - interval '180 days' AND o.paid_at <= t.now
 GROUP BY o.cust HAVING max(o.amount) > 1500
UNION ALL SELECT o.cust::text, 18 FROM b_orders o WHERE o.amount > 100 GROUP BY o.cust HAVING avg(o.amount) >= 1000
UNION ALL SELECT c.id::text, 19 FROM b_customers c, t
 WHERE NOT (date_part('year', age((t.now AT TIME ZONE 'UTC')::date, c.born)) BETWEEN 18 AND 30) AND c.city NOT IN ('Shanghai')
UNION ALL SELECT e.cust::text, 20 FROM b_events e, t WHERE e.at > t.now - interval '30 days' AND e.at <= t.now GROUP BY e.cust
 HAVING count(*) >= 10 OR count(*) FILTER (WHERE e.kind = 'view' AND e.seconds > 60) >= 5;

SQL
fi

uptime
echo "== timing (one run each)"
psql -X -q -d "$db" -v ON_ERROR_STOP=1 <<SQL
SET client_min_messages = warning;
SET timezone = 'UTC';
SET tagscrm.clock_override = '$now';
SET work_mem = '256MB';
DROP TABLE IF EXISTS bench_times, reference, result;
CREATE TABLE bench_times (method text, ms float8, pairs bigint);
CREATE OR REPLACE FUNCTION timed(method text, query text, settings text) RETURNS void LANGUAGE plpgsql AS \$f\$
DECLARE
	t0 timestamptz;
	n bigint;
	s text;
BEGIN
	FOREACH s IN ARRAY string_to_array(settings, ';') LOOP
		EXECUTE s;
	END LOOP;
	DROP TABLE IF EXISTS result;
	t0 := clock_timestamp();
	BEGIN
		EXECUTE 'CREATE UNLOGGED TABLE result AS ' || query;
	EXCEPTION WHEN query_canceled THEN
		INSERT INTO bench_times VALUES (method || ' (stopped at the timeout)', 1000 * extract(epoch FROM clock_timestamp() - t0), NULL);
		RETURN;
	END;
	INSERT INTO bench_times VALUES (method, 1000 * extract(epoch FROM clock_timestamp() - t0),
	                                (SELECT count(*) FROM result));
	-- every method must give the same (customer, rule) set
	IF to_regclass('reference') IS NULL THEN
		ALTER TABLE result RENAME TO reference;
	ELSIF EXISTS (SELECT * FROM result EXCEPT SELECT * FROM reference)
	   OR EXISTS (SELECT * FROM reference EXCEPT SELECT * FROM result) THEN
		RAISE EXCEPTION '% gives a different set of (customer, tag) pairs', method;
	END IF;
END
\$f\$;

-- each variant its own statement, so that each gets its own statement_timeout
SET statement_timeout = ${PLAIN_TIMEOUT:-600}000;
SELECT timed('tagscrm rule_verdicts (C batch, one pass per source)',
             'SELECT v.customer_id, h.n FROM tagscrm.rule_verdicts(ARRAY(SELECT rule FROM b_rules ORDER BY n), NULL) v, unnest(v.holding) h(n)',
             'SET max_parallel_workers_per_gather = 0;SET jit = off');
SELECT format('SELECT timed(%L, %L, %L)', format('plain SQL, %s, %s workers, jit %s', q, w, j), format('SELECT * FROM %s', q),
              format('SET max_parallel_workers_per_gather = %s;SET jit = %s', w, j))
  FROM unnest(ARRAY['plain_per_rule', 'plain_one_pass']) WITH ORDINALITY q(q, qi), unnest(ARRAY[2, 0]) w,
       unnest(ARRAY['off', 'on']) j
 ORDER BY qi, w DESC, j \gexec
RESET statement_timeout;
SQL

[ -n "${WRITE_TAGS:-}" ] && echo "== the rule pass writing the tags (maintain_in_batches), checked against the same sets"
psql -X -q -d "$db" -v ON_ERROR_STOP=1 -v write_tags="${WRITE_TAGS:-0}" <<SQL
\if :write_tags
SET client_min_messages = warning;
SET timezone = 'UTC';
SET tagscrm.clock_override = '$now';
SELECT tagscrm.create_tag_group('rule tags', 'behaviour');
SELECT tagscrm.create_tag(name, 'rule tags', method => 'rule') FROM b_rules ORDER BY n;
SELECT tagscrm.set_tag_rule(name, rule) FROM b_rules ORDER BY n;
UPDATE tagscrm.tag_rule SET enabled = true;
CREATE FUNCTION apply_timed() RETURNS void LANGUAGE plpgsql AS \$f\$
DECLARE
	t0 timestamptz := clock_timestamp();
BEGIN
	PERFORM tagscrm.maintain_in_batches('rules', false, true, lock_rows => true, stages => 'rules');
	INSERT INTO bench_times VALUES ('tagscrm maintain_in_batches rules (verdicts + tag writes + history)',
	                                1000 * extract(epoch FROM clock_timestamp() - t0),
	                                (SELECT count(*) FROM tagscrm.customer_tag WHERE source = 'rule'));
	IF EXISTS (SELECT ct.customer_id, r.n FROM tagscrm.customer_tag ct JOIN tagscrm.tag t USING (tag_id)
	             JOIN b_rules r ON r.name = t.name WHERE ct.source = 'rule' EXCEPT SELECT * FROM reference)
	   OR EXISTS (SELECT * FROM reference EXCEPT SELECT ct.customer_id, r.n FROM tagscrm.customer_tag ct
	               JOIN tagscrm.tag t USING (tag_id) JOIN b_rules r ON r.name = t.name WHERE ct.source = 'rule') THEN
		RAISE EXCEPTION 'the rule tags differ from the hand-written sets';
	END IF;
END
\$f\$;
SELECT apply_timed();
\endif
\pset footer off
\echo
\echo pairs per rule:
SELECT r.n, r.name, count(x.*) AS customers FROM b_rules r LEFT JOIN reference x ON x.n = r.n GROUP BY 1, 2 ORDER BY 1;
\echo results (ratio = ours / best plain SQL; < 1: ours is faster):
WITH best AS (SELECT min(ms) AS ms FROM bench_times WHERE method LIKE 'plain%' AND pairs IS NOT NULL)
SELECT b.method, round(b.ms::numeric, 0) AS ms, b.pairs, round((b.ms / best.ms)::numeric, 3) AS ratio_to_best_plain
  FROM bench_times b, best ORDER BY b.method LIKE 'plain%', b.ms;
SQL
uptime
