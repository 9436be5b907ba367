-- rule_verdicts(): many rules for many customers in one call, each result
-- checked against the same condition written by hand in plain SQL; text
-- customer ids; customers without any row; unknown results; windows and
-- next_change_at exactly at their bounds; errors.
DROP EXTENSION tagscrm CASCADE;
DROP SCHEMA tagscrm;
CREATE EXTENSION tagscrm;
SET tagscrm.clock_override = '2026-06-01 12:00:00+00';
SET client_min_messages = warning;
SET timezone = 'UTC';
\set VERBOSITY default
\set SHOW_CONTEXT never

CREATE TABLE b_orders (id serial PRIMARY KEY, who text, paid_at timestamptz, amount numeric);
CREATE TABLE b_events (id serial PRIMARY KEY, who text, at timestamptz, kind text, object text, seconds numeric);
CREATE INDEX ON b_orders (who);
CREATE INDEX ON b_events (who);
SELECT setseed(0.75);
INSERT INTO b_orders (who, paid_at, amount)
SELECT 'c' || (1 + floor(random() * 50)), '2026-06-01 12:00+00'::timestamptz - random() * interval '400 days',
       round((random() * 3000)::numeric, 2)
  FROM generate_series(1, 300);
INSERT INTO b_events (who, at, kind, object, seconds)
SELECT 'c' || (1 + floor(random() * 60)), '2026-06-01 12:00+00'::timestamptz - random() * interval '100 days',
       (ARRAY['view', 'read', 'consult', 'cart'])[1 + floor(random() * 4)],
       (ARRAY['wardrobe-guide', 'sofa-guide', NULL])[1 + floor(random() * 3)],
       CASE WHEN random() < 0.9 THEN floor(random() * 120) END
  FROM generate_series(1, 1500);
SELECT tagscrm.watch_orders('b_orders', 'who', 'paid_at', 'amount');
SELECT tagscrm.watch_events('b_events', 'who', 'at', 'kind', object => 'object', duration => 'seconds');

CREATE TABLE rules (n integer PRIMARY KEY, rule text, by_hand text);
INSERT INTO rules VALUES
(1, $$count(event 'read' where object = 'wardrobe-guide' and duration > 30 s) >= 1$$,
 $$EXISTS (SELECT FROM b_events e WHERE e.who = c.id AND e.kind = 'read' AND e.object = 'wardrobe-guide' AND e.seconds > 30)$$),
(2, $$count(event where object <> 'sofa-guide') >= 5$$,
 $$(SELECT count(*) FROM b_events e WHERE e.who = c.id AND e.object <> 'sofa-guide') >= 5$$),
(3, $$count(event 'view', from 60 days ago to 30 days ago) > 2 and count(event 'view', last 30 days) = 0$$,
 $$(SELECT count(*) FROM b_events e WHERE e.who = c.id AND e.kind = 'view' AND e.at > t.now - interval '60 days' AND e.at <= t.now - interval '30 days') > 2
   AND NOT EXISTS (SELECT FROM b_events e WHERE e.who = c.id AND e.kind = 'view' AND e.at > t.now - interval '30 days' AND e.at <= t.now)$$),
(4, $$sum(event.duration 'read' where duration >= 1 min, last 45 days) > 200 s$$,
 $$(SELECT sum(seconds) FROM b_events e WHERE e.who = c.id AND e.kind = 'read' AND e.seconds >= 60 AND e.at > t.now - interval '45 days' AND e.at <= t.now) > 200$$),
(5, $$avg(order.amount where amount > 500, last 200 days) > 1500$$,
 $$(SELECT avg(amount) FROM b_orders o WHERE o.who = c.id AND o.amount > 500 AND o.paid_at > t.now - interval '200 days' AND o.paid_at <= t.now) > 1500$$),
(6, $$min(order.amount) < 100 and max(order.amount, last 90 days) >= 2000$$,
 $$(SELECT min(amount) FROM b_orders o WHERE o.who = c.id) < 100
   AND (SELECT max(amount) FROM b_orders o WHERE o.who = c.id AND o.paid_at > t.now - interval '90 days' AND o.paid_at <= t.now) >= 2000$$),
(7, $$exists(order, from 300 days ago to 100 days ago) and not exists(order, last 100 days)$$,
 $$EXISTS (SELECT FROM b_orders o WHERE o.who = c.id AND o.paid_at > t.now - interval '300 days' AND o.paid_at <= t.now - interval '100 days')
   AND NOT EXISTS (SELECT FROM b_orders o WHERE o.who = c.id AND o.paid_at > t.now - interval '100 days' AND o.paid_at <= t.now)$$),
