-- Watched tables keep facts and tags current.  After every kind of statement
-- (insert, multi-row, COPY, update of amounts and of customer ids, delete,
-- ON CONFLICT DO UPDATE, MERGE, writable CTEs, truncate with and without
-- rollback, replica-mode loads repaired by refresh) the maintained state is
-- compared with an independent plain-SQL computation from the base tables.
DROP EXTENSION tagscrm CASCADE;
DROP SCHEMA tagscrm;
CREATE EXTENSION tagscrm;
SET tagscrm.clock_override = '2026-06-01 12:00:00+00';
SET client_min_messages = warning;
\set VERBOSITY default
\set SHOW_CONTEXT never
UPDATE tagscrm.settings SET high_ticket_ladder = true;

CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint, paid_at timestamptz, amount numeric(12,2));
CREATE INDEX ON orders (customer_id);
CREATE TABLE events (id bigserial PRIMARY KEY, uid text, at timestamptz, kind text, object text, seconds integer);
CREATE INDEX ON events (uid);
CREATE TABLE crm_customers (id bigint PRIMARY KEY, gender text, city text, born date);

SELECT setseed(0.42);
INSERT INTO orders (customer_id, paid_at, amount)
SELECT 1 + floor(random() * 60), '2026-06-01 12:00+00'::timestamptz - random() * interval '400 days', round((5 + random() * 500)::numeric, 2)
  FROM generate_series(1, 700);
INSERT INTO events (uid, at, kind, object, seconds)
SELECT (1 + floor(random() * 80))::text, '2026-06-01 12:00+00'::timestamptz - random() * interval '200 days',
       (ARRAY['view', 'consult', 'review', 'register', 'read'])[1 + floor(random() * 5)], 'page' || floor(random() * 5), floor(random() * 90)
  FROM generate_series(1, 900);
INSERT INTO crm_customers
SELECT g, (ARRAY['female', 'male', NULL])[1 + g % 3], (ARRAY['Shanghai', 'Beijing', 'Hangzhou'])[1 + g % 3],
       '1960-01-01'::date + (g * 397) % 20000
  FROM generate_series(1, 90) g;

SELECT tagscrm.watch_orders('orders', customer => 'customer_id', at => 'paid_at', amount => 'amount');
SELECT tagscrm.watch_events('events', customer => 'uid', at => 'at', kind => 'kind', object => 'object', duration => 'seconds');
SELECT tagscrm.watch_customers('crm_customers', customer => 'id', attributes => ARRAY['gender', 'city'], birth_date => 'born');

-- The oracle: facts and model tags recomputed in plain SQL from the base
-- tables, the stored settings and the stored RFM breakpoints; nothing of
-- tagscrm's own computation is used.
CREATE FUNCTION expected_facts() RETURNS TABLE (customer_id text, first_order_at timestamptz, last_order_at timestamptz,
	order_count bigint, order_total numeric, last_event_at timestamptz, event_count bigint, active_days bigint)
LANGUAGE sql AS $$
	SELECT f.customer_id, o.first_at, o.last_at, COALESCE(o.n, 0), COALESCE(o.total, 0), e.last_at, COALESCE(e.n, 0),
	       (SELECT count(DISTINCT d) FROM (
	            SELECT (paid_at AT TIME ZONE 'UTC')::date FROM orders WHERE customer_id::text = f.customer_id AND paid_at IS NOT NULL
	            UNION SELECT (at AT TIME ZONE 'UTC')::date FROM events WHERE uid = f.customer_id AND at IS NOT NULL) x(d))
	  FROM tagscrm.customer_fact f
	  LEFT JOIN (SELECT customer_id::text AS c, min(paid_at) AS first_at, max(paid_at) AS last_at, count(*) AS n, sum(amount) AS total
	               FROM orders GROUP BY 1) o ON o.c = f.customer_id
	  LEFT JOIN (SELECT uid AS c, max(at) AS last_at, count(*) AS n FROM events GROUP BY 1) e ON e.c = f.customer_id
$$;

