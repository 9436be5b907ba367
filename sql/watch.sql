-- Watching tables: what is refused and why, permissions, unwatch, dropped
-- tables, and scheduling with pg_cron.
DROP EXTENSION tagscrm CASCADE;
DROP SCHEMA tagscrm;
CREATE EXTENSION tagscrm;
SET client_min_messages = warning;
\set VERBOSITY default
\set SHOW_CONTEXT never

CREATE TABLE orders (id serial PRIMARY KEY, cust text, at timestamptz, amount numeric, note text);
CREATE TABLE parted (cust text, at timestamptz, amount numeric) PARTITION BY RANGE (at);
CREATE TABLE parted_2026 PARTITION OF parted FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE parent (cust text, at timestamptz, amount numeric);
CREATE TABLE child () INHERITS (parent);
CREATE VIEW orders_view AS SELECT * FROM orders;

-- refused, one per line
\set VERBOSITY sqlstate
SELECT tagscrm.watch_orders(NULL, 'cust', 'at', 'amount');
SELECT tagscrm.watch_orders('orders', 'nope', 'at', 'amount');
SELECT tagscrm.watch_orders('orders', 'cust', NULL, 'amount');
SELECT tagscrm.watch_orders('orders', 'cust', 'note', 'amount');
SELECT tagscrm.watch_orders('orders', 'cust', 'at', 'note');
SELECT tagscrm.watch_orders('parted', 'cust', 'at', 'amount');
SELECT tagscrm.watch_orders('parted_2026', 'cust', 'at', 'amount');
SELECT tagscrm.watch_orders('child', 'cust', 'at', 'amount');
SELECT tagscrm.watch_orders('orders_view', 'cust', 'at', 'amount');
SELECT tagscrm.unwatch('orders');
\set VERBOSITY default
SELECT tagscrm.watch_orders('parted', 'cust', 'at', 'amount');
SELECT tagscrm.watch_orders('orders', 'cust', 'note', 'amount');

-- a role that may not put triggers on the table may not watch it
CREATE ROLE tagscrm_watcher;
GRANT tagscrm_admin TO tagscrm_watcher;
SET ROLE tagscrm_watcher;
SELECT tagscrm.watch_orders('orders', 'cust', 'at', 'amount');
RESET ROLE;
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'orders'::regclass;

-- watching installs four triggers; a second table for the same role is refused
INSERT INTO orders (cust, at, amount) VALUES ('a', '2026-01-01', 5);
SELECT tagscrm.watch_orders('orders', 'cust', 'at', 'amount');
SELECT tgname FROM pg_trigger WHERE tgrelid = 'orders'::regclass ORDER BY 1;
CREATE TABLE orders2 (cust text, at timestamptz, amount numeric);
SELECT tagscrm.watch_orders('orders2', 'cust', 'at', 'amount');
SELECT tagscrm.watch_events('orders', 'cust', 'at', 'note');
SELECT role, relid, customer_column, at_column, amount_column FROM tagscrm.watched_table;
SELECT customer_id, order_count FROM tagscrm.customer_fact;

-- unwatch removes every trigger it installed and the facts that came from the table
SELECT tagscrm.unwatch('orders');
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'orders'::regclass;
SELECT customer_id, order_count FROM tagscrm.customer_fact;
INSERT INTO orders (cust, at, amount) VALUES ('a', '2026-01-02', 5);
SELECT order_count FROM tagscrm.customer_fact WHERE customer_id = 'a';

-- dropping a watched table unregisters it, also in the transaction that fired maintenance
SELECT tagscrm.watch_orders('orders2', 'cust', 'at', 'amount');
BEGIN;
INSERT INTO orders2 VALUES ('b', '2026-01-01', 1);
DROP TABLE orders2;
COMMIT;
SELECT count(*) AS watched FROM tagscrm.watched_table;
SELECT tagscrm.refresh(rebuild => true, quiet => true);
SELECT count(*) AS customers_with_orders FROM tagscrm.customer_fact WHERE order_count > 0;

-- channels: a contact's code resolves through names and aliases of channel groups
SELECT tagscrm.create_tag_group('channel', 'channel', exclusive => true);
SELECT tagscrm.create_tag('Taobao', 'channel'), tagscrm.create_tag('WeCom', 'channel');
SELECT tagscrm.add_tag_alias('tb-2026', 'Taobao');
CREATE TABLE contacts (wx_id text, code text, at timestamptz);
INSERT INTO contacts VALUES ('wm1', 'tb-2026', '2026-01-01');
SELECT tagscrm.watch_contacts('contacts', customer => 'wx_id', channel => 'code', at => 'at');
INSERT INTO contacts VALUES ('wm2', 'WECOM', '2026-01-02'), ('wm3', 'fair-booth', '2026-01-02'),
                            ('wm4', 'Taobao', '2026-01-01'), ('wm4', 'WeCom', '2026-01-03');
SELECT customer_id, tag, source, reason FROM tagscrm.customer_tags WHERE group_name = 'channel' ORDER BY 1;
SELECT code, contacts FROM tagscrm.unmatched_channel;
SELECT customer_id, tag FROM tagscrm.customer_tags WHERE group_name = 'lifecycle' ORDER BY 1;

-- settings are validated
\set VERBOSITY sqlstate
UPDATE tagscrm.settings SET time_zone = 'Mars/Olympus';
UPDATE tagscrm.settings SET lost_days = 10;
UPDATE tagscrm.settings SET level_thresholds = '{5,4,3,2}';
UPDATE tagscrm.settings SET rfm_basis = 'mode';
UPDATE tagscrm.settings SET age_bands = '{30,20}';
\set VERBOSITY default
-- inserting replaces the one row (so that pg_restore can load it)
INSERT INTO tagscrm.settings (active_days) VALUES (20);
SELECT count(*), min(active_days) FROM tagscrm.settings;
UPDATE tagscrm.settings SET time_zone = 'Asia/Shanghai', active_days = 14;
SELECT time_zone, active_days FROM tagscrm.settings;

-- pg_cron: schedule() writes fully qualified jobs; unschedule() removes them
SELECT tagscrm.schedule();
CREATE EXTENSION pg_cron;
SELECT * FROM tagscrm.schedule(refresh_at => '0 4 * * *');
SELECT jobname, schedule, command, database = current_database() AS here FROM cron.job ORDER BY jobname;
SELECT tagscrm.unschedule();
SELECT count(*) AS jobs_left FROM cron.job;
DROP EXTENSION pg_cron;

DROP TABLE orders, parted, parent, child, contacts CASCADE;
DROP ROLE tagscrm_watcher;
