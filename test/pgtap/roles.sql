-- Roles: tagscrm_reader reads, tagscrm_operator tags, tagscrm_admin keeps the
-- library; each can do exactly its part.  Run by test/run in a fresh database.
\set ON_ERROR_STOP 1
\pset format unaligned
\pset tuples_only true
\pset pager off
SET client_min_messages = warning;
CREATE EXTENSION pgtap;
CREATE EXTENSION tagscrm;

BEGIN;
SELECT plan(330);   -- every check below; a script that stops early fails

\o /dev/null
CREATE ROLE t_reader IN ROLE tagscrm_reader;
CREATE ROLE t_operator IN ROLE tagscrm_operator;
CREATE ROLE t_admin IN ROLE tagscrm_admin;
CREATE ROLE t_stranger;
SELECT tagscrm.create_tag_group('g', 'manual');
SELECT tagscrm.create_tag('a', 'g');
SELECT tagscrm.tag_customer('c1', 'a');
CREATE TABLE public.pairs (customer_id text, tag text);
INSERT INTO public.pairs VALUES ('c2', 'a');
GRANT SELECT ON public.pairs TO t_operator;
\o

-- The privilege matrix, exactly as README.md's table: role -> API functions.
CREATE TEMP TABLE matrix (fn text, min_role text);
INSERT INTO matrix VALUES
	('customer_profile', 'reader'), ('now', 'reader'), ('days_between', 'reader'), ('model_tag_of', 'reader'),
	('churn_probability_of', 'reader'),
	('tag_customer', 'operator'), ('untag_customer', 'operator'), ('import_tags', 'operator'), ('import_tag_rows', 'operator'),
	('expire_tags', 'operator'),
	('create_tag_group', 'admin'), ('alter_tag_group', 'admin'), ('create_tag', 'admin'),
	('rename_tag', 'admin'), ('describe_tag', 'admin'), ('move_tag', 'admin'),
	('add_tag_alias', 'admin'), ('drop_tag_alias', 'admin'), ('retire_tag', 'admin'), ('merge_tags', 'admin'),
	('rfm_breakpoints', 'reader'), ('rfm_score', 'reader'), ('rfm_segment', 'reader'), ('rfm_classify', 'reader'),
	('rfm_segments', 'reader'), ('rule_check', 'reader'), ('rule_explain', 'reader'), ('rule_measures', 'reader'),
	('rule_eval_values', 'reader'), ('tag_rule_eval', 'reader'), ('rule_values', 'reader'),
	('review_tag', 'operator'), ('release_review', 'operator'), ('preview_tag_rule', 'operator'),
	('set_tag_rule', 'admin'), ('enable_tag_rule', 'admin'), ('churn_fit', 'admin'), ('drop_churn_model', 'admin'),
	('purchase_summary', 'reader'), ('bgnbd_fit', 'reader'), ('gamma_gamma_fit', 'reader'), ('bgnbd_p_alive', 'reader'),
	('bgnbd_expected_purchases', 'reader'), ('gamma_gamma_expected_value', 'reader'), ('clv', 'reader'), ('hyp2f1', 'reader'),
	('churn_scores', 'reader'), ('churn_model_bgnbd', 'reader'), ('churn_model_gamma_gamma', 'reader'),
	('churn_check_source', 'reader'), ('churn_summary_sql', 'reader'),
	('watch_orders', 'admin'), ('watch_events', 'admin'), ('watch_customers', 'admin'), ('watch_contacts', 'admin'),
	('unwatch', 'admin'), ('refresh', 'admin'), ('sweep', 'admin'), ('schedule', 'admin'), ('unschedule', 'admin'),
	('apply_pending', 'admin');

-- every function of the schema is either in the matrix or internal (no role may call it)
SELECT is(
	(SELECT count(*) FROM pg_proc p
	  WHERE p.pronamespace = 'tagscrm'::regnamespace
	    AND p.proname NOT IN (SELECT fn FROM matrix)
	    AND (has_function_privilege('t_admin', p.oid, 'EXECUTE')
	         OR has_function_privilege('t_stranger', p.oid, 'EXECUTE'))),
	0::bigint, 'internal functions are executable by no tagscrm role');

-- each (function, role) pair: allowed exactly when the role is at or above the function's level
SELECT ok(has_function_privilege(r.role, p.oid, 'EXECUTE') =
          (array_position(ARRAY['stranger', 'reader', 'operator', 'admin'], r.level)
           >= array_position(ARRAY['stranger', 'reader', 'operator', 'admin'], m.min_role)),
          format('%s %s execute %s', r.role,
                 CASE WHEN has_function_privilege(r.role, p.oid, 'EXECUTE') THEN 'may' ELSE 'may not' END,
                 p.oid::regprocedure))
  FROM matrix m
  JOIN pg_proc p ON p.proname = m.fn AND p.pronamespace = 'tagscrm'::regnamespace
 CROSS JOIN (VALUES ('t_reader', 'reader'), ('t_operator', 'operator'), ('t_admin', 'admin'),
                    ('t_stranger', 'stranger')) AS r(role, level)
 ORDER BY p.oid::regprocedure::text, r.role;

-- views: readers (and above) read them, strangers do not
SELECT table_privs_are('tagscrm', v, 'tagscrm_reader', ARRAY['SELECT'], 'reader reads ' || v)
  FROM unnest(ARRAY['tags', 'tag_groups', 'customer_tags', 'customer_tag_history', 'customer_overview', 'segment_sizes',
                    'model_groups', 'model_members', 'customer_rfm_segment', 'customer_lifecycle',
                    'customer_sales_stage', 'customer_status', 'customer_level', 'customer_churn_risk', 'churn_model']) v;