CREATE FUNCTION expected_tags() RETURNS TABLE (customer_id text, tag text) LANGUAGE sql AS $$
	WITH s AS (SELECT * FROM tagscrm.settings),
	bp AS (SELECT (breakpoints).* FROM tagscrm.rfm_state),
	f AS (SELECT x.*, floor(extract(epoch FROM tagscrm.now() - x.last_order_at) / 86400) AS recency,
	             -- status: orders, and events only of the kinds in settings.status_event_kinds
	             floor(extract(epoch FROM tagscrm.now() - GREATEST(x.last_order_at,
	                 (SELECT max(e.at) FROM events e, s WHERE e.uid = x.customer_id AND e.kind = ANY (s.status_event_kinds)))) / 86400) AS idle,
	             (SELECT count(*) FROM events e, s WHERE e.uid = x.customer_id AND e.kind = s.intent_kind) AS intents,
	             (SELECT count(*) FROM events e, s WHERE e.uid = x.customer_id AND e.kind = s.review_kind) AS reviews
	        FROM expected_facts() x)
	SELECT f.customer_id,
	       CASE WHEN f.recency < bp.r_mean THEN
	                 CASE WHEN f.order_count > bp.f_mean THEN
	                      CASE WHEN f.order_total > bp.m_mean THEN 'important value customer' ELSE 'general value customer' END
	                 ELSE CASE WHEN f.order_total > bp.m_mean THEN 'important development customer' ELSE 'general development customer' END END
	            ELSE CASE WHEN f.order_count > bp.f_mean THEN
	                      CASE WHEN f.order_total > bp.m_mean THEN 'important keep customer' ELSE 'general keep customer' END
	                 ELSE CASE WHEN f.order_total > bp.m_mean THEN 'important retention customer' ELSE 'general retention customer' END END END
	  FROM f, bp WHERE f.order_count > 0 AND f.last_order_at IS NOT NULL   -- no RFM without an order time
	UNION ALL
	SELECT f.customer_id, CASE WHEN f.order_count = 0 THEN 'new customer' WHEN f.order_count = 1 THEN 'first purchase'
	                           WHEN f.order_count < s.super_orders THEN 'repeat customer' ELSE 'super customer' END
	  FROM f, s
	UNION ALL
	SELECT f.customer_id, CASE WHEN f.order_count >= s.super_orders THEN 'super client' WHEN f.order_count >= 2 THEN 'repeat deal'
	                           WHEN f.order_count = 1 THEN 'first deal' WHEN f.intents >= s.intent_events THEN 'intent'
	                           WHEN f.event_count > 0 THEN 'potential' ELSE 'stranger' END
	  FROM f, s
	UNION ALL
	SELECT f.customer_id, CASE WHEN f.idle < s.active_days THEN 'active' WHEN f.idle < s.lost_days THEN 'silent' ELSE 'lost' END
	  FROM f, s WHERE f.idle IS NOT NULL
	UNION ALL
	SELECT f.customer_id, 'level ' || (1 + (SELECT count(*) FROM unnest(s.level_thresholds) t WHERE t <=
	           s.level_per_order * f.order_count + s.level_per_amount * f.order_total + s.level_per_active_day * f.active_days
	           + s.level_per_review * f.reviews + CASE WHEN f.recency < s.level_recent_days THEN s.level_recent_bonus ELSE 0 END))
	  FROM f, s WHERE f.order_count > 0 OR f.event_count > 0
	UNION ALL
	-- loyalty: of the last n periods of t days from 2000-01-03 (UTC days), the
	-- share with an order, against 1/3 and 2/3 exactly; 0 with orders before: lapsed
	SELECT x.c, CASE WHEN x.inside = 0 THEN 'lapsed' WHEN 3 * x.inside >= 2 * s.loyalty_periods THEN 'loyal'
	                 WHEN 3 * x.inside >= s.loyalty_periods THEN 'regular' ELSE 'occasional' END || ' customer'
	  FROM s, (SELECT o.customer_id::text AS c,
	                  count(DISTINCT p.k) FILTER (WHERE p.k BETWEEN p.now_k - s.loyalty_periods + 1 AND p.now_k) AS inside,
	                  bool_or(p.k <= p.now_k - s.loyalty_periods) AS before
	             FROM orders o, s,
	                  LATERAL (SELECT floor(((o.paid_at AT TIME ZONE 'UTC')::date - date '2000-01-03') / s.loyalty_cycle_days::numeric) AS k,
	                                  floor(((tagscrm.now() AT TIME ZONE 'UTC')::date - date '2000-01-03') / s.loyalty_cycle_days::numeric) AS now_k) p
	            WHERE o.customer_id IS NOT NULL AND o.paid_at IS NOT NULL
	            GROUP BY 1) x
	 WHERE x.inside > 0 OR x.before
	UNION ALL
	SELECT c.id::text, 'gender: ' || c.gender FROM crm_customers c WHERE c.gender IS NOT NULL
	UNION ALL
	SELECT c.id::text, 'city: ' || c.city FROM crm_customers c WHERE c.city IS NOT NULL
	UNION ALL
	SELECT c.id::text, 'age ' || CASE WHEN a < 18 THEN 'under 18' WHEN a < 25 THEN '18-24' WHEN a < 35 THEN '25-34'
	                                  WHEN a < 45 THEN '35-44' WHEN a < 55 THEN '45-54' WHEN a < 65 THEN '55-64' ELSE '65+' END
	  FROM crm_customers c, LATERAL (SELECT date_part('year', age((tagscrm.now() AT TIME ZONE 'UTC')::date, c.born)) AS a) x
	 WHERE c.born IS NOT NULL
