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
