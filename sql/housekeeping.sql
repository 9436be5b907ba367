-- Tag housekeeping: tag_usage (holders, last applied and removed, by whom,
-- which source), retirement_candidates, retire_idle_tags.  A hand-worked
-- example, then random operations whose effects the test logs itself (from
-- customer_tag before and after each one) and compares with tag_usage for
-- every tag and column; bad input; each role.
DROP EXTENSION tagscrm CASCADE;
CREATE EXTENSION tagscrm;
\set VERBOSITY default
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO';
DROP ROLE IF EXISTS regress_hk_op, regress_hk_admin, regress_hk_reader;
CREATE ROLE regress_hk_op IN ROLE tagscrm_operator;
CREATE ROLE regress_hk_admin IN ROLE tagscrm_admin;
CREATE ROLE regress_hk_reader IN ROLE tagscrm_reader;

-- model tags exist (the watched orders make them) and are never candidates
CREATE TABLE orders (order_id serial PRIMARY KEY, customer_id text, paid_at timestamptz, amount numeric);
GRANT SELECT, TRIGGER ON orders TO regress_hk_admin;
SET tagscrm.clock_override = '2026-01-01 10:00+00';
SET ROLE regress_hk_admin;
SELECT tagscrm.watch_orders('orders', customer => 'customer_id', at => 'paid_at', amount => 'amount');
SELECT tagscrm.create_tag_group('interest', 'interest') > 0 AS created, tagscrm.create_tag_group('tier', 'value', exclusive => true) > 0 AS created;
SELECT count(*) AS tags FROM (VALUES
	(tagscrm.create_tag('wine', 'interest')), (tagscrm.create_tag('cheese', 'interest', method => 'import')),
	(tagscrm.create_tag('tea', 'interest')), (tagscrm.create_tag('dairy', 'interest')),
	(tagscrm.create_tag('beer', 'interest')), (tagscrm.create_tag('legacy', 'interest')),
	(tagscrm.create_tag('gold', 'tier')), (tagscrm.create_tag('silver', 'tier'))) v(id);
SELECT tagscrm.create_tag('ale', 'interest', parent => 'beer') > 0 AS created,
       tagscrm.create_tag('legacy child', 'interest', parent => 'legacy') > 0 AS created;

-- 1 January: the operator tags by hand and by import
SET ROLE regress_hk_op;
SELECT tagscrm.tag_customer('c1', 'wine'), tagscrm.tag_customer('c1', 'gold'), tagscrm.tag_customer('c3', 'ale');
SELECT * FROM tagscrm.import_tag_rows('list', ARRAY['c2'], ARRAY['cheese'], NULL, NULL);
-- 5 January: silver replaces gold (gold is removed by the replace)
RESET ROLE;
SET tagscrm.clock_override = '2026-01-05 10:00+00';
SET ROLE regress_hk_op;
SELECT tagscrm.tag_customer('c1', 'silver');
-- 10 January: gold is renamed golden, and a new tag takes the name gold
RESET ROLE;
SET tagscrm.clock_override = '2026-01-10 10:00+00';
SET ROLE regress_hk_admin;
SELECT tagscrm.rename_tag('gold', 'golden');
SELECT tagscrm.create_tag('gold', 'tier') > 0 AS created;
-- 12 January: c2 gets the new gold, then golden replaces it
RESET ROLE;
SET tagscrm.clock_override = '2026-01-12 10:00+00';
SET ROLE regress_hk_op;
SELECT tagscrm.tag_customer('c2', 'gold');
SELECT tagscrm.tag_customer('c2', 'golden');
-- 20 January: wine removed by hand; tea given until 25 January
RESET ROLE;
SET tagscrm.clock_override = '2026-01-20 10:00+00';
SET ROLE regress_hk_op;
SELECT tagscrm.untag_customer('c1', 'wine', reason => 'asked');
SELECT tagscrm.tag_customer('c4', 'tea', expires_at => '2026-01-25 00:00+00');
-- 1 February: the expiry runs
RESET ROLE;
SET tagscrm.clock_override = '2026-02-01 10:00+00';
SET ROLE regress_hk_op;
SELECT tagscrm.expire_tags();
-- 10 February: cheese is merged into dairy
RESET ROLE;
SET tagscrm.clock_override = '2026-02-10 10:00+00';
SET ROLE regress_hk_admin;
SELECT tagscrm.merge_tags('cheese', 'dairy');
RESET ROLE;

