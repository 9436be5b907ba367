-- Predictive tags: with a stored BG/NBD or MBG/NBD model named in the
-- settings, every customer with an order holds "churn risk high / medium /
-- low", kept current like the other model tags, and rules can use
-- churn_probability.  Each figure is checked against the papers' P(alive)
-- formulas written in SQL.
DROP EXTENSION tagscrm CASCADE;
DROP SCHEMA tagscrm;
CREATE EXTENSION tagscrm;
SET tagscrm.clock_override = '2026-06-01 00:00:00+00';
SET client_min_messages = warning;
SET TimeZone = 'UTC';
\set VERBOSITY default
\set SHOW_CONTEXT never

CREATE TABLE c_orders (id serial PRIMARY KEY, cust integer, paid_at timestamptz, amount numeric);
-- 400 customers simulated from the BG/NBD story: a purchase rate per customer,
-- and after each purchase a chance to drop out for good
SELECT setseed(0.3);
DO $$
DECLARE
	c integer;
	rate float8;
	dropout float8;
	at timestamptz;
BEGIN
	FOR c IN 1 .. 400 LOOP
		rate := -ln(1 - random()) * 0.4;               -- purchases per week
		dropout := random() * 0.6;
		at := '2025-06-01'::timestamptz + random() * interval '60 days';
		LOOP
			INSERT INTO c_orders (cust, paid_at, amount) VALUES (c, at, round((20 + random() * 80)::numeric, 2));
			EXIT WHEN random() < dropout;
			at := at + (-ln(1 - random()) / GREATEST(rate, 0.01)) * interval '7 days';
			EXIT WHEN at >= '2026-06-01';
		END LOOP;
	END LOOP;
END
$$;
SELECT tagscrm.watch_orders('c_orders', 'cust', 'paid_at', 'amount');
SELECT tagscrm.churn_fit('shop', 'c_orders', 'cust', 'paid_at', 'amount',
                         calibration_end => '2026-06-01 00:00:00+00', time_unit => '7 days',
                         kind => 'bgnbd') IS NOT NULL AS fitted;

-- no model named yet: no churn risk tags, NULL churn probability
SELECT count(*) AS churn_tags FROM tagscrm.customer_tags WHERE group_name = 'churn risk';
SELECT count(*) FILTER (WHERE churn_probability IS NOT NULL) AS with_probability FROM tagscrm.customer_overview;

UPDATE tagscrm.settings SET churn_model = 'shop', churn_high = 0.6, churn_medium = 0.3;
SELECT tagscrm.refresh(quiet => true, all_models => true) > 0 AS refreshed;

-- the papers' formulas in plain SQL (log space), with the stored parameters:
-- BG/NBD (x = 0 is alive) or MBG/NBD (a/(b+x) for every x), by the model's kind
CREATE FUNCTION expected_risk() RETURNS TABLE (customer_id text, p_alive float8, tag text, x bigint) LANGUAGE sql AS $$
	WITH m AS (SELECT * FROM tagscrm.churn_model WHERE name = 'shop'),
	s AS (SELECT o.cust::text AS customer_id,
	             count(DISTINCT (o.paid_at AT TIME ZONE 'UTC')::date) - 1 AS x,
	             CASE WHEN count(DISTINCT (o.paid_at AT TIME ZONE 'UTC')::date) > 1
	                  THEN extract(epoch FROM max(o.paid_at) - min(o.paid_at)) / (7 * 86400) ELSE 0 END AS t_x,
	             extract(epoch FROM tagscrm.now() - min(o.paid_at)) / (7 * 86400) AS t
	        FROM c_orders o GROUP BY 1),
	p AS (SELECT s.customer_id, s.x,
	             CASE WHEN m.kind = 'mbgnbd'
	                  THEN 1 / (1 + exp(ln(m.a) - ln(m.b + s.x) + (m.r + s.x) * (ln(m.alpha + s.t) - ln(m.alpha + s.t_x))))
	                  WHEN s.x = 0 THEN 1
	                  ELSE 1 / (1 + exp(ln(m.a) - ln(m.b + s.x - 1) + (m.r + s.x) * (ln(m.alpha + s.t) - ln(m.alpha + s.t_x)))) END AS p_alive
	        FROM s, m)
	SELECT p.customer_id, p.p_alive,
	       CASE WHEN 1 - p.p_alive >= 0.6 THEN 'churn risk high' WHEN 1 - p.p_alive >= 0.3 THEN 'churn risk medium'
	            ELSE 'churn risk low' END, p.x
	  FROM p
