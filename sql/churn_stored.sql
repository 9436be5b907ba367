-- Stored churn models: churn_fit() fits both models on an orders table and
-- stores them by name; churn_scores() scores every customer.  Checked against
-- the aggregates and scoring functions called directly, the published CDNOW
-- figures, and the permission model.  BG/NBD (kind => 'bgnbd') first, for the
-- published figures; then MBG/NBD, the default kind.
SET TimeZone = 'UTC';
SET extra_float_digits = 0;
SET tagscrm.clock_override = '2026-01-31 12:00:00+00';

CREATE TEMP TABLE cdnow_raw (line text);
\copy cdnow_raw FROM 'test/fixtures/cdnow/CDNOW_sample.txt'
CREATE TABLE churn_orders AS
SELECT f[2]::integer AS customer, to_date(f[3], 'YYYYMMDD') AS day, f[5]::numeric AS amount
  FROM (SELECT regexp_split_to_array(btrim(line), '\s+') AS f FROM cdnow_raw) s;

SELECT name, round(r::numeric, 3) AS r, round(alpha::numeric, 3) AS alpha, round(a::numeric, 3) AS a,
       round(b::numeric, 3) AS b, round(bgnbd_log_likelihood::numeric, 1) AS bgnbd_ll, bgnbd_customers,
       round(p::numeric, 2) AS p, round(q::numeric, 2) AS q, round(gamma::numeric, 1) AS gamma, gg_customers,
       time_unit, calibration_end, source_table, source, fitted_at, fitted_by
  FROM tagscrm.churn_fit('cdnow', 'churn_orders', 'customer', 'day', 'amount', '1997-09-30', '7 days', 'bgnbd');
SELECT kind FROM tagscrm.churn_model WHERE name = 'cdnow';

-- the stored parameters are exactly those of the aggregates
SELECT m.r = (f.bg).r AND m.alpha = (f.bg).alpha AND m.a = (f.bg).a AND m.b = (f.bg).b
       AND m.p = (f.gg).p AND m.q = (f.gg).q AND m.gamma = (f.gg).gamma AS same_as_aggregates
  FROM tagscrm.churn_model m,
       (SELECT tagscrm.bgnbd_fit((s).x, (s).t_x, (s).t) AS bg, tagscrm.gamma_gamma_fit((s).x, (s).zbar) AS gg
          FROM (SELECT tagscrm.purchase_summary(day, amount, '1997-09-30') AS s FROM churn_orders GROUP BY customer) q) f
 WHERE m.name = 'cdnow';

-- scores as of the calibration end: one row per customer, each equal to the
-- scoring functions applied to that customer's summary by hand
CREATE TEMP TABLE scores AS SELECT * FROM tagscrm.churn_scores('cdnow', horizon => '39 weeks', annual_discount_rate => 0.1);
SELECT count(*) AS customers, count(DISTINCT customer_id) AS distinct_customers, sum(x) AS repeat_purchases,
       round(avg(p_alive)::numeric, 4) AS mean_p_alive, round(sum(expected_purchases)::numeric, 1) AS next_39_weeks,
       bool_and(abs(p_alive + churn_probability - 1) < 1e-15) AS churn_is_1_minus_p_alive,
       bool_and(p_alive BETWEEN 0 AND 1 AND expected_purchases >= 0 AND expected_value > 0 AND clv >= 0) AS in_range
  FROM scores;
SELECT count(*) AS checked,
       bool_and(s.p_alive = tagscrm.bgnbd_p_alive(bg, h.x, h.t_x, h.t)
            AND s.expected_purchases = tagscrm.bgnbd_expected_purchases(bg, 39, h.x, h.t_x, h.t)
            AND s.expected_value = tagscrm.gamma_gamma_expected_value(gg, h.x, h.zbar)
            AND abs(s.clv / nullif(tagscrm.clv(bg, gg, h.x, h.t_x, h.t, h.zbar, 39, 1.1 ^ (7 / 365.25) - 1), 0) - 1) < 1e-12
            AND s.x = h.x AND s.t_x = h.t_x AND s.t = h.t) AS equal_by_hand
  FROM scores s
  JOIN (SELECT customer::text AS customer_id, (tagscrm.purchase_summary(day, amount, '1997-09-30')).*
          FROM churn_orders GROUP BY customer) h USING (customer_id),
       (SELECT tagscrm.churn_model_bgnbd(m) AS bg, tagscrm.churn_model_gamma_gamma(m) AS gg
          FROM tagscrm.churn_model m WHERE name = 'cdnow') m;
