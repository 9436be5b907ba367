-- A database using tagscrm: library, aliases, hierarchy, merges, retired
-- tags, assignments with expiry, imports, and history of all of it.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION tagscrm;
SELECT tagscrm.create_tag_group('channel', 'channel', exclusive => true, owner => 'growth');
SELECT tagscrm.create_tag_group('interests', 'interest');
SELECT tagscrm.create_tag('online', 'channel'), tagscrm.create_tag('Taobao', 'channel', parent => 'online'),
       tagscrm.create_tag('offline', 'channel'), tagscrm.create_tag('wardrobe', 'interests'),
       tagscrm.create_tag('kitchen', 'interests'), tagscrm.create_tag('garden', 'interests');
SELECT tagscrm.add_tag_alias('TB', 'Taobao');
SELECT tagscrm.tag_customer(g, CASE WHEN g % 3 = 0 THEN 'TB' WHEN g % 3 = 1 THEN 'online' ELSE 'offline' END,
                            reason => 'seed') FROM generate_series(1, 200) g;
SELECT tagscrm.tag_customer(g, 'online') FROM generate_series(1, 200, 7) g;
SELECT tagscrm.tag_customer('wm-' || g, 'wardrobe', expires_at => '2999-01-01') FROM generate_series(1, 50) g;
CREATE TABLE staging (customer_id text, tag text);
INSERT INTO staging SELECT g::text, 'kitchen' FROM generate_series(100, 160) g;
SELECT count(*) FROM tagscrm.import_tags('staging');
SELECT tagscrm.merge_tags('kitchen', 'garden', reason => 'merged');
SELECT tagscrm.retire_tag('offline', reason => 'closed');
SELECT tagscrm.untag_customer('wm-1', 'wardrobe', reason => 'asked');
