-- ---------------------------------------------------------------------------
-- churn.sql: the statistical churn model (churn.c, churn_math.c).
--   BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way"):
--     who is still alive, and how many purchases to expect.
--   Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV"): the value of a
--     customer's purchases, and customer lifetime value.
-- Per customer the data are (x, t_x, t, zbar): x repeat purchases (the first
-- purchase excluded, purchases on the same day merged), t_x the time of the
-- last repeat purchase and t the time up to the end of calibration, both
-- counted from the first purchase in model periods, zbar the mean value of the
-- repeat purchases.
-- ---------------------------------------------------------------------------

CREATE TYPE @extschema@.purchase_summary AS (
	x    integer,
	t_x  float8,
	t    float8,
	zbar float8
);
COMMENT ON TYPE @extschema@.purchase_summary IS
	'A customer''s calibration data: x repeat purchases, t_x last repeat purchase, t calibration length (periods since the first purchase), zbar mean repeat spend (0 when x = 0)';

CREATE TYPE @extschema@.bgnbd_model AS (
	r              float8,
	alpha          float8,
	a              float8,
	b              float8,
	log_likelihood float8,
	customers      bigint
);
COMMENT ON TYPE @extschema@.bgnbd_model IS
	'A fitted BG/NBD model: purchase rate ~ Gamma(r, alpha), dropout probability ~ Beta(a, b); alpha is in model periods';

CREATE TYPE @extschema@.gamma_gamma_model AS (
	p              float8,
	q              float8,
	gamma          float8,
	log_likelihood float8,
	customers      bigint
);
COMMENT ON TYPE @extschema@.gamma_gamma_model IS
	'A fitted Gamma-Gamma spend model: spend per purchase ~ Gamma(p, nu), nu ~ Gamma(q, gamma); gamma is in money units';

-- purchase_summary(at, amount, calibration_end [, time_unit]) ----------------

CREATE FUNCTION @extschema@.purchase_summary_transfn(internal, pg_catalog.timestamptz, pg_catalog.numeric,
                                                     pg_catalog.timestamptz)
	RETURNS internal
	AS 'MODULE_PATHNAME', 'purchase_summary_transfn'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;  -- not strict: it rejects NULLs itself, with a message
COMMENT ON FUNCTION @extschema@.purchase_summary_transfn(internal, pg_catalog.timestamptz, pg_catalog.numeric,
                                                         pg_catalog.timestamptz) IS
	'Internal: transition function of purchase_summary (time unit 7 days)';

CREATE FUNCTION @extschema@.purchase_summary_transfn(internal, pg_catalog.timestamptz, pg_catalog.numeric,
                                                     pg_catalog.timestamptz, pg_catalog.interval)
	RETURNS internal
	AS 'MODULE_PATHNAME', 'purchase_summary_transfn'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.purchase_summary_transfn(internal, pg_catalog.timestamptz, pg_catalog.numeric,
                                                         pg_catalog.timestamptz, pg_catalog.interval) IS
	'Internal: transition function of purchase_summary';

CREATE FUNCTION @extschema@.purchase_summary_combinefn(internal, internal)
	RETURNS internal
	AS 'MODULE_PATHNAME', 'purchase_summary_combinefn'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.purchase_summary_combinefn(internal, internal) IS
	'Internal: combine function of purchase_summary';

CREATE FUNCTION @extschema@.purchase_summary_serialfn(internal)
	RETURNS pg_catalog.bytea
	AS 'MODULE_PATHNAME', 'purchase_summary_serialfn'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.purchase_summary_serialfn(internal) IS
	'Internal: serialize function of purchase_summary';

CREATE FUNCTION @extschema@.purchase_summary_deserialfn(pg_catalog.bytea, internal)
	RETURNS internal
	AS 'MODULE_PATHNAME', 'purchase_summary_deserialfn'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.purchase_summary_deserialfn(pg_catalog.bytea, internal) IS
	'Internal: deserialize function of purchase_summary';

CREATE FUNCTION @extschema@.purchase_summary_finalfn(internal)
	RETURNS @extschema@.purchase_summary
	AS 'MODULE_PATHNAME', 'purchase_summary_finalfn'
	LANGUAGE C STABLE PARALLEL SAFE;  -- stable: calendar days follow the TimeZone setting
COMMENT ON FUNCTION @extschema@.purchase_summary_finalfn(internal) IS
	'Internal: final function of purchase_summary';

