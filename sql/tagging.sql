-- Hand tagging: tag, untag, exclusive groups, expiry, import with rejects,
-- merge and retire with holders, customer_profile, history; bad input.
DROP EXTENSION tagscrm CASCADE;
CREATE EXTENSION tagscrm;
SET tagscrm.clock_override = '2026-03-01 09:00:00+00';
\set VERBOSITY default
\set SHOW_CONTEXT never

SELECT tagscrm.create_tag_group('intent', 'behaviour', exclusive => true);
SELECT tagscrm.create_tag_group('interests', 'interest');
SELECT tagscrm.create_tag('low intent', 'intent'), tagscrm.create_tag('high intent', 'intent'),
       tagscrm.create_tag('wardrobe', 'interests'), tagscrm.create_tag('kitchen', 'interests'),
       tagscrm.create_tag('from csv', 'interests', method => 'import'),
       tagscrm.create_tag('vip model', 'interests', method => 'model');

-- bigint and text ids (WeCom external user ids are text)
SELECT tagscrm.tag_customer(1001, 'low intent', reason => 'asked for a quote');
SELECT tagscrm.tag_customer('wmXyZ-ext_7', 'wardrobe');
SELECT tagscrm.tag_customer('wmXyZ-ext_7', 'kitchen', expires_at => '2026-03-08 09:00:00+00');
-- applying it again changes nothing
SELECT tagscrm.tag_customer(1001, 'low intent');
-- exclusive group: high intent replaces low intent, recorded as a replace
SELECT tagscrm.tag_customer(1001, 'high intent', reason => 'second visit');
SELECT customer_id, tag, group_name, source, applied_by, expires_at, reason
  FROM tagscrm.customer_tags ORDER BY customer_id, tag;

-- a new expiry on a tag already held is an update
SELECT tagscrm.tag_customer('wmXyZ-ext_7', 'kitchen', expires_at => '2026-03-15 09:00:00+00');
-- untag
SELECT tagscrm.untag_customer('wmXyZ-ext_7', 'wardrobe', reason => 'wrong customer');
SELECT tagscrm.untag_customer('wmXyZ-ext_7', 'wardrobe');
SELECT customer_id, action, tag, old->>'tag' AS old_tag, new->>'tag' AS new_tag, new->>'expires_at' AS new_expiry,
       source, reason, changed_by
  FROM tagscrm.customer_tag_history ORDER BY history_id;

-- expiry: at the boundary the tag is gone from the views; expire_tags() records it
SET tagscrm.clock_override = '2026-03-15 08:59:59.999999+00';
SELECT count(*) AS kitchen_holders FROM tagscrm.customer_tags WHERE tag = 'kitchen';
SELECT tagscrm.expire_tags();
SET tagscrm.clock_override = '2026-03-15 09:00:00+00';
SELECT count(*) AS kitchen_holders FROM tagscrm.customer_tags WHERE tag = 'kitchen';
SELECT tagscrm.expire_tags();
SELECT tagscrm.expire_tags();
SELECT customer_id, action, tag, old->>'expires_at' AS expired_at, reason
  FROM tagscrm.customer_tag_history WHERE action = 'expire';

-- profile: current tags with source and age, and recent history
SET tagscrm.clock_override = '2026-03-20 12:30:00+00';
SELECT jsonb_pretty(tagscrm.customer_profile(1001, history_limit => 2));
SELECT tagscrm.customer_profile('never-seen');

-- bad input, one per line
\set VERBOSITY sqlstate
SELECT tagscrm.tag_customer(NULL::text, 'wardrobe');
SELECT tagscrm.tag_customer('', 'wardrobe');
SELECT tagscrm.tag_customer('  ', 'wardrobe');
SELECT tagscrm.tag_customer(repeat('9', 257), 'wardrobe');
SELECT tagscrm.tag_customer(1, NULL);
SELECT tagscrm.tag_customer(1, 'no such tag');
SELECT tagscrm.tag_customer(1, 'vip model');
SELECT tagscrm.tag_customer(1, 'wardrobe', expires_at => '2026-03-20 12:30:00+00');
SELECT tagscrm.tag_customer(1, 'wardrobe', expires_at => '2020-01-01');
SELECT tagscrm.untag_customer(NULL::bigint, 'wardrobe');
SELECT tagscrm.untag_customer(1, 'no such tag');
SELECT tagscrm.customer_profile(1, history_limit => -1);
SELECT tagscrm.customer_profile(NULL::text);
\set VERBOSITY default
SELECT tagscrm.tag_customer(1, 'vip model');
-- nothing was stored by the failed calls
SELECT count(*) FROM tagscrm.customer_tag WHERE customer_id = '1';
SELECT count(*) FROM tagscrm.tag_history WHERE customer_id = '1';

