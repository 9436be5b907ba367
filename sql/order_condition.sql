-- watch_orders with an order condition: only orders of some statuses count,
-- refunds (a refund status, or a negative amount) subtract from order_total
-- and are no purchase.  Every figure is compared with a plain-SQL
-- recomputation over the orders that count (ref_facts, ref_days below).
SET client_min_messages = warning;
CREATE TABLE co_orders (id serial PRIMARY KEY, cust text, at timestamptz, amount numeric, status text, n integer);
CREATE TABLE co_typed (id serial, cust text, at timestamptz, amount numeric, status integer, st text);

-- what a failed statement said: SQLSTATE, message, hint
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE s text; m text; h text;
BEGIN
	EXECUTE q;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT, h = PG_EXCEPTION_HINT;
	RETURN s || ': ' || m || ' / HINT: ' || h;
END $$;

-- bad conditions are refused when written, and nothing is watched
SELECT pg_temp.try(q) FROM (VALUES
	($$SELECT tagscrm.watch_orders('co_orders', 'cust', 'at', 'amount', status_column => 'state', counted_statuses => '{paid}')$$),
	($$SELECT tagscrm.watch_orders('co_typed', 'cust', 'at', 'amount', status_column => 'status', counted_statuses => '{paid}')$$),
	($$SELECT tagscrm.watch_orders('co_orders', 'cust', 'at', 'amount', status_column => 'status', counted_statuses => '{}')$$),
	($$SELECT tagscrm.watch_orders('co_orders', 'cust', 'at', 'amount', status_column => 'status')$$),
	($$SELECT tagscrm.watch_orders('co_orders', 'cust', 'at', 'amount', status_column => 'status', counted_statuses => '{paid,""}')$$),
	($$SELECT tagscrm.watch_orders('co_orders', 'cust', 'at', 'amount', status_column => 'status', counted_statuses => ARRAY['paid', NULL])$$),
	($$SELECT tagscrm.watch_orders('co_orders', 'cust', 'at', 'amount', status_column => 'status', counted_statuses => '{paid,shipped}', refund_statuses => '{refunded,shipped}')$$),
	($$SELECT tagscrm.watch_orders('co_orders', 'cust', 'at', 'amount', counted_statuses => '{paid}')$$)) v(q);
-- ... and so is a status column the watching role may not read
CREATE ROLE co_watcher;
GRANT tagscrm_admin TO co_watcher;
GRANT TRIGGER, SELECT (id, cust, at, amount) ON co_orders TO co_watcher;
SET ROLE co_watcher;
SELECT pg_temp.try($$SELECT tagscrm.watch_orders('co_orders', 'cust', 'at', 'amount', status_column => 'status', counted_statuses => '{paid}')$$);
RESET ROLE;
REVOKE ALL ON co_orders FROM co_watcher;
DROP ROLE co_watcher;
SELECT count(*) AS watched FROM tagscrm.watched_table;
-- the values are data, never SQL: a quote in a status is just a character
SELECT tagscrm.watch_orders('co_typed', 'cust', 'at', 'amount', status_column => 'st', counted_statuses => ARRAY['it''s paid', '{x}']);
INSERT INTO co_typed (cust, at, amount, st) VALUES ('t1', '2026-01-01', 10, 'it''s paid'), ('t1', '2026-01-02', 5, '{x}'), ('t1', '2026-01-03', 7, 'x');
SELECT customer_id, order_count, order_total FROM tagscrm.customer_fact WHERE customer_id = 't1';
SELECT tagscrm.unwatch('co_typed');

-- a hand-worked customer: paid 100 and shipped 50 are purchases, pending 30
-- and a NULL status are ignored, refunded 20 and a paid -10 are refunds:
-- 2 orders on 2 days, total 100 + 50 - 20 - 10 = 120
SELECT tagscrm.watch_orders('co_orders', 'cust', 'at', 'amount', status_column => 'status',
                            counted_statuses => ARRAY['paid', 'shipped'], refund_statuses => ARRAY['refunded']);
INSERT INTO co_orders (cust, at, amount, status) VALUES
	('h', '2026-01-05 10:00+00', 100, 'paid'), ('h', '2026-01-07 10:00+00', 50, 'shipped'),
	('h', '2026-01-09 10:00+00', 30, 'pending'), ('h', '2026-01-10 10:00+00', 40, NULL),
	('h', '2026-01-11 10:00+00', 20, 'refunded'), ('h', '2026-01-12 10:00+00', -10, 'paid');