(8, $$count(event where kind in ('cart', 'consult') and object not in ('sofa-guide')) between 2 and 4$$,
 $$(SELECT count(*) FROM b_events e WHERE e.who = c.id AND e.kind IN ('cart', 'consult') AND e.object NOT IN ('sofa-guide')) BETWEEN 2 AND 4$$),
(9, $$avg(order.amount, last 30 days) > 1000 or count(event 'cart') > 3$$,
 $$(SELECT avg(amount) FROM b_orders o WHERE o.who = c.id AND o.paid_at > t.now - interval '30 days' AND o.paid_at <= t.now) > 1000
   OR (SELECT count(*) FROM b_events e WHERE e.who = c.id AND e.kind = 'cart') > 3$$),
(10, $$sum(order.amount) > 12000 or count(order) >= 9 or has_event('consult') and count(event) > 30$$,
 $$(SELECT sum(amount) FROM b_orders o WHERE o.who = c.id) > 12000 OR (SELECT count(*) FROM b_orders o WHERE o.who = c.id) >= 9
   OR EXISTS (SELECT FROM b_events e WHERE e.who = c.id AND e.kind = 'consult') AND (SELECT count(*) FROM b_events e WHERE e.who = c.id) > 30$$),
(11, $$days_since_last_order < 20 and total_paid > 5000$$,
 $$(SELECT t.now - max(paid_at) < interval '20 days' FROM b_orders o WHERE o.who = c.id)
   AND COALESCE((SELECT sum(amount) FROM b_orders o WHERE o.who = c.id), 0) > 5000$$);

-- every rule for c1 .. c70 (c61 .. c70 have no row anywhere) in one batch,
-- and by hand: per rule, customers true both ways, unknown both ways, and differences
CREATE FUNCTION compare_all(customers text[]) RETURNS TABLE (n integer, true_both bigint, unknown_both bigint, differ bigint)
LANGUAGE plpgsql AS $$
DECLARE
	r rules;
BEGIN
	CREATE TEMP TABLE v ON COMMIT DROP AS
	SELECT * FROM tagscrm.rule_verdicts(ARRAY(SELECT x.rule FROM rules x ORDER BY x.n), customers);
	FOR r IN SELECT * FROM rules ORDER BY rules.n LOOP
		RETURN QUERY EXECUTE format($q$
			WITH t AS (SELECT tagscrm.now() AS now),
			h AS (SELECT c.id, (SELECT %s FROM t) AS by_hand FROM unnest($1) c(id)),
			x AS (SELECT h.id, h.by_hand, %s = ANY (v.holding) AS yes, %s = ANY (v.unknown) AS unknown
			        FROM h LEFT JOIN v ON v.customer_id = h.id)
			SELECT %s, count(*) FILTER (WHERE yes AND by_hand), count(*) FILTER (WHERE unknown AND by_hand IS NULL),
			       count(*) FILTER (WHERE yes IS NULL OR yes <> COALESCE(by_hand, false) OR unknown <> (by_hand IS NULL))
			  FROM x$q$, r.by_hand, r.n, r.n, r.n)
			USING COALESCE(customers, ARRAY(SELECT f.customer_id FROM tagscrm.customer_fact f));
	END LOOP;
	DROP TABLE v;
END
$$;
SELECT * FROM compare_all(ARRAY(SELECT 'c' || g FROM generate_series(1, 70) g));
-- everyone (customers null): the customers with facts, same results
SELECT * FROM compare_all(NULL);
SELECT count(*) AS customers_everyone FROM tagscrm.rule_verdicts(ARRAY['count(order) > 0'], NULL);
-- a customer without rows, twice in the list, and a null id: one row, counts are 0, sums unknown
SELECT customer_id, holding, unknown, next_change_at
  FROM tagscrm.rule_verdicts(ARRAY['count(order) = 0', 'sum(order.amount) > 0', 'count(event, last 7 days) > 0'],
                             ARRAY['nobody', 'nobody', NULL]);
SELECT tagscrm.rule_values($$count(order) = 0 and sum(order.amount) is null and count(event 'view', last 7 days) = 0$$, 'nobody');

