-- Rows tagscrm cannot use are refused by the statement that writes them,
-- whatever its size, with the column and the value; nothing already stored
-- is lost; no queued entry can block the others or the jobs; results do not
-- depend on the writing session's settings.
\set VERBOSITY default
\set SHOW_CONTEXT never
SET client_min_messages = warning;
SET tagscrm.clock_override = '2027-03-01 00:00:00+00';
CREATE TABLE orders (id serial PRIMARY KEY, customer_id text, paid_at timestamptz, amount numeric);
CREATE TABLE events (id serial PRIMARY KEY, customer_id text, at timestamptz, kind text);
INSERT INTO orders (customer_id, paid_at, amount) VALUES ('c1', '2027-02-01', 10), ('c2', '2027-02-02', 20);
SELECT tagscrm.watch_orders('orders', 'customer_id', 'paid_at', 'amount');
SELECT tagscrm.watch_events('events', 'customer_id', 'at', 'kind');
UPDATE tagscrm.settings SET bulk_rows = 100;
CREATE FUNCTION facts() RETURNS TABLE (customer_id text, order_count bigint, order_total numeric) LANGUAGE sql AS
	$$ SELECT customer_id, order_count, order_total FROM tagscrm.customer_fact WHERE order_count > 0 ORDER BY 1 $$;
-- the facts a plain-SQL recompute gives
CREATE FUNCTION truth() RETURNS TABLE (customer_id text, order_count bigint, order_total numeric) LANGUAGE sql AS
	$$ SELECT customer_id, count(*), sum(amount) FROM orders
	    WHERE customer_id <> '' AND isfinite(paid_at) GROUP BY 1 ORDER BY 1 $$;

-- 1. one bad row in a bulk statement (200 rows) used to be queued and then
--    fail at every apply, jamming the applier, apply_pending(), sweep() and
--    refresh(); now the statement is refused, as a small one always was
INSERT INTO orders (customer_id, paid_at, amount)
SELECT 'c' || (g % 7), CASE WHEN g = 150 THEN 'infinity' ELSE '2027-02-10'::timestamptz END, 1
  FROM generate_series(1, 200) g;
INSERT INTO orders (customer_id, paid_at, amount) VALUES ('c3', '-infinity', 1);
INSERT INTO orders (customer_id, paid_at, amount) VALUES ('', '2027-02-11', 1);
INSERT INTO orders (customer_id, paid_at, amount) VALUES (repeat('x', 300), '2027-02-11', 1);
INSERT INTO orders (customer_id, paid_at, amount) VALUES ('c3', '2027-02-11', 'NaN');
INSERT INTO events (customer_id, at, kind) VALUES ('c3', '2027-02-11', repeat('k', 300));
UPDATE orders SET paid_at = 'infinity' WHERE customer_id = 'c1';
SELECT count(*) AS queued FROM tagscrm.pending_changes;
SELECT * FROM facts();

-- rows written without triggers (a replica-mode load) are left out of a
-- rebuild instead of failing it, and such a row can be deleted
SET session_replication_role = replica;
INSERT INTO orders (customer_id, paid_at, amount) VALUES ('', '2027-02-12', 5), ('c4', 'infinity', 5), ('c4', '2027-02-12', 5);
SET session_replication_role = DEFAULT;
SELECT tagscrm.refresh(rebuild => true, quiet => true) > 0 AS rebuilt;
SELECT (SELECT array_agg(f) FROM facts() f) = (SELECT array_agg(t) FROM truth() t) AS facts_equal_truth;
DELETE FROM orders WHERE customer_id = '' OR NOT isfinite(paid_at);
SELECT tagscrm.sweep() >= 0 AS swept, tagscrm.refresh(quiet => true) > 0 AS refreshed;
SELECT (SELECT array_agg(f) FROM facts() f) = (SELECT array_agg(t) FROM truth() t) AS facts_equal_truth;

