-- model_values() in C (model_values.c) against the PL/pgSQL body it replaced
-- (src/models.sql at commit acd7a9d), kept below verbatim as the oracle,
-- with @extschema@ written tagscrm: the two are compared row for row
-- (EXCEPT ALL both ways; "extra" and "missing" must be 0) over wide inputs:
-- facts from watched tables, and random facts written directly (order counts
-- from 0 to millions, huge totals, NULL last orders, events of every kind,
-- customers with facts but no days, days far in the past and future-dated,
-- attributes of every JSON kind, birthdays on Feb 29 and in the future);
-- every model switch on and off, several loyalty and level settings, age
-- bands, both RFM bases, no breakpoints, a churn model set and unset;
-- clocks on DST transitions in several time zones, the session's time zone
-- too; the batch NULL, empty, one customer, with duplicates and unknown ids,
-- and larger than a chunk (the cursor).
DROP EXTENSION tagscrm CASCADE;
DROP SCHEMA tagscrm;
CREATE EXTENSION tagscrm;
SET client_min_messages = warning;
\set VERBOSITY default
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET jit = off;   -- the oracle is called directly, many times: JIT compiling it would dominate
SET tagscrm.clock_override = '2026-06-01 12:00:00+00';

CREATE SCHEMA oracle;
CREATE FUNCTION oracle.model_values(customers text[])
RETURNS TABLE (customer_id text, model text, value text, changes_at timestamptz)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
BEGIN
RETURN QUERY
WITH s AS (SELECT * FROM tagscrm.settings),
bp AS (SELECT r.breakpoints AS bp FROM tagscrm.rfm_state r),
f AS (
	SELECT f.*, tagscrm.now() AS at,
	       -- status counts orders, and events only of the kinds settings name
	       GREATEST(f.last_order_at, k.status_event_at) AS last_active_at,
	       (SELECT count(*) FROM tagscrm.customer_day d WHERE d.customer_id = f.customer_id) AS active_days,
	       COALESCE(k.reviews, 0) AS reviews, COALESCE(k.intents, 0) AS intents
	  -- two branches, not "customers IS NULL OR ... = ANY (customers)": the OR
	  -- would scan every fact row and search the array linearly for each one
	  FROM (SELECT * FROM tagscrm.customer_fact f WHERE customers IS NULL
	        UNION ALL
	        SELECT * FROM tagscrm.customer_fact f WHERE f.customer_id = ANY (customers)) f
	  CROSS JOIN s
	  -- reviews, intents and status events in one probe of the customer's event kinds
	  CROSS JOIN LATERAL (SELECT max(e.events) FILTER (WHERE e.kind = s.review_kind) AS reviews,
	                             max(e.events) FILTER (WHERE e.kind = s.intent_kind) AS intents,
	                             max(e.last_at) FILTER (WHERE e.kind = ANY (s.status_event_kinds)) AS status_event_at
	                        FROM tagscrm.customer_event_fact e WHERE e.customer_id = f.customer_id) k)
-- RFM segment: only recency moves with time; R is high while recency < basis
SELECT f.customer_id, 'rfm',
       (tagscrm.rfm_classify(tagscrm.days_between(f.last_order_at, f.at), f.order_count,
                                 f.order_total::float8, bp.bp, s.rfm_basis)).segment,
       CASE WHEN tagscrm.days_between(f.last_order_at, f.at) < b.basis
            THEN f.last_order_at + make_interval(secs => 86400 * ceil(b.basis)) END
  FROM f, s, bp,
       LATERAL (SELECT CASE s.rfm_basis WHEN 'mean' THEN (bp.bp).r_mean ELSE (bp.bp).r_median END AS basis) b
 WHERE f.order_count > 0 AND f.last_order_at IS NOT NULL AND bp.bp IS NOT NULL
