-- mbgnbd_fit (and bgnbd_fit) against independent scipy fits of the papers'
-- likelihoods (test/fixtures/mbgnbd_fit_ref.py writes mbgnbd_fit_ref.csv and
-- the simulated customers in mbgnbd_fit_data.csv): the CDNOW sample (weekly,
-- calibration end 1997-09-30) and three simulated populations: 'onetime'
-- (MBG/NBD, 70 % never buy again), 'frequent' (MBG/NBD, x up to 366) and
-- 'bgnbd' (simulated from BG/NBD).
SET TimeZone = 'UTC';
SET extra_float_digits = 0;

CREATE TEMP TABLE fit_ref (pop text, kind text, r float8, alpha float8, a float8, b float8, ll float8);
\copy fit_ref FROM 'test/fixtures/mbgnbd_fit_ref.csv' WITH (FORMAT csv, HEADER)
CREATE TEMP TABLE fit_data (pop text, x float8, t_x float8, t float8);
\copy fit_data FROM 'test/fixtures/mbgnbd_fit_data.csv' WITH (FORMAT csv, HEADER)
-- the population without dropout is refused by both fits (sql/churn_boundary)
DELETE FROM fit_data WHERE pop = 'twoweeks';

CREATE TEMP TABLE cdnow_raw (line text);
\copy cdnow_raw FROM 'test/fixtures/cdnow/CDNOW_sample.txt'
INSERT INTO fit_data
SELECT 'cdnow', (s).x, (s).t_x, (s).t
  FROM (SELECT tagscrm.purchase_summary(to_date(f[3], 'YYYYMMDD'), f[5]::numeric, '1997-09-30', '7 days') AS s
          FROM (SELECT regexp_split_to_array(btrim(line), '\s+') AS f FROM cdnow_raw) q GROUP BY f[2]) p;
SELECT pop, count(*) AS customers, count(*) FILTER (WHERE x = 0) AS one_time, max(x) AS max_x
  FROM fit_data GROUP BY pop ORDER BY pop;

CREATE TEMP TABLE fits AS
SELECT pop, 'mbgnbd' AS kind, tagscrm.mbgnbd_fit(x, t_x, t) AS m FROM fit_data GROUP BY pop
UNION ALL
SELECT pop, 'bgnbd', tagscrm.bgnbd_fit(x, t_x, t) FROM fit_data GROUP BY pop;

-- parameters to 1e-6 relative, log-likelihood to 1e-6 absolute
SELECT pop, kind, (m).customers,
       abs((m).r / f.r - 1) < 1e-6 AND abs((m).alpha / f.alpha - 1) < 1e-6
         AND abs((m).a / f.a - 1) < 1e-6 AND abs((m).b / f.b - 1) < 1e-6 AS params_ok,
       abs((m).log_likelihood - f.ll) < 1e-6 AS ll_ok
  FROM fits JOIN fit_ref f USING (pop, kind) ORDER BY pop, kind;
-- the largest deviations, for the record when the above fails
SELECT max(greatest(abs((m).r / f.r - 1), abs((m).alpha / f.alpha - 1), abs((m).a / f.a - 1),
                    abs((m).b / f.b - 1))) < 1e-6 AS max_rel_ok,
       max(abs((m).log_likelihood - f.ll)) < 1e-6 AS max_ll_ok
  FROM fits JOIN fit_ref f USING (pop, kind);

-- CDNOW: lifetimes' ModifiedBetaGeoFitter test (agreeing with R's BTYDplus)
-- publishes r, alpha, a, b = 0.525, 6.183, 0.891, 1.614
SELECT round((m).r::numeric, 3) AS r, round((m).alpha::numeric, 3) AS alpha, round((m).a::numeric, 3) AS a,
       round((m).b::numeric, 3) AS b, round((m).log_likelihood::numeric, 3) AS ll
  FROM fits WHERE pop = 'cdnow' AND kind = 'mbgnbd';

-- which model fits better: MBG/NBD on the MBG/NBD populations, BG/NBD on the
-- BG/NBD one (by 2.5 in scipy's fits); on CDNOW the two are within 0.3
SELECT pop, round(((mb.m).log_likelihood - (bg.m).log_likelihood)::numeric, 2) AS mbg_minus_bg
  FROM fits mb JOIN fits bg USING (pop) WHERE mb.kind = 'mbgnbd' AND bg.kind = 'bgnbd' ORDER BY pop;

-- the shared aggregate machinery: a forced parallel plan (partial states
-- serialized in the workers, combined in the leader) gives the same fit
CREATE TABLE mbg_par_data AS SELECT x, t_x, t FROM fit_data, generate_series(1, 4) WHERE pop = 'onetime';
ANALYZE mbg_par_data;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT tagscrm.mbgnbd_fit(x, t_x, t) FROM mbg_par_data;
SELECT abs((p.m).r / f.r - 1) < 1e-6 AND abs((p.m).alpha / f.alpha - 1) < 1e-6
       AND abs((p.m).a / f.a - 1) < 1e-6 AND abs((p.m).b / f.b - 1) < 1e-6 AS same_params,
       abs((p.m).log_likelihood - 4 * f.ll) < 1e-5 AS four_times_ll, (p.m).customers
  FROM (SELECT tagscrm.mbgnbd_fit(x, t_x, t) AS m FROM mbg_par_data) p, fit_ref f
 WHERE f.pop = 'onetime' AND f.kind = 'mbgnbd';
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
DROP TABLE mbg_par_data;

-- errors: as bgnbd_fit's, naming the model
SELECT tagscrm.mbgnbd_fit(x, t_x, t) FROM (VALUES (0.0, 0.0, 5.0), (0.0, 0.0, 3.0)) v(x, t_x, t);
SELECT tagscrm.mbgnbd_fit(x, t_x, t) FROM (VALUES (1.0, 2.0, 1.0)) v(x, t_x, t);
SELECT tagscrm.mbgnbd_fit(x, t_x, t) IS NULL AS no_rows FROM (VALUES (1.0, 0.5, 1.0)) v(x, t_x, t) WHERE false;