-- FHL 2005's customer: ID 1 has x = 2, t_x = 30.43, T = 38.86 -> 1.226 in the next 39 weeks
SELECT customer_id, x, round(t_x::numeric, 2) AS t_x, round(t::numeric, 2) AS t, round(p_alive::numeric, 4) AS p_alive,
       round(expected_purchases::numeric, 3) AS next_39_weeks, round(expected_value::numeric, 2) AS expected_value
  FROM scores WHERE customer_id = '1';

-- as of the end of the data: the holdout's 1,882 repeat purchases are counted in
SELECT count(*) AS customers, sum(x) AS repeat_purchases
  FROM tagscrm.churn_scores('cdnow', as_of => '1998-06-30');
-- before anyone bought: nobody to score
SELECT count(*) AS customers FROM tagscrm.churn_scores('cdnow', as_of => '1996-01-01');

-- refitting under the same name replaces the model
SELECT round(r::numeric, 3) AS r, calibration_end
  FROM tagscrm.churn_fit('cdnow', 'churn_orders', 'customer', 'day', 'amount', '1998-06-30', kind => 'bgnbd');
SELECT count(*) AS models FROM tagscrm.churn_model;
-- the default calibration end is tagscrm.now()
SELECT calibration_end FROM tagscrm.churn_fit('cdnow-now', 'churn_orders', 'customer', 'day', 'amount');

-- MBG/NBD, the default kind: the stored model is mbgnbd_fit's, kind says so
SELECT name, kind, round(r::numeric, 3) AS r, round(alpha::numeric, 3) AS alpha, round(a::numeric, 3) AS a,
       round(b::numeric, 3) AS b, round(bgnbd_log_likelihood::numeric, 1) AS purchase_ll, bgnbd_customers
  FROM tagscrm.churn_fit('cdnow-mbg', 'churn_orders', 'customer', 'day', 'amount', '1997-09-30');
SELECT m.r = (f.bg).r AND m.alpha = (f.bg).alpha AND m.a = (f.bg).a AND m.b = (f.bg).b
       AND m.bgnbd_log_likelihood = (f.bg).log_likelihood AND m.bgnbd_customers = (f.bg).customers
       AND m.p = (f.gg).p AND m.q = (f.gg).q AND m.gamma = (f.gg).gamma AS same_as_aggregates
  FROM tagscrm.churn_model m,
       (SELECT tagscrm.mbgnbd_fit((s).x, (s).t_x, (s).t) AS bg, tagscrm.gamma_gamma_fit((s).x, (s).zbar) AS gg
          FROM (SELECT tagscrm.purchase_summary(day, amount, '1997-09-30') AS s FROM churn_orders GROUP BY customer) q) f
 WHERE m.name = 'cdnow-mbg';
-- churn_scores scores with the MBG/NBD functions: equal to them by hand, and
-- P(alive) equal to 1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x)) in plain SQL
CREATE TEMP TABLE mbg_scores AS
SELECT * FROM tagscrm.churn_scores('cdnow-mbg', horizon => '39 weeks', annual_discount_rate => 0.1);
SELECT count(*) AS checked,
       bool_and(s.p_alive = tagscrm.mbgnbd_p_alive(bg, h.x, h.t_x, h.t)
            AND s.expected_purchases = tagscrm.mbgnbd_expected_purchases(bg, 39, h.x, h.t_x, h.t)
            AND s.expected_value = tagscrm.gamma_gamma_expected_value(gg, h.x, h.zbar)
            AND abs(s.clv / nullif(tagscrm.mbgnbd_clv(bg, gg, h.x, h.t_x, h.t, h.zbar, 39, 1.1 ^ (7 / 365.25) - 1), 0) - 1) < 1e-12
            AND s.x = h.x AND s.t_x = h.t_x AND s.t = h.t) AS equal_by_hand,
       max(abs(s.p_alive - 1 / (1 + (bg).a / ((bg).b + h.x) * (((bg).alpha + h.t) / ((bg).alpha + h.t_x)) ^ ((bg).r + h.x))))
         < 1e-12 AS p_alive_is_formula,
       -- one-time buyers are no longer certainly alive
       max(s.p_alive) FILTER (WHERE h.x = 0) < 1 AS one_time_below_1,
       bool_and(s.p_alive <> tagscrm.bgnbd_p_alive(bg, h.x, h.t_x, h.t)) AS differs_from_bgnbd_formula
  FROM mbg_scores s
  JOIN (SELECT customer::text AS customer_id, (tagscrm.purchase_summary(day, amount, '1997-09-30')).*
          FROM churn_orders GROUP BY customer) h USING (customer_id),
       (SELECT tagscrm.churn_model_bgnbd(m) AS bg, tagscrm.churn_model_gamma_gamma(m) AS gg
          FROM tagscrm.churn_model m WHERE name = 'cdnow-mbg') m;
