-- Layers over time: record_history(), tag_size_history, segment_size_history,
-- movement() and movement_members().  A hand-worked example first; then
-- random tags and random changes over 14 recordings, where every size, every
-- cell of every movement matrix between any two recordings and the members of
-- cells must equal the same question asked in plain SQL of copies of
-- customer_tag taken at each recording; then retention, the model layers
-- through refresh(), and bad input.
DROP EXTENSION tagscrm CASCADE;
CREATE EXTENSION tagscrm;
SET tagscrm.clock_override = '2026-03-01 03:00:00+00';
SET client_min_messages = warning;
SET TimeZone = 'UTC';
\set VERBOSITY default
\set SHOW_CONTEXT never

-- ---------------------------------------------------------------------------
-- By hand: five customers in an exclusive tier group, two recordings
-- ---------------------------------------------------------------------------
SELECT tagscrm.create_tag_group('tier', 'value', exclusive => true) > 0 AS tier;
SELECT count(tagscrm.create_tag(t, 'tier')) AS tags FROM unnest(ARRAY['gold', 'silver', 'bronze']) t;
SELECT count(tagscrm.tag_customer(c, t)) AS tagged
  FROM (VALUES ('ann', 'gold'), ('bob', 'gold'), ('cat', 'silver'), ('dan', 'bronze')) v(c, t);
SELECT tagscrm.define_segment('shiny', $$tag('gold') or tag('silver')$$);
SELECT tagscrm.record_history() AS first_recording;
-- a day later: ann goes down to silver, dan leaves the tiers, eve joins bronze
SET tagscrm.clock_override = '2026-03-02 03:00:00+00';
SELECT tagscrm.tag_customer('ann', 'silver'), tagscrm.untag_customer('dan', 'bronze'), tagscrm.tag_customer('eve', 'bronze');
SELECT tagscrm.record_history() AS second_recording;
SELECT * FROM tagscrm.tag_size_history ORDER BY recorded_at, tag;
SELECT * FROM tagscrm.segment_size_history ORDER BY recorded_at, segment;
-- stayed on the diagonal; ann gold -> silver; dan bronze -> none; eve none -> bronze
SELECT from_tag, to_tag, customers FROM tagscrm.movement('tier', '2026-03-01 12:00', '2026-03-02 12:00');
SELECT tagscrm.movement_members('tier', '2026-03-01 12:00', '2026-03-02 12:00', 'gold', 'silver') AS gold_to_silver;
SELECT tagscrm.movement_members('tier', '2026-03-01 12:00', '2026-03-02 12:00', 'gold', 'gold') AS stayed_gold;
SELECT tagscrm.movement_members('tier', '2026-03-01 12:00', '2026-03-02 12:00', 'bronze', NULL) AS left_the_tiers;
SELECT tagscrm.movement_members('tier', '2026-03-01 12:00', '2026-03-02 12:00', NULL, 'Bronze') AS joined_the_tiers;
-- the moments pick the latest recording at or before them
SELECT DISTINCT from_recorded_at, to_recorded_at FROM tagscrm.movement('tier', '2026-03-01 03:00', '2026-03-01 23:59');
-- the second recording stores only the changes; the first the full sets
SELECT h.recording_id, t.name, h.customers, h.since_full, h.members IS NOT NULL AS full_set,
       tagscrm.customer_set_cardinality(h.added) AS added, tagscrm.customer_set_cardinality(h.removed) AS removed
  FROM tagscrm.history_tag h JOIN tagscrm.tag t USING (tag_id) ORDER BY 1, 2;
-- a second recording at the same moment replaces the first of that moment
SELECT tagscrm.tag_customer('fay', 'gold') AS fay_joins;
SELECT tagscrm.record_history() > 2 AS replaced;
SELECT count(*) AS recordings FROM tagscrm.history_recording;
SELECT from_tag, to_tag, customers FROM tagscrm.movement('tier', '2026-03-01 04:00', '2026-03-02 12:00') WHERE from_tag IS NULL;
-- a clock set back records nothing
SET tagscrm.clock_override = '2026-03-01 12:00:00+00';
SET client_min_messages = notice;
SELECT tagscrm.record_history() IS NULL AS not_recorded;
SET client_min_messages = warning;