-- 2. a queued entry that fails anyway is set aside with its reason, and the
--    others are applied; apply_pending() tries it once more
INSERT INTO tagscrm.pending_customers (queued_at, queued_by, source, statement, customers, ats, details)
VALUES (now(), 'someone', 'orders', 'INSERT', '{c5}', '{2027-02-13}', '{not a number}');
INSERT INTO orders (customer_id, paid_at, amount) SELECT 'c6', '2027-02-14', 1 FROM generate_series(1, 150);
DO $$
BEGIN
	FOR i IN 1..600 LOOP   -- the background applier, at most a minute
		EXIT WHEN NOT EXISTS (SELECT FROM tagscrm.pending_changes WHERE failed_at IS NULL);
		PERFORM pg_sleep(0.1);
	END LOOP;
END $$;
SELECT statement, customers, failed_at IS NOT NULL AS set_aside, failure FROM tagscrm.pending_changes;
SELECT * FROM facts() WHERE customer_id IN ('c5', 'c6');
SELECT tagscrm.apply_pending() AS tried;
SELECT failure FROM tagscrm.pending_changes;
SELECT tagscrm.refresh(rebuild => true, quiet => true) > 0 AS rebuilt, count(*) AS left_queued
  FROM tagscrm.pending_changes;

-- 5. results do not depend on the writing session's settings: timestamp and
--    date columns are read in settings.time_zone (a rebuild agrees with the
--    triggers), float amounts as exact numbers whatever extra_float_digits
CREATE TABLE local_orders (customer_id bigint, paid_on timestamp, amount float8);
SELECT tagscrm.unwatch('orders');
SELECT tagscrm.watch_orders('local_orders', 'customer_id', 'paid_on', 'amount');
UPDATE tagscrm.settings SET time_zone = 'Asia/Shanghai';
SET TimeZone = 'America/Los_Angeles';
SET extra_float_digits = 3;
INSERT INTO local_orders VALUES (7, '2027-02-20 01:00', 0.1), (7, '2027-02-20 02:00', 0.1), (7, '2027-02-20 03:00', 0.1);
RESET extra_float_digits;
RESET TimeZone;
CREATE TABLE seen AS SELECT f.customer_id, f.first_order_at, f.order_total, d.day
  FROM tagscrm.customer_fact f JOIN tagscrm.customer_day d USING (customer_id) WHERE f.customer_id = '7';
SELECT first_order_at, order_total, day FROM seen;
SELECT tagscrm.refresh(rebuild => true, quiet => true) > 0 AS rebuilt;
SELECT count(*) AS differing FROM (
	(SELECT f.customer_id, f.first_order_at, f.order_total, d.day
	   FROM tagscrm.customer_fact f JOIN tagscrm.customer_day d USING (customer_id) WHERE f.customer_id = '7'
	 EXCEPT ALL SELECT * FROM seen)
	UNION ALL
	(SELECT * FROM seen EXCEPT ALL
	 SELECT f.customer_id, f.first_order_at, f.order_total, d.day
	   FROM tagscrm.customer_fact f JOIN tagscrm.customer_day d USING (customer_id) WHERE f.customer_id = '7')) x;

-- a money amount depends on lc_monetary: refused when watched, and when a
-- watched column becomes one
CREATE TABLE money_orders (customer_id bigint, paid_at timestamptz, amount money);
SELECT tagscrm.unwatch('local_orders');
SELECT tagscrm.watch_orders('money_orders', 'customer_id', 'paid_at', 'amount');
SELECT tagscrm.watch_orders('local_orders', 'customer_id', 'paid_on', 'amount');
ALTER TABLE local_orders ALTER COLUMN amount TYPE money USING amount::numeric::money;
INSERT INTO local_orders VALUES (8, '2027-02-21', 1);

UPDATE tagscrm.settings SET time_zone = DEFAULT, bulk_rows = DEFAULT;
SELECT tagscrm.unwatch('local_orders');
SELECT tagscrm.unwatch('events');
DROP TABLE orders, events, local_orders, money_orders, seen;
DROP FUNCTION facts(), truth();
-- leave a clean installation to the tests that follow
DROP EXTENSION tagscrm;
DROP SCHEMA tagscrm;
CREATE EXTENSION tagscrm;
