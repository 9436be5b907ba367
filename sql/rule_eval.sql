-- tag_rule_eval(rule, customer): the brief's rules and every kind of measure,
-- each checked for every customer against the same condition written by hand
-- in plain SQL over the same tables.
DROP EXTENSION tagscrm CASCADE;
DROP SCHEMA tagscrm;
CREATE EXTENSION tagscrm;
SET tagscrm.clock_override = '2026-06-01 12:00:00+00';
SET client_min_messages = warning;
\set VERBOSITY default
\set SHOW_CONTEXT never

CREATE TABLE r_orders (id serial PRIMARY KEY, cust bigint, paid_at timestamptz, amount numeric);
CREATE TABLE r_events (id serial PRIMARY KEY, cust bigint, at timestamptz, kind text, object text, seconds integer);
CREATE TABLE r_customers (id bigint PRIMARY KEY, city text, gender text, born date);
SELECT setseed(0.5);
INSERT INTO r_customers SELECT g, (ARRAY['Shanghai', 'Beijing', 'Chengdu', NULL])[1 + g % 4], (ARRAY['female', 'male'])[1 + g % 2],
                               '1970-01-01'::date + (g * 523) % 18000 FROM generate_series(1, 120) g;
INSERT INTO r_orders (cust, paid_at, amount)
SELECT 1 + floor(random() * 100), '2026-06-01 12:00+00'::timestamptz - random() * interval '500 days', round((random() * 2000)::numeric, 2)
  FROM generate_series(1, 600);
INSERT INTO r_events (cust, at, kind, object, seconds)
SELECT 1 + floor(random() * 120), '2026-06-01 12:00+00'::timestamptz - random() * interval '90 days',
       (ARRAY['view', 'consult', 'register', 'read'])[1 + floor(random() * 4)],
       (ARRAY['wardrobe-guide', 'sofa-guide'])[1 + floor(random() * 2)], floor(random() * 120)
  FROM generate_series(1, 3000);
SELECT tagscrm.watch_orders('r_orders', 'cust', 'paid_at', 'amount');
SELECT tagscrm.watch_events('r_events', 'cust', 'at', 'kind', object => 'object', duration => 'seconds');
SELECT tagscrm.watch_customers('r_customers', 'id', attributes => ARRAY['city', 'gender'], birth_date => 'born');
SELECT tagscrm.create_tag_group('manual tags', 'manual');
SELECT tagscrm.create_tag('vip', 'manual tags'), tagscrm.create_tag('blacklist', 'manual tags');
SELECT tagscrm.add_tag_alias('VIP customer', 'vip');
SELECT tagscrm.tag_customer(g, 'vip') FROM generate_series(1, 120, 3) g;
SELECT tagscrm.tag_customer(g, 'blacklist') FROM generate_series(1, 120, 9) g;

CREATE TABLE rules (name text, rule text, by_hand text);
INSERT INTO rules VALUES
('high spender', $$sum(order.amount, last 365 days) >= 5000$$,
 $$COALESCE((SELECT sum(amount) FROM r_orders o WHERE o.cust = c.id AND o.paid_at > t.now - interval '365 days' AND o.paid_at <= t.now), 0) >= 5000
   AND EXISTS (SELECT FROM r_orders o WHERE o.cust = c.id AND o.paid_at > t.now - interval '365 days' AND o.paid_at <= t.now)$$),
('wardrobe interest', $$count(event 'read' where object = 'wardrobe-guide' and duration > 30 s) >= 1$$,
 $$EXISTS (SELECT FROM r_events e WHERE e.cust = c.id AND e.kind = 'read' AND e.object = 'wardrobe-guide' AND e.seconds > 30)$$),
('member', $$has_event('register')$$,
 $$EXISTS (SELECT FROM r_events e WHERE e.cust = c.id AND e.kind = 'register')$$),
('predicted churn', $$count(event 'view', from 60 days ago to 30 days ago) > 4 and count(event 'view', last 30 days) = 0$$,
 $$(SELECT count(*) FROM r_events e WHERE e.cust = c.id AND e.kind = 'view' AND e.at > t.now - interval '60 days' AND e.at <= t.now - interval '30 days') > 4
   AND NOT EXISTS (SELECT FROM r_events e WHERE e.cust = c.id AND e.kind = 'view' AND e.at > t.now - interval '30 days' AND e.at <= t.now)$$),
('high intent', $$count(event 'consult', last 14 days) >= 3 and order_count = 0$$,
 $$(SELECT count(*) FROM r_events e WHERE e.cust = c.id AND e.kind = 'consult' AND e.at > t.now - interval '14 days' AND e.at <= t.now) >= 3
   AND NOT EXISTS (SELECT FROM r_orders o WHERE o.cust = c.id)$$),
