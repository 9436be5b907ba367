-- Roles: tagscrm_reader reads, tagscrm_operator tags, tagscrm_admin keeps the
-- library; each can do exactly its part.  Run by test/run in a fresh database.
--
-- Every function of schema tagscrm that a tagscrm role may execute is called,
-- with arguments that work on a small real installation, as a reader, an
-- operator, an admin and a stranger (no tagscrm role, but USAGE on the schema,
-- so that its calls meet the objects' own rights).  A call must succeed
-- (or fail with the documented SQLSTATE it names) exactly for the roles at or
-- above its documented level, and fail with 42501 for the others.  Each call
-- runs in a subtransaction that is rolled back, so every call sees the same
-- state.  Then every view and table is read, and the tables written, as each
-- role.  A function, table or view added later without a row here fails the
-- coverage checks.
\set ON_ERROR_STOP 1
\pset format unaligned
\pset tuples_only true
\pset pager off
SET client_min_messages = warning;
CREATE EXTENSION pgtap;
CREATE EXTENSION tagscrm;

BEGIN;
\o /dev/null
SET TimeZone = 'UTC';
SET tagscrm.clock_override = '2026-06-01 12:00:00+00';   -- superuser only; the roles below inherit it

-- the test roles: login-less, each a member of one tagscrm group (roles are
-- cluster-wide; the ROLLBACK at the end removes them)
CREATE ROLE rt_reader IN ROLE tagscrm_reader;
CREATE ROLE rt_operator IN ROLE tagscrm_operator;
CREATE ROLE rt_admin IN ROLE tagscrm_admin;
CREATE ROLE rt_stranger;
CREATE TEMP TABLE test_role (role name PRIMARY KEY, level integer NOT NULL UNIQUE);
INSERT INTO test_role VALUES ('rt_stranger', 0), ('rt_reader', 1), ('rt_operator', 2), ('rt_admin', 3);
CREATE FUNCTION pg_temp.level(min_role text) RETURNS integer LANGUAGE sql IMMUTABLE
RETURN CASE min_role WHEN 'reader' THEN 1 WHEN 'operator' THEN 2 WHEN 'admin' THEN 3 ELSE 99 END;  -- NULL: nobody

-- ---------------------------------------------------------------------------
-- A small real installation, set up as the superuser
-- ---------------------------------------------------------------------------
CREATE TABLE public.orders (id serial PRIMARY KEY, customer_id bigint, paid_at timestamptz, amount numeric(12,2));
CREATE TABLE public.events (id serial PRIMARY KEY, customer_id bigint, at timestamptz, kind text, object text, seconds integer);
CREATE TABLE public.crm_customers (id bigint PRIMARY KEY, city text, born date);
CREATE TABLE public.contacts (customer_id text, code text, at timestamptz);
-- 60 customers simulated from the BG/NBD story (as in sql/churn_tags.sql), so a churn model fits
SELECT setseed(0.3);
DO $$
DECLARE
	c integer;
	rate float8;
	dropout float8;
	spend float8;
	at timestamptz;
BEGIN
	FOR c IN 1 .. 60 LOOP
		rate := -ln(1 - random()) * 0.4;               -- purchases per week
		dropout := random() * 0.6;
		spend := 10 + -ln(1 - random()) * 60;          -- customers spend differently (Gamma-Gamma needs it)
		at := '2025-06-01'::timestamptz + random() * interval '60 days';
		LOOP
			INSERT INTO public.orders (customer_id, paid_at, amount) VALUES (c, at, round((spend * (0.7 + random() * 0.6))::numeric, 2));
			EXIT WHEN random() < dropout;
			at := at + (-ln(1 - random()) / GREATEST(rate, 0.01)) * interval '7 days';
			EXIT WHEN at >= '2026-06-01';
		END LOOP;
	END LOOP;
END
$$;
INSERT INTO public.events (customer_id, at, kind, object, seconds)
SELECT 1 + g % 70, '2026-06-01 12:00+00'::timestamptz - (g * 7 % 90) * interval '1 day',
       (ARRAY['view', 'consult', 'review', 'register', 'read'])[1 + g % 5], 'page' || g % 3, g % 90
  FROM generate_series(1, 300) g;
INSERT INTO public.crm_customers
SELECT g, (ARRAY['Shanghai', 'Beijing', 'Hangzhou'])[1 + g % 3], '1960-01-01'::date + (g * 397) % 20000
  FROM generate_series(1, 70) g;
INSERT INTO public.contacts VALUES ('1', 'tb', '2026-05-01'), ('71', 'Taobao', '2026-05-02'), ('72', 'fair-booth', '2026-05-03');
-- the roles may read (and put triggers on) the user's tables: so a call fails
-- only for want of a tagscrm right, never for want of a right on these
GRANT SELECT, TRIGGER ON public.orders, public.events, public.crm_customers, public.contacts
   TO rt_reader, rt_operator, rt_admin, rt_stranger;
-- the stranger may look up names in the schema (as PUBLIC could, if a DBA
-- granted it): its calls then meet the functions' and tables' own rights,
-- not the schema's
GRANT USAGE ON SCHEMA tagscrm TO rt_stranger;

-- the library: groups and tags, an alias, a channel, rule tags with rules
SELECT tagscrm.create_tag_group('channel', 'channel', exclusive => true);
SELECT tagscrm.create_tag('Taobao', 'channel');
SELECT tagscrm.add_tag_alias('tb', 'Taobao');
SELECT tagscrm.create_tag_group('interests', 'interest', owner => 'marketing');
SELECT tagscrm.create_tag('garden', 'interests'), tagscrm.create_tag('kitchen', 'interests'),
       tagscrm.create_tag('backyard', 'interests');
SELECT tagscrm.add_tag_alias('yard', 'backyard');
SELECT tagscrm.create_tag_group('signals', 'behaviour');
SELECT tagscrm.create_tag('big spender', 'signals', method => 'rule'), tagscrm.create_tag('loyal', 'signals', method => 'rule');
SELECT tagscrm.set_tag_rule('big spender', 'order_count >= 3');
SELECT tagscrm.enable_tag_rule('big spender');
SELECT tagscrm.set_tag_rule('loyal', $$count(event 'view', last 90 days) >= 2 and order_count >= 2$$);   -- not enabled

-- the watched tables (a superuser watches them)
SELECT tagscrm.watch_orders('public.orders', 'customer_id', 'paid_at', 'amount');
SELECT tagscrm.watch_events('public.events', 'customer_id', 'at', 'kind', object => 'object', duration => 'seconds');
SELECT tagscrm.watch_customers('public.crm_customers', 'id', attributes => ARRAY['city'], birth_date => 'born');
SELECT tagscrm.watch_contacts('public.contacts', 'customer_id', 'code', at => 'at');

-- a fitted churn model, named in the settings
SELECT tagscrm.churn_fit('shop', 'public.orders', 'customer_id', 'paid_at', 'amount', '2026-06-01 00:00+00');
UPDATE tagscrm.settings SET churn_model = 'shop';
SELECT tagscrm.refresh(quiet => true, all_models => true);

-- hand tags (one that expires before the clock moves on), a review of a rule tag
SELECT tagscrm.tag_customer('1', 'garden', reason => 'asked for seeds');
SELECT tagscrm.tag_customer(2, 'kitchen', expires_at => '2026-06-01 18:00+00');
SELECT tagscrm.tag_customer(5, 'backyard');
SELECT min(customer_id::integer)::text AS kept, max(customer_id::integer)::text AS removed   -- two holders of the rule tag
  FROM (SELECT customer_id FROM tagscrm.customer_tags WHERE tag = 'big spender' ORDER BY customer_id::integer LIMIT 2) s
\gset
SELECT tagscrm.review_tag(:'kept', 'big spender', 'keep', reason => 'a regular');

-- an import source the roles may read
CREATE TABLE public.tag_import (customer_id text, tag text);
INSERT INTO public.tag_import VALUES ('7', 'garden'), ('8', 'kitchen'), ('9', 'no such tag');
GRANT SELECT ON public.tag_import TO rt_reader, rt_operator, rt_admin, rt_stranger;

-- a bulk statement queued for the applier (uncommitted: no worker takes it)
UPDATE tagscrm.settings SET bulk_rows = 5;
INSERT INTO public.orders (customer_id, paid_at, amount)
SELECT 61 + g % 3, '2026-05-20 10:00+00'::timestamptz + g * interval '1 hour', 30 FROM generate_series(1, 8) g;

-- later: the expiring hand tag is due
SET tagscrm.clock_override = '2026-06-02 00:00:00+00';

-- ---------------------------------------------------------------------------
-- The calls: every function a tagscrm role may execute, every overload.
--   min_role: the documented level (README "Reference", docs/security.md);
--   prepare:  SQL run as the superuser in the same subtransaction first;
--   sqlstate: what an allowed role gets, when it is not success.
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE call (
	fn regprocedure NOT NULL,
	min_role text NOT NULL CHECK (min_role IN ('reader', 'operator', 'admin')),
	sql text NOT NULL,
	sqlstate text,
	prepare text,
	UNIQUE (fn, sql));
CREATE TEMP TABLE sample (r float8, f float8, m float8);   -- recency, frequency, monetary
INSERT INTO sample VALUES (5, 1, 20), (40, 3, 90), (120, 2, 60), (10, 6, 300), (200, 1, 15), (30, 4, 120);
GRANT SELECT ON sample TO rt_reader, rt_operator, rt_admin, rt_stranger;
-- the per-customer summaries of the orders (the roles may read them)
\set summaries '(SELECT tagscrm.purchase_summary(o.paid_at, o.amount, ''2026-06-01'') AS s FROM public.orders o GROUP BY o.customer_id) q'
\set bp '(SELECT tagscrm.rfm_breakpoints(s.r, s.f, s.m) FROM pg_temp.sample s)'
\set bg '''(0.243,4.414,0.793,2.426,0,2357)''::tagscrm.bgnbd_model'
\set gg '''(6.25,3.74,15.44,0,946)''::tagscrm.gamma_gamma_model'
INSERT INTO call (fn, min_role, sql, sqlstate, prepare) VALUES
	-- reader: reading and computing
	('tagscrm.customer_profile(text,integer)', 'reader', $$SELECT tagscrm.customer_profile('1'::text)$$, NULL, NULL),
	('tagscrm.customer_profile(bigint,integer)', 'reader', $$SELECT tagscrm.customer_profile(1::bigint, 5)$$, NULL, NULL),
	('tagscrm.now()', 'reader', $$SELECT tagscrm.now()$$, NULL, NULL),
	('tagscrm.days_between(timestamptz,timestamptz)', 'reader',
	 $$SELECT tagscrm.days_between('2026-01-01'::timestamptz, '2026-02-01'::timestamptz)$$, NULL, NULL),
	('tagscrm.model_tag_of(text,text)', 'reader', $$SELECT tagscrm.model_tag_of('1', 'rfm')$$, NULL, NULL),
	('tagscrm.churn_probability_of(text)', 'reader', $$SELECT tagscrm.churn_probability_of('1')$$, NULL, NULL),
	('tagscrm.rfm_breakpoints(float8,float8,float8)', 'reader',
	 $$SELECT tagscrm.rfm_breakpoints(s.r, s.f, s.m) FROM pg_temp.sample s$$, NULL, NULL),
	('tagscrm.rfm_score(float8,float8[],boolean)', 'reader', $$SELECT tagscrm.rfm_score(10, '{3,10,30,60}', false)$$, NULL, NULL),
	('tagscrm.rfm_segment(float8,float8,float8,tagscrm.rfm_breakpoints,text)', 'reader',
	 format('SELECT tagscrm.rfm_segment(10, 3, 100, %s)', :'bp'), NULL, NULL),
	('tagscrm.rfm_classify(float8,float8,float8,tagscrm.rfm_breakpoints,text)', 'reader',
	 format('SELECT tagscrm.rfm_classify(10, 3, 100, %s, ''median'')', :'bp'), NULL, NULL),
	('tagscrm.rfm_segments()', 'reader', $$SELECT * FROM tagscrm.rfm_segments()$$, NULL, NULL),
	('tagscrm.rule_check(text)', 'reader', $$SELECT tagscrm.rule_check('order_count >= 3')$$, NULL, NULL),
	('tagscrm.rule_explain(text)', 'reader', $$SELECT tagscrm.rule_explain('order_count >= 3 and city = ''Shanghai''')$$, NULL, NULL),
	('tagscrm.rule_measures(text)', 'reader', $$SELECT * FROM tagscrm.rule_measures('count(event ''view'', last 30 days) > 1')$$, NULL, NULL),
	('tagscrm.rule_eval_values(text,jsonb)', 'reader', $$SELECT tagscrm.rule_eval_values('order_count >= 3', '{"1": 4}')$$, NULL, NULL),
	('tagscrm.rule_vocabulary()', 'reader', $$SELECT count(*) FROM tagscrm.rule_vocabulary()$$, NULL, NULL),
	('tagscrm.tag_rule_eval(text,text)', 'reader', $$SELECT tagscrm.tag_rule_eval('order_count >= 3', '1'::text)$$, NULL, NULL),
	('tagscrm.tag_rule_eval(text,bigint)', 'reader', $$SELECT tagscrm.tag_rule_eval('order_count >= 3', 1::bigint)$$, NULL, NULL),
	('tagscrm.rule_values(text,text)', 'reader', $$SELECT tagscrm.rule_values('order_count >= 3', '1')$$, NULL, NULL),
	('tagscrm.purchase_summary(timestamptz,numeric,timestamptz)', 'reader',
	 $$SELECT tagscrm.purchase_summary(o.at, o.amount, '2026-06-01') FROM (VALUES ('2026-01-05'::timestamptz, 20.0),
	   ('2026-02-10', 35.5), ('2026-04-01', 12)) o(at, amount)$$, NULL, NULL),
	('tagscrm.purchase_summary(timestamptz,numeric,timestamptz,interval)', 'reader',
	 $$SELECT tagscrm.purchase_summary(o.at, o.amount, '2026-06-01', '1 day') FROM (VALUES ('2026-01-05'::timestamptz, 20.0),
	   ('2026-02-10', 35.5), ('2026-04-01', 12)) o(at, amount)$$, NULL, NULL),
	('tagscrm.bgnbd_fit(float8,float8,float8)', 'reader',
	 format('SELECT tagscrm.bgnbd_fit((q.s).x, (q.s).t_x, (q.s).t) FROM %s', :'summaries'), NULL, NULL),
	('tagscrm.mbgnbd_fit(float8,float8,float8)', 'reader',
	 format('SELECT tagscrm.mbgnbd_fit((q.s).x, (q.s).t_x, (q.s).t) FROM %s', :'summaries'), NULL, NULL),
	('tagscrm.gamma_gamma_fit(float8,float8)', 'reader',
	 format('SELECT tagscrm.gamma_gamma_fit((q.s).x, (q.s).zbar) FROM %s', :'summaries'), NULL, NULL),
	('tagscrm.bgnbd_p_alive(tagscrm.bgnbd_model,float8,float8,float8)', 'reader',
	 format('SELECT tagscrm.bgnbd_p_alive(%s, 2, 30.43, 38.86)', :'bg'), NULL, NULL),
	('tagscrm.bgnbd_expected_purchases(tagscrm.bgnbd_model,float8)', 'reader',
	 format('SELECT tagscrm.bgnbd_expected_purchases(%s, 39)', :'bg'), NULL, NULL),
	('tagscrm.bgnbd_expected_purchases(tagscrm.bgnbd_model,float8,float8,float8,float8)', 'reader',
	 format('SELECT tagscrm.bgnbd_expected_purchases(%s, 39, 2, 30.43, 38.86)', :'bg'), NULL, NULL),
	('tagscrm.mbgnbd_p_alive(tagscrm.bgnbd_model,float8,float8,float8)', 'reader',
	 format('SELECT tagscrm.mbgnbd_p_alive(%s, 2, 30.43, 38.86)', :'bg'), NULL, NULL),
	('tagscrm.mbgnbd_expected_purchases(tagscrm.bgnbd_model,float8)', 'reader',
	 format('SELECT tagscrm.mbgnbd_expected_purchases(%s, 39)', :'bg'), NULL, NULL),
	('tagscrm.mbgnbd_expected_purchases(tagscrm.bgnbd_model,float8,float8,float8,float8)', 'reader',
	 format('SELECT tagscrm.mbgnbd_expected_purchases(%s, 39, 2, 30.43, 38.86)', :'bg'), NULL, NULL),
	('tagscrm.gamma_gamma_expected_value(tagscrm.gamma_gamma_model,float8,float8)', 'reader',
	 format('SELECT tagscrm.gamma_gamma_expected_value(%s, 2, 35)', :'gg'), NULL, NULL),
	('tagscrm.clv(tagscrm.bgnbd_model,tagscrm.gamma_gamma_model,float8,float8,float8,float8,float8,float8)', 'reader',
	 format('SELECT tagscrm.clv(%s, %s, 2, 30.43, 38.86, 35, 52, 0.002)', :'bg', :'gg'), NULL, NULL),
	('tagscrm.mbgnbd_clv(tagscrm.bgnbd_model,tagscrm.gamma_gamma_model,float8,float8,float8,float8,float8,float8)', 'reader',
	 format('SELECT tagscrm.mbgnbd_clv(%s, %s, 2, 30.43, 38.86, 35, 52, 0.002)', :'bg', :'gg'), NULL, NULL),
	('tagscrm.hyp2f1(float8,float8,float8,float8)', 'reader', $$SELECT tagscrm.hyp2f1(1, 1, 2, 0.5)$$, NULL, NULL),
	('tagscrm.churn_scores(text,timestamptz,interval,float8)', 'reader',
	 $$SELECT * FROM tagscrm.churn_scores('shop', horizon => '26 weeks', annual_discount_rate => 0.1)$$, NULL, NULL),
	('tagscrm.churn_predict(text[],text,interval)', 'reader',
	 $$SELECT * FROM tagscrm.churn_predict(ARRAY['1', '2'], 'shop', '26 weeks')$$, NULL, NULL),
	('tagscrm.churn_validate(regclass,name,name,name,timestamptz,timestamptz,interval,text)', 'reader',
	 $$SELECT * FROM tagscrm.churn_validate('public.orders', 'customer_id', 'paid_at', 'amount', now() - interval '26 weeks', now())$$, NULL, NULL),
	('tagscrm.churn_model_bgnbd(tagscrm.churn_model)', 'reader',
	 $$SELECT tagscrm.churn_model_bgnbd(m) FROM tagscrm.churn_model m$$, NULL, NULL),
	('tagscrm.churn_model_gamma_gamma(tagscrm.churn_model)', 'reader',
	 $$SELECT tagscrm.churn_model_gamma_gamma(m) FROM tagscrm.churn_model m$$, NULL, NULL),
	-- internal helpers of churn_scores, which runs with the caller's rights (so granted with it)
	('tagscrm.churn_check_source(regclass,name,name,name,boolean)', 'reader',
	 $$SELECT tagscrm.churn_check_source('public.orders', 'customer_id', 'paid_at', 'amount', false)$$, NULL, NULL),
	('tagscrm.churn_purchases_sql(regclass)', 'reader',
	 $$SELECT tagscrm.churn_purchases_sql('public.orders')$$, NULL, NULL),
	('tagscrm.churn_summary_sql(regclass,name,name,name)', 'reader',
	 $$SELECT tagscrm.churn_summary_sql('public.orders', 'customer_id', 'paid_at', 'amount')$$, NULL, NULL),
	-- customer sets and segments (src/segments.sql)
	('tagscrm.customer_set(integer[])', 'reader', $$SELECT tagscrm.customer_set(ARRAY[1, 5])$$, NULL, NULL),
	('tagscrm.customer_set_and(tagscrm.customer_set,tagscrm.customer_set)', 'reader',
	 $$SELECT tagscrm.customer_set_and('{1,5}', '{5}')$$, NULL, NULL),
	('tagscrm.customer_set_or(tagscrm.customer_set,tagscrm.customer_set)', 'reader',
	 $$SELECT tagscrm.customer_set_or('{1,5}', '{5}')$$, NULL, NULL),
	('tagscrm.customer_set_andnot(tagscrm.customer_set,tagscrm.customer_set)', 'reader',
	 $$SELECT tagscrm.customer_set_andnot('{1,5}', '{5}')$$, NULL, NULL),
	('tagscrm.customer_set_cardinality(tagscrm.customer_set)', 'reader', $$SELECT tagscrm.customer_set_cardinality('{1,5}')$$, NULL, NULL),
	('tagscrm.customer_set_contains(tagscrm.customer_set,integer)', 'reader', $$SELECT tagscrm.customer_set_contains('{1,5}', 5)$$, NULL, NULL),
	('tagscrm.customer_set_eq(tagscrm.customer_set,tagscrm.customer_set)', 'reader',
	 $$SELECT tagscrm.customer_set_eq('{1,5}', '{5,1}')$$, NULL, NULL),
	('tagscrm.customer_set_keys(tagscrm.customer_set)', 'reader', $$SELECT * FROM tagscrm.customer_set_keys('{1,5}')$$, NULL, NULL),
	('tagscrm.customer_set_agg(integer)', 'reader', $$SELECT tagscrm.customer_set_agg(g) FROM generate_series(1, 9) g$$, NULL, NULL),
	('tagscrm.customer_set_union(tagscrm.customer_set)', 'reader',
	 $$SELECT tagscrm.customer_set_union(s) FROM (VALUES ('{1}'::tagscrm.customer_set), ('{2}')) v(s)$$, NULL, NULL),
	('tagscrm.customer_set_intersection(tagscrm.customer_set)', 'reader',
	 $$SELECT tagscrm.customer_set_intersection(s) FROM (VALUES ('{1,2}'::tagscrm.customer_set), ('{2}')) v(s)$$, NULL, NULL),
	('tagscrm.segment_set(text)', 'reader', $$SELECT tagscrm.segment_set($e$tag('garden') or tag('kitchen')$e$)$$, NULL, NULL),
	('tagscrm.segment_count(text)', 'reader', $$SELECT tagscrm.segment_count($e$not tag('garden') and order_count >= 1$e$)$$, NULL, NULL),
	('tagscrm.segment_members(text,text,integer)', 'reader',
	 $$SELECT * FROM tagscrm.segment_members($e$tag('garden')$e$, after => NULL, page_size => 10)$$, NULL, NULL),
	('tagscrm.segment_overlap(text,text)', 'reader',
	 $$SELECT * FROM tagscrm.segment_overlap($e$tag('garden')$e$, $e$group('interests')$e$)$$, NULL, NULL),

	-- operator: tagging, importing, reviewing
	('tagscrm.tag_customer(text,text,text,timestamptz)', 'operator',
	 $$SELECT tagscrm.tag_customer('3'::text, 'garden', reason => 'met at the fair')$$, NULL, NULL),
	('tagscrm.tag_customer(bigint,text,text,timestamptz)', 'operator',
	 $$SELECT tagscrm.tag_customer(4::bigint, 'kitchen', expires_at => '2026-07-01')$$, NULL, NULL),
	('tagscrm.untag_customer(text,text,text)', 'operator', $$SELECT tagscrm.untag_customer('1'::text, 'garden')$$, NULL, NULL),
	('tagscrm.untag_customer(bigint,text,text)', 'operator',
	 $$SELECT tagscrm.untag_customer(1::bigint, 'garden', reason => 'moved away')$$, NULL, NULL),
	('tagscrm.import_tags(regclass,name,name,text,timestamptz)', 'operator',
	 $$SELECT * FROM tagscrm.import_tags('public.tag_import', reason => 'spring fair list')$$, NULL, NULL),
	('tagscrm.import_tag_rows(text,text[],text[],text,timestamptz)', 'operator',
	 $$SELECT * FROM tagscrm.import_tag_rows('fair', ARRAY['5', '6'], ARRAY['kitchen', 'garden'], NULL, NULL)$$, NULL, NULL),
	('tagscrm.expire_tags()', 'operator', $$SELECT tagscrm.expire_tags()$$, NULL, NULL),
	('tagscrm.review_tag(text,text,text,text)', 'operator',
	 format('SELECT tagscrm.review_tag(%L, ''big spender'', ''remove'', reason => ''buys for the office'')', :'removed'), NULL, NULL),
	('tagscrm.release_review(text,text,text)', 'operator',
	 format('SELECT tagscrm.release_review(%L, ''big spender'')', :'kept'), NULL, NULL),
	('tagscrm.preview_tag_rule(text,text,integer)', 'operator', $$SELECT * FROM tagscrm.preview_tag_rule('loyal')$$, NULL, NULL),
	('tagscrm.define_segment(text,text,text)', 'operator',
	 $$SELECT tagscrm.define_segment('green', $e$tag('garden') and not tag('kitchen') and order_count >= 1$e$, 'gardeners who bought')$$, NULL, NULL),
	('tagscrm.drop_segment(text)', 'operator', $$SELECT tagscrm.drop_segment('greens')$$, NULL,
	 $$SELECT tagscrm.define_segment('greens', $e$tag('garden') or order_count >= 2$e$)$$),

	-- admin: the library, watching, jobs, rules, churn models
	('tagscrm.create_tag_group(text,text,boolean,text,text,text)', 'admin',
	 $$SELECT tagscrm.create_tag_group('hobbies', 'interest', update_cycle => 'daily')$$, NULL, NULL),
	('tagscrm.alter_tag_group(text,text,boolean,text,text,text,text)', 'admin',
	 $$SELECT tagscrm.alter_tag_group('interests', description => 'what they like')$$, NULL, NULL),
	('tagscrm.create_tag(text,text,text,text,text)', 'admin', $$SELECT tagscrm.create_tag('roses', 'interests', parent => 'garden')$$, NULL, NULL),
	('tagscrm.rename_tag(text,text,boolean,text)', 'admin',
	 $$SELECT tagscrm.rename_tag('kitchen', 'cooking', keep_alias => true)$$, NULL, NULL),
	('tagscrm.describe_tag(text,text,text)', 'admin', $$SELECT tagscrm.describe_tag('garden', 'plants and tools')$$, NULL, NULL),
	('tagscrm.move_tag(text,text,text,text)', 'admin', $$SELECT tagscrm.move_tag('backyard', 'interests', parent => 'garden')$$, NULL, NULL),
	('tagscrm.add_tag_alias(text,text)', 'admin', $$SELECT tagscrm.add_tag_alias('greens', 'garden')$$, NULL, NULL),
	('tagscrm.drop_tag_alias(text)', 'admin', $$SELECT tagscrm.drop_tag_alias('yard')$$, NULL, NULL),
	('tagscrm.retire_tag(text,text)', 'admin', $$SELECT tagscrm.retire_tag('kitchen', reason => 'range closed')$$, NULL, NULL),
	('tagscrm.merge_tags(text,text,text)', 'admin', $$SELECT tagscrm.merge_tags('backyard', 'garden')$$, NULL, NULL),
	('tagscrm.watch_orders(regclass,name,name,name,name,text[],text[],boolean)', 'admin',
	 $$SELECT tagscrm.watch_orders('public.orders', 'customer_id', 'paid_at', 'amount')$$, NULL,
	 $$SELECT tagscrm.unwatch('public.orders')$$),
	('tagscrm.watch_events(regclass,name,name,name,name,name,boolean)', 'admin',
	 $$SELECT tagscrm.watch_events('public.events', 'customer_id', 'at', 'kind', object => 'object', duration => 'seconds')$$, NULL,
	 $$SELECT tagscrm.unwatch('public.events')$$),
	('tagscrm.watch_customers(regclass,name,name[],name)', 'admin',
	 $$SELECT tagscrm.watch_customers('public.crm_customers', 'id', attributes => ARRAY['city'], birth_date => 'born')$$, NULL,
	 $$SELECT tagscrm.unwatch('public.crm_customers')$$),
	('tagscrm.watch_contacts(regclass,name,name,name)', 'admin',
	 $$SELECT tagscrm.watch_contacts('public.contacts', 'customer_id', 'code', at => 'at')$$, NULL,
	 $$SELECT tagscrm.unwatch('public.contacts')$$),
	('tagscrm.unwatch(regclass)', 'admin', $$SELECT tagscrm.unwatch('public.contacts')$$, NULL, NULL),
	('tagscrm.refresh(boolean,boolean,boolean)', 'admin', $$SELECT tagscrm.refresh(quiet => true, all_models => true)$$, NULL, NULL),
	('tagscrm.sweep(boolean)', 'admin', $$SELECT tagscrm.sweep()$$, NULL, NULL),
	('tagscrm.apply_pending()', 'admin', $$SELECT tagscrm.apply_pending()$$, NULL, NULL),
	-- pg_cron is not installed in this database (cron.database_name is another one): documented 55000
	('tagscrm.schedule(text,text)', 'admin', $$SELECT * FROM tagscrm.schedule()$$, '55000', NULL),
	('tagscrm.unschedule()', 'admin', $$SELECT tagscrm.unschedule()$$, NULL, NULL),
	('tagscrm.set_tag_rule(text,text,integer)', 'admin',
	 $$SELECT tagscrm.set_tag_rule('big spender', 'order_count >= 4', priority => 10)$$, NULL, NULL),
	('tagscrm.enable_tag_rule(text,boolean)', 'admin', $$SELECT tagscrm.enable_tag_rule('loyal')$$, NULL, NULL),
	('tagscrm.churn_fit(text,regclass,name,name,name,timestamptz,interval,text)', 'admin',
	 $$SELECT tagscrm.churn_fit('shop-daily', 'public.orders', 'customer_id', 'paid_at', 'amount', time_unit => '1 day')$$, NULL, NULL),
	('tagscrm.drop_churn_model(text)', 'admin', $$SELECT tagscrm.drop_churn_model('shop')$$, NULL, NULL),
	('tagscrm.segment_compact(integer)', 'admin', $$SELECT tagscrm.segment_compact()$$, NULL, NULL),

	-- layers over time (src/history.sql): refresh() above recorded at 2026-06-01 12:00
	('tagscrm.movement(text,timestamptz,timestamptz)', 'reader',
	 $$SELECT * FROM tagscrm.movement('rfm', '2026-06-01 12:00+00', '2026-06-02')$$, NULL, NULL),
	('tagscrm.movement_members(text,timestamptz,timestamptz,text,text,text,integer)', 'reader',
	 $$SELECT * FROM tagscrm.movement_members('status', '2026-06-01 12:00+00', '2026-06-02', 'active', 'active', page_size => 10)$$, NULL, NULL),
	('tagscrm.record_history(boolean)', 'admin', $$SELECT tagscrm.record_history(quiet => true)$$, NULL, NULL),
	('tagscrm.set_history_retention(interval)', 'admin', $$SELECT tagscrm.set_history_retention('2 years')$$, NULL, NULL);

-- ---------------------------------------------------------------------------
-- Every relation of the schema, and the lowest role that may read it
-- (src/permissions.sql); NULL: no tagscrm role (reached only through the API).
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE relation (rel regclass PRIMARY KEY, min_role text CHECK (min_role IN ('reader', 'operator', 'admin')));
INSERT INTO relation VALUES
	('tagscrm.tags', 'reader'), ('tagscrm.tag_groups', 'reader'), ('tagscrm.customer_tags', 'reader'),
	('tagscrm.customer_tag_history', 'reader'), ('tagscrm.customer_overview', 'reader'), ('tagscrm.segment_sizes', 'reader'),
	('tagscrm.model_groups', 'reader'), ('tagscrm.model_members', 'reader'), ('tagscrm.customer_rfm_segment', 'reader'),
	('tagscrm.customer_lifecycle', 'reader'), ('tagscrm.customer_sales_stage', 'reader'), ('tagscrm.customer_status', 'reader'),
	('tagscrm.customer_level', 'reader'), ('tagscrm.customer_churn_risk', 'reader'), ('tagscrm.churn_model', 'reader'),
	('tagscrm.customer_loyalty', 'reader'),
	('tagscrm.tag_rule', 'operator'), ('tagscrm.tag_review', 'operator'),
	('tagscrm.library_changes', 'admin'), ('tagscrm.watched_table', 'admin'), ('tagscrm.unmatched_channel', 'admin'),
	('tagscrm.rfm_state', 'admin'), ('tagscrm.pending_changes', 'admin'), ('tagscrm.settings', 'admin'),
	('tagscrm.tag_group', NULL), ('tagscrm.tag', NULL), ('tagscrm.tag_alias', NULL), ('tagscrm.tag_word', NULL),
	('tagscrm.customer', NULL), ('tagscrm.customer_tag', NULL), ('tagscrm.tag_history', NULL),
	('tagscrm.library_history', NULL), ('tagscrm.customer_fact', NULL), ('tagscrm.customer_day', NULL),
	('tagscrm.customer_event_fact', NULL), ('tagscrm.model_tag', NULL), ('tagscrm.pending_customers', NULL),
	('tagscrm.recompute_log', NULL),
	('tagscrm.segments', 'reader'), ('tagscrm.segment', NULL), ('tagscrm.customer_key', NULL),
	('tagscrm.tag_set_base', NULL), ('tagscrm.tag_set_log', NULL), ('tagscrm.segment_condition', NULL),
	('tagscrm.tag_size_history', 'reader'), ('tagscrm.segment_size_history', 'reader'),
	('tagscrm.history_recording', NULL), ('tagscrm.history_tag', NULL), ('tagscrm.history_segment', NULL),
	('tagscrm.history_key', NULL), ('tagscrm.history_state', NULL), ('tagscrm.history_key_epoch', NULL),
	('tagscrm.history_key_remap', NULL);

-- Writes: only admins UPDATE settings; nobody writes the history or the assignments.
CREATE TEMP TABLE write (rel regclass NOT NULL, sql text PRIMARY KEY, min_role text);
INSERT INTO write VALUES
	('tagscrm.settings', $$UPDATE tagscrm.settings SET active_days = 31$$, 'admin'),
	('tagscrm.settings', $$DELETE FROM tagscrm.settings$$, NULL),
	('tagscrm.settings', $$INSERT INTO tagscrm.settings (active_days) VALUES (20)$$, NULL);
INSERT INTO write
SELECT t::regclass, format(s, t), NULL
  FROM unnest(ARRAY['tagscrm.tag_history', 'tagscrm.customer_tag']) t,
       unnest(ARRAY['INSERT INTO %s DEFAULT VALUES', 'UPDATE %s SET reason = NULL', 'DELETE FROM %s', 'TRUNCATE %s']) s;

-- Tag housekeeping and campaign effect (src/housekeeping.sql, src/campaigns.sql):
-- a campaign with contacts, registered as the superuser
SELECT tagscrm.create_campaign('launch', started_at => '2026-05-20 00:00+00', conversion_window => '7 days');
SELECT tagscrm.add_campaign_contacts('launch', ARRAY['1', '2', '3'], reached_at => '2026-05-21 00:00+00');
INSERT INTO call (fn, min_role, sql, sqlstate, prepare) VALUES
	('tagscrm.retirement_candidates(interval)', 'reader', $$SELECT * FROM tagscrm.retirement_candidates('30 days')$$, NULL, NULL),
	('tagscrm.campaign_effect(text,text,interval)', 'reader', $$SELECT * FROM tagscrm.campaign_effect('launch', 'tag')$$, NULL, NULL),
	('tagscrm.create_campaign(text,timestamptz,interval,text)', 'operator',
	 $$SELECT tagscrm.create_campaign('summer', conversion_window => '14 days')$$, NULL, NULL),
	('tagscrm.add_campaign_contacts(text,text[],boolean,timestamptz)', 'operator',
	 $$SELECT tagscrm.add_campaign_contacts('launch', ARRAY['10', '11'], control => true)$$, NULL, NULL),
	('tagscrm.drop_campaign(text)', 'operator', $$SELECT tagscrm.drop_campaign('launch')$$, NULL, NULL),
	('tagscrm.retire_idle_tags(interval,text)', 'admin', $$SELECT * FROM tagscrm.retire_idle_tags('0 days', 'unused')$$, NULL, NULL);
INSERT INTO relation VALUES
	('tagscrm.tag_usage', 'reader'), ('tagscrm.campaigns', 'reader'),
	('tagscrm.campaign', NULL), ('tagscrm.campaign_group', NULL), ('tagscrm.campaign_contact', NULL);

-- Runs sql as role in a subtransaction that is always rolled back (prepare
-- first, as the caller): 'ok', or the SQLSTATE and message of the error.
CREATE FUNCTION pg_temp.attempt(role name, sql text, prepare text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	result text;
	stage text := 'prepare';
BEGIN
	BEGIN
		IF prepare IS NOT NULL THEN
			EXECUTE prepare;
		END IF;
		stage := 'call';
		EXECUTE format('SET ROLE %I', role);
		EXECUTE sql;
		RAISE EXCEPTION 'roles test: roll the call back' USING ERRCODE = 'RTRB0';
	EXCEPTION
		WHEN SQLSTATE 'RTRB0' THEN
			result := 'ok';
		WHEN OTHERS THEN
			result := CASE stage WHEN 'prepare' THEN 'prepare failed: ' ELSE '' END || SQLSTATE || ': ' || SQLERRM;
	END;
	RESET ROLE;
	IF current_user <> session_user THEN
		RAISE EXCEPTION 'roles test: still acting as %', current_user;
	END IF;
	RETURN result;
END
$$;
-- have: the expected SQLSTATE (or 'ok') when it matches, else the whole result, so a failure shows the message
CREATE FUNCTION pg_temp.outcome(result text, want text) RETURNS text LANGUAGE sql IMMUTABLE
RETURN CASE WHEN result = want OR result LIKE want || ': %' THEN want ELSE result END;
\o

SELECT plan((SELECT count(*)::integer FROM call) * 4 + (SELECT count(*)::integer FROM relation) * 4
            + (SELECT count(*)::integer FROM write) * 4 + 7);

-- ---------------------------------------------------------------------------
-- Coverage: a function, table or view added later without a row here fails.
-- ---------------------------------------------------------------------------
SELECT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p
                 WHERE p.pronamespace = 'tagscrm'::regnamespace
                   AND EXISTS (SELECT FROM test_role r WHERE has_function_privilege(r.role, p.oid, 'EXECUTE'))
                   AND p.oid NOT IN (SELECT fn FROM call)
                 ORDER BY 1),
          '{}'::text[], 'every function a test role may execute has a call below');