UNION ALL
SELECT f.customer_id, 'lifecycle',
       CASE WHEN f.order_count = 0 THEN 'new' WHEN f.order_count = 1 THEN 'first_purchase'
            WHEN f.order_count < s.super_orders THEN 'repeat' ELSE 'super' END, NULL
  FROM f, s WHERE s.ecommerce_ladder
UNION ALL
SELECT f.customer_id, 'sales_stage',
       CASE WHEN f.order_count >= s.super_orders THEN 'super' WHEN f.order_count >= 2 THEN 'repeat'
            WHEN f.order_count = 1 THEN 'first_order' WHEN f.intents >= s.intent_events THEN 'intent'
            WHEN f.event_count > 0 THEN 'potential' ELSE 'stranger' END, NULL
  FROM f, s WHERE s.high_ticket_ladder
UNION ALL
SELECT f.customer_id, 'status',
       CASE WHEN d < s.active_days THEN 'active' WHEN d < s.lost_days THEN 'silent' ELSE 'lost' END,
       CASE WHEN d < s.active_days THEN f.last_active_at + make_interval(secs => 86400 * s.active_days)
            WHEN d < s.lost_days THEN f.last_active_at + make_interval(secs => 86400 * s.lost_days) END
  FROM f, s, LATERAL (SELECT tagscrm.days_between(f.last_active_at, f.at) AS d) x
 WHERE f.last_active_at IS NOT NULL
UNION ALL
SELECT f.customer_id, 'level',
       (1 + (SELECT count(*) FROM unnest(s.level_thresholds) t WHERE t <= p.points))::text,
       CASE WHEN p.recent THEN f.last_order_at + make_interval(secs => 86400 * s.level_recent_days) END
  FROM f, s,
       LATERAL (SELECT f.last_order_at IS NOT NULL
                       AND tagscrm.days_between(f.last_order_at, f.at) < s.level_recent_days AS recent) r,
       LATERAL (SELECT r.recent,
                       s.level_per_order * f.order_count + s.level_per_amount * f.order_total::float8
                       + s.level_per_active_day * f.active_days + s.level_per_review * f.reviews
                       + CASE WHEN r.recent THEN s.level_recent_bonus ELSE 0 END AS points) p
 WHERE f.order_count > 0 OR f.event_count > 0
UNION ALL
-- churn risk: P(alive) falls as time passes without orders; the class
-- changes when 1 - P(alive) reaches the next threshold (churn_predict.c)
SELECT c.customer_id, 'churn_risk', c.risk, c.risk_changes_at
  FROM tagscrm.churn_predict(customers, NULL, NULL) c
 -- a one-time test: without a model, churn_predict is not called at all
 WHERE (SELECT x.churn_model FROM tagscrm.settings x) IS NOT NULL AND c.risk IS NOT NULL