-- what each tag went through: gold (the first, now golden) lost c1 to silver
-- on 5 January; the new gold lost c2 to golden on 12 January
SET ROLE regress_hk_reader;
SELECT tag, holders, last_applied_at, last_applied_by, last_applied_source,
       last_removed_at, last_removed_by, last_removed_source, last_removed_how, last_activity_at
  FROM tagscrm.tag_usage WHERE group_name IN ('interest', 'tier') ORDER BY tag_id;
SELECT count(*) AS model_tags, count(*) FILTER (WHERE holders = 0) AS unheld FROM tagscrm.tag_usage WHERE model IS NOT NULL;

-- on 1 April: unused for 30 days: tea (expired 1 February), wine (removed
-- 20 January), legacy and its child (created 1 January, never used), gold
-- (lost its holder 12 January); not dairy nor cheese (merged 10 February,
-- and cheese is retired), not beer (its child ale is held), no model tag
RESET ROLE;
SET tagscrm.clock_override = '2026-04-01 10:00+00';
SET ROLE regress_hk_reader;
SELECT * FROM tagscrm.retirement_candidates('30 days');
SELECT tag FROM tagscrm.retirement_candidates('60 days');   -- not tea
SELECT tag FROM tagscrm.retirement_candidates('0 days') WHERE group_name NOT IN ('interest', 'tier');
SELECT tagscrm.retire_idle_tags('30 days');
RESET ROLE;
SET ROLE regress_hk_op;
SELECT tagscrm.retire_idle_tags('30 days');
SET ROLE regress_hk_admin;
SELECT * FROM tagscrm.retire_idle_tags('60 days', reason => 'spring cleaning');
SELECT tagscrm.retire_idle_tags('30 days');   -- tea
SELECT tagscrm.retire_idle_tags('30 days');   -- nothing left
RESET ROLE;
SELECT object_name, action, reason FROM tagscrm.library_changes WHERE action = 'retire' ORDER BY history_id;
SELECT tag, status, holders FROM tagscrm.tag_usage WHERE group_name IN ('interest', 'tier') ORDER BY tag_id;
SELECT * FROM tagscrm.retirement_candidates('30 days');

-- bad input
\set VERBOSITY sqlstate
SELECT * FROM tagscrm.retirement_candidates(NULL);
SELECT * FROM tagscrm.retirement_candidates('-1 day');
SELECT * FROM tagscrm.retire_idle_tags(NULL);
SELECT * FROM tagscrm.retire_idle_tags('-30 days');
\set VERBOSITY default
SELECT * FROM tagscrm.retirement_candidates('-1 day');

-- Random operations: 30 customers, tags in an exclusive and a plain group,
-- by hand, by import, with expiries, removals, renames and names reused.
-- After each operation the test compares customer_tag with its copy from
-- before: what appeared (or had its expiry changed) was applied, what went
-- was removed, by the operation's role and source (an expired assignment
-- went by expiry, with its own source).  That log is the oracle.
SELECT tagscrm.create_tag_group('r plain', 'manual') > 0 AS created, tagscrm.create_tag_group('r tier', 'value', exclusive => true) > 0 AS created;
CREATE TEMP TABLE r_log (tag_id integer, kind text, at timestamptz, by text, source text, how text, seq bigint);
GRANT ALL ON r_log TO PUBLIC;
CREATE TEMP TABLE r_before AS SELECT * FROM tagscrm.customer_tag WHERE false;
SET client_min_messages = warning;   -- the imports' notices
DO $$
DECLARE
	step integer;
	clock timestamptz := '2026-05-01 00:00+00';
	op text;
	role text;
	src text;
	c text;
	t record;
	n integer := 0;
	k integer;
	custs text[];
	tags text[];
