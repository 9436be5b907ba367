-- BG/NBD and Gamma-Gamma on the CDNOW sample (Fader, Hardie & Lee 2005; data
-- by Bruce Hardie, see test/fixtures/cdnow/README.md).  Calibration ends on
-- 1997-09-30, time unit one week.  Every figure is checked against the
-- published summary or the published parameters.
SET TimeZone = 'UTC';
SET extra_float_digits = 0;

CREATE TEMP TABLE cdnow_raw (line text);
\copy cdnow_raw FROM 'test/fixtures/cdnow/CDNOW_sample.txt'
CREATE TEMP TABLE cdnow_orders AS
SELECT f[2]::integer AS customer, to_date(f[3], 'YYYYMMDD') AS day, f[4]::integer AS cds, f[5]::numeric AS amount
  FROM (SELECT regexp_split_to_array(btrim(line), '\s+') AS f FROM cdnow_raw) s;
-- the data README: 6,919 rows, 2,357 customers, $244,091.94
SELECT count(*) AS orders, count(DISTINCT customer) AS customers, sum(amount) AS total FROM cdnow_orders;

CREATE TEMP TABLE cdnow_published (id integer, x integer, t_x float8, t float8, zbar float8);
\copy cdnow_published FROM 'test/fixtures/cdnow/cdnow_customers_summary_with_transactions.csv' WITH (FORMAT csv, HEADER)

-- per-customer summary with the aggregate
CREATE TEMP TABLE cdnow_summary AS
SELECT customer, (s).x, (s).t_x, (s).t, (s).zbar
  FROM (SELECT customer, tagscrm.purchase_summary(day, amount, '1997-09-30', '7 days') AS s
          FROM cdnow_orders GROUP BY customer) q;

-- ... equals the published summary for all 2,357 customers (to its 2 decimals)
SELECT count(*) AS compared,
       count(*) FILTER (WHERE s.customer IS NULL OR p.id IS NULL) AS missing,
       count(*) FILTER (WHERE s.x <> p.x OR abs(s.t_x - p.t_x) > 0.00501 OR abs(s.t - p.t) > 0.00501
                          OR abs(s.zbar - p.zbar) > 0.00501) AS different
  FROM cdnow_summary s FULL JOIN cdnow_published p ON p.id = s.customer;

-- ... and equals a rebuild in plain SQL: days merged, repeat days only
CREATE TEMP TABLE cdnow_plain AS
WITH days AS (
	SELECT customer, day, sum(amount) AS amount FROM cdnow_orders WHERE day <= '1997-09-30' GROUP BY customer, day
), firsts AS (
	SELECT customer, min(day) AS first FROM days GROUP BY customer
)
SELECT f.customer,
       count(d.day) FILTER (WHERE d.day > f.first)::integer AS x,
       coalesce(max(d.day) FILTER (WHERE d.day > f.first) - f.first, 0) / 7.0::float8 AS t_x,
       ('1997-09-30'::date - f.first) / 7.0::float8 AS t,
       coalesce(avg(d.amount) FILTER (WHERE d.day > f.first), 0)::float8 AS zbar
  FROM firsts f JOIN days d USING (customer) GROUP BY f.customer, f.first;
SELECT count(*) AS compared,
       count(*) FILTER (WHERE a.customer IS NULL OR b.customer IS NULL OR a.x <> b.x
                          OR abs(a.t_x - b.t_x) > 1e-12 OR abs(a.t - b.t) > 1e-12
                          OR abs(a.zbar - b.zbar) > 1e-9) AS different
  FROM cdnow_summary a FULL JOIN cdnow_plain b USING (customer);
-- the README's totals: 2,457 repeat transactions, 946 repeat buyers, zbar mean 35.08
SELECT sum(x) AS repeat_transactions, count(*) FILTER (WHERE x > 0) AS repeat_buyers,
       round(avg(zbar) FILTER (WHERE x > 0)::numeric, 2) AS zbar_mean
  FROM cdnow_summary;

