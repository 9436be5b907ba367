
-- ---------------------------------------------------------------------------
-- history.sql: layers over time.  record_history() (called at the end of
-- every refresh(), or on its own schedule) stores, per recording, the size of
-- every tag and saved segment and enough of each tag's customer set to answer
-- who moved between any two recordings: a full set every snapshot_every
-- recordings, otherwise the customers added and removed since the previous
-- one.  The reports: tag_size_history, segment_size_history, movement(),
-- movement_members().  See docs/reports.md.
--
-- The sets hold customer keys (segments.sql), which a dump and restore
-- assigns afresh.  So the history keeps its own dictionary of the keys it
-- holds (history_key, dumped with it), reads member ids only through it, and
-- when the keys of the database are no longer those the history was recorded
-- with (history_key_epoch, created anew by every CREATE EXTENSION, is not
-- dumped), the next recording first translates the stored sets to the new keys.
-- ---------------------------------------------------------------------------

CREATE TABLE @extschema@.history_recording (
	recording_id serial PRIMARY KEY,
	recorded_at  timestamptz NOT NULL UNIQUE,
	recorded_by  text NOT NULL
);
COMMENT ON TABLE @extschema@.history_recording IS
	'Internal: each recording of the tag and segment history (record_history())';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.history_recording', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.history_recording_recording_id_seq', '');

-- One row per recording and tag, for every active tag and every tag that
-- has or just had holders; a tag without a row held nobody then.  A row is a
-- full set (since_full = 0) or the changes since the tag's row of the
-- previous recording, which then exists: so a tag's set at a recording is
-- its last full set replayed with the changes after it.
CREATE TABLE @extschema@.history_tag (
	recording_id integer NOT NULL REFERENCES @extschema@.history_recording ON DELETE CASCADE,
	tag_id       integer NOT NULL,
	customers    bigint NOT NULL,
	since_full   integer NOT NULL,
	members      @extschema@.customer_set,
	added        @extschema@.customer_set,
	removed      @extschema@.customer_set,
	PRIMARY KEY (tag_id, recording_id),
	CHECK ((since_full = 0) = (members IS NOT NULL)),
	CHECK (members IS NULL OR (added IS NULL AND removed IS NULL))
);
CREATE INDEX history_tag_recording_idx ON @extschema@.history_tag (recording_id);
COMMENT ON TABLE @extschema@.history_tag IS
	'Internal: each tag''s size at each recording, with its full customer set or the changes since the previous recording';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.history_tag', '');

CREATE TABLE @extschema@.history_segment (
	recording_id integer NOT NULL REFERENCES @extschema@.history_recording ON DELETE CASCADE,
	segment      text NOT NULL,
	customers    bigint NOT NULL,
	PRIMARY KEY (recording_id, segment)
);
COMMENT ON TABLE @extschema@.history_segment IS
	'Internal: each saved segment''s size at each recording';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.history_segment', '');

-- The customer of every key the history holds, departed customers included;
-- both indexes carry the other column (index-only lookups either way).
CREATE TABLE @extschema@.history_key (
	key         integer NOT NULL,
	customer_id text NOT NULL,
	PRIMARY KEY (key) INCLUDE (customer_id)
);
CREATE INDEX history_key_customer_idx ON @extschema@.history_key (customer_id) INCLUDE (key);
COMMENT ON TABLE @extschema@.history_key IS
	'Internal: the customer id of each key in the history''s sets (survives a dump, unlike customer_key)';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.history_key', '');

CREATE TABLE @extschema@.history_state (
	singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	key_epoch      uuid,                 -- the key assignment the history's keys belong to
	known_keys     @extschema@.customer_set NOT NULL DEFAULT '{}',   -- the keys history_key holds
	retention      interval NOT NULL DEFAULT '1 year' CHECK (retention > '0'),
	snapshot_every integer NOT NULL DEFAULT 30 CHECK (snapshot_every >= 1)
);
INSERT INTO @extschema@.history_state DEFAULT VALUES;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.history_state', '');
CREATE TRIGGER replace_singleton BEFORE INSERT ON @extschema@.history_state
	FOR EACH ROW EXECUTE FUNCTION @extschema@.replace_singleton();
COMMENT ON TABLE @extschema@.history_state IS
	'Internal: the history''s key dictionary state, retention and how often a full set is stored';