$$;
CREATE FUNCTION check_risk() RETURNS text LANGUAGE sql AS $$
	WITH have AS (SELECT customer_id, tag FROM tagscrm.customer_tags WHERE group_name = 'churn risk'),
	want AS (SELECT customer_id, tag FROM expected_risk())
	SELECT CASE WHEN n = 0 THEN 'ok' ELSE n || ' rows differ' END
	  FROM (SELECT count(*) AS n FROM ((SELECT * FROM have EXCEPT SELECT * FROM want)
	                                   UNION ALL (SELECT * FROM want EXCEPT SELECT * FROM have)) x) c
$$;

SELECT check_risk() AS after_refresh;
SELECT tag, count(*) FROM tagscrm.customer_tags WHERE group_name = 'churn risk' GROUP BY 1 ORDER BY 1;
SELECT max(abs(o.churn_probability - (1 - e.p_alive))) < 1e-9 AS probability_matches
  FROM tagscrm.customer_overview o JOIN expected_risk() e USING (customer_id);

-- a new order lowers a customer's risk at once
SELECT customer_id AS risky FROM tagscrm.customer_tags WHERE tag = 'churn risk high' ORDER BY 1 LIMIT 1 \gset
INSERT INTO c_orders (cust, paid_at, amount) VALUES (:'risky', '2026-05-31', 50), (:'risky', '2026-05-25', 50);
SELECT check_risk() AS after_order;
SELECT tag FROM tagscrm.customer_tags WHERE customer_id = :'risky' AND group_name = 'churn risk';

-- time raises everyone's risk; the daily sweep follows
SET tagscrm.clock_override = '2026-09-01 00:00:00+00';
SELECT check_risk() <> 'ok' AS stale_before_sweep;
SELECT tagscrm.sweep() > 0 AS swept;
SELECT check_risk() AS after_sweep;

-- rules can use the churn probability
SELECT count(*) FILTER (WHERE tagscrm.tag_rule_eval('churn_probability > 0.6', e.customer_id) IS TRUE) AS by_rule,
       count(*) FILTER (WHERE 1 - e.p_alive > 0.6) AS by_hand
  FROM expected_risk() e;

-- the same shop with MBG/NBD (the default kind): the tags follow MBG/NBD's
-- P(alive); a one-time buyer silent for long is now at risk (BG/NBD: all low)
SELECT e.tag, count(*) AS one_time_buyers_bgnbd
  FROM expected_risk() e WHERE e.x = 0 GROUP BY 1 ORDER BY 1;
SELECT kind FROM tagscrm.churn_fit('shop', 'c_orders', 'cust', 'paid_at', 'amount',
                                   calibration_end => '2026-06-01 00:00:00+00');
SELECT tagscrm.refresh(quiet => true, all_models => true) > 0 AS refreshed;
SELECT check_risk() AS mbgnbd_after_refresh;
SELECT max(abs(o.churn_probability - (1 - e.p_alive))) < 1e-9 AS probability_matches,
       max(abs(c.p_alive - e.p_alive)) < 1e-9 AS customer_churn_matches
  FROM tagscrm.customer_overview o JOIN expected_risk() e USING (customer_id),
       LATERAL tagscrm.customer_churn(e.customer_id) c;
SELECT t.tag, count(*) AS one_time_buyers_mbgnbd,
       round(min(e.p_alive)::numeric, 3) AS min_p_alive, round(max(e.p_alive)::numeric, 3) AS max_p_alive
  FROM tagscrm.customer_tags t JOIN expected_risk() e USING (customer_id)
 WHERE t.group_name = 'churn risk' AND e.x = 0 GROUP BY 1 ORDER BY 1;

