
-- ---------------------------------------------------------------------------
-- library.sql: the tag library (groups, tags, aliases) and its history.  Every
-- stage below reads it; the commands here change it.  Retiring or merging a tag
-- also changes who holds it (through tags.sql).
-- ---------------------------------------------------------------------------

CREATE TABLE @extschema@.tag_group (
	group_id     serial PRIMARY KEY,
	name         text NOT NULL,
	kind         text NOT NULL CHECK (kind IN ('attribute', 'behaviour', 'interest', 'value',
	                                           'model', 'predictive', 'channel', 'manual')),
	exclusive    boolean NOT NULL DEFAULT false,
	update_cycle text NOT NULL DEFAULT 'realtime'
	             CHECK (update_cycle IN ('realtime', 'hourly', 'daily', 'weekly', 'monthly', 'manual')),
	owner        text,
	description  text,
	created_by   text NOT NULL,
	created_at   timestamptz NOT NULL
);
CREATE UNIQUE INDEX tag_group_name_key ON @extschema@.tag_group (pg_catalog.lower(name));
COMMENT ON TABLE @extschema@.tag_group IS
	'Tag groups; an exclusive group lets a customer hold at most one of its tags';

CREATE TABLE @extschema@.tag (
	tag_id       serial PRIMARY KEY,
	name         text NOT NULL,
	group_id     integer NOT NULL REFERENCES @extschema@.tag_group,
	parent_id    integer REFERENCES @extschema@.tag,
	description  text,
	status       text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'retired')),
	method       text NOT NULL DEFAULT 'manual'
	             CHECK (method IN ('manual', 'rule', 'trigger', 'import', 'model')),
	merged_into  integer REFERENCES @extschema@.tag,
	created_by   text NOT NULL,
	created_at   timestamptz NOT NULL,
	retired_at   timestamptz,
	CHECK ((status = 'retired') = (retired_at IS NOT NULL)),
	CHECK (merged_into IS NULL OR status = 'retired')
);
CREATE UNIQUE INDEX tag_name_key ON @extschema@.tag (pg_catalog.lower(name));
CREATE INDEX tag_group_id_idx ON @extschema@.tag (group_id);
COMMENT ON TABLE @extschema@.tag IS
	'Tags; method says how a tag is applied; merged_into points a merged tag at the tag that replaced it';

CREATE TABLE @extschema@.tag_alias (
	alias        text NOT NULL,
	tag_id       integer NOT NULL REFERENCES @extschema@.tag,
	created_by   text NOT NULL,
	created_at   timestamptz NOT NULL
);
CREATE UNIQUE INDEX tag_alias_key ON @extschema@.tag_alias (pg_catalog.lower(alias));
COMMENT ON TABLE @extschema@.tag_alias IS
	'Other words for a tag: "first order" and "ordered" can resolve to one tag';

CREATE TABLE @extschema@.library_history (
	history_id   bigserial PRIMARY KEY,
	changed_at   timestamptz NOT NULL,
	changed_by   text NOT NULL,
	object_type  text NOT NULL CHECK (object_type IN ('group', 'tag', 'alias', 'watch')),
	object_name  text NOT NULL,
	action       text NOT NULL,
	old          jsonb,
	new          jsonb,
	reason       text
);
COMMENT ON TABLE @extschema@.library_history IS
	'Every change to the tag library and to the watched tables: who, when, what, old and new state, why';

-- Library tables hold user data: pg_dump must keep them.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tag_group', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tag_group_group_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tag', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tag_tag_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tag_alias', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.library_history', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.library_history_history_id_seq', '');

-- Every name a tag can be called by, one row per word (lower case), pointing
-- at the tag it resolves to today (a merged tag resolves to its successor).
CREATE VIEW @extschema@.tag_word AS
	SELECT pg_catalog.lower(t.name) AS word, COALESCE(t.merged_into, t.tag_id) AS tag_id
	  FROM @extschema@.tag t
	UNION ALL
	SELECT pg_catalog.lower(a.alias), a.tag_id
	  FROM @extschema@.tag_alias a;