$$;

-- 'ok', or what differs (rows counted both ways)
CREATE FUNCTION check_state() RETURNS text LANGUAGE sql AS $$
	WITH have_facts AS (
		SELECT f.customer_id, f.first_order_at, f.last_order_at, f.order_count, f.order_total, f.last_event_at, f.event_count,
		       (SELECT count(*) FROM tagscrm.customer_day d WHERE d.customer_id = f.customer_id) AS active_days
		  FROM tagscrm.customer_fact f),
	have_tags AS (
		SELECT ct.customer_id, t.name AS tag FROM tagscrm.customer_tag ct JOIN tagscrm.tag t USING (tag_id)
		 WHERE ct.source IN ('model', 'trigger')),
	bad_facts AS (
		SELECT count(*) AS n FROM ((SELECT * FROM have_facts EXCEPT ALL SELECT * FROM expected_facts())
		                           UNION ALL (SELECT * FROM expected_facts() EXCEPT ALL SELECT * FROM have_facts)) x),
	bad_tags AS (
		SELECT count(*) AS n FROM ((SELECT * FROM have_tags EXCEPT ALL SELECT * FROM expected_tags())
		                           UNION ALL (SELECT * FROM expected_tags() EXCEPT ALL SELECT * FROM have_tags)) x),
	bad_overview AS (   -- the readers' view shows the model tags held
		SELECT count(*) AS n FROM tagscrm.customer_overview o
		 WHERE (o.rfm_segment, o.lifecycle, o.sales_stage, o.status, o.level, o.loyalty, o.churn_risk)
		       IS DISTINCT FROM
		       (SELECT ROW(max(t.name) FILTER (WHERE mt.model = 'rfm'), max(t.name) FILTER (WHERE mt.model = 'lifecycle'),
		               max(t.name) FILTER (WHERE mt.model = 'sales_stage'), max(t.name) FILTER (WHERE mt.model = 'status'),
		               max(t.name) FILTER (WHERE mt.model = 'level'), max(t.name) FILTER (WHERE mt.model = 'loyalty'),
		               max(t.name) FILTER (WHERE mt.model = 'churn_risk'))
		          FROM tagscrm.customer_tag ct JOIN tagscrm.model_tag mt USING (tag_id) JOIN tagscrm.tag t USING (tag_id)
		         WHERE ct.customer_id = o.customer_id)),
	missing AS (   -- every customer of a base table has facts
		SELECT count(*) AS n FROM (SELECT customer_id::text FROM orders UNION SELECT uid FROM events
		                           UNION SELECT id::text FROM crm_customers EXCEPT SELECT customer_id FROM tagscrm.customer_fact) x
		 WHERE x.customer_id IS NOT NULL)
	SELECT CASE WHEN f.n + t.n + o.n + m.n = 0 THEN 'ok'
	            ELSE format('%s fact rows, %s tag rows, %s overview rows differ, %s customers missing', f.n, t.n, o.n, m.n) END
	  FROM bad_facts f, bad_tags t, bad_overview o, missing m
$$;

