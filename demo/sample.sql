-- The sample shop: 2,000 registered customers (1,800 of whom have bought)
-- with a year and a half of orders and behaviour events, generated
-- deterministically.  tagscrm watches the tables, fits a churn model, and
-- keeps tags, RFM segments and churn risk current.  Every figure printed
-- below is explained next to it; test/docs/demo_check.sql recomputes each one
-- in plain SQL.
\set QUIET on
\pset footer off
SET client_min_messages = warning;
CREATE EXTENSION tagscrm;
\o /dev/null

CREATE TABLE customers (id bigint PRIMARY KEY, city text, gender text, born date);
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint, paid_at timestamptz, amount numeric(10,2),
                     status text NOT NULL DEFAULT 'paid');
CREATE TABLE events (id bigserial PRIMARY KEY, customer_id bigint, at timestamptz, kind text, object text, seconds integer);
CREATE INDEX ON orders (customer_id);
CREATE INDEX ON events (customer_id);
SELECT setseed(0.2026);
INSERT INTO customers
SELECT g, (ARRAY['Shanghai', 'Beijing', 'Hangzhou', 'Chengdu'])[1 + g % 4], (ARRAY['female', 'male'])[1 + g % 2],
       '1965-01-01'::date + (g * 7919) % 18000
  FROM generate_series(1, 2000) g;
-- customers 1 to 1,800 buy: each at a rate of their own (0.3 orders a week on
-- average), with a typical basket of their own (80 on average), and after
-- each order they may drop out (a chance of 25 % on average); customers
-- 1,801 to 2,000 have registered and browse, but have not bought yet
DO $$
DECLARE
	c integer;
	rate float8;
	dropout float8;
	spend float8;
	at timestamptz;
BEGIN
	FOR c IN 1 .. 1800 LOOP
		rate := -ln(1 - random()) * 0.3;
		spend := 20 + -ln(1 - random()) * 60;
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
-- as in a real shop, some orders are cancelled (every 23rd) and some paid
-- ones partly refunded later (every 31st: half its amount, 5 days on, a row
-- of its own with status 'refunded')
UPDATE orders SET status = 'cancelled' WHERE id % 23 = 0;
INSERT INTO orders (customer_id, paid_at, amount, status)
SELECT customer_id, paid_at + interval '5 days', round(amount / 2, 2), 'refunded'
  FROM orders WHERE id % 31 = 0 AND status = 'paid' AND paid_at + interval '5 days' < '2026-06-01' ORDER BY id;
-- 20,000 behaviour events of the 2,000 customers over the last 120 days
INSERT INTO events (customer_id, at, kind, object, seconds)
SELECT 1 + floor(random() * 2000), '2026-06-01'::timestamptz - random() * interval '120 days',
       (ARRAY['view', 'view', 'view', 'consult', 'register', 'read', 'review'])[1 + floor(random() * 7)],
       (ARRAY['wardrobe-guide', 'sofa-guide', 'home'])[1 + floor(random() * 3)], floor(random() * 120)
  FROM generate_series(1, 20000);

-- "now" is the end of the data, so the demo prints the same every day
SET tagscrm.clock_override = '2026-06-01 00:00:00+00';
SELECT tagscrm.watch_customers('customers', customer => 'id', attributes => ARRAY['city', 'gender'], birth_date => 'born');
-- paid orders count; a refund subtracts from the amount paid; cancelled ones are ignored
SELECT tagscrm.watch_orders('orders', customer => 'customer_id', at => 'paid_at', amount => 'amount',
                            status_column => 'status', counted_statuses => '{paid}', refund_statuses => '{refunded}');
SELECT tagscrm.watch_events('events', customer => 'customer_id', at => 'at', kind => 'kind', object => 'object', duration => 'seconds');
SELECT tagscrm.churn_fit('shop', 'orders', 'customer_id', 'paid_at', 'amount', calibration_end => '2026-06-01');
UPDATE tagscrm.settings SET churn_model = 'shop';

-- a hand-made library next to the model groups: a rule tag and a hand tag
SELECT tagscrm.create_tag_group('interests', 'interest');
SELECT tagscrm.create_tag('wardrobe', 'interests', method => 'rule',
                          description => 'read the wardrobe guide for more than 30 seconds');