-- Not dumped: a restore's CREATE EXTENSION draws a new epoch, as it assigns
-- new customer keys.
CREATE TABLE @extschema@.history_key_epoch (
	singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	epoch     uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid()
);
INSERT INTO @extschema@.history_key_epoch DEFAULT VALUES;
COMMENT ON TABLE @extschema@.history_key_epoch IS
	'Internal: identifies this database''s assignment of customer keys (drawn anew by each CREATE EXTENSION, not dumped)';

-- Old key to new key while the history is re-keyed; empty otherwise.
CREATE TABLE @extschema@.history_key_remap (
	old_key     integer PRIMARY KEY,
	new_key     integer NOT NULL,
	customer_id text NOT NULL
);
COMMENT ON TABLE @extschema@.history_key_remap IS
	'Internal: the translation of the history''s keys after a restore (filled and emptied by one recording)';

-- A tag's customer set at a recording: its last full set, replayed with the
-- changes of the rows after it; no row at that recording: nobody.
CREATE FUNCTION @extschema@.history_set(tag_id integer, recording_id integer) RETURNS @extschema@.customer_set
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT COALESCE(@extschema@.customer_set_replay(COALESCE(h.members, h.added), h.removed ORDER BY h.recording_id), '{}')
	  FROM @extschema@.history_tag h
	 WHERE h.tag_id = history_set.tag_id
	   AND h.recording_id <= history_set.recording_id
	   AND h.recording_id >= (SELECT max(f.recording_id) FROM @extschema@.history_tag f
	                           WHERE f.tag_id = history_set.tag_id AND f.recording_id <= history_set.recording_id
	                             AND f.since_full = 0)
	   AND EXISTS (SELECT FROM @extschema@.history_tag e
	                WHERE e.tag_id = history_set.tag_id AND e.recording_id = history_set.recording_id)
$$;
COMMENT ON FUNCTION @extschema@.history_set(integer, integer) IS
	'Internal: a tag''s customer keys at a recording, from the history';

-- A set of old keys as the same customers' new keys (history_key_remap).
CREATE FUNCTION @extschema@.history_remap(s @extschema@.customer_set) RETURNS @extschema@.customer_set
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT COALESCE(@extschema@.customer_set_agg(m.new_key), '{}')
	  FROM @extschema@.customer_set_keys(s) k(key)
	  JOIN @extschema@.history_key_remap m ON m.old_key = k.key
$$;
COMMENT ON FUNCTION @extschema@.history_remap(@extschema@.customer_set) IS
	'Internal: a customer set translated from the history''s old keys to the current ones';

-- After a restore (or anything else that assigned the customer keys anew):
-- each customer of the dictionary gets its current key, or, if it has left,
-- a key of its own from the key sequence (never given to anyone else); every
-- stored set is translated.  Called by record_history(), which holds the
-- history_state lock.
CREATE FUNCTION @extschema@.history_rekey(quiet boolean) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n bigint;
BEGIN
	IF EXISTS (SELECT FROM @extschema@.history_key) THEN
		PERFORM @extschema@.report_progress('history', 'customer keys were assigned anew (a restore?): translating the history', quiet);
		INSERT INTO @extschema@.history_key_remap (old_key, new_key, customer_id)
		SELECT d.key, n.key, d.customer_id
		  FROM @extschema@.history_key d
		  JOIN (SELECT ck.customer_id, ck.key FROM @extschema@.customer_key ck
		        UNION ALL
		        SELECT l.customer_id, nextval('@extschema@.customer_key_seq')::integer
		          FROM (SELECT DISTINCT h.customer_id FROM @extschema@.history_key h
		                 WHERE NOT EXISTS (SELECT FROM @extschema@.customer_key ck WHERE ck.customer_id = h.customer_id)
		                 ORDER BY 1) l) n ON n.customer_id = d.customer_id;
		-- the same keys as before: nothing to translate
		IF EXISTS (SELECT FROM @extschema@.history_key_remap m WHERE m.old_key <> m.new_key) THEN
			UPDATE @extschema@.history_tag h
			   SET members = @extschema@.history_remap(h.members),
			       added = @extschema@.history_remap(h.added),
			       removed = @extschema@.history_remap(h.removed);
			DELETE FROM @extschema@.history_key;
			INSERT INTO @extschema@.history_key (key, customer_id)
			SELECT DISTINCT m.new_key, m.customer_id FROM @extschema@.history_key_remap m;
			GET DIAGNOSTICS n = ROW_COUNT;
			PERFORM @extschema@.report_progress('history', format('%s customers'' keys translated', n), quiet);
		END IF;
		DELETE FROM @extschema@.history_key_remap;
	END IF;
	UPDATE @extschema@.history_state
	   SET key_epoch = (SELECT e.epoch FROM @extschema@.history_key_epoch e),
	       known_keys = COALESCE((SELECT @extschema@.customer_set_agg(d.key) FROM @extschema@.history_key d), '{}');
