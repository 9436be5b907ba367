-- churn_predict: the one-call prediction from the facts, and one definition
-- of a customer's (x, t_x, T, zbar) everywhere (issue 13, defect 3): every
-- figure equals churn_scores, which reads the orders themselves through
-- purchase_summary, and the tags, customer_churn and the rule measures
-- equal churn_predict.  zbar is the mean value of the repeat purchase days
-- (same-day orders merged, the first day left out, refunds not purchases),
-- not order_total / order_count.
DROP EXTENSION tagscrm CASCADE;
DROP SCHEMA tagscrm;
CREATE EXTENSION tagscrm;
SET tagscrm.clock_override = '2026-06-01 00:00:00+00';
SET client_min_messages = warning;
SET TimeZone = 'UTC';
\set VERBOSITY default
\set SHOW_CONTEXT never

CREATE TABLE p_orders (id serial PRIMARY KEY, cust integer, paid_at timestamptz, amount numeric, status text);
SELECT tagscrm.watch_orders('p_orders', 'cust', 'paid_at', 'amount', status_column => 'status',
                            counted_statuses => '{paid}', refund_statuses => '{refunded}');
-- a stored model with the CDNOW parameters (BG/NBD and Gamma-Gamma papers)
INSERT INTO tagscrm.churn_model (name, r, alpha, a, b, bgnbd_log_likelihood, bgnbd_customers, p, q, gamma,
       gg_log_likelihood, gg_customers, time_unit, calibration_end, source_table, customer_column, at_column,
       amount_column, source, fitted_at, fitted_by)
VALUES ('cdnow', 0.243, 4.414, 0.793, 2.426, -9582.4, 2357, 6.25, 3.74, 15.44, -4000, 946, '7 days',
        '2026-06-01', 'p_orders', 'cust', 'paid_at', 'amount', 'test', tagscrm.now(), current_user);

-- hand-worked: customer 1 buys 10 + 5 on 2026-01-05 (the first day), 20 + 1 on
-- 2026-01-12, 30 on 2026-01-26, and has 7 refunded on 2026-02-02 and a pending
-- order of 99.  x = 2 repeat days, zbar = (21 + 30) / 2 = 25.5 (not the
-- 66 / 5 = 13.2 of order_total / order_count); t_x = 3 weeks (to the last
-- order), T = (2026-06-01 - 2026-01-05 09:00) in weeks = 20.946
INSERT INTO p_orders (cust, paid_at, amount, status) VALUES
	(1, '2026-01-05 09:00', 10, 'paid'), (1, '2026-01-05 18:00', 5, 'paid'), (1, '2026-01-12 08:00', 20, 'paid'),
	(1, '2026-01-12 09:00', 1, 'paid'), (1, '2026-01-26 09:00', 30, 'paid'), (1, '2026-02-02', 7, 'refunded'),
	(1, '2026-02-03', 99, 'pending');
SELECT customer_id, x, round(t_x::numeric, 6) AS t_x, round(t::numeric, 6) AS t FROM tagscrm.churn_predict(NULL, 'cdnow');
-- the formulas at the hand-worked (x, t_x, T, zbar)
SELECT abs(c.p_alive - tagscrm.bgnbd_p_alive(m, 2, 3, 20.946428571428573)) < 1e-12 AS p_alive,
       abs(c.churn_probability - (1 - c.p_alive)) < 1e-15 AS churn,
       abs(c.expected_purchases - tagscrm.bgnbd_expected_purchases(m, 365.25 / 7, 2, 3, 20.946428571428573)) < 1e-9 AS purchases,
       abs(c.expected_value - 6.25 * (15.44 + 2 * 25.5) / (6.25 * 2 + 3.74 - 1)) < 1e-9 AS value,
       abs(c.expected_spend - c.expected_purchases * c.expected_value) < 1e-9 AS spend,
       c.risk = CASE WHEN 1 - c.p_alive >= 0.7 THEN 'high' WHEN 1 - c.p_alive >= 0.4 THEN 'medium' ELSE 'low' END AS risk
  FROM tagscrm.churn_predict(ARRAY['1'], 'cdnow') c,
       (SELECT tagscrm.churn_model_bgnbd(cm) AS m FROM tagscrm.churn_model cm WHERE name = 'cdnow') mm(m);

-- 300 random customers: paid orders, several on one day, refunds, pending and cancelled ones
SELECT setseed(0.42);
INSERT INTO p_orders (cust, paid_at, amount, status)
SELECT 100 + floor(random() * 300)::int,
       '2025-01-01'::timestamptz + floor(random() * 500) * interval '1 day' + floor(random() * 3) * interval '7 hours',
       round((random() * 150)::numeric, 2),
       (ARRAY['paid', 'paid', 'paid', 'paid', 'refunded', 'pending', 'cancelled'])[1 + floor(random() * 7)::int]
  FROM generate_series(1, 3000);

