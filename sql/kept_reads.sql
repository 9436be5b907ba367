-- The trigger keeps, per session, the read of each watched table's
-- transition tables (triggers.c), and with it the check that the watching
-- role may read the table.  Each change the check depends on must make the
-- next statement of the same session check again: a revoked column, row-level
-- security switched on, a role's BYPASSRLS taken away, a column's type; and
-- the facts then equal a rebuild.  A change of the settings the read is
-- built from (the time zone) makes it read with the new ones.
\set VERBOSITY terse
SET client_min_messages = warning;
SET tagscrm.clock_override = '2026-03-01 00:00:00+00';
CREATE ROLE regress_kr_admin IN ROLE tagscrm_admin;
CREATE ROLE regress_kr_owner;
CREATE SCHEMA kr AUTHORIZATION regress_kr_owner;
GRANT USAGE ON SCHEMA kr TO regress_kr_admin;
SET ROLE regress_kr_owner;
CREATE TABLE kr.orders (cust text, at timestamp, amount numeric);
GRANT TRIGGER, SELECT (cust, at, amount) ON kr.orders TO regress_kr_admin;
SET ROLE regress_kr_admin;
SELECT tagscrm.watch_orders('kr.orders', 'cust', 'at', 'amount') IS NOT NULL AS watched;
RESET ROLE;

-- the first statement builds and keeps the read, the second uses it
SET ROLE regress_kr_owner;
INSERT INTO kr.orders VALUES ('k1', '2026-02-27 23:30', 10);
INSERT INTO kr.orders VALUES ('k1', '2026-02-28 23:30', 20);
-- a revoked column: refused at once
REVOKE SELECT (amount) ON kr.orders FROM regress_kr_admin;
INSERT INTO kr.orders VALUES ('k2', '2026-02-28 10:00', 5);
GRANT SELECT (amount) ON kr.orders TO regress_kr_admin;
INSERT INTO kr.orders VALUES ('k2', '2026-02-28 10:00', 5);
-- row-level security that the watching role does not bypass
ALTER TABLE kr.orders ENABLE ROW LEVEL SECURITY;
INSERT INTO kr.orders VALUES ('k3', '2026-02-28 11:00', 7);
RESET ROLE;
-- ... which a role with BYPASSRLS may read, until it loses the attribute
ALTER ROLE regress_kr_admin BYPASSRLS;
SET ROLE regress_kr_owner;
INSERT INTO kr.orders VALUES ('k3', '2026-02-28 11:00', 7);
RESET ROLE;
ALTER ROLE regress_kr_admin NOBYPASSRLS;
SET ROLE regress_kr_owner;
INSERT INTO kr.orders VALUES ('k4', '2026-02-28 12:00', 8);
ALTER TABLE kr.orders DISABLE ROW LEVEL SECURITY;
INSERT INTO kr.orders VALUES ('k4', '2026-02-28 12:00', 8);
-- a column's type changed: the read converts the new type
ALTER TABLE kr.orders ALTER COLUMN at TYPE timestamptz USING at AT TIME ZONE 'UTC';
INSERT INTO kr.orders VALUES ('k5', '2026-02-28 13:00+00', 9);
ALTER TABLE kr.orders ALTER COLUMN at TYPE text;
INSERT INTO kr.orders VALUES ('k6', '2026-02-28 14:00+00', 1);
ALTER TABLE kr.orders ALTER COLUMN at TYPE timestamp USING at::timestamptz AT TIME ZONE 'UTC';
RESET ROLE;
SELECT customer_id, day, orders, amount FROM tagscrm.customer_day ORDER BY 1, 2;

-- what the triggers kept equals a rebuild from the table
CREATE TEMP TABLE kept_facts AS
	SELECT customer_id, first_order_at, last_order_at, order_count, order_total FROM tagscrm.customer_fact;
CREATE TEMP TABLE kept_days AS SELECT * FROM tagscrm.customer_day;
SELECT tagscrm.refresh(rebuild => true, quiet => true) AS customers;
SELECT count(*) AS fact_differences FROM (
	(SELECT * FROM kept_facts EXCEPT ALL
	 SELECT customer_id, first_order_at, last_order_at, order_count, order_total FROM tagscrm.customer_fact)
	UNION ALL
	(SELECT customer_id, first_order_at, last_order_at, order_count, order_total FROM tagscrm.customer_fact
	 EXCEPT ALL SELECT * FROM kept_facts)) d;
SELECT count(*) AS day_differences FROM (
	(SELECT * FROM kept_days EXCEPT ALL SELECT * FROM tagscrm.customer_day)
	UNION ALL
	(SELECT * FROM tagscrm.customer_day EXCEPT ALL SELECT * FROM kept_days)) d;

-- another time zone: the timestamp column is read in it from the next
-- statement on (20:00 in Shanghai is 12:00 UTC, on the 28th there)
UPDATE tagscrm.settings SET time_zone = 'Asia/Shanghai';
SET ROLE regress_kr_owner;
INSERT INTO kr.orders VALUES ('k7', '2026-02-28 20:00', 3);
RESET ROLE;
SELECT d.day, f.last_order_at AT TIME ZONE 'UTC' AS last_order_utc
  FROM tagscrm.customer_day d JOIN tagscrm.customer_fact f USING (customer_id) WHERE d.customer_id = 'k7';

SELECT tagscrm.unwatch('kr.orders') IS NOT NULL AS unwatched;
UPDATE tagscrm.settings SET time_zone = 'UTC';
DROP SCHEMA kr CASCADE;
REVOKE ALL ON SCHEMA tagscrm FROM regress_kr_admin;
DROP ROLE regress_kr_admin;
DROP ROLE regress_kr_owner;