UNION ALL
-- loyalty (our reading of seed 004, docs/models.md): periods are blocks of
-- t = loyalty_cycle_days local days counted from Monday 2000-01-03, the
-- window is the current period and the n - 1 before it, and L = (periods of
-- the window with a counted day) / n.  Time alone moves it only at a period
-- boundary, when a counted period leaves the window or a future-dated one
-- enters it: changes_at is the first such boundary whose band differs.
SELECT f.customer_id, 'loyalty', v.value, v.changes_at
  FROM f, s,
       LATERAL (SELECT floor(((f.at AT TIME ZONE s.time_zone)::date - date '2000-01-03')::float8
                             / s.loyalty_cycle_days)::integer AS p) cur,
       -- the counted periods from the window's start on (future-dated days included)
       LATERAL (SELECT array_agg(DISTINCT floor((d.day - date '2000-01-03')::float8 / s.loyalty_cycle_days)::integer) AS ks
                  FROM tagscrm.customer_day d
                 WHERE d.customer_id = f.customer_id
                   AND d.day >= date '2000-01-03' + (cur.p - s.loyalty_periods + 1) * s.loyalty_cycle_days
                   AND (d.orders > 0 OR s.loyalty_basis = 'active')) w,
       -- a counted day before the window: L = 0 then means lapsed, not never
       LATERAL (SELECT EXISTS (SELECT FROM tagscrm.customer_day d
                                WHERE d.customer_id = f.customer_id
                                  AND d.day < date '2000-01-03' + (cur.p - s.loyalty_periods + 1) * s.loyalty_cycle_days
                                  AND (d.orders > 0 OR s.loyalty_basis = 'active')) AS before) b,
       -- the band at the current period q = p and at every later period where
       -- the count can change: k + n (k leaves the window), k > p (k enters)
       LATERAL (
		SELECT c.value,
		       (date '2000-01-03' + min(c.q) FILTER (WHERE c.band IS DISTINCT FROM c.value) * s.loyalty_cycle_days)::timestamp
		           AT TIME ZONE s.time_zone AS changes_at
		  FROM (SELECT q.q, bd.band, first_value(bd.band) OVER (ORDER BY q.q) AS value
		          FROM (SELECT cur.p AS q UNION SELECT k + s.loyalty_periods FROM unnest(w.ks) k
		                UNION SELECT k FROM unnest(w.ks) k WHERE k > cur.p) q,
		               LATERAL (SELECT count(*) FILTER (WHERE k BETWEEN q.q - s.loyalty_periods + 1 AND q.q) AS c,
		                               b.before OR COALESCE(bool_or(k <= q.q - s.loyalty_periods), false) AS lapsed
		                          FROM unnest(w.ks) k) n,
		               LATERAL (SELECT CASE WHEN n.c = 0 THEN CASE WHEN n.lapsed THEN 'lapsed' END
		                                    WHEN n.c::float8 / s.loyalty_periods >= s.loyalty_bands[2] THEN 'loyal'
		                                    WHEN n.c::float8 / s.loyalty_periods >= s.loyalty_bands[1] THEN 'regular'
		                                    ELSE 'occasional' END AS band) bd) c
		 GROUP BY c.value) v
 WHERE s.loyalty_model AND (w.ks IS NOT NULL OR b.before)
UNION ALL
SELECT f.customer_id, 'attr:' || a.key, a.value, NULL
  FROM f, jsonb_each_text(f.attributes) a
 WHERE a.value IS NOT NULL AND btrim(a.value) <> ''
UNION ALL
SELECT f.customer_id, 'age_band', tagscrm.age_band(x.age, s.age_bands),
       -- the next birthday on which the age reaches the next band boundary
       (SELECT (f.birth_date + make_interval(years => b)) AT TIME ZONE s.time_zone
          FROM unnest(s.age_bands) b WHERE b > x.age ORDER BY b LIMIT 1)
  FROM f, s, LATERAL (SELECT date_part('year', age((f.at AT TIME ZONE s.time_zone)::date, f.birth_date))::integer AS age) x
 WHERE f.birth_date IS NOT NULL AND f.birth_date <= (f.at AT TIME ZONE s.time_zone)::date;
END
$$;

-- The batches every scenario is checked with: everyone, none, one customer,
-- a sample with duplicates and ids without facts, and all (a cursor).
CREATE FUNCTION oracle.batches() RETURNS TABLE (batch text, customers text[]) LANGUAGE sql AS $$
	VALUES ('everyone', NULL::text[]), ('empty', '{}'), ('one', ARRAY['r7']),
	       ('sample', ARRAY(SELECT f.customer_id FROM tagscrm.customer_fact f WHERE f.customer_id LIKE '%3%' ORDER BY 1)
	                  || ARRAY['r13', 'r13', 'w2', 'no such', NULL, '']),
	       ('all', ARRAY(SELECT f.customer_id FROM tagscrm.customer_fact f ORDER BY 1) || ARRAY['r1', 'nobody'])
$$;
-- rows of the oracle, the models among them, and the rows only C gives
-- (extra) or only the oracle gives (missing), for each batch
CREATE FUNCTION oracle.check() RETURNS TABLE (batch text, rows bigint, models bigint, extra bigint, missing bigint)
LANGUAGE plpgsql AS $$
DECLARE
	b record;