SELECT customer_id, x, round(p_alive::numeric, 4) AS p_alive, round(expected_purchases::numeric, 3) AS next_39_weeks
  FROM mbg_scores WHERE customer_id IN ('1', '3') ORDER BY customer_id;
-- refitting with the other kind replaces the kind too
SELECT kind, round(r::numeric, 3) AS r
  FROM tagscrm.churn_fit('cdnow-mbg', 'churn_orders', 'customer', 'day', 'amount', '1997-09-30', kind => 'bgnbd');
SELECT kind, round(r::numeric, 3) AS r
  FROM tagscrm.churn_fit('cdnow-mbg', 'churn_orders', 'customer', 'day', 'amount', '1997-09-30', kind => 'mbgnbd');
SELECT tagscrm.drop_churn_model('cdnow-mbg');

-- the model table is dumped with the data
SELECT 'tagscrm.churn_model'::regclass = ANY (extconfig) AS dumped FROM pg_extension WHERE extname = 'tagscrm';

-- errors
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	hint text;
BEGIN
	EXECUTE q;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
	RETURN SQLSTATE || ': ' || SQLERRM || CASE WHEN hint <> '' THEN ' (hint: ' || hint || ')' ELSE '' END;
END
$$;
CREATE VIEW churn_orders_view AS SELECT * FROM churn_orders;
CREATE TABLE churn_orders_rls AS SELECT * FROM churn_orders;
ALTER TABLE churn_orders_rls ENABLE ROW LEVEL SECURITY;
CREATE TABLE churn_orders_text AS SELECT customer, day::text AS day, amount::text AS amount FROM churn_orders;
CREATE TABLE churn_orders_free AS SELECT customer, day, 0::numeric AS amount FROM churn_orders;
SELECT pg_temp.err($$SELECT tagscrm.churn_scores('no such model')$$);
SELECT pg_temp.err($$SELECT tagscrm.churn_scores(NULL)$$);
SELECT pg_temp.err($$SELECT tagscrm.churn_scores('cdnow', horizon => '-1 week')$$);
SELECT pg_temp.err($$SELECT tagscrm.churn_scores('cdnow', annual_discount_rate => -1)$$);
SELECT pg_temp.err($$SELECT tagscrm.churn_scores('cdnow', as_of => 'infinity')$$);
SELECT pg_temp.err($$SELECT tagscrm.churn_fit('', 'churn_orders', 'customer', 'day', 'amount', '1997-09-30')$$);
SELECT pg_temp.err($$SELECT tagscrm.churn_fit(NULL, 'churn_orders', 'customer', 'day', 'amount', '1997-09-30')$$);
SELECT pg_temp.err($$SELECT tagscrm.churn_fit('x', NULL, 'customer', 'day', 'amount', '1997-09-30')$$);
SELECT pg_temp.err($$SELECT tagscrm.churn_fit('x', 'churn_orders', 'customer', 'day', 'amount', NULL)$$);
SELECT pg_temp.err($$SELECT tagscrm.churn_fit('x', 'churn_orders', 'customer', 'day', 'amount', 'infinity')$$);
SELECT pg_temp.err($$SELECT tagscrm.churn_fit('x', 'churn_orders', 'customer', 'day', 'amount', '1997-09-30', '0 days')$$);
SELECT pg_temp.err($$SELECT tagscrm.churn_fit('x', 'churn_orders', 'customer', 'day', 'amount', '1997-09-30', kind => 'pareto')$$);
SELECT pg_temp.err($$SELECT tagscrm.churn_fit('x', 'churn_orders', 'customer', 'day', 'amount', '1997-09-30', kind => NULL)$$);
SELECT pg_temp.err($$SELECT tagscrm.churn_fit('x', 'churn_orders', 'customer', 'no_such_column', 'amount', '1997-09-30')$$);
SELECT pg_temp.err($$SELECT tagscrm.churn_fit('x', 'churn_orders_view', 'customer', 'day', 'amount', '1997-09-30')$$);
SELECT pg_temp.err($$SELECT tagscrm.churn_fit('x', 'churn_orders_rls', 'customer', 'day', 'amount', '1997-09-30')$$);
SELECT pg_temp.err($$SELECT tagscrm.churn_fit('x', 'churn_orders_text', 'customer', 'day', 'amount', '1997-09-30')$$);
SELECT pg_temp.err($$SELECT tagscrm.churn_fit('x', 'churn_orders_text', 'customer', 'amount', 'customer', '1997-09-30')$$);
SELECT pg_temp.err($$SELECT tagscrm.churn_fit('x', 'churn_orders', 'customer', 'day', 'amount', '1990-01-01')$$);
SELECT pg_temp.err($$SELECT tagscrm.churn_fit('x', 'churn_orders', 'customer', 'day', 'amount', '1997-01-01')$$);
SELECT pg_temp.err($$SELECT tagscrm.churn_fit('x', 'churn_orders_free', 'customer', 'day', 'amount', '1997-09-30')$$);
-- a failed fit stores nothing
SELECT count(*) AS models FROM tagscrm.churn_model;

