-- Tag library: groups, tags, hierarchy, aliases, rename, describe, move,
-- retire, merge; every change in library_history; every bad input an error.
DROP EXTENSION tagscrm CASCADE;
CREATE EXTENSION tagscrm;
SET tagscrm.clock_override = '2026-01-15 10:00:00+00';
\set VERBOSITY default
\set SHOW_CONTEXT never

-- groups
SELECT tagscrm.create_tag_group('channel', 'channel', exclusive => true, owner => 'growth team',
                                description => 'where the customer came from') AS channel_id;
SELECT tagscrm.create_tag_group('interests', 'interest') AS interests_id;
SELECT tagscrm.create_tag_group('Loyalty', 'value', exclusive => true, update_cycle => 'daily');
SELECT name, kind, exclusive, update_cycle, owner, active_tags FROM tagscrm.tag_groups ORDER BY group_id;

-- tags with a hierarchy: channel > online > Taobao
SELECT tagscrm.create_tag('online', 'channel');
SELECT tagscrm.create_tag('Taobao', 'channel', parent => 'online', description => 'Taobao shop');
SELECT tagscrm.create_tag('offline', 'channel');
SELECT tagscrm.create_tag('store visit', 'channel', parent => 'OFFLINE');   -- names are case-insensitive
SELECT tagscrm.create_tag('first order', 'interests');
SELECT tagscrm.create_tag('wardrobe', 'interests', method => 'import');
SELECT tagscrm.create_tag('  gold  ', 'loyalty');                            -- trimmed
SELECT name, group_name, parent, path, status, method FROM tagscrm.tags ORDER BY tag_id;

-- aliases: two people's words for one thing
SELECT tagscrm.add_tag_alias('ordered', 'first order');
SELECT tagscrm.add_tag_alias('TB', 'taobao');
SELECT name, aliases FROM tagscrm.tags WHERE aliases <> '{}' ORDER BY name;
SELECT (tagscrm.find_tag('Ordered')).name, (tagscrm.find_tag('tb')).name;

-- rename, keeping the old word as an alias
SELECT tagscrm.rename_tag('first order', 'first purchase', keep_alias => true, reason => 'wording');
SELECT name, aliases FROM tagscrm.tags WHERE name = 'first purchase';
SELECT tagscrm.describe_tag('first purchase', 'placed a first order');
SELECT description FROM tagscrm.tags WHERE name = 'first purchase';

-- move a subtree: online (with Taobao) under offline, then back to the top
SELECT tagscrm.move_tag('online', 'channel', parent => 'offline');
SELECT name, path FROM tagscrm.tags WHERE group_name = 'channel' ORDER BY path;
SELECT tagscrm.move_tag('online', 'channel');

-- group settings
SELECT tagscrm.alter_tag_group('interests', description => 'what they care about', update_cycle => 'weekly');
SELECT tagscrm.alter_tag_group('loyalty', new_name => 'loyalty tier');
SELECT name, update_cycle, description FROM tagscrm.tag_groups ORDER BY group_id;

-- bad input: one per line, each with its SQLSTATE
\set VERBOSITY sqlstate
SELECT tagscrm.create_tag_group(NULL, 'channel');
SELECT tagscrm.create_tag_group('', 'channel');
SELECT tagscrm.create_tag_group('   ', 'channel');
SELECT tagscrm.create_tag_group(repeat('x', 101), 'channel');
SELECT tagscrm.create_tag_group('CHANNEL', 'channel');
SELECT tagscrm.create_tag_group('misc', 'colour');
SELECT tagscrm.create_tag_group('misc', NULL);
SELECT tagscrm.create_tag_group('misc', 'manual', exclusive => NULL);
SELECT tagscrm.create_tag_group('misc', 'manual', update_cycle => 'sometimes');
SELECT tagscrm.create_tag_group(E'two\nlines', 'manual');
SELECT tagscrm.create_tag('x', 'no such group');
SELECT tagscrm.create_tag(NULL, 'channel');
SELECT tagscrm.create_tag('x', NULL);
SELECT tagscrm.create_tag('TAOBAO', 'channel');
SELECT tagscrm.create_tag('ordered', 'channel');
SELECT tagscrm.create_tag('x', 'channel', parent => 'wardrobe');
SELECT tagscrm.create_tag('x', 'channel', parent => 'nope');
SELECT tagscrm.create_tag('x', 'channel', method => 'magic');
SELECT tagscrm.create_tag(repeat('y', 101), 'channel');
SELECT tagscrm.rename_tag('nope', 'x');
SELECT tagscrm.rename_tag('offline', 'online');
SELECT tagscrm.rename_tag('offline', 'tb');
SELECT tagscrm.rename_tag('offline', '');
SELECT tagscrm.add_tag_alias('online', 'offline');
SELECT tagscrm.add_tag_alias('tb', 'offline');
SELECT tagscrm.add_tag_alias('x', 'nope');
SELECT tagscrm.drop_tag_alias('nope');
SELECT tagscrm.drop_tag_alias(NULL);
SELECT tagscrm.move_tag('online', 'channel', parent => 'taobao');
SELECT tagscrm.move_tag('online', 'channel', parent => 'online');
SELECT tagscrm.move_tag('online', 'interests', parent => 'offline');
SELECT tagscrm.alter_tag_group('nope', exclusive => true);
SELECT tagscrm.alter_tag_group('channel', new_name => 'interests');
SELECT tagscrm.alter_tag_group('channel', update_cycle => 'never');
SELECT tagscrm.merge_tags('offline', 'offline');
SELECT tagscrm.merge_tags('offline', 'store visit');
SELECT tagscrm.retire_tag('offline');
\set VERBOSITY default
-- one full error, to show message, hint
SELECT tagscrm.create_tag('x', 'no such group');
SELECT tagscrm.create_tag('TAOBAO', 'channel');

-- failed calls left nothing behind
SELECT count(*) AS groups FROM tagscrm.tag_group;
SELECT count(*) AS tags FROM tagscrm.tag;
SELECT count(*) AS aliases FROM tagscrm.tag_alias;

-- dropping an alias
SELECT tagscrm.drop_tag_alias('TB');
SELECT aliases FROM tagscrm.tags WHERE name = 'Taobao';

-- retire: cannot be applied, still listed, history kept
SELECT tagscrm.retire_tag('store visit', reason => 'stores closed');
SELECT name, status, retired_at FROM tagscrm.tags WHERE name = 'store visit';
SELECT tagscrm.retire_tag('store visit');
SELECT tagscrm.create_tag('kiosk', 'channel', parent => 'store visit');

-- merge: 'offline' into 'online'; the old name resolves to the new tag
SELECT tagscrm.merge_tags('offline', 'online', reason => 'one channel now');
SELECT name, status, merged_into FROM tagscrm.tags WHERE name IN ('offline', 'online') ORDER BY name;
SELECT (tagscrm.find_tag('offline')).name AS offline_means;

-- the library's history: one row per change, with who and why
SELECT history_id, changed_at, changed_by, object_type, object_name, action, reason
  FROM tagscrm.library_changes ORDER BY history_id;
SELECT old, new FROM tagscrm.library_changes WHERE action IN ('rename', 'move', 'merge') ORDER BY history_id;