BEGIN
	FOR b IN SELECT * FROM oracle.batches() LOOP
		CREATE TEMP TABLE have AS SELECT * FROM tagscrm.model_values(b.customers);
		CREATE TEMP TABLE want AS SELECT * FROM oracle.model_values(b.customers);
		batch := b.batch;
		SELECT count(*), count(DISTINCT w.model) INTO rows, models FROM want w;
		SELECT count(*) INTO extra FROM (SELECT * FROM have EXCEPT ALL SELECT * FROM want) x;
		SELECT count(*) INTO missing FROM (SELECT * FROM want EXCEPT ALL SELECT * FROM have) x;
		DROP TABLE have, want;
		RETURN NEXT;
	END LOOP;
END
$$;
-- the same, one line per scenario: the batches' rows and models, and "ok"
-- when no batch differs, else each batch's extra and missing rows
CREATE FUNCTION oracle.compare(scenario text) RETURNS text LANGUAGE sql AS $$
	SELECT format('%s: %s', scenario,
	              CASE WHEN bool_and(c.extra = 0 AND c.missing = 0)
	                   THEN format('ok, rows %s, models %s', string_agg(c.rows::text, '/' ORDER BY c.batch),
	                               max(c.models))
	                   ELSE string_agg(format('%s: %s extra, %s missing', c.batch, c.extra, c.missing), '; ') END)
	  FROM oracle.check() c
$$;

-- ---------------------------------------------------------------------------
-- Facts from watched tables: orders, events of several kinds, customers with
-- attributes and birth dates.
-- ---------------------------------------------------------------------------
CREATE TABLE mv_orders (id bigserial PRIMARY KEY, customer text, paid_at timestamptz, amount numeric(14,2));
CREATE TABLE mv_events (id bigserial PRIMARY KEY, uid text, at timestamptz, kind text);
CREATE TABLE mv_people (id text PRIMARY KEY, city text, gender text, born date);
SELECT tagscrm.watch_orders('mv_orders', customer => 'customer', at => 'paid_at', amount => 'amount');
SELECT tagscrm.watch_events('mv_events', customer => 'uid', at => 'at', kind => 'kind');
SELECT tagscrm.watch_customers('mv_people', customer => 'id', attributes => ARRAY['city', 'gender'], birth_date => 'born');
SELECT setseed(0.42);
INSERT INTO mv_orders (customer, paid_at, amount)
SELECT 'w' || (1 + floor(random() * 60)), '2026-06-01 12:00+00'::timestamptz - random() * interval '700 days',
       round((random() * 500)::numeric, 2)
  FROM generate_series(1, 400);
INSERT INTO mv_orders (customer, paid_at, amount)
SELECT 'w' || (1 + floor(random() * 60)), '2026-06-01 12:00+00'::timestamptz + random() * interval '90 days', 25
  FROM generate_series(1, 15);
INSERT INTO mv_events (uid, at, kind)
SELECT 'w' || (1 + floor(random() * 80)), '2026-06-01 12:00+00'::timestamptz - random() * interval '400 days',
       (ARRAY['review', 'consult', 'login', 'view'])[1 + floor(random() * 4)]
  FROM generate_series(1, 500);
INSERT INTO mv_people (id, city, gender, born)
SELECT 'w' || i, (ARRAY['Beijing', 'Shanghai', ' ', NULL])[1 + i % 4], (ARRAY['male', 'female', ''])[1 + i % 3],
       CASE WHEN i % 7 = 0 THEN NULL WHEN i % 11 = 0 THEN date '2008-02-29'
            ELSE date '1940-01-01' + (random() * 30000)::int END
  FROM generate_series(1, 90) i;
SELECT count(*) AS customers, count(*) FILTER (WHERE order_count > 0) AS buyers FROM tagscrm.customer_fact;
SELECT oracle.compare('watched, defaults');

