-- The sample shop: 2,000 customers with a year and a half of orders and
-- behaviour events, generated deterministically.  tagscrm watches the tables,
-- fits a churn model, and keeps tags, RFM segments and churn risk current.
\set QUIET on
\pset footer off
SET client_min_messages = warning;
CREATE EXTENSION tagscrm;
\o /dev/null

CREATE TABLE customers (id bigint PRIMARY KEY, city text, gender text, born date);
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint, paid_at timestamptz, amount numeric(10,2));
CREATE TABLE events (id bigserial PRIMARY KEY, customer_id bigint, at timestamptz, kind text, object text, seconds integer);
CREATE INDEX ON orders (customer_id);
CREATE INDEX ON events (customer_id);
SELECT setseed(0.2026);
INSERT INTO customers
SELECT g, (ARRAY['Shanghai', 'Beijing', 'Hangzhou', 'Chengdu'])[1 + g % 4], (ARRAY['female', 'male'])[1 + g % 2],
       '1965-01-01'::date + (g * 7919) % 18000
  FROM generate_series(1, 2000) g;
-- each customer buys at a rate of their own and may drop out after any purchase
DO $$
DECLARE
	c integer;
	rate float8;
	dropout float8;
	spend float8;
	at timestamptz;
BEGIN
	FOR c IN 1 .. 2000 LOOP
		rate := -ln(1 - random()) * 0.3;
		spend := 20 + -ln(1 - random()) * 60;        -- a typical basket of their own
		dropout := random() * 0.5;
		at := '2025-01-01'::timestamptz + random() * interval '180 days';
		LOOP
			INSERT INTO orders (customer_id, paid_at, amount) VALUES (c, at, round((spend * (0.5 + random()))::numeric, 2));
			EXIT WHEN random() < dropout;
			at := at + (-ln(1 - random()) / GREATEST(rate, 0.02)) * interval '7 days';
			EXIT WHEN at >= '2026-06-01';
		END LOOP;
	END LOOP;
END
$$;
INSERT INTO events (customer_id, at, kind, object, seconds)
SELECT 1 + floor(random() * 2300), '2026-06-01'::timestamptz - random() * interval '120 days',
       (ARRAY['view', 'view', 'view', 'consult', 'register', 'read', 'review'])[1 + floor(random() * 7)],
       (ARRAY['wardrobe-guide', 'sofa-guide', 'home'])[1 + floor(random() * 3)], floor(random() * 120)
  FROM generate_series(1, 20000);

-- "now" is the end of the data, so the demo prints the same every day
SET tagscrm.clock_override = '2026-06-01 00:00:00+00';
SELECT tagscrm.watch_customers('customers', customer => 'id', attributes => ARRAY['city', 'gender'], birth_date => 'born');
SELECT tagscrm.watch_orders('orders', customer => 'customer_id', at => 'paid_at', amount => 'amount');
SELECT tagscrm.watch_events('events', customer => 'customer_id', at => 'at', kind => 'kind', object => 'object', duration => 'seconds');
SELECT tagscrm.churn_fit('shop', 'orders', 'customer_id', 'paid_at', 'amount', calibration_end => '2026-06-01');
UPDATE tagscrm.settings SET churn_model = 'shop';

-- a hand-made library next to the model groups
SELECT tagscrm.create_tag_group('interests', 'interest');
SELECT tagscrm.create_tag('wardrobe', 'interests', method => 'rule'), tagscrm.create_tag('vip', 'interests');
SELECT tagscrm.set_tag_rule('wardrobe', $$count(event 'read' where object = 'wardrobe-guide' and duration > 30 s) >= 1$$);
SELECT tagscrm.refresh(quiet => true, all_models => true);
SELECT tagscrm.enable_tag_rule('wardrobe');
SELECT tagscrm.tag_customer(g, 'vip', reason => 'top spender list') FROM generate_series(1, 2000, 97) g;
\o

\echo
\echo '== Customers, orders and events loaded, watched and scored'
SELECT count(*) AS customers, sum(orders) AS orders, sum(events) AS events FROM tagscrm.customer_overview;

\echo
\echo '== The fitted churn model (BG/NBD, Gamma-Gamma), weeks'
SELECT name, round(r::numeric, 3) AS r, round(alpha::numeric, 3) AS alpha, round(a::numeric, 3) AS a,
       round(b::numeric, 3) AS b, round(p::numeric, 2) AS p, round(q::numeric, 2) AS q, round(gamma::numeric, 2) AS gamma
  FROM tagscrm.churn_model;

\echo
\echo '== Segment sizes: RFM segments, lifecycle, status, churn risk, rule and hand tags'
SELECT group_name, tag, customers, percent_of_group
  FROM tagscrm.segment_sizes
 WHERE group_name IN ('RFM segment', 'lifecycle', 'customer status', 'churn risk', 'user level', 'interests')
 ORDER BY group_name, customers DESC;

\echo
\echo '== Ten customers, as a BI tool reads them (tagscrm.customer_overview)'
SELECT customer_id, orders, total_paid, recency_days AS recency, r_score AS r, f_score AS f, m_score AS m,
       rfm_segment, status, round(churn_probability::numeric, 2) AS churn, churn_risk, level
  FROM tagscrm.customer_overview ORDER BY customer_id::integer LIMIT 10;

\echo
\echo '== One customer for the service desk: the tags of tagscrm.customer_profile(98)'
SELECT t ->> 'group' AS "group", t ->> 'tag' AS tag, t ->> 'source' AS source, t ->> 'reason' AS reason
  FROM jsonb_array_elements(tagscrm.customer_profile(98) -> 'tags') t;
