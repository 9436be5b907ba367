-- The security boundary: no role gets more than it was granted, and nothing
-- a role was granted fails.  One block per route into the extension owner's
-- rights that was found open, each written as the attacker would try it.
\set VERBOSITY default
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE ROLE regress_op IN ROLE tagscrm_operator;
CREATE ROLE regress_admin IN ROLE tagscrm_admin;
CREATE ROLE regress_reader IN ROLE tagscrm_reader;
CREATE ROLE regress_shop;
CREATE ROLE regress_stranger;
CREATE SCHEMA shop AUTHORIZATION regress_shop;
GRANT USAGE ON SCHEMA shop TO regress_admin, regress_op;
SET tagscrm.clock_override = '2027-01-10 00:00:00+00';
SELECT tagscrm.create_tag_group('interests', 'interest') > 0 AS g, tagscrm.create_tag('vip', 'interests') > 0 AS t;
-- who is superuser, at any point below (nobody but the bootstrap role)
CREATE VIEW supers AS
	SELECT rolname FROM pg_roles WHERE rolsuper AND rolname LIKE 'regress%' ORDER BY 1;

-- 1. import_tags read the caller's table with the owner's rights: a cast of
--    the caller's own type ran as superuser.  Now the read is the caller's.
SET ROLE regress_op;
CREATE TYPE pg_temp.evilt AS (x text);
CREATE FUNCTION pg_temp.evilt_text(pg_temp.evilt) RETURNS text LANGUAGE plpgsql AS
$$ BEGIN EXECUTE 'ALTER ROLE regress_op SUPERUSER'; RETURN ($1).x; END $$;
CREATE CAST (pg_temp.evilt AS text) WITH FUNCTION pg_temp.evilt_text(pg_temp.evilt);
CREATE TEMP TABLE src4 (customer_id pg_temp.evilt, tag text);
INSERT INTO src4 VALUES (ROW('c9'), 'vip');
SELECT * FROM tagscrm.import_tags('src4');
RESET ROLE;
SELECT * FROM supers;
-- ... and a view over a table the caller may not read gives nothing away
CREATE TABLE secret (customer_id text, tag text);
INSERT INTO secret VALUES ('c-secret', 'the boss''s salary');
SET ROLE regress_op;
CREATE TEMP VIEW peek AS SELECT customer_id, tag FROM public.secret;
SELECT * FROM tagscrm.import_tags('peek');
DROP VIEW peek;
DROP TABLE src4;
DROP CAST (pg_temp.evilt AS text);
DROP FUNCTION pg_temp.evilt_text(pg_temp.evilt);
DROP TYPE pg_temp.evilt;
RESET ROLE;

-- 4. import_tags honours row-level security on its source
CREATE TABLE pairs (customer_id text, tag text, team text);
INSERT INTO pairs VALUES ('c1', 'vip', 'a'), ('c2', 'vip', 'b'), ('c3', 'no such tag', 'b');
ALTER TABLE pairs ENABLE ROW LEVEL SECURITY;
CREATE POLICY team_a ON pairs FOR SELECT USING (team = 'a');
GRANT SELECT ON pairs TO regress_op;
SET ROLE regress_op;
SELECT * FROM tagscrm.import_tags('pairs');
RESET ROLE;
SELECT customer_id, tag FROM tagscrm.customer_tags ORDER BY 1;

-- 8. a rejected row with a long value is returned intact (it pointed into a
--    dropped temporary table: XX000 "could not open relation")
CREATE TABLE long_pairs (customer_id text, tag text);
INSERT INTO long_pairs VALUES ('c4', repeat('x', 5000)), ('c4', 'vip'), ('c4', 'vip');
GRANT SELECT ON long_pairs TO regress_op;
SET ROLE regress_op;
SELECT row_number, customer_id, length(tag) AS tag_length, left(rejected_because, 30) AS rejected_because
  FROM tagscrm.import_tags('long_pairs');
-- twice in one transaction works too
BEGIN;
SELECT count(*) FROM tagscrm.import_tags('long_pairs');
SELECT count(*) FROM tagscrm.import_tags('long_pairs');
COMMIT;
RESET ROLE;