SELECT is(ARRAY(SELECT p.oid::regprocedure::text || ' by ' || r.role FROM pg_proc p
                 CROSS JOIN unnest(ARRAY['rt_stranger', 'rt_reader', 'rt_operator', 'rt_admin', 'tagscrm_reader',
                                         'tagscrm_operator', 'tagscrm_admin', 'public']) r(role)
                 WHERE p.pronamespace = 'tagscrm'::regnamespace
                   AND p.oid NOT IN (SELECT fn FROM call)
                   AND has_function_privilege(r.role, p.oid, 'EXECUTE')
                 ORDER BY 1),
          '{}'::text[],
          format('the %s internal functions are executable by no tagscrm role, no test role, not PUBLIC',
                 (SELECT count(*) FROM pg_proc p WHERE p.pronamespace = 'tagscrm'::regnamespace
                     AND p.oid NOT IN (SELECT fn FROM call))));
SELECT is(ARRAY(SELECT c.fn::text FROM call c JOIN pg_proc p ON p.oid = c.fn
                 WHERE position('tagscrm.' || p.proname || '(' IN c.sql) = 0 ORDER BY 1),
          '{}'::text[], 'every call names its function');
SELECT is(ARRAY(SELECT c.oid::regclass::text FROM pg_class c
                 WHERE c.relnamespace = 'tagscrm'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                   AND c.oid NOT IN (SELECT rel FROM relation)
                 ORDER BY 1),
          '{}'::text[], 'every table and view of the schema has a row below');
