-- Segments: the customer_set type against plain SQL over int arrays; random
-- expressions over random tag assignments of 3000 customers, whose
-- segment_count and segment_members must equal the same question asked in
-- plain SQL over customer_tag, after every kind of tag change and after
-- compaction; the parser's errors and limits.
DROP EXTENSION tagscrm CASCADE;
CREATE EXTENSION tagscrm;
SET tagscrm.clock_override = '2026-06-01 00:00:00+00';
SET client_min_messages = warning;
SET TimeZone = 'UTC';
\set VERBOSITY default
\set SHOW_CONTEXT never

-- ---------------------------------------------------------------------------
-- customer_set: text I/O, operators, aggregates
-- ---------------------------------------------------------------------------
SELECT '{7,1,5,5}'::tagscrm.customer_set AS s, '{}'::tagscrm.customer_set AS empty,
       ' { 0 , 2147483647 } '::tagscrm.customer_set AS bounds;
SELECT '{1,}'::tagscrm.customer_set;
SELECT '{1 2}'::tagscrm.customer_set;
SELECT '1,2'::tagscrm.customer_set;
SELECT '{2147483648}'::tagscrm.customer_set;
SELECT '{-3}'::tagscrm.customer_set;
SELECT '{1}x'::tagscrm.customer_set;
SELECT tagscrm.customer_set(ARRAY[3, NULL, 1]) AS from_array,
       tagscrm.customer_set_contains('{1,5}', 5) AS has_5, tagscrm.customer_set_contains('{1,5}', -5) AS has_minus_5,
       '{1,5}'::tagscrm.customer_set OPERATOR(tagscrm.@>) 1 AS op_contains,
       '{1,2}'::tagscrm.customer_set OPERATOR(tagscrm.=) '{2,1}' AS eq;

-- random sets against the same operation on arrays in plain SQL; a dense run
-- (a run container) and values past 65535 (several containers) included
SELECT setseed(0.14);
CREATE TEMP TABLE pairs AS
SELECT i, ARRAY(SELECT DISTINCT (random() * CASE i % 3 WHEN 0 THEN 100 WHEN 1 THEN 200000 ELSE 5000000 END)::integer
                  FROM generate_series(1, (random() * 3000)::integer)) || CASE WHEN i % 4 = 0 THEN ARRAY(SELECT generate_series(70000, 80000)) ELSE '{}' END AS a,
          ARRAY(SELECT DISTINCT (random() * CASE i % 2 WHEN 0 THEN 100 ELSE 200000 END)::integer
                  FROM generate_series(1, (random() * 3000)::integer)) AS b
  FROM generate_series(1, 60) i;
SELECT count(*) AS pairs,
       count(*) FILTER (WHERE ARRAY(SELECT tagscrm.customer_set_keys(tagscrm.customer_set(a) OPERATOR(tagscrm.&) tagscrm.customer_set(b)))
                              = ARRAY(SELECT x FROM (SELECT unnest(a) INTERSECT SELECT unnest(b)) s(x) ORDER BY x)) AS and_ok,
       count(*) FILTER (WHERE ARRAY(SELECT tagscrm.customer_set_keys(tagscrm.customer_set(a) OPERATOR(tagscrm.|) tagscrm.customer_set(b)))
                              = ARRAY(SELECT x FROM (SELECT unnest(a) UNION SELECT unnest(b)) s(x) ORDER BY x)) AS or_ok,
       count(*) FILTER (WHERE ARRAY(SELECT tagscrm.customer_set_keys(tagscrm.customer_set(a) OPERATOR(tagscrm.-) tagscrm.customer_set(b)))
                              = ARRAY(SELECT x FROM (SELECT unnest(a) EXCEPT SELECT unnest(b)) s(x) ORDER BY x)) AS andnot_ok,
       count(*) FILTER (WHERE tagscrm.customer_set_cardinality(tagscrm.customer_set(a)) = (SELECT count(DISTINCT x) FROM unnest(a) x)) AS cardinality_ok,
       count(*) FILTER (WHERE tagscrm.customer_set(a)::text::tagscrm.customer_set OPERATOR(tagscrm.=) tagscrm.customer_set(a)
                          AND tagscrm.customer_set(a)::text = '{' || array_to_string(ARRAY(SELECT DISTINCT x FROM unnest(a) x ORDER BY x), ',') || '}') AS text_ok,
       count(*) FILTER (WHERE tagscrm.customer_set_send(tagscrm.customer_set(a)) IS NOT NULL
                          AND tagscrm.customer_set_contains(tagscrm.customer_set(a), a[1]) IS NOT FALSE) AS send_ok,
       count(*) FILTER (WHERE cardinality(a) > 1000) AS large_sets
  FROM pairs;

-- the aggregates, serial and in parallel (forced), against plain SQL
CREATE TABLE keyed (k integer, g integer, s tagscrm.customer_set);
INSERT INTO keyed SELECT (random() * 3000000)::integer, i % 7, NULL FROM generate_series(1, 200000) i;
INSERT INTO keyed SELECT NULL, 1, NULL FROM generate_series(1, 10);
UPDATE keyed SET s = tagscrm.customer_set(ARRAY[k, k + 1, (k * 7) % 5000]) WHERE g IN (2, 3);
ANALYZE keyed;
CREATE TEMP TABLE agg_serial AS
SELECT g, tagscrm.customer_set_agg(k) AS agg, tagscrm.customer_set_union(s) AS u, tagscrm.customer_set_intersection(s) AS i
  FROM keyed GROUP BY g;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT tagscrm.customer_set_agg(k), tagscrm.customer_set_union(s), tagscrm.customer_set_intersection(s) FROM keyed;
