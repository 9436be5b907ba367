
-- ---------------------------------------------------------------------------
-- rfm.sql: the RFM model (rfm.c): population breakpoints, quintile scores
-- and the 8 RFM segments
-- ---------------------------------------------------------------------------

CREATE TYPE @extschema@.rfm_breakpoints AS (
	r_cuts    pg_catalog.float8[],
	f_cuts    pg_catalog.float8[],
	m_cuts    pg_catalog.float8[],
	r_mean    pg_catalog.float8,
	f_mean    pg_catalog.float8,
	m_mean    pg_catalog.float8,
	r_median  pg_catalog.float8,
	f_median  pg_catalog.float8,
	m_median  pg_catalog.float8,
	customers pg_catalog.int8
);
COMMENT ON TYPE @extschema@.rfm_breakpoints IS
	'RFM population breakpoints: 4 quintile cut points per dimension (percentile_disc at 0.2, 0.4, 0.6, 0.8), means, medians (percentile_disc(0.5)) and the number of customers';

CREATE TYPE @extschema@.rfm_class AS (
	r_score   pg_catalog.int4,
	f_score   pg_catalog.int4,
	m_score   pg_catalog.int4,
	segment   pg_catalog.text
);
COMMENT ON TYPE @extschema@.rfm_class IS
	'One customer''s RFM result: the three quintile scores (1-5) and the RFM segment';

-- The aggregate's support functions.  trans and combine are not STRICT:
-- they skip NULLs themselves (a row with any NULL value is left out).
CREATE FUNCTION @extschema@.rfm_breakpoints_trans(pg_catalog.internal, pg_catalog.float8,
                                                  pg_catalog.float8, pg_catalog.float8)
	RETURNS pg_catalog.internal
	AS 'MODULE_PATHNAME', 'rfm_breakpoints_trans'
	LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_breakpoints_trans(pg_catalog.internal, pg_catalog.float8,
                                                      pg_catalog.float8, pg_catalog.float8) IS
	'Transition function of rfm_breakpoints: keeps the values of rows without NULLs';

CREATE FUNCTION @extschema@.rfm_breakpoints_combine(pg_catalog.internal, pg_catalog.internal)
	RETURNS pg_catalog.internal
	AS 'MODULE_PATHNAME', 'rfm_breakpoints_combine'
	LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_breakpoints_combine(pg_catalog.internal, pg_catalog.internal) IS
	'Combine function of rfm_breakpoints: merges two partial states';

CREATE FUNCTION @extschema@.rfm_breakpoints_serialize(pg_catalog.internal)
	RETURNS pg_catalog.bytea
	AS 'MODULE_PATHNAME', 'rfm_breakpoints_serialize'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_breakpoints_serialize(pg_catalog.internal) IS
	'Serialize function of rfm_breakpoints (parallel query)';

CREATE FUNCTION @extschema@.rfm_breakpoints_deserialize(pg_catalog.bytea, pg_catalog.internal)
	RETURNS pg_catalog.internal
	AS 'MODULE_PATHNAME', 'rfm_breakpoints_deserialize'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_breakpoints_deserialize(pg_catalog.bytea, pg_catalog.internal) IS
	'Deserialize function of rfm_breakpoints (parallel query)';

CREATE FUNCTION @extschema@.rfm_breakpoints_final(pg_catalog.internal)
	RETURNS @extschema@.rfm_breakpoints
	AS 'MODULE_PATHNAME', 'rfm_breakpoints_final'
	LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_breakpoints_final(pg_catalog.internal) IS
	'Final function of rfm_breakpoints: cut points, means, medians; NULL when no row was kept';

