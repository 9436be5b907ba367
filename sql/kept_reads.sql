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

-- The rule pass keeps, per session, what it reads of each watched table
-- and the check of the watching role's rights (rule_batch_read.c).  An
-- order's statement evaluates a rule over the watched events, so each change
-- to the events table must be seen by the next order of the same session.
UPDATE tagscrm.settings SET time_zone = 'UTC';
SET ROLE regress_kr_owner;
CREATE TABLE kr.events (cust text, at timestamp, kind text);
GRANT TRIGGER, SELECT (cust, at, kind) ON kr.events TO regress_kr_admin;
INSERT INTO kr.events VALUES ('k8', '2026-02-27 10:00', 'view');
SET ROLE regress_kr_admin;
SELECT tagscrm.watch_events('kr.events', 'cust', 'at', 'kind') IS NOT NULL AS watched;
RESET ROLE;
SELECT tagscrm.create_tag_group('kr interest', 'interest') IS NOT NULL AS made;
SELECT tagscrm.create_tag('kr viewer', 'kr interest', method => 'rule') IS NOT NULL AS made;
SELECT tagscrm.set_tag_rule('kr viewer', $$count(event 'view', last 30 days) >= 1 and sum(order.amount, last 30 days) > 0$$) IS NOT NULL AS set;
SELECT tagscrm.enable_tag_rule('kr viewer') IS NOT NULL AS enabled;
SET ROLE regress_kr_owner;
INSERT INTO kr.orders VALUES ('k8', '2026-02-28 15:00', 2);
INSERT INTO kr.orders VALUES ('k8', '2026-02-28 16:00', 2);
-- a revoked column of events: refused at the next order
REVOKE SELECT (kind) ON kr.events FROM regress_kr_admin;
INSERT INTO kr.orders VALUES ('k8', '2026-02-28 17:00', 2);
-- read through a group the watching role belongs to, until it leaves it
RESET ROLE;
CREATE ROLE regress_kr_readers;
GRANT SELECT (kind) ON kr.events TO regress_kr_readers;
GRANT regress_kr_readers TO regress_kr_admin;
SET ROLE regress_kr_owner;
INSERT INTO kr.orders VALUES ('k8', '2026-02-28 17:00', 2);
RESET ROLE;
REVOKE regress_kr_readers FROM regress_kr_admin;
SET ROLE regress_kr_owner;
INSERT INTO kr.orders VALUES ('k8', '2026-02-28 17:30', 2);
GRANT SELECT (kind) ON kr.events TO regress_kr_admin;
-- row-level security on events
ALTER TABLE kr.events ENABLE ROW LEVEL SECURITY;
INSERT INTO kr.orders VALUES ('k8', '2026-02-28 18:00', 2);
ALTER TABLE kr.events DISABLE ROW LEVEL SECURITY;
-- a column renamed, and back
ALTER TABLE kr.events RENAME COLUMN kind TO what;
INSERT INTO kr.orders VALUES ('k8', '2026-02-28 18:30', 2);
ALTER TABLE kr.events RENAME COLUMN what TO kind;
-- the schema renamed: events are read by the new name
RESET ROLE;
ALTER SCHEMA kr RENAME TO kr_renamed;
SET ROLE regress_kr_owner;
INSERT INTO kr_renamed.orders VALUES ('k8', '2026-02-28 19:00', 2);
RESET ROLE;
ALTER SCHEMA kr_renamed RENAME TO kr;
SET ROLE regress_kr_owner;
INSERT INTO kr.orders VALUES ('k8', '2026-02-28 19:30', 2);
RESET ROLE;
SELECT count(*) AS k8_orders FROM kr.orders WHERE cust = 'k8';
SELECT ct.customer_id FROM tagscrm.customer_tag ct JOIN tagscrm.tag t USING (tag_id) WHERE t.name = 'kr viewer';
SELECT tagscrm.unwatch('kr.events') IS NOT NULL AS unwatched;

SELECT tagscrm.unwatch('kr.orders') IS NOT NULL AS unwatched;
UPDATE tagscrm.settings SET time_zone = 'UTC';
DROP SCHEMA kr CASCADE;
REVOKE ALL ON SCHEMA tagscrm FROM regress_kr_admin;
DROP ROLE regress_kr_admin;
DROP ROLE regress_kr_owner;
DROP ROLE regress_kr_readers;
