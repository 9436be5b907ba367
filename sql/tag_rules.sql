-- Rules attached to tags: preview, switch on, kept current by the triggers
-- and by sweep() across window boundaries, exclusive groups by priority,
-- operators' reviews win until released.  Each state is compared with the
-- same conditions written by hand in plain SQL.
DROP EXTENSION tagscrm CASCADE;
DROP SCHEMA tagscrm;
CREATE EXTENSION tagscrm;
SET tagscrm.clock_override = '2026-06-01 12:00:00+00';
SET client_min_messages = warning;
\set VERBOSITY default
\set SHOW_CONTEXT never

CREATE TABLE t_orders (id serial PRIMARY KEY, cust integer, paid_at timestamptz, amount numeric);
CREATE TABLE t_events (id serial PRIMARY KEY, cust integer, at timestamptz, kind text);
CREATE INDEX ON t_events (cust);
SELECT setseed(0.25);
INSERT INTO t_orders (cust, paid_at, amount)
SELECT 1 + floor(random() * 40), '2026-06-01 12:00+00'::timestamptz - random() * interval '300 days', 100 FROM generate_series(1, 80);
INSERT INTO t_events (cust, at, kind)
SELECT 1 + floor(random() * 60), '2026-06-01 12:00+00'::timestamptz - random() * interval '70 days',
       (ARRAY['view', 'consult', 'register'])[1 + floor(random() * 3)]
  FROM generate_series(1, 700);
SELECT tagscrm.watch_orders('t_orders', 'cust', 'paid_at', 'amount');
SELECT tagscrm.watch_events('t_events', 'cust', 'at', 'kind');

SELECT tagscrm.create_tag_group('intent', 'behaviour', exclusive => true);
SELECT tagscrm.create_tag('high intent', 'intent', method => 'rule'), tagscrm.create_tag('low intent', 'intent', method => 'rule');
SELECT tagscrm.create_tag_group('signals', 'behaviour');
SELECT tagscrm.create_tag('member', 'signals', method => 'rule'), tagscrm.create_tag('predicted churn', 'signals', method => 'rule'),
       tagscrm.create_tag('by hand', 'signals');

-- what each rule tag should be, written by hand
CREATE FUNCTION expected() RETURNS TABLE (customer_id text, tag text) LANGUAGE sql AS $$
	WITH t AS (SELECT tagscrm.now() AS now),
	c AS (SELECT f.customer_id, f.customer_id::integer AS id FROM tagscrm.customer_fact f),
	w AS (SELECT c.*,
	             (SELECT count(*) FROM t_events e, t WHERE e.cust = c.id AND e.kind = 'consult' AND e.at > t.now - interval '14 days' AND e.at <= t.now) AS consult14,
	             (SELECT count(*) FROM t_events e, t WHERE e.cust = c.id AND e.kind = 'consult' AND e.at > t.now - interval '30 days' AND e.at <= t.now) AS consult30,
	             (SELECT count(*) FROM t_events e, t WHERE e.cust = c.id AND e.kind = 'view' AND e.at > t.now - interval '60 days' AND e.at <= t.now - interval '30 days') AS view_old,
	             (SELECT count(*) FROM t_events e, t WHERE e.cust = c.id AND e.kind = 'view' AND e.at > t.now - interval '30 days' AND e.at <= t.now) AS view_new,
	             EXISTS (SELECT FROM t_events e WHERE e.cust = c.id AND e.kind = 'register') AS registered,
	             EXISTS (SELECT FROM t_orders o WHERE o.cust = c.id) AS ordered
	        FROM c),
	rule_says AS (
		SELECT customer_id, 'high intent' AS tag FROM w WHERE consult14 >= 3 AND NOT ordered
		UNION ALL SELECT customer_id, 'low intent' FROM w WHERE consult30 >= 1 AND NOT (consult14 >= 3 AND NOT ordered)
		UNION ALL SELECT customer_id, 'member' FROM w WHERE registered
		UNION ALL SELECT customer_id, 'predicted churn' FROM w WHERE view_old > 4 AND view_new = 0),
	reviewed AS (SELECT v.customer_id, t.name AS tag, v.decision FROM tagscrm.tag_review v JOIN tagscrm.tag t USING (tag_id))
	SELECT customer_id, tag FROM rule_says r
	 WHERE NOT EXISTS (SELECT FROM reviewed v WHERE v.customer_id = r.customer_id AND v.tag = r.tag AND v.decision = 'remove')
	   AND NOT EXISTS (SELECT FROM reviewed v JOIN tagscrm.tag t ON t.name = v.tag JOIN tagscrm.tag_group g USING (group_id)
	                    WHERE g.exclusive AND v.customer_id = r.customer_id AND v.decision = 'keep' AND v.tag <> r.tag
	                      AND t.group_id = (SELECT t2.group_id FROM tagscrm.tag t2 WHERE t2.name = r.tag))
	UNION
	SELECT customer_id, tag FROM reviewed WHERE decision = 'keep'