-- beyond SELECT as listed and UPDATE on settings for admins, no role holds a right on a relation of the schema
SELECT is(ARRAY(SELECT format('%s %s %s', c.oid::regclass, r.role, p.priv)
                  FROM pg_class c
                 CROSS JOIN test_role r
                 CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p(priv)
                  LEFT JOIN relation l ON l.rel = c.oid
                 WHERE c.relnamespace = 'tagscrm'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                   AND has_table_privilege(r.role, c.oid, p.priv)
                   AND NOT (p.priv = 'SELECT' AND r.level >= pg_temp.level(l.min_role))
                   AND NOT (c.oid = 'tagscrm.settings'::regclass AND p.priv = 'UPDATE' AND r.level >= pg_temp.level('admin'))
                 UNION ALL
                SELECT format('%s %s %s', c.oid::regclass, r.role, p.priv)
                  FROM pg_class c CROSS JOIN test_role r CROSS JOIN unnest(ARRAY['USAGE', 'SELECT', 'UPDATE']) p(priv)
                 WHERE c.relnamespace = 'tagscrm'::regnamespace AND c.relkind = 'S'
                   AND has_sequence_privilege(r.role, c.oid, p.priv)
                 ORDER BY 1),
          '{}'::text[], 'no other right on a table, view or sequence of the schema');