-- ---------------------------------------------------------------------------
-- Random: 420 customers, two exclusive groups and a non-exclusive one; 14
-- recordings a day apart with random moves, removals, new customers, a
-- retired and a merged tag; a full set every 4 recordings.  After each
-- recording, customer_tag is copied (snap) and each segment counted in plain
-- SQL (snap_segment).
-- ---------------------------------------------------------------------------
DROP EXTENSION tagscrm CASCADE;
CREATE EXTENSION tagscrm;
SET tagscrm.clock_override = '2026-04-01 03:00:00+00';
UPDATE tagscrm.history_state SET snapshot_every = 4;
SELECT setseed(0.15);
SELECT tagscrm.create_tag_group('value', 'value', exclusive => true) > 0 AS value_group,
       tagscrm.create_tag_group('stage', 'behaviour', exclusive => true) > 0 AS stage_group,
       tagscrm.create_tag_group('interests', 'interest') > 0 AS interests_group;
SELECT count(tagscrm.create_tag(t, g)) AS tags
  FROM (VALUES ('v1', 'value'), ('v2', 'value'), ('v3', 'value'), ('v4', 'value'),
               ('s1', 'stage'), ('s2', 'stage'), ('s3', 'stage'),
               ('garden', 'interests'), ('kitchen', 'interests'), ('books', 'interests'), ('toys', 'interests')) v(t, g);
SELECT tagscrm.define_segment('green cooks', $$tag('garden') and tag('kitchen')$$),
       tagscrm.define_segment('top', $$tag('v4') or tag('s3')$$);
CREATE TABLE snap (recording integer, recorded_at timestamptz, customer_id text, tag_id integer);
CREATE TABLE snap_segment (recording integer, segment text, customers bigint);
CREATE FUNCTION pg_temp.record_and_snap() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
	r integer := tagscrm.record_history();
BEGIN
	INSERT INTO snap SELECT r, tagscrm.now(), ct.customer_id, ct.tag_id FROM tagscrm.customer_tag ct;
	INSERT INTO snap_segment
	SELECT r, 'green cooks', count(*) FROM (SELECT ct.customer_id FROM tagscrm.customer_tag ct JOIN tagscrm.tag t USING (tag_id)
	                                        WHERE t.name IN ('garden', 'kitchen') GROUP BY 1 HAVING count(*) = 2) x
	UNION ALL
	SELECT r, 'top', count(DISTINCT ct.customer_id) FROM tagscrm.customer_tag ct JOIN tagscrm.tag t USING (tag_id)
	 WHERE t.name IN ('v4', 's3');
	RETURN r;
END
$$;
-- random (customer, tag) pairs, applied as an import; in an exclusive group a
-- new tag replaces the customer's other one
CREATE FUNCTION pg_temp.random_tags(customers integer, share float8) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM tagscrm.import_tag_rows('random',
		array_agg(p.c ORDER BY p.c, p.t), array_agg(p.t ORDER BY p.c, p.t), NULL, NULL)
	  FROM (SELECT DISTINCT ON (c.c, g.g) c.c, g.tags[1 + floor(random() * cardinality(g.tags))::integer] AS t
	          FROM (SELECT 'c' || lpad(i::text, 4, '0') AS c FROM generate_series(1, customers) i) c
	         CROSS JOIN (VALUES (1, ARRAY['v1', 'v2', 'v3', 'v4']), (2, ARRAY['s1', 's2', 's3']),
	                            (3, ARRAY['garden', 'kitchen', 'books', 'toys']), (4, ARRAY['garden', 'kitchen', 'books', 'toys'])) g(g, tags)
	         WHERE random() + 0 * length(c.c) < share
	           AND EXISTS (SELECT FROM tagscrm.tag t WHERE t.status = 'active' AND t.name = ANY (g.tags))) p
	 WHERE EXISTS (SELECT FROM tagscrm.tag t WHERE t.name = p.t AND t.status = 'active');
END
$$;
SELECT pg_temp.random_tags(400, 0.8);
SELECT pg_temp.record_and_snap() AS recording;
DO $$
DECLARE
	day integer;