SELECT check_state() AS after_watch;
SELECT count(*) AS customers, sum(order_count) AS orders, sum(event_count) AS events FROM tagscrm.customer_fact;
-- the oracle is not vacuous: it sees every model
SELECT count(DISTINCT tag) AS distinct_expected_tags FROM expected_tags();

-- single and multi-row inserts, a new customer, NULL customer and NULL time
INSERT INTO orders (customer_id, paid_at, amount) VALUES (7, '2026-06-01 11:00+00', 99.50);
INSERT INTO orders (customer_id, paid_at, amount) VALUES (501, '2026-05-20', 10), (501, '2026-05-21', 20), (NULL, '2026-05-21', 5), (502, NULL, 7);
SELECT check_state() AS after_inserts;

-- COPY: one statement, one trigger call
COPY orders (customer_id, paid_at, amount) FROM stdin;
8	2026-05-30 10:00:00+00	12.00
8	2026-05-30 11:00:00+00	13.00
9	2025-01-01 00:00:00+00	1000.00
600	2026-04-01 00:00:00+00	42.00
\.
COPY events (uid, at, kind) FROM stdin;
600	2026-05-31 00:00:00+00	consult
600	2026-05-31 01:00:00+00	consult
600	2026-05-31 02:00:00+00	consult
wm-ext-1	2026-05-31 03:00:00+00	view
\.
SELECT check_state() AS after_copy;

-- updates: amounts, times, moving orders to another customer, nothing watched, nothing at all
UPDATE orders SET amount = amount * 2 WHERE customer_id = 3;
UPDATE orders SET paid_at = paid_at - interval '100 days' WHERE customer_id = 4;
UPDATE orders SET customer_id = 5 WHERE customer_id = 6 AND amount > 200;
UPDATE events SET uid = '11' WHERE uid = '12' AND kind = 'view';
UPDATE orders SET amount = amount WHERE customer_id = 10;
UPDATE orders SET amount = 1 WHERE false;
SELECT check_state() AS after_updates;

-- deletes, including a customer's last order
DELETE FROM orders WHERE customer_id = 2 AND paid_at > '2026-01-01';
DELETE FROM orders WHERE customer_id = 501;
DELETE FROM events WHERE uid = '13';
SELECT check_state() AS after_deletes;

-- ON CONFLICT DO UPDATE fires both the INSERT and the UPDATE trigger
INSERT INTO orders (id, customer_id, paid_at, amount)
VALUES (1, 20, '2026-05-01', 77), (100000, 21, '2026-05-02', 88)
ON CONFLICT (id) DO UPDATE SET amount = EXCLUDED.amount, customer_id = EXCLUDED.customer_id;
-- MERGE: one match, one insert
MERGE INTO orders o USING (VALUES (2::bigint, 22::bigint, 5.00), (100001, 23, 6.00)) v(id, c, a) ON o.id = v.id
WHEN MATCHED THEN UPDATE SET amount = v.a
WHEN NOT MATCHED THEN INSERT (id, customer_id, paid_at, amount) VALUES (v.id, v.c, '2026-05-03', v.a);
-- a writable CTE inserting twice into the same table, and one deleting and inserting
WITH a AS (INSERT INTO orders (customer_id, paid_at, amount) VALUES (24, '2026-05-04', 1) RETURNING 1)
INSERT INTO orders (customer_id, paid_at, amount) VALUES (24, '2026-05-05', 2);
WITH d AS (DELETE FROM orders WHERE customer_id = 25 RETURNING customer_id, paid_at, amount)
INSERT INTO orders (customer_id, paid_at, amount) SELECT 26, paid_at, amount FROM d;
SELECT check_state() AS after_upsert_merge_cte;

-- attributes: update, delete, insert of customers
UPDATE crm_customers SET city = 'Chengdu', born = '2010-06-02' WHERE id = 3;
UPDATE crm_customers SET gender = NULL WHERE id = 4;
DELETE FROM crm_customers WHERE id = 5;
INSERT INTO crm_customers VALUES (700, 'female', 'Xi''an', '2000-01-01');
SELECT check_state() AS after_customers;