BEGIN
	PERFORM setseed(0.15);
	FOR i IN 1 .. 8 LOOP
		PERFORM tagscrm.create_tag(format('r%s', i), CASE WHEN i <= 4 THEN 'r plain' ELSE 'r tier' END,
		                           method => CASE WHEN i % 2 = 0 THEN 'import' ELSE 'manual' END);
	END LOOP;
	FOR step IN 1 .. 700 LOOP
		clock := clock + (1 + floor(random() * 600)) * interval '1 minute';
		PERFORM set_config('tagscrm.clock_override', clock::text, false);
		DELETE FROM r_before;
		INSERT INTO r_before SELECT * FROM tagscrm.customer_tag;
		SELECT * INTO t FROM tagscrm.tags x WHERE x.group_name IN ('r plain', 'r tier') AND x.status = 'active'
		 ORDER BY random() LIMIT 1;
		c := format('c%s', lpad((1 + floor(random() * 30))::text, 2, '0'));
		op := (ARRAY['tag', 'tag', 'tag', 'tag expiring', 'untag', 'untag', 'import', 'import', 'expire', 'rename'])
		      [1 + floor(random() * 10)];
		role := CASE op WHEN 'rename' THEN 'regress_hk_admin' ELSE (ARRAY['regress_hk_op', 'regress_hk_admin'])[1 + floor(random() * 2)] END;
		src := CASE op WHEN 'import' THEN 'import' ELSE 'manual' END;
		PERFORM set_config('role', role, false);
		IF op = 'tag' THEN
			PERFORM tagscrm.tag_customer(c, t.name);
		ELSIF op = 'tag expiring' THEN
			PERFORM tagscrm.tag_customer(c, t.name, expires_at => clock + (1 + floor(random() * 2000)) * interval '1 minute');
		ELSIF op = 'untag' THEN
			PERFORM tagscrm.untag_customer(c, t.name);
		ELSIF op = 'import' THEN
			k := 1 + floor(random() * 3);
			SELECT array_agg(format('c%s', lpad((1 + floor(random() * 30))::text, 2, '0'))),
			       array_agg((SELECT x.name FROM tagscrm.tags x WHERE x.group_name IN ('r plain', 'r tier')
			                    AND x.status = 'active' AND g > 0 ORDER BY random() LIMIT 1))
			  INTO custs, tags FROM generate_series(1, k) g;
			PERFORM tagscrm.import_tag_rows('random', custs, tags, NULL,
			                                CASE WHEN random() < 0.3 THEN clock + interval '1 day' END);
		ELSIF op = 'expire' THEN
			PERFORM tagscrm.expire_tags();
		ELSIF op = 'rename' THEN
			n := n + 1;
			IF random() < 0.5 THEN
				PERFORM tagscrm.rename_tag(t.name, format('r%s', 100 + n));
			ELSE   -- rename, then give the freed name to a new tag of the group
				PERFORM tagscrm.rename_tag(t.name, format('r%s', 100 + n));
				PERFORM tagscrm.create_tag(t.name, t.group_name, method => t.method);
			END IF;
		END IF;
		RESET role;
		INSERT INTO r_log
		SELECT a.tag_id, 'applied', clock, role, src, NULL, step * 1000000
		  FROM tagscrm.customer_tag a LEFT JOIN r_before b USING (customer_id, tag_id)
		 WHERE b.tag_id IS NULL OR b.expires_at IS DISTINCT FROM a.expires_at OR b.applied_at <> a.applied_at;
		INSERT INTO r_log
		SELECT b.tag_id, 'removed', clock, role,
		       CASE WHEN b.expires_at <= clock OR op = 'expire' THEN b.source ELSE src END,
		       CASE WHEN b.expires_at <= clock OR op = 'expire' THEN 'expire' WHEN op = 'untag' THEN 'remove' ELSE 'replace' END,
		       -- the order tagscrm writes them in: expiries first, by customer
		       step * 1000000 + CASE WHEN b.expires_at <= clock OR op = 'expire' THEN 0 ELSE 500000 END
		       + row_number() OVER (ORDER BY b.customer_id)
		  FROM r_before b LEFT JOIN tagscrm.customer_tag a USING (customer_id, tag_id)
		 WHERE a.tag_id IS NULL OR (b.expires_at <= clock AND a.applied_at <> b.applied_at);   -- expired, given again
	END LOOP;