-- every figure of churn_predict equals churn_scores at the same moment (as_of = now)
CREATE FUNCTION predict_vs_scores(horizon interval) RETURNS TABLE (customers bigint, differ bigint) LANGUAGE sql AS $$
	SELECT count(*), count(*) FILTER (WHERE s.x <> p.x OR abs(s.t_x - p.t_x) > 1e-9 OR abs(s.t - p.t) > 1e-9
	                                    OR abs(s.p_alive - p.p_alive) > 1e-12
	                                    OR abs(s.expected_purchases - p.expected_purchases) > 1e-9 * (1 + s.expected_purchases)
	                                    OR abs(s.expected_value - p.expected_value) > 1e-9 * s.expected_value
	                                    OR p.expected_value IS NULL OR p.p_alive IS NULL)
	  FROM tagscrm.churn_scores('cdnow', tagscrm.now(), horizon) s
	  FULL JOIN tagscrm.churn_predict(NULL, 'cdnow', horizon) p USING (customer_id)
$$;
SELECT * FROM predict_vs_scores('1 year');
SELECT * FROM predict_vs_scores('26 weeks');
-- the same parameters read as an MBG/NBD model: P(alive) and the forecast of that kind
UPDATE tagscrm.churn_model SET kind = 'mbgnbd' WHERE name = 'cdnow';
SELECT * FROM predict_vs_scores('1 year');
SELECT count(*) FILTER (WHERE abs(p.p_alive - tagscrm.mbgnbd_p_alive(m, p.x, p.t_x, p.t)) > 1e-12) AS mbgnbd_differs,
       count(*) FILTER (WHERE p.x = 0 AND p.p_alive < 1) > 0 AS one_time_buyers_may_be_gone
  FROM tagscrm.churn_predict(NULL, 'cdnow') p,
       (SELECT tagscrm.churn_model_bgnbd(cm) AS m FROM tagscrm.churn_model cm WHERE name = 'cdnow') mm(m);
UPDATE tagscrm.churn_model SET kind = 'bgnbd' WHERE name = 'cdnow';
-- listed customers give the same rows as everyone
SELECT count(*) AS differ FROM (
	(SELECT * FROM tagscrm.churn_predict(NULL, 'cdnow') WHERE customer_id IN ('1', '150', '151', '399')
	 EXCEPT SELECT * FROM tagscrm.churn_predict(ARRAY['1', '150', '151', '399', 'nobody'], 'cdnow'))
	UNION ALL
	(SELECT * FROM tagscrm.churn_predict(ARRAY['1', '150', '151', '399', 'nobody'], 'cdnow')
	 EXCEPT SELECT * FROM tagscrm.churn_predict(NULL, 'cdnow') WHERE customer_id IN ('1', '150', '151', '399'))) d;
-- zbar differs from order_total / order_count for most repeat buyers (what the old tags used)
SELECT count(*) FILTER (WHERE abs(p.expected_value - g.old) > 0.05 * g.old) > 100 AS old_average_differed
  FROM tagscrm.churn_predict(NULL, 'cdnow') p
  JOIN (SELECT f.customer_id, 6.25 * (15.44 + x.x * f.order_total / f.order_count) / (6.25 * x.x + 3.74 - 1) AS old
          FROM tagscrm.customer_fact f, LATERAL (SELECT count(*) - 1 AS x FROM tagscrm.customer_day d
                                                  WHERE d.customer_id = f.customer_id AND d.orders > 0) x
         WHERE x.x > 0) g USING (customer_id)
 WHERE p.x > 0;

-- the churn risk tags, customer_churn and the rule measures read churn_predict
UPDATE tagscrm.settings SET churn_model = 'cdnow';
SELECT tagscrm.refresh(quiet => true, all_models => true) > 0 AS refreshed;
SELECT count(*) AS customers,
       count(*) FILTER (WHERE r.tag IS DISTINCT FROM 'churn risk ' || p.risk) AS tag_differs,
       count(*) FILTER (WHERE c.p_alive IS DISTINCT FROM p.p_alive OR c.expected_value IS DISTINCT FROM p.expected_value)
	       AS customer_churn_differs,
       count(*) FILTER (WHERE o.churn_probability IS DISTINCT FROM p.churn_probability) AS overview_differs
  FROM tagscrm.churn_predict() p
  LEFT JOIN (SELECT customer_id, tag FROM tagscrm.customer_tags WHERE group_name = 'churn risk') r USING (customer_id)
  LEFT JOIN tagscrm.customer_overview o USING (customer_id)
  CROSS JOIN LATERAL tagscrm.customer_churn(p.customer_id) c;
