-- customer_overview, the readers' one row per customer: its model columns
-- read a copy of the model tags kept in customer_fact by the writers of
-- model tags (sync_models, retire_tag, merge_tags; TRUNCATE clears it).  Whatever writes the tags (models as time passes and orders
-- come, refresh, rebuilds, retiring and merging a model tag, TRUNCATE), the
-- view shows exactly the tags customer_tag holds; a dashboard's GROUP BY
-- reads customer_fact alone; every column has a description.
DROP EXTENSION tagscrm CASCADE;
DROP SCHEMA tagscrm;
CREATE EXTENSION tagscrm;
SET tagscrm.clock_override = '2026-06-01 00:00:00+00';
SET client_min_messages = warning;
SET TimeZone = 'UTC';
\set VERBOSITY default
\set SHOW_CONTEXT never

CREATE TABLE o_orders (id serial PRIMARY KEY, cust integer, paid_at timestamptz, amount numeric);
CREATE TABLE o_events (id serial PRIMARY KEY, uid text, at timestamptz, kind text);
SELECT setseed(0.42);
-- 300 customers from the BG/NBD story (a purchase rate each, a chance to
-- drop out after each purchase), so that a churn model fits
DO $$
DECLARE
	rate float8;
	dropout float8;
	spend float8;
	at timestamptz;
BEGIN
	FOR c IN 1 .. 300 LOOP
		rate := -ln(1 - random()) * 0.4;
		spend := 10 * exp(2 * random());                 -- each customer's typical order value
		dropout := random() * 0.6;
		at := '2025-06-01'::timestamptz + random() * interval '60 days';
		LOOP
			INSERT INTO o_orders (cust, paid_at, amount) VALUES (c, at, round((spend * (0.5 + random()))::numeric, 2));
			EXIT WHEN random() < dropout;
			at := at + (-ln(1 - random()) / GREATEST(rate, 0.01)) * interval '7 days';
			EXIT WHEN at >= '2026-06-01';
		END LOOP;
	END LOOP;
END
$$;
INSERT INTO o_events (uid, at, kind)
SELECT (1 + floor(random() * 350)::integer)::text, '2026-06-01'::timestamptz - random() * interval '60 days',
       (ARRAY['view', 'consult', 'review'])[1 + floor(random() * 3)::integer]
  FROM generate_series(1, 800);
SELECT tagscrm.watch_orders('o_orders', 'cust', 'paid_at', 'amount');
SELECT tagscrm.watch_events('o_events', 'uid', 'at', 'kind');
SELECT tagscrm.churn_fit('shop', 'o_orders', 'cust', 'paid_at', 'amount',
                         calibration_end => '2026-06-01 00:00:00+00', time_unit => '7 days',
                         kind => 'bgnbd') IS NOT NULL AS fitted;
UPDATE tagscrm.settings SET churn_model = 'shop', loyalty_model = true, high_ticket_ladder = true;
SELECT tagscrm.refresh(all_models => true, quiet => true) > 0 AS refreshed;

-- The oracle: the tag each customer holds per model, read from customer_tag
-- by model_tag_of (its own query), for every customer of the view.
CREATE FUNCTION overview_differs() RETURNS bigint LANGUAGE sql AS $$
	SELECT count(*) FROM tagscrm.customer_overview o
	 WHERE (o.rfm_segment, o.lifecycle, o.sales_stage, o.status, o.level, o.loyalty, o.churn_risk)
	       IS DISTINCT FROM
	       (tagscrm.model_tag_of(o.customer_id, 'rfm'), tagscrm.model_tag_of(o.customer_id, 'lifecycle'),
	        tagscrm.model_tag_of(o.customer_id, 'sales_stage'), tagscrm.model_tag_of(o.customer_id, 'status'),
	        tagscrm.model_tag_of(o.customer_id, 'level'), tagscrm.model_tag_of(o.customer_id, 'loyalty'),
	        tagscrm.model_tag_of(o.customer_id, 'churn_risk'))
$$;
-- not vacuous: every model column is filled for someone
SELECT count(*) AS customers, count(rfm_segment) > 0 AS rfm, count(lifecycle) > 0 AS lifecycle,
       count(sales_stage) > 0 AS sales_stage, count(status) > 0 AS status, count(level) > 0 AS level,
       count(loyalty) > 0 AS loyalty, count(churn_risk) > 0 AS churn_risk
  FROM tagscrm.customer_overview;
SELECT overview_differs() AS after_watch;

-- writes of every kind, the clock moving, the jobs
DO $$
DECLARE
	i integer;
	c integer;
