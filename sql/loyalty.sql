-- The loyalty model (issue 13; our reading of seed 004, docs/models.md):
-- periods of t = loyalty_cycle_days local days counted from Monday
-- 2000-01-03, the window is the current period and the n - 1 before it
-- (n = loyalty_periods), s_i = purchase days (or active days) in period i,
-- L = (periods of the window with s_i >= 1) / n, banded loyal (L >= 2/3),
-- regular (1/3 <= L < 2/3), occasional (0 < L < 1/3), lapsed (L = 0 with a
-- counted day before the window), no tag without any.
--
-- A hand-worked example, the boundaries (a period's first and last day and
-- instant, the time zone, future-dated orders, basis orders vs active), time
-- moving, bad settings, and a randomized check against an oracle that works
-- from the base tables alone (period bounds as instants, no customer_day).
DROP EXTENSION tagscrm CASCADE;
DROP SCHEMA tagscrm;
CREATE EXTENSION tagscrm;
SET client_min_messages = warning;
\set VERBOSITY default
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET jit = off;   -- the oracle and model_values(NULL) below are called directly: JIT compiling them would dominate
SET tagscrm.clock_override = '2026-06-01 12:00:00+00';

CREATE TABLE l_orders (id bigserial PRIMARY KEY, customer text, paid_at timestamptz, amount numeric(12,2));
CREATE INDEX ON l_orders (customer, paid_at);
CREATE TABLE l_events (id bigserial PRIMARY KEY, uid text, at timestamptz, kind text);
CREATE INDEX ON l_events (uid, at);