-- bad thresholds are refused; dropping the model switches the tags off at the next refresh
\set VERBOSITY sqlstate
UPDATE tagscrm.settings SET churn_medium = 0.8;
UPDATE tagscrm.settings SET churn_model = 'no such model';
\set VERBOSITY default
SELECT tagscrm.drop_churn_model('shop');
SELECT churn_model FROM tagscrm.settings;
SELECT tagscrm.refresh(quiet => true, all_models => true) > 0 AS refreshed;
SELECT count(*) AS churn_tags FROM tagscrm.customer_tags WHERE group_name = 'churn risk';

-- heavy-tailed spend (each customer's mean spend Pareto with index 0.625)
-- fits q <= 1: churn_fit stores it and warns
CREATE TABLE h_orders (cust integer, paid_at timestamptz, amount numeric);
SELECT setseed(0.3);
DO $$
DECLARE
	c integer;
	rate float8;
	dropout float8;
	scale float8;
	at timestamptz;
BEGIN
	FOR c IN 1 .. 400 LOOP
		rate := -ln(1 - random()) * 0.4;
		dropout := random() * 0.6;
		scale := 10 / power(random(), 1.6);
		at := '2025-06-01'::timestamptz + random() * interval '60 days';
		LOOP
			INSERT INTO h_orders VALUES (c, at, round((scale * (-ln(1 - random()) - ln(1 - random())) / 2)::numeric, 2));
			EXIT WHEN random() < dropout;
			at := at + (-ln(1 - random()) / GREATEST(rate, 0.01)) * interval '7 days';
			EXIT WHEN at >= '2026-06-01';
		END LOOP;
	END LOOP;
END
$$;
SELECT q <= 1 AS q_at_most_1 FROM tagscrm.churn_fit('heavy-fit', 'h_orders', 'cust', 'paid_at', 'amount', '2026-06-01');
DELETE FROM tagscrm.churn_model WHERE name = 'heavy-fit';
DROP TABLE h_orders;

-- a stored model with q <= 1 (heavy-tailed spend) is no error in writers:
-- inserts and refresh work, a new customer's expected value is NULL, a repeat
-- buyer's is p (gamma + x zbar) / (p x + q - 1) (it exists for p x + q > 1)
INSERT INTO tagscrm.churn_model (name, r, alpha, a, b, bgnbd_log_likelihood, bgnbd_customers, p, q, gamma,
       gg_log_likelihood, gg_customers, time_unit, calibration_end, source_table, customer_column, at_column,
       amount_column, source, fitted_at, fitted_by)
VALUES ('heavy', 0.24, 4.41, 0.79, 2.43, -9582.4, 2357, 6.25, 0.63, 15.44, -3000, 946, '7 days',
        '2026-06-01', 'c_orders', 'cust', 'paid_at', 'amount', 'test', tagscrm.now(), current_user);
UPDATE tagscrm.settings SET churn_model = 'heavy';
INSERT INTO c_orders (cust, paid_at, amount) VALUES (1001, '2026-05-20', 40), (1002, '2026-05-01', 20), (1002, '2026-05-08', 20);
SELECT tagscrm.refresh(quiet => true, all_models => true) > 0 AS refreshed;
SELECT v.customer_id, c.churn_probability IS NOT NULL AS has_churn_probability, c.expected_value IS NULL AS value_is_null,
       abs(c.expected_value - 6.25 * (15.44 + 1 * 20) / (6.25 * 1 + 0.63 - 1)) < 1e-9 AS value_is_formula
  FROM (VALUES ('1001'), ('1002')) v(customer_id), tagscrm.customer_churn(v.customer_id) c
 ORDER BY 1;
SELECT count(*) FILTER (WHERE churn_probability IS NOT NULL) > 0 AS overview_works FROM tagscrm.customer_overview;
UPDATE tagscrm.settings SET churn_model = NULL;
DELETE FROM tagscrm.churn_model WHERE name = 'heavy';

DROP FUNCTION check_risk(), expected_risk();
DROP TABLE c_orders;
