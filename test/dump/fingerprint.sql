-- Every row of tagscrm's data, in a fixed order: equal output means equal data.
\pset format unaligned
\pset tuples_only true
SELECT 'group', g.* FROM tagscrm.tag_group g ORDER BY group_id;
SELECT 'tag', t.* FROM tagscrm.tag t ORDER BY tag_id;
SELECT 'alias', a.* FROM tagscrm.tag_alias a ORDER BY alias;
SELECT 'customer', c.* FROM tagscrm.customer c ORDER BY customer_id;
SELECT 'assignment', ct.* FROM tagscrm.customer_tag ct ORDER BY customer_id, tag_id;
SELECT 'history', h.* FROM tagscrm.tag_history h ORDER BY history_id;
SELECT 'library', h.* FROM tagscrm.library_history h ORDER BY history_id;
SELECT 'grants', c.relname, c.relacl FROM pg_class c WHERE c.relnamespace = 'tagscrm'::regnamespace ORDER BY relname;
SELECT 'history recording', r.* FROM tagscrm.history_recording r ORDER BY recording_id;
SELECT 'history tag', h.* FROM tagscrm.history_tag h ORDER BY tag_id, recording_id;
SELECT 'history segment', s.* FROM tagscrm.history_segment s ORDER BY recording_id, segment;
SELECT 'history key', k.* FROM tagscrm.history_key k ORDER BY key;
SELECT 'history state', s.* FROM tagscrm.history_state s;