END
$$;
COMMENT ON FUNCTION @extschema@.history_rekey(boolean) IS
	'Internal: translates the history to the customer keys of this database (after a restore)';

-- Records every tag's and saved segment's customers as of now(), then drops
-- the recordings older than the retention.  A recording at the same moment
-- as the latest replaces it; one earlier than the latest is not made (the
-- clock went back): returns NULL, else the recording's id.  SECURITY
-- DEFINER: it writes the history tables, which no role may write; it reads
-- only tagscrm's own tables.
CREATE FUNCTION @extschema@.record_history(quiet boolean DEFAULT false) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	st @extschema@.history_state;
	at timestamptz := @extschema@.now();
	latest @extschema@.history_recording;
	prev integer;
	rec integer;
	keep_from integer;
BEGIN
	SELECT * INTO st FROM @extschema@.history_state FOR UPDATE;   -- one recording at a time
	IF st.key_epoch IS DISTINCT FROM (SELECT e.epoch FROM @extschema@.history_key_epoch e) THEN
		PERFORM @extschema@.history_rekey(quiet);
		SELECT * INTO st FROM @extschema@.history_state;
	END IF;
	SELECT * INTO latest FROM @extschema@.history_recording r ORDER BY r.recording_id DESC LIMIT 1;
	IF latest.recorded_at > at THEN
		PERFORM @extschema@.report_progress('history', format('not recorded: a recording at %s is later than now, %s',
		                                                      latest.recorded_at, at), quiet);
		RETURN NULL;
	ELSIF latest.recorded_at = at THEN
		DELETE FROM @extschema@.history_recording r WHERE r.recording_id = latest.recording_id;
	END IF;
	prev := (SELECT max(r.recording_id) FROM @extschema@.history_recording r);
	INSERT INTO @extschema@.history_recording (recorded_at, recorded_by) VALUES (at, @extschema@.acting_role())
	RETURNING recording_id INTO rec;

	-- One statement, so one snapshot: every tag's set, the segments' sizes
	-- and the keys new to the dictionary, all as of the same moment.
	WITH now_set AS MATERIALIZED (
		SELECT t.tag_id, t.status, @extschema@.tag_set(t.tag_id) AS s FROM @extschema@.tag t),
	row_ AS MATERIALIZED (
		SELECT n.tag_id, n.s, @extschema@.customer_set_cardinality(n.s) AS customers,
		       p.tag_id IS NULL OR p.since_full + 1 >= st.snapshot_every AS full_set, p.since_full,
		       CASE WHEN p.tag_id IS NOT NULL AND p.since_full + 1 < st.snapshot_every
		            THEN @extschema@.history_set(n.tag_id, prev) END AS before
		  FROM now_set n
		  LEFT JOIN @extschema@.history_tag p ON p.tag_id = n.tag_id AND p.recording_id = prev
		 WHERE n.status = 'active' OR @extschema@.customer_set_cardinality(n.s) > 0 OR p.customers > 0),
	tags AS (
		INSERT INTO @extschema@.history_tag (recording_id, tag_id, customers, since_full, members, added, removed)
		SELECT rec, r.tag_id, r.customers, CASE WHEN r.full_set THEN 0 ELSE r.since_full + 1 END,
		       CASE WHEN r.full_set THEN r.s END,
		       CASE WHEN @extschema@.customer_set_cardinality(d.added) > 0 THEN d.added END,   -- no change: NULL
		       CASE WHEN @extschema@.customer_set_cardinality(d.removed) > 0 THEN d.removed END
		  FROM row_ r,
		       LATERAL (SELECT r.s OPERATOR(@extschema@.-) r.before AS added, r.before OPERATOR(@extschema@.-) r.s AS removed) d
		 ORDER BY r.tag_id),
	segments AS (
		INSERT INTO @extschema@.history_segment (recording_id, segment, customers)
		SELECT rec, s.name, @extschema@.segment_count(s.name) FROM @extschema@.segment s ORDER BY s.name),
	fresh AS MATERIALIZED (
		SELECT @extschema@.tag_set(0) OPERATOR(@extschema@.-) st.known_keys AS keys),
	new_keys AS (
		INSERT INTO @extschema@.history_key (key, customer_id)
		SELECT ck.key, ck.customer_id
		  FROM fresh f, @extschema@.customer_set_keys(f.keys) k(key)
		  JOIN @extschema@.customer_key ck ON ck.key = k.key)
	UPDATE @extschema@.history_state
	   SET known_keys = known_keys OPERATOR(@extschema@.|) (SELECT f.keys FROM fresh f);

	-- Retention: the oldest recording kept becomes full sets (a change row
	-- there would lose the set it changed), then the older ones go.
	keep_from := (SELECT min(r.recording_id) FROM @extschema@.history_recording r WHERE r.recorded_at >= at - st.retention);
	IF EXISTS (SELECT FROM @extschema@.history_recording r WHERE r.recording_id < keep_from) THEN
		UPDATE @extschema@.history_tag h
		   SET members = @extschema@.history_set(h.tag_id, h.recording_id), added = NULL, removed = NULL, since_full = 0
		 WHERE h.recording_id = keep_from AND h.since_full > 0;
		DELETE FROM @extschema@.history_recording r WHERE r.recording_id < keep_from;
	END IF;
	RETURN rec;