BEGIN
	FOR day IN 2 .. 14 LOOP
		PERFORM set_config('tagscrm.clock_override', ('2026-04-01 03:00:00+00'::timestamptz + (day - 1) * interval '1 day')::text, false);
		-- a few per cent move, some leave a group, a few new customers come
		PERFORM pg_temp.random_tags(400 + day * 2, 0.06);
		PERFORM tagscrm.untag_customer(ct.customer_id, t.name)
		   FROM tagscrm.customer_tag ct JOIN tagscrm.tag t USING (tag_id)
		  WHERE random() < 0.02 ORDER BY ct.customer_id, t.name;
		IF day = 6 THEN
			PERFORM tagscrm.retire_tag('toys');                -- its holders lose it
		ELSIF day = 9 THEN
			PERFORM tagscrm.merge_tags('books', 'garden');     -- books' holders get garden
		ELSIF day = 11 THEN
			PERFORM tagscrm.untag_customer(ct.customer_id, 'v2') FROM tagscrm.customer_tag ct JOIN tagscrm.tag t USING (tag_id)
			 WHERE t.name = 'v2';                               -- v2 empties, then fills again
		END IF;
		PERFORM pg_temp.record_and_snap();
	END LOOP;
END
$$;
SELECT (SELECT count(*) FROM tagscrm.history_recording) AS recordings, (SELECT count(DISTINCT recording) FROM snap) AS snapshots;
SELECT count(*) FILTER (WHERE since_full = 0) > 20 AS full_sets, count(*) FILTER (WHERE since_full > 0) > 60 AS change_rows,
       max(since_full) AS longest_chain
  FROM tagscrm.history_tag;

-- every size: each tag at each recording (no row: 0), each segment
SELECT count(*) AS tag_sizes_checked, count(*) FILTER (WHERE got IS DISTINCT FROM want) AS tag_sizes_wrong
  FROM (SELECT r.recording_id, t.tag_id,
               COALESCE((SELECT h.customers FROM tagscrm.tag_size_history h WHERE h.recorded_at = r.recorded_at AND h.tag = t.name), 0) AS got,
               (SELECT count(*) FROM snap s WHERE s.recording = r.recording_id AND s.tag_id = t.tag_id) AS want
          FROM tagscrm.history_recording r CROSS JOIN tagscrm.tag t) x;
SELECT count(*) AS segment_sizes_checked, count(*) FILTER (WHERE h.customers IS DISTINCT FROM s.customers) AS segment_sizes_wrong
  FROM snap_segment s JOIN tagscrm.history_recording r ON r.recording_id = s.recording
  LEFT JOIN tagscrm.segment_size_history h ON h.recorded_at = r.recorded_at AND h.segment = s.segment;
-- every tag's set at every recording is exactly its holders' keys then
SELECT count(*) AS sets_checked,
       count(*) FILTER (WHERE NOT tagscrm.history_set(t.tag_id, r.recording_id) OPERATOR(tagscrm.=)
                          COALESCE((SELECT tagscrm.customer_set_agg(k.key) FROM snap s JOIN tagscrm.history_key k USING (customer_id)
                                     WHERE s.recording = r.recording_id AND s.tag_id = t.tag_id), '{}')) AS sets_wrong
  FROM tagscrm.history_recording r CROSS JOIN tagscrm.tag t;

-- The movement matrix in plain SQL, from the copies: customers holding
-- from_tag at a and to_tag at b; NULL: none of the group's tags.
CREATE FUNCTION pg_temp.plain_movement(layer text, a integer, b integer)
RETURNS TABLE (from_tag text, to_tag text, customers bigint) LANGUAGE sql AS $$
	WITH g AS (SELECT t.tag_id, t.name FROM tagscrm.tag t JOIN tagscrm.tag_group g ON g.group_id = t.group_id WHERE g.name = layer),
	sa AS (SELECT s.customer_id, g.name FROM snap s JOIN g USING (tag_id) WHERE s.recording = a),
	sb AS (SELECT s.customer_id, g.name FROM snap s JOIN g USING (tag_id) WHERE s.recording = b)
	SELECT sa.name, sb.name, count(*) FROM sa JOIN sb USING (customer_id) GROUP BY 1, 2
	UNION ALL
	SELECT sa.name, NULL, count(*) FROM sa WHERE sa.customer_id NOT IN (SELECT customer_id FROM sb) GROUP BY 1
	UNION ALL
	SELECT NULL, sb.name, count(*) FROM sb WHERE sb.customer_id NOT IN (SELECT customer_id FROM sa) GROUP BY 2
