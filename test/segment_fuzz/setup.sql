-- test/segment_fuzz/setup.sql: the library the fuzzer's expressions name
-- (groups, tags with quotes, letters outside ASCII and 100 characters,
-- aliases), 400 customers with random tags and orders in a watched table,
-- conditions of the rule language over those orders, and saved segments,
-- nested; with the plain SQL of every saved segment in fuzz_segment_sql,
-- over customer_tag and the orders, to check counts against.  The clock is
-- pinned for the database (the fuzz session runs at the same time).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION tagscrm;
SET TimeZone = 'UTC';
SELECT current_database() AS db \gset
ALTER DATABASE :"db" SET tagscrm.clock_override = '2026-06-01 00:00:00+00';
SET tagscrm.clock_override = '2026-06-01 00:00:00+00';
SELECT setseed(0.14);

SELECT count(tagscrm.create_tag_group(g, 'manual')) AS groups
  FROM unnest(ARRAY['interests', 'channel', 'intent', 'empty group', 'Ünïcode 组']) g;
SELECT count(tagscrm.create_tag(t, g)) AS tags
  FROM (VALUES ('garden', 'interests'), ('kitchen', 'interests'), ('books', 'interests'), ('it''s ok', 'interests'),
               ('Taobao', 'channel'), ('JD', 'channel'), ('WeChat', 'channel'),
               ('low intent', 'intent'), ('high intent', 'intent'),
               ('café', 'Ünïcode 组'), ('会员', 'Ünïcode 组'), (repeat('n', 100), 'Ünïcode 组')) v(t, g);
SELECT tagscrm.add_tag_alias('TB', 'Taobao'), tagscrm.add_tag_alias('京东', 'JD'), tagscrm.add_tag_alias('cooking', 'kitchen');

-- 400 customers, each tag with its own share; 20 of them with no tag at all
-- (they count in "not")
CREATE TABLE fuzz_pick (customer_id text, tag text);
INSERT INTO fuzz_pick
SELECT c.id, t.name
  FROM (SELECT 'c' || lpad(i::text, 3, '0') AS id FROM generate_series(1, 380) i) c
 CROSS JOIN (SELECT t.name, 0.05 + 0.5 * random() AS share FROM tagscrm.tag t) t
 WHERE random() + 0 * length(c.id) < t.share;
SELECT count(*) AS rejected FROM tagscrm.import_tags('fuzz_pick') WHERE rejected_because IS NOT NULL;
SELECT count(*) FILTER (WHERE tagscrm.tag_customer(c, 'garden') AND tagscrm.untag_customer(c, 'garden')) AS untagged_customers
  FROM (SELECT 'c' || i AS c FROM generate_series(381, 400) i) x;
DROP TABLE fuzz_pick;

-- orders of 300 of the customers over the last 200 days, watched
CREATE TABLE fuzz_orders (id serial PRIMARY KEY, customer_id text, paid_at timestamptz, amount numeric);
INSERT INTO fuzz_orders (customer_id, paid_at, amount)
SELECT 'c' || lpad((1 + floor(random() * 300))::text, 3, '0'), '2026-06-01'::timestamptz - random() * interval '200 days',
       round((5 + random() * 250)::numeric, 2)
  FROM generate_series(1, 1200);
SELECT tagscrm.watch_orders('fuzz_orders', 'customer_id', 'paid_at', 'amount') IS NULL AS watched;

-- conditions and their plain SQL over the orders at the pinned clock (a row
-- at t is in "last n days" when now - n days < t <= now)
CREATE TABLE fuzz_condition (c text PRIMARY KEY, sql text NOT NULL);
INSERT INTO fuzz_condition VALUES
	('sum(order.amount, last 90 days) > 300',
	 $$(SELECT o.customer_id FROM fuzz_orders o WHERE o.paid_at > tagscrm.now() - interval '90 days' AND o.paid_at <= tagscrm.now() GROUP BY 1 HAVING sum(o.amount) > 300)$$),
	('order_count >= 5', $$(SELECT o.customer_id FROM fuzz_orders o GROUP BY 1 HAVING count(*) >= 5)$$),
	('max(order.amount) between 50 and 150', $$(SELECT o.customer_id FROM fuzz_orders o GROUP BY 1 HAVING max(o.amount) BETWEEN 50 AND 150)$$),
	('count(order, last 30 days) >= 1',
	 $$(SELECT o.customer_id FROM fuzz_orders o WHERE o.paid_at > tagscrm.now() - interval '30 days' AND o.paid_at <= tagscrm.now() GROUP BY 1)$$);

-- the plain SQL of a term: the ids of the customers holding the tag (by
-- name or alias, case-insensitive) or any tag of the group
CREATE TABLE fuzz_segment_sql (name text PRIMARY KEY, sql text NOT NULL);
CREATE FUNCTION fuzz_tag_sql(word text) RETURNS text LANGUAGE sql IMMUTABLE
RETURN format('(SELECT ct.customer_id FROM tagscrm.customer_tag ct WHERE ct.tag_id IN '
              '(SELECT t.tag_id FROM tagscrm.tag t WHERE lower(t.name) = lower(%1$L) '
              'UNION ALL SELECT a.tag_id FROM tagscrm.tag_alias a WHERE lower(a.alias) = lower(%1$L)))', word);
