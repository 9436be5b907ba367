-- Fitting is cancellable: the optimiser checks for interrupts.  The CDNOW
-- summary 256 times over, each copy's times shifted by a millionth of a week
-- so that no two copies' points merge (603,000 distinct points), takes about
-- a second of CPU to fit, most of it in the optimiser; a 100 ms statement
-- timeout stops it cleanly.
CREATE TEMP TABLE cdnow_published (id integer, x integer, t_x float8, t float8, zbar float8);
\copy cdnow_published FROM 'test/fixtures/cdnow/cdnow_customers_summary_with_transactions.csv' WITH (FORMAT csv, HEADER)
CREATE TEMP TABLE cancel_points AS
SELECT x, CASE WHEN x > 0 THEN t_x + k * 1e-6 ELSE 0 END AS t_x, t + k * 1e-6 AS t
  FROM cdnow_published, generate_series(1, 256) k;
SET statement_timeout = '100ms';
SELECT tagscrm.bgnbd_fit(x, t_x, t) FROM cancel_points;
RESET statement_timeout;
-- the session is usable afterwards, and the fit finishes without a timeout
SELECT round((m).r::numeric, 3) AS r, round((m).alpha::numeric, 3) AS alpha, round((m).a::numeric, 3) AS a,
       round((m).b::numeric, 3) AS b, (m).customers
  FROM (SELECT tagscrm.bgnbd_fit(x, t_x, t) AS m FROM cancel_points) s;