END
$$;
RESET client_min_messages;
-- the report is read 8 days after the last operation
SELECT max(at) + interval '8 days' AS t_end FROM r_log \gset
SET tagscrm.clock_override = :'t_end';
-- how much happened, so that the comparison below means something
SELECT kind, how, count(*) >= 5 AS several FROM r_log GROUP BY 1, 2 ORDER BY 1, 2;
SELECT count(*) AS renames FROM tagscrm.library_changes WHERE action = 'rename' AND object_name ~ '^r1';
-- every tag of the random groups, every column, against the oracle
CREATE TEMP VIEW r_expected AS
	SELECT t.tag_id,
	       (SELECT count(*) FROM tagscrm.customer_tag ct
	         WHERE ct.tag_id = t.tag_id AND (ct.expires_at IS NULL OR ct.expires_at > :'t_end')) AS holders,
	       a.at AS applied_at, a.by AS applied_by, a.source AS applied_source,
	       r.at AS removed_at, r.by AS removed_by, r.source AS removed_source, r.how AS removed_how
	  FROM tagscrm.tags t
	  LEFT JOIN LATERAL (SELECT * FROM r_log l WHERE l.tag_id = t.tag_id AND l.kind = 'applied'
	                      ORDER BY l.at DESC, l.seq DESC LIMIT 1) a ON true
	  LEFT JOIN LATERAL (SELECT * FROM r_log l WHERE l.tag_id = t.tag_id AND l.kind = 'removed'
	                      ORDER BY l.at DESC, l.seq DESC LIMIT 1) r ON true
	 WHERE t.group_name IN ('r plain', 'r tier');
CREATE TEMP VIEW r_actual AS
	SELECT u.tag_id, u.holders, u.last_applied_at, u.last_applied_by, u.last_applied_source,
	       u.last_removed_at, u.last_removed_by, u.last_removed_source, u.last_removed_how
	  FROM tagscrm.tag_usage u WHERE u.group_name IN ('r plain', 'r tier');
SELECT count(*) AS tags, count(*) FILTER (WHERE removed_how = 'replace') AS last_lost_to_replace FROM r_expected;
SELECT 'missing' AS what, * FROM (TABLE r_expected EXCEPT TABLE r_actual) x
UNION ALL
SELECT 'extra', * FROM (TABLE r_actual EXCEPT TABLE r_expected) y;
-- candidates against their definition, for several idle periods
SELECT d, count(*) AS candidates FROM (VALUES (0), (3), (10), (30)) v(d),
       LATERAL (SELECT * FROM tagscrm.retirement_candidates(make_interval(days => d))) c
 WHERE c.group_name IN ('r plain', 'r tier') GROUP BY d ORDER BY d;
SELECT d, c.tag FROM (VALUES (0), (3), (10), (30)) v(d),
       LATERAL (SELECT * FROM tagscrm.retirement_candidates(make_interval(days => d))) c
 WHERE c.group_name IN ('r plain', 'r tier')
EXCEPT
SELECT d, t.name FROM (VALUES (0), (3), (10), (30)) v(d), tagscrm.tags t JOIN r_expected e USING (tag_id)
 WHERE t.status = 'active' AND e.holders = 0
   AND greatest(t.created_at, e.applied_at, e.removed_at) <= :'t_end'::timestamptz - make_interval(days => d);
SELECT d, t.name FROM (VALUES (0), (3), (10), (30)) v(d), tagscrm.tags t JOIN r_expected e USING (tag_id)
 WHERE t.status = 'active' AND e.holders = 0
   AND greatest(t.created_at, e.applied_at, e.removed_at) <= :'t_end'::timestamptz - make_interval(days => d)
EXCEPT
SELECT d, c.tag FROM (VALUES (0), (3), (10), (30)) v(d),
       LATERAL (SELECT * FROM tagscrm.retirement_candidates(make_interval(days => d))) c
 WHERE c.group_name IN ('r plain', 'r tier');

-- the look-ups use the indexes: one tag reads a few index entries of each
CREATE FUNCTION pg_temp.plan_uses(query text, index text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	line text;
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
		IF line LIKE '%' || index || '%' THEN
			RETURN true;
		END IF;
	END LOOP;
	RETURN false;
END $$;
SET enable_seqscan = off;   -- the tables are tiny here; the plan at scale is in docs/housekeeping.md
SELECT i, pg_temp.plan_uses($$SELECT last_applied_at, last_removed_at FROM tagscrm.tag_usage WHERE tag = 'r1'$$, i)
  FROM unnest(ARRAY['tag_history_tag_idx', 'tag_history_lost_tag_idx']) i;
RESET enable_seqscan;

DROP TABLE orders;
DROP ROLE regress_hk_op, regress_hk_admin, regress_hk_reader;