SELECT tagscrm.customer_set_cardinality(tagscrm.customer_set_agg(k)) = (SELECT count(DISTINCT k) FROM keyed) AS parallel_agg_ok,
       tagscrm.customer_set_cardinality(tagscrm.customer_set_union(s)) =
         (SELECT count(DISTINCT x) FROM keyed, unnest(ARRAY[k, k + 1, (k * 7) % 5000]) x WHERE g IN (2, 3)) AS parallel_union_ok,
       tagscrm.customer_set_agg(k) OPERATOR(tagscrm.=) (SELECT tagscrm.customer_set_union(agg) FROM agg_serial) AS parallel_equals_serial
  FROM keyed;
-- intersection: every one of a group's sets; sets that all hold 5, 6
SELECT tagscrm.customer_set_intersection(s) AS i
  FROM (VALUES ('{1,5,6}'::tagscrm.customer_set), ('{5,6,9}'), (NULL), ('{2,5,6}')) v(s);
SELECT tagscrm.customer_set_intersection(s) IS NULL AS no_input_is_null, tagscrm.customer_set_agg(k) IS NULL AS agg_of_none
  FROM keyed WHERE false;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;
SELECT count(*) AS groups,
       count(*) FILTER (WHERE tagscrm.customer_set_cardinality(a.agg) = (SELECT count(DISTINCT k.k) FROM keyed k WHERE k.g = a.g)) AS per_group_ok,
       count(*) FILTER (WHERE a.i IS NULL OR tagscrm.customer_set_cardinality(a.i) =
         (SELECT count(*) FROM (SELECT x FROM keyed k, unnest(ARRAY[k.k, k.k + 1, (k.k * 7) % 5000]) x WHERE k.g = a.g
                                GROUP BY x HAVING count(*) = (SELECT count(*) FROM keyed k2 WHERE k2.g = a.g AND k2.s IS NOT NULL)) y)) AS intersection_ok
  FROM agg_serial a;
DROP TABLE keyed;

-- ---------------------------------------------------------------------------
-- The library and 3000 customers with random tags
-- ---------------------------------------------------------------------------
UPDATE tagscrm.settings SET bulk_rows = NULL;   -- the orders below are applied in the statement
SELECT tagscrm.create_tag_group('intent', 'behaviour', exclusive => true) > 0 AS intent,
       tagscrm.create_tag_group('interests', 'interest') > 0 AS interests,
       tagscrm.create_tag_group('channel', 'channel') > 0 AS channel,
       tagscrm.create_tag_group('lists', 'manual') > 0 AS lists,
       tagscrm.create_tag_group('empty group', 'manual') > 0 AS empty_group;
SELECT count(tagscrm.create_tag(t, g, method => m)) AS tags
  FROM (VALUES ('low intent', 'intent', 'manual'), ('mid intent', 'intent', 'manual'), ('high intent', 'intent', 'manual'),
               ('garden', 'interests', 'manual'), ('kitchen', 'interests', 'manual'), ('books', 'interests', 'manual'),
               ('toys', 'interests', 'manual'), ('music', 'interests', 'manual'), ('Sports', 'interests', 'manual'),
               ('Taobao', 'channel', 'manual'), ('JD', 'channel', 'manual'), ('WeChat', 'channel', 'manual'),
               ('newsletter', 'lists', 'import'), ('fair 2026', 'lists', 'import')) v(t, g, m);
SELECT tagscrm.add_tag_alias('cooking', 'kitchen'), tagscrm.add_tag_alias('京东', 'JD');

CREATE TABLE pick (customer_id text, tag text);
-- each tag with its own share of the customers (2% to 55%), one intent at most
INSERT INTO pick
SELECT c.id, t.name
  FROM (SELECT 'c' || lpad(i::text, 4, '0') AS id FROM generate_series(1, 3000) i) c
 CROSS JOIN (VALUES ('garden', 0.30), ('kitchen', 0.55), ('books', 0.12), ('toys', 0.02), ('music', 0.20), ('Sports', 0.08),
                    ('Taobao', 0.40), ('JD', 0.25), ('WeChat', 0.05), ('newsletter', 0.33), ('fair 2026', 0.04)) t(name, share)
 WHERE random() + 0 * length(c.id) < t.share   -- per (customer, tag): not pushed down to the VALUES
UNION ALL
SELECT c.id, (ARRAY['low intent', 'mid intent', 'high intent'])[1 + floor(random() * 3)::integer]
  FROM (SELECT 'c' || lpad(i::text, 4, '0') AS id FROM generate_series(1, 3000) i) c
 WHERE random() < 0.7;