BEGIN
	FOR i IN 1 .. 120 LOOP
		c := 1 + floor(random() * 320)::integer;
		CASE i % 5
		WHEN 0 THEN INSERT INTO o_orders (cust, paid_at, amount)
		            SELECT c, '2026-06-01'::timestamptz - random() * interval '30 days', round((random() * 900)::numeric, 2)
		              FROM generate_series(1, 1 + floor(random() * 3)::integer);
		WHEN 1 THEN DELETE FROM o_orders WHERE id IN (SELECT id FROM o_orders WHERE cust = c ORDER BY id LIMIT 2);
		WHEN 2 THEN UPDATE o_orders SET amount = amount * 3 WHERE cust = c;
		WHEN 3 THEN INSERT INTO o_events (uid, at, kind) VALUES (c::text, '2026-05-31', 'consult');
		ELSE UPDATE o_orders SET cust = c + 1 WHERE id IN (SELECT id FROM o_orders WHERE cust = c LIMIT 1);
		END CASE;
	END LOOP;
END
$$;
SELECT overview_differs() AS after_writes;
SET tagscrm.clock_override = '2026-09-15 00:00:00+00';
SELECT tagscrm.sweep() >= 0 AS swept;
SELECT overview_differs() AS after_sweep;
SELECT tagscrm.refresh(quiet => true) > 0 AS refreshed;
SELECT overview_differs() AS after_refresh;
SELECT tagscrm.refresh(rebuild => true, quiet => true) > 0 AS rebuilt;
SELECT overview_differs() AS after_rebuild;

-- a model tag retired or merged by hand: the view follows customer_tag
SELECT tagscrm.retire_tag('silent', 'test') >= 0 AS retired;
SELECT count(*) FILTER (WHERE status = 'silent') AS still_silent, overview_differs() AS after_retire
  FROM tagscrm.customer_overview;
SELECT tagscrm.merge_tags('level 2', 'level 3', 'test') >= 0 AS merged;
SELECT count(*) FILTER (WHERE level = 'level 2') AS still_level_2, overview_differs() AS after_merge
  FROM tagscrm.customer_overview;
-- TRUNCATE empties the copy with the tags; a rebuild brings both back
TRUNCATE tagscrm.customer_tag;
SELECT count(*) FILTER (WHERE num_nonnulls(rfm_segment, lifecycle, status, level) > 0) AS with_model_tags,
       overview_differs() AS after_truncate
  FROM tagscrm.customer_overview;
SELECT tagscrm.refresh(rebuild => true, quiet => true) > 0 AS rebuilt;
SELECT count(rfm_segment) > 0 AS rfm_back, overview_differs() AS after_second_rebuild FROM tagscrm.customer_overview;

-- the oracle sees a copy that drifts: a model tag deleted behind tagscrm's
-- back (not through its functions) is not copied, and overview_differs
-- counts it; a rebuild repairs it
DELETE FROM tagscrm.customer_tag ct USING tagscrm.model_tag mt
 WHERE mt.tag_id = ct.tag_id AND mt.model = 'lifecycle' AND ct.customer_id IN ('1', '2', '3');
SELECT overview_differs() AS drifted;
SELECT tagscrm.refresh(rebuild => true, quiet => true) > 0 AS rebuilt;
SELECT overview_differs() AS repaired;

-- the dashboard's query reads customer_fact and the tag table once: the
-- joins of the other models and the per-row columns are not in its plan
CREATE FUNCTION scanned(query text) RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
	plan jsonb;
BEGIN
	EXECUTE 'EXPLAIN (FORMAT JSON, COSTS OFF) ' || query INTO plan;
	RETURN ARRAY(SELECT DISTINCT r #>> '{}' FROM jsonb_path_query(plan, 'strict $.**."Relation Name"') r ORDER BY 1);
END
$$;
SELECT scanned('SELECT rfm_segment, count(*), sum(total_paid) FROM tagscrm.customer_overview GROUP BY 1') AS group_by_rfm;
SELECT scanned('SELECT count(*), sum(orders) FROM tagscrm.customer_overview') AS totals;
-- equal to the same grouping over customer_tag
SELECT count(*) AS differing_groups FROM (
	(SELECT rfm_segment, count(*), sum(total_paid) FROM tagscrm.customer_overview GROUP BY 1
	 EXCEPT ALL
	 SELECT tagscrm.model_tag_of(f.customer_id, 'rfm'), count(*), sum(f.order_total) FROM tagscrm.customer_fact f GROUP BY 1)
	UNION ALL
	(SELECT tagscrm.model_tag_of(f.customer_id, 'rfm'), count(*), sum(f.order_total) FROM tagscrm.customer_fact f GROUP BY 1
	 EXCEPT ALL
	 SELECT rfm_segment, count(*), sum(total_paid) FROM tagscrm.customer_overview GROUP BY 1)) x;

-- every column has a description a BI tool shows, and a plain type
SELECT a.attname AS undescribed
  FROM pg_attribute a
 WHERE a.attrelid = 'tagscrm.customer_overview'::regclass AND a.attnum > 0
   AND col_description(a.attrelid, a.attnum) IS NULL;
SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type
  FROM pg_attribute a
 WHERE a.attrelid = 'tagscrm.customer_overview'::regclass AND a.attnum > 0
 ORDER BY a.attnum;

-- leave no watched tables behind for the next test
DROP TABLE o_orders, o_events;