-- ---------------------------------------------------------------------------
-- Each call as each role: allowed at or above its level, 42501 below (and
-- a role below the level must not hold EXECUTE on it, whatever the call gave).
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE state_before AS SELECT (SELECT count(*) FROM tagscrm.tag_history) AS tag_history,
       (SELECT count(*) FROM tagscrm.library_history) AS library_history, (SELECT count(*) FROM tagscrm.customer_tag) AS assignments,
       (SELECT count(*) FROM tagscrm.churn_model) AS models, (SELECT count(*) FROM tagscrm.watched_table) AS watched;
SELECT is(CASE WHEN x.denied AND has_function_privilege(x.role, x.fn, 'EXECUTE') THEN 'holds EXECUTE; the call gave ' || x.result
               ELSE pg_temp.outcome(x.result, x.want) END, x.want,
          format('%s as %s (%s): %s', x.fn, x.role, x.min_role, x.want))
  FROM (SELECT c.fn, c.min_role, r.role, pg_temp.attempt(r.role, c.sql, c.prepare) AS result,
               r.level < pg_temp.level(c.min_role) AS denied,
               CASE WHEN r.level >= pg_temp.level(c.min_role) THEN COALESCE(c.sqlstate, 'ok') ELSE '42501' END AS want
          FROM call c CROSS JOIN test_role r
         ORDER BY c.fn::text, c.sql, r.level) x;