-- truncate rolled back leaves everything as it was; truncate committed resets
BEGIN;
TRUNCATE events;
SELECT sum(event_count) AS events_inside FROM tagscrm.customer_fact;
ROLLBACK;
SELECT check_state() AS after_truncate_rollback, sum(event_count) AS events FROM tagscrm.customer_fact;
TRUNCATE events;
SELECT check_state() AS after_truncate;
INSERT INTO events (uid, at, kind) SELECT (1 + g % 40)::text, '2026-05-01'::timestamptz + g * interval '1 hour', 'view' FROM generate_series(1, 300) g;
SELECT check_state() AS after_reload;

-- a random mix of 200 statements
DO $$
DECLARE
	i integer;
	c bigint;
BEGIN
	PERFORM setseed(0.7);
	FOR i IN 1 .. 200 LOOP
		c := 1 + floor(random() * 70);
		CASE floor(random() * 6)
		WHEN 0 THEN INSERT INTO orders (customer_id, paid_at, amount)
		            SELECT c + g % 3, '2026-06-01'::timestamptz - random() * interval '300 days', round((random() * 300)::numeric, 2)
		              FROM generate_series(1, 1 + floor(random() * 4)::integer) g;
		WHEN 1 THEN DELETE FROM orders WHERE id IN (SELECT id FROM orders WHERE customer_id = c ORDER BY id LIMIT 1);
		WHEN 2 THEN UPDATE orders SET amount = amount + 1, paid_at = paid_at + interval '1 day' WHERE customer_id = c;
		WHEN 3 THEN UPDATE orders SET customer_id = c + 1 WHERE id IN (SELECT id FROM orders WHERE customer_id = c LIMIT 1);
		WHEN 4 THEN INSERT INTO events (uid, at, kind) VALUES (c::text, '2026-06-01'::timestamptz - random() * interval '90 days',
		                                                       (ARRAY['view', 'consult', 'review'])[1 + floor(random() * 3)]);
		ELSE DELETE FROM events WHERE id IN (SELECT id FROM events WHERE uid = c::text ORDER BY id LIMIT 2);
		END CASE;
	END LOOP;
END
$$;
SELECT check_state() AS after_random_mix;

-- loads the triggers do not see (replica mode) are repaired by refresh(rebuild => true)
SET session_replication_role = replica;
INSERT INTO orders (customer_id, paid_at, amount) VALUES (30, '2026-05-31', 500), (31, '2026-05-31', 600);
DELETE FROM events WHERE uid = '14';
SET session_replication_role = origin;
SELECT check_state() <> 'ok' AS stale_after_replica_load;
SELECT tagscrm.refresh(rebuild => true, quiet => true) > 0 AS refreshed;
SELECT check_state() AS after_rebuild;