END
$$;
COMMENT ON FUNCTION @extschema@.record_history(boolean) IS
	'Records the size and customers of every tag and the size of every saved segment now; drops recordings older than the retention; returns the recording''s id';

CREATE FUNCTION @extschema@.set_history_retention(keep interval) RETURNS interval
LANGUAGE plpgsql VOLATILE SECURITY DEFINER   -- writes history_state, which no role may write
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF keep IS NULL THEN
		RAISE EXCEPTION 'history retention must not be null' USING ERRCODE = '22004',
			HINT = 'Give how long recordings are kept, such as interval ''1 year''.';
	END IF;
	IF keep <= interval '0' THEN
		RAISE EXCEPTION 'history retention % is not positive', keep USING ERRCODE = '22023',
			HINT = 'Give how long recordings are kept, such as interval ''1 year''.';
	END IF;
	UPDATE @extschema@.history_state SET retention = keep;
	RETURN keep;
END
$$;
COMMENT ON FUNCTION @extschema@.set_history_retention(interval) IS
	'Sets how long record_history() keeps recordings (default 1 year); the next recording drops older ones';

-- ---------------------------------------------------------------------------
-- The reports
-- ---------------------------------------------------------------------------
CREATE VIEW @extschema@.tag_size_history WITH (security_barrier) AS
	SELECT r.recorded_at, g.name AS group_name, t.name AS tag, h.customers
	  FROM @extschema@.history_tag h
	  JOIN @extschema@.history_recording r ON r.recording_id = h.recording_id
	  JOIN @extschema@.tag t ON t.tag_id = h.tag_id
	  JOIN @extschema@.tag_group g ON g.group_id = t.group_id;
COMMENT ON VIEW @extschema@.tag_size_history IS
	'Customers holding each tag at each recording of the history (every active tag; a tag without a row held nobody)';

CREATE VIEW @extschema@.segment_size_history WITH (security_barrier) AS
	SELECT r.recorded_at, s.segment, s.customers
	  FROM @extschema@.history_segment s
	  JOIN @extschema@.history_recording r ON r.recording_id = s.recording_id;
COMMENT ON VIEW @extschema@.segment_size_history IS
	'Customers in each saved segment at each recording of the history';

-- The tag group a layer names: a model (rfm, lifecycle, status, ...; see
-- model_groups) or a tag group by name.
CREATE FUNCTION @extschema@.history_layer(layer text) RETURNS integer
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	g integer;
BEGIN
	IF layer IS NULL THEN
		RAISE EXCEPTION 'layer must not be null' USING ERRCODE = '22004',
			HINT = 'Name a model (rfm, lifecycle, status, ...) or a tag group.';
	END IF;
	SELECT min(t.group_id) INTO g FROM @extschema@.model_tag mt JOIN @extschema@.tag t ON t.tag_id = mt.tag_id
	 WHERE mt.model = lower(layer);
	IF g IS NULL THEN
		SELECT tg.group_id INTO g FROM @extschema@.tag_group tg WHERE lower(tg.name) = @extschema@.name_key(layer);
	END IF;
	IF g IS NULL THEN
		RAISE EXCEPTION 'layer "%" is neither a model nor a tag group', layer USING ERRCODE = '42704',
			HINT = 'Name a model of tagscrm.model_groups (rfm, lifecycle, status, ...) or a group of tagscrm.tag_groups.';
	END IF;
	RETURN g;