SELECT table_privs_are('tagscrm', 'settings', 'tagscrm_admin', ARRAY['SELECT', 'UPDATE'], 'admin reads and changes settings');
SELECT table_privs_are('tagscrm', 'settings', 'tagscrm_operator', ARRAY[]::text[], 'operator cannot change settings');
SELECT table_privs_are('tagscrm', 'library_changes', 'tagscrm_admin', ARRAY['SELECT'], 'admin reads library_changes');
SELECT table_privs_are('tagscrm', 'pending_changes', 'tagscrm_admin', ARRAY['SELECT'], 'admin reads pending_changes');
SELECT table_privs_are('tagscrm', 'pending_changes', 'tagscrm_operator', ARRAY[]::text[], 'operator does not read pending_changes');
SELECT table_privs_are('tagscrm', t, 'tagscrm_admin', ARRAY[]::text[], 'no direct rights on table ' || t)
  FROM unnest(ARRAY['tag_group', 'tag', 'tag_alias', 'customer', 'customer_tag', 'tag_history', 'library_history',
                    'customer_fact', 'customer_day', 'customer_event_fact', 'model_tag', 'pending_customers']) t;

-- reader
SET ROLE t_reader;
SELECT lives_ok($$SELECT count(*) FROM tagscrm.tags$$, 'reader reads tags');
SELECT lives_ok($$SELECT count(*) FROM tagscrm.customer_tags$$, 'reader reads customer_tags');
SELECT lives_ok($$SELECT tagscrm.customer_profile('c1')$$, 'reader reads a profile');
SELECT throws_ok($$SELECT tagscrm.tag_customer('c1', 'a')$$, '42501', NULL, 'reader cannot tag');
SELECT throws_ok($$SELECT tagscrm.create_tag('b', 'g')$$, '42501', NULL, 'reader cannot create tags');
SELECT throws_ok($$SELECT count(*) FROM tagscrm.library_changes$$, '42501', NULL, 'reader cannot read library changes');
SELECT throws_ok($$SELECT count(*) FROM tagscrm.customer_tag$$, '42501', NULL, 'reader cannot read base tables');
RESET ROLE;

-- operator
SET ROLE t_operator;
SELECT is(tagscrm.tag_customer('c3', 'a', reason => 'by operator'), true, 'operator tags');
SELECT is(tagscrm.untag_customer('c1', 'a'), true, 'operator untags');
SELECT is((SELECT count(*) FROM tagscrm.import_tags('public.pairs')), 0::bigint, 'operator imports from a table it may read');
SELECT is(tagscrm.expire_tags(), 0::bigint, 'operator expires tags');
SELECT lives_ok($$SELECT count(*) FROM tagscrm.customer_tag_history$$, 'operator reads history');
SELECT throws_ok($$SELECT tagscrm.create_tag('b', 'g')$$, '42501', NULL, 'operator cannot create tags');
SELECT throws_ok($$SELECT tagscrm.retire_tag('a')$$, '42501', NULL, 'operator cannot retire tags');
SELECT throws_ok($$DELETE FROM tagscrm.tag_history$$, '42501', NULL, 'operator cannot delete history');
SELECT throws_ok($$UPDATE tagscrm.tag_history SET reason = 'x'$$, '42501', NULL, 'operator cannot rewrite history');
SELECT throws_ok($$INSERT INTO tagscrm.customer_tag VALUES ('c9', 1, 1, NULL, 'manual', 'x', now(), NULL, NULL)$$,
                 '42501', NULL, 'operator cannot write assignments directly');
RESET ROLE;
REVOKE SELECT ON public.pairs FROM t_operator;
SET ROLE t_operator;
SELECT throws_ok($$SELECT * FROM tagscrm.import_tags('public.pairs')$$, '42501', NULL,
                 'operator cannot import from a table it may not read');
RESET ROLE;
SELECT is((SELECT changed_by FROM tagscrm.tag_history WHERE customer_id = 'c3'), 't_operator',
          'history records the acting role, not the function owner');

-- admin (also an operator and a reader)
SET ROLE t_admin;
SELECT lives_ok($$SELECT tagscrm.create_tag('b', 'g')$$, 'admin creates tags');
SELECT lives_ok($$SELECT tagscrm.rename_tag('b', 'bee')$$, 'admin renames tags');
SELECT lives_ok($$SELECT tagscrm.retire_tag('bee')$$, 'admin retires tags');
SELECT lives_ok($$SELECT tagscrm.tag_customer('c4', 'a')$$, 'admin also tags');
SELECT lives_ok($$SELECT count(*) FROM tagscrm.library_changes$$, 'admin reads library changes');
SELECT throws_ok($$DELETE FROM tagscrm.library_history$$, '42501', NULL, 'admin cannot delete library history');
RESET ROLE;
SELECT is((SELECT changed_by FROM tagscrm.library_changes WHERE object_name = 'b' AND action = 'create'), 't_admin',
          'library history records the acting role');

-- stranger
SET ROLE t_stranger;
SELECT throws_ok($$SELECT count(*) FROM tagscrm.tags$$, '42501', NULL, 'stranger cannot read tags');
SELECT throws_ok($$SELECT tagscrm.customer_profile('c1')$$, '42501', NULL, 'stranger cannot read profiles');
SELECT throws_ok($$SELECT tagscrm.tag_customer('c1', 'a')$$, '42501', NULL, 'stranger cannot tag');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