-- ---------------------------------------------------------------------------
-- Random facts written directly (as the superuser): combinations the
-- watched tables rarely make.
-- ---------------------------------------------------------------------------
INSERT INTO tagscrm.customer_fact (customer_id, first_order_at, last_order_at, order_count, order_total,
                                   first_event_at, last_event_at, event_count, in_customers, attributes, birth_date)
SELECT 'r' || i, l.at - interval '400 days', l.at,
       CASE WHEN i % 13 = 0 THEN 1000000 + i WHEN i % 5 = 0 THEN 0 ELSE floor(random() * 12) END,
       CASE WHEN i % 17 = 0 THEN 1e15 + i WHEN i % 19 = 0 THEN 123456789012345678.99 WHEN i % 23 = 0 THEN -50
            ELSE round((random() * 5000)::numeric, 2) END,
       NULL, NULL, CASE WHEN i % 3 = 0 THEN 0 ELSE floor(random() * 40) END, i % 2 = 0,
       CASE i % 6 WHEN 0 THEN NULL
                  WHEN 1 THEN jsonb_build_object('city', (ARRAY['Beijing', 'Hangzhou', '  '])[1 + i % 3], 'gender', 'male')
                  WHEN 2 THEN '{"city": null, "vip": true, "score": 12.50, "tags": ["a", "b"], "nested": {"k": 1}}'
                  WHEN 3 THEN '{}'
                  WHEN 4 THEN jsonb_build_object('city', 'Shanghai', 'note', '')
                  ELSE jsonb_build_object('level', i % 4) END,
       CASE WHEN i % 9 = 0 THEN NULL WHEN i % 29 = 0 THEN date '2008-02-29' WHEN i % 31 = 0 THEN date '2000-02-29'
            WHEN i % 37 = 0 THEN date '2027-03-01' WHEN i % 41 = 0 THEN date '2026-06-01'
            ELSE date '1930-01-01' + (random() * 35000)::int END
  FROM generate_series(1, 2500) i,
       LATERAL (SELECT CASE WHEN i % 11 = 0 THEN NULL
                            WHEN i % 43 = 0 THEN '1999-12-31 23:00+00'::timestamptz - random() * interval '4000 days'
                            WHEN i % 47 = 0 THEN '2026-06-01 12:00+00'::timestamptz + random() * interval '200 days'
                            ELSE '2026-06-01 12:00+00'::timestamptz - random() * interval '1000 days' END AS at) l;
UPDATE tagscrm.customer_fact SET first_event_at = last_order_at, last_event_at = last_order_at WHERE event_count > 0;
-- events of every kind: reviews, intents, status kinds, others
INSERT INTO tagscrm.customer_event_fact (customer_id, kind, events, first_at, last_at)
SELECT DISTINCT ON (1, 2) 'r' || (1 + floor(random() * 2600)), (ARRAY['review', 'consult', 'login', 'visit', 'view', 'inquiry'])[1 + floor(random() * 6)],
       1 + floor(random() * 9), NULL,
       CASE WHEN random() < 0.1 THEN NULL ELSE '2026-06-01 12:00+00'::timestamptz - random() * interval '500 days' END
  FROM generate_series(1, 5000);
-- days: near the clock, far in the past, in the future; some customers have none
INSERT INTO tagscrm.customer_day (customer_id, day, orders, events, amount)
SELECT c, d, max(o), max(e), 10
  FROM (SELECT 'r' || (1 + floor(random() * 2400)) AS c,
               CASE WHEN random() < 0.05 THEN date '1985-01-01' + (random() * 3000)::int
                    WHEN random() < 0.05 THEN date '2026-06-01' + (random() * 2000)::int
                    ELSE date '2026-06-01' - (random() * 800)::int END AS d,
               CASE WHEN random() < 0.7 THEN 1 ELSE 0 END AS o, 1 AS e
          FROM generate_series(1, 20000)) x
 GROUP BY c, d;
