-- Bad and degenerate inputs of the churn model: each gives a clear error with
-- its SQLSTATE (and hint), or a documented result; never NaN or Inf.
SET TimeZone = 'UTC';
SET extra_float_digits = 0;
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

-- purchase_summary: hand-worked examples
-- one order: no repeat purchase; T counts whole weeks up to the end
SELECT tagscrm.purchase_summary(at, amount, '2024-01-29') FROM (VALUES ('2024-01-01'::timestamptz, 10::numeric)) v(at, amount);
-- same-day orders merge (amounts add up), the first day is not a repeat purchase,
-- orders after calibration_end are ignored, an order exactly at the end counts:
-- days 01-01 (10 + 5), 01-08 (20 + 1), 01-22 (30), 01-29 00:00 (9); 02-05 ignored
-- -> x = 3, zbar = (21 + 30 + 9) / 3 = 20, and t_x = t = (01-29 00:00 - 01-01 09:00)
-- = 27.625 days = 3.946 weeks (times count from the first order's exact time)
SELECT tagscrm.purchase_summary(at, amount, '2024-01-29') FROM (VALUES
	('2024-01-01 09:00'::timestamptz, 10::numeric), ('2024-01-01 18:00', 5), ('2024-01-08 00:00', 20),
	('2024-01-08 23:00', 1), ('2024-01-22 00:00', 30), ('2024-01-29 00:00', 9), ('2024-02-05', 100)) v(at, amount);
-- t_x runs to the last purchase (as the facts' last_order_at does): first at
-- 12:00, the repeat day's orders at 06:00 and 20:00 -> t_x = 32 h = 1.333 days
SELECT tagscrm.purchase_summary(at, amount, '2024-01-03', '1 day') FROM (VALUES
	('2024-01-01 12:00'::timestamptz, 1::numeric), ('2024-01-02 20:00', 1), ('2024-01-02 06:00', 1)) v(at, amount);
-- days are calendar days of the session time zone
SET TimeZone = 'Asia/Shanghai';
SELECT (tagscrm.purchase_summary(at, 1, '2024-01-03')).x AS x_shanghai FROM (VALUES
	('2024-01-01 15:00+00'::timestamptz), ('2024-01-01 17:00+00')) v(at);
SET TimeZone = 'UTC';
SELECT (tagscrm.purchase_summary(at, 1, '2024-01-03')).x AS x_utc FROM (VALUES
	('2024-01-01 15:00+00'::timestamptz), ('2024-01-01 17:00+00')) v(at);
-- zero amounts are allowed (CDNOW has some); a customer with only later orders, or none, is NULL
SELECT tagscrm.purchase_summary(at, 0, '2024-01-29') FROM (VALUES ('2024-01-01'::timestamptz), ('2024-01-02')) v(at);
SELECT tagscrm.purchase_summary(at, 1, '2024-01-29') IS NULL AS only_later FROM (VALUES ('2024-02-01'::timestamptz)) v(at);
SELECT tagscrm.purchase_summary(at, 1, '2024-01-29') IS NULL AS empty FROM (VALUES ('2024-02-01'::timestamptz)) v(at) WHERE false;
-- a month as time unit is 30 days, a year 365.25 days (as extract(epoch) counts them)
SELECT (tagscrm.purchase_summary(at, 1, '2024-03-01', '1 month')).t AS months,
       (tagscrm.purchase_summary(at, 1, '2024-03-01', '1 year')).t * 365.25 AS days
  FROM (VALUES ('2024-01-01'::timestamptz)) v(at);

-- purchase_summary: bad inputs
SELECT pg_temp.err($$SELECT tagscrm.purchase_summary(NULL, 1, '2024-01-29')$$);
SELECT pg_temp.err($$SELECT tagscrm.purchase_summary('2024-01-01', NULL, '2024-01-29')$$);
SELECT pg_temp.err($$SELECT tagscrm.purchase_summary('2024-01-01', 1, NULL)$$);
SELECT pg_temp.err($$SELECT tagscrm.purchase_summary('2024-01-01', 1, '2024-01-29', NULL)$$);
SELECT pg_temp.err($$SELECT tagscrm.purchase_summary('2024-01-01', -5, '2024-01-29')$$);
SELECT pg_temp.err($$SELECT tagscrm.purchase_summary('2024-01-01', 'NaN', '2024-01-29')$$);
SELECT pg_temp.err($$SELECT tagscrm.purchase_summary('infinity', 1, '2024-01-29')$$);
SELECT pg_temp.err($$SELECT tagscrm.purchase_summary('2024-01-01', 1, '-infinity')$$);
SELECT pg_temp.err($$SELECT tagscrm.purchase_summary('2024-01-01', 1, '2024-01-29', '0 days')$$);
SELECT pg_temp.err($$SELECT tagscrm.purchase_summary('2024-01-01', 1, '2024-01-29', '-7 days')$$);
SELECT pg_temp.err($$SELECT tagscrm.purchase_summary('2024-01-01', 1, e) FROM (VALUES ('2024-01-29'::timestamptz), ('2024-01-30')) v(e)$$);
SELECT pg_temp.err($$SELECT tagscrm.purchase_summary(at, 1e308, '2024-01-29') FROM (VALUES ('2024-01-01'::timestamptz), ('2024-01-02'), ('2024-01-03')) v(at)$$);
SELECT pg_temp.err($$SELECT tagscrm.purchase_summary('2024-01-01', 1e400, '2024-01-29')$$);
SELECT pg_temp.err($$SELECT tagscrm.purchase_summary('2024-01-01', 'Infinity', '2024-01-29')$$);

-- bgnbd_fit: bad data points
SELECT pg_temp.err($$SELECT tagscrm.bgnbd_fit(-1, 0, 10)$$);
SELECT pg_temp.err($$SELECT tagscrm.bgnbd_fit(1.5, 1, 10)$$);
SELECT pg_temp.err($$SELECT tagscrm.bgnbd_fit(1, 11, 10)$$);
SELECT pg_temp.err($$SELECT tagscrm.bgnbd_fit(1, -1, 10)$$);
SELECT pg_temp.err($$SELECT tagscrm.bgnbd_fit(0, 0, -10)$$);
SELECT pg_temp.err($$SELECT tagscrm.bgnbd_fit(0, 3, 10)$$);
SELECT pg_temp.err($$SELECT tagscrm.bgnbd_fit('NaN', 0, 10)$$);
SELECT pg_temp.err($$SELECT tagscrm.bgnbd_fit(1, 1, 'Infinity')$$);
-- bgnbd_fit: degenerate data
SELECT tagscrm.bgnbd_fit(x, t_x, t) IS NULL AS empty_is_null FROM (VALUES (1::float8, 1::float8, 2::float8)) v(x, t_x, t) WHERE false;
SELECT tagscrm.bgnbd_fit(NULL, NULL, NULL) IS NULL AS nulls_skipped;
SELECT pg_temp.err($$SELECT tagscrm.bgnbd_fit(0, 0, t) FROM generate_series(1, 100) t$$);
SELECT pg_temp.err($$SELECT tagscrm.bgnbd_fit(x, t_x, 0) FROM (VALUES (0, 0)) v(x, t_x)$$);
SELECT pg_temp.err($$SELECT tagscrm.bgnbd_fit(3, 5, 10)$$);
-- all purchases of every customer on one day: nobody has a repeat purchase
SELECT pg_temp.err($$SELECT tagscrm.bgnbd_fit((s).x, (s).t_x, (s).t) FROM (
	SELECT tagscrm.purchase_summary('2024-01-01 10:00'::timestamptz + (c % 5) * interval '1 hour', 1, '2024-03-01') AS s
	  FROM generate_series(1, 50) c GROUP BY c) q$$);

-- gamma_gamma_fit: customers with x = 0 are skipped; bad points
SELECT tagscrm.gamma_gamma_fit(0, 0) IS NULL AS no_repeat_buyers_is_null;
SELECT pg_temp.err($$SELECT tagscrm.gamma_gamma_fit(2, 0)$$);
SELECT pg_temp.err($$SELECT tagscrm.gamma_gamma_fit(2, -3)$$);
SELECT pg_temp.err($$SELECT tagscrm.gamma_gamma_fit(2.5, 3)$$);
SELECT pg_temp.err($$SELECT tagscrm.gamma_gamma_fit(2, 'Infinity')$$);
SELECT pg_temp.err($$SELECT tagscrm.gamma_gamma_fit(2, 10) FROM generate_series(1, 5)$$);
-- every repeat buyer spends exactly the same: no spread to fit
SELECT pg_temp.err($$SELECT tagscrm.gamma_gamma_fit(x, 10) FROM generate_series(1, 20) x$$);

-- scoring: bad models and inputs
SELECT pg_temp.err($$SELECT tagscrm.bgnbd_p_alive(ROW(NULL, 1, 1, 1, 0, 0)::tagscrm.bgnbd_model, 1, 1, 2)$$);
SELECT pg_temp.err($$SELECT tagscrm.bgnbd_p_alive(ROW(-1, 1, 1, 1, 0, 0)::tagscrm.bgnbd_model, 1, 1, 2)$$);
SELECT pg_temp.err($$SELECT tagscrm.bgnbd_p_alive(ROW(1, 'Infinity', 1, 1, 0, 0)::tagscrm.bgnbd_model, 1, 1, 2)$$);
SELECT pg_temp.err($$SELECT tagscrm.bgnbd_p_alive(ROW(1, 1, 1, 1, 0, 0)::tagscrm.bgnbd_model, 1, 3, 2)$$);
SELECT pg_temp.err($$SELECT tagscrm.bgnbd_expected_purchases(ROW(1, 1, 1, 1, 0, 0)::tagscrm.bgnbd_model, -1, 1, 1, 2)$$);
SELECT pg_temp.err($$SELECT tagscrm.bgnbd_expected_purchases(ROW(1, 1, 1, 1, 0, 0)::tagscrm.bgnbd_model, 'NaN')$$);
-- a model with q <= 1 is no error: E[Z | x, zbar] = p (gamma + x zbar) / (p x + q - 1)
-- exists for p x + q > 1 and is NULL otherwise (x = 0 always), as is the clv
SELECT tagscrm.gamma_gamma_expected_value(ROW(2, 0.8, 10, 0, 0)::tagscrm.gamma_gamma_model, 1, 5)
       - 2 * (10 + 1 * 5) / (2 * 1 + 0.8 - 1)::float8 AS q_below_1_x_1_minus_formula,
       tagscrm.gamma_gamma_expected_value(ROW(2, 0.8, 10, 0, 0)::tagscrm.gamma_gamma_model, 0, 0) IS NULL AS x_0_is_null,
       tagscrm.gamma_gamma_expected_value(ROW(0.1, 0.8, 10, 0, 0)::tagscrm.gamma_gamma_model, 1, 5) IS NULL AS px_q_0_9_is_null,
       tagscrm.gamma_gamma_expected_value(ROW(0.2, 0.8, 10, 0, 0)::tagscrm.gamma_gamma_model, 1, 5) IS NULL AS px_q_1_is_null,
       tagscrm.clv(ROW(1, 1, 1, 1, 0, 0)::tagscrm.bgnbd_model, ROW(2, 0.8, 10, 0, 0)::tagscrm.gamma_gamma_model, 0, 0, 2, 0, 52) IS NULL AS clv_x_0_is_null,
       tagscrm.clv(ROW(1, 1, 1, 1, 0, 0)::tagscrm.bgnbd_model, ROW(2, 0.8, 10, 0, 0)::tagscrm.gamma_gamma_model, 1, 1, 2, 5, 52) > 0 AS clv_x_1_is_a_value;
SELECT pg_temp.err($$SELECT tagscrm.gamma_gamma_expected_value(ROW(2, 3, 10, 0, 0)::tagscrm.gamma_gamma_model, 1, -5)$$);
SELECT pg_temp.err($$SELECT tagscrm.clv(ROW(1, 1, 1, 1, 0, 0)::tagscrm.bgnbd_model, ROW(2, 3, 10, 0, 0)::tagscrm.gamma_gamma_model, 1, 1, 2, 5, 52, -1)$$);
SELECT pg_temp.err($$SELECT tagscrm.clv(ROW(1, 1, 1, 1, 0, 0)::tagscrm.bgnbd_model, ROW(2, 3, 10, 0, 0)::tagscrm.gamma_gamma_model, 1, 1, 2, 5, 1e9)$$);
-- STRICT: a NULL argument gives NULL
SELECT tagscrm.bgnbd_p_alive(ROW(1, 1, 1, 1, 0, 0)::tagscrm.bgnbd_model, NULL, 1, 2) IS NULL AS null_in_null_out;
-- horizon 0 is worth nothing; the models never return NaN or Inf at extremes
SELECT tagscrm.clv(ROW(1, 1, 1, 1, 0, 0)::tagscrm.bgnbd_model, ROW(2, 3, 10, 0, 0)::tagscrm.gamma_gamma_model, 1, 1, 2, 5, 0) AS clv_0,
       tagscrm.bgnbd_p_alive(ROW(1e-8, 1e8, 1e-8, 1e8, 0, 0)::tagscrm.bgnbd_model, 1e6, 0, 1e9) AS p_alive_extreme,
       tagscrm.bgnbd_expected_purchases(ROW(50, 1e-3, 50, 1e-3, 0, 0)::tagscrm.bgnbd_model, 1e4, 1e5, 1e3, 1e3) < 'Infinity' AS finite;