SELECT customer_id, order_count, order_total, first_order_at, last_order_at FROM tagscrm.customer_fact WHERE customer_id = 'h';
SELECT day, orders FROM tagscrm.customer_day WHERE customer_id = 'h' ORDER BY day;
-- pending -> paid makes it a purchase; paid -> refunded turns 100 into -100
UPDATE co_orders SET status = 'paid' WHERE cust = 'h' AND status = 'pending';
UPDATE co_orders SET status = 'refunded' WHERE cust = 'h' AND amount = 100;
SELECT customer_id, order_count, order_total, first_order_at, last_order_at FROM tagscrm.customer_fact WHERE customer_id = 'h';
-- rule measures over order rows see the purchases only: 2 orders, 50 + 30
SELECT tagscrm.rule_values($$count(order, last 3650 days) >= 1 and sum(order.amount, last 3650 days) > 0$$, 'h');
SELECT count(*), sum(amount) FROM co_orders WHERE cust = 'h' AND status IN ('paid', 'shipped') AND amount >= 0;
DELETE FROM co_orders;
SELECT order_count, order_total, last_order_at FROM tagscrm.customer_fact WHERE customer_id = 'h';

-- the plain-SQL definition, from the condition watched_table holds
CREATE VIEW ref_rows AS
SELECT o.cust, o.at, o.amount,
       w.status_column IS NULL OR (o.status = ANY (w.counted_statuses) AND NOT COALESCE(o.amount < 0, false)) AS purchase
  FROM co_orders o, tagscrm.watched_table w
 WHERE w.role = 'orders' AND (w.status_column IS NULL OR o.status = ANY (w.counted_statuses || w.refund_statuses));
CREATE VIEW ref_facts AS
SELECT cust, count(*) FILTER (WHERE purchase) AS n, min(at) FILTER (WHERE purchase) AS first_at,
       max(at) FILTER (WHERE purchase) AS last_at,
       COALESCE(sum(CASE WHEN purchase THEN amount ELSE -abs(amount) END), 0) AS total
  FROM ref_rows GROUP BY cust;
CREATE VIEW ref_days AS
SELECT cust, (at AT TIME ZONE (SELECT s.time_zone FROM tagscrm.settings s))::date AS day, count(*) AS n,
       COALESCE(sum(amount), 0) AS amount
  FROM ref_rows WHERE purchase GROUP BY 1, 2;
-- rows of customer_fact / customer_day that differ from the definition
CREATE VIEW mismatches AS
SELECT count(*) AS n FROM (
	((SELECT cust, n, first_at, last_at, total FROM ref_facts WHERE n <> 0 OR total <> 0)
	 EXCEPT ALL
	 SELECT customer_id, order_count, first_order_at, last_order_at, order_total FROM tagscrm.customer_fact
	  WHERE order_count <> 0 OR order_total <> 0)
	UNION ALL
	(SELECT customer_id, order_count, first_order_at, last_order_at, order_total FROM tagscrm.customer_fact
	  WHERE order_count <> 0 OR order_total <> 0
	 EXCEPT ALL
	 SELECT cust, n, first_at, last_at, total FROM ref_facts WHERE n <> 0 OR total <> 0)
	UNION ALL
	(SELECT cust, n, NULL::timestamptz, NULL::timestamptz, (day - '2000-01-01') * 1e6 + amount FROM ref_days
	 EXCEPT ALL SELECT customer_id, orders, NULL, NULL, (day - '2000-01-01') * 1e6 + amount FROM tagscrm.customer_day
	             WHERE orders <> 0 OR amount <> 0)
	UNION ALL
	(SELECT customer_id, orders, NULL, NULL, (day - '2000-01-01') * 1e6 + amount FROM tagscrm.customer_day
	  WHERE orders <> 0 OR amount <> 0
	 EXCEPT ALL SELECT cust, n, NULL::timestamptz, NULL::timestamptz, (day - '2000-01-01') * 1e6 + amount FROM ref_days)) d;

-- a random mix of statements (inserts of several rows, updates of status,
-- amount, time or customer, deletes), each checked against the definition;
-- settings.bulk_rows = 3 sends the larger ones through the queue
UPDATE tagscrm.settings SET bulk_rows = 3;
SELECT setseed(0.1313);
CREATE FUNCTION pg_temp.random_status() RETURNS text LANGUAGE sql VOLATILE
RETURN (ARRAY['paid', 'shipped', 'pending', 'cancelled', 'refunded', NULL])[1 + floor(random() * 6)::int];
CREATE FUNCTION pg_temp.random_mix(statements integer) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
	bad integer := 0;
	k integer;