SELECT rejected_because, count(*) FROM tagscrm.import_tags('pick') WHERE rejected_because IS NOT NULL GROUP BY 1 ORDER BY 1;
-- customers without any tag are in "not" sets too
SELECT tagscrm.tag_customer('c' || lpad(i::text, 4, '0'), 'garden') FROM generate_series(3001, 3050) i \g /dev/null
SELECT tagscrm.untag_customer('c' || lpad(i::text, 4, '0'), 'garden') FROM generate_series(3001, 3050) i \g /dev/null
SELECT count(*) AS customers, count(DISTINCT k.key) AS keys, min(k.key) AS first_key FROM tagscrm.customer c JOIN tagscrm.customer_key k USING (customer_id);

-- orders in a watched table, so that the model tags (RFM segment, lifecycle, ...) exist and change
CREATE TABLE orders (id serial PRIMARY KEY, customer_id text, paid_at timestamptz, amount numeric);
INSERT INTO orders (customer_id, paid_at, amount)
SELECT 'c' || lpad((1 + (random() * 2999)::integer)::text, 4, '0'), '2026-01-01'::timestamptz + random() * interval '150 days',
       round((5 + random() * 200)::numeric, 2)
  FROM generate_series(1, 4000);
SELECT tagscrm.watch_orders('orders', 'customer_id', 'paid_at', 'amount');
SELECT count(DISTINCT g.name) > 2 AS model_groups
  FROM tagscrm.customer_tag ct JOIN tagscrm.tag t USING (tag_id) JOIN tagscrm.tag_group g ON g.group_id = t.group_id
 WHERE t.method = 'model';

-- ---------------------------------------------------------------------------
-- Random expressions and the same question in plain SQL over customer_tag
-- ---------------------------------------------------------------------------
-- saved segments, and their plain SQL
CREATE TEMP TABLE seg_sql (name text PRIMARY KEY, sql text);
SELECT tagscrm.define_segment('gardeners', $$tag('garden') or tag('books')$$, 'outdoor and reading');
SELECT tagscrm.define_segment('keen', $$group('intent') and not tag('low intent')$$);
SELECT tagscrm.define_segment('keen gardeners', $$segment('gardeners') and segment('KEEN')$$);
-- the plain SQL of a term: the customers holding the tag the word names
-- today, as a set; and, or, not are INTERSECT, UNION and EXCEPT
CREATE FUNCTION pg_temp.tag_sql(word text) RETURNS text LANGUAGE sql IMMUTABLE
RETURN format('(SELECT ct.customer_id FROM tagscrm.customer_tag ct WHERE ct.tag_id = '
              '(SELECT COALESCE(t.merged_into, t.tag_id) FROM tagscrm.tag t WHERE lower(t.name) = lower(%1$L) '
              'UNION ALL SELECT a.tag_id FROM tagscrm.tag_alias a WHERE lower(a.alias) = lower(%1$L)))', word);
CREATE FUNCTION pg_temp.group_sql(name text) RETURNS text LANGUAGE sql IMMUTABLE
RETURN format('(SELECT DISTINCT ct.customer_id FROM tagscrm.customer_tag ct JOIN tagscrm.tag t ON t.tag_id = ct.tag_id '
              'JOIN tagscrm.tag_group g ON g.group_id = t.group_id WHERE lower(g.name) = lower(%L))', name);
CREATE FUNCTION pg_temp.not_sql(q text) RETURNS text LANGUAGE sql IMMUTABLE
RETURN format('(SELECT c.customer_id FROM tagscrm.customer c EXCEPT %s)', q);
INSERT INTO seg_sql VALUES
	('gardeners', format('(%s UNION %s)', pg_temp.tag_sql('garden'), pg_temp.tag_sql('books'))),
	('keen', format('(%s EXCEPT %s)', pg_temp.group_sql('intent'), pg_temp.tag_sql('low intent')));
INSERT INTO seg_sql SELECT 'keen gardeners', format('(%s INTERSECT %s)', (SELECT sql FROM seg_sql WHERE name = 'gardeners'),
                                                   (SELECT sql FROM seg_sql WHERE name = 'keen'));

-- a keyword or name in random letter case
CREATE FUNCTION pg_temp.anycase(s text) RETURNS text LANGUAGE sql VOLATILE
RETURN CASE (random() * 3)::integer WHEN 0 THEN upper(s) WHEN 1 THEN lower(s) ELSE s END;
-- (expression, plain SQL) of a random expression of at most depth levels
CREATE FUNCTION pg_temp.gen(depth integer) RETURNS text[] LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	r float8 := random();
	a text[];
	b text[];
	w text;
	q text;
