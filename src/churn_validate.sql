-- churn_validate: fits a churn model on a calibration period and compares it
-- with what the customers did in the holdout period that follows (Fader,
-- Hardie & Lee 2005, the calibration/holdout table), plus the AUC of P(alive)
-- for "bought again in the holdout".  Runs with the caller's rights.

CREATE FUNCTION @extschema@.churn_validate(orders pg_catalog.regclass, customer_column pg_catalog.name,
                                           at_column pg_catalog.name, amount_column pg_catalog.name,
                                           calibration_end pg_catalog.timestamptz,
                                           holdout_end pg_catalog.timestamptz,
                                           time_unit pg_catalog.interval DEFAULT '7 days',
                                           kind text DEFAULT 'mbgnbd')   -- as churn_fit
RETURNS TABLE (bucket text, customers bigint, actual_mean float8, predicted_mean float8, auc float8)
LANGUAGE plpgsql STABLE PARALLEL SAFE  -- security invoker: the caller reads the orders with their own rights
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	periods float8;
	fit_expr text;       -- the model, an aggregate over the calibration summaries s
	alive_expr text;     -- P(alive) of (s.s) under the model m.m
	expected_expr text;  -- E[Y(t) | x, t_x, T] of (s.s) under m.m, t = $3 periods
	summary_sql text;
	n bigint;
BEGIN
	IF calibration_end IS NULL OR holdout_end IS NULL OR time_unit IS NULL OR kind IS NULL THEN
		RAISE EXCEPTION 'calibration_end, holdout_end, time_unit and kind must not be null'
			USING ERRCODE = '22004', HINT = 'Pass the end of the calibration period and the end of the holdout period.';
	END IF;
	IF NOT isfinite(calibration_end) OR NOT isfinite(holdout_end) THEN
		RAISE EXCEPTION 'calibration_end and holdout_end must be finite'
			USING ERRCODE = '22008', HINT = 'Pass real times, not infinity.';
	END IF;
	IF holdout_end <= calibration_end THEN
		RAISE EXCEPTION 'holdout_end (%) must be after calibration_end (%)', holdout_end, calibration_end
			USING ERRCODE = '22023', HINT = 'The holdout period starts at calibration_end and ends at holdout_end.';
	END IF;
	IF extract(epoch FROM time_unit) <= 0 THEN
		RAISE EXCEPTION 'time_unit must be positive' USING ERRCODE = '22023', HINT = 'Pass an interval such as ''7 days''.';
	END IF;
	periods := extract(epoch FROM holdout_end - calibration_end)::float8 / extract(epoch FROM time_unit)::float8;

	-- one branch per model kind
	CASE kind
	WHEN 'bgnbd' THEN
		fit_expr := '@extschema@.bgnbd_fit((s.s).x, (s.s).t_x, (s.s).t)';
		alive_expr := '@extschema@.bgnbd_p_alive(m.m, (s.s).x, (s.s).t_x, (s.s).t)';
		expected_expr := '@extschema@.bgnbd_expected_purchases(m.m, $3, (s.s).x, (s.s).t_x, (s.s).t)';
	WHEN 'mbgnbd' THEN
		fit_expr := '@extschema@.mbgnbd_fit((s.s).x, (s.s).t_x, (s.s).t)';
		alive_expr := '@extschema@.mbgnbd_p_alive(m.m, (s.s).x, (s.s).t_x, (s.s).t)';
		expected_expr := '@extschema@.mbgnbd_expected_purchases(m.m, $3, (s.s).x, (s.s).t_x, (s.s).t)';
	ELSE
		RAISE EXCEPTION 'unknown churn model kind "%"', kind
			USING ERRCODE = '22023', HINT = 'Use kind => ''mbgnbd'' or kind => ''bgnbd''.';
	END CASE;

	PERFORM @extschema@.churn_check_source(orders, customer_column, at_column, amount_column, false);
	summary_sql := @extschema@.churn_summary_sql(orders, customer_column, at_column, amount_column);

	EXECUTE format('SELECT count(*) FROM (%s) s WHERE s.s IS NOT NULL', summary_sql)
	   INTO n USING calibration_end, time_unit;
	IF n = 0 THEN
		RAISE EXCEPTION 'no orders in % up to calibration_end %', orders, calibration_end
			USING ERRCODE = 'P0002', HINT = 'Pass a calibration_end after the first orders.';
	END IF;

	-- holdout purchases: distinct calendar days (session time zone) after the
	-- calibration end, as the model counts repeat purchase days (orders
	-- without an amount left out, as in the calibration summaries)
	RETURN QUERY EXECUTE format(
		'WITH s AS (%1$s), '
		'm AS (SELECT %2$s AS m FROM s WHERE s.s IS NOT NULL), '
		'h AS (SELECT o.%5$I::pg_catalog.text AS customer_id, '
		'             count(DISTINCT o.%6$I::pg_catalog.timestamptz::pg_catalog.date) AS y '
		'        FROM %4$s o WHERE o.%5$I IS NOT NULL AND o.%6$I::pg_catalog.timestamptz > $1 '
		'         AND o.%6$I::pg_catalog.timestamptz <= $4 AND o.%9$I IS NOT NULL AND (%8$s) GROUP BY 1), '
		'c AS (SELECT LEAST((s.s).x, 7) AS b, COALESCE(h.y, 0)::float8 AS y, '
		'             %3$s AS pa, %7$s AS ep '
		'        FROM s CROSS JOIN m LEFT JOIN h ON h.customer_id = s.customer_id WHERE s.s IS NOT NULL), '
		-- midranks: tied P(alive) values share their average rank (ties count half)
		'r AS (SELECT c.y, (pg_catalog.rank() OVER (ORDER BY c.pa) '
		'             + (pg_catalog.count(*) OVER (PARTITION BY c.pa) - 1) / 2.0)::float8 AS rk FROM c), '
		'a AS (SELECT (pg_catalog.sum(rk) FILTER (WHERE y > 0) - n1 * (n1 + 1) / 2) / NULLIF(n1 * n0, 0) AS auc '
		'        FROM (SELECT pg_catalog.count(*) FILTER (WHERE y > 0)::float8 AS n1, '
		'                     pg_catalog.count(*) FILTER (WHERE y = 0)::float8 AS n0 FROM c) k, r '
		'       GROUP BY n1, n0) '
		'SELECT CASE WHEN g.b = 7 THEN ''7+'' WHEN g.b = 8 THEN ''all'' ELSE g.b::text END, '
		'       pg_catalog.count(c.y), pg_catalog.avg(c.y), pg_catalog.avg(c.ep), (SELECT a.auc FROM a) '
		'  FROM pg_catalog.generate_series(0, 8) g(b) '
		'  LEFT JOIN c ON c.b = g.b OR g.b = 8 '
		' GROUP BY g.b ORDER BY g.b',
		summary_sql, fit_expr, alive_expr, orders, customer_column, at_column, expected_expr,
		@extschema@.churn_purchases_sql(orders), amount_column)
	USING calibration_end, time_unit, periods, holdout_end;
END
$$;
COMMENT ON FUNCTION @extschema@.churn_validate(pg_catalog.regclass, pg_catalog.name, pg_catalog.name, pg_catalog.name,
                                               pg_catalog.timestamptz, pg_catalog.timestamptz, pg_catalog.interval, text) IS
	'Fits a churn model on the orders up to calibration_end and reports, per calibration repeat purchases 0..6, 7+ and all, the mean actual and predicted repeat purchase days up to holdout_end, and the AUC of P(alive) for buying again';