-- windows at their bounds: one view exactly 31 days ago, one order exactly now
INSERT INTO b_events (who, at, kind) VALUES ('edge', '2026-05-01 12:00+00', 'view');
INSERT INTO b_orders (who, paid_at, amount) VALUES ('edge', '2026-06-01 12:00+00', 10);
CREATE TABLE edge_rules (rule text);
INSERT INTO edge_rules VALUES ($$count(event 'view', last 30 days) = 0 and count(event 'view', from 60 days ago to 30 days ago) >= 1$$),
                              ($$count(order, last 1 day) = 1$$), ($$days_since_last_order < 1$$);
CREATE FUNCTION edge() RETURNS TABLE (at timestamptz, rule text, holds boolean, next_change_at timestamptz)
LANGUAGE sql AS $$
	SELECT tagscrm.now(), r.rule, v.holding = '{1}', v.next_change_at
	  FROM edge_rules r, tagscrm.rule_verdicts(ARRAY[r.rule], ARRAY['edge']) v ORDER BY 2
$$;
SELECT * FROM edge();
SET tagscrm.clock_override = '2026-06-02 11:59:59.999999+00';
SELECT * FROM edge();
SET tagscrm.clock_override = '2026-06-02 12:00:00+00';
SELECT * FROM edge();
SET tagscrm.clock_override = '2026-06-30 11:59:59.999999+00';
SELECT * FROM edge();
SET tagscrm.clock_override = '2026-06-30 12:00:00+00';
SELECT * FROM edge();
-- an event in the future enters the window when its time comes
SET tagscrm.clock_override = '2026-06-01 12:00:00+00';
INSERT INTO b_events (who, at, kind) VALUES ('edge', '2026-06-05 08:00+00', 'view');
SELECT * FROM edge();

-- next_change_at for everyone against the same moments computed by hand
WITH v AS (SELECT * FROM tagscrm.rule_verdicts(ARRAY[(SELECT rule FROM rules WHERE n = 3)], NULL)),
h AS (SELECT e.who, min(x) AS next_change_at
        FROM b_events e, LATERAL (VALUES (e.at + interval '30 days'), (e.at + interval '60 days'), (e.at)) w(x)
       WHERE e.kind = 'view' AND x > tagscrm.now() GROUP BY 1)
SELECT count(*) AS customers, count(*) FILTER (WHERE v.next_change_at IS NOT DISTINCT FROM h.next_change_at) AS same
  FROM v LEFT JOIN h ON h.who = v.customer_id;

-- errors: the rule's own, with position; nothing typed is run
\set VERBOSITY sqlstate
SELECT * FROM tagscrm.rule_verdicts(ARRAY[$$count(order) > 0$$, $$city = 'x'; DROP TABLE b_orders; --$$], NULL);
SELECT * FROM tagscrm.rule_verdicts(ARRAY[$$count(event 'x''); DROP TABLE b_events; --') > 0$$], ARRAY['c1']);
SELECT count(*), bool_and(holding = '{}') FROM tagscrm.rule_verdicts(ARRAY[$$has_tag('x''); DROP TABLE b_events; --')$$], NULL);
SELECT * FROM tagscrm.rule_verdicts(ARRAY['count(order) > 0', NULL], NULL);
SELECT * FROM tagscrm.rule_verdicts(NULL, NULL);
\set VERBOSITY default
SELECT (SELECT count(*) FROM b_orders) AS orders_still_there, (SELECT count(*) FROM b_events) AS events_still_there;
-- no rules: every customer, nothing holds
SELECT count(*), bool_and(holding = '{}') FROM tagscrm.rule_verdicts('{}', NULL);

-- bugfix: max_order_amount took one double of slot but used two (the value
-- and its count of orders), so its orders were counted in the next measure
SELECT count(*) AS customers,
       count(*) FILTER (WHERE (v ->> '1')::numeric IS DISTINCT FROM (SELECT max(amount) FROM b_orders o WHERE o.who = c.id)
                         OR (v ->> '2')::numeric <> (SELECT count(*) FROM b_events e WHERE e.who = c.id
                                                       AND e.at > tagscrm.now() - interval '30 days' AND e.at <= tagscrm.now())) AS differ
  FROM (SELECT 'c' || g AS id FROM generate_series(1, 70) g) c,
       LATERAL tagscrm.rule_values('max_order_amount > 0 and count(event, last 30 days) >= 0', c.id) v;

DROP FUNCTION compare_all(text[]), edge();
DROP TABLE rules, edge_rules, b_orders, b_events;