SELECT count(*) AS customers, count(*) FILTER (WHERE NOT EXISTS (SELECT FROM tagscrm.customer_day d WHERE d.customer_id = f.customer_id)) AS without_days
  FROM tagscrm.customer_fact f;
SELECT oracle.compare('no breakpoints');
SELECT tagscrm.compute_breakpoints() IS NOT NULL AS breakpoints;
SELECT oracle.compare('defaults');
UPDATE tagscrm.settings SET rfm_basis = 'median';
SELECT oracle.compare('rfm median');
UPDATE tagscrm.settings SET rfm_basis = 'mean';

-- ---------------------------------------------------------------------------
-- The model switches and settings
-- ---------------------------------------------------------------------------
UPDATE tagscrm.settings SET ecommerce_ladder = false, high_ticket_ladder = true, loyalty_model = false;
SELECT oracle.compare('sales ladder, no lifecycle, no loyalty');
UPDATE tagscrm.settings SET ecommerce_ladder = true, high_ticket_ladder = true, loyalty_model = true,
       status_event_kinds = '{login,visit}', super_orders = 3, intent_events = 1, intent_kind = 'inquiry',
       review_kind = 'view';
SELECT oracle.compare('both ladders, status events, other kinds');
UPDATE tagscrm.settings SET loyalty_basis = 'active', loyalty_cycle_days = 7, loyalty_periods = 10,
       loyalty_bands = ARRAY[0.2, 0.5]::float8[];
SELECT oracle.compare('loyalty active, weeks, 10 periods');
UPDATE tagscrm.settings SET loyalty_basis = 'orders', loyalty_cycle_days = 1, loyalty_periods = 1000,
       loyalty_bands = ARRAY[0.001, 1]::float8[];
SELECT oracle.compare('loyalty daily, 1000 periods');
UPDATE tagscrm.settings SET loyalty_cycle_days = 3660, loyalty_periods = 1, loyalty_bands = ARRAY[0.5, 1]::float8[];
SELECT oracle.compare('loyalty one period of 3660 days');
UPDATE tagscrm.settings SET loyalty_cycle_days = 30, loyalty_periods = 6, loyalty_basis = 'active',
       loyalty_bands = ARRAY[1::float8 / 3, 2::float8 / 3];
UPDATE tagscrm.settings SET active_days = 7, lost_days = 20000, level_recent_days = 3650,
       level_per_order = 0.5, level_per_amount = 0, level_per_active_day = 3.25, level_per_review = 100,
       level_recent_bonus = 1e6, level_thresholds = '{0,1e3,1e6,1e300}',
       age_bands = '{0}';
SELECT oracle.compare('level, status and age band settings');
UPDATE tagscrm.settings SET age_bands = '{1,2,3,5,8,13,21,34,55,89,144,233}', level_thresholds = '{-1,0,0.5,2}';
SELECT oracle.compare('twelve age bands');
UPDATE tagscrm.settings SET active_days = 30, lost_days = 90, level_recent_days = 90, level_per_order = 10,
       level_per_amount = 0.01, level_per_active_day = 1, level_per_review = 5, level_recent_bonus = 20,
       level_thresholds = '{50,150,400,1000}', age_bands = '{18,25,35,45,55,65}';

-- a churn model (BG/NBD figures of the heavy-tailed model in churn_tags)
INSERT INTO tagscrm.churn_model (name, r, alpha, a, b, bgnbd_log_likelihood, bgnbd_customers, p, q, gamma,
       gg_log_likelihood, gg_customers, time_unit, calibration_end, source_table, customer_column, at_column,
       amount_column, source, fitted_at, fitted_by)
VALUES ('mv', 0.24, 4.41, 0.79, 2.43, -9582.4, 2357, 6.25, 0.63, 15.44, -3000, 946, '7 days',
        '2026-06-01', 'mv_orders', 'customer', 'paid_at', 'amount', 'test', tagscrm.now(), current_user);
