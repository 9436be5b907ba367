-- Every figure demo/sample.sql prints, recomputed in plain SQL from the
-- sample shop's own tables (customers, orders, events) and compared with what
-- tagscrm shows.  Run in the database the demo was loaded into; each check
-- prints one line "name|t" (or "|f").  test/docs/run.sh counts the
-- "-- check:" lines below as its plan.
\set ON_ERROR_STOP 1
\pset format unaligned
\pset tuples_only on
SET client_min_messages = warning;
SET tagscrm.clock_override = '2026-06-01 00:00:00+00';

-- ln Gamma(z) for z > 0 (recurrence up to z >= 10, then Stirling's series;
-- error below 1e-12): PostgreSQL 15 has no lgamma()
CREATE FUNCTION pg_temp.lgamma(z float8) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
	SELECT (w - 0.5) * ln(w) - w + 0.5 * ln(2 * pi()) + 1 / (12 * w) - 1 / (360 * w ^ 3) + 1 / (1260 * w ^ 5)
	       - 1 / (1680 * w ^ 7) - s
	  FROM (SELECT z + n AS w, COALESCE((SELECT sum(ln(z + k)) FROM generate_series(0, n - 1) k), 0) AS s
	          FROM (SELECT GREATEST(0, ceil(10 - z))::int AS n) c) x
$$;