BEGIN
	IF depth <= 0 OR r < 0.3 THEN
		r := random();
		IF r < 0.6 THEN
			SELECT x INTO w FROM (SELECT t.name FROM tagscrm.tag t UNION ALL SELECT a.alias FROM tagscrm.tag_alias a) s(x)
			 ORDER BY random() LIMIT 1;
			RETURN ARRAY[format('%s(%s)', pg_temp.anycase('tag'), quote_literal(pg_temp.anycase(w))), pg_temp.tag_sql(w)];
		ELSIF r < 0.85 THEN
			SELECT g.name INTO w FROM tagscrm.tag_group g ORDER BY random() LIMIT 1;
			RETURN ARRAY[format('%s( %s )', pg_temp.anycase('group'), quote_literal(w)), pg_temp.group_sql(w)];
		ELSE
			-- the segment's plain SQL as of the check (a segment may be redefined)
			SELECT s.name INTO w FROM seg_sql s ORDER BY random() LIMIT 1;
			RETURN ARRAY[format('segment(%s)', quote_literal(pg_temp.anycase(w))), format('<<%s>>', w)];
		END IF;
	END IF;
	r := random();
	a := pg_temp.gen(depth - 1);
	IF r < 0.2 THEN
		RETURN ARRAY[format('%s (%s)', pg_temp.anycase('not'), a[1]), pg_temp.not_sql(a[2])];
	END IF;
	b := pg_temp.gen(depth - 1);
	IF r < 0.6 THEN
		RETURN ARRAY[format('(%s) %s (%s)', a[1], pg_temp.anycase('and'), b[1]), format('(%s INTERSECT %s)', a[2], b[2])];
	ELSIF r < 0.75 THEN
		-- without parentheses: and binds tighter than or
		RETURN ARRAY[format('(%s) and (%s) or (%s)', a[1], b[1], a[1]), format('((%s INTERSECT %s) UNION %s)', a[2], b[2], a[2])];
	END IF;
	RETURN ARRAY[format('(%s)%s(%s)', a[1], pg_temp.anycase('or'), b[1]), format('(%s UNION %s)', a[2], b[2])];
END
$$;
CREATE TEMP TABLE expr (id integer PRIMARY KEY, e text, q text);
INSERT INTO expr SELECT i, g[1], g[2] FROM generate_series(1, 150) i, LATERAL pg_temp.gen(1 + i % 4) g;
INSERT INTO expr VALUES (151, $$tag('garden') and not tag('kitchen')$$, format('(%s EXCEPT %s)', pg_temp.tag_sql('garden'), pg_temp.tag_sql('kitchen'))),
                        (152, $$not tag('garden')$$, pg_temp.not_sql(pg_temp.tag_sql('garden'))),
                        (153, $$not not group('empty group')$$, '(SELECT c.customer_id FROM tagscrm.customer c WHERE false)'),
                        (154, $$not group('empty group')$$, '(SELECT c.customer_id FROM tagscrm.customer c)');

-- every expression: count and members equal to plain SQL; some paged
CREATE TEMP TABLE mismatch (round text, id integer, e text, want bigint, got bigint);
CREATE FUNCTION pg_temp.check_all(round_name text) RETURNS TABLE (round text, expressions bigint, mismatches bigint, sizes bigint, paged bigint)
LANGUAGE plpgsql AS $$
DECLARE
	x record;
	want bigint;
	ids text[];
	got_ids text[];
	page text[];
	last text;
	sizes bigint[] := '{}';
	paged bigint := 0;
BEGIN
	FOR x IN SELECT * FROM expr ORDER BY id LOOP
		SELECT string_agg(p, '' ORDER BY n) INTO x.q
		  FROM (SELECT n, CASE WHEN n % 2 = 1 THEN p ELSE (SELECT sql FROM seg_sql WHERE name = p) END
		          FROM regexp_split_to_table(x.q, '<<|>>') WITH ORDINALITY AS r(p, n)) y(n, p);
		-- members come in key order (the order customers were first seen)
		EXECUTE format('SELECT count(*), array_agg(s.customer_id ORDER BY k.key) FROM %s s JOIN tagscrm.customer_key k USING (customer_id)', x.q)
		   INTO want, ids;
		got_ids := ARRAY(SELECT tagscrm.segment_members(x.e, NULL, 100000));
		IF tagscrm.segment_count(x.e) <> want OR COALESCE(ids, '{}') <> got_ids THEN
			INSERT INTO mismatch VALUES (check_all.round_name, x.id, x.e, want, tagscrm.segment_count(x.e));
		END IF;
		sizes := sizes || want;
		IF x.id % 10 = 0 THEN
			-- pages of 97 after the last id of the page before
			got_ids := '{}';
			last := NULL;
			LOOP
				page := ARRAY(SELECT tagscrm.segment_members(x.e, last, 97));
				EXIT WHEN cardinality(page) = 0;
				got_ids := got_ids || page;
				last := page[cardinality(page)];
			END LOOP;
			IF COALESCE(ids, '{}') <> got_ids THEN
				INSERT INTO mismatch VALUES (check_all.round_name || ' paged', x.id, x.e, want, cardinality(got_ids));
			END IF;
			paged := paged + 1;
		END IF;
	END LOOP;
	RETURN QUERY SELECT check_all.round_name, (SELECT count(*) FROM expr),
	                    (SELECT count(*) FROM mismatch m WHERE m.round LIKE check_all.round_name || '%'),
	                    (SELECT count(DISTINCT s) FROM unnest(sizes) s), paged;
END
$$;
-- sizes: how many distinct answers (the expressions are not trivial)
SELECT * FROM pg_temp.check_all('initial');
SELECT tagscrm.segment_count('keen gardeners') = tagscrm.segment_count($$segment('keen gardeners')$$) AS by_name,
       (SELECT customers FROM tagscrm.segments WHERE name = 'keen') = tagscrm.segment_count($$group('intent') and not tag('low intent')$$) AS view_size;
SELECT o.both_count + o.a_only = tagscrm.segment_count('gardeners') AS a_ok, o.both_count + o.b_only = tagscrm.segment_count('keen') AS b_ok,
       o.both_count = tagscrm.segment_count('keen gardeners') AS both_ok
  FROM tagscrm.segment_overlap('gardeners', 'keen') o;