CREATE AGGREGATE @extschema@.purchase_summary(at pg_catalog.timestamptz, amount pg_catalog.numeric,
                                              calibration_end pg_catalog.timestamptz) (
	SFUNC = @extschema@.purchase_summary_transfn,
	STYPE = internal,
	FINALFUNC = @extschema@.purchase_summary_finalfn,
	FINALFUNC_MODIFY = READ_WRITE,
	COMBINEFUNC = @extschema@.purchase_summary_combinefn,
	SERIALFUNC = @extschema@.purchase_summary_serialfn,
	DESERIALFUNC = @extschema@.purchase_summary_deserialfn,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.purchase_summary(pg_catalog.timestamptz, pg_catalog.numeric, pg_catalog.timestamptz) IS
	'One customer''s (x, t_x, t, zbar) from their orders up to calibration_end, in weeks; same-day purchases merged';

CREATE AGGREGATE @extschema@.purchase_summary(at pg_catalog.timestamptz, amount pg_catalog.numeric,
                                              calibration_end pg_catalog.timestamptz,
                                              time_unit pg_catalog.interval) (
	SFUNC = @extschema@.purchase_summary_transfn,
	STYPE = internal,
	FINALFUNC = @extschema@.purchase_summary_finalfn,
	FINALFUNC_MODIFY = READ_WRITE,
	COMBINEFUNC = @extschema@.purchase_summary_combinefn,
	SERIALFUNC = @extschema@.purchase_summary_serialfn,
	DESERIALFUNC = @extschema@.purchase_summary_deserialfn,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.purchase_summary(pg_catalog.timestamptz, pg_catalog.numeric, pg_catalog.timestamptz,
                                                  pg_catalog.interval) IS
	'One customer''s (x, t_x, t, zbar) from their orders up to calibration_end, in periods of time_unit; same-day purchases merged';

-- bgnbd_fit(x, t_x, t) and gamma_gamma_fit(x, zbar) --------------------------

CREATE FUNCTION @extschema@.bgnbd_fit_transfn(internal, pg_catalog.float8, pg_catalog.float8, pg_catalog.float8)
	RETURNS internal
	AS 'MODULE_PATHNAME', 'bgnbd_fit_transfn'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.bgnbd_fit_transfn(internal, pg_catalog.float8, pg_catalog.float8, pg_catalog.float8) IS
	'Internal: transition function of bgnbd_fit and mbgnbd_fit';

CREATE FUNCTION @extschema@.gamma_gamma_fit_transfn(internal, pg_catalog.float8, pg_catalog.float8)
	RETURNS internal
	AS 'MODULE_PATHNAME', 'gamma_gamma_fit_transfn'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.gamma_gamma_fit_transfn(internal, pg_catalog.float8, pg_catalog.float8) IS
	'Internal: transition function of gamma_gamma_fit';

CREATE FUNCTION @extschema@.churn_points_combinefn(internal, internal)
	RETURNS internal
	AS 'MODULE_PATHNAME', 'churn_points_combinefn'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.churn_points_combinefn(internal, internal) IS
	'Internal: combine function of bgnbd_fit, mbgnbd_fit and gamma_gamma_fit';

CREATE FUNCTION @extschema@.churn_points_serialfn(internal)
	RETURNS pg_catalog.bytea
	AS 'MODULE_PATHNAME', 'churn_points_serialfn'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.churn_points_serialfn(internal) IS
	'Internal: serialize function of bgnbd_fit, mbgnbd_fit and gamma_gamma_fit';

CREATE FUNCTION @extschema@.churn_points_deserialfn(pg_catalog.bytea, internal)
	RETURNS internal
	AS 'MODULE_PATHNAME', 'churn_points_deserialfn'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.churn_points_deserialfn(pg_catalog.bytea, internal) IS
	'Internal: deserialize function of bgnbd_fit, mbgnbd_fit and gamma_gamma_fit';

CREATE FUNCTION @extschema@.bgnbd_fit_finalfn(internal)
	RETURNS @extschema@.bgnbd_model
	AS 'MODULE_PATHNAME', 'bgnbd_fit_finalfn'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.bgnbd_fit_finalfn(internal) IS
	'Internal: final function of bgnbd_fit (the maximum-likelihood fit)';

CREATE FUNCTION @extschema@.gamma_gamma_fit_finalfn(internal)
	RETURNS @extschema@.gamma_gamma_model
	AS 'MODULE_PATHNAME', 'gamma_gamma_fit_finalfn'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.gamma_gamma_fit_finalfn(internal) IS
	'Internal: final function of gamma_gamma_fit (the maximum-likelihood fit)';

CREATE AGGREGATE @extschema@.bgnbd_fit(x pg_catalog.float8, t_x pg_catalog.float8, t pg_catalog.float8) (
	SFUNC = @extschema@.bgnbd_fit_transfn,
	STYPE = internal,
	FINALFUNC = @extschema@.bgnbd_fit_finalfn,
	FINALFUNC_MODIFY = READ_WRITE,
	COMBINEFUNC = @extschema@.churn_points_combinefn,
	SERIALFUNC = @extschema@.churn_points_serialfn,
	DESERIALFUNC = @extschema@.churn_points_deserialfn,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.bgnbd_fit(pg_catalog.float8, pg_catalog.float8, pg_catalog.float8) IS
	'Maximum-likelihood BG/NBD fit over customers'' (x, t_x, t); rows with a NULL are skipped; NULL for no rows';

-- MBG/NBD: the same data points and state as bgnbd_fit, the same four
-- parameters (so the same bgnbd_model result); only the likelihood differs.
CREATE FUNCTION @extschema@.mbgnbd_fit_finalfn(internal)
	RETURNS @extschema@.bgnbd_model
	AS 'MODULE_PATHNAME', 'mbgnbd_fit_finalfn'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.mbgnbd_fit_finalfn(internal) IS
	'Internal: final function of mbgnbd_fit (the maximum-likelihood fit)';

CREATE AGGREGATE @extschema@.mbgnbd_fit(x pg_catalog.float8, t_x pg_catalog.float8, t pg_catalog.float8) (
	SFUNC = @extschema@.bgnbd_fit_transfn,
	STYPE = internal,
	FINALFUNC = @extschema@.mbgnbd_fit_finalfn,
	FINALFUNC_MODIFY = READ_WRITE,
	COMBINEFUNC = @extschema@.churn_points_combinefn,
	SERIALFUNC = @extschema@.churn_points_serialfn,
	DESERIALFUNC = @extschema@.churn_points_deserialfn,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.mbgnbd_fit(pg_catalog.float8, pg_catalog.float8, pg_catalog.float8) IS
	'Maximum-likelihood MBG/NBD fit over customers'' (x, t_x, t), as a bgnbd_model holding MBG/NBD parameters; rows with a NULL are skipped; NULL for no rows';

CREATE AGGREGATE @extschema@.gamma_gamma_fit(x pg_catalog.float8, zbar pg_catalog.float8) (
	SFUNC = @extschema@.gamma_gamma_fit_transfn,
	STYPE = internal,
	FINALFUNC = @extschema@.gamma_gamma_fit_finalfn,
	FINALFUNC_MODIFY = READ_WRITE,
	COMBINEFUNC = @extschema@.churn_points_combinefn,
	SERIALFUNC = @extschema@.churn_points_serialfn,
	DESERIALFUNC = @extschema@.churn_points_deserialfn,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.gamma_gamma_fit(pg_catalog.float8, pg_catalog.float8) IS
	'Maximum-likelihood Gamma-Gamma fit over repeat buyers'' (x, zbar); rows with x = 0 or a NULL are skipped';

-- scoring ---------------------------------------------------------------------

CREATE FUNCTION @extschema@.bgnbd_p_alive(model @extschema@.bgnbd_model, x pg_catalog.float8,
                                          t_x pg_catalog.float8, t pg_catalog.float8)
	RETURNS pg_catalog.float8
	AS 'MODULE_PATHNAME', 'bgnbd_p_alive'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
	COST 10;  -- a few logs: tell the planner, so scoring a big table runs in parallel
COMMENT ON FUNCTION @extschema@.bgnbd_p_alive(@extschema@.bgnbd_model, pg_catalog.float8, pg_catalog.float8,
                                              pg_catalog.float8) IS
	'Probability that the customer is still alive at the end of calibration; churn probability is 1 minus this';

CREATE FUNCTION @extschema@.bgnbd_expected_purchases(model @extschema@.bgnbd_model, periods pg_catalog.float8,
                                                     x pg_catalog.float8, t_x pg_catalog.float8,
                                                     t pg_catalog.float8)
	RETURNS pg_catalog.float8
	AS 'MODULE_PATHNAME', 'bgnbd_expected_purchases'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
	COST 100;  -- a 2F1 evaluation
COMMENT ON FUNCTION @extschema@.bgnbd_expected_purchases(@extschema@.bgnbd_model, pg_catalog.float8, pg_catalog.float8,
                                                         pg_catalog.float8, pg_catalog.float8) IS
	'Expected purchases of this customer in the next periods after calibration (FHL 2005 eq. 10)';

CREATE FUNCTION @extschema@.bgnbd_expected_purchases(model @extschema@.bgnbd_model, periods pg_catalog.float8)
	RETURNS pg_catalog.float8
	AS 'MODULE_PATHNAME', 'bgnbd_expected_purchases_new'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
	COST 100;  -- a 2F1 evaluation
COMMENT ON FUNCTION @extschema@.bgnbd_expected_purchases(@extschema@.bgnbd_model, pg_catalog.float8) IS
	'Expected repeat purchases of a new customer in the first periods after the first purchase, E[X(t)] (FHL 2005 eq. 7)';

-- MBG/NBD scoring takes the same four parameters, so it reuses bgnbd_model.
CREATE FUNCTION @extschema@.mbgnbd_p_alive(model @extschema@.bgnbd_model, x pg_catalog.float8,
                                           t_x pg_catalog.float8, t pg_catalog.float8)
	RETURNS pg_catalog.float8
	AS 'MODULE_PATHNAME', 'mbgnbd_p_alive'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
	COST 10;
COMMENT ON FUNCTION @extschema@.mbgnbd_p_alive(@extschema@.bgnbd_model, pg_catalog.float8, pg_catalog.float8,
                                               pg_catalog.float8) IS
	'MBG/NBD probability that the customer is alive at the end of calibration (model holds MBG/NBD parameters)';

CREATE FUNCTION @extschema@.mbgnbd_expected_purchases(model @extschema@.bgnbd_model, periods pg_catalog.float8,
                                                      x pg_catalog.float8, t_x pg_catalog.float8,
                                                      t pg_catalog.float8)
	RETURNS pg_catalog.float8
	AS 'MODULE_PATHNAME', 'mbgnbd_expected_purchases'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
	COST 100;  -- a 2F1 evaluation
COMMENT ON FUNCTION @extschema@.mbgnbd_expected_purchases(@extschema@.bgnbd_model, pg_catalog.float8, pg_catalog.float8,
                                                          pg_catalog.float8, pg_catalog.float8) IS
	'MBG/NBD expected purchases of this customer in the next periods after calibration';

CREATE FUNCTION @extschema@.mbgnbd_expected_purchases(model @extschema@.bgnbd_model, periods pg_catalog.float8)
	RETURNS pg_catalog.float8
	AS 'MODULE_PATHNAME', 'mbgnbd_expected_purchases_new'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
	COST 100;  -- a 2F1 evaluation
COMMENT ON FUNCTION @extschema@.mbgnbd_expected_purchases(@extschema@.bgnbd_model, pg_catalog.float8) IS
	'MBG/NBD expected repeat purchases of a new customer in the first periods after the first purchase';

CREATE FUNCTION @extschema@.gamma_gamma_expected_value(model @extschema@.gamma_gamma_model, x pg_catalog.float8,
                                                       zbar pg_catalog.float8)
	RETURNS pg_catalog.float8
	AS 'MODULE_PATHNAME', 'gamma_gamma_expected_value'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
	COST 5;  -- arithmetic and a composite read
COMMENT ON FUNCTION @extschema@.gamma_gamma_expected_value(@extschema@.gamma_gamma_model, pg_catalog.float8,
                                                           pg_catalog.float8) IS
	'Expected value of this customer''s future purchases, p (gamma + x zbar) / (p x + q - 1)';

CREATE FUNCTION @extschema@.clv(bgnbd @extschema@.bgnbd_model, gamma_gamma @extschema@.gamma_gamma_model,
                                x pg_catalog.float8, t_x pg_catalog.float8, t pg_catalog.float8,
                                zbar pg_catalog.float8, horizon pg_catalog.float8,
                                discount_rate pg_catalog.float8 DEFAULT 0)
	RETURNS pg_catalog.float8
	AS 'MODULE_PATHNAME', 'churn_clv'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
	COST 2000;  -- a 2F1 evaluation per period when discounted
COMMENT ON FUNCTION @extschema@.clv(@extschema@.bgnbd_model, @extschema@.gamma_gamma_model, pg_catalog.float8,
                                    pg_catalog.float8, pg_catalog.float8, pg_catalog.float8, pg_catalog.float8,
                                    pg_catalog.float8) IS
	'Customer lifetime value over horizon periods: expected value x expected purchases per period, discounted per period';

CREATE FUNCTION @extschema@.mbgnbd_clv(mbgnbd @extschema@.bgnbd_model, gamma_gamma @extschema@.gamma_gamma_model,
                                       x pg_catalog.float8, t_x pg_catalog.float8, t pg_catalog.float8,
                                       zbar pg_catalog.float8, horizon pg_catalog.float8,
                                       discount_rate pg_catalog.float8 DEFAULT 0)
	RETURNS pg_catalog.float8
	AS 'MODULE_PATHNAME', 'mbgnbd_clv'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
	COST 2000;  -- a 2F1 evaluation per period when discounted
COMMENT ON FUNCTION @extschema@.mbgnbd_clv(@extschema@.bgnbd_model, @extschema@.gamma_gamma_model, pg_catalog.float8,
                                           pg_catalog.float8, pg_catalog.float8, pg_catalog.float8, pg_catalog.float8,
                                           pg_catalog.float8) IS
	'Customer lifetime value as clv(), with the MBG/NBD forecast (the model holds MBG/NBD parameters)';

CREATE FUNCTION @extschema@.hyp2f1(a pg_catalog.float8, b pg_catalog.float8, c pg_catalog.float8,
                                   z pg_catalog.float8)
	RETURNS pg_catalog.float8
	AS 'MODULE_PATHNAME', 'churn_hyp2f1_sql'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
	COST 50;  -- a series
COMMENT ON FUNCTION @extschema@.hyp2f1(pg_catalog.float8, pg_catalog.float8, pg_catalog.float8, pg_catalog.float8) IS
	'Gaussian hypergeometric function 2F1(a, b; c; z) for z < 1, as the BG/NBD forecast uses it';

-- stored models -----------------------------------------------------------------

CREATE TABLE @extschema@.churn_model (
	name                 text PRIMARY KEY CHECK (name <> '' AND length(name) <= 128),
	-- the purchase model r, alpha, a and b belong to: BG/NBD or MBG/NBD (the
	-- bgnbd_* columns below hold that model's figures, whichever it is)
	kind                 text NOT NULL DEFAULT 'bgnbd' CHECK (kind IN ('bgnbd', 'mbgnbd')),
	r                    float8 NOT NULL CHECK (r > 0 AND r < 'Infinity'),
	alpha                float8 NOT NULL CHECK (alpha > 0 AND alpha < 'Infinity'),
	a                    float8 NOT NULL CHECK (a > 0 AND a < 'Infinity'),
	b                    float8 NOT NULL CHECK (b > 0 AND b < 'Infinity'),
	bgnbd_log_likelihood float8 NOT NULL CHECK (bgnbd_log_likelihood > '-Infinity' AND bgnbd_log_likelihood < 'Infinity'),
	bgnbd_customers      bigint NOT NULL,
	p                    float8 NOT NULL CHECK (p > 0 AND p < 'Infinity'),
	q                    float8 NOT NULL CHECK (q > 0 AND q < 'Infinity'),
	gamma                float8 NOT NULL CHECK (gamma > 0 AND gamma < 'Infinity'),
	gg_log_likelihood    float8 NOT NULL CHECK (gg_log_likelihood > '-Infinity' AND gg_log_likelihood < 'Infinity'),
	gg_customers         bigint NOT NULL,
	time_unit            interval NOT NULL,
	calibration_end      timestamptz NOT NULL,
	source_table         regclass NOT NULL,
	customer_column      name NOT NULL,
	at_column            name NOT NULL,
	amount_column        name NOT NULL,
	source               text NOT NULL,
	fitted_at            timestamptz NOT NULL,
	fitted_by            text NOT NULL
);
COMMENT ON TABLE @extschema@.churn_model IS
	'Stored churn models by name: purchase model (kind: BG/NBD or MBG/NBD) and Gamma-Gamma parameters, the data they were fitted on, when and by whom; bgnbd_log_likelihood and bgnbd_customers are those of the purchase model of either kind';
COMMENT ON COLUMN @extschema@.churn_model.bgnbd_log_likelihood IS
	'Log-likelihood of the purchase model (BG/NBD or MBG/NBD, as kind says) at r, alpha, a, b';
COMMENT ON COLUMN @extschema@.churn_model.bgnbd_customers IS
	'Customers the purchase model (BG/NBD or MBG/NBD, as kind says) was fitted on';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.churn_model', '');

-- The model columns of a stored model as the composites the scoring functions
-- take; the purchase model's composite is a bgnbd_model of either kind.
CREATE FUNCTION @extschema@.churn_model_bgnbd(m @extschema@.churn_model) RETURNS @extschema@.bgnbd_model
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ROW(m.r, m.alpha, m.a, m.b, m.bgnbd_log_likelihood, m.bgnbd_customers)::@extschema@.bgnbd_model $$;
COMMENT ON FUNCTION @extschema@.churn_model_bgnbd(@extschema@.churn_model) IS
	'The purchase model part (BG/NBD or MBG/NBD, as its kind says) of a stored churn model, as tagscrm.bgnbd_model';

CREATE FUNCTION @extschema@.churn_model_gamma_gamma(m @extschema@.churn_model) RETURNS @extschema@.gamma_gamma_model
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT ROW(m.p, m.q, m.gamma, m.gg_log_likelihood, m.gg_customers)::@extschema@.gamma_gamma_model $$;
COMMENT ON FUNCTION @extschema@.churn_model_gamma_gamma(@extschema@.churn_model) IS
	'The Gamma-Gamma part of a stored churn model, as tagscrm.gamma_gamma_model';

-- Checks an orders table and its columns for churn_fit / churn_scores.  Only
-- ordinary, partitioned and materialized tables are read (no view can run a
-- function as the definer), only columns of built-in types (no user-defined
-- cast or output function runs as the definer), and, for the definer
-- (churn_fit), no table with row-level security, which the definer bypasses.
CREATE FUNCTION @extschema@.churn_check_source(orders pg_catalog.regclass, customer_column pg_catalog.name,
                                               at_column pg_catalog.name, amount_column pg_catalog.name,
                                               as_definer boolean)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	actor text;
	rel record;
	col record;
BEGIN
	-- the definer checks for the role it acts for; the invoker is that role
	IF as_definer THEN
		actor := @extschema@.acting_role();
	ELSE
		actor := current_user;
	END IF;
	IF orders IS NULL OR customer_column IS NULL OR at_column IS NULL OR amount_column IS NULL THEN
		RAISE EXCEPTION 'orders table and column names must not be null'
			USING ERRCODE = '22004', HINT = 'Pass the orders table and its customer, time and amount columns.';
	END IF;
	SELECT c.relkind, c.relrowsecurity INTO rel FROM pg_class c WHERE c.oid = orders;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'relation with OID % does not exist', orders::oid USING ERRCODE = '42P01';
	END IF;
	IF rel.relkind NOT IN ('r', 'p', 'm') THEN
		RAISE EXCEPTION '"%" is not a table', orders
			USING ERRCODE = '42809', HINT = 'Fit on a table or a materialized view; views are not read.';
	END IF;
	IF as_definer AND rel.relrowsecurity THEN
		RAISE EXCEPTION 'table % has row-level security enabled', orders
			USING ERRCODE = '42501',
			      HINT = 'Fit with the aggregates tagscrm.purchase_summary and tagscrm.bgnbd_fit as yourself instead.';
	END IF;
	FOR col IN SELECT * FROM (VALUES (customer_column), (at_column), (amount_column)) v(c)
	LOOP
		PERFORM FROM pg_attribute a
		 WHERE a.attrelid = orders AND a.attname = col.c AND a.attnum > 0 AND NOT a.attisdropped;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'column "%" does not exist in %', col.c, orders USING ERRCODE = '42703';
		END IF;
		IF NOT has_column_privilege(actor, orders, col.c, 'SELECT') THEN
			RAISE EXCEPTION 'permission denied for table %', orders
				USING ERRCODE = '42501', DETAIL = format('Role %s may not read column %s.', actor, col.c);
		END IF;
	END LOOP;
	PERFORM FROM pg_attribute a
	 WHERE a.attrelid = orders AND a.attname = customer_column
	   AND a.atttypid IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype, 'int2'::regtype, 'int4'::regtype,
	                      'int8'::regtype, 'uuid'::regtype, 'numeric'::regtype, 'name'::regtype);
	IF NOT FOUND THEN
		RAISE EXCEPTION 'customer column "%" must be of type text, varchar, char, smallint, integer, bigint, numeric or uuid',
			customer_column USING ERRCODE = '42804';
	END IF;
	PERFORM FROM pg_attribute a
	 WHERE a.attrelid = orders AND a.attname = at_column
	   AND a.atttypid IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype);
	IF NOT FOUND THEN
		RAISE EXCEPTION 'time column "%" must be of type timestamptz, timestamp or date', at_column USING ERRCODE = '42804';
	END IF;
	PERFORM FROM pg_attribute a
	 WHERE a.attrelid = orders AND a.attname = amount_column
	   AND a.atttypid IN ('numeric'::regtype, 'int2'::regtype, 'int4'::regtype, 'int8'::regtype,
	                      'float4'::regtype, 'float8'::regtype);
	IF NOT FOUND THEN
		RAISE EXCEPTION 'amount column "%" must be of a numeric type (numeric, integer or float)', amount_column
			USING ERRCODE = '42804';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.churn_check_source(pg_catalog.regclass, pg_catalog.name, pg_catalog.name,
                                                   pg_catalog.name, boolean) IS
	'Internal: checks the orders table and columns a churn model reads, and the acting role''s right to read them';

-- Which rows of an orders table are purchases: watch_orders' condition when
-- the table is the watched orders table (so the churn models count the same
-- orders as the facts and tags), every row otherwise.  SQL text over the
-- table's unqualified columns, built from quoted identifiers and literals.
-- SECURITY DEFINER: readers who score with churn_scores may not read
-- watched_table; this returns only the condition's text and runs no user code.
CREATE FUNCTION @extschema@.churn_purchases_sql(orders pg_catalog.regclass)
RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT COALESCE((SELECT @extschema@.purchase_sql(w) FROM @extschema@.watched_table w
	                  WHERE w.role = 'orders' AND w.relid = orders), 'true')
$$;
COMMENT ON FUNCTION @extschema@.churn_purchases_sql(pg_catalog.regclass) IS
	'Internal: SQL text of the rows of an orders table that are purchases (watch_orders'' condition, if it is the watched table)';

-- The per-customer summary query over an orders table; $1 = calibration end or
-- as-of time, $2 = time unit.  Orders without an amount are left out, as
-- churn_fit leaves them out.  Identifiers only through %I and regclass.
CREATE FUNCTION @extschema@.churn_summary_sql(orders pg_catalog.regclass, customer_column pg_catalog.name,
                                              at_column pg_catalog.name, amount_column pg_catalog.name)
RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT format('SELECT o.%1$I::pg_catalog.text AS customer_id, '
	              '@extschema@.purchase_summary(o.%2$I::pg_catalog.timestamptz, o.%3$I::pg_catalog.numeric, $1, $2) AS s '
	              'FROM %4$s o WHERE o.%1$I IS NOT NULL AND o.%2$I IS NOT NULL AND o.%3$I IS NOT NULL AND (%5$s) GROUP BY 1',
	              customer_column, at_column, amount_column, orders, @extschema@.churn_purchases_sql(orders))
$$;
COMMENT ON FUNCTION @extschema@.churn_summary_sql(pg_catalog.regclass, pg_catalog.name, pg_catalog.name,
                                                  pg_catalog.name) IS
	'Internal: the per-customer purchase_summary query over an orders table';

CREATE FUNCTION @extschema@.churn_fit(name text, orders pg_catalog.regclass, customer_column pg_catalog.name,
                                      at_column pg_catalog.name, amount_column pg_catalog.name,
                                      calibration_end pg_catalog.timestamptz DEFAULT @extschema@.now(),
                                      time_unit pg_catalog.interval DEFAULT '7 days',
                                      kind text DEFAULT 'mbgnbd')
RETURNS @extschema@.churn_model
LANGUAGE plpgsql VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	fit record;
	bg @extschema@.bgnbd_model;
	gg @extschema@.gamma_gamma_model;
	result @extschema@.churn_model;
BEGIN
	IF churn_fit.name IS NULL OR btrim(churn_fit.name) = '' OR length(churn_fit.name) > 128 THEN
		RAISE EXCEPTION 'churn model name must be a non-empty text of at most 128 characters'
			USING ERRCODE = '22023', HINT = 'Name the model, such as ''shop-weekly''.';
	END IF;
	IF calibration_end IS NULL OR time_unit IS NULL OR kind IS NULL THEN
		RAISE EXCEPTION 'calibration_end, time_unit and kind must not be null' USING ERRCODE = '22004';
	END IF;
	IF NOT isfinite(calibration_end) THEN
		RAISE EXCEPTION 'calibration_end must be finite' USING ERRCODE = '22008';
	END IF;
	IF kind NOT IN ('mbgnbd', 'bgnbd') THEN
		RAISE EXCEPTION 'unknown churn model kind "%"', kind
			USING ERRCODE = '22023',
			      HINT = 'Use kind => ''mbgnbd'' (the default: a customer may drop out after any purchase) or ''bgnbd'' (only after a repeat purchase).';
	END IF;
	PERFORM @extschema@.churn_check_source(orders, customer_column, at_column, amount_column, true);

	-- the orders are read as their table's owner (read_as_owner): no code of
	-- that table (an index expression the planner folds, say) runs with the
	-- extension owner's rights
	-- orders without an amount are skipped (and counted): an unknown amount
	-- says nothing about spend, and a customer's other orders still count
	-- only the aggregate of the chosen kind sees rows (the other one, with
	-- no row, is NULL without fitting)
	SELECT COALESCE(@extschema@.mbgnbd_fit((s.s).x, (s.s).t_x, (s.s).t) FILTER (WHERE churn_fit.kind = 'mbgnbd'),
	                @extschema@.bgnbd_fit((s.s).x, (s.s).t_x, (s.s).t) FILTER (WHERE churn_fit.kind = 'bgnbd')) AS bg,
	       @extschema@.gamma_gamma_fit((s.s).x, (s.s).zbar) FILTER (WHERE (s.s).zbar > 0) AS gg,
	       coalesce(sum(s.skipped), 0) AS skipped
	  INTO fit
	  FROM (SELECT @extschema@.purchase_summary(r.at, r.amount, calibration_end, churn_fit.time_unit)
	                 FILTER (WHERE r.amount IS NOT NULL) AS s,
	               count(*) FILTER (WHERE r.amount IS NULL AND r.at <= calibration_end) AS skipped
	          FROM @extschema@.read_as_owner(orders, format(
	                 'SELECT o.%1$I::pg_catalog.text, o.%2$I::pg_catalog.timestamptz, o.%3$I::pg_catalog.numeric
	                    FROM %4$s o WHERE o.%1$I IS NOT NULL AND o.%2$I IS NOT NULL AND (%5$s)',
	                 customer_column, at_column, amount_column, orders, @extschema@.churn_purchases_sql(orders)), NULL, NULL)
	               AS r(c text, at timestamptz, amount numeric)
	         GROUP BY r.c) s;
	bg := fit.bg;
	gg := fit.gg;
	IF fit.skipped > 0 THEN
		RAISE WARNING 'churn_fit skipped % order(s) with a NULL amount in %', fit.skipped, orders
			USING HINT = 'Set their amounts (or coalesce them to 0) to fit on every order.';
	END IF;
	IF bg IS NULL THEN
		RAISE EXCEPTION 'no orders in % at or before %', orders, calibration_end
			USING ERRCODE = '22023', HINT = 'Choose a later calibration_end.';
	END IF;
	IF gg IS NULL THEN
		RAISE EXCEPTION 'cannot fit a gamma-gamma model: no customer has a repeat purchase of positive value'
			USING ERRCODE = '22023', HINT = 'Choose a later calibration_end, or check the amount column.';
	END IF;
	IF gg.q <= 1 THEN
		RAISE WARNING 'gamma-gamma model % has q = %, so its mean spend is infinite', churn_fit.name, round(gg.q::numeric, 3)
			USING DETAIL = 'Its expected value is NULL for every customer with p * x + q <= 1, new customers included.',
			      HINT = 'Refit on more repeat buyers, or check the amounts for outliers.';
	END IF;

	INSERT INTO @extschema@.churn_model AS m
	       (name, kind, r, alpha, a, b, bgnbd_log_likelihood, bgnbd_customers, p, q, gamma, gg_log_likelihood,
	        gg_customers, time_unit, calibration_end, source_table, customer_column, at_column, amount_column,
	        source, fitted_at, fitted_by)
	VALUES (churn_fit.name, churn_fit.kind, bg.r, bg.alpha, bg.a, bg.b, bg.log_likelihood, bg.customers, gg.p, gg.q, gg.gamma,
	        gg.log_likelihood, gg.customers, churn_fit.time_unit, churn_fit.calibration_end, orders,
	        customer_column, at_column, amount_column,
	        format('%s (customer %I, time %I, amount %I)', orders, customer_column, at_column, amount_column),
	        @extschema@.now(), @extschema@.acting_role())
	ON CONFLICT ON CONSTRAINT churn_model_pkey DO UPDATE
	   SET kind = EXCLUDED.kind, r = EXCLUDED.r, alpha = EXCLUDED.alpha, a = EXCLUDED.a, b = EXCLUDED.b,
	       bgnbd_log_likelihood = EXCLUDED.bgnbd_log_likelihood, bgnbd_customers = EXCLUDED.bgnbd_customers,
	       p = EXCLUDED.p, q = EXCLUDED.q, gamma = EXCLUDED.gamma, gg_log_likelihood = EXCLUDED.gg_log_likelihood,
	       gg_customers = EXCLUDED.gg_customers, time_unit = EXCLUDED.time_unit,
	       calibration_end = EXCLUDED.calibration_end, source_table = EXCLUDED.source_table,
	       customer_column = EXCLUDED.customer_column, at_column = EXCLUDED.at_column,
	       amount_column = EXCLUDED.amount_column, source = EXCLUDED.source,
	       fitted_at = EXCLUDED.fitted_at, fitted_by = EXCLUDED.fitted_by
	RETURNING m.* INTO result;
	RETURN result;
END
$$;
COMMENT ON FUNCTION @extschema@.churn_fit(text, pg_catalog.regclass, pg_catalog.name, pg_catalog.name, pg_catalog.name,
                                          pg_catalog.timestamptz, pg_catalog.interval, text) IS
	'Fits a purchase model (kind: MBG/NBD, the default, or BG/NBD) and Gamma-Gamma on an orders table up to calibration_end and stores them under name (replacing a model of that name)';

CREATE FUNCTION @extschema@.churn_scores(name text, as_of pg_catalog.timestamptz DEFAULT NULL,
                                         horizon pg_catalog.interval DEFAULT '1 year',
                                         annual_discount_rate pg_catalog.float8 DEFAULT 0)
RETURNS TABLE (customer_id text, x integer, t_x float8, t float8, p_alive float8, churn_probability float8,
               expected_purchases float8, expected_value float8, clv float8)
LANGUAGE plpgsql STABLE PARALLEL SAFE  -- security invoker: the caller reads the orders with their own rights
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m @extschema@.churn_model;
	periods float8;
	rate float8;
BEGIN
	IF churn_scores.name IS NULL THEN
		RAISE EXCEPTION 'churn model name must not be null' USING ERRCODE = '22004';
	END IF;
	IF horizon IS NULL OR annual_discount_rate IS NULL THEN
		RAISE EXCEPTION 'horizon and annual_discount_rate must not be null' USING ERRCODE = '22004';
	END IF;
	SELECT * INTO m FROM @extschema@.churn_model cm WHERE cm.name = churn_scores.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'churn model "%" does not exist', churn_scores.name
			USING ERRCODE = '42704', HINT = 'Fit it first with tagscrm.churn_fit().';
	END IF;
	IF as_of IS NULL THEN
		as_of := m.calibration_end;
	ELSIF NOT isfinite(as_of) THEN
		RAISE EXCEPTION 'as_of must be finite' USING ERRCODE = '22008';
	END IF;
	periods := extract(epoch FROM horizon)::float8 / extract(epoch FROM m.time_unit)::float8;
	IF periods < 0 THEN
		RAISE EXCEPTION 'horizon must not be negative' USING ERRCODE = '22023';
	END IF;
	IF annual_discount_rate <= -1 OR annual_discount_rate = 'NaN' OR annual_discount_rate = 'Infinity' THEN
		RAISE EXCEPTION 'annual_discount_rate must be a finite number greater than -1'
			USING ERRCODE = '22023', HINT = 'Pass a fraction, such as 0.1 for 10 % a year.';
	END IF;
	-- the rate per model period that compounds to the annual rate
	rate := power(1 + annual_discount_rate,
	              extract(epoch FROM m.time_unit)::float8 / extract(epoch FROM interval '1 year')::float8) - 1;
	PERFORM @extschema@.churn_check_source(m.source_table, m.customer_column, m.at_column, m.amount_column, false);

	-- the scoring functions of the stored model's kind: bgnbd_* or mbgnbd_*
	-- (clv or mbgnbd_clv), chosen here, not per row
	RETURN QUERY EXECUTE format(
		'SELECT s.customer_id, (s.s).x, (s.s).t_x, (s.s).t, v.pa, 1 - v.pa, v.ep, v.ev, v.clv '
		'FROM (%1$s) s CROSS JOIN LATERAL ('
		'  SELECT @extschema@.%2$s_p_alive($3, (s.s).x, (s.s).t_x, (s.s).t) AS pa, '
		'         @extschema@.%2$s_expected_purchases($3, $5, (s.s).x, (s.s).t_x, (s.s).t) AS ep, '
		'         @extschema@.gamma_gamma_expected_value($4, (s.s).x, (s.s).zbar) AS ev, '
		'         @extschema@.%3$s($3, $4, (s.s).x, (s.s).t_x, (s.s).t, (s.s).zbar, $5, $6) AS clv) v '
		'WHERE s.s IS NOT NULL',
		@extschema@.churn_summary_sql(m.source_table, m.customer_column, m.at_column, m.amount_column),
		CASE m.kind WHEN 'mbgnbd' THEN 'mbgnbd' ELSE 'bgnbd' END,
		CASE m.kind WHEN 'mbgnbd' THEN 'mbgnbd_clv' ELSE 'clv' END)
	USING as_of, m.time_unit, @extschema@.churn_model_bgnbd(m), @extschema@.churn_model_gamma_gamma(m), periods, rate;
END
$$;
COMMENT ON FUNCTION @extschema@.churn_scores(text, pg_catalog.timestamptz, pg_catalog.interval, pg_catalog.float8) IS
	'Scores every customer of a stored model''s orders table as of a time (default: its calibration end) with the model''s kind (BG/NBD or MBG/NBD): P(alive), churn, purchases, value and CLV over horizon';

CREATE FUNCTION @extschema@.drop_churn_model(name text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF name IS NULL THEN
		RAISE EXCEPTION 'model name must not be null' USING ERRCODE = '22004', HINT = 'Name a stored churn model.';
	END IF;
	DELETE FROM @extschema@.churn_model m WHERE m.name = drop_churn_model.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'churn model "%" does not exist', name
			USING ERRCODE = '42704', HINT = 'See tagscrm.churn_model for the stored models.';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.drop_churn_model(text) IS
	'Removes a stored churn model (settings that name it fall back to no model)';