CREATE FUNCTION fuzz_group_sql(name text) RETURNS text LANGUAGE sql IMMUTABLE
RETURN format('(SELECT DISTINCT ct.customer_id FROM tagscrm.customer_tag ct JOIN tagscrm.tag t ON t.tag_id = ct.tag_id '
              'JOIN tagscrm.tag_group g ON g.group_id = t.group_id WHERE lower(g.name) = lower(%L))', name);
CREATE FUNCTION fuzz_not_sql(q text) RETURNS text LANGUAGE sql IMMUTABLE
RETURN format('(SELECT c.customer_id FROM tagscrm.customer c EXCEPT %s)', q);
-- a string of the segment language: in quotes, a quote doubled (never
-- quote_literal's E'...' form, which the language does not have)
CREATE FUNCTION fuzz_quote(s text) RETURNS text LANGUAGE sql IMMUTABLE
RETURN '''' || replace(s, '''', '''''') || '''';

CREATE FUNCTION fuzz_anycase(s text) RETURNS text LANGUAGE sql VOLATILE
RETURN CASE floor(random() * 3)::integer WHEN 0 THEN upper(s) WHEN 1 THEN lower(s) ELSE s END;

-- (expression, plain SQL) of a random valid expression of at most depth
-- levels, over the tags, aliases, groups, conditions and the segments saved
-- so far
CREATE FUNCTION fuzz_gen(depth integer) RETURNS text[] LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	r float8 := random();
	a text[];
	b text[];
	w text;
BEGIN
	IF depth <= 0 OR r < 0.3 THEN
		r := random();
		IF r < 0.2 THEN
			SELECT c.c INTO w FROM fuzz_condition c ORDER BY random(), c.c LIMIT 1;
			RETURN ARRAY[fuzz_anycase(w), (SELECT c.sql FROM fuzz_condition c WHERE c.c = w)];
		ELSIF r < 0.6 THEN
			SELECT x INTO w FROM (SELECT t.name FROM tagscrm.tag t UNION ALL SELECT a.alias FROM tagscrm.tag_alias a) s(x)
			 ORDER BY random(), x LIMIT 1;
			RETURN ARRAY[format('%s(%s)', fuzz_anycase('tag'), fuzz_quote(fuzz_anycase(w))), fuzz_tag_sql(w)];
		ELSIF r < 0.8 OR NOT EXISTS (SELECT FROM fuzz_segment_sql) THEN
			SELECT g.name INTO w FROM tagscrm.tag_group g ORDER BY random(), g.name LIMIT 1;
			RETURN ARRAY[format('%s( %s )', fuzz_anycase('group'), fuzz_quote(w)), fuzz_group_sql(w)];
		END IF;
		SELECT s.name INTO w FROM fuzz_segment_sql s ORDER BY random(), s.name LIMIT 1;
		RETURN ARRAY[format('segment(%s)', fuzz_quote(fuzz_anycase(w))), (SELECT s.sql FROM fuzz_segment_sql s WHERE s.name = w)];
	END IF;
	r := random();
	a := fuzz_gen(depth - 1);
	IF r < 0.2 THEN
		RETURN ARRAY[format('%s (%s)', fuzz_anycase('not'), a[1]), fuzz_not_sql(a[2])];
	END IF;
	b := fuzz_gen(depth - 1);
	IF r < 0.5 THEN
		RETURN ARRAY[format('(%s) %s (%s)', a[1], fuzz_anycase('and'), b[1]), format('(%s INTERSECT %s)', a[2], b[2])];
	ELSIF r < 0.6 THEN
		RETURN ARRAY[format('(%s) and not (%s)', a[1], b[1]), format('(%s EXCEPT %s)', a[2], b[2])];
	ELSIF r < 0.75 THEN
		-- without parentheses: and binds tighter than or
		RETURN ARRAY[format('(%s) and (%s) or (%s)', a[1], b[1], a[1]), format('((%s INTERSECT %s) UNION %s)', a[2], b[2], a[2])];
	END IF;
	RETURN ARRAY[format('(%s)%s(%s)', a[1], fuzz_anycase('or'), b[1]), format('(%s UNION %s)', a[2], b[2])];
END
$$;

-- saved segments, each of the ones before it may be in the next: nested
DO $$
DECLARE
	g text[];
BEGIN
	FOR i IN 1 .. 8 LOOP
		g := fuzz_gen(1 + i % 3);
		PERFORM tagscrm.define_segment('seg ' || i, g[1]);
		INSERT INTO fuzz_segment_sql VALUES ('seg ' || i, g[2]);
	END LOOP;
	-- a chain at the nesting limit: chain 16 holds 16 levels, itself included
	PERFORM tagscrm.define_segment('chain 1', $e$tag('garden') or tag('café')$e$);
	INSERT INTO fuzz_segment_sql VALUES ('chain 1', format('(%s UNION %s)', fuzz_tag_sql('garden'), fuzz_tag_sql('café')));
	FOR i IN 2 .. 16 LOOP
		PERFORM tagscrm.define_segment('chain ' || i, format('segment(%L) and not tag(%L)', 'chain ' || (i - 1), 'JD'));
		INSERT INTO fuzz_segment_sql VALUES ('chain ' || i, format('(%s EXCEPT %s)',
			(SELECT sql FROM fuzz_segment_sql WHERE name = 'chain ' || (i - 1)), fuzz_tag_sql('JD')));
	END LOOP;
END
$$;
SELECT count(*) AS segments, max(cardinality(uses)) AS most_used, count(*) FILTER (WHERE conditions <> '{}') AS with_conditions
  FROM tagscrm.segment;