BEGIN
	FOR i IN 1..statements LOOP
		k := floor(random() * 6)::int;
		IF k <= 1 THEN
			INSERT INTO co_orders (cust, at, amount, status, n)
			SELECT 'c' || floor(random() * 12)::int, '2026-01-01'::timestamptz + random() * interval '60 days',
			       round((random() * 200 - 30)::numeric, 2), pg_temp.random_status(), i
			  FROM generate_series(1, 1 + floor(random() * 5)::int);
		ELSIF k = 2 THEN
			UPDATE co_orders SET status = pg_temp.random_status() WHERE id % 7 = floor(random() * 7)::int;
		ELSIF k = 3 THEN
			UPDATE co_orders SET amount = round((random() * 200 - 50)::numeric, 2), at = at + interval '1 day'
			 WHERE id % 9 = floor(random() * 9)::int;
		ELSIF k = 4 THEN
			UPDATE co_orders SET cust = 'c' || floor(random() * 12)::int WHERE id % 11 = floor(random() * 11)::int;
		ELSE
			DELETE FROM co_orders WHERE id % 10 = floor(random() * 10)::int;
		END IF;
		PERFORM tagscrm.apply_pending();
		bad := bad + (SELECT m.n FROM mismatches m);
	END LOOP;
	RETURN bad;
END $$;
SELECT pg_temp.random_mix(120) AS statements_with_mismatches;
-- the mix was not trivial: purchases, refunds and ignored rows all occur
SELECT count(*) FILTER (WHERE status IN ('paid', 'shipped') AND amount >= 0) > 5 AS purchases,
       count(*) FILTER (WHERE status = 'refunded' OR (status IN ('paid', 'shipped') AND amount < 0)) > 10 AS refunds,
       count(*) FILTER (WHERE status IS NULL OR status IN ('pending', 'cancelled')) > 10 AS ignored
  FROM co_orders;
-- a full rebuild gives the same facts as the increments
CREATE TEMP TABLE before_rebuild AS
SELECT customer_id, order_count, first_order_at, last_order_at, order_total FROM tagscrm.customer_fact;
SELECT tagscrm.refresh(rebuild => true, quiet => true) IS NOT NULL AS refreshed;
SELECT count(*) AS differ_after_rebuild FROM (
	(TABLE before_rebuild EXCEPT ALL SELECT customer_id, order_count, first_order_at, last_order_at, order_total FROM tagscrm.customer_fact)
	UNION ALL
	(SELECT customer_id, order_count, first_order_at, last_order_at, order_total FROM tagscrm.customer_fact EXCEPT ALL TABLE before_rebuild)) d;
SELECT n AS mismatches FROM mismatches;

-- watching again with another condition rebuilds the facts with it ...
SELECT tagscrm.watch_orders('co_orders', 'cust', 'at', 'amount', status_column => 'status', counted_statuses => ARRAY['shipped']);
SELECT status_column, counted_statuses, refund_statuses FROM tagscrm.watched_table WHERE role = 'orders';
SELECT n AS mismatches FROM mismatches;
SELECT pg_temp.random_mix(30) AS statements_with_mismatches;
-- ... and without one every row is an order worth its amount, as before
SELECT tagscrm.watch_orders('co_orders', 'cust', 'at', 'amount');
SELECT n AS mismatches FROM mismatches;
SELECT sum(order_count) = (SELECT count(*) FROM co_orders WHERE cust IS NOT NULL) AS every_row_an_order,
       sum(order_total) = (SELECT sum(amount) FROM co_orders WHERE cust IS NOT NULL) AS negative_amounts_summed
  FROM tagscrm.customer_fact;

-- a status column whose type changes after the watch stops the reads
DROP VIEW mismatches, ref_days, ref_facts, ref_rows;
SELECT tagscrm.watch_orders('co_orders', 'cust', 'at', 'amount', status_column => 'status', counted_statuses => ARRAY['paid']);
ALTER TABLE co_orders ALTER status TYPE integer USING length(status);
SELECT pg_temp.try($$SELECT tagscrm.refresh(rebuild => true, quiet => true)$$);

UPDATE tagscrm.settings SET bulk_rows = 10000;
ALTER TABLE co_orders ALTER status TYPE text;
SELECT tagscrm.unwatch('co_orders');
DROP TABLE co_orders, co_typed;