-- 2. the owner of a watched table ran code as superuser through the watch
--    triggers: a column type with a user cast, set after the watch, fired on
--    the next INSERT.  Now the transition tables and the table are read as
--    the table's owner.
CREATE TABLE shop.orders (customer_id bigint, paid_at timestamptz, amount numeric);
ALTER TABLE shop.orders OWNER TO regress_shop;
GRANT SELECT, TRIGGER ON shop.orders TO regress_admin;
SET ROLE regress_admin;
SELECT tagscrm.watch_orders('shop.orders', 'customer_id', 'paid_at', 'amount');
RESET ROLE;
SET ROLE regress_shop;
INSERT INTO shop.orders VALUES (1, '2027-01-01', 10);
CREATE TYPE shop.cust AS (id bigint);
CREATE FUNCTION shop.cust_text(shop.cust) RETURNS text LANGUAGE plpgsql AS
$$ BEGIN EXECUTE 'ALTER ROLE regress_shop SUPERUSER'; RETURN ($1).id::text; END $$;
CREATE CAST (shop.cust AS text) WITH FUNCTION shop.cust_text(shop.cust);
ALTER TABLE shop.orders ALTER COLUMN customer_id TYPE shop.cust USING ROW(customer_id)::shop.cust;
INSERT INTO shop.orders VALUES (ROW(2), '2027-01-02', 5);
-- the quiet variant swallows its own error and lets the insert through
CREATE OR REPLACE FUNCTION shop.cust_text(shop.cust) RETURNS text LANGUAGE plpgsql AS
$$ BEGIN BEGIN EXECUTE 'ALTER ROLE regress_shop SUPERUSER'; EXCEPTION WHEN OTHERS THEN NULL; END;
         RETURN ($1).id::text; END $$;
INSERT INTO shop.orders VALUES (ROW(2), '2027-01-02', 5);
RESET ROLE;
SELECT * FROM supers;
SELECT customer_id, order_count FROM tagscrm.customer_fact ORDER BY 1;
-- ... and in the rebuild that reads the whole table
SELECT tagscrm.refresh(rebuild => true, quiet => true) > 0 AS rebuilt;
SELECT * FROM supers;
-- a partial-index predicate is folded by the planner whenever the table is
-- planned: an immutable function of the owner's there ran at every read
SET ROLE regress_shop;
ALTER TABLE shop.orders ALTER COLUMN customer_id TYPE bigint USING (customer_id).id;
DROP CAST (shop.cust AS text);
CREATE FUNCTION shop.evil() RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS
$$ BEGIN BEGIN EXECUTE 'ALTER ROLE regress_shop SUPERUSER'; EXCEPTION WHEN OTHERS THEN NULL; END; RETURN true; END $$;
CREATE INDEX orders_evil ON shop.orders (customer_id) WHERE shop.evil();
REINDEX INDEX shop.orders_evil;   -- the next plan folds the predicate again
RESET ROLE;
SELECT tagscrm.refresh(rebuild => true, quiet => true) > 0 AS rebuilt;
SET ROLE regress_shop;
INSERT INTO shop.orders VALUES (3, '2027-01-03', 7);
UPDATE shop.orders SET amount = amount + 1 WHERE customer_id = 3;
RESET ROLE;
SELECT * FROM supers;
SELECT customer_id, order_count, order_total FROM tagscrm.customer_fact ORDER BY 1;
-- settings the owner's code changes do not outlive the read: here it puts
-- its own = for text first on the search_path of the code that follows
SET ROLE regress_shop;
CREATE TABLE shop.calls (who text);
GRANT INSERT ON shop.calls TO PUBLIC;
CREATE FUNCTION shop.text_eq(a text, b text) RETURNS boolean LANGUAGE plpgsql AS
$$ BEGIN INSERT INTO shop.calls VALUES (current_user); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR shop.= (LEFTARG = text, RIGHTARG = text, FUNCTION = shop.text_eq);
CREATE OR REPLACE FUNCTION shop.evil() RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS
$$ BEGIN PERFORM set_config('search_path', 'shop, pg_catalog', false); RETURN true; END $$;
REINDEX INDEX shop.orders_evil;
RESET ROLE;
SELECT tagscrm.refresh(rebuild => true, quiet => true) > 0 AS rebuilt;
SELECT DISTINCT who FROM shop.calls;