-- FINALFUNC_MODIFY = READ_ONLY although the final function reorders the
-- value arrays: the state's meaning (a multiset plus sums) does not change.
CREATE AGGREGATE @extschema@.rfm_breakpoints(recency pg_catalog.float8,
                                             frequency pg_catalog.float8,
                                             monetary pg_catalog.float8) (
	SFUNC = @extschema@.rfm_breakpoints_trans,
	STYPE = pg_catalog.internal,
	FINALFUNC = @extschema@.rfm_breakpoints_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = @extschema@.rfm_breakpoints_combine,
	SERIALFUNC = @extschema@.rfm_breakpoints_serialize,
	DESERIALFUNC = @extschema@.rfm_breakpoints_deserialize,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.rfm_breakpoints(pg_catalog.float8, pg_catalog.float8, pg_catalog.float8) IS
	'Exact RFM population breakpoints of (recency days, order count, amount paid); rows with any NULL are skipped; no rows gives NULL';

CREATE FUNCTION @extschema@.rfm_score(value pg_catalog.float8, cuts pg_catalog.float8[],
                                      higher_is_better pg_catalog.bool)
	RETURNS pg_catalog.int4
	AS 'MODULE_PATHNAME', 'rfm_score'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_score(pg_catalog.float8, pg_catalog.float8[], pg_catalog.bool) IS
	'Quintile score 1-5 against 4 ascending cut points: 1 + cut points strictly below the value when higher is better (frequency, monetary), 5 - that count otherwise (recency)';

CREATE FUNCTION @extschema@.rfm_segment(recency pg_catalog.float8, frequency pg_catalog.float8,
                                        monetary pg_catalog.float8, bp @extschema@.rfm_breakpoints,
                                        basis pg_catalog.text DEFAULT 'mean')
	RETURNS pg_catalog.text
	AS 'MODULE_PATHNAME', 'rfm_segment'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_segment(pg_catalog.float8, pg_catalog.float8, pg_catalog.float8,
                                            @extschema@.rfm_breakpoints, pg_catalog.text) IS
	'RFM segment (important_value ... general_retain): R high if recency < basis, F high if frequency > basis, M high if monetary > basis; basis is the population mean (default) or median';

CREATE FUNCTION @extschema@.rfm_classify(recency pg_catalog.float8, frequency pg_catalog.float8,
                                         monetary pg_catalog.float8, bp @extschema@.rfm_breakpoints,
                                         basis pg_catalog.text DEFAULT 'mean')
	RETURNS @extschema@.rfm_class
	AS 'MODULE_PATHNAME', 'rfm_classify'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rfm_classify(pg_catalog.float8, pg_catalog.float8, pg_catalog.float8,
                                             @extschema@.rfm_breakpoints, pg_catalog.text) IS
	'The three RFM scores and the segment of one customer in one call (use it in FROM or LATERAL, not as (rfm_classify(...)).*)';

CREATE FUNCTION @extschema@.rfm_segments()
	RETURNS TABLE (segment pg_catalog.text, r_high pg_catalog.bool, f_high pg_catalog.bool,
	               m_high pg_catalog.bool, display_name pg_catalog.text, description pg_catalog.text)
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
	VALUES
	('important_value',   true,  true,  true,  'important value customer',
	 'Recent, frequent and high-spending: the best customers; keep them delighted.'),
	('important_develop', true,  false, true,  'important development customer',
	 'Recent and high-spending but infrequent: develop them into repeat buyers.'),
	('important_keep',    false, true,  true,  'important keep customer',
	 'Frequent and high-spending but not recent: win them back before they leave.'),
	('important_retain',  false, false, true,  'important retention customer',
	 'High-spending but neither recent nor frequent: at risk; act to retain them.'),
	('general_value',     true,  true,  false, 'general value customer',
	 'Recent and frequent but low-spending: raise their basket value.'),
	('general_develop',   true,  false, false, 'general development customer',
	 'Recent but infrequent and low-spending: new or occasional customers to develop.'),
	('general_keep',      false, true,  false, 'general keep customer',
	 'Frequent but not recent and low-spending: keep in touch.'),
	('general_retain',    false, false, false, 'general retention customer',
	 'Neither recent, frequent nor high-spending: low value, likely lost.')
	$$;
COMMENT ON FUNCTION @extschema@.rfm_segments() IS
	'The 8 RFM segments: stable identifier, which of R, F, M are high, display name and description';
