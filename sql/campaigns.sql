-- Campaign effect: create_campaign (with its membership snapshot),
-- add_campaign_contacts, campaign_effect per segment, tag and all customers,
-- against the unreached members or a control group.  A hand-worked example
-- with the window's edges in settings.time_zone, then random data where every
-- cell equals plain SQL over the orders table and a snapshot of the tags the
-- test takes itself; bad input; each role.
DROP EXTENSION tagscrm CASCADE;
CREATE EXTENSION tagscrm;
\set VERBOSITY default
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO';
SET IntervalStyle = 'postgres';
DROP ROLE IF EXISTS regress_cp_op, regress_cp_reader;
CREATE ROLE regress_cp_op IN ROLE tagscrm_operator;
CREATE ROLE regress_cp_reader IN ROLE tagscrm_reader;
UPDATE tagscrm.settings SET time_zone = 'Asia/Shanghai';   -- days are Shanghai days (UTC+8)
SET tagscrm.clock_override = '2026-02-20 10:00+08';
SELECT tagscrm.create_tag_group('interest', 'interest') > 0 AS created;
SELECT tagscrm.create_tag('vip', 'interest') > 0 AS created, tagscrm.create_tag('newsletter', 'interest') > 0 AS created;
SELECT tagscrm.tag_customer(c, 'vip') FROM unnest(ARRAY['c1', 'c2', 'c5', 'c7']) c;
SELECT tagscrm.tag_customer(c, 'newsletter') FROM unnest(ARRAY['c1', 'c3', 'c4', 'c6']) c;
SELECT tagscrm.define_segment('vip readers', $$tag('vip') and tag('newsletter')$$);
SELECT tagscrm.define_segment('vip or reader', $$tag('vip') or tag('newsletter')$$);

-- the test's own snapshot, taken at registration
CREATE TEMP TABLE snap (campaign text, grouping text, name text, customer_id text);
CREATE FUNCTION pg_temp.snapshot(campaign text) RETURNS void LANGUAGE sql AS $$
	INSERT INTO snap
	SELECT campaign, 'tag', t.name, ct.customer_id
	  FROM tagscrm.customer_tag ct JOIN tagscrm.tag t USING (tag_id)
	UNION ALL
	SELECT campaign, 'all', 'all customers', c.customer_id FROM tagscrm.customer c;
	INSERT INTO snap
	SELECT campaign, 'segment', 'r one or two', customer_id FROM snap
	 WHERE snap.campaign = $1 AND grouping = 'tag' AND name IN ('r1', 'r2')
	UNION
	SELECT campaign, 'segment', 'r three not four', customer_id FROM snap s
	 WHERE s.campaign = $1 AND grouping = 'tag' AND name = 'r3'
	   AND NOT EXISTS (SELECT FROM snap x WHERE x.campaign = $1 AND x.grouping = 'tag' AND x.name = 'r4' AND x.customer_id = s.customer_id)
	UNION
	SELECT campaign, 'segment', 'r five and one', s.customer_id FROM snap s JOIN snap x USING (campaign, grouping, customer_id)
	 WHERE s.campaign = $1 AND s.grouping = 'tag' AND s.name = 'r5' AND x.name = 'r1'
	UNION   -- the segments made in the hand-worked example
	SELECT campaign, 'segment', 'vip readers', s.customer_id FROM snap s JOIN snap x USING (campaign, grouping, customer_id)
	 WHERE s.campaign = $1 AND s.grouping = 'tag' AND s.name = 'vip' AND x.name = 'newsletter'
	UNION
	SELECT campaign, 'segment', 'vip or reader', customer_id FROM snap
	 WHERE snap.campaign = $1 AND grouping = 'tag' AND name IN ('vip', 'newsletter');
$$;

-- no orders watched yet: nothing to measure against
SET ROLE regress_cp_op;
SELECT tagscrm.create_campaign('early', conversion_window => '7 days') > 0 AS created;
\set VERBOSITY sqlstate
SELECT * FROM tagscrm.campaign_effect('early');
\set VERBOSITY default
SELECT * FROM tagscrm.campaign_effect('early');
SELECT tagscrm.drop_campaign('early');
RESET ROLE;