$$;
CREATE FUNCTION check_rules(tags text[]) RETURNS text LANGUAGE sql AS $$
	WITH have AS (SELECT customer_id, tag FROM tagscrm.customer_tags WHERE source = 'rule' OR tag IN ('high intent', 'low intent', 'member', 'predicted churn')),
	want AS (SELECT * FROM expected() WHERE tag = ANY (tags)),
	bad AS (SELECT count(*) AS n FROM ((SELECT * FROM have EXCEPT SELECT * FROM want) UNION ALL (SELECT * FROM want EXCEPT SELECT * FROM have)) x)
	SELECT CASE WHEN n = 0 THEN format('ok (%s tags)', (SELECT count(*) FROM want)) ELSE n || ' rows differ' END FROM bad
$$;

-- bad rules and tags, one per line
\set VERBOSITY sqlstate
SELECT tagscrm.set_tag_rule('by hand', 'order_count > 0');
SELECT tagscrm.set_tag_rule('no such tag', 'order_count > 0');
SELECT tagscrm.set_tag_rule('member', NULL);
SELECT tagscrm.set_tag_rule('member', $$has_event('register') or$$);
SELECT tagscrm.set_tag_rule('member', $$x'); DROP TABLE t_orders; --$$);
SELECT tagscrm.enable_tag_rule('member');
\set VERBOSITY default
SELECT tagscrm.set_tag_rule('member', $$has_event('register') and (order_count > 1$$);
SELECT count(*) AS rules FROM tagscrm.tag_rule;

SELECT tagscrm.set_tag_rule('high intent', $$count(event 'consult', last 14 days) >= 3 and order_count = 0$$, priority => 1);
SELECT tagscrm.set_tag_rule('low intent', $$count(event 'consult', last 30 days) >= 1$$, priority => 2);
SELECT tagscrm.set_tag_rule('member', $$has_event('register')$$);
SELECT tagscrm.set_tag_rule('predicted churn', $$count(event 'view', from 60 days ago to 30 days ago) > 4 and count(event 'view', last 30 days) = 0$$);

-- preview changes nothing and counts like the hand-written SQL
SELECT holders_now, would_hold, would_gain, would_lose, cardinality(sample_gain) AS sampled
  FROM tagscrm.preview_tag_rule('member', sample_size => 3);
SELECT count(*) AS member_by_hand FROM expected() WHERE tag = 'member';
SELECT count(*) AS holders FROM tagscrm.customer_tags WHERE tag = 'member';

SELECT tagscrm.enable_tag_rule(t) FROM unnest(ARRAY['high intent', 'low intent', 'member', 'predicted churn']) t;
SELECT check_rules(ARRAY['high intent', 'low intent', 'member', 'predicted churn']) AS after_enable;
SELECT tag, count(*) FROM tagscrm.customer_tags WHERE source = 'rule' GROUP BY 1 ORDER BY 1;

-- statements keep them current
INSERT INTO t_events (cust, at, kind) VALUES (61, '2026-06-01', 'register'), (62, '2026-05-31', 'consult'),
                                             (62, '2026-05-30', 'consult'), (62, '2026-05-29', 'consult');
DELETE FROM t_events WHERE cust IN (3, 4, 5) AND kind = 'register';
INSERT INTO t_orders (cust, paid_at, amount) SELECT customer_id::integer, '2026-06-01', 1 FROM tagscrm.customer_tags
 WHERE tag = 'high intent' LIMIT 2;
SELECT check_rules(ARRAY['high intent', 'low intent', 'member', 'predicted churn']) AS after_statements;
SELECT customer_id, tag FROM tagscrm.customer_tags WHERE customer_id IN ('61', '62') AND source = 'rule' ORDER BY 1, 2;

-- time: windows move; the sweep re-evaluates exactly the due customers
SET tagscrm.clock_override = '2026-06-20 12:00:00+00';
SELECT check_rules(ARRAY['high intent', 'low intent', 'member', 'predicted churn']) <> 'ok' AS stale_before_sweep;
SELECT tagscrm.sweep() > 0 AS swept;
SELECT check_rules(ARRAY['high intent', 'low intent', 'member', 'predicted churn']) AS after_sweep;
SET tagscrm.clock_override = '2026-08-15 12:00:00+00';
SELECT tagscrm.sweep() > 0 AS swept;
SELECT check_rules(ARRAY['high intent', 'low intent', 'member', 'predicted churn']) AS after_second_sweep;

-- review: the operator's decision wins until released
SELECT customer_id AS member_to_remove FROM tagscrm.customer_tags WHERE tag = 'member' ORDER BY 1 LIMIT 1 \gset
SELECT tagscrm.review_tag(:'member_to_remove', 'member', 'remove', reason => 'test account');
INSERT INTO t_events (cust, at, kind) VALUES (:'member_to_remove', '2026-08-15', 'register');
SELECT count(*) AS still_removed FROM tagscrm.customer_tags WHERE customer_id = :'member_to_remove' AND tag = 'member';
SELECT tagscrm.review_tag('1', 'predicted churn', 'keep', reason => 'sales says so');
SELECT tagscrm.refresh(quiet => true) > 0 AS refreshed;
SELECT check_rules(ARRAY['high intent', 'low intent', 'member', 'predicted churn']) AS with_reviews;
SELECT tagscrm.release_review(:'member_to_remove', 'member');
SELECT tagscrm.release_review('1', 'predicted churn');
SELECT tagscrm.release_review('1', 'predicted churn');
SELECT check_rules(ARRAY['high intent', 'low intent', 'member', 'predicted churn']) AS after_release;
SELECT action, source, reason, count(*) FROM tagscrm.customer_tag_history
 WHERE action IN ('review', 'release') GROUP BY 1, 2, 3 ORDER BY 1, 3;
\set VERBOSITY sqlstate
SELECT tagscrm.review_tag('1', 'member', 'maybe');
SELECT tagscrm.review_tag('1', 'by hand', 'keep');
\set VERBOSITY default

-- switching a rule off takes the tag from its holders
SELECT tagscrm.enable_tag_rule('member', false);
SELECT count(*) AS members FROM tagscrm.customer_tags WHERE tag = 'member';
SELECT action, reason, count(*) > 0 AS present FROM tagscrm.customer_tag_history WHERE source = 'rule' GROUP BY 1, 2 ORDER BY 1, 2;
SELECT object_name, action FROM tagscrm.library_changes WHERE action LIKE '%rule%' ORDER BY history_id;

DROP FUNCTION check_rules(text[]), expected();
DROP TABLE t_orders, t_events;