-- 1. hand tagging: random tags and untags (exclusive intents replace each other); an update is no change of membership
SELECT tagscrm.tag_customer('c0001', 'garden') IS NOT NULL AS held;
SELECT count(*) AS log_rows_before FROM tagscrm.tag_set_log \gset
SELECT tagscrm.tag_customer('c0001', 'garden', expires_at => '2027-01-01') AS updated,
       tagscrm.tag_customer('c0001', 'garden', expires_at => '2027-02-01') AS updated_again;
SELECT count(*) - :log_rows_before AS log_rows_of_the_updates FROM tagscrm.tag_set_log;
SELECT count(*) FILTER (WHERE CASE WHEN random() < 0.6
                              THEN tagscrm.tag_customer(c, t)
                              ELSE tagscrm.untag_customer(c, t) END) > 0 AS changed
  FROM (SELECT 'c' || lpad((1 + (random() * 2999)::integer)::text, 4, '0') AS c,
               (ARRAY['low intent', 'mid intent', 'high intent', 'garden', 'kitchen', 'books', 'toys', 'music', 'Sports',
                      'Taobao', 'JD', 'WeChat'])[1 + floor(random() * 12)::integer] AS t
          FROM generate_series(1, 400)) x;
SELECT * FROM pg_temp.check_all('hand tagging');

-- 2. imports, retire a tag, merge one tag into another
TRUNCATE pick;
INSERT INTO pick SELECT 'c' || lpad((1 + (random() * 3099)::integer)::text, 4, '0'), (ARRAY['newsletter', 'fair 2026', 'cooking'])[1 + i % 3]
  FROM generate_series(1, 600) i;
SELECT count(*) FILTER (WHERE rejected_because IS NOT NULL) AS rejected FROM tagscrm.import_tags('pick');
SELECT tagscrm.retire_tag('toys') > 0 AS retired, tagscrm.merge_tags('music', 'books') > 0 AS merged;
SELECT * FROM pg_temp.check_all('import, retire, merge');

-- 3. expiry: tags with an expiry, the clock moves on, expire_tags() removes them
SELECT count(tagscrm.tag_customer('c' || lpad(i::text, 4, '0'), 'WeChat', expires_at => '2026-06-01 12:00+00')) AS expiring
  FROM generate_series(1, 3000, 7) i;
SELECT * FROM pg_temp.check_all('expiry set');
SET tagscrm.clock_override = '2026-06-02 00:00:00+00';
SELECT tagscrm.expire_tags() > 0 AS expired;
SELECT * FROM pg_temp.check_all('expired');

-- 4. models: new orders, changed amounts and deleted orders move the model tags
INSERT INTO orders (customer_id, paid_at, amount)
SELECT 'c' || lpad((1 + (random() * 3049)::integer)::text, 4, '0'), '2026-05-25'::timestamptz + random() * interval '6 days', 500
  FROM generate_series(1, 300);
UPDATE orders SET amount = amount * 3 WHERE id % 11 = 0;
DELETE FROM orders WHERE id % 13 = 0;
SELECT * FROM pg_temp.check_all('orders');

-- 5. the full rebuild, then the nightly sweep (which compacts)
SELECT tagscrm.refresh(rebuild => true, quiet => true) > 0 AS rebuilt;
SELECT * FROM pg_temp.check_all('rebuild');
SELECT count(*) > 0 AS log_rows FROM tagscrm.tag_set_log;
SELECT tagscrm.sweep() >= 0 AS swept;
SELECT count(*) AS log_rows_after_sweep, (SELECT count(*) FROM tagscrm.tag_set_base) > 10 AS bases FROM tagscrm.tag_set_log;
SELECT * FROM pg_temp.check_all('compacted');

-- 6. changes after compaction, one tag compacted alone, a redefined segment
SELECT count(*) FILTER (WHERE tagscrm.untag_customer(c, 'kitchen')) > 0 AS untagged
  FROM (SELECT 'c' || lpad(i::text, 4, '0') AS c FROM generate_series(1, 3000, 3) i) x;
SELECT count(*) FILTER (WHERE tagscrm.tag_customer(c, 'high intent')) > 0 AS tagged
  FROM (SELECT 'c' || lpad(i::text, 4, '0') AS c FROM generate_series(2, 3000, 5) i) x;
SELECT tagscrm.segment_compact((SELECT tag_id FROM tagscrm.tag WHERE name = 'kitchen')) > 0 AS kitchen_compacted;
SELECT tagscrm.define_segment('keen', $$tag('high intent') or tag('JD')$$);
UPDATE seg_sql SET sql = format('(%s UNION %s)', pg_temp.tag_sql('high intent'), pg_temp.tag_sql('JD')) WHERE name = 'keen';
UPDATE seg_sql SET sql = format('(%s INTERSECT %s)', (SELECT sql FROM seg_sql WHERE name = 'gardeners'),
                                (SELECT sql FROM seg_sql WHERE name = 'keen')) WHERE name = 'keen gardeners';