-- a rebuild from scratch gives exactly the incrementally kept facts
CREATE TEMP TABLE kept AS SELECT * FROM tagscrm.customer_fact;
INSERT INTO orders (customer_id, paid_at, amount) VALUES (40, '2026-05-31', 1), (41, '2026-05-31', 2);
DELETE FROM orders WHERE customer_id = 42;
CREATE TEMP TABLE incremental AS SELECT * FROM tagscrm.customer_fact;
SELECT tagscrm.refresh(rebuild => true, quiet => true) > 0 AS rebuilt;
-- (the facts; the copy of the model tags follows the tags, which the
-- rebuild's new RFM breakpoints may move, and check_state checks it)
CREATE TEMP VIEW facts_of AS
	SELECT customer_id, first_order_at, last_order_at, order_count, order_total, first_event_at, last_event_at,
	       event_count, in_customers, attributes, birth_date, next_change_at, rule_next_change_at
	  FROM tagscrm.customer_fact;
SELECT count(*) AS differing_fact_rows FROM (
	(SELECT customer_id, first_order_at, last_order_at, order_count, order_total, first_event_at, last_event_at,
	        event_count, in_customers, attributes, birth_date, next_change_at, rule_next_change_at
	   FROM incremental EXCEPT ALL SELECT * FROM facts_of)
	UNION ALL (SELECT * FROM facts_of EXCEPT ALL
	           SELECT customer_id, first_order_at, last_order_at, order_count, order_total, first_event_at, last_event_at,
	                  event_count, in_customers, attributes, birth_date, next_change_at, rule_next_change_at
	             FROM incremental)) x;
SELECT check_state() AS after_second_rebuild;

-- the nightly refresh: new breakpoints, and only customers between the old
-- and the new basis re-scored; the result equals scoring everyone
INSERT INTO orders (customer_id, paid_at, amount)
SELECT 1 + g % 50, '2026-06-01 10:00+00', 900 FROM generate_series(1, 60) g;
SELECT (SELECT (breakpoints).m_mean FROM tagscrm.rfm_state) AS m_mean_before \gset
SELECT tagscrm.refresh(quiet => true) > 0 AS nightly_refresh;
SELECT (breakpoints).m_mean > :m_mean_before AS mean_moved FROM tagscrm.rfm_state;
SELECT check_state() AS after_nightly_refresh;

-- status by purchases: by default events do not keep a customer active;
-- naming a kind in status_event_kinds makes its events count too
SELECT count(*) AS active_by_orders FROM tagscrm.customer_tag ct JOIN tagscrm.tag t USING (tag_id) WHERE t.name = 'active' \gset
UPDATE tagscrm.settings SET status_event_kinds = '{view}';
SELECT tagscrm.refresh(quiet => true, all_models => true) > 0 AS refreshed;
SELECT count(*) > :active_by_orders AS views_keep_more_active
  FROM tagscrm.customer_tag ct JOIN tagscrm.tag t USING (tag_id) WHERE t.name = 'active';
SELECT check_state() AS after_status_event_kinds;
UPDATE tagscrm.settings SET status_event_kinds = '{view,view}';
UPDATE tagscrm.settings SET status_event_kinds = '{" "}';
UPDATE tagscrm.settings SET status_event_kinds = '{view,NULL}';
UPDATE tagscrm.settings SET status_event_kinds = '{{view},{buy}}';

-- time: the sweep moves exactly the customers that are due, and no others
SET tagscrm.clock_override = '2026-07-15 12:00:00+00';
SELECT check_state() <> 'ok' AS stale_before_sweep;
SELECT count(*) AS due FROM tagscrm.customer_fact WHERE next_change_at <= tagscrm.now();
CREATE TEMP TABLE before_sweep AS SELECT customer_id, tag_id FROM tagscrm.customer_tag;
CREATE TEMP TABLE due AS SELECT customer_id FROM tagscrm.customer_fact WHERE next_change_at <= tagscrm.now();
SELECT tagscrm.sweep() AS swept;
SELECT check_state() AS after_sweep;
SELECT count(DISTINCT x.customer_id) AS changed_customers,
       count(DISTINCT x.customer_id) FILTER (WHERE x.customer_id NOT IN (SELECT customer_id FROM due)) AS changed_but_not_due
  FROM ((SELECT customer_id, tag_id FROM before_sweep EXCEPT SELECT customer_id, tag_id FROM tagscrm.customer_tag)
        UNION (SELECT customer_id, tag_id FROM tagscrm.customer_tag EXCEPT SELECT customer_id, tag_id FROM before_sweep)) x;
SELECT tagscrm.sweep() AS swept_again;
-- a year later, with no sweep in between: nothing is missed
SET tagscrm.clock_override = '2027-07-15 12:00:00+00';
SELECT tagscrm.sweep() > 0 AS swept_a_year_later;
SELECT check_state() AS after_late_sweep;
SELECT tag, count(*) FROM tagscrm.customer_tags WHERE group_name = 'customer status' GROUP BY 1 ORDER BY 1;

-- Bulk statements (more than settings.bulk_rows rows) only queue their
-- customers; the background applier brings them up to date once the
-- statement commits, or apply_pending() at once.  The applier reads the
-- clock from the database's settings.
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET tagscrm.clock_override = %L', current_database(),
                           current_setting('tagscrm.clock_override')); END $$;
