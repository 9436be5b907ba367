-- Segments over customer keys in several chunks of 65,536 (the first, two
-- side by side, and the last keys below 2^31) and every kind of CRoaring
-- container a set can hold there (sorted arrays, bitsets, runs), which the
-- evaluator reads chunk by chunk: counts, every member, pages across the
-- chunks' edges, segment_set and segment_overlap, equal to plain SQL over
-- customer_tag for random expressions; with the sets in their logs, folded
-- into their bases, and with new log rows over the bases.
DROP EXTENSION tagscrm CASCADE;
CREATE EXTENSION tagscrm;
SET client_min_messages = warning;
SELECT setseed(0.5);

SELECT tagscrm.create_tag_group('chunks', 'interest') > 0 AS chunks_group;
SELECT count(tagscrm.create_tag(t, 'chunks')) AS tags FROM unnest(ARRAY['dense', 'half', 'sparse', 'ranges', 'none']) t;
-- keys 1 to 9,000 (chunk 0), 130,001 to 139,000 (chunks 1 and 2: 131,072
-- starts chunk 2), 2,147,480,648 to 2,147,483,647 (chunk 32,767, the last)
INSERT INTO tagscrm.customer (customer_id, first_seen_at) SELECT 'a' || i, now() FROM generate_series(1, 9000) i;
SELECT setval('tagscrm.customer_key_seq', 130000) > 0 AS moved;
INSERT INTO tagscrm.customer (customer_id, first_seen_at) SELECT 'b' || i, now() FROM generate_series(1, 9000) i;
SELECT setval('tagscrm.customer_key_seq', 2147483647 - 3000) > 0 AS moved;
INSERT INTO tagscrm.customer (customer_id, first_seen_at) SELECT 'c' || i, now() FROM generate_series(1, 3000) i;
SELECT (SELECT min(key) FROM tagscrm.customer_key) AS first_key, (SELECT max(key) FROM tagscrm.customer_key) AS last_key,
       (SELECT count(DISTINCT key >> 16) FROM tagscrm.customer_key) AS chunks;

-- dense (80 %) and half (50 %): bitsets where a chunk has more than 4,096;
-- sparse (3 %): arrays; ranges (runs of 400 in 1,000): runs once folded
CREATE TEMP TABLE pick AS
SELECT c.customer_id, t.tag_id, t.group_id
  FROM tagscrm.customer c JOIN tagscrm.customer_key k USING (customer_id)
  JOIN tagscrm.tag t ON t.name = CASE
       WHEN t.name = 'dense' AND random() < 0.8 THEN 'dense'
       WHEN t.name = 'half' AND random() < 0.5 THEN 'half'
       WHEN t.name = 'sparse' AND random() < 0.03 THEN 'sparse'
       WHEN t.name = 'ranges' AND k.key % 1000 < 400 THEN 'ranges' END;
INSERT INTO tagscrm.customer_tag (customer_id, tag_id, group_id, source, applied_by, applied_at)
SELECT customer_id, tag_id, group_id, 'import', 'test', now() FROM pick;

-- the plain SQL of a tag, and random expressions with their plain SQL
CREATE FUNCTION pg_temp.tag_sql(t text) RETURNS text LANGUAGE sql AS $$
	SELECT format('(SELECT ct.customer_id FROM tagscrm.customer_tag ct JOIN tagscrm.tag t USING (tag_id) WHERE t.name = %L)', t)
$$;
CREATE FUNCTION pg_temp.gen(depth integer) RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
	tags constant text[] := ARRAY['dense', 'half', 'sparse', 'ranges', 'none'];
	t text;
	a text[];
	b text[];
	r float8 := random();
BEGIN
	IF depth = 0 OR r < 0.2 THEN
		IF random() < 0.1 THEN
			RETURN ARRAY[$q$group('chunks')$q$,
			             '(SELECT DISTINCT ct.customer_id FROM tagscrm.customer_tag ct JOIN tagscrm.tag t USING (tag_id) JOIN tagscrm.tag_group g ON g.group_id = t.group_id WHERE g.name = ''chunks'')'];
		END IF;
		t := tags[1 + floor(random() * 5)::integer];
		RETURN ARRAY[format('tag(%L)', t), pg_temp.tag_sql(t)];
	END IF;
	a := pg_temp.gen(depth - 1);
	IF r < 0.3 THEN
		RETURN ARRAY[format('not (%s)', a[1]), format('(SELECT customer_id FROM tagscrm.customer EXCEPT %s)', a[2])];
	END IF;
	b := pg_temp.gen(depth - 1);
	IF r < 0.55 THEN
		RETURN ARRAY[format('(%s) and (%s)', a[1], b[1]), format('(%s INTERSECT %s)', a[2], b[2])];
	ELSIF r < 0.75 THEN
		RETURN ARRAY[format('(%s) and not (%s)', a[1], b[1]), format('(%s EXCEPT %s)', a[2], b[2])];
	END IF;
	RETURN ARRAY[format('(%s) or (%s)', a[1], b[1]), format('(%s UNION %s)', a[2], b[2])];