-- import from a table filled by COPY: good rows applied, every bad row reported
CREATE TABLE incoming (customer_id text, tag text);
COPY incoming FROM stdin WITH (FORMAT csv);
2001,wardrobe
2002,WARDROBE
2002,wardrobe
,wardrobe
2003,
2003,no such tag
2004,vip model
2005,low intent
2005,high intent
2006,from csv
2007,low intent
1001,low intent
\.
SELECT * FROM tagscrm.import_tags('incoming', reason => 'spring campaign');
SELECT customer_id, tag, source, reason FROM tagscrm.customer_tags
 WHERE customer_id IN ('1001', '2001', '2002', '2005', '2006', '2007') ORDER BY customer_id, tag;
-- importing the same file again changes nothing and reports the same rejects
SELECT count(*) AS rejected FROM tagscrm.import_tags('incoming');
SELECT count(*) AS import_history FROM tagscrm.tag_history WHERE source = 'import';

-- other column names, bigint ids
CREATE TABLE crm_export (uid bigint, label text);
INSERT INTO crm_export VALUES (3001, 'kitchen'), (3002, 'kitchen');
SELECT * FROM tagscrm.import_tags('crm_export', customer_column => 'uid', tag_column => 'label');
SELECT count(*) FROM tagscrm.customer_tags WHERE tag = 'kitchen';
\set VERBOSITY sqlstate
SELECT * FROM tagscrm.import_tags('crm_export', customer_column => 'nope');
SELECT * FROM tagscrm.import_tags(NULL);
SELECT * FROM tagscrm.import_tags('no_such_table');
SELECT * FROM tagscrm.import_tags('crm_export', 'uid', 'label', expires_at => '2020-01-01');
\set VERBOSITY default

-- merge with holders: everyone holding 'kitchen' now holds 'wardrobe'
SELECT tagscrm.merge_tags('kitchen', 'wardrobe', reason => 'one interest');
SELECT customer_id, tag FROM tagscrm.customer_tags WHERE customer_id IN ('3001', '3002') ORDER BY 1;
SELECT tagscrm.tag_customer(3003, 'kitchen');   -- the old name resolves to the merged tag
SELECT customer_id, tag FROM tagscrm.customer_tags WHERE customer_id = '3003';
-- no change may give a customer two tags of an exclusive group
SELECT tagscrm.create_tag('maybe', 'interests');
SELECT tagscrm.tag_customer(1001, 'maybe');   -- 1001 also holds 'low intent'
SELECT tagscrm.move_tag('maybe', 'intent');
SELECT tagscrm.merge_tags('maybe', 'high intent');
SELECT tagscrm.tag_customer(2001, 'maybe');   -- 2001 also holds 'wardrobe'
SELECT tagscrm.alter_tag_group('interests', exclusive => true);
SELECT tagscrm.untag_customer(2001, 'maybe');
SELECT tagscrm.alter_tag_group('interests', exclusive => true);
SELECT tagscrm.tag_customer(2001, 'maybe');   -- now replaces 'wardrobe'
SELECT tag FROM tagscrm.customer_tags WHERE customer_id = '2001';

-- retire with holders: they lose it, history says why, the tag cannot be applied
SELECT tagscrm.retire_tag('wardrobe', reason => 'campaign over');
SELECT count(*) FROM tagscrm.customer_tags WHERE tag = 'wardrobe';
SELECT action, count(*) FROM tagscrm.customer_tag_history GROUP BY action ORDER BY action;
SELECT tagscrm.tag_customer(1, 'wardrobe');
SELECT tagscrm.tag_customer(1, 'kitchen');

-- history is complete: replaying it gives the current assignments
WITH events AS (
	SELECT customer_id, tag_id, action, history_id FROM tagscrm.tag_history
	UNION ALL   -- a replace and a merge also removed the old tag
	SELECT h.customer_id, t.tag_id, 'remove', h.history_id
	  FROM tagscrm.tag_history h JOIN tagscrm.tag t ON t.name = h.old->>'tag'
	 WHERE h.action IN ('replace', 'merge')),
last AS (
	SELECT DISTINCT ON (customer_id, tag_id) customer_id, tag_id, action
	  FROM events ORDER BY customer_id, tag_id, history_id DESC)
SELECT (SELECT count(*) FROM (SELECT customer_id, tag_id FROM last WHERE action IN ('add', 'update', 'replace', 'merge')
                              EXCEPT SELECT customer_id, tag_id FROM tagscrm.customer_tag) a) AS missing,
       (SELECT count(*) FROM (SELECT customer_id, tag_id FROM tagscrm.customer_tag
                              EXCEPT SELECT customer_id, tag_id FROM last WHERE action IN ('add', 'update', 'replace', 'merge')) b) AS extra;