SELECT tagscrm.create_tag('vip', 'interests', description => 'chosen by hand: the 20 customers who paid the most');
SELECT tagscrm.set_tag_rule('wardrobe', $$count(event 'read' where object = 'wardrobe-guide' and duration > 30 s) >= 1$$);
SELECT tagscrm.refresh(quiet => true, all_models => true);
SELECT tagscrm.enable_tag_rule('wardrobe');
SELECT tagscrm.tag_customer(customer_id, 'vip', reason => 'one of the 20 customers who paid the most')
  FROM (SELECT customer_id FROM tagscrm.customer_overview ORDER BY total_paid DESC, customer_id LIMIT 20) top;
\o

\echo
\echo '== The shop: customers, orders and behaviour events (views, reads, consultations, reviews)'
SELECT count(*) AS customers, count(*) FILTER (WHERE orders > 0) AS "with an order",
       sum(orders) AS orders, sum(events) AS events
  FROM tagscrm.customer_overview;

\echo
\echo '== Which orders count: tagscrm.watch_orders(..., status_column => ''status'', counted_statuses => ''{paid}'', refund_statuses => ''{refunded}'')'
\echo 'Paid orders are purchases; a refund row subtracts its amount from the amount paid but is no purchase; cancelled orders are ignored.'
SELECT status, count(*) AS rows, sum(amount) AS amount,
       CASE status WHEN 'paid' THEN 'purchases: counted, amount added' WHEN 'refunded' THEN 'refunds: amount subtracted'
                   ELSE 'ignored' END AS "what tagscrm does"
  FROM orders GROUP BY status ORDER BY status DESC;
SELECT sum(orders) AS "orders counted", sum(total_paid) AS "amount paid (net of refunds)" FROM tagscrm.customer_overview;

\echo
\echo '== The churn model fitted on the orders (periods of one week)'
\echo 'MBG/NBD (the default kind of churn_fit) says how often customers buy and when they stop; Gamma-Gamma how much they spend per order.'
SELECT parameter, value, meaning
  FROM tagscrm.churn_model m, LATERAL (VALUES
	(1, 'r, alpha', round(m.r::numeric, 3) || ', ' || round(m.alpha::numeric, 3),
	 format('while a customer still buys, they buy at a rate of their own; the rates average r / alpha = %s orders a week (one every %s weeks)',
	        round((m.r / m.alpha)::numeric, 2), round((m.alpha / m.r)::numeric, 1))),
	(2, 'r', round(m.r::numeric, 3)::text,
	 CASE WHEN m.r < 1 THEN 'below 1: those rates differ widely between customers (many slow buyers, a few very frequent ones)'
	      ELSE '1 or more: customers buy at fairly similar rates' END),
	(3, 'a, b', round(m.a::numeric, 3) || ', ' || round(m.b::numeric, 3),
	 format('after each order, the first included, a customer may stop buying for good; that chance averages a / (a + b) = %s %%',
	        round((100 * m.a / (m.a + m.b))::numeric, 1))),
	(4, 'p', round(m.p::numeric, 2)::text,
	 format('a customer''s order values vary around their own average by about 1 / sqrt(p) = %s %%',
	        round((100 / sqrt(m.p))::numeric))),
	(5, 'q, gamma', round(m.q::numeric, 2) || ', ' || round(m.gamma::numeric, 2),
	 format('customers'' own average order values differ; across customers they average p * gamma / (q - 1) = %s',
	        round((m.p * m.gamma / (m.q - 1))::numeric, 2)))) v(n, parameter, value, meaning)
 ORDER BY v.n;

\echo
\echo '== Can the churn model be trusted? Fitted on the orders up to 2025-12-01, checked on the 26 weeks after'
\echo 'customers: buyers by their repeat orders up to 2025-12-01 (days with an order after the first; 7+ = seven or more).'
\echo 'actual / predicted: their mean days with an order from 2025-12-01 to 2026-06-01, and what the model predicted.'
\echo 'Close figures mean the expected purchases, and the churn risk built on them, hold. auc: the chance that a customer who'
\echo 'bought again had a higher P(alive) than one who did not (0.5 = a coin, 1 = always). MBG/NBD lets a one-time buyer drop'
\echo 'out too, so a long silence after one order counts as risk (BG/NBD, kind => ''bgnbd'', gives them all P(alive) = 1).'
SELECT bucket AS repeat_orders, customers, round(actual_mean::numeric, 2) AS actual,
       round(predicted_mean::numeric, 2) AS predicted, round(auc::numeric, 3) AS auc
  FROM tagscrm.churn_validate('orders', 'customer_id', 'paid_at', 'amount',
                              calibration_end => '2025-12-01 00:00+00', holdout_end => '2026-06-01 00:00+00');