SELECT * FROM pg_temp.check_all('after compaction');
-- 7. a transaction that changes tags and rolls back leaves no trace; one that compacts its own changes
BEGIN;
SELECT count(tagscrm.untag_customer(c, 'garden')) AS untag_in_rollback FROM (SELECT 'c' || lpad(i::text, 4, '0') AS c FROM generate_series(1, 3000) i) x;
ROLLBACK;
BEGIN;
SELECT count(tagscrm.tag_customer(c, 'garden')) AS tag_then_compact FROM (SELECT 'c' || lpad(i::text, 4, '0') AS c FROM generate_series(1, 300) i) x;
SELECT tagscrm.segment_compact() > 0 AS compacted;
COMMIT;
SELECT * FROM pg_temp.check_all('rollback and compaction in one transaction');
SELECT round, id, want, got, left(e, 200) AS e FROM mismatch ORDER BY round, id LIMIT 10;
-- the sample (tag_set_log_sampled, in C) is hashint8(id) & 15 = 0, for
-- ids of every size and sign; about one in 16
SELECT count(*) FILTER (WHERE tagscrm.tag_set_log_sampled(i) IS DISTINCT FROM ((hashint8(i) & 15) = 0)) AS sample_differs,
       round(count(*) FILTER (WHERE tagscrm.tag_set_log_sampled(i)) / 1000.0) AS sampled_thousands
  FROM (SELECT generate_series(-100000, 100000)::bigint AS i
        UNION ALL SELECT 9223372036854775807 - generate_series(0, 1000)
        UNION ALL SELECT -9223372036854775808 + generate_series(0, 1000)) x;
-- 8. automatic compaction (tag_set_autofold): 300 single changes to one
-- tag, each followed by the length of its log; about one log row in 16
-- (by a hash of its id) makes its writer look, and fold at 64 rows: past 64
-- the log is folded after 16 more rows on average (the longest and the
-- number of folds are printed: the ids, so the sample, are the same each run)
CREATE TEMP TABLE log_len (i integer, n bigint);
DO $$
DECLARE
	c text;
BEGIN
	FOR i IN 1 .. 300 LOOP
		c := 'c' || lpad((1 + (i * 7) % 3000)::text, 4, '0');
		IF EXISTS (SELECT FROM tagscrm.customer_tag ct JOIN tagscrm.tag t USING (tag_id) WHERE ct.customer_id = c AND t.name = 'kitchen') THEN
			PERFORM tagscrm.untag_customer(c, 'kitchen');
		ELSE
			PERFORM tagscrm.tag_customer(c, 'kitchen');
		END IF;
		INSERT INTO log_len SELECT i, count(*) FROM tagscrm.tag_set_log l JOIN tagscrm.tag t USING (tag_id) WHERE t.name = 'kitchen';
	END LOOP;
END
$$;
SELECT max(n) AS longest, count(*) FILTER (WHERE n < (SELECT p.n FROM log_len p WHERE p.i = l.i - 1)) AS folds,
       round(avg(n) FILTER (WHERE i > 64), 1) AS mean_after_the_first_64
  FROM log_len l;