-- BG/NBD fit: FHL 2005 publish r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4
-- (R's BTYD walkthrough: LL = -9582.429)
CREATE TEMP TABLE cdnow_bgnbd AS SELECT (tagscrm.bgnbd_fit(x, t_x, t)).* FROM cdnow_summary;
SELECT round(r::numeric, 3) AS r, round(alpha::numeric, 3) AS alpha, round(a::numeric, 3) AS a,
       round(b::numeric, 3) AS b, round(log_likelihood::numeric, 3) AS log_likelihood, customers,
       round(r::numeric, 3) = 0.243 AND round(alpha::numeric, 3) = 4.414 AND round(a::numeric, 3) = 0.793
         AND round(b::numeric, 3) = 2.426 AND round(log_likelihood::numeric, 1) = -9582.4
         AND round(log_likelihood::numeric, 3) = -9582.429 AS matches_published
  FROM cdnow_bgnbd;

-- lgamma in plain SQL: Stirling's series after 8 upward shifts (|error| < 1e-12)
CREATE FUNCTION pg_temp.lgam(z float8) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
	SELECT (w - 0.5) * ln(w) - w + 0.5 * ln(2 * pi()) + 1 / (12 * w) - 1 / (360 * w ^ 3) + 1 / (1260 * w ^ 5)
	       - ln(z) - ln(z + 1) - ln(z + 2) - ln(z + 3) - ln(z + 4) - ln(z + 5) - ln(z + 6) - ln(z + 7)
	  FROM (SELECT z + 8 AS w) s
$$;

-- the BG/NBD log-likelihood written out in plain SQL from FHL 2005 eq. 6
CREATE FUNCTION pg_temp.bgnbd_ll(r float8, alpha float8, a float8, b float8) RETURNS float8
LANGUAGE sql STABLE AS $$
	SELECT sum(pg_temp.lgam(r + x) - pg_temp.lgam(r) + r * ln(alpha)
	           + pg_temp.lgam(a + b) + pg_temp.lgam(b + x) - pg_temp.lgam(b) - pg_temp.lgam(a + b + x)
	           + ln(exp(-(r + x) * ln(alpha + t))
	                + CASE WHEN x > 0 THEN a / (b + x - 1) * exp(-(r + x) * ln(alpha + t_x)) ELSE 0 END))
	  FROM cdnow_summary
$$;
-- it equals the reported log-likelihood, and the fit is a maximum: 1 % away
-- in any parameter the likelihood is lower
SELECT round((pg_temp.bgnbd_ll(r, alpha, a, b) - log_likelihood)::numeric, 6) AS plain_sql_minus_reported,
       pg_temp.bgnbd_ll(r, alpha, a, b) > greatest(
         pg_temp.bgnbd_ll(r * 1.01, alpha, a, b), pg_temp.bgnbd_ll(r * 0.99, alpha, a, b),
         pg_temp.bgnbd_ll(r, alpha * 1.01, a, b), pg_temp.bgnbd_ll(r, alpha * 0.99, a, b),
         pg_temp.bgnbd_ll(r, alpha, a * 1.01, b), pg_temp.bgnbd_ll(r, alpha, a * 0.99, b),
         pg_temp.bgnbd_ll(r, alpha, a, b * 1.01), pg_temp.bgnbd_ll(r, alpha, a, b * 0.99)) AS is_local_maximum
  FROM cdnow_bgnbd;

-- fitting the published summary file itself gives the same parameters
SELECT round((m).r::numeric, 3) AS r, round((m).alpha::numeric, 3) AS alpha, round((m).a::numeric, 3) AS a,
       round((m).b::numeric, 3) AS b, round((m).log_likelihood::numeric, 1) AS log_likelihood
  FROM (SELECT tagscrm.bgnbd_fit(x, t_x, t) AS m FROM cdnow_published) s;

-- Gamma-Gamma fit on the 946 repeat buyers: published p = 6.25, q = 3.74, gamma = 15.44
-- (CLVTools' correctness test: LL = -4055.9177)
CREATE TEMP TABLE cdnow_gg AS SELECT (tagscrm.gamma_gamma_fit(x, zbar)).* FROM cdnow_summary;
SELECT round(p::numeric, 2) AS p, round(q::numeric, 2) AS q, round(gamma::numeric, 2) AS gamma,
       round(log_likelihood::numeric, 4) AS log_likelihood, customers,
       round(p::numeric, 2) = 6.25 AND round(q::numeric, 2) = 3.74 AND round(gamma::numeric, 2) = 15.44
         AND round(log_likelihood::numeric, 4) = -4055.9177 AS matches_published
  FROM cdnow_gg;

-- the Gamma-Gamma log-likelihood in plain SQL equals the reported one, and
-- the fit is a maximum
CREATE FUNCTION pg_temp.gg_ll(p float8, q float8, g float8) RETURNS float8
LANGUAGE sql STABLE AS $$
	SELECT sum(pg_temp.lgam(p * x + q) - pg_temp.lgam(p * x) - pg_temp.lgam(q) + q * ln(g)
	           + (p * x - 1) * ln(zbar) + p * x * ln(x) - (p * x + q) * ln(x * zbar + g))
	  FROM cdnow_summary WHERE x > 0
$$;
SELECT round((pg_temp.gg_ll(p, q, gamma) - log_likelihood)::numeric, 6) AS plain_sql_minus_reported,
       pg_temp.gg_ll(p, q, gamma) > greatest(
         pg_temp.gg_ll(p * 1.01, q, gamma), pg_temp.gg_ll(p * 0.99, q, gamma),
         pg_temp.gg_ll(p, q * 1.01, gamma), pg_temp.gg_ll(p, q * 0.99, gamma),
         pg_temp.gg_ll(p, q, gamma * 1.01), pg_temp.gg_ll(p, q, gamma * 0.99)) AS is_local_maximum
  FROM cdnow_gg;

-- Individual customers with the CDNOW fit.
-- lifetimes' test suite: x = 26, t_x = 30.857, T = 31 -> P(alive) 0.96885 and
-- 25.7566 purchases in the next 52 weeks (its own fit of these data; ours
-- agrees to 4 significant digits).  FHL 2005: x = 2, t_x = 30.43, T = 38.86
-- -> 1.226 purchases in the next 39 weeks.
SELECT round(tagscrm.bgnbd_p_alive(m, 26, 30.857, 31)::numeric, 5) AS p_alive_26,
       round(tagscrm.bgnbd_expected_purchases(m, 52, 26, 30.857, 31)::numeric, 3) AS next_52_weeks_26,
       round(tagscrm.bgnbd_expected_purchases(m, 39, 2, 30.43, 38.86)::numeric, 3) AS next_39_weeks_2,
       round(tagscrm.bgnbd_p_alive(m, 26, 30.857, 31)::numeric, 5) = 0.96885
       AND round(tagscrm.bgnbd_expected_purchases(m, 52, 26, 30.857, 31)::numeric, 2) = round(25.7566, 2)
       AND round(tagscrm.bgnbd_expected_purchases(m, 39, 2, 30.43, 38.86)::numeric, 3) = 1.226 AS matches_published
  FROM (SELECT ROW(r, alpha, a, b, log_likelihood, customers)::tagscrm.bgnbd_model AS m FROM cdnow_bgnbd) s;

-- Every customer's P(alive) and 39-week forecast, written out in plain SQL
-- from FHL 2005 eq. 10 (2F1 summed as its series, which converges fast here:
-- z = 39 / (alpha + T + 39) < 0.56), equals the C result.
CREATE TEMP TABLE cdnow_plain_forecast AS
SELECT s.customer,
       1 / (1 + CASE WHEN s.x > 0 THEN m.a / (m.b + s.x - 1) * exp((m.r + s.x) * ln((m.alpha + s.t) / (m.alpha + s.t_x)))
                     ELSE 0 END) AS p_alive,
       (m.a + m.b + s.x - 1) / (m.a - 1)
       * (1 - exp((m.r + s.x) * ln((m.alpha + s.t) / (m.alpha + s.t + 39)))
              * (1 + (SELECT sum(exp(lt)) FROM (
                        SELECT sum(ln((m.r + s.x + j) * (m.b + s.x + j) / ((m.a + m.b + s.x - 1 + j) * (j + 1))
                                      * (39 / (m.alpha + s.t + 39)))) OVER (ORDER BY j) AS lt
                          FROM generate_series(0, 199) j) terms)))
       / (1 + CASE WHEN s.x > 0 THEN m.a / (m.b + s.x - 1) * exp((m.r + s.x) * ln((m.alpha + s.t) / (m.alpha + s.t_x)))
                   ELSE 0 END) AS next_39_weeks
  FROM cdnow_summary s, cdnow_bgnbd m;
SELECT count(*) AS customers,
       max(abs(tagscrm.bgnbd_p_alive(bg, s.x, s.t_x, s.t) - f.p_alive)) < 1e-12 AS p_alive_equal,
       max(abs(tagscrm.bgnbd_expected_purchases(bg, 39, s.x, s.t_x, s.t) - f.next_39_weeks)) < 1e-10 AS forecast_equal
  FROM cdnow_summary s JOIN cdnow_plain_forecast f USING (customer),
       (SELECT ROW(r, alpha, a, b, log_likelihood, customers)::tagscrm.bgnbd_model AS bg FROM cdnow_bgnbd) m;

-- The 39-week holdout (1997-10-01 to 1998-06-30), reported only: the sum of
-- the customers' forecasts next to the actual repeat transactions (the README
-- counts 1,882).
SELECT actual, round(forecast) AS forecast
  FROM (SELECT count(*) AS actual FROM (SELECT DISTINCT customer, day FROM cdnow_orders
                                         WHERE day > '1997-09-30') d) h,
       (SELECT sum(f.next_39_weeks) AS forecast FROM cdnow_plain_forecast f) f;

-- Units do not matter: in days instead of weeks, r, a, b are unchanged, alpha
-- is 7 times larger and the log-likelihood lower by sum(x) ln 7 (the density
-- of each repeat purchase time is in 1/days); in cents instead of dollars,
-- p and q are unchanged, gamma is 100 times larger and the log-likelihood
-- lower by ln 100 per repeat buyer.
SELECT abs(d.r / w.r - 1) < 1e-6 AND abs(d.a / w.a - 1) < 1e-6 AND abs(d.b / w.b - 1) < 1e-6
       AND abs(d.alpha / (7 * w.alpha) - 1) < 1e-6 AS same_bgnbd_in_days,
       round((d.log_likelihood - (w.log_likelihood - 2457 * ln(7)))::numeric, 4) AS ll_days_minus_expected
  FROM cdnow_bgnbd w,
       (SELECT (tagscrm.bgnbd_fit((s).x, (s).t_x, (s).t)).*
          FROM (SELECT tagscrm.purchase_summary(day, amount, '1997-09-30', '1 day') AS s
                  FROM cdnow_orders GROUP BY customer) q) d;
SELECT abs(c.p / d.p - 1) < 1e-6 AND abs(c.q / d.q - 1) < 1e-6 AND abs(c.gamma / (100 * d.gamma) - 1) < 1e-6
         AS same_gamma_gamma_in_cents,
       round((c.log_likelihood - (d.log_likelihood - 946 * ln(100)))::numeric, 4) AS ll_cents_minus_expected
  FROM cdnow_gg d,
       (SELECT (tagscrm.gamma_gamma_fit(x, zbar * 100)).* FROM cdnow_summary) c;