UPDATE tagscrm.settings SET churn_model = 'mv', churn_high = 0.5, churn_medium = 0.2;
SELECT oracle.compare('churn model');
SELECT count(*) FILTER (WHERE model = 'churn_risk') > 100 AS churn_rows FROM tagscrm.model_values(NULL);

-- ---------------------------------------------------------------------------
-- Clocks and time zones: DST transitions (New York, Chatham, whose offset
-- moves by 45 minutes), a zone without DST, Feb 29 birthdays, the session's
-- own time zone
-- ---------------------------------------------------------------------------
UPDATE tagscrm.settings SET time_zone = 'Asia/Shanghai';
SET tagscrm.clock_override = '2026-02-28 16:30:00+00';   -- 2026-03-01 00:30 in Shanghai
SELECT oracle.compare('Shanghai, just after local midnight of Mar 1');
UPDATE tagscrm.settings SET time_zone = 'America/New_York';
SET tagscrm.clock_override = '2026-03-08 06:59:59+00';   -- a second before the spring DST gap
SELECT oracle.compare('New York before the spring gap');
SET tagscrm.clock_override = '2026-03-08 07:00:00+00';
SELECT oracle.compare('New York after the spring gap');
SET TimeZone = 'America/New_York';
SET tagscrm.clock_override = '2026-11-01 05:30:00+00';   -- inside the autumn fold
SELECT oracle.compare('New York in the autumn fold, session in New York');
UPDATE tagscrm.settings SET time_zone = 'Pacific/Chatham', loyalty_cycle_days = 1, loyalty_periods = 3;
SET TimeZone = 'Pacific/Chatham';
SET tagscrm.clock_override = '2026-04-04 13:59:00+00';   -- Chatham leaves DST at 03:45 local on Apr 5
SELECT oracle.compare('Chatham before the autumn change, daily loyalty');
SET tagscrm.clock_override = '2026-09-26 14:00:00+00';   -- Chatham enters DST at 02:45 local on Sep 27
SELECT oracle.compare('Chatham on the spring change');
SET TimeZone = 'Asia/Shanghai';
UPDATE tagscrm.settings SET time_zone = 'UTC', loyalty_cycle_days = 30, loyalty_periods = 6;
SET tagscrm.clock_override = '2028-02-29 00:00:00+00';   -- leap day: Feb 29 birthdays
SELECT oracle.compare('leap day 2028, session in Shanghai');
SET tagscrm.clock_override = '2027-02-28 23:59:59+00';
SELECT oracle.compare('Feb 28 2027, a second before Mar 1');
SET tagscrm.clock_override = '1999-06-01 00:00:00+00';   -- before the periods' Monday, before most facts
SELECT oracle.compare('1999');
SET tagscrm.clock_override = '2040-01-01 00:00:00+00';   -- long after every order
SELECT oracle.compare('2040');
SET TimeZone = 'UTC';
SET tagscrm.clock_override = '2026-06-01 12:00:00+00';

-- everything off but the attributes and the age bands
UPDATE tagscrm.settings SET churn_model = NULL, ecommerce_ladder = false, high_ticket_ladder = false,
       loyalty_model = false;
UPDATE tagscrm.rfm_state SET breakpoints = NULL;
SELECT oracle.compare('models off');

-- no settings row: no model says anything
BEGIN;
DELETE FROM tagscrm.settings;
SELECT count(*) AS rows_without_settings FROM tagscrm.model_values(NULL);
SELECT oracle.compare('no settings');
ROLLBACK;

-- the plans kept by the backend follow a recreated extension
DROP EXTENSION tagscrm CASCADE;
DROP SCHEMA tagscrm;
DROP TABLE mv_orders, mv_events, mv_people;
CREATE EXTENSION tagscrm;
SELECT count(*) AS rows_after_recreate FROM tagscrm.model_values(NULL);
SELECT count(*) AS rows_for_nobody FROM tagscrm.model_values(ARRAY['x']);
DROP SCHEMA oracle CASCADE;
RESET tagscrm.clock_override;