-- ---------------------------------------------------------------------------
-- The hand-worked example, t = 30, n = 6, UTC, at 2026-06-01 12:00.
-- 2026-06-01 is day 9646 after 2000-01-03: period floor(9646 / 30) = 321,
-- which runs from day 9630 (2026-05-16) to day 9659 (2026-06-14).  The window
-- is periods 316 .. 321: 2025-12-17 .. 2026-06-14.  Period starts:
--   315 2025-11-17   316 2025-12-17   317 2026-01-16   318 2026-02-15
--   319 2026-03-17   320 2026-04-16   321 2026-05-16   322 2026-06-15
--   323 2026-07-15   327 2026-11-12
-- ann: 2025-12-17 (316, the window's first day), 2026-01-20 (317),
--      2026-02-20 (318), 2026-03-20 (319), 2026-06-14 23:59:59 (321, the last
--      second of the current period): L = 5/6, loyal.  On 2026-06-15 period
--      316 leaves: 4/6 = 2/3 exactly, still loyal; on 2026-07-15 317 leaves:
--      3/6, regular.  changes_at 2026-07-15 00:00.
-- bob: 2026-01-16 (317, first day), 2026-04-16 and 2026-05-15 (both 320, its
--      first and last day; one period however many days): L = 2/6 = 1/3
--      exactly, regular.  On 2026-07-15 317 leaves: 1/6, occasional.
-- cy:  2025-12-16 23:30 (315, half an hour before the window): L = 0 with an
--      order before the window, lapsed, for good (changes_at NULL).
-- dee: 2026-05-16 00:00:00 (321, its first instant): 1/6, occasional, until
--      period 321 leaves on 2026-11-12 (327): lapsed.
-- eve: events only (2026-04-01 in 319, 2026-05-20 in 321): no order, no tag;
--      with basis 'active' 2/6, regular.
-- gus: one order dated 2026-07-01 (322, the next period): no tag yet; on
--      2026-06-15 it enters the window: 1/6, occasional.
-- ---------------------------------------------------------------------------
INSERT INTO l_orders (customer, paid_at, amount) VALUES
	('ann', '2025-12-17 00:00+00', 10), ('ann', '2026-01-20 10:00+00', 10), ('ann', '2026-02-20 10:00+00', 10),
	('ann', '2026-03-20 10:00+00', 10), ('ann', '2026-06-14 23:59:59+00', 10),
	('bob', '2026-01-16 08:00+00', 20), ('bob', '2026-04-16 08:00+00', 20), ('bob', '2026-05-15 22:00+00', 20),
	('cy', '2025-12-16 23:30+00', 30),
	('dee', '2026-05-16 00:00:00+00', 40),
	('gus', '2026-07-01 09:00+00', 50);
INSERT INTO l_events (uid, at, kind) VALUES ('eve', '2026-04-01 10:00+00', 'view'), ('eve', '2026-05-20 10:00+00', 'view');
SELECT tagscrm.watch_orders('l_orders', customer => 'customer', at => 'paid_at', amount => 'amount');
SELECT tagscrm.watch_events('l_events', customer => 'uid', at => 'at', kind => 'kind');

-- the group and its tags
SELECT model, group_name, tag, value FROM tagscrm.model_groups WHERE model = 'loyalty' ORDER BY tag;
-- the defaults: t, n, basis, and the bands 1/3 and 2/3 as the float8 divisions
SELECT loyalty_model, loyalty_cycle_days, loyalty_periods, loyalty_basis,
       loyalty_bands = ARRAY[1::float8 / 3, 2::float8 / 3] AS bands_are_thirds,
       loyalty_bands = ARRAY[1/3.0, 2/3.0]::float8[] AS as_numeric_too
  FROM tagscrm.settings;

-- what the model says, and when time alone changes it
CREATE VIEW hand AS
	SELECT c.customer_id, v.value, v.changes_at, o.loyalty AS overview
	  FROM (VALUES ('ann'), ('bob'), ('cy'), ('dee'), ('eve'), ('gus')) c(customer_id)
	  LEFT JOIN tagscrm.model_values(ARRAY['ann', 'bob', 'cy', 'dee', 'eve', 'gus']) v
	         ON v.customer_id = c.customer_id AND v.model = 'loyalty'
	  LEFT JOIN tagscrm.customer_overview o ON o.customer_id = c.customer_id
	 ORDER BY 1;
SELECT * FROM hand;

-- ---------------------------------------------------------------------------
-- Time moving: the last second of period 321, the first of 322 (316 leaves:
-- ann 4/6 still loyal, gus's order enters), the last of 322, the first of
-- 323 (317 leaves: ann regular, bob occasional), then 327 (dee lapsed).
-- ---------------------------------------------------------------------------
SET tagscrm.clock_override = '2026-06-14 23:59:59+00';
SELECT tagscrm.sweep() >= 0 AS swept;
SELECT customer_id, value, changes_at FROM hand;
SET tagscrm.clock_override = '2026-06-15 00:00:00+00';
SELECT tagscrm.sweep() > 0 AS swept;   -- gus is due (and others, for other models)
SELECT customer_id, value, changes_at FROM hand;
SET tagscrm.clock_override = '2026-07-14 23:59:59.999999+00';
SELECT tagscrm.sweep() >= 0 AS swept;
SELECT customer_id, value, changes_at FROM hand;
SET tagscrm.clock_override = '2026-07-15 00:00:00+00';
SELECT tagscrm.sweep() > 0 AS swept;   -- ann and bob
SELECT customer_id, value, changes_at FROM hand;
SET tagscrm.clock_override = '2026-11-12 00:00:00+00';
SELECT tagscrm.sweep() > 0 AS swept;
SELECT customer_id, value, changes_at FROM hand;
-- the tags are what the model says (the sweep kept them), with history
SELECT customer_id, tag FROM tagscrm.customer_tags WHERE group_name = 'loyalty' ORDER BY 1;
SELECT customer_id, changed_at, action, old ->> 'tag' AS old, new ->> 'tag' AS new
  FROM tagscrm.customer_tag_history h WHERE h.reason = 'model loyalty' ORDER BY changed_at, customer_id;

-- ---------------------------------------------------------------------------
-- Basis 'active': events count too (eve: 319 and 321 -> 2/6 regular), back
-- at 2026-06-01 12:00.
-- ---------------------------------------------------------------------------
SET tagscrm.clock_override = '2026-06-01 12:00:00+00';
UPDATE tagscrm.settings SET loyalty_basis = 'active';
SELECT tagscrm.refresh(all_models => true, quiet => true) > 0 AS refreshed;
SELECT customer_id, value, changes_at FROM hand;

-- ---------------------------------------------------------------------------
-- The time zone: in Asia/Shanghai (UTC+8) cy's order of 2025-12-16 23:30 UTC
-- is on the local 2025-12-17, the window's first day: 1/6, occasional, until
-- 2026-06-15 00:00 local = 2026-06-14 16:00 UTC.  ann's last order (the
-- local 2026-06-15 07:59:59) is in period 322 now, in the future: ann has
-- 316 .. 319 = 4/6, loyal; on the local 2026-06-15 322 comes as 316 goes
-- (4/6), and on the local 2026-07-15 317 leaves (3/6, regular).  bob's
-- order of 2026-05-15 22:00 UTC is on the local 2026-05-16, period 321:
-- 317, 320, 321 = 3/6 regular, 2/6 from 2026-07-15, 1/6 occasional from
-- the local 2026-10-13 (326).  Days are kept in the settings' time zone:
-- changing it needs a rebuild.
-- ---------------------------------------------------------------------------
UPDATE tagscrm.settings SET loyalty_basis = 'orders', time_zone = 'Asia/Shanghai';
SELECT tagscrm.refresh(rebuild => true, quiet => true) > 0 AS rebuilt;
SELECT customer_id, value, changes_at FROM hand;
SET tagscrm.clock_override = '2026-06-14 15:59:59+00';
SELECT tagscrm.sweep() >= 0 AS swept;
SELECT customer_id, value FROM hand WHERE customer_id = 'cy';
SET tagscrm.clock_override = '2026-06-14 16:00:00+00';
SELECT tagscrm.sweep() > 0 AS swept;
SELECT customer_id, value, changes_at FROM hand WHERE customer_id IN ('ann', 'cy');
UPDATE tagscrm.settings SET time_zone = 'UTC';

-- switched off: the tags go, and come back when switched on
SET tagscrm.clock_override = '2026-06-01 12:00:00+00';
UPDATE tagscrm.settings SET loyalty_model = false;
SELECT tagscrm.refresh(rebuild => true, quiet => true) > 0 AS rebuilt;
SELECT count(*) AS loyalty_tags FROM tagscrm.customer_tags WHERE group_name = 'loyalty';
UPDATE tagscrm.settings SET loyalty_model = true;
SELECT tagscrm.refresh(all_models => true, quiet => true) > 0 AS refreshed;
SELECT customer_id, tag FROM tagscrm.customer_tags WHERE group_name = 'loyalty' ORDER BY 1;

-- bad settings are refused, naming the value
UPDATE tagscrm.settings SET loyalty_cycle_days = 0;
UPDATE tagscrm.settings SET loyalty_cycle_days = 3661;
UPDATE tagscrm.settings SET loyalty_periods = 0;
UPDATE tagscrm.settings SET loyalty_basis = 'visits';
UPDATE tagscrm.settings SET loyalty_bands = '{0.7,0.3}';
UPDATE tagscrm.settings SET loyalty_bands = '{0,0.5}';
UPDATE tagscrm.settings SET loyalty_bands = '{0.5,1.5}';
UPDATE tagscrm.settings SET loyalty_bands = '{0.5}';
UPDATE tagscrm.settings SET loyalty_bands = '{0.3,NULL}';
UPDATE tagscrm.settings SET loyalty_bands = '{{0.3,0.6}}';
UPDATE tagscrm.settings SET loyalty_bands = '{}';
UPDATE tagscrm.settings SET loyalty_bands = '{0.5,1}';   -- allowed: loyal only when every period has a purchase
UPDATE tagscrm.settings SET loyalty_bands = DEFAULT;

-- ---------------------------------------------------------------------------
-- The randomized check.  The oracle: for a period q, period i is the
-- instants [2000-01-03 + i t days, 2000-01-03 + (i + 1) t days) of local
-- time; a customer's band at q counts the i in q - n + 1 .. q with an order
-- (or event, basis 'active') in it, straight from the base tables, and
-- compares c / n with the thresholds given as exact fractions.  Its next
-- change is the first later period whose band differs.
-- ---------------------------------------------------------------------------
DROP VIEW hand;
TRUNCATE l_orders, l_events;
CREATE FUNCTION period_start(i bigint) RETURNS timestamptz LANGUAGE sql STABLE AS $$
	SELECT (timestamp '2000-01-03' + make_interval(days => (i * s.loyalty_cycle_days)::integer)) AT TIME ZONE s.time_zone
	  FROM tagscrm.settings s
$$;
CREATE FUNCTION period_of(at timestamptz) RETURNS bigint LANGUAGE sql STABLE AS $$
	SELECT floor(extract(epoch FROM (at AT TIME ZONE s.time_zone) - timestamp '2000-01-03') / 86400 / s.loyalty_cycle_days)::bigint
	  FROM tagscrm.settings s
$$;
CREATE FUNCTION counted() RETURNS TABLE (customer text, at timestamptz) LANGUAGE sql STABLE AS $$
	SELECT o.customer, o.paid_at FROM l_orders o WHERE o.customer IS NOT NULL AND o.paid_at IS NOT NULL
	UNION ALL
	SELECT e.uid, e.at FROM l_events e, tagscrm.settings s
	 WHERE s.loyalty_basis = 'active' AND e.uid IS NOT NULL AND e.at IS NOT NULL
$$;
-- The band of every customer at the current period and each later one up
-- to the last counted period plus n; bands: the least L of regular and of
-- loyal, as exact fractions lo_num / lo_den and hi_num / hi_den.  Its next
-- change: the first later period whose band differs.
CREATE FUNCTION expected(lo_num int, lo_den int, hi_num int, hi_den int)
RETURNS TABLE (customer text, band text, changes_at timestamptz) LANGUAGE sql STABLE AS $$
	WITH s AS (SELECT * FROM tagscrm.settings),
	x AS MATERIALIZED (SELECT * FROM counted()),
	p AS (SELECT period_of(tagscrm.now()) AS p, GREATEST(period_of(tagscrm.now()), (SELECT max(period_of(x.at)) FROM x)) AS last),
	bounds AS MATERIALIZED (
		SELECT i, period_start(i) AS lo, period_start(i + 1) AS hi
		  FROM p, s, generate_series(p.p - s.loyalty_periods + 1, p.last + s.loyalty_periods) i),
	hits AS MATERIALIZED (SELECT DISTINCT x.customer, b.i FROM x JOIN bounds b ON x.at >= b.lo AND x.at < b.hi),
	firsts AS (SELECT x.customer, min(x.at) AS first_at FROM x GROUP BY 1),
	bands AS MATERIALIZED (
		SELECT f.customer, q.q,
		       CASE WHEN c.inside = 0 THEN CASE WHEN b.before THEN 'lapsed' END
		            WHEN c.inside * hi_den >= hi_num * s.loyalty_periods THEN 'loyal'
		            WHEN c.inside * lo_den >= lo_num * s.loyalty_periods THEN 'regular'
		            ELSE 'occasional' END AS band
		  FROM firsts f, s, p, generate_series(p.p, p.last + s.loyalty_periods) q(q),
		       LATERAL (SELECT count(*) AS inside FROM hits h
		                 WHERE h.customer = f.customer AND h.i BETWEEN q.q - s.loyalty_periods + 1 AND q.q) c,
		       LATERAL (SELECT f.first_at < w.lo AS before FROM bounds w WHERE w.i = q.q - s.loyalty_periods + 1) b)
	SELECT nb.customer, nb.band,
	       period_start((SELECT min(l.q) FROM bands l WHERE l.customer = nb.customer AND l.q > nb.q
	                                                    AND l.band IS DISTINCT FROM nb.band))
	  FROM bands nb, p
	 WHERE nb.q = p.p
	   AND (nb.band IS NOT NULL OR EXISTS (SELECT FROM bands l WHERE l.customer = nb.customer AND l.band IS NOT NULL))
$$;
-- 'ok', or what differs: the tags against the oracle's bands, and the
-- model's changes_at against the oracle's next change
CREATE FUNCTION check_loyalty(lo_num int, lo_den int, hi_num int, hi_den int) RETURNS text LANGUAGE sql AS $$
	WITH e AS MATERIALIZED (SELECT * FROM expected(lo_num, lo_den, hi_num, hi_den)),
	have_tags AS (SELECT ct.customer_id, mt.value FROM tagscrm.customer_tag ct
	                JOIN tagscrm.model_tag mt ON mt.tag_id = ct.tag_id WHERE mt.model = 'loyalty'),
	want_tags AS (SELECT e.customer, e.band FROM e WHERE e.band IS NOT NULL),
	have_moments AS (SELECT v.customer_id, v.value, v.changes_at FROM tagscrm.model_values(NULL) v WHERE v.model = 'loyalty'),
	bad_tags AS (SELECT count(*) AS n FROM ((SELECT * FROM have_tags EXCEPT SELECT * FROM want_tags)
	                                        UNION ALL (SELECT * FROM want_tags EXCEPT SELECT * FROM have_tags)) x),
	bad_moments AS (SELECT count(*) AS n FROM ((SELECT * FROM have_moments EXCEPT SELECT * FROM e)
	                                           UNION ALL (SELECT * FROM e EXCEPT SELECT * FROM have_moments)) x),
	-- the sweep must come by the change: no customer's next_change_at is later
	late AS (SELECT count(*) AS n FROM e JOIN tagscrm.customer_fact f ON f.customer_id = e.customer
	          WHERE e.changes_at IS NOT NULL AND (f.next_change_at IS NULL OR f.next_change_at > e.changes_at))
	SELECT CASE WHEN t.n + m.n + l.n = 0 THEN 'ok'
	            ELSE format('%s tag rows, %s moment rows differ, %s customers due too late', t.n, m.n, l.n) END
	  FROM bad_tags t, bad_moments m, late l
$$;

-- 300 customers over 400 days back and 45 ahead, some orders on a period's
-- first or last day, events for some
SELECT setseed(0.13);
INSERT INTO l_orders (customer, paid_at, amount)
SELECT 'c' || (1 + floor(random() * 300)), '2026-06-01 12:00+00'::timestamptz - random() * interval '400 days', 10
  FROM generate_series(1, 1500);
INSERT INTO l_orders (customer, paid_at, amount)
SELECT 'c' || (1 + floor(random() * 300)), '2026-06-01 12:00+00'::timestamptz + random() * interval '45 days', 10
  FROM generate_series(1, 40);
INSERT INTO l_orders (customer, paid_at, amount)   -- first and last instants of periods 310 .. 322
SELECT 'c' || (1 + floor(random() * 300)),
       CASE WHEN random() < 0.5 THEN period_start(i) ELSE period_start(i + 1) - interval '1 microsecond' END, 10
  FROM generate_series(310, 322) i, generate_series(1, 8);
INSERT INTO l_events (uid, at, kind)
SELECT 'c' || (1 + floor(random() * 340)), '2026-06-01 12:00+00'::timestamptz - random() * interval '300 days', 'view'
  FROM generate_series(1, 1200);
SELECT count(DISTINCT customer) AS customers, count(*) AS orders FROM l_orders;
SELECT tag, count(*) FROM tagscrm.customer_tags WHERE group_name = 'loyalty' GROUP BY 1 ORDER BY 1;
SELECT check_loyalty(1, 3, 2, 3) AS after_inserts;

-- the clock across boundaries, swept each time (the first exactly on one)
SET tagscrm.clock_override = '2026-06-15 00:00:00+00';
SELECT tagscrm.sweep() > 0 AS swept;
SELECT check_loyalty(1, 3, 2, 3) AS at_boundary_322;
SET tagscrm.clock_override = '2026-07-20 09:00:00+00';
SELECT tagscrm.sweep() > 0 AS swept;
SELECT check_loyalty(1, 3, 2, 3) AS in_323;
-- updates and deletes (recomputes), new orders
UPDATE l_orders SET paid_at = paid_at - interval '20 days' WHERE id % 7 = 0;
UPDATE l_orders SET customer = 'c' || (1 + (id % 300)) WHERE id % 11 = 0;
DELETE FROM l_orders WHERE id % 5 = 0;
INSERT INTO l_orders (customer, paid_at, amount)
SELECT 'c' || (1 + floor(random() * 320)), '2026-07-20 09:00+00'::timestamptz - random() * interval '100 days', 5
  FROM generate_series(1, 200);
SELECT check_loyalty(1, 3, 2, 3) AS after_writes;
SET tagscrm.clock_override = '2026-10-01 00:00:00+00';
SELECT tagscrm.sweep() > 0 AS swept;
SELECT check_loyalty(1, 3, 2, 3) AS in_325;
SELECT tagscrm.refresh(rebuild => true, quiet => true) > 0 AS rebuilt;
SELECT check_loyalty(1, 3, 2, 3) AS after_rebuild;
SET tagscrm.clock_override = '2027-06-01 00:00:00+00';
SELECT tagscrm.sweep() > 0 AS swept;
SELECT check_loyalty(1, 3, 2, 3) AS a_year_on;
SELECT tag, count(*) FROM tagscrm.customer_tags WHERE group_name = 'loyalty' GROUP BY 1 ORDER BY 1;

-- other settings: weeks, 4 of them, basis active, bands 1/2 and 3/4,
-- Shanghai; back in July (a rebuild re-evaluates everyone at any time)
SET tagscrm.clock_override = '2026-07-20 09:00:00+00';
INSERT INTO l_events (uid, at, kind)   -- busy weeks for 60 of them
SELECT 'c' || (1 + floor(random() * 60)), '2026-07-20 09:00+00'::timestamptz - random() * interval '28 days', 'visit'
  FROM generate_series(1, 400);
UPDATE tagscrm.settings SET loyalty_cycle_days = 7, loyalty_periods = 4, loyalty_basis = 'active',
                            loyalty_bands = '{0.5,0.75}', time_zone = 'Asia/Shanghai';
SELECT tagscrm.refresh(rebuild => true, quiet => true) > 0 AS rebuilt;
SELECT check_loyalty(1, 2, 3, 4) AS weeks_active_shanghai;
SELECT tag, count(*) FROM tagscrm.customer_tags WHERE group_name = 'loyalty' GROUP BY 1 ORDER BY 1;
SET tagscrm.clock_override = '2026-08-02 16:00:00+00';   -- 2026-08-03 00:00 local: a Monday, a week boundary
SELECT tagscrm.sweep() > 0 AS swept;
SELECT check_loyalty(1, 2, 3, 4) AS at_week_boundary;
SET tagscrm.clock_override = '2026-09-10 00:00:00+00';
SELECT tagscrm.sweep() > 0 AS swept;
SELECT check_loyalty(1, 2, 3, 4) AS weeks_later;
DELETE FROM l_events WHERE id % 3 = 0;
UPDATE l_events SET at = at + interval '3 days' WHERE id % 4 = 0;
INSERT INTO l_events (uid, at, kind)
SELECT 'c' || (1 + floor(random() * 340)), '2026-09-10 00:00+00'::timestamptz - random() * interval '60 days', 'view'
  FROM generate_series(1, 300);
SELECT check_loyalty(1, 2, 3, 4) AS after_event_writes;
SELECT tagscrm.refresh(rebuild => true, quiet => true) > 0 AS rebuilt;
SELECT check_loyalty(1, 2, 3, 4) AS after_rebuild;

DROP FUNCTION check_loyalty(int, int, int, int), expected(int, int, int, int),
	counted(), period_of(timestamptz), period_start(bigint);
DROP EXTENSION tagscrm CASCADE;
DROP SCHEMA tagscrm;
DROP TABLE l_orders, l_events;
CREATE EXTENSION tagscrm;
