#!/usr/bin/env bash
# test/bench/churn_bench.sh: the churn model at scale.
#
# Generates CUSTOMERS (default 1,000,000) customers' orders deterministically
# from a BG/NBD + Gamma-Gamma process with known parameters (test/bench/
# churn_gen.py), then times, in one run: the per-customer summary, the fits,
# scoring, and churn_fit/churn_scores end to end; prints each next to the best
# plain-SQL way to do the same work, as a ratio, and the parameter recovery.
#
# Uses the cluster in PGHOST/PGPORT when one answers there (the extension must
# be installed); otherwise starts a throwaway one on PORT (default 54329) with
# tools/cluster.sh.  Needs python3.  Database: DB (default churn_bench, dropped
# and recreated).
set -euo pipefail
cd "$(dirname "$0")/../.."
CUSTOMERS="${CUSTOMERS:-1000000}"
DB="${DB:-churn_bench}"
. tools/cluster.sh
started=0
if ! pg_isready -q 2>/dev/null; then
	CLUSTER_DIR=
	cluster_start "${PORT:-54329}" -c max_parallel_workers_per_gather=2 -c work_mem=256MB
	started=1
fi
command -v python3 >/dev/null || { echo "churn_bench: python3 is needed to generate the data" >&2; exit 1; }

data="$(mktemp -d /tmp/churn-bench.XXXXXX)"
trap 'rm -rf "$data"; [ "$started" = 1 ] && cluster_stop' EXIT
chmod 755 "$data"
python3 test/bench/churn_gen.py "$CUSTOMERS" >"$data/orders.csv"
chmod 644 "$data/orders.csv"

as_postgres dropdb --if-exists "$DB"
as_postgres createdb "$DB"
as_postgres psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -v data="$data/orders.csv" <<'SQL'
\pset footer off
SET TimeZone = 'UTC';
SET work_mem = '256MB';
SET client_min_messages = warning;
CREATE EXTENSION tagscrm;
CREATE TABLE orders_raw (customer bigint, seconds bigint, amount numeric);
COPY orders_raw FROM :'data' WITH (FORMAT csv);
CREATE TABLE orders AS
SELECT customer, '2024-01-01 00:00+00'::timestamptz + seconds * interval '1 second' AS at, amount FROM orders_raw;
DROP TABLE orders_raw;
VACUUM ANALYZE orders;
SELECT count(*) AS orders, count(DISTINCT customer) AS customers FROM orders;