$$;
CREATE FUNCTION pg_temp.plain_members(layer text, a integer, b integer, from_tag text, to_tag text) RETURNS SETOF text LANGUAGE sql AS $$
	WITH g AS (SELECT t.tag_id, t.name FROM tagscrm.tag t JOIN tagscrm.tag_group g ON g.group_id = t.group_id WHERE g.name = layer),
	sa AS (SELECT s.customer_id, g.name FROM snap s JOIN g USING (tag_id) WHERE s.recording = a),
	sb AS (SELECT s.customer_id, g.name FROM snap s JOIN g USING (tag_id) WHERE s.recording = b)
	SELECT c.customer_id FROM (SELECT DISTINCT customer_id FROM snap) c
	 WHERE CASE WHEN from_tag IS NULL THEN NOT EXISTS (SELECT FROM sa WHERE sa.customer_id = c.customer_id)
	            ELSE EXISTS (SELECT FROM sa WHERE sa.customer_id = c.customer_id AND sa.name = from_tag) END
	   AND CASE WHEN to_tag IS NULL THEN NOT EXISTS (SELECT FROM sb WHERE sb.customer_id = c.customer_id)
	            ELSE EXISTS (SELECT FROM sb WHERE sb.customer_id = c.customer_id AND sb.name = to_tag) END
	 ORDER BY 1
$$;
-- every pair of recordings (a <= b), asked at a moment between recordings,
-- for each group: the same cells, both ways
CREATE TABLE pair AS
SELECT ra.recording_id AS a, rb.recording_id AS b, ra.recorded_at + interval '5 hours' AS from_at, rb.recorded_at + interval '23 hours' AS to_at
  FROM tagscrm.history_recording ra JOIN tagscrm.history_recording rb ON ra.recording_id <= rb.recording_id;
SELECT l.layer, count(*) AS pairs,
       count(*) FILTER (WHERE EXISTS (SELECT m.from_tag, m.to_tag, m.customers FROM tagscrm.movement(l.layer, p.from_at, p.to_at) m
                                      EXCEPT SELECT * FROM pg_temp.plain_movement(l.layer, p.a, p.b))
                           OR EXISTS (SELECT * FROM pg_temp.plain_movement(l.layer, p.a, p.b)
                                      EXCEPT SELECT m.from_tag, m.to_tag, m.customers FROM tagscrm.movement(l.layer, p.from_at, p.to_at) m))
         AS matrices_wrong,
       sum((SELECT count(*) FROM pg_temp.plain_movement(l.layer, p.a, p.b))) AS cells,
       sum((SELECT count(*) FROM pg_temp.plain_movement(l.layer, p.a, p.b) m WHERE m.from_tag IS DISTINCT FROM m.to_tag)) AS moving_cells
  FROM pair p CROSS JOIN (VALUES ('value'), ('stage'), ('interests')) l(layer)
 GROUP BY 1 ORDER BY 1;
-- the members of every cell of three pairs, whole and in pages of 7
SELECT count(*) AS cells, count(*) FILTER (WHERE whole IS DISTINCT FROM want) AS members_wrong,
       count(*) FILTER (WHERE paged IS DISTINCT FROM want) AS pages_wrong, sum(cardinality(want)) AS members
  FROM (SELECT c.from_tag, c.to_tag,
               ARRAY(SELECT tagscrm.movement_members(l.layer, p.from_at, p.to_at, c.from_tag, c.to_tag, page_size => 100000)) AS whole,
               ARRAY(SELECT pg_temp.plain_members(l.layer, p.a, p.b, c.from_tag, c.to_tag)) AS want,
               (WITH RECURSIVE pg(n, last, ids) AS (
                    SELECT 0, NULL::text, '{}'::text[]
                    UNION ALL
                    SELECT pg.n + 1, x.ids[cardinality(x.ids)], pg.ids || x.ids
                      FROM pg, LATERAL (SELECT ARRAY(SELECT tagscrm.movement_members(l.layer, p.from_at, p.to_at, c.from_tag, c.to_tag,
                                                                                    pg.last, 7)) AS ids) x
                     WHERE (pg.n = 0 OR pg.last IS NOT NULL) AND pg.n < 100)
                SELECT ids FROM pg ORDER BY n DESC LIMIT 1) AS paged
          FROM pair p CROSS JOIN (VALUES ('value'), ('stage'), ('interests')) l(layer),
               LATERAL pg_temp.plain_movement(l.layer, p.a, p.b) c
         WHERE (p.a, p.b) IN ((1, 14), (3, 8), (13, 14))) x;