SELECT count(*) AS rule_measures_differ
  FROM tagscrm.churn_predict() p,
       LATERAL tagscrm.rule_values('expected_value > 0 and churn_probability >= 0', p.customer_id) v,
       LATERAL (SELECT (v ->> (SELECT measure_id::text FROM tagscrm.rule_measures('expected_value > 0 and churn_probability >= 0')
                                WHERE name = 'expected_value'))::float8 AS ev,
                       (v ->> (SELECT measure_id::text FROM tagscrm.rule_measures('expected_value > 0 and churn_probability >= 0')
                                WHERE name = 'churn_probability'))::float8 AS cp) m
 WHERE m.ev IS NULL OR m.cp IS NULL
    OR abs(m.ev - p.expected_value) > 1e-9 * p.expected_value OR abs(m.cp - p.churn_probability) > 1e-12;
-- risk_changes_at: if no order comes, the risk class is the same until
-- just before it and the next one at it (every customer, each at its own
-- moment); NULL only where no class is left to reach
CREATE FUNCTION risk_at(customer text, at timestamptz) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('tagscrm.clock_override', at::text, true);
	RETURN (SELECT p.risk FROM tagscrm.churn_predict(ARRAY[customer]) p);
END $$;
BEGIN;
CREATE TEMP TABLE moments AS SELECT customer_id, risk, risk_changes_at, x FROM tagscrm.churn_predict();
SELECT count(*) AS customers, count(risk_changes_at) AS with_a_moment,
       count(*) FILTER (WHERE risk_changes_at IS NULL AND risk <> 'high' AND x > 0) AS stuck_below_high,
       count(*) FILTER (WHERE risk_changes_at <= '2026-06-01 00:00:00+00') AS moment_not_ahead,
       count(*) FILTER (WHERE risk_changes_at IS NOT NULL
                        AND risk_at(customer_id, risk_changes_at - interval '2 seconds') <> risk) AS changed_too_early,
       count(*) FILTER (WHERE risk_changes_at IS NOT NULL AND risk_at(customer_id, risk_changes_at) = risk)
	       AS not_changed_at_moment,
       count(*) FILTER (WHERE risk = 'low' AND risk_at(customer_id, risk_changes_at) = 'high'
                        AND (SELECT churn_medium < churn_high FROM tagscrm.settings)) AS skipped_medium
  FROM moments;
ROLLBACK;
-- the sweep at the first of those moments changes that customer's tag, and
-- only customers whose moment has come are evaluated
BEGIN;
SELECT set_config('tagscrm.clock_override', (SELECT min(risk_changes_at) FROM tagscrm.churn_predict())::text, true) IS NOT NULL AS clock_moved;
SELECT count(*) AS due FROM tagscrm.customer_fact f WHERE f.next_change_at <= tagscrm.now();
SELECT tagscrm.sweep() AS swept;
SELECT count(*) FILTER (WHERE r.tag IS DISTINCT FROM 'churn risk ' || p.risk) AS tag_differs_after_sweep
  FROM tagscrm.churn_predict() p
  LEFT JOIN (SELECT customer_id, tag FROM tagscrm.customer_tags WHERE group_name = 'churn risk') r USING (customer_id);
ROLLBACK;
-- a new order moves the customer's figures at statement end (the delta path keeps zbar)
INSERT INTO p_orders (cust, paid_at, amount, status) VALUES (1, '2026-05-30', 40, 'paid');
SELECT x, round(expected_value::numeric, 6) = round((6.25 * (15.44 + 3 * (21 + 30 + 40) / 3.0) / (6.25 * 3 + 3.74 - 1))::numeric, 6)
       AS value_is_formula
  FROM tagscrm.churn_predict(ARRAY['1']);
SELECT * FROM predict_vs_scores('1 year');

-- without a condition, negative amounts are purchases like any other (as churn_fit sees them);
-- a customer whose repeat days are worth less than 0 has no expected value, and no error
CREATE TABLE q_orders (cust text, at timestamptz, amount numeric);
SELECT tagscrm.unwatch('p_orders');
SELECT tagscrm.watch_orders('q_orders', 'cust', 'at', 'amount');
INSERT INTO q_orders VALUES ('n', '2026-01-01', 50), ('n', '2026-02-01', -80), ('m', '2026-01-01', 50), ('m', '2026-01-01', 25);
SELECT customer_id, x, expected_value IS NULL AS no_value, p_alive IS NOT NULL AS has_p_alive, risk
  FROM tagscrm.churn_predict(NULL, 'cdnow') ORDER BY 1;

-- errors and edge cases
SELECT * FROM tagscrm.churn_predict(NULL, 'nope');
SELECT * FROM tagscrm.churn_predict(NULL, 'cdnow', '-1 day');
SELECT count(*) AS no_forecast_rows, count(expected_purchases) AS forecasts, count(expected_value) AS values_
  FROM tagscrm.churn_predict(NULL, 'cdnow', NULL);
UPDATE tagscrm.settings SET churn_model = NULL;
SELECT count(*) AS rows_without_a_configured_model FROM tagscrm.churn_predict();
SELECT count(*) AS rows_for_no_customer FROM tagscrm.churn_predict('{}', 'cdnow');

DROP FUNCTION predict_vs_scores(interval);
DROP FUNCTION risk_at(text, timestamptz);
DROP TABLE p_orders, q_orders;