END
$$;
COMMENT ON FUNCTION @extschema@.history_layer(text) IS
	'Internal: the tag group of a model or group name, or an error';

-- The latest recording at or before a moment.
CREATE FUNCTION @extschema@.history_recording_at(at timestamptz, what text) RETURNS @extschema@.history_recording
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r @extschema@.history_recording;
BEGIN
	IF at IS NULL THEN
		RAISE EXCEPTION '% must not be null', what USING ERRCODE = '22004', HINT = 'Give a moment of the history.';
	END IF;
	SELECT * INTO r FROM @extschema@.history_recording x WHERE x.recorded_at <= at ORDER BY x.recorded_at DESC LIMIT 1;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no history is recorded at or before % (%)', at, what USING ERRCODE = '22023',
			HINT = COALESCE(format('The first recording is at %s; tagscrm.tag_size_history lists them.',
			                       (SELECT min(x.recorded_at) FROM @extschema@.history_recording x)),
			                'Nothing is recorded yet: refresh() and record_history() record the history.');
	END IF;
	RETURN r;
END
$$;
COMMENT ON FUNCTION @extschema@.history_recording_at(timestamptz, text) IS
	'Internal: the latest recording at or before a moment, or an error';

-- The movement matrix of a layer between the recordings at from_at and
-- to_at (the latest at or before each): how many customers held from_tag at
-- the first and to_tag at the second; a NULL tag is "none of the layer's
-- tags" (customers entering or leaving it).  Cells with nobody are left out.
CREATE FUNCTION @extschema@.movement(layer text, from_at timestamptz, to_at timestamptz)
RETURNS TABLE (from_tag text, to_tag text, customers bigint, from_recorded_at timestamptz, to_recorded_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER   -- reads the history tables, which readers may not
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	g integer := @extschema@.history_layer(layer);
	a @extschema@.history_recording := @extschema@.history_recording_at(from_at, 'from_at');
	b @extschema@.history_recording := @extschema@.history_recording_at(to_at, 'to_at');
BEGIN
	IF a.recorded_at > b.recorded_at THEN
		RAISE EXCEPTION 'from_at (%) is later than to_at (%)', from_at, to_at USING ERRCODE = '22023',
			HINT = 'Give the earlier moment first.';
	END IF;
	RETURN QUERY
	WITH t AS (SELECT x.tag_id, x.name FROM @extschema@.tag x WHERE x.group_id = g),
	sa AS MATERIALIZED (SELECT t.name, @extschema@.history_set(t.tag_id, a.recording_id) AS s FROM t),
	sb AS MATERIALIZED (SELECT t.name, @extschema@.history_set(t.tag_id, b.recording_id) AS s FROM t),
	ua AS (SELECT COALESCE(@extschema@.customer_set_union(sa.s), '{}') AS u FROM sa),
	ub AS (SELECT COALESCE(@extschema@.customer_set_union(sb.s), '{}') AS u FROM sb)
	SELECT m.from_tag, m.to_tag, m.n, a.recorded_at, b.recorded_at
	  FROM (SELECT sa.name AS from_tag, sb.name AS to_tag,
	               @extschema@.customer_set_cardinality(sa.s OPERATOR(@extschema@.&) sb.s) AS n FROM sa, sb
	        UNION ALL
	        SELECT sa.name, NULL, @extschema@.customer_set_cardinality(sa.s OPERATOR(@extschema@.-) ub.u) FROM sa, ub
	        UNION ALL
	        SELECT NULL, sb.name, @extschema@.customer_set_cardinality(sb.s OPERATOR(@extschema@.-) ua.u) FROM sb, ua) m
	 WHERE m.n > 0
	 ORDER BY m.from_tag NULLS FIRST, m.to_tag NULLS FIRST;
END
$$;
COMMENT ON FUNCTION @extschema@.movement(text, timestamptz, timestamptz) IS
	'How many customers moved from each tag of a layer (a model or tag group) to each other between two recordings; NULL: none of its tags';

-- The customers of one cell of movement(), in the order of customer_id,
-- from after (exclusive; NULL: the start), at most page_size: of two
-- plans the cheaper (walk the ids in order, or look every member up and sort).
CREATE FUNCTION @extschema@.movement_members(layer text, from_at timestamptz, to_at timestamptz,
                                             from_tag text, to_tag text,
                                             after text DEFAULT NULL, page_size integer DEFAULT 1000)
RETURNS SETOF text
LANGUAGE plpgsql STABLE SECURITY DEFINER   -- reads the history tables, which readers may not
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	g integer := @extschema@.history_layer(layer);
	a @extschema@.history_recording := @extschema@.history_recording_at(from_at, 'from_at');
	b @extschema@.history_recording := @extschema@.history_recording_at(to_at, 'to_at');
	ta @extschema@.tag;
	tb @extschema@.tag;
	s @extschema@.customer_set;
	n bigint;
	everyone bigint;
BEGIN
	IF a.recorded_at > b.recorded_at THEN
		RAISE EXCEPTION 'from_at (%) is later than to_at (%)', from_at, to_at USING ERRCODE = '22023',
			HINT = 'Give the earlier moment first.';
	END IF;
	IF from_tag IS NULL AND to_tag IS NULL THEN
		RAISE EXCEPTION 'from_tag and to_tag must not both be null' USING ERRCODE = '22004',
			HINT = 'Name the tag of the cell on at least one side; NULL on one side means none of the layer''s tags.';
	END IF;
	IF page_size IS NULL OR page_size < 0 THEN
		RAISE EXCEPTION 'page size % is not valid', page_size USING ERRCODE = '22023', HINT = 'Give a page size of 0 or more.';
	END IF;
	-- a tag of the layer by its own name first: a merged tag's name now
	-- resolves to the tag it was merged into, but its history is its own
	IF from_tag IS NOT NULL THEN
		SELECT * INTO ta FROM @extschema@.tag x WHERE x.group_id = g AND lower(x.name) = @extschema@.name_key(from_tag);
		IF NOT FOUND THEN
			ta := @extschema@.find_tag(from_tag);
		END IF;
	END IF;
	IF to_tag IS NOT NULL THEN
		SELECT * INTO tb FROM @extschema@.tag x WHERE x.group_id = g AND lower(x.name) = @extschema@.name_key(to_tag);
		IF NOT FOUND THEN
			tb := @extschema@.find_tag(to_tag);
		END IF;
	END IF;
	IF ta.group_id <> g OR tb.group_id <> g THEN
		RAISE EXCEPTION 'tag "%" is not a tag of layer "%"', CASE WHEN ta.group_id <> g THEN from_tag ELSE to_tag END, layer
			USING ERRCODE = '22023', HINT = 'movement() lists the cells of the layer by their tags.';
	END IF;
	IF ta.tag_id IS NOT NULL AND tb.tag_id IS NOT NULL THEN
		s := @extschema@.history_set(ta.tag_id, a.recording_id) OPERATOR(@extschema@.&) @extschema@.history_set(tb.tag_id, b.recording_id);
	ELSIF ta.tag_id IS NOT NULL THEN
		s := @extschema@.history_set(ta.tag_id, a.recording_id) OPERATOR(@extschema@.-)
		     (SELECT COALESCE(@extschema@.customer_set_union(@extschema@.history_set(x.tag_id, b.recording_id)), '{}')
		        FROM @extschema@.tag x WHERE x.group_id = g);
	ELSE
		s := @extschema@.history_set(tb.tag_id, b.recording_id) OPERATOR(@extschema@.-)
		     (SELECT COALESCE(@extschema@.customer_set_union(@extschema@.history_set(x.tag_id, a.recording_id)), '{}')
		        FROM @extschema@.tag x WHERE x.group_id = g);
	END IF;
	n := @extschema@.customer_set_cardinality(s);
	everyone := @extschema@.customer_set_cardinality((SELECT st.known_keys FROM @extschema@.history_state st));
	IF least(everyone::float8, page_size::float8 * everyone / greatest(n, 1)) > 2.0 * n THEN
		RETURN QUERY
		SELECT d.customer_id FROM @extschema@.history_key d
		 WHERE d.key = ANY (ARRAY(SELECT @extschema@.customer_set_keys(s)))
		   AND (after IS NULL OR d.customer_id > after)
		 ORDER BY d.customer_id LIMIT page_size;
	ELSE
		RETURN QUERY
		SELECT d.customer_id FROM @extschema@.history_key d
		 WHERE (after IS NULL OR d.customer_id > after)
		   AND @extschema@.customer_set_contains(s, d.key)
		 ORDER BY d.customer_id LIMIT page_size;
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.movement_members(text, timestamptz, timestamptz, text, text, text, integer) IS
	'Customer ids of one cell of movement() (NULL tag: none of the layer''s tags), ordered, after a customer id, one page at a time';