-- 3. watch_* needed only TRIGGER: an admin with TRIGGER but no SELECT on a
--    table turned its columns into tags.  Now it needs SELECT on every
--    column it reads, checked again at every read.
CREATE TABLE shop.employees (id text, city text, salary text);
ALTER TABLE shop.employees OWNER TO regress_shop;
GRANT TRIGGER ON shop.employees TO regress_admin;
GRANT SELECT (id, city) ON shop.employees TO regress_admin;
SET ROLE regress_admin;
SELECT tagscrm.watch_customers('shop.employees', 'id', ARRAY['city', 'salary']);
SELECT tagscrm.watch_customers('shop.employees', 'id', ARRAY['city']);
RESET ROLE;
SET ROLE regress_shop;
INSERT INTO shop.employees VALUES ('e1', 'Shanghai', '100000');
REVOKE SELECT (city) ON shop.employees FROM regress_admin;
INSERT INTO shop.employees VALUES ('e2', 'Beijing', '90000');
GRANT SELECT (city) ON shop.employees TO regress_admin;
RESET ROLE;
SELECT customer_id, attributes FROM tagscrm.customer_fact WHERE in_customers ORDER BY 1;
-- row-level security the watching role does not bypass hides rows from the facts: refused
SET ROLE regress_shop;
ALTER TABLE shop.employees ENABLE ROW LEVEL SECURITY;
INSERT INTO shop.employees VALUES ('e3', 'Hangzhou', '1');
ALTER TABLE shop.employees DISABLE ROW LEVEL SECURITY;
RESET ROLE;
SET ROLE regress_admin;
SELECT tagscrm.unwatch('shop.employees');
RESET ROLE;

-- 5. with tagscrm installed, no non-superuser could drop anything: the
--    sql_drop event trigger ran with the caller's rights
SET ROLE regress_stranger;
CREATE TEMP TABLE t (x int);
DROP TABLE t;
RESET ROLE;
SET ROLE regress_shop;
CREATE TABLE shop.scratch (x int);
DROP TABLE shop.scratch;
RESET ROLE;

-- 10. a rule that names a customer attribute no watched column supplies was
--     stored and never held; now it is refused when written (and previewed)
SELECT tagscrm.create_tag('shanghai', 'interests', method => 'rule') > 0 AS rule_tag;
SELECT tagscrm.set_tag_rule('shanghai', $$city = 'Shanghai'$$);
SET ROLE regress_admin;
SELECT tagscrm.watch_customers('shop.employees', 'id', ARRAY['city']);
RESET ROLE;
SELECT tagscrm.set_tag_rule('shanghai', $$city = 'Shanghai' and gender = 'f'$$);
SELECT tagscrm.set_tag_rule('shanghai', $$city = 'Shanghai' and age > 30$$);
SELECT * FROM tagscrm.preview_tag_rule('shanghai', $$province = 'x'$$);
SELECT tagscrm.set_tag_rule('shanghai', $$city = 'Shanghai' and days_since_registration >= 0$$);
SELECT rule FROM tagscrm.tag_rule;
SET ROLE regress_admin;
SELECT tagscrm.unwatch('shop.employees');
RESET ROLE;

-- 9. look-alike names: invisible characters are refused, and names are
--    stored and looked up in Unicode NFC, so names that print the same are one
SELECT tagscrm.create_tag('vip' || U&'\200B', 'interests');
SELECT tagscrm.create_tag(U&'\202Epiv', 'interests');
SELECT tagscrm.create_tag(U&'top\00A0spender', 'interests');
SELECT tagscrm.create_tag(U&'\FEFFvip2', 'interests');
SELECT tagscrm.create_tag_group(U&'inter\200Dests', 'interest');
SELECT tagscrm.add_tag_alias(U&'v\2060ip', 'vip');
SELECT tagscrm.create_tag(U&'cafe\0301', 'interests') > 0 AS decomposed_created;
SELECT tagscrm.create_tag(U&'caf\00E9', 'interests');
SELECT name = U&'caf\00E9' AS stored_composed FROM tagscrm.tags WHERE name LIKE 'caf%';
SELECT tagscrm.tag_customer('c1', U&'caf\00E9') AS tagged_composed, tagscrm.untag_customer('c1', U&'cafe\0301') AS untagged_decomposed;

DROP TABLE secret, pairs, long_pairs;
DROP SCHEMA shop CASCADE;
DROP VIEW supers;
DROP OWNED BY regress_op, regress_admin, regress_reader, regress_shop, regress_stranger;
DROP ROLE regress_op, regress_admin, regress_reader, regress_shop, regress_stranger;