CREATE FUNCTION pg_temp.ms(q text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz := clock_timestamp();
BEGIN
	EXECUTE q;
	RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END
$$;
CREATE TEMP TABLE timing (step text, ours_ms float8, plain_ms float8, rows bigint);

-- 1. per-customer summary: the aggregate vs plain SQL (days merged by GROUP BY, window for the first day)
INSERT INTO timing SELECT 'summary (x, t_x, T, zbar) per customer',
	pg_temp.ms($q$CREATE TABLE summary AS
		SELECT customer, (s).x, (s).t_x, (s).t, (s).zbar
		  FROM (SELECT customer, tagscrm.purchase_summary(at, amount, '2024-09-30') AS s FROM orders GROUP BY customer) q$q$),
	pg_temp.ms($q$CREATE TABLE summary_plain AS
		SELECT customer, (count(*) - 1)::integer AS x,
		       extract(epoch FROM max(at) - min(at))::float8 / 604800 AS t_x,
		       extract(epoch FROM '2024-09-30'::timestamptz - min(at))::float8 / 604800 AS t,
		       coalesce((sum(amount) FILTER (WHERE day > first_day)) / nullif(count(*) - 1, 0), 0)::float8 AS zbar
		  FROM (SELECT customer, at::date AS day, min(at) AS at, sum(amount) AS amount,
		               min(min(at::date)) OVER (PARTITION BY customer) AS first_day
		          FROM orders WHERE at <= '2024-09-30' GROUP BY customer, at::date) d
		 GROUP BY customer$q$),
	(SELECT count(*) FROM orders);
SELECT count(*) AS summary_rows_differing_from_plain_sql FROM summary s JOIN summary_plain p USING (customer)
 WHERE s.x <> p.x OR abs(s.t_x - p.t_x) > 1e-9 OR abs(s.t - p.t) > 1e-9 OR abs(s.zbar - p.zbar) > 1e-6;
VACUUM ANALYZE summary;

-- 2. BG/NBD fit vs ONE evaluation of its log-likelihood in plain SQL (the
--    best a SQL-driven optimiser could do per step; it needs dozens of steps)
-- a plain table: a temporary one would keep the scoring queries below out of parallel plans
CREATE TABLE fits (bg tagscrm.bgnbd_model, gg tagscrm.gamma_gamma_model);
INSERT INTO timing SELECT 'bgnbd_fit over all customers',
	pg_temp.ms($q$INSERT INTO fits(bg) SELECT tagscrm.bgnbd_fit(x, t_x, t) FROM summary$q$),
	pg_temp.ms($q$SELECT sum(coalesce(g.c, 0) + 0.243 * ln(4.414)
	                      + ln(exp(-(0.243 + s.x) * ln(4.414 + s.t))
	                           + CASE WHEN s.x > 0 THEN 0.793 / (2.426 + s.x - 1) * exp(-(0.243 + s.x) * ln(4.414 + s.t_x)) ELSE 0 END))
	                 FROM summary s
	                 LEFT JOIN (SELECT x, sum(ln(0.243 + k) + ln((2.426 + k) / (0.793 + 2.426 + k))) AS c
	                              FROM (SELECT DISTINCT x FROM summary) xs, generate_series(0, x - 1) k GROUP BY x) g USING (x)$q$),
	(SELECT count(*) FROM summary);
INSERT INTO timing SELECT 'gamma_gamma_fit over repeat buyers',
	pg_temp.ms($q$UPDATE fits SET gg = (SELECT tagscrm.gamma_gamma_fit(x, zbar) FROM summary WHERE zbar > 0)$q$),
	NULL, (SELECT count(*) FROM summary WHERE x > 0);

-- 3. scoring: P(alive) in C vs the same formula in plain SQL; the forecast in C
ANALYZE fits;
INSERT INTO timing SELECT 'p_alive for every customer',
	pg_temp.ms($q$SELECT sum(tagscrm.bgnbd_p_alive(f.bg, s.x, s.t_x, s.t)) FROM summary s, fits f$q$),
	pg_temp.ms($q$SELECT sum(1 / (1 + CASE WHEN s.x > 0 THEN (f.bg).a / ((f.bg).b + s.x - 1)
	                                     * exp(((f.bg).r + s.x) * ln(((f.bg).alpha + s.t) / ((f.bg).alpha + s.t_x))) ELSE 0 END))
	                 FROM summary s, fits f$q$),
	(SELECT count(*) FROM summary);
INSERT INTO timing SELECT 'expected purchases next 52 weeks, every customer',
	pg_temp.ms($q$SELECT sum(tagscrm.bgnbd_expected_purchases(f.bg, 52, s.x, s.t_x, s.t)) FROM summary s, fits f$q$),
	NULL, (SELECT count(*) FROM summary);
INSERT INTO timing SELECT 'clv 52 weeks undiscounted, every customer',
	pg_temp.ms($q$SELECT sum(tagscrm.clv(f.bg, f.gg, s.x, s.t_x, s.t, s.zbar, 52)) FROM summary s, fits f$q$),
	NULL, (SELECT count(*) FROM summary);
INSERT INTO timing SELECT 'clv 52 weeks at 0.2 %/week, every customer',
	pg_temp.ms($q$SELECT sum(tagscrm.clv(f.bg, f.gg, s.x, s.t_x, s.t, s.zbar, 52, 0.002)) FROM summary s, fits f$q$),
	NULL, (SELECT count(*) FROM summary);

-- 4. end to end: churn_fit (summary + both fits + store) and churn_scores
INSERT INTO timing SELECT 'churn_fit end to end',
	pg_temp.ms($q$SELECT tagscrm.churn_fit('bench', 'orders', 'customer', 'at', 'amount', '2024-09-30')$q$), NULL,
	(SELECT count(*) FROM orders);
INSERT INTO timing SELECT 'churn_scores end to end (horizon 1 year)',
	pg_temp.ms($q$SELECT count(*), sum(clv) FROM tagscrm.churn_scores('bench')$q$), NULL,
	(SELECT count(*) FROM summary);

SELECT step, rows, round(ours_ms::numeric) AS ours_ms, round(plain_ms::numeric) AS plain_sql_ms,
       round((plain_ms / ours_ms)::numeric, 2) AS plain_over_ours,
       round((rows / (ours_ms / 1000))::numeric) AS rows_per_s
  FROM timing;

-- parameter recovery: the generator's parameters vs the fits
SELECT param, true_value, round(fitted::numeric, 4) AS fitted, round((100 * (fitted / true_value - 1))::numeric, 1) AS error_pct
  FROM fits, LATERAL (VALUES ('r', 0.243, (bg).r), ('alpha', 4.414, (bg).alpha), ('a', 0.793, (bg).a), ('b', 2.426, (bg).b),
                             ('p', 6.25, (gg).p), ('q', 3.74, (gg).q), ('gamma', 15.44, (gg).gamma)) v(param, true_value, fitted);
SELECT (bg).customers AS bgnbd_customers, round((bg).log_likelihood::numeric, 1) AS bgnbd_ll,
       (gg).customers AS gg_customers, round((gg).log_likelihood::numeric, 1) AS gg_ll FROM fits;
SQL