-- Retention: keep 5 days.  The next recording drops the older ones; the
-- oldest kept holds full sets, and every pair left still equals plain SQL.
SELECT tagscrm.set_history_retention('5 days');
SET tagscrm.clock_override = '2026-04-15 03:00:00+00';
SELECT pg_temp.random_tags(420, 0.05);
SELECT pg_temp.record_and_snap() AS recording;
SELECT count(*) AS recordings, min(recorded_at) AS oldest FROM tagscrm.history_recording;
SELECT bool_and(since_full = 0) AS oldest_is_full FROM tagscrm.history_tag
 WHERE recording_id = (SELECT min(recording_id) FROM tagscrm.history_recording);
DELETE FROM pair;
INSERT INTO pair
SELECT ra.recording_id, rb.recording_id, ra.recorded_at, rb.recorded_at
  FROM tagscrm.history_recording ra JOIN tagscrm.history_recording rb ON ra.recording_id <= rb.recording_id;
SELECT count(*) AS pairs_after_retention,
       count(*) FILTER (WHERE EXISTS (SELECT m.from_tag, m.to_tag, m.customers FROM tagscrm.movement(l.layer, p.from_at, p.to_at) m
                                      EXCEPT SELECT * FROM pg_temp.plain_movement(l.layer, p.a, p.b))
                           OR EXISTS (SELECT * FROM pg_temp.plain_movement(l.layer, p.a, p.b)
                                      EXCEPT SELECT m.from_tag, m.to_tag, m.customers FROM tagscrm.movement(l.layer, p.from_at, p.to_at) m))
         AS matrices_wrong
  FROM pair p CROSS JOIN (VALUES ('value'), ('stage'), ('interests')) l(layer);
SELECT count(*) AS tag_sizes_checked, count(*) FILTER (WHERE got IS DISTINCT FROM want) AS tag_sizes_wrong
  FROM (SELECT COALESCE((SELECT h.customers FROM tagscrm.tag_size_history h WHERE h.recorded_at = r.recorded_at AND h.tag = t.name), 0) AS got,
               (SELECT count(*) FROM snap s WHERE s.recording = r.recording_id AND s.tag_id = t.tag_id) AS want
          FROM tagscrm.history_recording r CROSS JOIN tagscrm.tag t) x;

-- The keys were assigned anew (as a restore does; here only the epoch
-- changes and the keys stay): the next recording translates nothing, and
-- the history is as before.
UPDATE tagscrm.history_key_epoch SET epoch = gen_random_uuid();
SET tagscrm.clock_override = '2026-04-16 03:00:00+00';
SELECT pg_temp.record_and_snap() AS recording;
SELECT (SELECT key_epoch FROM tagscrm.history_state) = (SELECT epoch FROM tagscrm.history_key_epoch) AS epoch_taken,
       (SELECT count(*) FROM tagscrm.history_key) = (SELECT count(DISTINCT customer_id) FROM snap) AS every_customer_known,
       (SELECT count(*) FROM tagscrm.history_key_remap) AS remap_left;
SELECT count(*) AS pairs, count(*) FILTER (WHERE EXISTS (SELECT m.from_tag, m.to_tag, m.customers FROM tagscrm.movement('value', p.from_at, p.to_at) m
                                      EXCEPT SELECT * FROM pg_temp.plain_movement('value', p.a, p.b))) AS matrices_wrong
  FROM pair p WHERE p.a IN (SELECT recording_id FROM tagscrm.history_recording);

-- ---------------------------------------------------------------------------
-- The model layers, recorded by refresh(): RFM segment, lifecycle, status
-- ---------------------------------------------------------------------------
DROP EXTENSION tagscrm CASCADE;
CREATE EXTENSION tagscrm;
TRUNCATE snap;
SET tagscrm.clock_override = '2026-05-01 03:00:00+00';
UPDATE tagscrm.settings SET bulk_rows = NULL;
CREATE TABLE orders (id serial PRIMARY KEY, customer_id text, paid_at timestamptz, amount numeric);
INSERT INTO orders (customer_id, paid_at, amount)
SELECT 'm' || (1 + (random() * 199)::integer), '2026-01-01'::timestamptz + random() * interval '119 days', round((5 + random() * 200)::numeric, 2)
  FROM generate_series(1, 500);