UPDATE tagscrm.settings SET bulk_rows = 3;
BEGIN;
INSERT INTO orders (customer_id, paid_at, amount)
SELECT 700 + g % 4, '2027-07-01 00:00+00'::timestamptz + g * interval '1 day', g FROM generate_series(1, 8) g;
SELECT source, statement, customers FROM tagscrm.pending_changes;
SELECT count(*) AS facts_yet FROM tagscrm.customer_fact WHERE customer_id IN ('700', '701', '702', '703');
SELECT check_state() <> 'ok' AS stale_before_applying;
SELECT tagscrm.apply_pending() AS applied;
SELECT check_state() AS after_bulk_insert_applied;
COMMIT;
-- a recompute that reads a queued insert's rows (here a small delete of one
-- of its customers) means the insert must not be added again as a delta
BEGIN;
INSERT INTO orders (customer_id, paid_at, amount)
SELECT 720 + g % 2, '2027-07-01 00:00+00'::timestamptz + g * interval '1 day', g FROM generate_series(1, 6) g;
DELETE FROM orders WHERE customer_id = 720 AND amount = 2;
SELECT count(*) AS logged_recomputes FROM tagscrm.recompute_log;
SELECT tagscrm.apply_pending() AS applied;
SELECT check_state() AS after_insert_recomputed_before_applying;
SELECT count(*) AS logged_recomputes_left FROM tagscrm.recompute_log;
COMMIT;
-- a rolled back bulk statement leaves nothing queued
BEGIN;
DELETE FROM orders WHERE customer_id IN (700, 701);
ROLLBACK;
SELECT count(*) AS pending_after_rollback FROM tagscrm.pending_changes;
-- in the background, mixed with a small statement on the same customers;
-- history names the role that wrote the statements
CREATE ROLE regress_bulk_loader;
GRANT SELECT, INSERT, UPDATE, DELETE ON orders, events TO regress_bulk_loader;
GRANT USAGE ON SEQUENCE orders_id_seq, events_id_seq TO regress_bulk_loader;
SELECT max(history_id) AS history_mark FROM tagscrm.tag_history \gset
SET ROLE regress_bulk_loader;
UPDATE orders SET amount = amount + 1, paid_at = paid_at - interval '300 days' WHERE customer_id IN (700, 701);
DELETE FROM orders WHERE customer_id = 702;
INSERT INTO events (uid, at, kind)
SELECT (700 + g % 5)::text, '2027-07-10 00:00+00'::timestamptz + g * interval '1 hour', 'view' FROM generate_series(1, 10) g;
RESET ROLE;
DO $$
BEGIN
	FOR i IN 1..600 LOOP   -- at most a minute
		EXIT WHEN NOT EXISTS (SELECT FROM tagscrm.pending_customers);
		PERFORM pg_sleep(0.1);
	END LOOP;
END $$;
SELECT count(*) AS still_pending FROM tagscrm.pending_changes;
SELECT check_state() AS after_background_apply;
SELECT changed_by, count(*) > 0 AS changes FROM tagscrm.tag_history WHERE history_id > :history_mark GROUP BY 1;
-- refresh(rebuild) covers what is queued; bulk_rows = NULL applies everything in the statement
BEGIN;
INSERT INTO orders (customer_id, paid_at, amount) SELECT 710, '2027-07-02 00:00+00', g FROM generate_series(1, 5) g;
SELECT tagscrm.refresh(rebuild => true, quiet => true) > 0 AS rebuilt;
SELECT count(*) AS pending_after_rebuild FROM tagscrm.pending_changes;
COMMIT;
UPDATE tagscrm.settings SET bulk_rows = NULL;
INSERT INTO orders (customer_id, paid_at, amount) SELECT 711, '2027-07-03 00:00+00', g FROM generate_series(1, 50) g;
SELECT count(*) AS pending_without_bulk FROM tagscrm.pending_changes;
SELECT check_state() AS after_bulk_in_statement;
UPDATE tagscrm.settings SET bulk_rows = DEFAULT;
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I RESET tagscrm.clock_override', current_database()); END $$;
REVOKE ALL ON orders, events FROM regress_bulk_loader;
REVOKE ALL ON SEQUENCE orders_id_seq, events_id_seq FROM regress_bulk_loader;
DROP ROLE regress_bulk_loader;

-- a long job cancelled (here by statement_timeout; 1 ms is shorter than any
-- rebuild on any machine) leaves nothing half done
SET statement_timeout = '1ms';
SELECT tagscrm.refresh(rebuild => true, quiet => true);
RESET statement_timeout;
SELECT check_state() AS after_cancelled_rebuild;

-- history: every model change is there, with source and reason
SELECT action, source, count(*) > 0 AS present FROM tagscrm.customer_tag_history GROUP BY 1, 2 ORDER BY 1, 2;

DROP TABLE orders, events, crm_customers;
DROP FUNCTION check_state(), expected_tags(), expected_facts();