CREATE TABLE orders (order_id serial PRIMARY KEY, customer_id text, paid_at timestamptz, amount numeric(10,2));
INSERT INTO orders (customer_id, paid_at, amount) VALUES ('c1', '2026-01-10 12:00+08', 50), ('c5', '2026-01-11 12:00+08', 40);
SELECT tagscrm.watch_orders('orders', customer => 'customer_id', at => 'paid_at', amount => 'amount');

-- 1 March 10:00 (Shanghai): the campaign "spring" starts at 09:00 with a
-- window of 7 days; the snapshot is taken now: vip = c1 c2 c5 c7,
-- newsletter = c1 c3 c4 c6, vip readers = c1, vip or reader = c1..c7
SET tagscrm.clock_override = '2026-03-01 10:00+08';
SET ROLE regress_cp_op;
SELECT tagscrm.create_campaign('spring', started_at => '2026-03-01 09:00+08', conversion_window => '7 days',
                               description => 'spring mailing') > 0 AS created;
RESET ROLE;
SELECT pg_temp.snapshot('spring');
SET ROLE regress_cp_op;
-- c1, c2, c3 and ghost (no customer of tagscrm's) reached at 09:30, c4 on 3 March
SELECT tagscrm.add_campaign_contacts('spring', ARRAY['c1', 'c2', 'c3', 'ghost', 'c1'], reached_at => '2026-03-01 09:30+08');
SELECT tagscrm.add_campaign_contacts('spring', ARRAY['c4'], reached_at => '2026-03-03 23:30+08');
SELECT tagscrm.add_campaign_contacts('spring', ARRAY['c4']);   -- already there: skipped
RESET ROLE;
-- after the snapshot, the tags move: the report keeps the snapshot
SELECT tagscrm.untag_customer('c1', 'vip'), tagscrm.tag_customer('c6', 'vip');
-- the orders, window edges in Shanghai days:
--   c1 7 March 23:59 (day 7 of 1..7: counts), 60 + 5 (two orders)
--   c2 8 March 00:00 (day 8: does not count)
--   c3 28 February 23:59 (before: does not count)
--   c4 reached 3 March: window 3..9 March; 9 March 20:00 counts, 9 March
--      16:00 UTC is 10 March 00:00 in Shanghai: does not
--   unreached, window from the start (1..7 March): c5 2 March (counts),
--      c6 nothing, c7 8 March 00:30 (does not)
INSERT INTO orders (customer_id, paid_at, amount) VALUES
	('c1', '2026-03-07 23:59+08', 60), ('c1', '2026-03-02 08:00+08', 5), ('c2', '2026-03-08 00:00+08', 70),
	('c3', '2026-02-28 23:59+08', 80), ('c4', '2026-03-09 20:00+08', 90), ('c4', '2026-03-09 16:00+00', 95),
	('c5', '2026-03-02 12:00+08', 30), ('c7', '2026-03-08 00:30+08', 20), ('ghost', '2026-03-02 12:00+08', 15);

SET ROLE regress_cp_reader;
SELECT * FROM tagscrm.campaigns;
-- vip readers: c1 reached, converted (2 orders, 65); nobody unreached
-- vip or reader: reached c1 c2 c3 c4, converted c1 c4 (3 orders, 155);
--   unreached c5 c6 c7, converted c5 (1 order, 30): 0.5 against 0.3333
SELECT * FROM tagscrm.campaign_effect('spring');
-- per tag (as of the snapshot): vip reached c1 c2, unreached c5 c7;
-- newsletter reached c1 c3 c4, unreached c6
SELECT * FROM tagscrm.campaign_effect('spring', by => 'tag');
-- all customers: ghost counts as reached (and converted: 15), the unreached
-- are the customers tagscrm knew at the snapshot: c5 c6 c7
SELECT * FROM tagscrm.campaign_effect('spring', by => 'all');
-- a window of 1 day: c1 (2 March 08:00 is day 2) and c4 no longer convert
SELECT name, reached, converted, orders, revenue, baseline_customers, baseline_converted
  FROM tagscrm.campaign_effect('spring', 'all', '1 day');
SELECT name, reached, converted, orders, revenue FROM tagscrm.campaign_effect('spring', 'all', '2 weeks');
RESET ROLE;
-- window_complete: every counted window has ended.  Per tag: vip's contacts
-- (c1 c2, 1 March) and its unreached (from the start) end with 7 March;
-- newsletter holds c4 (3..9 March).  With 1 day, c4's window is 3 March.
SET tagscrm.clock_override = '2026-03-07 23:59+08';
SELECT name, window_complete FROM tagscrm.campaign_effect('spring', 'tag');
SET tagscrm.clock_override = '2026-03-08 00:00+08';
SELECT name, window_complete FROM tagscrm.campaign_effect('spring', 'tag');
SET tagscrm.clock_override = '2026-03-10 00:00+08';
SELECT name, window_complete FROM tagscrm.campaign_effect('spring', 'tag');
SET tagscrm.clock_override = '2026-03-03 23:59+08';
SELECT name, window_complete FROM tagscrm.campaign_effect('spring', 'all', '1 day');
SET tagscrm.clock_override = '2026-03-04 00:00+08';
SELECT name, window_complete FROM tagscrm.campaign_effect('spring', 'all', '1 day');
SET tagscrm.clock_override = '2026-03-01 10:00+08';

-- with a control group: c5 and c6 held out; the baseline is the control
-- group's members, each with its own window
SET ROLE regress_cp_op;
SELECT tagscrm.create_campaign('spring b', started_at => '2026-03-01 09:00+08', conversion_window => '7 days') > 0 AS created;
RESET ROLE;
SELECT pg_temp.snapshot('spring b');
SET ROLE regress_cp_op;
SELECT tagscrm.add_campaign_contacts('spring b', ARRAY['c2', 'c3', 'c4', 'c7'], reached_at => '2026-03-01 09:30+08');
SELECT tagscrm.add_campaign_contacts('spring b', ARRAY['c5', 'c6'], control => true, reached_at => '2026-03-01 09:30+08');
SET ROLE regress_cp_reader;
-- snapshot of spring b (after the moves): vip = c2 c5 c6 c7, newsletter = c1 c3 c4 c6
SELECT * FROM tagscrm.campaign_effect('spring b', 'tag');
SELECT name, reached, converted, baseline, baseline_customers, baseline_converted, uplift, relative_uplift
  FROM tagscrm.campaign_effect('spring b', 'all');
RESET ROLE;

-- bad input
SET ROLE regress_cp_op;
\set VERBOSITY sqlstate
SELECT * FROM tagscrm.campaign_effect('autumn');
SELECT * FROM tagscrm.campaign_effect(NULL);
SELECT * FROM tagscrm.campaign_effect('spring', 'channel');
SELECT * FROM tagscrm.campaign_effect('spring', NULL);
SELECT * FROM tagscrm.campaign_effect('spring', 'tag', '-7 days');
SELECT * FROM tagscrm.campaign_effect('spring', 'tag', '0 days');
SELECT * FROM tagscrm.campaign_effect('spring', 'tag', '1 month');
SELECT * FROM tagscrm.campaign_effect('spring', 'tag', '36 hours');
SELECT tagscrm.create_campaign('SPRING');
SELECT tagscrm.create_campaign(NULL);
SELECT tagscrm.create_campaign('  ');
SELECT tagscrm.create_campaign('x', conversion_window => NULL);
SELECT tagscrm.create_campaign('x', conversion_window => '-1 day');
SELECT tagscrm.add_campaign_contacts('autumn', ARRAY['c1']);
SELECT tagscrm.add_campaign_contacts('spring', NULL);
SELECT tagscrm.add_campaign_contacts('spring', ARRAY['c1'], control => NULL);
SELECT tagscrm.add_campaign_contacts('spring', ARRAY['c9', '']);
SELECT tagscrm.add_campaign_contacts('spring', ARRAY['c9', NULL]);
SELECT tagscrm.add_campaign_contacts('spring', ARRAY[repeat('x', 257)]);
SELECT tagscrm.add_campaign_contacts('spring', ARRAY['c9'], reached_at => '2026-03-01 08:59+08');
SELECT tagscrm.add_campaign_contacts('spring', ARRAY['c2'], control => true);
SELECT tagscrm.drop_campaign('autumn');
\set VERBOSITY default
SELECT * FROM tagscrm.campaign_effect('autumn');
SELECT * FROM tagscrm.campaign_effect('spring', 'tag', '-7 days');
SELECT * FROM tagscrm.campaign_effect('spring', 'tag', '36 hours');
SELECT * FROM tagscrm.campaign_effect('spring', 'channel');
SELECT tagscrm.add_campaign_contacts('spring', ARRAY['c9'], reached_at => '2026-03-01 08:59+08');
SELECT tagscrm.add_campaign_contacts('spring', ARRAY['c2'], control => true);
SELECT tagscrm.add_campaign_contacts('spring', ARRAY['c9', '']);
RESET ROLE;

-- roles: readers read, operators register
SET ROLE regress_cp_reader;
\set VERBOSITY sqlstate
SELECT tagscrm.create_campaign('reader campaign');
SELECT tagscrm.add_campaign_contacts('spring', ARRAY['c9']);
SELECT tagscrm.drop_campaign('spring');
SELECT count(*) FROM tagscrm.campaign_contact;
\set VERBOSITY default
RESET ROLE;

-- Random data: 420 customers, 5 tags, 3 segments, 3,000 orders over two
-- months; a campaign reaching about 150 customers over its first 5 days,
-- another as large with about 40 % of its contacts held out.  The test snapshots the tags itself when each
-- campaign is registered, moves tags afterwards, and computes every cell
-- from the orders table in plain SQL.
SET tagscrm.clock_override = '2026-05-01 10:00+08';
SELECT setseed(0.6);
SELECT tagscrm.create_tag_group('r', 'manual') > 0 AS created;
SELECT tagscrm.create_tag('r' || i, 'r') > 0 AS created FROM generate_series(1, 5) i;
SELECT count(*) > 0 AS tagged FROM (
	SELECT tagscrm.tag_customer('rc' || c, 'r' || t)
	  FROM generate_series(1, 400) c, generate_series(1, 5) t WHERE random() < 0.35) x;
SELECT tagscrm.define_segment('r one or two', $$tag('r1') or tag('r2')$$),
       tagscrm.define_segment('r three not four', $$tag('r3') and not tag('r4')$$),
       tagscrm.define_segment('r five and one', $$tag('r5') and tag('r1')$$);
INSERT INTO orders (customer_id, paid_at, amount)
SELECT 'rc' || (1 + floor(random() * 420))::int, '2026-04-15 00:00+08'::timestamptz + random() * interval '60 days',
       round((5 + random() * 200)::numeric, 2)
  FROM generate_series(1, 3000);
SELECT tagscrm.create_campaign('r plain', started_at => '2026-05-01 09:00+08', conversion_window => '10 days') > 0 AS created;
SELECT pg_temp.snapshot('r plain');
SELECT sum(tagscrm.add_campaign_contacts('r plain', ARRAY[c], reached_at => '2026-05-01 09:00+08'::timestamptz + d * interval '1 minute')) > 100 AS added
  FROM (SELECT 'rc' || i AS c, floor(random() * 5 * 24 * 60) AS d FROM generate_series(1, 420) i WHERE random() < 0.36) x;
SELECT tagscrm.create_campaign('r control', started_at => '2026-05-01 09:00+08', conversion_window => '10 days') > 0 AS created;
SELECT pg_temp.snapshot('r control');
SELECT sum(tagscrm.add_campaign_contacts('r control', ARRAY[c], control => random() < 0.4,
                                         reached_at => '2026-05-01 09:00+08'::timestamptz + d * interval '1 minute')) > 100 AS added
  FROM (SELECT 'rc' || i AS c, floor(random() * 5 * 24 * 60) AS d FROM generate_series(1, 420) i WHERE random() < 0.36) x;
-- tags move after the snapshots
SELECT count(*) > 0 AS moved FROM (
	SELECT tagscrm.untag_customer(ct.customer_id, t.name)
	  FROM tagscrm.customer_tag ct JOIN tagscrm.tag t USING (tag_id) WHERE t.name LIKE 'r_' AND random() < 0.3) x;
SELECT name, reached, control_group FROM tagscrm.campaigns WHERE name LIKE 'r %' ORDER BY name;

-- every cell, from the orders table, in Shanghai days
CREATE FUNCTION pg_temp.expected(campaign text, grp text, days integer)
RETURNS TABLE (name text, reached bigint, converted bigint, conversion_rate numeric, orders bigint, revenue numeric,
               baseline text, baseline_customers bigint, baseline_converted bigint, baseline_rate numeric,
               baseline_orders bigint, baseline_revenue numeric, uplift numeric, relative_uplift numeric,
               window_complete boolean)
LANGUAGE sql AS $$
	WITH c AS (SELECT * FROM tagscrm.campaign x WHERE x.name = $1),
	today AS (SELECT (current_setting('tagscrm.clock_override')::timestamptz AT TIME ZONE 'Asia/Shanghai')::date AS day),
	contact AS (
		SELECT x.customer_id, x.control, (x.reached_at AT TIME ZONE 'Asia/Shanghai')::date + days - 1 AS last_day,
		       (SELECT count(*) FROM orders o WHERE o.customer_id = x.customer_id
		           AND (o.paid_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN (x.reached_at AT TIME ZONE 'Asia/Shanghai')::date
		                                                                AND (x.reached_at AT TIME ZONE 'Asia/Shanghai')::date + days - 1) AS n,
		       (SELECT COALESCE(sum(o.amount), 0) FROM orders o WHERE o.customer_id = x.customer_id
		           AND (o.paid_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN (x.reached_at AT TIME ZONE 'Asia/Shanghai')::date
		                                                                AND (x.reached_at AT TIME ZONE 'Asia/Shanghai')::date + days - 1) AS v
		  FROM tagscrm.campaign_contact x JOIN c USING (campaign_id)),
	member AS (
		SELECT s.name, s.customer_id FROM snap s WHERE s.campaign = $1 AND s.grouping = $2 AND $2 <> 'all'
		UNION
		SELECT 'all customers', x.customer_id FROM contact x WHERE $2 = 'all'
		UNION
		SELECT s.name, s.customer_id FROM snap s WHERE s.campaign = $1 AND s.grouping = 'all' AND $2 = 'all'),
	has_control AS (SELECT bool_or(control) AS yes FROM contact),
	unreached AS (
		SELECT m.name, m.customer_id,
		       (SELECT count(*) FROM orders o, c WHERE o.customer_id = m.customer_id
		           AND (o.paid_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN (c.started_at AT TIME ZONE 'Asia/Shanghai')::date
		                                                                AND (c.started_at AT TIME ZONE 'Asia/Shanghai')::date + days - 1) AS n,
		       (SELECT COALESCE(sum(o.amount), 0) FROM orders o, c WHERE o.customer_id = m.customer_id
		           AND (o.paid_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN (c.started_at AT TIME ZONE 'Asia/Shanghai')::date
		                                                                AND (c.started_at AT TIME ZONE 'Asia/Shanghai')::date + days - 1) AS v
		  FROM member m WHERE NOT EXISTS (SELECT FROM contact x WHERE x.customer_id = m.customer_id)),
	cell AS (
		SELECT g.name,
		       (SELECT count(*) FROM member m JOIN contact x USING (customer_id) WHERE m.name = g.name AND NOT x.control) AS r,
		       (SELECT count(*) FROM member m JOIN contact x USING (customer_id) WHERE m.name = g.name AND NOT x.control AND x.n > 0) AS rc,
		       (SELECT COALESCE(sum(x.n), 0) FROM member m JOIN contact x USING (customer_id) WHERE m.name = g.name AND NOT x.control) AS ro,
		       (SELECT COALESCE(sum(x.v), 0) FROM member m JOIN contact x USING (customer_id) WHERE m.name = g.name AND NOT x.control) AS rv,
		       CASE WHEN (SELECT yes FROM has_control) THEN 'control' ELSE 'unreached' END AS b,
		       CASE WHEN (SELECT yes FROM has_control)
		            THEN (SELECT count(*) FROM member m JOIN contact x USING (customer_id) WHERE m.name = g.name AND x.control)
		            ELSE (SELECT count(*) FROM unreached u WHERE u.name = g.name) END AS bn,
		       CASE WHEN (SELECT yes FROM has_control)
		            THEN (SELECT count(*) FROM member m JOIN contact x USING (customer_id) WHERE m.name = g.name AND x.control AND x.n > 0)
		            ELSE (SELECT count(*) FROM unreached u WHERE u.name = g.name AND u.n > 0) END AS bc,
		       CASE WHEN (SELECT yes FROM has_control)
		            THEN (SELECT COALESCE(sum(x.n), 0) FROM member m JOIN contact x USING (customer_id) WHERE m.name = g.name AND x.control)
		            ELSE (SELECT COALESCE(sum(u.n), 0) FROM unreached u WHERE u.name = g.name) END AS bo,
		       CASE WHEN (SELECT yes FROM has_control)
		            THEN (SELECT COALESCE(sum(x.v), 0) FROM member m JOIN contact x USING (customer_id) WHERE m.name = g.name AND x.control)
		            ELSE (SELECT COALESCE(sum(u.v), 0) FROM unreached u WHERE u.name = g.name) END AS bv,
		       -- the last day counted: a contact's, or the unreached baseline's
		       GREATEST((SELECT max(x.last_day) FROM member m JOIN contact x USING (customer_id) WHERE m.name = g.name),
		                CASE WHEN NOT (SELECT yes FROM has_control)
		                     THEN (SELECT (c.started_at AT TIME ZONE 'Asia/Shanghai')::date + days - 1 FROM c) END) AS last_day
		  FROM (SELECT DISTINCT m.name FROM member m) g)
	SELECT x.name, x.r, x.rc, round(x.rc::numeric / x.r, 4), x.ro, x.rv, x.b, x.bn, x.bc,
	       round(x.bc::numeric / NULLIF(x.bn, 0), 4), x.bo, x.bv,
	       round(x.rc::numeric / x.r - x.bc::numeric / NULLIF(x.bn, 0), 4),
	       round((x.rc::numeric / x.r - x.bc::numeric / NULLIF(x.bn, 0)) / NULLIF(x.bc::numeric / NULLIF(x.bn, 0), 0), 4),
	       x.last_day < (SELECT day FROM today)
	  FROM cell x WHERE x.r > 0
$$;
-- sizes, so that the comparison means something
SELECT campaign, grouping, count(*) AS rows, sum(reached) AS reached, sum(converted) AS converted,
       sum(baseline_customers) AS baseline, sum(baseline_converted) AS baseline_converted
  FROM (VALUES ('r plain'), ('r control')) c(campaign), (VALUES ('segment'), ('tag'), ('all')) g(grouping),
       LATERAL tagscrm.campaign_effect(campaign, grouping) e
 GROUP BY 1, 2 ORDER BY 1, 2;
-- every cell that differs, either way (read at each SELECT, with the clock then)
CREATE TEMP VIEW differences AS
SELECT campaign, grouping, days, 'missing' AS what, x.*
  FROM (VALUES ('r plain'), ('r control'), ('spring'), ('spring b')) c(campaign), (VALUES ('segment'), ('tag'), ('all')) g(grouping),
       (VALUES (1), (10), (30)) d(days),
       LATERAL (SELECT * FROM pg_temp.expected(campaign, grouping, days)
                EXCEPT SELECT * FROM tagscrm.campaign_effect(campaign, grouping, make_interval(days => days))) x
UNION ALL
SELECT campaign, grouping, days, 'extra', x.*
  FROM (VALUES ('r plain'), ('r control'), ('spring'), ('spring b')) c(campaign), (VALUES ('segment'), ('tag'), ('all')) g(grouping),
       (VALUES (1), (10), (30)) d(days),
       LATERAL (SELECT * FROM tagscrm.campaign_effect(campaign, grouping, make_interval(days => days))
                EXCEPT SELECT * FROM pg_temp.expected(campaign, grouping, days)) x;
SELECT * FROM differences;

-- again on 12 May, when some windows have ended and others not
SET tagscrm.clock_override = '2026-05-12 00:00+08';
SELECT window_complete, count(*) AS cells
  FROM (VALUES ('r plain'), ('r control')) c(campaign), (VALUES ('segment'), ('tag'), ('all')) g(grouping),
       (VALUES (1), (10), (30)) d(days),
       LATERAL tagscrm.campaign_effect(campaign, grouping, make_interval(days => days)) e
 GROUP BY 1 ORDER BY 1;
SELECT * FROM differences;

SET tagscrm.clock_override = '2026-05-01 10:00+08';

-- the comparison notices a window one day off
SELECT count(*) > 0 AS differs FROM (
	SELECT * FROM pg_temp.expected('r plain', 'tag', 10)
	EXCEPT SELECT * FROM tagscrm.campaign_effect('r plain', 'tag', '11 days')) x;

-- dropping a campaign drops its contacts and snapshot
SET ROLE regress_cp_op;
SELECT tagscrm.drop_campaign('r plain');
RESET ROLE;
SELECT count(*) AS contacts_left FROM tagscrm.campaign_contact x WHERE NOT EXISTS (SELECT FROM tagscrm.campaign c WHERE c.campaign_id = x.campaign_id);
SELECT count(*) AS groups_left FROM tagscrm.campaign_group x WHERE NOT EXISTS (SELECT FROM tagscrm.campaign c WHERE c.campaign_id = x.campaign_id);

DROP TABLE orders;
DROP ROLE regress_cp_op, regress_cp_reader;
