-- The churn aggregates under forced parallel plans give the same results as
-- serial ones, and the plans do aggregate partially in the workers.
SET TimeZone = 'UTC';
SET extra_float_digits = 0;

-- The CDNOW sample, eight times over (customer ids offset by 10,000 a copy):
-- the fit is that of CDNOW itself, with 8 x 2,357 customers and 8 x its
-- log-likelihood (identical data points are merged with counts).
CREATE TEMP TABLE cdnow_raw (line text);
\copy cdnow_raw FROM 'test/fixtures/cdnow/CDNOW_sample.txt'
CREATE TABLE churn_par_orders AS
SELECT f[2]::integer + 10000 * copy AS customer, to_date(f[3], 'YYYYMMDD')::timestamptz AS at, f[5]::numeric AS amount
  FROM (SELECT regexp_split_to_array(btrim(line), '\s+') AS f FROM cdnow_raw) s, generate_series(0, 7) copy;
ANALYZE churn_par_orders;

CREATE FUNCTION pg_temp.summaries() RETURNS TABLE (customer integer, x integer, t_x float8, t float8, zbar float8)
LANGUAGE sql AS $$
	SELECT customer, (s).x, (s).t_x, (s).t, (s).zbar
	  FROM (SELECT customer, tagscrm.purchase_summary(at, amount, '1997-09-30', '7 days') AS s
	          FROM churn_par_orders GROUP BY customer) q
$$;

SET max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE serial_summary AS SELECT * FROM pg_temp.summaries();
CREATE TEMP TABLE serial_fit AS
SELECT tagscrm.bgnbd_fit(x, t_x, t) AS bg, tagscrm.gamma_gamma_fit(x, zbar) AS gg FROM serial_summary;
CREATE TABLE churn_par_summary AS SELECT * FROM serial_summary;
ANALYZE churn_par_summary;
SELECT count(*) AS customers, sum(x) AS repeat_purchases, count(*) FILTER (WHERE x > 0) AS repeat_buyers
  FROM serial_summary;
SELECT round((bg).r::numeric, 3) AS r, round((bg).alpha::numeric, 3) AS alpha, round((bg).a::numeric, 3) AS a,
       round((bg).b::numeric, 3) AS b, round((bg).log_likelihood::numeric / 8, 1) AS log_likelihood_over_8,
       (bg).customers, round((gg).p::numeric, 2) AS p, round((gg).q::numeric, 2) AS q,
       round((gg).gamma::numeric, 1) AS gamma, (gg).customers AS gg_customers
  FROM serial_fit;

SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;

EXPLAIN (COSTS OFF)
SELECT tagscrm.bgnbd_fit(x, t_x, t), tagscrm.gamma_gamma_fit(x, zbar) FROM churn_par_summary;

-- the parallel fit equals the serial one (identical points, identical counts)
SELECT abs((p.bg).r / (s.bg).r - 1) < 1e-9 AND abs((p.bg).alpha / (s.bg).alpha - 1) < 1e-9
       AND abs((p.bg).a / (s.bg).a - 1) < 1e-9 AND abs((p.bg).b / (s.bg).b - 1) < 1e-9
       AND abs((p.bg).log_likelihood - (s.bg).log_likelihood) < 1e-6 AND (p.bg).customers = (s.bg).customers
         AS bgnbd_same,
       abs((p.gg).p / (s.gg).p - 1) < 1e-9 AND abs((p.gg).q / (s.gg).q - 1) < 1e-9
       AND abs((p.gg).gamma / (s.gg).gamma - 1) < 1e-9 AND (p.gg).customers = (s.gg).customers AS gamma_gamma_same
  FROM (SELECT tagscrm.bgnbd_fit(x, t_x, t) AS bg, tagscrm.gamma_gamma_fit(x, zbar) AS gg FROM churn_par_summary) p,
       serial_fit s;
-- ... and so does the parallel per-customer summary
SELECT count(*) AS differences FROM (
	(SELECT * FROM pg_temp.summaries() EXCEPT ALL SELECT * FROM serial_summary)
	UNION ALL
	(SELECT * FROM serial_summary EXCEPT ALL SELECT * FROM pg_temp.summaries())) d;
-- the purchase_summary state round trip (partial aggregation in the workers,
-- serialized, combined in the leader), on 8 customers with 20,000 orders each
-- (some on the same day, some after the calibration end)
CREATE TABLE churn_par_long AS
SELECT c AS customer, '2000-01-01'::timestamptz + ((k * 7 + c) % 15000) * interval '1 day' + (k % 5) * interval '1 hour' AS at,
       ((k * c) % 97 + 1)::numeric AS amount
  FROM generate_series(1, 8) c, generate_series(1, 20000) k;
ANALYZE churn_par_long;
EXPLAIN (COSTS OFF)
SELECT customer, tagscrm.purchase_summary(at, amount, '2030-01-01') FROM churn_par_long GROUP BY 1;
CREATE TEMP TABLE parallel_long AS
SELECT customer, tagscrm.purchase_summary(at, amount, '2030-01-01') AS s FROM churn_par_long GROUP BY 1;
SET max_parallel_workers_per_gather = 0;
SELECT count(*) AS customers, bool_and(p.s::text = s.s::text) AS same_as_serial
  FROM parallel_long p
  JOIN (SELECT customer, tagscrm.purchase_summary(at, amount, '2030-01-01') AS s FROM churn_par_long GROUP BY 1) s
 USING (customer);
-- and in plain SQL: days merged, repeat days counted, their mean value
SELECT bool_and((p.s).x = q.x AND abs((p.s).zbar - q.zbar) < 1e-9) AS same_as_plain_sql
  FROM parallel_long p
  JOIN (SELECT customer, count(*) - 1 AS x,
               (sum(amount) - sum(amount) FILTER (WHERE day = first))::float8 / (count(*) - 1) AS zbar
          FROM (SELECT customer, at::date AS day, sum(amount) AS amount, min(min(at::date)) OVER (PARTITION BY customer) AS first
                  FROM churn_par_long WHERE at <= '2030-01-01' GROUP BY 1, 2) d
         GROUP BY customer) q USING (customer);
SET max_parallel_workers_per_gather = 2;

-- one model per group (GROUP BY), in parallel, equals each group fitted alone
SELECT g, (m).customers,
       abs((m).r / (SELECT (tagscrm.bgnbd_fit(x, t_x, t)).r FROM churn_par_summary WHERE customer / 40000 = g) - 1) < 1e-9
         AS same_as_alone
  FROM (SELECT customer / 40000 AS g, tagscrm.bgnbd_fit(x, t_x, t) AS m FROM churn_par_summary GROUP BY 1) q
 ORDER BY g;

RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
DROP TABLE churn_par_orders, churn_par_summary, churn_par_long;

