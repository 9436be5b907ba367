-- test/soak/setup.sql: the watched tables of the soak, with a few thousand
-- rows over 200 customers (customers 1 to 10 are the hot set: 40 % of the
-- rows), dated in the 180 days before now.  psql variable watch: on for a
-- database where tagscrm watches the tables (bulk_rows 200, three rule
-- tags), off for the baseline with identical tables and nothing watching.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE TABLE orders (order_id bigserial PRIMARY KEY, customer bigint, paid_at timestamptz, amount numeric);
CREATE TABLE events (event_id bigserial PRIMARY KEY, customer bigint, at timestamptz, kind text);
CREATE INDEX ON orders (customer);
CREATE INDEX ON events (customer);
SELECT setseed(0.4242);
INSERT INTO orders (customer, paid_at, amount)
SELECT CASE WHEN random() < 0.4 THEN 1 + floor(random() * 10) ELSE 11 + floor(random() * 190) END,
       now() - random() * interval '180 days', round((5 + random() * 300)::numeric, 2)
  FROM generate_series(1, 3000);
INSERT INTO events (customer, at, kind)
SELECT CASE WHEN random() < 0.4 THEN 1 + floor(random() * 10) ELSE 11 + floor(random() * 190) END,
       now() - random() * interval '180 days', (ARRAY['view', 'consult', 'review', 'register'])[1 + floor(random() * 4)]
  FROM generate_series(1, 3000);
\if :watch
CREATE EXTENSION tagscrm;
UPDATE tagscrm.settings SET bulk_rows = 200;
SELECT tagscrm.watch_orders('orders', customer => 'customer', at => 'paid_at', amount => 'amount');
SELECT tagscrm.watch_events('events', customer => 'customer', at => 'at', kind => 'kind');
-- rule tags: an exclusive pair by priority over an event window, and one
-- over the order rows of a window (both move with time: the sweep's work)
SELECT tagscrm.create_tag_group('intent', 'behaviour', exclusive => true);
SELECT tagscrm.create_tag('high intent', 'intent', method => 'rule'), tagscrm.create_tag('some intent', 'intent', method => 'rule');
SELECT tagscrm.set_tag_rule('high intent', $$count(event 'consult', last 14 days) >= 3$$, priority => 1);
SELECT tagscrm.set_tag_rule('some intent', $$count(event 'consult', last 30 days) >= 1$$, priority => 2);
SELECT tagscrm.create_tag_group('spend', 'interest');
SELECT tagscrm.create_tag('high spender', 'spend', method => 'rule');
SELECT tagscrm.set_tag_rule('high spender', $$sum(order.amount, last 30 days) >= 1500$$);
SELECT tagscrm.enable_tag_rule('high intent'), tagscrm.enable_tag_rule('some intent'), tagscrm.enable_tag_rule('high spender');
\endif
ANALYZE orders, events;