\echo
\echo '== Segment sizes: customers holding each tag, and their share of all customers'
\echo 'Only customers with an order have an RFM segment, a status and a churn risk; every customer has a lifecycle stage and a level.'
\echo 'RFM segment: recency, order count and amount paid each high or low against the average buyer; important = paid more than average.'
\echo 'lifecycle: new customer = no order yet, first purchase = 1 order, repeat = 2 to 4, super = 5 or more.'
\echo 'customer status: active = an order in the last 30 days, silent = in the last 90 days, lost = longer ago (events do not count: settings.status_event_kinds is empty).'
\echo 'churn risk: churn probability (1 - P(alive)) at least 0.7 = high, at least 0.4 = medium, else low.'
\echo 'interests: wardrobe = read the wardrobe guide for more than 30 s (a rule); vip = given by hand to the 20 top payers.'
\echo 'user level: 10 points an order, 1 per 100 paid, 1 per active day, 5 a review, 20 if the last order is under 90 days old;'
\echo 'levels 2, 3, 4 and 5 start at 50, 150, 400 and 1,000 points.'
\echo 'loyalty: of the last 6 cycles of 30 days, the share with a purchase: 4 or more loyal, 2 or 3 regular, 1 occasional,'
\echo 'none lapsed (docs/models.md: our reading of seed 004, with the cycle, the number of cycles and the bands as settings).'
SELECT s.group_name, s.tag, s.customers,
       round(100.0 * s.customers / (SELECT count(*) FROM tagscrm.customer_overview), 1) AS "% of all customers"
  FROM tagscrm.segment_sizes s
 WHERE s.group_name IN ('RFM segment', 'lifecycle', 'customer status', 'churn risk', 'user level', 'loyalty', 'interests')
 ORDER BY s.group_name, s.customers DESC, s.tag;

\echo
\echo '== Status against churn risk: customers of each pair (buyers only; an active customer bought in the last 30 days)'
SELECT status, churn_risk, count(*) AS customers
  FROM tagscrm.customer_overview WHERE orders > 0
 GROUP BY 1, 2 ORDER BY 1, 2;

\echo
\echo '== Whom to win back: tagscrm.churn_predict() for every buyer, the five at high risk who would spend the most in the next year'
\echo 'p_alive: the chance the customer still buys; purchases and spend: what to expect over the next year if nothing is done'
\echo '(spend = purchases times the expected value of one purchase, the mean of their repeat purchase days shrunk towards the shop''s).'
SELECT customer_id, x AS repeat_days, round(p_alive::numeric, 3) AS p_alive,
       round(expected_purchases::numeric, 2) AS purchases_next_year, round(expected_value::numeric, 2) AS value_per_purchase,
       round(expected_spend::numeric, 2) AS spend_next_year, risk
  FROM tagscrm.churn_predict() WHERE risk = 'high' ORDER BY expected_spend DESC, customer_id LIMIT 5;

\echo
\echo '== Ten customers, as a BI tool reads them (tagscrm.customer_overview)'
\echo 'recency: days since the last order. r, f, m: quintile scores 1-5 of recency, order count and amount paid'
\echo 'against all customers with an order (5 = most recent, most orders, most paid; equal values score alike).'
\echo 'churn: 1 - P(alive) under MBG/NBD; a one-order customer silent for months is at high risk too.'
SELECT customer_id, orders, total_paid, recency_days AS recency, r_score AS r, f_score AS f, m_score AS m,
       rfm_segment, status, round(churn_probability::numeric, 2) AS churn, churn_risk, level
  FROM tagscrm.customer_overview ORDER BY customer_id::integer LIMIT 10;

SELECT customer_id AS top_payer FROM tagscrm.customer_overview ORDER BY total_paid DESC, customer_id LIMIT 1 \gset
\echo
\echo '== One customer for the service desk: the tags of tagscrm.customer_profile(':top_payer'), the customer who paid the most'
SELECT t ->> 'group' AS "group", t ->> 'tag' AS tag, t ->> 'source' AS source, t ->> 'reason' AS reason
  FROM jsonb_array_elements(tagscrm.customer_profile(:'top_payer') -> 'tags') t;