-- what counts (watch_orders' condition): paid orders are purchases, refunds
-- subtract their amount, cancelled orders are ignored
CREATE TEMP VIEW purchases AS SELECT * FROM orders WHERE status = 'paid';
CREATE TEMP VIEW refunds AS SELECT * FROM orders WHERE status = 'refunded';

-- each customer from the base tables
CREATE TEMP TABLE plain AS
WITH ids AS (SELECT id::text AS customer_id FROM customers
             UNION SELECT customer_id::text FROM orders UNION SELECT customer_id::text FROM events),
o AS (SELECT customer_id::text AS customer_id, count(*) AS orders,
             sum(amount) - COALESCE((SELECT sum(r.amount) FROM refunds r WHERE r.customer_id = p.customer_id), 0) AS paid,
             min(paid_at) AS first_at, max(paid_at) AS last_at, count(DISTINCT (paid_at AT TIME ZONE 'UTC')::date) AS order_days
        FROM purchases p GROUP BY p.customer_id),
e AS (SELECT customer_id::text AS customer_id, count(*) AS events, max(at) AS last_at,
             count(*) FILTER (WHERE kind = 'review') AS reviews,
             bool_or(kind = 'read' AND object = 'wardrobe-guide' AND seconds > 30) AS wardrobe
        FROM events GROUP BY 1),
d AS (SELECT customer_id, count(DISTINCT day) AS active_days
        FROM (SELECT customer_id::text, (paid_at AT TIME ZONE 'UTC')::date AS day FROM purchases
              UNION SELECT customer_id::text, (at AT TIME ZONE 'UTC')::date FROM events) x GROUP BY 1)
SELECT i.customer_id, COALESCE(o.orders, 0) AS orders, COALESCE(o.paid, 0) AS paid, o.first_at, o.last_at,
       o.order_days, COALESCE(e.events, 0) AS events, COALESCE(e.reviews, 0) AS reviews,
       COALESCE(e.wardrobe, false) AS wardrobe, COALESCE(d.active_days, 0) AS active_days,
       floor(extract(epoch FROM timestamptz '2026-06-01 00:00+00' - o.last_at) / 86400)::int AS recency,
       -- status counts orders only (settings.status_event_kinds is empty in the demo)
       floor(extract(epoch FROM timestamptz '2026-06-01 00:00+00' - o.last_at) / 86400)::int AS silent_days
  FROM ids i LEFT JOIN o USING (customer_id) LEFT JOIN e USING (customer_id)
  LEFT JOIN d USING (customer_id);

-- RFM: quintile cut points (percentile_disc) and means over customers with an order
CREATE TEMP TABLE bp AS
SELECT percentile_disc(ARRAY[.2, .4, .6, .8]) WITHIN GROUP (ORDER BY recency) AS r_cuts,
       percentile_disc(ARRAY[.2, .4, .6, .8]) WITHIN GROUP (ORDER BY orders) AS f_cuts,
       percentile_disc(ARRAY[.2, .4, .6, .8]) WITHIN GROUP (ORDER BY paid) AS m_cuts,
       avg(recency) AS r_mean, avg(orders) AS f_mean, avg(paid) AS m_mean
  FROM plain WHERE orders > 0;

-- the purchase summary per customer in weeks (t_x runs to the latest order, for the fit and
-- the tags alike), and the MBG/NBD P(alive) (Batislam, Denizel & Filiztekin 2007): a customer
-- may drop out after any purchase, the first included, so one-time buyers can be gone too
CREATE TEMP TABLE churn AS
SELECT p.customer_id, s.x, s.t_x, s.t,
       1 - 1 / (1 + m.a / (m.b + s.x) * ((m.alpha + s.t) / (m.alpha + s.t_x)) ^ (m.r + s.x)) AS churn
  FROM plain p, tagscrm.churn_model m,
       LATERAL (SELECT p.order_days - 1 AS x,
                       CASE WHEN p.order_days > 1 THEN extract(epoch FROM p.last_at - p.first_at) / 604800 ELSE 0 END AS t_x,
                       extract(epoch FROM timestamptz '2026-06-01 00:00+00' - p.first_at) / 604800 AS t) s
 WHERE p.orders > 0;

CREATE TEMP TABLE expected AS
SELECT p.customer_id, p.orders, p.paid, p.recency,
       CASE WHEN p.orders > 0 THEN 5 - (SELECT count(*) FROM unnest(bp.r_cuts) c WHERE c < p.recency) END AS r,
       CASE WHEN p.orders > 0 THEN 1 + (SELECT count(*) FROM unnest(bp.f_cuts) c WHERE c < p.orders) END AS f,
       CASE WHEN p.orders > 0 THEN 1 + (SELECT count(*) FROM unnest(bp.m_cuts) c WHERE c < p.paid) END AS m,
       CASE WHEN p.orders > 0 THEN
            CASE WHEN p.paid > bp.m_mean THEN 'important_' ELSE 'general_' END ||
            CASE WHEN p.recency < bp.r_mean THEN CASE WHEN p.orders > bp.f_mean THEN 'value' ELSE 'develop' END
                 ELSE CASE WHEN p.orders > bp.f_mean THEN 'keep' ELSE 'retain' END END END AS rfm,
       CASE WHEN p.orders = 0 THEN 'new' WHEN p.orders = 1 THEN 'first_purchase'
            WHEN p.orders < 5 THEN 'repeat' ELSE 'super' END AS lifecycle,
       CASE WHEN p.silent_days < 30 THEN 'active' WHEN p.silent_days < 90 THEN 'silent'
            WHEN p.silent_days IS NOT NULL THEN 'lost' END AS status,
       CASE WHEN c.churn >= 0.7 THEN 'high' WHEN c.churn >= 0.4 THEN 'medium' WHEN c.churn IS NOT NULL THEN 'low' END AS risk,
       c.churn,
       (1 + (SELECT count(*) FROM unnest(ARRAY[50, 150, 400, 1000]) t
              WHERE t <= 10 * p.orders + 0.01 * p.paid + p.active_days + 5 * p.reviews
                         + CASE WHEN p.recency < 90 THEN 20 ELSE 0 END))::text AS level,
       p.wardrobe,
       p.customer_id IN (SELECT customer_id FROM plain ORDER BY paid DESC, customer_id LIMIT 20) AS vip
  FROM plain p CROSS JOIN bp LEFT JOIN churn c USING (customer_id);

-- loyalty (docs/models.md): of the 6 periods of 30 UTC days counted from 2000-01-03 that end with
-- the current one, the share with a purchase: 4 or more loyal, 2 or more regular, 1 occasional, none lapsed
CREATE TEMP TABLE loyal AS
SELECT x.customer_id, CASE WHEN x.inside = 0 THEN 'lapsed' WHEN 3 * x.inside >= 2 * 6 THEN 'loyal'
                           WHEN 3 * x.inside >= 6 THEN 'regular' ELSE 'occasional' END AS value
  FROM (SELECT customer_id::text AS customer_id, count(DISTINCT p.k) FILTER (WHERE p.k BETWEEN p.now_k - 5 AND p.now_k) AS inside
          FROM purchases,
               LATERAL (SELECT floor(((paid_at AT TIME ZONE 'UTC')::date - date '2000-01-03') / 30.0) AS k,
                               floor((date '2026-06-01' - date '2000-01-03') / 30.0) AS now_k) p
         GROUP BY 1) x;

-- what tagscrm shows
CREATE TEMP TABLE shown AS
SELECT o.customer_id, o.orders, o.total_paid, o.recency_days, o.r_score, o.f_score, o.m_score,
       (SELECT value FROM tagscrm.model_members mm WHERE mm.customer_id = o.customer_id AND model = 'rfm') AS rfm,
       (SELECT value FROM tagscrm.model_members mm WHERE mm.customer_id = o.customer_id AND model = 'lifecycle') AS lifecycle,
       (SELECT value FROM tagscrm.model_members mm WHERE mm.customer_id = o.customer_id AND model = 'status') AS status,
       (SELECT value FROM tagscrm.model_members mm WHERE mm.customer_id = o.customer_id AND model = 'churn_risk') AS risk,
       o.churn_probability,
       (SELECT value FROM tagscrm.model_members mm WHERE mm.customer_id = o.customer_id AND model = 'level') AS level,
       'wardrobe' = ANY (o.tags) AS wardrobe, 'vip' = ANY (o.tags) AS vip
  FROM tagscrm.customer_overview o;

-- check: the shop has 2,000 customers, every paid order (of 1,800 buyers less those whose orders were all cancelled) and every event
SELECT 'customers, customers with an order, orders, events',
       (SELECT (count(*), count(*) FILTER (WHERE orders > 0), sum(orders), sum(events)) FROM tagscrm.customer_overview)
       = (SELECT (count(*), count(*) FILTER (WHERE orders > 0), sum(orders), sum(events)) FROM plain)
   AND (SELECT count(*) FROM plain) = 2000
   AND (SELECT count(*) FROM plain WHERE orders > 0) = (SELECT count(DISTINCT customer_id) FROM purchases)
   AND (SELECT count(DISTINCT customer_id) FROM orders) = 1800;

-- check: the purchase summary of every buyer equals purchase_summary at the calibration end
SELECT 'purchase summary (x, t_x, T) of every buyer',
       NOT EXISTS (SELECT FROM churn c
                     JOIN (SELECT customer_id::text, tagscrm.purchase_summary(paid_at, amount, '2026-06-01 00:00+00') s
                             FROM purchases GROUP BY 1) s USING (customer_id)
                    WHERE (s.s).x <> c.x OR abs((s.s).t_x - c.t_x) > 1e-9 OR abs((s.s).t - c.t) > 1e-9);

-- check: the MBG/NBD log-likelihood in plain SQL equals the stored one, and moving any parameter 1 % lowers it
WITH s AS (SELECT x, t_x, t FROM churn),
ll AS (SELECT k, sum(pg_temp.lgamma(pr + x) - pg_temp.lgamma(pr) + pr * ln(pal)
                     + pg_temp.lgamma(pa + pb) + pg_temp.lgamma(pb + x + 1) - pg_temp.lgamma(pb) - pg_temp.lgamma(pa + pb + x + 1)
                     + ln((pal + t) ^ (-(pr + x)) + pa / (pb + x) * (pal + t_x) ^ (-(pr + x)))) AS v
         FROM s, tagscrm.churn_model m,
              LATERAL (VALUES (0, m.r, m.alpha, m.a, m.b),
                              (1, m.r * 1.01, m.alpha, m.a, m.b), (2, m.r * 0.99, m.alpha, m.a, m.b),
                              (3, m.r, m.alpha * 1.01, m.a, m.b), (4, m.r, m.alpha * 0.99, m.a, m.b),
                              (5, m.r, m.alpha, m.a * 1.01, m.b), (6, m.r, m.alpha, m.a * 0.99, m.b),
                              (7, m.r, m.alpha, m.a, m.b * 1.01), (8, m.r, m.alpha, m.a, m.b * 0.99)) p(k, pr, pal, pa, pb)
        GROUP BY k)
SELECT 'MBG/NBD fit: r, alpha, a, b maximise the likelihood',
       abs((SELECT v FROM ll WHERE k = 0) - (SELECT bgnbd_log_likelihood FROM tagscrm.churn_model WHERE kind = 'mbgnbd')) < 1e-6
   AND (SELECT bool_and(v < (SELECT v FROM ll WHERE k = 0)) FROM ll WHERE k > 0);

-- check: the Gamma-Gamma log-likelihood in plain SQL equals the stored one, and moving any parameter 1 % lowers it
WITH s AS (SELECT customer_id::text, (tagscrm.purchase_summary(paid_at, amount, '2026-06-01 00:00+00')).*
             FROM purchases GROUP BY 1),
ll AS (SELECT k, sum(pg_temp.lgamma(pp * x + pq) - pg_temp.lgamma(pp * x) - pg_temp.lgamma(pq) + pq * ln(g)
                     + (pp * x - 1) * ln(zbar) + pp * x * ln(x) - (pp * x + pq) * ln(g + x * zbar)) AS v
         FROM s, tagscrm.churn_model m,
              LATERAL (VALUES (0, m.p, m.q, m.gamma), (1, m.p * 1.01, m.q, m.gamma), (2, m.p * 0.99, m.q, m.gamma),
                              (3, m.p, m.q * 1.01, m.gamma), (4, m.p, m.q * 0.99, m.gamma),
                              (5, m.p, m.q, m.gamma * 1.01), (6, m.p, m.q, m.gamma * 0.99)) v(k, pp, pq, g)
        WHERE s.x > 0 AND s.zbar > 0
        GROUP BY k)
SELECT 'Gamma-Gamma fit: p, q, gamma maximise the likelihood',
       abs((SELECT v FROM ll WHERE k = 0) - (SELECT gg_log_likelihood FROM tagscrm.churn_model)) < 1e-6
   AND (SELECT bool_and(v < (SELECT v FROM ll WHERE k = 0)) FROM ll WHERE k > 0);

-- check: the explained parameter figures
SELECT 'churn parameter figures: r / alpha, a / (a + b), 1 / sqrt(p), p gamma / (q - 1)',
       (SELECT (round((r / alpha)::numeric, 2), round((alpha / r)::numeric, 1), round((100 * a / (a + b))::numeric, 1),
                round((100 / sqrt(p))::numeric), round((p * gamma / (q - 1))::numeric, 2))
          FROM tagscrm.churn_model) = (0.27, 3.7, 26.6, 36::numeric, 87.07);

-- check: every customer's orders, amount paid, recency and R, F, M scores
SELECT 'orders, amount paid, recency and R/F/M scores of every customer',
       NOT EXISTS (SELECT customer_id, orders, paid, recency, r, f, m FROM expected
                   EXCEPT SELECT customer_id, orders, total_paid, recency_days, r_score, f_score, m_score FROM shown)
   AND NOT EXISTS (SELECT customer_id, orders, total_paid, recency_days, r_score, f_score, m_score FROM shown
                   EXCEPT SELECT customer_id, orders, paid, recency, r, f, m FROM expected);

-- check: the status against churn risk table
SELECT 'status against churn risk of the buyers',
       NOT EXISTS ((SELECT status, risk, count(*) FROM expected WHERE orders > 0 GROUP BY 1, 2
                    EXCEPT SELECT status, risk, count(*) FROM shown WHERE orders > 0 GROUP BY 1, 2)
                   UNION ALL
                   (SELECT status, risk, count(*) FROM shown WHERE orders > 0 GROUP BY 1, 2
                    EXCEPT SELECT status, risk, count(*) FROM expected WHERE orders > 0 GROUP BY 1, 2));

-- check: every customer's RFM segment, lifecycle, status and user level
SELECT 'RFM segment, lifecycle, status and level of every customer',
       NOT EXISTS (SELECT customer_id, rfm, lifecycle, status, level FROM expected
                   EXCEPT SELECT customer_id, rfm, lifecycle, status, level FROM shown)
   AND NOT EXISTS (SELECT customer_id, rfm, lifecycle, status, level FROM shown
                   EXCEPT SELECT customer_id, rfm, lifecycle, status, level FROM expected);

-- check: every buyer's churn probability and churn risk tag
SELECT 'churn probability and churn risk of every customer',
       NOT EXISTS (SELECT FROM expected e JOIN shown s USING (customer_id)
                    WHERE e.risk IS DISTINCT FROM s.risk
                       OR abs(COALESCE(e.churn, -1) - COALESCE(s.churn_probability, -1)) > 1e-9);

-- check: wardrobe readers (rule) and the 20 top payers (vip, by hand)
SELECT 'wardrobe and vip holders',
       NOT EXISTS (SELECT FROM expected e JOIN shown s USING (customer_id)
                    WHERE e.wardrobe <> s.wardrobe OR e.vip <> s.vip);

-- check: segment sizes and shares of all customers, as printed
SELECT 'segment sizes and shares',
       NOT EXISTS (
	(SELECT group_name, tag, customers, round(100.0 * customers / 2000, 1) FROM tagscrm.segment_sizes
	  WHERE group_name IN ('RFM segment', 'lifecycle', 'customer status', 'churn risk', 'user level', 'loyalty', 'interests'))
	EXCEPT
	(SELECT g, t.tag, count(e.customer_id), round(100.0 * count(e.customer_id) / 2000, 1)
	   FROM tagscrm.model_groups t
	   LEFT JOIN (SELECT customer_id, 'rfm' AS model, rfm AS value FROM expected
	              UNION ALL SELECT customer_id, 'lifecycle', lifecycle FROM expected
	              UNION ALL SELECT customer_id, 'status', status FROM expected
	              UNION ALL SELECT customer_id, 'churn_risk', risk FROM expected
	              UNION ALL SELECT customer_id, 'level', level FROM expected
	              UNION ALL SELECT customer_id, 'loyalty', value FROM loyal) e
	          ON e.model = t.model AND e.value = t.value
	   CROSS JOIN LATERAL (SELECT t.group_name AS g) gg
	  WHERE t.model IN ('rfm', 'lifecycle', 'status', 'churn_risk', 'level', 'loyalty')
	  GROUP BY g, t.tag
	 UNION ALL
	 SELECT 'interests', 'wardrobe', count(*) FILTER (WHERE wardrobe), round(100.0 * count(*) FILTER (WHERE wardrobe) / 2000, 1)
	   FROM expected
	 UNION ALL
	 SELECT 'interests', 'vip', count(*) FILTER (WHERE vip), round(100.0 * count(*) FILTER (WHERE vip) / 2000, 1)
	   FROM expected));

-- check: the service desk customer is the top payer, with the city, gender and age band of the customer table
SELECT 'the profile shown: top payer, city, gender, age band',
       (SELECT customer_id FROM plain ORDER BY paid DESC, customer_id LIMIT 1)
       = (SELECT customer_id FROM tagscrm.customer_overview ORDER BY total_paid DESC, customer_id LIMIT 1)
   AND (SELECT array_agg(t ->> 'tag' ORDER BY t ->> 'tag')
          FROM jsonb_array_elements(tagscrm.customer_profile(
                 (SELECT customer_id FROM plain ORDER BY paid DESC, customer_id LIMIT 1)) -> 'tags') t
         WHERE t ->> 'group' IN ('city', 'gender', 'age band'))
       = (SELECT ARRAY['age ' || CASE WHEN a < 18 THEN 'under 18' WHEN a >= 65 THEN '65+'
                                      ELSE (SELECT lo || '-' || (hi - 1) FROM (VALUES (18, 25), (25, 35), (35, 45), (45, 55), (55, 65)) v(lo, hi)
                                             WHERE a >= lo AND a < hi) END,
                        'city: ' || c.city, 'gender: ' || c.gender]
            FROM customers c, LATERAL (SELECT date_part('year', age(date '2026-06-01', c.born))::int AS a) x
           WHERE c.id = (SELECT customer_id FROM plain ORDER BY paid DESC, customer_id LIMIT 1)::bigint);

-- check: churn_predict of every buyer: the MBG/NBD P(alive) and purchases over a year (2F1 as its series), the
-- Gamma-Gamma value of one purchase from the mean of the repeat purchase days, spend = their product, the risk class
WITH days AS (
	SELECT customer_id::text AS customer_id, (paid_at AT TIME ZONE 'UTC')::date AS day, sum(amount) AS amount
	  FROM purchases GROUP BY 1, 2
), z AS (
	SELECT customer_id,
	       CASE WHEN count(*) > 1 THEN (sum(amount) - (array_agg(amount ORDER BY day))[1]) / (count(*) - 1) ELSE 0 END AS zbar
	  FROM days GROUP BY 1
), c AS (
	SELECT ch.customer_id, ch.x, ch.t_x, ch.t, 1 - ch.churn AS pa, z.zbar::float8 AS zbar, m.r, m.alpha, m.a, m.b, m.p, m.q,
	       m.gamma, 365.25 / 7 AS w, m.r + ch.x AS ha, m.b + ch.x + 1 AS hb, m.a + m.b + ch.x AS hc,
	       (365.25 / 7) / (m.alpha + ch.t + 365.25 / 7) AS zz
	  FROM churn ch JOIN z USING (customer_id), tagscrm.churn_model m
), f AS (
	SELECT customer_id, sum(term) AS f21 FROM (
		WITH RECURSIVE k(customer_id, n, term, ha, hb, hc, zz) AS (
			SELECT customer_id, 0, 1::float8, ha, hb, hc, zz FROM c
			UNION ALL
			SELECT customer_id, n + 1, term * (ha + n) * (hb + n) / ((hc + n) * (n + 1)) * zz, ha, hb, hc, zz FROM k
			 WHERE n < 1000 AND abs(term) > 1e-17
		) SELECT customer_id, term FROM k) q GROUP BY 1
), e AS (
	SELECT c.customer_id, c.pa, (a + b + x) / (a - 1) * (1 - ((alpha + t) / (alpha + t + w)) ^ (r + x) * f.f21) * pa AS ep,
	       p * (gamma + x * zbar) / (p * x + q - 1) AS ev
	  FROM c JOIN f USING (customer_id))
SELECT 'churn_predict: P(alive), purchases, value and spend over a year and the risk of every buyer',
       (SELECT count(*) FROM e) = (SELECT count(*) FROM tagscrm.churn_predict()) AND (SELECT count(*) FROM e) > 1700
   AND NOT EXISTS (SELECT FROM e JOIN tagscrm.churn_predict() p USING (customer_id)
                    WHERE abs(p.p_alive - e.pa) > 1e-9 OR abs(p.expected_purchases - e.ep) > 1e-7 * (1 + e.ep)
                       OR abs(p.expected_value - e.ev) > 1e-9 * e.ev
                       OR abs(p.expected_spend - e.ep * e.ev) > 1e-7 * (1 + e.ep * e.ev)
                       OR p.risk <> CASE WHEN 1 - e.pa >= 0.7 THEN 'high' WHEN 1 - e.pa >= 0.4 THEN 'medium' ELSE 'low' END);

-- check: the calibration/holdout table and AUC of churn_validate (calibration to 2025-12-01, holdout to 2026-06-01):
-- summaries rebuilt from the orders, the MBG/NBD E[Y(t)] (as FHL 2005 eq. 10 with b + 1 for b) with 2F1 summed as
-- its series, the AUC by counting pairs
WITH d AS (
	SELECT customer_id, paid_at::date AS day, min(paid_at) AS at, max(paid_at) AS last_at
	  FROM purchases WHERE paid_at <= '2025-12-01 00:00+00' GROUP BY 1, 2
), s AS (
	SELECT customer_id, count(*) - 1 AS x,
	       CASE WHEN count(*) > 1 THEN extract(epoch FROM max(last_at) - min(at)) / 604800 ELSE 0 END AS t_x,
	       extract(epoch FROM '2025-12-01 00:00+00' - min(at)) / 604800 AS t
	  FROM d GROUP BY 1
), m AS (
	SELECT (f).r, (f).alpha, (f).a, (f).b FROM (SELECT tagscrm.mbgnbd_fit(x, t_x, t) AS f FROM s) q
), h AS (
	SELECT customer_id, count(DISTINCT paid_at::date) AS y FROM purchases
	 WHERE paid_at > '2025-12-01 00:00+00' AND paid_at <= '2026-06-01 00:00+00' GROUP BY 1
), c AS (
	SELECT s.customer_id, s.x, s.t_x, s.t, COALESCE(h.y, 0) AS y, 26.0::float8 AS w,
	       r + x AS ha, b + x + 1 AS hb, a + b + x AS hc, 26 / (alpha + t + 26) AS z,
	       1 / (1 + a / (b + x) * ((alpha + t) / (alpha + t_x)) ^ (r + x)) AS pa,
	       m.*
	  FROM s CROSS JOIN m LEFT JOIN h USING (customer_id)
), f AS (  -- 2F1(ha, hb; hc; z) = sum of its terms, each from the one before
	SELECT customer_id, sum(term) AS f21 FROM (
		WITH RECURSIVE k(customer_id, n, term, ha, hb, hc, z) AS (
			SELECT customer_id, 0, 1::float8, ha, hb, hc, z FROM c
			UNION ALL
			SELECT customer_id, n + 1, term * (ha + n) * (hb + n) / ((hc + n) * (n + 1)) * z, ha, hb, hc, z FROM k
			 WHERE n < 400 AND abs(term) > 1e-17
		) SELECT customer_id, term FROM k) q GROUP BY 1
), e AS (
	SELECT c.*, ((a + b + x) / (a - 1) * (1 - ((alpha + t) / (alpha + t + w)) ^ (r + x) * f.f21)) * pa AS ep
	  FROM c JOIN f USING (customer_id)
), plainv AS (
	SELECT CASE WHEN g.k = 7 THEN '7+' WHEN g.k = 8 THEN 'all' ELSE g.k::text END AS bucket, count(e.y) AS customers,
	       avg(e.y) AS actual, avg(e.ep) AS predicted
	  FROM generate_series(0, 8) g(k) LEFT JOIN e ON LEAST(e.x, 7) = g.k OR g.k = 8 GROUP BY g.k
), auc AS (
	SELECT (count(*) FILTER (WHERE p.pa > q.pa) + 0.5 * count(*) FILTER (WHERE p.pa = q.pa))::float8 / count(*) AS v
	  FROM e p JOIN e q ON p.y > 0 AND q.y = 0
)
SELECT 'churn_validate: customers, actual and predicted holdout purchases per bucket, AUC',
       count(*) = 9 AND bool_and(v.customers = p.customers AND abs(v.actual_mean - p.actual) < 1e-9
                                 AND abs(v.predicted_mean - p.predicted) < 1e-6
                                 AND abs(v.auc - (SELECT auc.v FROM auc)) < 1e-9)
  FROM tagscrm.churn_validate('orders', 'customer_id', 'paid_at', 'amount',
                              calibration_end => '2025-12-01 00:00+00', holdout_end => '2026-06-01 00:00+00') v
  JOIN plainv p USING (bucket);