END
$$;
CREATE TEMP TABLE expr (id integer PRIMARY KEY, e text, q text);
INSERT INTO expr SELECT i, g[1], g[2] FROM generate_series(1, 60) i, LATERAL pg_temp.gen(1 + i % 4) g;
INSERT INTO expr VALUES
	(61, $$tag('dense') and tag('half') and not tag('sparse')$$,
	     format('(%s INTERSECT %s EXCEPT %s)', pg_temp.tag_sql('dense'), pg_temp.tag_sql('half'), pg_temp.tag_sql('sparse'))),
	(62, $$not tag('ranges')$$, format('(SELECT customer_id FROM tagscrm.customer EXCEPT %s)', pg_temp.tag_sql('ranges'))),
	(63, $$tag('none') or tag('sparse')$$, format('(%s UNION %s)', pg_temp.tag_sql('none'), pg_temp.tag_sql('sparse'))),
	(64, $$not tag('none')$$, '(SELECT customer_id FROM tagscrm.customer)'),
	(65, $$tag('none') and tag('dense')$$, format('(%s INTERSECT %s)', pg_temp.tag_sql('none'), pg_temp.tag_sql('dense')));

-- every expression: count, members in key order, pages of 4,999 (which end
-- inside chunks and past their edges), the set and the overlap with 'half'
CREATE FUNCTION pg_temp.check_all() RETURNS TABLE (expressions bigint, mismatches bigint, sizes bigint)
LANGUAGE plpgsql AS $$
DECLARE
	x record;
	o record;
	want bigint;
	both_ bigint;
	half bigint := (SELECT count(*) FROM tagscrm.customer_tag ct JOIN tagscrm.tag t USING (tag_id) WHERE t.name = 'half');
	ids text[];
	paged text[];
	page text[];
	bad bigint := 0;
	sizes bigint[] := '{}';
BEGIN
	FOR x IN SELECT * FROM expr ORDER BY id LOOP
		EXECUTE format('SELECT count(*), array_agg(s.customer_id ORDER BY k.key) FROM %s s JOIN tagscrm.customer_key k USING (customer_id)', x.q)
		   INTO want, ids;
		ids := COALESCE(ids, '{}');
		EXECUTE format('SELECT count(*) FROM (%s INTERSECT %s) s', x.q, pg_temp.tag_sql('half')) INTO both_;
		paged := '{}';
		LOOP
			page := ARRAY(SELECT tagscrm.segment_members(x.e, paged[cardinality(paged)], 4999));
			EXIT WHEN cardinality(page) = 0;
			paged := paged || page;
		END LOOP;
		SELECT * INTO o FROM tagscrm.segment_overlap(x.e, $q$tag('half')$q$);
		IF tagscrm.segment_count(x.e) <> want
		   OR ARRAY(SELECT tagscrm.segment_members(x.e, NULL, 100000)) <> ids
		   OR paged <> ids
		   OR tagscrm.customer_set_cardinality(tagscrm.segment_set(x.e)) <> want
		   OR (o.both_count, o.a_only, o.b_only) <> (both_, want - both_, half - both_) THEN
			bad := bad + 1;
			RAISE WARNING 'mismatch: % (want %, count %)', x.e, want, tagscrm.segment_count(x.e);
		END IF;
		sizes := sizes || want;
	END LOOP;
	RETURN QUERY SELECT (SELECT count(*) FROM expr), bad, (SELECT count(DISTINCT s) FROM unnest(sizes) s);
END
$$;

-- the sets in their logs (nothing folded yet)
SELECT (SELECT count(*) FROM tagscrm.tag_set_base WHERE tag_id > 0) AS bases, (SELECT count(*) > 0 FROM tagscrm.tag_set_log) AS logged;
SELECT * FROM pg_temp.check_all();
-- folded into their bases (run containers for the ranges)
SELECT tagscrm.segment_compact() >= 0 AS compacted;
SELECT (SELECT count(*) FROM tagscrm.tag_set_base WHERE tag_id > 0) AS bases, (SELECT count(*) FROM tagscrm.tag_set_log) AS log_rows;
SELECT * FROM pg_temp.check_all();
-- new log rows over the bases: customers out of and into tags, by hand
SELECT count(tagscrm.untag_customer(customer_id, 'dense')) AS untagged
  FROM (SELECT customer_id FROM pick p JOIN tagscrm.tag t USING (tag_id) WHERE t.name = 'dense' AND random() < 0.01) x;
SELECT count(tagscrm.tag_customer(c.customer_id, 'ranges')) AS tagged
  FROM tagscrm.customer c WHERE random() < 0.01 AND NOT EXISTS (
       SELECT FROM tagscrm.customer_tag ct JOIN tagscrm.tag t USING (tag_id) WHERE t.name = 'ranges' AND ct.customer_id = c.customer_id);
SELECT (SELECT count(*) > 0 FROM tagscrm.tag_set_log) AS logged;
SELECT * FROM pg_temp.check_all();
-- the last key, as the page's after: nothing after it
SELECT count(*) AS after_last FROM tagscrm.segment_members($$not tag('none')$$,
       (SELECT customer_id FROM tagscrm.customer_key WHERE key = 2147483647), 10);
