-- churn_validate on the CDNOW sample (FHL 2005): calibration 39 weeks to
-- 1997-09-30, holdout 39 weeks to 1997-12-31 (a date column: the last day is
-- 1998-06-30 in the data, so the holdout ends at 1997-09-30 + 39 weeks).
-- Every figure is recomputed here in plain SQL.
SET TimeZone = 'UTC';
SET extra_float_digits = 0;

CREATE TEMP TABLE cdnow_raw (line text);
\copy cdnow_raw FROM 'test/fixtures/cdnow/CDNOW_sample.txt'
CREATE TABLE cdnow_orders AS
SELECT f[2]::integer AS customer, to_date(f[3], 'YYYYMMDD') AS day, f[5]::numeric AS amount
  FROM (SELECT regexp_split_to_array(btrim(line), '\s+') AS f FROM cdnow_raw) s;

CREATE TEMP TABLE v AS
SELECT * FROM tagscrm.churn_validate('cdnow_orders', 'customer', 'day', 'amount',
                                     '1997-09-30', timestamptz '1997-09-30' + interval '39 weeks', kind => 'bgnbd');
SELECT bucket, customers, round(actual_mean::numeric, 4) AS actual, round(predicted_mean::numeric, 4) AS predicted,
       round(auc::numeric, 4) AS auc
  FROM v;

-- plain SQL: calibration summary, holdout days, the fit and E[Y(t)] per customer
CREATE TEMP TABLE p_cal AS
SELECT customer, (s).x, (s).t_x, (s).t
  FROM (SELECT customer, tagscrm.purchase_summary(day, amount, '1997-09-30', '7 days') AS s
          FROM cdnow_orders GROUP BY customer) q WHERE s IS NOT NULL;
CREATE TEMP TABLE p_hold AS
SELECT customer, count(DISTINCT day) AS y FROM cdnow_orders
 WHERE day > '1997-09-30' AND day <= timestamptz '1997-09-30' + interval '39 weeks' GROUP BY customer;
CREATE TEMP TABLE p AS
SELECT c.customer, least(c.x, 7) AS b, coalesce(h.y, 0) AS y,
       tagscrm.bgnbd_p_alive(m.m, c.x, c.t_x, c.t) AS pa,
       tagscrm.bgnbd_expected_purchases(m.m, 39, c.x, c.t_x, c.t) AS ep
  FROM p_cal c CROSS JOIN (SELECT tagscrm.bgnbd_fit(x, t_x, t) AS m FROM p_cal) m
  LEFT JOIN p_hold h USING (customer);

-- the FHL total: 2,357 customers, the holdout actual repeat purchase days
SELECT count(*) AS customers, sum(y) AS holdout_days FROM p;

-- per bucket, the function equals the plain evaluation
SELECT count(*) AS buckets,
       count(*) FILTER (WHERE v.customers <> coalesce(q.n, 0)
                          OR abs(v.actual_mean - q.am) > 1e-9 OR abs(v.predicted_mean - q.pm) > 1e-9) AS different
  FROM v LEFT JOIN (SELECT b::text AS bucket, count(*) AS n, avg(y) AS am, avg(ep) AS pm FROM p GROUP BY b
                    UNION ALL SELECT 'all', count(*), avg(y), avg(ep) FROM p) q
    ON q.bucket = CASE v.bucket WHEN '7+' THEN '7' ELSE v.bucket END;

-- the AUC against a pairwise count: over all (bought again, did not) pairs,
-- the share where the buyer has the higher P(alive), ties counted half
SELECT abs((SELECT auc FROM v LIMIT 1) -
           (SELECT (count(*) FILTER (WHERE a.pa > b.pa) + 0.5 * count(*) FILTER (WHERE a.pa = b.pa))::float8 / count(*)
              FROM p a JOIN p b ON a.y > 0 AND b.y = 0)) < 1e-12 AS auc_matches_pairs;

-- kind => 'mbgnbd': the same table with the MBG/NBD fit, P(alive) and
-- forecast, recomputed the same way; one-time buyers now differ in P(alive)
CREATE TEMP TABLE vm AS
SELECT * FROM tagscrm.churn_validate('cdnow_orders', 'customer', 'day', 'amount',
                                     '1997-09-30', timestamptz '1997-09-30' + interval '39 weeks', kind => 'mbgnbd');
SELECT bucket, customers, round(actual_mean::numeric, 4) AS actual, round(predicted_mean::numeric, 4) AS predicted,
       round(auc::numeric, 4) AS auc
  FROM vm;