-- ---------------------------------------------------------------------------
-- Each view and table read as each role; the writes.
-- ---------------------------------------------------------------------------
SELECT is(pg_temp.outcome(pg_temp.attempt(x.role, format('SELECT x::text FROM %s x', x.rel)), x.want), x.want,
          format('SELECT from %s as %s: %s', x.rel, x.role, x.want))
  FROM (SELECT l.rel, r.role, CASE WHEN r.level >= pg_temp.level(l.min_role) THEN 'ok' ELSE '42501' END AS want
          FROM relation l CROSS JOIN test_role r
         ORDER BY l.rel::text, r.level) x;
SELECT is(pg_temp.outcome(pg_temp.attempt(x.role, x.sql), x.want), x.want, format('%s as %s: %s', x.sql, x.role, x.want))
  FROM (SELECT w.sql, r.role, CASE WHEN r.level >= pg_temp.level(w.min_role) THEN 'ok' ELSE '42501' END AS want
          FROM write w CROSS JOIN test_role r
         ORDER BY w.rel::text, w.sql, r.level) x;

SELECT is((SELECT s FROM (SELECT (SELECT count(*) FROM tagscrm.tag_history) AS tag_history,
       (SELECT count(*) FROM tagscrm.library_history) AS library_history, (SELECT count(*) FROM tagscrm.customer_tag) AS assignments,
       (SELECT count(*) FROM tagscrm.churn_model) AS models, (SELECT count(*) FROM tagscrm.watched_table) AS watched) s)::text,
          (SELECT s FROM state_before s)::text, 'every call was rolled back: history, assignments, models, watched tables as before');

-- the history records the role acting (SET ROLE aware), not the functions' owner
SET ROLE rt_operator;
\o /dev/null
SELECT tagscrm.tag_customer('30', 'garden', reason => 'by an operator');
\o
RESET ROLE;
SELECT is((SELECT changed_by FROM tagscrm.tag_history WHERE customer_id = '30' AND reason = 'by an operator'), 'rt_operator',
          'the history records the acting role, not the function owner');

SELECT * FROM finish();
ROLLBACK;