-- permissions: an admin fits only on columns they may read; a reader scores
-- only orders they may read, and may not fit
CREATE ROLE churn_test_admin IN ROLE tagscrm_admin;
CREATE ROLE churn_test_reader IN ROLE tagscrm_reader;
SET ROLE churn_test_admin;
SELECT pg_temp.err($$SELECT tagscrm.churn_fit('by-admin', 'churn_orders', 'customer', 'day', 'amount', '1997-09-30')$$);
RESET ROLE;
GRANT SELECT (customer, day) ON churn_orders TO churn_test_admin;
SET ROLE churn_test_admin;
SELECT pg_temp.err($$SELECT tagscrm.churn_fit('by-admin', 'churn_orders', 'customer', 'day', 'amount', '1997-09-30')$$);
RESET ROLE;
GRANT SELECT (amount) ON churn_orders TO churn_test_admin;
SET ROLE churn_test_admin;
SELECT name, fitted_by, round(r::numeric, 3) AS r
  FROM tagscrm.churn_fit('by-admin', 'churn_orders', 'customer', 'day', 'amount', '1997-09-30', kind => 'bgnbd');
RESET ROLE;
SET ROLE churn_test_reader;
SELECT name, fitted_by FROM tagscrm.churn_model ORDER BY name;
SELECT pg_temp.err($$SELECT tagscrm.churn_fit('by-reader', 'churn_orders', 'customer', 'day', 'amount', '1997-09-30')$$);
SELECT pg_temp.err($$SELECT count(*) FROM tagscrm.churn_scores('by-admin')$$);
RESET ROLE;
GRANT SELECT ON churn_orders TO churn_test_reader;
SET ROLE churn_test_reader;
SELECT count(*) AS scored_by_reader FROM tagscrm.churn_scores('by-admin');
SELECT round(tagscrm.bgnbd_p_alive(tagscrm.churn_model_bgnbd(m), 2, 30.43, 38.86)::numeric, 4) AS reader_scores
  FROM tagscrm.churn_model m WHERE name = 'by-admin';
RESET ROLE;

-- a dropped source table
DROP TABLE churn_orders_free;
CREATE TABLE churn_orders_gone AS SELECT * FROM churn_orders;
SELECT name FROM tagscrm.churn_fit('gone', 'churn_orders_gone', 'customer', 'day', 'amount', '1997-09-30');
DROP TABLE churn_orders_gone;
SELECT regexp_replace(pg_temp.err($$SELECT count(*) FROM tagscrm.churn_scores('gone')$$), 'OID [0-9]+', 'OID N') AS err;

-- orders with a NULL amount are skipped with a warning naming how many (those
-- up to the calibration end): the fit equals the fit without those rows
CREATE TABLE churn_orders_nulls AS SELECT * FROM churn_orders;
INSERT INTO churn_orders_nulls VALUES (1, '1997-01-15', NULL), (2, '1997-05-02', NULL),
       (3, '1998-01-01', NULL), (999999, '1997-03-01', NULL);
SELECT count(*) AS null_amounts FROM churn_orders_nulls WHERE amount IS NULL;
SELECT name FROM tagscrm.churn_fit('nulls', 'churn_orders_nulls', 'customer', 'day', 'amount', '1997-09-30');
SELECT name FROM tagscrm.churn_fit('no-nulls', 'churn_orders', 'customer', 'day', 'amount', '1997-09-30');
SELECT n.r = m.r AND n.alpha = m.alpha AND n.a = m.a AND n.b = m.b AND n.p = m.p AND n.q = m.q
       AND n.gamma = m.gamma AND n.bgnbd_customers = m.bgnbd_customers AND n.gg_customers = m.gg_customers
       AS same_as_without_nulls
  FROM tagscrm.churn_model n, tagscrm.churn_model m WHERE n.name = 'nulls' AND m.name = 'no-nulls';
