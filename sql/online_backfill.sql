-- A watch with backfill => false: the table is watched at once (its lock
-- held only to create the triggers), statements on watched orders and
-- events are queued while the backfill waits, and refresh(rebuild => true)
-- builds the facts while writes go on.  The result equals a backfill under a
-- lock and plain SQL over the tables.  (test/soak runs writers during the
-- rebuild itself.)
\set VERBOSITY terse
SET client_min_messages = warning;
SET tagscrm.clock_override = '2026-03-01 00:00:00+00';
CREATE TABLE ob_orders (cust text, at timestamptz, amount numeric);
INSERT INTO ob_orders SELECT 'c' || (g % 40), '2026-01-01'::timestamptz + g * interval '7 hours', 10 + g % 13
  FROM generate_series(1, 400) g;
CREATE TABLE ob_events (cust text, at timestamptz, kind text);
INSERT INTO ob_events SELECT 'c' || (g % 50), '2026-01-01'::timestamptz + g * interval '5 hours',
                             (ARRAY['view', 'cart', 'review'])[1 + g % 3]
  FROM generate_series(1, 600) g;
-- a row tagscrm cannot use, there before the watch
INSERT INTO ob_orders VALUES ('   ', '2026-02-01', 5);

-- NULL is neither
SELECT tagscrm.watch_orders('ob_orders', 'cust', 'at', 'amount', backfill => NULL);
SELECT tagscrm.watch_orders('ob_orders', 'cust', 'at', 'amount', backfill => false) IS NOT NULL AS watched;
SELECT tagscrm.watch_events('ob_events', 'cust', 'at', 'kind', backfill => false) IS NOT NULL AS watched;
SELECT role, backfill_pending FROM tagscrm.watched_table ORDER BY 1;
SELECT count(*) AS customers_with_facts FROM tagscrm.customer_fact;

-- while the backfill waits, a single-row statement is queued, not applied
BEGIN;
INSERT INTO ob_orders VALUES ('c1', '2026-02-28 10:00', 99);
UPDATE ob_events SET kind = 'cart' WHERE cust = 'c2' AND kind = 'view';
SELECT source, statement, customers FROM tagscrm.pending_customers ORDER BY pending_id;
SELECT count(*) AS c1_facts FROM tagscrm.customer_fact WHERE customer_id = 'c1';
COMMIT;
-- a row written now is checked as always
INSERT INTO ob_orders VALUES ('', '2026-02-28 11:00', 1);

-- the rebuild checks the rows already there: refused, nothing changed
SELECT tagscrm.refresh(rebuild => true, quiet => true);
SELECT role, backfill_pending FROM tagscrm.watched_table ORDER BY 1;
DELETE FROM ob_orders WHERE btrim(cust) = '';
SELECT tagscrm.refresh(rebuild => true, quiet => true) AS customers;
SELECT role, backfill_pending FROM tagscrm.watched_table ORDER BY 1;
SELECT tagscrm.apply_pending() >= 0 AS applied;
SELECT count(*) AS waiting FROM tagscrm.pending_customers;

-- from now on a statement applies its own rows again
BEGIN;
INSERT INTO ob_orders VALUES ('c3', '2026-02-28 12:00', 7);
SELECT count(*) AS queued FROM tagscrm.pending_customers;
SELECT order_count FROM tagscrm.customer_fact WHERE customer_id = 'c3';
COMMIT;
DELETE FROM ob_events WHERE cust = 'c4';

-- the facts equal plain SQL over the tables ...
SELECT count(*) AS order_differences FROM (
	(SELECT cust, count(*), sum(amount), min(at), max(at) FROM ob_orders GROUP BY 1
	 EXCEPT SELECT customer_id, order_count, order_total, first_order_at, last_order_at
	          FROM tagscrm.customer_fact WHERE order_count > 0)
	UNION ALL
	(SELECT customer_id, order_count, order_total, first_order_at, last_order_at
	   FROM tagscrm.customer_fact WHERE order_count > 0
	 EXCEPT SELECT cust, count(*), sum(amount), min(at), max(at) FROM ob_orders GROUP BY 1)) d;
SELECT count(*) AS event_differences FROM (
	(SELECT cust, kind, count(*) FROM ob_events GROUP BY 1, 2
	 EXCEPT SELECT customer_id, kind, events FROM tagscrm.customer_event_fact)
	UNION ALL
	(SELECT customer_id, kind, events FROM tagscrm.customer_event_fact
	 EXCEPT SELECT cust, kind, count(*) FROM ob_events GROUP BY 1, 2)) d;
-- ... and a backfill under a lock, tags included
CREATE TEMP TABLE kept_days AS SELECT * FROM tagscrm.customer_day;
CREATE TEMP TABLE kept_tags AS SELECT customer_id, tag_id, source FROM tagscrm.customer_tag;
SELECT tagscrm.refresh(rebuild => true, quiet => true) AS customers;
SELECT count(*) AS day_differences FROM (
	(SELECT * FROM kept_days EXCEPT SELECT * FROM tagscrm.customer_day)
	UNION ALL (SELECT * FROM tagscrm.customer_day EXCEPT SELECT * FROM kept_days)) d;
SELECT count(*) AS tag_differences FROM (
	(SELECT * FROM kept_tags EXCEPT SELECT customer_id, tag_id, source FROM tagscrm.customer_tag)
	UNION ALL (SELECT customer_id, tag_id, source FROM tagscrm.customer_tag EXCEPT SELECT * FROM kept_tags)) d;
SELECT count(*) > 0 AS has_tags FROM kept_tags;

SELECT tagscrm.unwatch('ob_events') IS NOT NULL AS unwatched;
SELECT tagscrm.unwatch('ob_orders') IS NOT NULL AS unwatched;
DROP TABLE ob_orders, ob_events;