COMMENT ON VIEW @extschema@.tag_word IS
	'Internal: every word (tag name or alias, lower case) and the tag it resolves to';

-- The key a name is looked up by: trimmed, in Unicode NFC (in a UTF8
-- database; other encodings have no composed forms to fold), lower case.
-- Immutable: a database's encoding never changes.  In C (src/names.c).
CREATE FUNCTION @extschema@.name_key(name text) RETURNS text
	AS 'MODULE_PATHNAME', 'tagscrm_name_key' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.name_key(text) IS
	'Internal: the lookup key of a name: trimmed, Unicode NFC, lower case';

-- The characters a name may not hold because they do not print (zero-width,
-- bidirectional controls, non-breaking and other special spaces, variation
-- selectors), as a regular expression; for UTF8 databases.
CREATE FUNCTION @extschema@.invisible_chars() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN '[\u0080-\u009f\u00a0\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb\U000e0000-\U000e0fff]';
COMMENT ON FUNCTION @extschema@.invisible_chars() IS
	'Internal: a regular expression matching the characters a name may not hold';

-- Names typed by people: present, not blank, not absurdly long, printable,
-- and stored in Unicode NFC, so that two names that print the same are the
-- same name: invisible characters (zero-width, bidirectional controls,
-- non-breaking and other special spaces, variation selectors) are refused.
CREATE FUNCTION @extschema@.check_name(what text, name text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE   -- immutable: see name_key
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	clean text;
	odd text;
BEGIN
	IF name IS NULL THEN
		RAISE EXCEPTION '% name must not be null', what
			USING ERRCODE = '22004', HINT = format('Give the %s a name.', what);
	END IF;
	IF btrim(name) = '' THEN
		RAISE EXCEPTION '% name must not be empty', what
			USING ERRCODE = '22023', HINT = format('Give the %s a name with at least one visible character.', what);
	END IF;
	IF length(btrim(name)) > 100 THEN
		RAISE EXCEPTION '% name is too long (% characters)', what, length(btrim(name))
			USING ERRCODE = '22001', HINT = 'Names have at most 100 characters; put details in the description.';
	END IF;
	IF name ~ '[[:cntrl:]]' THEN
		RAISE EXCEPTION '% name must not contain control characters', what
			USING ERRCODE = '22023', HINT = 'Remove line breaks, tabs and other control characters from the name.';
	END IF;
	clean := btrim(name);
	IF getdatabaseencoding() = 'UTF8' THEN
		clean := normalize(clean, NFC);
		odd := substring(clean FROM @extschema@.invisible_chars());
		IF odd IS NOT NULL THEN
			RAISE EXCEPTION '% name contains an invisible character (U+%) at position %', what,
				upper(lpad(to_hex(ascii(odd)), 4, '0')), strpos(clean, odd)
				USING ERRCODE = '22023',
				      HINT = 'Names must print as they compare: remove zero-width and bidirectional-control characters and non-breaking or other special spaces.';
		END IF;
	END IF;
	RETURN clean;
END
$$;
COMMENT ON FUNCTION @extschema@.check_name(text, text) IS
	'Internal: validates and trims a name typed by a person';

-- Library changes are rare; one lock serializes them so that name checks
-- across tags and aliases cannot race.
CREATE FUNCTION @extschema@.lock_library() RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pg_catalog.pg_advisory_xact_lock(1952540531, 0) $$;
COMMENT ON FUNCTION @extschema@.lock_library() IS
	'Internal: serializes changes to the tag library';

CREATE FUNCTION @extschema@.log_library(object_type text, object_name text, action text,
                                        old jsonb, new jsonb, reason text) RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	INSERT INTO @extschema@.library_history
		(changed_at, changed_by, object_type, object_name, action, old, new, reason)
	VALUES (@extschema@.now(), @extschema@.acting_role(), object_type, object_name, action, old, new, reason)
$$;
COMMENT ON FUNCTION @extschema@.log_library(text, text, text, jsonb, jsonb, text) IS
	'Internal: records one change to the library';

-- A word must be free among group names (for groups) or among tag names and
-- aliases (for tags and aliases): one word, one meaning.
CREATE FUNCTION @extschema@.check_word_free(word text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF EXISTS (SELECT FROM @extschema@.tag t WHERE lower(t.name) = lower(word)) THEN
		RAISE EXCEPTION 'tag "%" already exists', word
			USING ERRCODE = '42710', HINT = 'Choose another name, or add an alias to the existing tag.';
	END IF;
	IF EXISTS (SELECT FROM @extschema@.tag_alias a WHERE lower(a.alias) = lower(word)) THEN
		RAISE EXCEPTION '"%" is already an alias of tag "%"', word,
			(SELECT t.name FROM @extschema@.tag_alias a JOIN @extschema@.tag t USING (tag_id)
			  WHERE lower(a.alias) = lower(word))
			USING ERRCODE = '42710', HINT = 'Choose another name, or drop the alias first with tagscrm.drop_tag_alias().';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.check_word_free(text) IS
	'Internal: raises if a word already names a tag or an alias';

CREATE FUNCTION @extschema@.find_group(group_name text) RETURNS @extschema@.tag_group
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	g @extschema@.tag_group;
BEGIN
	IF group_name IS NULL THEN
		RAISE EXCEPTION 'tag group name must not be null' USING ERRCODE = '22004', HINT = 'Name a tag group.';
	END IF;
	SELECT * INTO g FROM @extschema@.tag_group tg WHERE lower(tg.name) = @extschema@.name_key(group_name);
	IF NOT FOUND THEN
		RAISE EXCEPTION 'tag group "%" does not exist', group_name
			USING ERRCODE = '42704', HINT = 'See tagscrm.tag_groups for the groups, or create one with tagscrm.create_tag_group().';
	END IF;
	RETURN g;
END
$$;
COMMENT ON FUNCTION @extschema@.find_group(text) IS 'Internal: the group of that name, or an error';

-- Resolves a tag name or alias (case-insensitive) to the tag it means today.
CREATE FUNCTION @extschema@.find_tag(tag_name text) RETURNS @extschema@.tag
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t @extschema@.tag;
BEGIN
	IF tag_name IS NULL THEN
		RAISE EXCEPTION 'tag name must not be null' USING ERRCODE = '22004', HINT = 'Name a tag.';
	END IF;
	SELECT tg.* INTO t
	  FROM @extschema@.tag_word w JOIN @extschema@.tag tg USING (tag_id)
	 WHERE w.word = @extschema@.name_key(tag_name);
	IF NOT FOUND THEN
		RAISE EXCEPTION 'tag "%" does not exist', tag_name
			USING ERRCODE = '42704', HINT = 'See tagscrm.tags for the tag library; tagscrm.add_tag_alias() adds another word for a tag.';
	END IF;
	RETURN t;
END
$$;
COMMENT ON FUNCTION @extschema@.find_tag(text) IS
	'Internal: the tag a name or alias resolves to, or an error';

-- Raises unless the tag can still be applied.
CREATE FUNCTION @extschema@.check_active(t @extschema@.tag, asked_as text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF t.status = 'retired' THEN
		RAISE EXCEPTION 'tag "%" is retired', asked_as
			USING ERRCODE = '55000', HINT = 'A retired tag keeps its history but cannot be used; pick an active tag from tagscrm.tags.';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.check_active(@extschema@.tag, text) IS
	'Internal: raises if the tag is retired';

-- Raises if a group that is (or is about to become) exclusive has customers
-- holding more than one of its tags.
CREATE FUNCTION @extschema@.check_exclusive_holders(group_id integer, extra_tags integer[]) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	holders bigint;
	gname text := (SELECT g.name FROM @extschema@.tag_group g WHERE g.group_id = check_exclusive_holders.group_id);
BEGIN
	SELECT count(*) INTO holders FROM (
		SELECT ct.customer_id
		  FROM @extschema@.customer_tag ct
		 WHERE ct.tag_id IN (SELECT t.tag_id FROM @extschema@.tag t
		                      WHERE t.group_id = check_exclusive_holders.group_id)
		    OR ct.tag_id = ANY (extra_tags)
		 GROUP BY ct.customer_id
		HAVING count(*) > 1) c;
	IF holders > 0 THEN
		RAISE EXCEPTION 'exclusive group "%" would hold more than one tag for % customer(s)', gname, holders
			USING ERRCODE = '23P01',
			      HINT = 'Untag those customers first so that each holds at most one tag of the group, or keep the group non-exclusive.';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.check_exclusive_holders(integer, integer[]) IS
	'Internal: raises if customers would hold two tags of an exclusive group';

CREATE FUNCTION @extschema@.create_tag_group(
	name text,
	kind text,
	exclusive boolean DEFAULT false,
	update_cycle text DEFAULT 'realtime',
	owner text DEFAULT NULL,
	description text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	g @extschema@.tag_group;
	clean text := @extschema@.check_name('tag group', name);
BEGIN
	PERFORM @extschema@.lock_library();
	IF kind IS NULL OR kind NOT IN ('attribute', 'behaviour', 'interest', 'value', 'model', 'predictive', 'channel', 'manual') THEN
		RAISE EXCEPTION 'invalid tag group kind "%"', kind
			USING ERRCODE = '22023', HINT = 'Kind is one of attribute, behaviour, interest, value, model, predictive, channel, manual.';
	END IF;
	IF exclusive IS NULL THEN
		RAISE EXCEPTION 'exclusive must not be null' USING ERRCODE = '22004', HINT = 'Say true or false.';
	END IF;
	IF update_cycle IS NULL OR update_cycle NOT IN ('realtime', 'hourly', 'daily', 'weekly', 'monthly', 'manual') THEN
		RAISE EXCEPTION 'invalid update cycle "%"', update_cycle
			USING ERRCODE = '22023', HINT = 'Update cycle is one of realtime, hourly, daily, weekly, monthly, manual.';
	END IF;
	IF EXISTS (SELECT FROM @extschema@.tag_group tg WHERE lower(tg.name) = lower(clean)) THEN
		RAISE EXCEPTION 'tag group "%" already exists', clean
			USING ERRCODE = '42710', HINT = 'Choose another name.';
	END IF;
	INSERT INTO @extschema@.tag_group (name, kind, exclusive, update_cycle, owner, description, created_by, created_at)
	VALUES (clean, kind, exclusive, update_cycle, owner, description, @extschema@.acting_role(), @extschema@.now())
	RETURNING * INTO g;
	PERFORM @extschema@.log_library('group', g.name, 'create', NULL, to_jsonb(g), NULL);
	RETURN g.group_id;
END
$$;
COMMENT ON FUNCTION @extschema@.create_tag_group(text, text, boolean, text, text, text) IS
	'Creates a tag group; returns its id';

-- Changes a group's settings; a NULL argument leaves that setting as it is.
CREATE FUNCTION @extschema@.alter_tag_group(
	name text,
	new_name text DEFAULT NULL,
	exclusive boolean DEFAULT NULL,
	update_cycle text DEFAULT NULL,
	owner text DEFAULT NULL,
	description text DEFAULT NULL,
	reason text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	g @extschema@.tag_group;
	after @extschema@.tag_group;
BEGIN
	PERFORM @extschema@.lock_library();
	g := @extschema@.find_group(name);
	after := g;
	IF new_name IS NOT NULL THEN
		after.name := @extschema@.check_name('tag group', new_name);
		IF EXISTS (SELECT FROM @extschema@.tag_group tg
		            WHERE lower(tg.name) = lower(after.name) AND tg.group_id <> g.group_id) THEN
			RAISE EXCEPTION 'tag group "%" already exists', after.name USING ERRCODE = '42710', HINT = 'Choose another name.';
		END IF;
	END IF;
	IF update_cycle IS NOT NULL THEN
		IF update_cycle NOT IN ('realtime', 'hourly', 'daily', 'weekly', 'monthly', 'manual') THEN
			RAISE EXCEPTION 'invalid update cycle "%"', update_cycle
				USING ERRCODE = '22023', HINT = 'Update cycle is one of realtime, hourly, daily, weekly, monthly, manual.';
		END IF;
		after.update_cycle := update_cycle;
	END IF;
	after.exclusive := COALESCE(exclusive, g.exclusive);
	after.owner := COALESCE(owner, g.owner);
	after.description := COALESCE(description, g.description);
	IF after IS NOT DISTINCT FROM g THEN
		RETURN;
	END IF;
	IF after.exclusive AND NOT g.exclusive THEN
		PERFORM @extschema@.check_exclusive_holders(g.group_id, '{}');
	END IF;
	UPDATE @extschema@.tag_group tg
	   SET name = after.name, exclusive = after.exclusive, update_cycle = after.update_cycle,
	       owner = after.owner, description = after.description
	 WHERE tg.group_id = g.group_id;
	IF after.exclusive IS DISTINCT FROM g.exclusive THEN
		UPDATE @extschema@.customer_tag ct
		   SET exclusive_group_id = CASE WHEN after.exclusive THEN g.group_id END
		 WHERE ct.group_id = g.group_id;
	END IF;
	PERFORM @extschema@.log_library('group', after.name, 'alter', to_jsonb(g), to_jsonb(after), reason);
END
$$;
COMMENT ON FUNCTION @extschema@.alter_tag_group(text, text, boolean, text, text, text, text) IS
	'Renames a group or changes exclusive, update_cycle, owner, description (NULL keeps a setting)';

CREATE FUNCTION @extschema@.create_tag(
	name text,
	group_name text,
	parent text DEFAULT NULL,
	description text DEFAULT NULL,
	method text DEFAULT 'manual')
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	clean text := @extschema@.check_name('tag', name);
	g @extschema@.tag_group;
	p @extschema@.tag;
	t @extschema@.tag;
BEGIN
	PERFORM @extschema@.lock_library();
	g := @extschema@.find_group(group_name);
	IF method IS NULL OR method NOT IN ('manual', 'rule', 'trigger', 'import', 'model') THEN
		RAISE EXCEPTION 'invalid tag method "%"', method
			USING ERRCODE = '22023', HINT = 'Method is one of manual, rule, trigger, import, model.';
	END IF;
	PERFORM @extschema@.check_word_free(clean);
	IF parent IS NOT NULL THEN
		p := @extschema@.find_tag(parent);
		PERFORM @extschema@.check_active(p, parent);
		IF p.group_id <> g.group_id THEN
			RAISE EXCEPTION 'parent tag "%" is not in group "%"', parent, g.name
				USING ERRCODE = '22023', HINT = 'A tag and its parent belong to the same group.';
		END IF;
	END IF;
	INSERT INTO @extschema@.tag (name, group_id, parent_id, description, method, created_by, created_at)
	VALUES (clean, g.group_id, p.tag_id, description, method, @extschema@.acting_role(), @extschema@.now())
	RETURNING * INTO t;
	PERFORM @extschema@.log_library('tag', t.name, 'create', NULL, to_jsonb(t), NULL);
	RETURN t.tag_id;
END
$$;
COMMENT ON FUNCTION @extschema@.create_tag(text, text, text, text, text) IS
	'Creates a tag in a group, optionally under a parent tag of the same group; returns its id';

CREATE FUNCTION @extschema@.rename_tag(name text, new_name text, keep_alias boolean DEFAULT false, reason text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t @extschema@.tag;
	clean text := @extschema@.check_name('tag', new_name);
BEGIN
	PERFORM @extschema@.lock_library();
	t := @extschema@.find_tag(name);
	IF lower(clean) <> lower(t.name) THEN
		PERFORM @extschema@.check_word_free(clean);
	END IF;
	UPDATE @extschema@.tag SET name = clean WHERE tag_id = t.tag_id;
	PERFORM @extschema@.log_library('tag', clean, 'rename', jsonb_build_object('name', t.name),
	                                jsonb_build_object('name', clean), reason);
	IF keep_alias AND lower(clean) <> lower(t.name) THEN
		INSERT INTO @extschema@.tag_alias (alias, tag_id, created_by, created_at)
		VALUES (t.name, t.tag_id, @extschema@.acting_role(), @extschema@.now());
		PERFORM @extschema@.log_library('alias', t.name, 'create', NULL, jsonb_build_object('tag', clean), reason);
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.rename_tag(text, text, boolean, text) IS
	'Renames a tag; keep_alias keeps the old name as an alias';

CREATE FUNCTION @extschema@.describe_tag(name text, description text, reason text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t @extschema@.tag;
BEGIN
	PERFORM @extschema@.lock_library();
	t := @extschema@.find_tag(name);
	IF t.description IS NOT DISTINCT FROM description THEN
		RETURN;
	END IF;
	UPDATE @extschema@.tag tg SET description = describe_tag.description WHERE tg.tag_id = t.tag_id;
	PERFORM @extschema@.log_library('tag', t.name, 'describe', jsonb_build_object('description', t.description),
	                                jsonb_build_object('description', description), reason);
END
$$;
COMMENT ON FUNCTION @extschema@.describe_tag(text, text, text) IS 'Sets a tag''s description';

-- Moves a tag, with the tags under it, to another group and/or parent.
CREATE FUNCTION @extschema@.move_tag(name text, group_name text, parent text DEFAULT NULL, reason text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t @extschema@.tag;
	g @extschema@.tag_group;
	p @extschema@.tag;
	subtree integer[];
BEGIN
	PERFORM @extschema@.lock_library();
	t := @extschema@.find_tag(name);
	PERFORM @extschema@.check_active(t, name);
	g := @extschema@.find_group(group_name);
	WITH RECURSIVE sub AS (
		SELECT t.tag_id
		UNION ALL
		SELECT c.tag_id FROM @extschema@.tag c JOIN sub ON c.parent_id = sub.tag_id)
	SELECT array_agg(sub.tag_id) INTO subtree FROM sub;
	IF parent IS NOT NULL THEN
		p := @extschema@.find_tag(parent);
		PERFORM @extschema@.check_active(p, parent);
		IF p.group_id <> g.group_id THEN
			RAISE EXCEPTION 'parent tag "%" is not in group "%"', parent, g.name
				USING ERRCODE = '22023', HINT = 'A tag and its parent belong to the same group.';
		END IF;
		IF p.tag_id = ANY (subtree) THEN
			RAISE EXCEPTION 'tag "%" cannot be moved under itself or its own descendant "%"', name, parent
				USING ERRCODE = '22023', HINT = 'Choose a parent outside the tag''s own subtree.';
		END IF;
	END IF;
	IF g.exclusive AND g.group_id <> t.group_id THEN
		PERFORM @extschema@.check_exclusive_holders(g.group_id, subtree);
	END IF;
	UPDATE @extschema@.tag tg SET parent_id = p.tag_id WHERE tg.tag_id = t.tag_id;
	UPDATE @extschema@.tag tg SET group_id = g.group_id WHERE tg.tag_id = ANY (subtree);
	UPDATE @extschema@.customer_tag ct
	   SET group_id = g.group_id, exclusive_group_id = CASE WHEN g.exclusive THEN g.group_id END
	 WHERE ct.tag_id = ANY (subtree);
	PERFORM @extschema@.log_library('tag', t.name, 'move',
		jsonb_build_object('group', (SELECT tg.name FROM @extschema@.tag_group tg WHERE tg.group_id = t.group_id),
		                   'parent', (SELECT pt.name FROM @extschema@.tag pt WHERE pt.tag_id = t.parent_id)),
		jsonb_build_object('group', g.name, 'parent', p.name), reason);
END
$$;
COMMENT ON FUNCTION @extschema@.move_tag(text, text, text, text) IS
	'Moves a tag and its subtree to another group and/or under another parent';

CREATE FUNCTION @extschema@.add_tag_alias(alias text, tag text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	clean text := @extschema@.check_name('alias', alias);
	t @extschema@.tag;
BEGIN
	PERFORM @extschema@.lock_library();
	t := @extschema@.find_tag(tag);
	PERFORM @extschema@.check_word_free(clean);
	INSERT INTO @extschema@.tag_alias (alias, tag_id, created_by, created_at)
	VALUES (clean, t.tag_id, @extschema@.acting_role(), @extschema@.now());
	PERFORM @extschema@.log_library('alias', clean, 'create', NULL, jsonb_build_object('tag', t.name), NULL);
END
$$;
COMMENT ON FUNCTION @extschema@.add_tag_alias(text, text) IS
	'Adds another word for a tag; names and aliases share one namespace';

CREATE FUNCTION @extschema@.drop_tag_alias(alias text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	gone record;
BEGIN
	PERFORM @extschema@.lock_library();
	IF alias IS NULL THEN
		RAISE EXCEPTION 'alias must not be null' USING ERRCODE = '22004', HINT = 'Name an alias.';
	END IF;
	DELETE FROM @extschema@.tag_alias a WHERE lower(a.alias) = @extschema@.name_key(drop_tag_alias.alias)
	RETURNING a.alias, (SELECT t.name FROM @extschema@.tag t WHERE t.tag_id = a.tag_id) AS tag INTO gone;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'alias "%" does not exist', alias
			USING ERRCODE = '42704', HINT = 'See tagscrm.tags for each tag''s aliases.';
	END IF;
	PERFORM @extschema@.log_library('alias', gone.alias, 'drop', jsonb_build_object('tag', gone.tag), NULL, NULL);
END
$$;
COMMENT ON FUNCTION @extschema@.drop_tag_alias(text) IS 'Removes an alias';

-- Retiring keeps the tag and its history; current holders lose it.
CREATE FUNCTION @extschema@.retire_tag(name text, reason text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t @extschema@.tag;
	holders text[];
	n bigint;
BEGIN
	PERFORM @extschema@.lock_library();
	t := @extschema@.find_tag(name);
	PERFORM @extschema@.check_active(t, name);
	IF EXISTS (SELECT FROM @extschema@.tag c WHERE c.parent_id = t.tag_id AND c.status = 'active') THEN
		RAISE EXCEPTION 'tag "%" has active child tags', t.name
			USING ERRCODE = '2BP01', HINT = 'Retire or move its child tags first.';
	END IF;
	UPDATE @extschema@.tag tg SET status = 'retired', retired_at = @extschema@.now() WHERE tg.tag_id = t.tag_id;
	PERFORM @extschema@.log_library('tag', t.name, 'retire', jsonb_build_object('status', 'active'),
	                                jsonb_build_object('status', 'retired'), reason);
	SELECT array_agg(ct.customer_id) INTO holders FROM @extschema@.customer_tag ct WHERE ct.tag_id = t.tag_id;
	PERFORM @extschema@.lock_customers(holders);
	WITH gone AS (
		DELETE FROM @extschema@.customer_tag ct WHERE ct.tag_id = t.tag_id RETURNING ct.*)
	INSERT INTO @extschema@.tag_history (changed_at, changed_by, customer_id, tag_id, action, old, new, source, reason)
	SELECT @extschema@.now(), @extschema@.acting_role(), g.customer_id, g.tag_id, 'retire',
	       jsonb_build_object('tag', t.name, 'source', g.source, 'expires_at', g.expires_at), NULL,
	       g.source, retire_tag.reason
	  FROM gone g ORDER BY g.customer_id;
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM @extschema@.copy_model_tags(holders);   -- a model tag gone from its holders' row in the facts
	RETURN n;
END
$$;
COMMENT ON FUNCTION @extschema@.retire_tag(text, text) IS
	'Retires a tag: it can no longer be applied, its holders lose it, its history stays; returns how many customers lost it';

-- Merging moves every holder of one tag to another, retires the first, and
-- points its name (and aliases) at the second so old words keep working.
CREATE FUNCTION @extschema@.merge_tags(from_tag text, into_tag text, reason text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	f @extschema@.tag;
	i @extschema@.tag;
	g @extschema@.tag_group;
	holders text[];
	clashes bigint;
	n bigint;
BEGIN
	PERFORM @extschema@.lock_library();
	f := @extschema@.find_tag(from_tag);
	i := @extschema@.find_tag(into_tag);
	PERFORM @extschema@.check_active(f, from_tag);
	PERFORM @extschema@.check_active(i, into_tag);
	IF f.tag_id = i.tag_id THEN
		RAISE EXCEPTION 'cannot merge tag "%" into itself', f.name
			USING ERRCODE = '22023', HINT = 'Name two different tags.';
	END IF;
	IF EXISTS (SELECT FROM @extschema@.tag c WHERE c.parent_id = f.tag_id AND c.status = 'active') THEN
		RAISE EXCEPTION 'tag "%" has active child tags', f.name
			USING ERRCODE = '2BP01', HINT = 'Move its child tags first.';
	END IF;
	g := (SELECT tg FROM @extschema@.tag_group tg WHERE tg.group_id = i.group_id);
	SELECT array_agg(ct.customer_id) INTO holders FROM @extschema@.customer_tag ct WHERE ct.tag_id = f.tag_id;
	PERFORM @extschema@.lock_customers(holders);
	IF g.exclusive THEN
		SELECT count(*) INTO clashes
		  FROM @extschema@.customer_tag h
		  JOIN @extschema@.customer_tag o ON o.customer_id = h.customer_id AND o.exclusive_group_id = g.group_id
		 WHERE h.tag_id = f.tag_id AND o.tag_id NOT IN (f.tag_id, i.tag_id);
		IF clashes > 0 THEN
			RAISE EXCEPTION '% customer(s) holding "%" already hold another tag of exclusive group "%"', clashes, f.name, g.name
				USING ERRCODE = '23P01', HINT = 'Untag those customers first, or merge into a tag of a non-exclusive group.';
		END IF;
	END IF;

	WITH moved AS (
		DELETE FROM @extschema@.customer_tag ct WHERE ct.tag_id = f.tag_id RETURNING ct.*),
	kept AS (
		INSERT INTO @extschema@.customer_tag
			(customer_id, tag_id, group_id, exclusive_group_id, source, applied_by, applied_at, expires_at, reason)
		SELECT m.customer_id, i.tag_id, i.group_id, CASE WHEN g.exclusive THEN g.group_id END,
		       m.source, m.applied_by, m.applied_at, m.expires_at, m.reason
		  FROM moved m
		 WHERE NOT EXISTS (SELECT FROM @extschema@.customer_tag o WHERE o.customer_id = m.customer_id AND o.tag_id = i.tag_id)
		 ORDER BY m.customer_id
		RETURNING customer_id)
	INSERT INTO @extschema@.tag_history (changed_at, changed_by, customer_id, tag_id, action, old, new, source, reason)
	SELECT @extschema@.now(), @extschema@.acting_role(), m.customer_id, i.tag_id, 'merge',
	       jsonb_build_object('tag', f.name, 'source', m.source, 'expires_at', m.expires_at),
	       jsonb_build_object('tag', i.name, 'source', m.source, 'expires_at', m.expires_at),
	       m.source, merge_tags.reason
	  FROM moved m ORDER BY m.customer_id;
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM @extschema@.copy_model_tags(holders);   -- a model tag moved in its holders' row in the facts

	UPDATE @extschema@.tag tg SET status = 'retired', retired_at = @extschema@.now(), merged_into = i.tag_id
	 WHERE tg.tag_id = f.tag_id;
	UPDATE @extschema@.tag tg SET merged_into = i.tag_id WHERE tg.merged_into = f.tag_id;
	UPDATE @extschema@.tag_alias a SET tag_id = i.tag_id WHERE a.tag_id = f.tag_id;
	PERFORM @extschema@.log_library('tag', f.name, 'merge', jsonb_build_object('status', 'active', 'holders', n),
	                                jsonb_build_object('status', 'retired', 'merged_into', i.name), reason);
	RETURN n;
END
$$;
COMMENT ON FUNCTION @extschema@.merge_tags(text, text, text) IS
	'Merges a tag into another: holders move over, the first tag is retired and its name resolves to the second';