-- scoring and validating leave those rows out too: the same figures as without them, no error
SELECT count(*) AS customers,
       count(*) FILTER (WHERE (a.x, a.t_x, a.t, a.p_alive, a.expected_purchases, a.expected_value, a.clv)
                              IS DISTINCT FROM (b.x, b.t_x, b.t, b.p_alive, b.expected_purchases, b.expected_value, b.clv))
         AS differ
  FROM tagscrm.churn_scores('nulls') a JOIN tagscrm.churn_scores('no-nulls') b USING (customer_id);
SELECT count(*) AS buckets_differ FROM (
	SELECT * FROM tagscrm.churn_validate('churn_orders_nulls', 'customer', 'day', 'amount', '1997-09-30', '1998-06-30')
	EXCEPT SELECT * FROM tagscrm.churn_validate('churn_orders', 'customer', 'day', 'amount', '1997-09-30', '1998-06-30')) d;
DROP TABLE churn_orders_nulls;

-- on the watched orders table, the churn models count the orders of
-- watch_orders' condition, as the facts do: a fit, scores and a validation
-- there equal those on a table of only the counted orders
CREATE TABLE churn_orders_status AS
SELECT customer, day, amount, CASE WHEN (customer::integer + extract(day FROM day)::integer) % 5 = 0
                                   THEN 'cancelled' ELSE 'paid' END AS status
  FROM churn_orders;
CREATE TABLE churn_orders_paid AS SELECT customer, day, amount FROM churn_orders_status WHERE status = 'paid';
SET client_min_messages = warning;   -- the backfill's progress notices
SELECT tagscrm.watch_orders('churn_orders_status', 'customer', 'day', 'amount',
                            status_column => 'status', counted_statuses => '{paid}');
SELECT name FROM tagscrm.churn_fit('status', 'churn_orders_status', 'customer', 'day', 'amount', '1997-09-30');
SELECT name FROM tagscrm.churn_fit('paid', 'churn_orders_paid', 'customer', 'day', 'amount', '1997-09-30');
SELECT abs(n.r / m.r - 1) < 1e-9 AND abs(n.alpha / m.alpha - 1) < 1e-9 AND abs(n.a / m.a - 1) < 1e-9
       AND abs(n.b / m.b - 1) < 1e-9 AND abs(n.p / m.p - 1) < 1e-9 AND abs(n.q / m.q - 1) < 1e-9
       AND n.bgnbd_customers = m.bgnbd_customers AND n.gg_customers = m.gg_customers
       AND n.bgnbd_customers < (SELECT count(DISTINCT customer) FROM churn_orders)
       AS counted_orders_only
  FROM tagscrm.churn_model n, tagscrm.churn_model m WHERE n.name = 'status' AND m.name = 'paid';
SELECT count(*) AS customers,
       count(*) FILTER (WHERE s.x IS DISTINCT FROM p.x OR abs(s.p_alive - p.p_alive) > 1e-9) AS differ
  FROM tagscrm.churn_scores('status') s FULL JOIN tagscrm.churn_scores('paid') p USING (customer_id);
SELECT bool_and(v.customers = w.customers AND v.actual_mean IS NOT DISTINCT FROM w.actual_mean)
       AS validation_counts_paid_only
  FROM tagscrm.churn_validate('churn_orders_status', 'customer', 'day', 'amount', '1997-09-30', '1998-06-30') v
  JOIN tagscrm.churn_validate('churn_orders_paid', 'customer', 'day', 'amount', '1997-09-30', '1998-06-30') w
       USING (bucket);
SELECT tagscrm.unwatch('churn_orders_status');
RESET client_min_messages;
DROP TABLE churn_orders_status, churn_orders_paid;

-- clean up (roles are cluster-wide)
DELETE FROM tagscrm.churn_model;
REVOKE ALL ON churn_orders FROM churn_test_admin, churn_test_reader;
DROP ROLE churn_test_admin;
DROP ROLE churn_test_reader;
DROP VIEW churn_orders_view;
DROP TABLE churn_orders, churn_orders_rls, churn_orders_text;
RESET tagscrm.clock_override;