CREATE TEMP TABLE pm AS
SELECT c.customer, least(c.x, 7) AS b, coalesce(h.y, 0) AS y,
       1 / (1 + (m.m).a / ((m.m).b + c.x) * (((m.m).alpha + c.t) / ((m.m).alpha + c.t_x)) ^ ((m.m).r + c.x)) AS pa,
       tagscrm.mbgnbd_expected_purchases(m.m, 39, c.x, c.t_x, c.t) AS ep
  FROM p_cal c CROSS JOIN (SELECT tagscrm.mbgnbd_fit(x, t_x, t) AS m FROM p_cal) m
  LEFT JOIN p_hold h USING (customer);
SELECT count(*) AS buckets,
       count(*) FILTER (WHERE v.customers <> coalesce(q.n, 0)
                          OR abs(v.actual_mean - q.am) > 1e-9 OR abs(v.predicted_mean - q.pm) > 1e-9) AS different
  FROM vm v LEFT JOIN (SELECT b::text AS bucket, count(*) AS n, avg(y) AS am, avg(ep) AS pm FROM pm GROUP BY b
                       UNION ALL SELECT 'all', count(*), avg(y), avg(ep) FROM pm) q
    ON q.bucket = CASE v.bucket WHEN '7+' THEN '7' ELSE v.bucket END;
-- the AUC against the pairwise count; ties within 1e-12 (the plain formula
-- rounds differently from the C one) count half
SELECT abs((SELECT auc FROM vm LIMIT 1) -
           (SELECT (count(*) FILTER (WHERE a.pa > b.pa + 1e-12) + 0.5 * count(*) FILTER (WHERE abs(a.pa - b.pa) <= 1e-12))::float8 / count(*)
              FROM pm a JOIN pm b ON a.y > 0 AND b.y = 0)) < 1e-9 AS auc_matches_pairs;

-- same-day orders in the holdout are one purchase: doubling every holdout
-- order (same day, an hour later) changes nothing
SELECT count(*) AS holdout_orders, count(DISTINCT (customer, day)) AS holdout_days FROM cdnow_orders
 WHERE day > '1997-09-30' AND day <= timestamptz '1997-09-30' + interval '39 weeks';
CREATE TABLE cdnow_doubled AS
SELECT customer, day::timestamptz AS at, amount FROM cdnow_orders
UNION ALL
SELECT customer, day::timestamptz + interval '1 hour', amount FROM cdnow_orders WHERE day > '1997-09-30';
SELECT count(*) AS rows, count(*) FILTER (WHERE a.customers = b.customers AND a.actual_mean = b.actual_mean
                                           AND abs(a.predicted_mean - b.predicted_mean) < 1e-12
                                           AND abs(a.auc - b.auc) < 1e-12) AS same
  FROM v a JOIN tagscrm.churn_validate('cdnow_doubled', 'customer', 'at', 'amount', '1997-09-30',
                                       timestamptz '1997-09-30' + interval '39 weeks', kind => 'bgnbd') b USING (bucket);

CREATE TABLE tiny (cust text, at timestamptz, amount numeric);
INSERT INTO tiny VALUES ('a', '2024-01-01 10:00', 5), ('a', '2024-01-08 10:00', 5), ('b', '2024-01-03 10:00', 5);
-- bad input
SELECT * FROM tagscrm.churn_validate('tiny', 'cust', 'at', 'amount', '2024-02-01', '2024-02-01');
SELECT * FROM tagscrm.churn_validate('tiny', 'cust', 'at', 'amount', '2024-02-01', NULL);
SELECT * FROM tagscrm.churn_validate('tiny', 'cust', 'at', 'amount', '2024-02-01', 'infinity');
SELECT * FROM tagscrm.churn_validate('tiny', 'cust', 'at', 'amount', '2024-02-01', '2024-03-01', '0 days');
SELECT * FROM tagscrm.churn_validate('tiny', 'cust', 'at', 'amount', '2024-02-01', '2024-03-01', kind => 'pareto');
SELECT * FROM tagscrm.churn_validate('tiny', 'cust', 'at', 'amount', '2023-01-01', '2024-03-01');
SELECT * FROM tagscrm.churn_validate('tiny', 'nope', 'at', 'amount', '2024-02-01', '2024-03-01');
SELECT * FROM tagscrm.churn_validate('tiny', 'cust', 'at', 'amount', '2024-03-01', '2024-02-01');
-- the caller runs it with their own rights: a reader without SELECT on the table is refused
CREATE ROLE churn_validate_nobody IN ROLE tagscrm_reader;
SET ROLE churn_validate_nobody;
SELECT * FROM tagscrm.churn_validate('tiny', 'cust', 'at', 'amount', '2024-02-01', '2024-03-01');
RESET ROLE;
DROP ROLE churn_validate_nobody;
DROP TABLE tiny, cdnow_orders, cdnow_doubled;