-- two tags changed in turn, so that their log rows alternate: both logs are
-- folded (sampling by the id's remainder would never pick one of them)
CREATE TEMP TABLE log_len2 (i integer, tag text, n bigint);
DO $$
DECLARE
	c text;
	t text;
BEGIN
	FOR i IN 1 .. 300 LOOP
		c := 'c' || lpad((1 + (i * 11) % 3000)::text, 4, '0');
		FOREACH t IN ARRAY ARRAY['garden', 'books'] LOOP
			IF EXISTS (SELECT FROM tagscrm.customer_tag ct JOIN tagscrm.tag g USING (tag_id) WHERE ct.customer_id = c AND g.name = t) THEN
				PERFORM tagscrm.untag_customer(c, t);
			ELSE
				PERFORM tagscrm.tag_customer(c, t);
			END IF;
		END LOOP;
		INSERT INTO log_len2 SELECT i, g.name, count(l.log_id)
		  FROM tagscrm.tag g LEFT JOIN tagscrm.tag_set_log l USING (tag_id) WHERE g.name IN ('garden', 'books') GROUP BY g.name;
	END LOOP;
END
$$;
SELECT tag, max(n) < 150 AS stays_short,
       count(*) FILTER (WHERE n < (SELECT p.n FROM log_len2 p WHERE p.i = l.i - 1 AND p.tag = l.tag)) >= 2 AS folded_twice_or_more
  FROM log_len2 l GROUP BY tag ORDER BY tag;
-- in REPEATABLE READ a writer never folds (the lock could fail it): the log grows
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(tagscrm.tag_customer('c' || lpad(i::text, 4, '0'), 'WeChat')) AS tagged_in_rr FROM generate_series(1, 200) i;
SELECT count(*) >= 80 AS not_folded FROM tagscrm.tag_set_log l JOIN tagscrm.tag t USING (tag_id) WHERE t.name = 'WeChat';
COMMIT;
SELECT * FROM pg_temp.check_all('automatic compaction');
SELECT round, id, want, got, left(e, 200) AS e FROM mismatch ORDER BY round, id LIMIT 10;

-- the universe: every customer, whether or not it holds a tag
SELECT tagscrm.segment_count($$not group('empty group')$$) = (SELECT count(*) FROM tagscrm.customer) AS all_customers;

-- ---------------------------------------------------------------------------
-- Errors: position, SQLSTATE, hint
-- ---------------------------------------------------------------------------
-- each with its SQLSTATE, then as a user sees it (position under the text)
CREATE FUNCTION pg_temp.sqlstate_of(e text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	PERFORM tagscrm.segment_count(e);
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END
$$;
SELECT n, pg_temp.sqlstate_of(e) AS sqlstate FROM (VALUES
	(1, $$tag('garden') and$$),
	(2, $$tag('garden') tag('books')$$),
	(3, $$tag(garden)$$),
	(4, $$tag('garden', 'books')$$),
	(5, $$tags('garden')$$),
	(6, $$(tag('garden')$$),
	(7, $$tag("garden")$$),
	(8, $$tag('garden$$),
	(9, $$tag('garden') && tag('books')$$),
	(10, ''),
	(11, $$tag('no such tag') or tag('garden')$$),
	(12, $$tag('garden') or group('no such group')$$),
	(13, $$tag('garden') or segment('no such segment')$$),
	(14, repeat('(', 101) || $$tag('garden')$$ || repeat(')', 101)),
	(15, repeat('not ', 101) || $$tag('garden')$$),
	(16, repeat($$tag('x') or $$, 600) || $$tag('x')$$),
	(17, repeat(' ', 10001))) v(n, e) ORDER BY n;
SELECT tagscrm.segment_count($$tag('garden') and$$);
SELECT tagscrm.segment_count($$tag('garden') tag('books')$$);
SELECT tagscrm.segment_count($$tag(garden)$$);
SELECT tagscrm.segment_count($$tag('garden', 'books')$$);
SELECT tagscrm.segment_count($$tags('garden')$$);
SELECT tagscrm.segment_count($$(tag('garden')$$);
SELECT tagscrm.segment_count($$tag("garden")$$);
SELECT tagscrm.segment_count($$tag('garden$$);
SELECT tagscrm.segment_count($$tag('garden') && tag('books')$$);
SELECT tagscrm.segment_count('');
SELECT tagscrm.segment_count($$tag('no such tag') or tag('garden')$$);
SELECT tagscrm.segment_count($$tag('garden') or group('no such group')$$);
SELECT tagscrm.segment_count($$tag('garden') or segment('no such segment')$$);
SELECT tagscrm.segment_count(repeat('(', 101) || $$tag('garden')$$ || repeat(')', 101));
SELECT tagscrm.segment_count(repeat('not ', 101) || $$tag('garden')$$);
SELECT tagscrm.segment_count(repeat($$tag('x') or $$, 600) || $$tag('x')$$);
SELECT tagscrm.segment_count(repeat(' ', 10001));
-- found by test/segment_fuzz: a number, too long or out of range for the
-- shared lexer, is a syntax error of the segment language (not 22003); a
-- long name outside ASCII is clipped at a whole character in the message
-- (not replaced by a generic one)
SELECT pg_temp.sqlstate_of($$tag(1e999)$$) AS out_of_range, pg_temp.sqlstate_of('tag(' || repeat('9', 200) || ')') AS too_long;
SELECT tagscrm.segment_count($$tag('garden') or tag(1e999)$$);
SELECT tagscrm.segment_count('tag(''' || repeat('京', 100) || ''')');
SELECT tagscrm.segment_count('group(''' || repeat(chr(128512), 60) || ''')');
-- at the limits: accepted
SELECT tagscrm.segment_count(repeat('(', 100) || $$tag('garden')$$ || repeat(')', 100)) = tagscrm.segment_count($$tag('garden')$$) AS depth_100,
       tagscrm.segment_count(repeat('not not ', 50) || $$tag('garden')$$) = tagscrm.segment_count($$tag('garden')$$) AS nots_100,
       tagscrm.segment_count(repeat($$tag('garden') or $$, 499) || $$tag('garden')$$) = tagscrm.segment_count($$tag('garden')$$) AS terms_1000;
SELECT tagscrm.segment_members('gardeners', page_size => -1);
-- definitions: names that do not exist, cycles, names with parentheses, nesting
SELECT tagscrm.define_segment('broken', $$tag('no such tag')$$);
SELECT tagscrm.define_segment('gardeners', $$segment('keen gardeners')$$);
SELECT tagscrm.define_segment('self', $$segment('self')$$);
SELECT tagscrm.define_segment('odd (name)', $$tag('garden')$$);
SELECT tagscrm.define_segment('', $$tag('garden')$$);
SELECT tagscrm.drop_segment('gardeners');
SELECT tagscrm.drop_segment('no such segment');
-- a chain of segments, each naming the one before: 16 deep is the limit
DO $$
BEGIN
	PERFORM tagscrm.define_segment('chain 1', $e$tag('garden')$e$);
	FOR i IN 2 .. 20 LOOP
		BEGIN
			PERFORM tagscrm.define_segment('chain ' || i, format('segment(%L)', 'chain ' || (i - 1)));
		EXCEPTION WHEN OTHERS THEN
			RAISE WARNING 'chain %: % (%)', i, SQLERRM, SQLSTATE;
		END;
	END LOOP;
END
$$;
SELECT name FROM tagscrm.segments WHERE name LIKE 'chain%' ORDER BY length(name) DESC, name DESC LIMIT 1;
SELECT tagscrm.drop_segment('keen gardeners'), tagscrm.drop_segment('keen');
SELECT name, expression, description, customers = tagscrm.segment_count(expression) AS size_ok
  FROM tagscrm.segments WHERE name NOT LIKE 'chain%' ORDER BY name;

-- ---------------------------------------------------------------------------
-- Members come in key order, ids from this backend's cache of customer_key
-- (src/segment_keys.c): checked against plain SQL when the keys start over
-- in this transaction (TRUNCATE, the sequence set back) and after it rolls
-- back; other sessions: test/isolation/specs/segment_members_cache.spec
-- ---------------------------------------------------------------------------
CREATE FUNCTION pg_temp.members_ok(e text, tag text) RETURNS text LANGUAGE sql AS $$
	SELECT CASE WHEN ours = plain THEN 'ok' ELSE format('ours %s, plain SQL %s', ours, plain) END || ', ' || cardinality(ours)
	  FROM (SELECT ARRAY(SELECT tagscrm.segment_members(e, NULL, 100000)) AS ours,
	               ARRAY(SELECT ct.customer_id FROM tagscrm.customer_tag ct JOIN tagscrm.tag t USING (tag_id)
	                       JOIN tagscrm.customer_key k USING (customer_id) WHERE t.name = tag ORDER BY k.key) AS plain) x
$$;
SELECT pg_temp.members_ok($$tag('garden')$$, 'garden') AS warm;
BEGIN;
TRUNCATE tagscrm.customer CASCADE;
SELECT setval('tagscrm.customer_key_seq', 1, false) IS NOT NULL AS keys_start_over;
SELECT count(tagscrm.tag_customer('new ' || i, 'garden')) AS tagged FROM generate_series(1, 40) i;
SELECT pg_temp.members_ok($$tag('garden')$$, 'garden') AS after_truncate;
ROLLBACK;
SELECT pg_temp.members_ok($$tag('garden')$$, 'garden') AS after_rollback;
SELECT setval('tagscrm.customer_key_seq', (SELECT max(key) FROM tagscrm.customer_key)) IS NOT NULL AS keys_go_on;
-- decoded bases are kept by row version: a compaction rolled back, then one committed
BEGIN;
SELECT count(tagscrm.untag_customer('c' || lpad(i::text, 4, '0'), 'garden')) >= 0 AS untagged FROM generate_series(1, 600) i;
SELECT tagscrm.segment_compact((SELECT tag_id FROM tagscrm.tag WHERE name = 'garden')) > 0 AS compacted;
SELECT pg_temp.members_ok($$tag('garden')$$, 'garden') AS compacted_in_transaction;
ROLLBACK;
SELECT pg_temp.members_ok($$tag('garden')$$, 'garden') AS compaction_rolled_back;
SELECT count(tagscrm.untag_customer('c' || lpad(i::text, 4, '0'), 'garden')) >= 0 AS untagged FROM generate_series(1, 300) i;
SELECT tagscrm.segment_compact((SELECT tag_id FROM tagscrm.tag WHERE name = 'garden')) > 0 AS compacted;
SELECT pg_temp.members_ok($$tag('garden')$$, 'garden') AS compacted_and_committed;
-- pages after the key of the last id; an unknown id is refused
DO $$
DECLARE
	got text[] := '{}';
	page text[];
	last text;
BEGIN
	LOOP
		page := ARRAY(SELECT tagscrm.segment_members($e$tag('garden')$e$, last, 113));
		EXIT WHEN cardinality(page) = 0;
		got := got || page;
		last := page[cardinality(page)];
	END LOOP;
	IF got <> ARRAY(SELECT tagscrm.segment_members($e$tag('garden')$e$, NULL, 100000)) THEN
		RAISE EXCEPTION 'pages differ from the whole list';
	END IF;
END
$$;
SELECT * FROM tagscrm.segment_members($$tag('garden')$$, 'no such customer', 10);
-- a key's row cannot change: it stands for one customer for good
UPDATE tagscrm.customer_key SET key = key WHERE false;

-- ---------------------------------------------------------------------------
-- The key limit: the last key is 2147483647; past it no customer is added
-- ---------------------------------------------------------------------------
SELECT setval('tagscrm.customer_key_seq', 2147483646) IS NOT NULL AS near_the_end;
SELECT tagscrm.tag_customer('the last one', 'garden');
SELECT k.key, 'the last one' IN (SELECT tagscrm.segment_members($$tag('garden')$$, NULL, 100000)) AS member,
       (SELECT count(*) FROM tagscrm.segment_members($$tag('garden')$$, 'the last one', 10)) AS after_the_last
  FROM tagscrm.customer_key k WHERE k.customer_id = 'the last one';
-- the cache of ids holds keys far apart in pages: key 2147483647 costs a page, not 8 GB
SELECT total_bytes < 16 * 1024 * 1024 AS id_cache_small FROM pg_backend_memory_contexts WHERE name = 'tagscrm customer key cache';
SELECT tagscrm.tag_customer('one too many', 'garden');
SELECT count(*) AS half_added FROM tagscrm.customer WHERE customer_id = 'one too many';
SELECT tagscrm.segment_count($$tag('garden')$$) = (SELECT count(*) FROM tagscrm.customer_tag ct JOIN tagscrm.tag t USING (tag_id) WHERE t.name = 'garden') AS count_ok;

-- the next tests run in this database
SELECT tagscrm.unwatch('orders');
DROP TABLE orders, pick;