SELECT tagscrm.watch_orders('orders', 'customer_id', 'paid_at', 'amount');
SELECT tagscrm.refresh(quiet => true) > 0 AS refreshed;
INSERT INTO snap SELECT 1, tagscrm.now(), customer_id, tag_id FROM tagscrm.customer_tag;
-- a month on: new orders, and time alone moves customers between statuses
SET tagscrm.clock_override = '2026-06-01 03:00:00+00';
INSERT INTO orders (customer_id, paid_at, amount)
SELECT 'm' || (1 + (random() * 249)::integer), '2026-05-01'::timestamptz + random() * interval '30 days', round((5 + random() * 200)::numeric, 2)
  FROM generate_series(1, 300);
SELECT tagscrm.refresh(quiet => true) > 0 AS refreshed;
INSERT INTO snap SELECT 2, tagscrm.now(), customer_id, tag_id FROM tagscrm.customer_tag;
SELECT count(*) AS recordings FROM tagscrm.history_recording;
SELECT l.model, g.group_name,
       (SELECT count(*) FROM tagscrm.movement(l.model, '2026-05-01 03:00', '2026-06-01 03:00')) AS cells,
       (SELECT count(*) FROM tagscrm.movement(l.model, '2026-05-01 03:00', '2026-06-01 03:00') m WHERE m.from_tag IS DISTINCT FROM m.to_tag) > 0 AS some_move,
       NOT EXISTS (SELECT m.from_tag, m.to_tag, m.customers FROM tagscrm.movement(l.model, '2026-05-01 03:00', '2026-06-01 03:00') m
                   EXCEPT SELECT * FROM pg_temp.plain_movement(g.group_name, 1, 2))
       AND NOT EXISTS (SELECT * FROM pg_temp.plain_movement(g.group_name, 1, 2)
                       EXCEPT SELECT m.from_tag, m.to_tag, m.customers FROM tagscrm.movement(l.model, '2026-05-01 03:00', '2026-06-01 03:00') m)
         AS equals_plain_sql
  FROM (VALUES ('rfm'), ('lifecycle'), ('status')) l(model)
  JOIN LATERAL (SELECT DISTINCT mg.group_name FROM tagscrm.model_groups mg WHERE mg.model = l.model) g ON true
 ORDER BY 1;
-- the group's name works as well as the model's
SELECT (SELECT array_agg(m ORDER BY m::text) FROM tagscrm.movement('customer status', '2026-05-02', '2026-06-02') m)
     = (SELECT array_agg(m ORDER BY m::text) FROM tagscrm.movement('STATUS', '2026-05-02', '2026-06-02') m) AS same_layer;
-- size of each RFM segment per day, as an analyst asks it
SELECT recorded_at::date AS day, tag AS rfm_segment, customers
     = (SELECT count(*) FROM snap s JOIN tagscrm.tag t USING (tag_id) WHERE s.recording = r.n AND t.name = h.tag) AS equals_plain_sql
  FROM tagscrm.tag_size_history h
  JOIN (SELECT recorded_at, row_number() OVER (ORDER BY recorded_at) AS n FROM tagscrm.history_recording) r USING (recorded_at)
 WHERE group_name = 'RFM segment' ORDER BY 1, 2;

-- ---------------------------------------------------------------------------
-- Bad input
-- ---------------------------------------------------------------------------
SELECT * FROM tagscrm.movement('no such layer', '2026-05-02', '2026-06-02');
SELECT * FROM tagscrm.movement(NULL, '2026-05-02', '2026-06-02');
SELECT * FROM tagscrm.movement('rfm', NULL, '2026-06-02');
SELECT * FROM tagscrm.movement('rfm', '2026-04-01', '2026-06-02');
SELECT * FROM tagscrm.movement('rfm', '2026-06-02', '2026-05-02');
SELECT * FROM tagscrm.movement_members('status', '2026-05-02', '2026-06-02', NULL, NULL);
SELECT * FROM tagscrm.movement_members('status', '2026-05-02', '2026-06-02', 'active', 'new customer');
SELECT * FROM tagscrm.movement_members('status', '2026-05-02', '2026-06-02', 'no such tag', 'lost');
SELECT * FROM tagscrm.movement_members('status', '2026-05-02', '2026-06-02', 'active', 'lost', page_size => -1);
SELECT tagscrm.set_history_retention(NULL);
SELECT tagscrm.set_history_retention('-1 day');
DROP TABLE snap, snap_segment, pair, orders;