('city and age', $$city in ('Shanghai', 'Beijing') and age between 25 and 35$$,
 $$c.city IN ('Shanghai', 'Beijing') AND date_part('year', age((t.now AT TIME ZONE 'UTC')::date, c.born)) BETWEEN 25 AND 35$$),
('tags', $$has_tag('vip customer') and not has_tag('blacklist')$$,
 $$c.id % 3 = 1 AND c.id % 9 <> 1$$),
('models', $$lifecycle_stage = 'super' and customer_status in ('active', 'silent') or rfm_segment = 'important_value'$$,
 $$(SELECT count(*) FROM r_orders o WHERE o.cust = c.id) >= 5
   AND (SELECT t.now - max(paid_at) < interval '90 days' FROM r_orders o WHERE o.cust = c.id)   -- status: orders only
   OR tagscrm.model_tag_of(c.id::text, 'rfm') = 'important value customer'$$),
('facts', $$days_since_last_order < 30 and avg_order_value > 500 or active_days >= 40$$,
 $$(SELECT t.now - max(paid_at) < interval '30 days' AND avg(amount) > 500 FROM r_orders o WHERE o.cust = c.id)
   OR (SELECT count(DISTINCT d) FROM (SELECT (paid_at AT TIME ZONE 'UTC')::date FROM r_orders o WHERE o.cust = c.id
                                      UNION SELECT (at AT TIME ZONE 'UTC')::date FROM r_events e WHERE e.cust = c.id) x(d)) >= 40$$),
('max and min', $$max(event.duration 'view', last 7 days) >= 100 s or min(order.amount where amount > 10) < 12$$,
 $$(SELECT max(seconds) FROM r_events e WHERE e.cust = c.id AND e.kind = 'view' AND e.at > t.now - interval '7 days' AND e.at <= t.now) >= 100
   OR (SELECT min(amount) FROM r_orders o WHERE o.cust = c.id AND o.amount > 10) < 12$$);

-- per rule: customers where tag_rule_eval is true, where the hand-written SQL is true, and how many differ
CREATE FUNCTION compare(rule_name text) RETURNS TABLE (rule text, true_by_rule bigint, true_by_hand bigint, differ bigint)
LANGUAGE plpgsql AS $$
DECLARE
	r rules;
BEGIN
	SELECT * INTO r FROM rules WHERE name = rule_name;
	RETURN QUERY EXECUTE format($q$
		WITH t AS (SELECT tagscrm.now() AS now),
		cs AS (SELECT g AS id, cc.city, cc.born FROM generate_series(1, 120) g LEFT JOIN r_customers cc ON cc.id = g),
		x AS (SELECT c.id, tagscrm.tag_rule_eval(%L, c.id) IS TRUE AS by_rule, COALESCE((SELECT %s FROM t), false) AS by_hand
		        FROM cs c)
		SELECT %L, count(*) FILTER (WHERE by_rule), count(*) FILTER (WHERE by_hand), count(*) FILTER (WHERE by_rule <> by_hand)
		  FROM x$q$, r.rule, replace(r.by_hand, 'c.id', 'c.id'), r.name);
END
$$;
SELECT c.* FROM rules, LATERAL compare(rules.name) c ORDER BY 1;

-- the values behind one evaluation, keyed by measure id
SELECT tagscrm.rule_values($$count(event 'view', last 30 days) >= 0 and city = 'Chengdu' and has_tag('vip')$$, '3');
SELECT tagscrm.tag_rule_eval($$city = 'Nowhere'$$, 'no-such-customer');
SELECT tagscrm.tag_rule_eval($$city is null$$, 4);

-- rule errors come from the parser, with position; nothing typed is run
\set VERBOSITY sqlstate
SELECT tagscrm.tag_rule_eval($$sum(order.amount) >$$, 1);
SELECT tagscrm.tag_rule_eval($$city = 'x'; DROP TABLE r_orders; --$$, 1);
SELECT tagscrm.tag_rule_eval($$pg_sleep(10) > 0$$, 1);
SELECT tagscrm.tag_rule_eval($$city = 5$$, 1);
SELECT tagscrm.tag_rule_eval('city = ''x''', NULL::text);
\set VERBOSITY default
SELECT tagscrm.tag_rule_eval($$city = 'x') OR (1=1$$, 1);
SELECT count(*) AS orders_still_there FROM r_orders;

DROP FUNCTION compare(text);
DROP TABLE rules, r_orders, r_events, r_customers;
