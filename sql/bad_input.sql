-- A corpus of bad input for every path that accepts rows: each value is
-- tried alone, in its own subtransaction, on each watched table and column
-- and through import_tags.  Each is either accepted (a value tagscrm can use)
-- or refused with a data error naming tagscrm's reason (SQLSTATE class 22),
-- never an internal error (XX000), a constraint or index failure of
-- tagscrm's own tables (23xxx, 54000); nothing stored is lost: afterwards
-- the facts equal a plain-SQL recompute, and the server is the one we
-- started with.
\set VERBOSITY terse
SET client_min_messages = warning;
SET tagscrm.clock_override = '2027-03-01 00:00:00+00';
CREATE TABLE started AS SELECT pg_postmaster_start_time() AS at;
CREATE TABLE orders (customer_id text, paid_at timestamptz, amount float8);
CREATE TABLE events (customer_id text, at timestamp, kind text, object text, seconds numeric);
CREATE TABLE people (customer_id text, city text, born date);
CREATE TABLE contacts (customer_id text, code text, at date);
INSERT INTO orders VALUES ('c1', '2027-02-01', 10);
SELECT tagscrm.watch_orders('orders', 'customer_id', 'paid_at', 'amount');
SELECT tagscrm.watch_events('events', 'customer_id', 'at', 'kind', object => 'object', duration => 'seconds');
SELECT tagscrm.watch_customers('people', 'customer_id', ARRAY['city'], birth_date => 'born');
SELECT tagscrm.watch_contacts('contacts', 'customer_id', 'code', 'at');
SELECT tagscrm.create_tag_group('g', 'manual') > 0 AS g, tagscrm.create_tag('vip', 'g') > 0 AS t;

-- the corpus: (what, SQL of the value)
CREATE TABLE corpus (what text, value text);
INSERT INTO corpus VALUES
	('null', 'NULL'), ('empty', $$''$$), ('blank', $$'   '$$), ('zero', '0'), ('negative', '-1'),
	('long 300', $$repeat('x', 300)$$), ('long 1 MB', $$repeat('x', 1048576)$$),
	('control', $$E'a\tb\nc'$$), ('zero width', $$U&'vip\200B'$$), ('bidi', $$U&'\202Eabc'$$),
	('infinity', $$'infinity'$$), ('-infinity', $$'-infinity'$$), ('NaN', $$'NaN'$$),
	('huge', '1e308'), ('tiny', '1e-308'), ('year 1', $$'0001-01-01'$$), ('year 9999', $$'9999-12-31'$$),
	('not a number', $$'abc'$$), ('sql', $$'x''); DROP TABLE orders; --'$$);

-- every (table, column) a watched row has, with a value for the others
CREATE TABLE slots (tbl text, col text, insert_sql text);
INSERT INTO slots VALUES
	('orders', 'customer_id', $$INSERT INTO orders VALUES (%s, '2027-02-02', 1)$$),
	('orders', 'paid_at', $$INSERT INTO orders VALUES ('c2', (%s)::text::timestamptz, 1)$$),
	('orders', 'amount', $$INSERT INTO orders VALUES ('c2', '2027-02-02', (%s)::float8)$$),
	('events', 'customer_id', $$INSERT INTO events VALUES (%s, '2027-02-02', 'view', 'a', 1)$$),
	('events', 'at', $$INSERT INTO events VALUES ('c2', (%s)::text::timestamp, 'view', 'a', 1)$$),
	('events', 'kind', $$INSERT INTO events VALUES ('c2', '2027-02-02', %s, 'a', 1)$$),
	('events', 'object', $$INSERT INTO events VALUES ('c2', '2027-02-02', 'view', %s, 1)$$),
	('events', 'seconds', $$INSERT INTO events VALUES ('c2', '2027-02-02', 'view', 'a', (%s)::numeric)$$),
	('people', 'customer_id', $$INSERT INTO people VALUES (%s, 'Shanghai', '1990-01-01')$$),
	('people', 'city', $$INSERT INTO people VALUES ('c3', %s, '1990-01-01')$$),
	('people', 'born', $$INSERT INTO people VALUES ('c3', 'Shanghai', (%s)::text::date)$$),
	('contacts', 'customer_id', $$INSERT INTO contacts VALUES (%s, 'fair', '2027-02-02')$$),
	('contacts', 'code', $$INSERT INTO contacts VALUES ('c4', %s, '2027-02-02')$$),
	('import', 'customer_id', $$INSERT INTO import_src VALUES (%s, 'vip')$$),
	('import', 'tag', $$INSERT INTO import_src VALUES ('c5', %s)$$);
CREATE TABLE import_src (customer_id text, tag text);

-- Tries one value; returns 'ok' or the SQLSTATE of the refusal (for an
-- import: of the statement, else 'rejected' when the row came back rejected).
CREATE FUNCTION try(s slots, value text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	state text;
	message text;
	rejected bigint;
BEGIN
	BEGIN
		EXECUTE format(s.insert_sql, value);
		IF s.tbl = 'import' THEN
			SELECT count(*) INTO rejected FROM tagscrm.import_tags('import_src');
			DELETE FROM import_src;
			RAISE EXCEPTION USING ERRCODE = 'RBACK', MESSAGE = CASE WHEN rejected > 0 THEN 'rejected' ELSE 'ok' END;
		END IF;
		RAISE EXCEPTION USING ERRCODE = 'RBACK', MESSAGE = 'ok';
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
		IF state = 'RBACK' THEN
			RETURN message;   -- rolled back, so every value meets the same state
		END IF;
		RETURN state || CASE WHEN message LIKE 'tagscrm cannot use%' THEN ' tagscrm' ELSE '' END;
	END;
END $$;

CREATE TABLE outcome AS
SELECT s.tbl, s.col, c.what, try(s, c.value) AS result FROM slots s CROSS JOIN corpus c;
-- how many inputs were tried, and how they came out
SELECT count(*) AS tried FROM outcome;
SELECT result, count(*) FROM outcome GROUP BY 1 ORDER BY 1;
-- no internal error, no failure of tagscrm's own constraints or indexes
SELECT * FROM outcome WHERE result ~ '^(XX|23|54|42)' ORDER BY 1, 2, 3;
-- what each refusal by tagscrm was, per column (the rest is PostgreSQL's own
-- input checking: 22P02, 22007, 22008 and 22003 before any trigger runs)
SELECT tbl, col, string_agg(what, ', ' ORDER BY what) AS refused_by_tagscrm
  FROM outcome WHERE result LIKE '% tagscrm' GROUP BY 1, 2 ORDER BY 1, 2;
SELECT tbl, col, string_agg(what, ', ' ORDER BY what) AS rejected_rows
  FROM outcome WHERE result = 'rejected' GROUP BY 1, 2 ORDER BY 1, 2;

-- nothing stored was lost or changed, and the server did not restart
SELECT (SELECT array_agg(f ORDER BY f) FROM (SELECT customer_id, order_count, order_total::float8
                                                FROM tagscrm.customer_fact WHERE order_count > 0) f)
       = (SELECT array_agg(o ORDER BY o) FROM (SELECT customer_id, count(*), sum(amount)
                                                  FROM orders GROUP BY 1) o) AS facts_equal_truth;
SELECT at = pg_postmaster_start_time() AS same_server FROM started;

DROP FUNCTION try(slots, text);
DROP TABLE orders, events, people, contacts, corpus, slots, import_src, outcome, started;
DROP EXTENSION tagscrm;
DROP SCHEMA tagscrm;
CREATE EXTENSION tagscrm;
