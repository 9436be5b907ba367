
-- ---------------------------------------------------------------------------
-- segments.sql: customer sets as CRoaring bitmaps (C: src/bitmap.c), the
-- dense customer keys they hold, every tag's set kept current from
-- customer_tag, and segments: named expressions over tags, tag groups,
-- other segments and the rule language's conditions (C: src/segment.c).
-- See docs/segments.md.
-- ---------------------------------------------------------------------------

-- The type.  Text form '{1,5,7}' (the keys in increasing order); binary form
-- roaring's portable serialization, which every CRoaring binding reads.
CREATE TYPE @extschema@.customer_set;
CREATE FUNCTION @extschema@.customer_set_in(pg_catalog.cstring) RETURNS @extschema@.customer_set
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.customer_set_out(@extschema@.customer_set) RETURNS pg_catalog.cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.customer_set_recv(pg_catalog.internal) RETURNS @extschema@.customer_set
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.customer_set_send(@extschema@.customer_set) RETURNS pg_catalog.bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.customer_set_in(pg_catalog.cstring) IS 'Internal: text input of customer_set';
COMMENT ON FUNCTION @extschema@.customer_set_out(@extschema@.customer_set) IS 'Internal: text output of customer_set';
COMMENT ON FUNCTION @extschema@.customer_set_recv(pg_catalog.internal) IS 'Internal: binary input of customer_set (checked)';
COMMENT ON FUNCTION @extschema@.customer_set_send(@extschema@.customer_set) IS 'Internal: binary output of customer_set';
CREATE TYPE @extschema@.customer_set (
	INPUT = @extschema@.customer_set_in,
	OUTPUT = @extschema@.customer_set_out,
	RECEIVE = @extschema@.customer_set_recv,
	SEND = @extschema@.customer_set_send,
	INTERNALLENGTH = VARIABLE,
	STORAGE = extended
);
COMMENT ON TYPE @extschema@.customer_set IS
	'A set of customer keys (tagscrm.customer_key) as a compressed roaring bitmap; text form ''{1,5,7}''';

CREATE FUNCTION @extschema@.customer_set(keys pg_catalog.int4[]) RETURNS @extschema@.customer_set
	AS 'MODULE_PATHNAME', 'customer_set_from_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.customer_set(pg_catalog.int4[]) IS
	'The set of these keys (NULL elements skipped)';
CREATE FUNCTION @extschema@.customer_set_and(a @extschema@.customer_set, b @extschema@.customer_set)
	RETURNS @extschema@.customer_set AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.customer_set_and(@extschema@.customer_set, @extschema@.customer_set) IS
	'Keys in both sets (operator &)';
CREATE FUNCTION @extschema@.customer_set_or(a @extschema@.customer_set, b @extschema@.customer_set)
	RETURNS @extschema@.customer_set AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.customer_set_or(@extschema@.customer_set, @extschema@.customer_set) IS
	'Keys in either set (operator |)';
CREATE FUNCTION @extschema@.customer_set_andnot(a @extschema@.customer_set, b @extschema@.customer_set)
	RETURNS @extschema@.customer_set AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.customer_set_andnot(@extschema@.customer_set, @extschema@.customer_set) IS
	'Keys in the first set and not in the second (operator -)';
CREATE FUNCTION @extschema@.customer_set_cardinality(s @extschema@.customer_set) RETURNS pg_catalog.int8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.customer_set_cardinality(@extschema@.customer_set) IS
	'How many keys the set holds';
CREATE FUNCTION @extschema@.customer_set_contains(s @extschema@.customer_set, key pg_catalog.int4) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.customer_set_contains(@extschema@.customer_set, pg_catalog.int4) IS
	'Whether the set holds the key (operator @>)';
CREATE FUNCTION @extschema@.customer_set_eq(a @extschema@.customer_set, b @extschema@.customer_set) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.customer_set_eq(@extschema@.customer_set, @extschema@.customer_set) IS
	'Whether the sets hold the same keys (operator =)';
CREATE FUNCTION @extschema@.customer_set_keys(s @extschema@.customer_set) RETURNS SETOF pg_catalog.int4
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1000;
COMMENT ON FUNCTION @extschema@.customer_set_keys(@extschema@.customer_set) IS
	'The keys of the set, in increasing order';

CREATE OPERATOR @extschema@.& (FUNCTION = @extschema@.customer_set_and,
	LEFTARG = @extschema@.customer_set, RIGHTARG = @extschema@.customer_set, COMMUTATOR = OPERATOR(@extschema@.&));
CREATE OPERATOR @extschema@.| (FUNCTION = @extschema@.customer_set_or,
	LEFTARG = @extschema@.customer_set, RIGHTARG = @extschema@.customer_set, COMMUTATOR = OPERATOR(@extschema@.|));
CREATE OPERATOR @extschema@.- (FUNCTION = @extschema@.customer_set_andnot,
	LEFTARG = @extschema@.customer_set, RIGHTARG = @extschema@.customer_set);
CREATE OPERATOR @extschema@.@> (FUNCTION = @extschema@.customer_set_contains,
	LEFTARG = @extschema@.customer_set, RIGHTARG = pg_catalog.int4);
CREATE OPERATOR @extschema@.= (FUNCTION = @extschema@.customer_set_eq,
	LEFTARG = @extschema@.customer_set, RIGHTARG = @extschema@.customer_set, COMMUTATOR = OPERATOR(@extschema@.=));

-- The aggregates.  The state is a roaring bitmap in the aggregate's memory
-- context; serial/deserial carry it between parallel workers as the portable
-- serialization, and the combine functions merge the workers' states.
CREATE FUNCTION @extschema@.customer_set_agg_trans(pg_catalog.internal, pg_catalog.int4) RETURNS pg_catalog.internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.customer_set_union_trans(pg_catalog.internal, @extschema@.customer_set) RETURNS pg_catalog.internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.customer_set_intersect_trans(pg_catalog.internal, @extschema@.customer_set) RETURNS pg_catalog.internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.customer_set_union_combine(pg_catalog.internal, pg_catalog.internal) RETURNS pg_catalog.internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.customer_set_intersect_combine(pg_catalog.internal, pg_catalog.internal) RETURNS pg_catalog.internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.customer_set_state_serial(pg_catalog.internal) RETURNS pg_catalog.bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.customer_set_state_deserial(pg_catalog.bytea, pg_catalog.internal) RETURNS pg_catalog.internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.customer_set_state_final(pg_catalog.internal) RETURNS @extschema@.customer_set
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.customer_set_replay_trans(pg_catalog.internal, @extschema@.customer_set,
                                                      @extschema@.customer_set) RETURNS pg_catalog.internal
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.customer_set_agg_trans(pg_catalog.internal, pg_catalog.int4) IS 'Internal: customer_set_agg step';
COMMENT ON FUNCTION @extschema@.customer_set_union_trans(pg_catalog.internal, @extschema@.customer_set) IS 'Internal: customer_set_union step';
COMMENT ON FUNCTION @extschema@.customer_set_intersect_trans(pg_catalog.internal, @extschema@.customer_set) IS 'Internal: customer_set_intersection step';
COMMENT ON FUNCTION @extschema@.customer_set_union_combine(pg_catalog.internal, pg_catalog.internal) IS 'Internal: merges two union states';
COMMENT ON FUNCTION @extschema@.customer_set_intersect_combine(pg_catalog.internal, pg_catalog.internal) IS 'Internal: merges two intersection states';
COMMENT ON FUNCTION @extschema@.customer_set_state_serial(pg_catalog.internal) IS 'Internal: a customer_set aggregate state as bytes';
COMMENT ON FUNCTION @extschema@.customer_set_state_deserial(pg_catalog.bytea, pg_catalog.internal) IS 'Internal: a customer_set aggregate state from bytes';
COMMENT ON FUNCTION @extschema@.customer_set_state_final(pg_catalog.internal) IS 'Internal: the customer_set of an aggregate state';
COMMENT ON FUNCTION @extschema@.customer_set_replay_trans(pg_catalog.internal, @extschema@.customer_set, @extschema@.customer_set) IS 'Internal: customer_set_replay step';

CREATE AGGREGATE @extschema@.customer_set_agg(key pg_catalog.int4) (
	SFUNC = @extschema@.customer_set_agg_trans,
	STYPE = pg_catalog.internal,
	FINALFUNC = @extschema@.customer_set_state_final,
	COMBINEFUNC = @extschema@.customer_set_union_combine,
	SERIALFUNC = @extschema@.customer_set_state_serial,
	DESERIALFUNC = @extschema@.customer_set_state_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.customer_set_agg(pg_catalog.int4) IS
	'The set of the keys aggregated (NULL keys skipped; no rows: NULL)';
CREATE AGGREGATE @extschema@.customer_set_union(s @extschema@.customer_set) (
	SFUNC = @extschema@.customer_set_union_trans,
	STYPE = pg_catalog.internal,
	FINALFUNC = @extschema@.customer_set_state_final,
	COMBINEFUNC = @extschema@.customer_set_union_combine,
	SERIALFUNC = @extschema@.customer_set_state_serial,
	DESERIALFUNC = @extschema@.customer_set_state_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.customer_set_union(@extschema@.customer_set) IS
	'Keys in any of the sets aggregated (NULLs skipped; none: NULL)';
CREATE AGGREGATE @extschema@.customer_set_intersection(s @extschema@.customer_set) (
	SFUNC = @extschema@.customer_set_intersect_trans,
	STYPE = pg_catalog.internal,
	FINALFUNC = @extschema@.customer_set_state_final,
	COMBINEFUNC = @extschema@.customer_set_intersect_combine,
	SERIALFUNC = @extschema@.customer_set_state_serial,
	DESERIALFUNC = @extschema@.customer_set_state_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.customer_set_intersection(@extschema@.customer_set) IS
	'Keys in every one of the sets aggregated (NULLs skipped; none: NULL)';
-- Internal: order matters ((set | added) - removed, row after row), so no combine
CREATE AGGREGATE @extschema@.customer_set_replay(added @extschema@.customer_set, removed @extschema@.customer_set) (
	SFUNC = @extschema@.customer_set_replay_trans,
	STYPE = pg_catalog.internal,
	FINALFUNC = @extschema@.customer_set_state_final
);
COMMENT ON AGGREGATE @extschema@.customer_set_replay(@extschema@.customer_set, @extschema@.customer_set) IS
	'Internal: a set from its base and its changes, in the order given';

-- ---------------------------------------------------------------------------
-- Customer keys: every customer gets a dense 32-bit key when first seen, from
-- a sequence that never cycles, so a key is never reused.  The dictionary is
-- derived data: it is not dumped; a restore assigns keys afresh as it loads
-- the customers (and the tag sets follow as it loads customer_tag).
-- ---------------------------------------------------------------------------
CREATE SEQUENCE @extschema@.customer_key_seq AS integer MINVALUE 1 MAXVALUE 2147483647 NO CYCLE;
-- Both indexes carry the other column, so that listing members (by id
-- order, or by key) reads only the indexes (index-only scans).
CREATE TABLE @extschema@.customer_key (
	customer_id text NOT NULL REFERENCES @extschema@.customer ON DELETE CASCADE,
	key         integer NOT NULL,
	PRIMARY KEY (customer_id) INCLUDE (key),
	UNIQUE (key) INCLUDE (customer_id)
);
COMMENT ON TABLE @extschema@.customer_key IS
	'The dense 32-bit key of each customer, the element of a customer_set; never reused';

-- Every tag's set is its base (folded by segment_compact) replayed with the
-- changes logged after it, in log order: (set | added) - removed.  Writers
-- only append to the log, so two writers of one tag never wait for each
-- other; a reader sees the base and the log rows of one snapshot.  Tag id 0
-- is the set of all customers (the universe of "not").
CREATE TABLE @extschema@.tag_set_base (
	tag_id  integer PRIMARY KEY,
	members @extschema@.customer_set NOT NULL
);
COMMENT ON TABLE @extschema@.tag_set_base IS
	'Internal: each tag''s customer set as of its last compaction (tag 0: every customer)';
CREATE TABLE @extschema@.tag_set_log (
	log_id  bigserial PRIMARY KEY,
	tag_id  integer NOT NULL,
	added   @extschema@.customer_set,
	removed @extschema@.customer_set
);
CREATE INDEX tag_set_log_tag_idx ON @extschema@.tag_set_log (tag_id, log_id);
COMMENT ON TABLE @extschema@.tag_set_log IS
	'Internal: the changes to each tag''s set since its base, one row per tag and statement';

-- Folds one tag's committed log into its base, and returns the rows folded:
-- under the base row's lock, taken without waiting (if another transaction
-- holds it, it is folding this tag: nothing to do), in a statement of its
-- own, so with a snapshot taken after the lock.  Readers see either the old
-- base and the rows, or the new base without them.  A row of a transaction
-- still open stays, to be applied on top (its keys cannot be among those of
-- a later committed row: one customer's tag is changed by one transaction
-- at a time).  No base row yet: 0 (segment_compact makes it).
CREATE FUNCTION @extschema@.tag_set_fold(tag_id integer) RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n bigint;
BEGIN
	PERFORM FROM @extschema@.tag_set_base b WHERE b.tag_id = tag_set_fold.tag_id FOR UPDATE SKIP LOCKED;
	IF NOT FOUND THEN
		RETURN 0;
	END IF;
	WITH gone AS (
		DELETE FROM @extschema@.tag_set_log l WHERE l.tag_id = tag_set_fold.tag_id
		RETURNING l.log_id, l.added, l.removed),
	base AS (
		UPDATE @extschema@.tag_set_base b
		   SET members = (SELECT COALESCE(@extschema@.customer_set_replay(x.added, x.removed ORDER BY x.log_id), '{}')
		                    FROM (SELECT 0::bigint AS log_id, b.members AS added, NULL::@extschema@.customer_set AS removed
		                          UNION ALL
		                          SELECT g.log_id, g.added, g.removed FROM gone g) x)
		 WHERE b.tag_id = tag_set_fold.tag_id
		RETURNING 1)
	SELECT (SELECT count(*) FROM gone) INTO n FROM base;
	RETURN COALESCE(n, 0);
END
$$;
COMMENT ON FUNCTION @extschema@.tag_set_fold(integer) IS
	'Internal: folds one tag''s committed change log into its base set (skipped if another transaction is folding it)';

-- Automatic compaction.  Every writer of tag_set_log passes the rows it
-- appended to tag_set_autofold; for a sampled row (about one in 16,
-- whichever tags: tag_set_log_sampled) it looks at that tag's log, and
-- folds it when it has 64 rows or more: a busy tag's log stays near 64 rows between sweeps, at the cost of one fold every few dozen
-- statements to the writer that happens to find it long.  The fold takes
-- the base row's lock without waiting, so a writer never waits for another
-- (the other is folding it already); the lock is held to the end of the
-- writer's transaction, during which sweep's segment_compact skips that tag.
-- Only in READ COMMITTED: in REPEATABLE READ or SERIALIZABLE the lock could
-- fail the writer with a serialization error, so such writers leave it to
-- the next one or the sweep.
-- Which log rows make their writer look: one in 16, by a hash of the id.
-- Not by the id's remainder: a workload whose statements each log the same
-- number of rows (two tags, say) would give some tag's rows ids that are
-- never a multiple of 16, and its log would never be folded.
-- (hashint8(log_id) & 15 = 0, in C: tag_set_autofold.c, as is tag_set_autofold)
CREATE FUNCTION @extschema@.tag_set_log_sampled(log_id bigint) RETURNS boolean
	AS 'MODULE_PATHNAME', 'tagscrm_tag_set_log_sampled'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.tag_set_log_sampled(bigint) IS
	'Internal: whether a tag_set_log row makes its writer check the tag''s log length (about one row in 16)';

CREATE FUNCTION @extschema@.tag_set_autofold(log_ids bigint[]) RETURNS void
	AS 'MODULE_PATHNAME', 'tagscrm_tag_set_autofold'
	LANGUAGE C VOLATILE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.tag_set_autofold(bigint[]) IS
	'Internal: given the log rows a writer appended, folds the logs of their sampled tags that have grown to 64 rows';

-- Keys for the customers a statement added; the universe grows with them.
-- At 2^31 - 1 customers the sequence ends: the statement adding a customer
-- fails with 54000, and nothing is half-added.
CREATE FUNCTION @extschema@.customer_key_assign() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	logged_ids bigint[];
BEGIN
	IF NOT EXISTS (SELECT FROM new_customers) THEN
		RETURN NULL;
	END IF;
	BEGIN
		WITH k AS (
			INSERT INTO @extschema@.customer_key (customer_id, key)
			SELECT n.customer_id, nextval('@extschema@.customer_key_seq')
			  FROM (SELECT n.customer_id FROM new_customers n ORDER BY n.customer_id) n
			RETURNING key),
		logged AS (
			INSERT INTO @extschema@.tag_set_log (tag_id, added)
			SELECT 0, @extschema@.customer_set_agg(k.key) FROM k
			RETURNING log_id)
		SELECT array_agg(l.log_id) INTO logged_ids FROM logged l;
	EXCEPTION WHEN sequence_generator_limit_exceeded THEN
		RAISE EXCEPTION 'no customer key is left for % new customers', (SELECT count(*) FROM new_customers)
			USING ERRCODE = '54000',
			      DETAIL = 'Customer keys are 32-bit: at most 2147483647 customers are ever registered, and keys are never reused.',
			      HINT = 'tagscrm cannot register more customers in this database; see docs/segments.md on the key limit.';
	END;
	PERFORM @extschema@.tag_set_autofold(logged_ids);
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.customer_key_assign() IS
	'Internal: trigger giving new customers their keys';
CREATE TRIGGER customer_key_assign AFTER INSERT ON @extschema@.customer
	REFERENCING NEW TABLE AS new_customers
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.customer_key_assign();

-- A key's row is never changed: a key means one customer for good, which
-- saved sets and each backend's cache of ids (src/segment_keys.c) rely on.
CREATE FUNCTION @extschema@.customer_key_fixed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RAISE EXCEPTION 'customer keys cannot be changed'
		USING ERRCODE = '0A000',
		      DETAIL = 'A key stands for one customer for good: sets saved anywhere and every backend''s cache of ids rely on it.',
		      HINT = 'Delete the customer and register it again to give it a new key.';
END
$$;
COMMENT ON FUNCTION @extschema@.customer_key_fixed() IS
	'Internal: trigger refusing any UPDATE of customer_key';
CREATE TRIGGER customer_key_fixed BEFORE UPDATE ON @extschema@.customer_key
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.customer_key_fixed();

-- A customer removed by hand leaves the universe; its key is not reused.
CREATE FUNCTION @extschema@.customer_key_forget() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	INSERT INTO @extschema@.tag_set_log (tag_id, removed)
	SELECT 0, @extschema@.customer_set_agg(o.key) FROM old_keys o HAVING count(*) > 0;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.customer_key_forget() IS
	'Internal: trigger taking removed customers out of the set of all customers';
CREATE TRIGGER customer_key_forget AFTER DELETE ON @extschema@.customer_key
	REFERENCING OLD TABLE AS old_keys
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.customer_key_forget();

-- The seam: every writer of customer_tag (hand tagging, imports, models,
-- rules, expiry, retire, merge, rebuilds) goes through these statement
-- triggers, which log per tag the keys added and removed.  An UPDATE that
-- keeps (customer, tag) changes no membership.
CREATE FUNCTION @extschema@.tag_set_track() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	logged_ids bigint[];
BEGIN
	IF TG_OP = 'INSERT' THEN
		WITH logged AS (
			INSERT INTO @extschema@.tag_set_log (tag_id, added)
			SELECT n.tag_id, @extschema@.customer_set_agg(k.key)
			  FROM new_rows n JOIN @extschema@.customer_key k ON k.customer_id = n.customer_id
			 GROUP BY n.tag_id ORDER BY n.tag_id
			RETURNING log_id)
		SELECT array_agg(l.log_id) INTO logged_ids FROM logged l;
	ELSIF TG_OP = 'DELETE' THEN
		WITH logged AS (
			INSERT INTO @extschema@.tag_set_log (tag_id, removed)
			SELECT o.tag_id, @extschema@.customer_set_agg(k.key)
			  FROM old_rows o JOIN @extschema@.customer_key k ON k.customer_id = o.customer_id
			 GROUP BY o.tag_id ORDER BY o.tag_id
			RETURNING log_id)
		SELECT array_agg(l.log_id) INTO logged_ids FROM logged l;
	ELSE
		WITH logged AS (
			INSERT INTO @extschema@.tag_set_log (tag_id, added, removed)
			SELECT d.tag_id, @extschema@.customer_set_agg(k.key) FILTER (WHERE d.added),
			       @extschema@.customer_set_agg(k.key) FILTER (WHERE NOT d.added)
			  FROM ((SELECT n.customer_id, n.tag_id, true AS added FROM new_rows n
			         EXCEPT SELECT o.customer_id, o.tag_id, true FROM old_rows o)
			        UNION ALL
			        (SELECT o.customer_id, o.tag_id, false FROM old_rows o
			         EXCEPT SELECT n.customer_id, n.tag_id, false FROM new_rows n)) d
			  JOIN @extschema@.customer_key k ON k.customer_id = d.customer_id
			 GROUP BY d.tag_id ORDER BY d.tag_id
			RETURNING log_id)
		SELECT array_agg(l.log_id) INTO logged_ids FROM logged l;
	END IF;
	-- a long log is folded by the writer that finds it (tag_set_autofold)
	PERFORM @extschema@.tag_set_autofold(logged_ids);
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.tag_set_track() IS
	'Internal: statement trigger on customer_tag logging each tag''s added and removed customers';
CREATE TRIGGER tag_set_track_insert AFTER INSERT ON @extschema@.customer_tag
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.tag_set_track();
CREATE TRIGGER tag_set_track_delete AFTER DELETE ON @extschema@.customer_tag
	REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.tag_set_track();
CREATE TRIGGER tag_set_track_update AFTER UPDATE ON @extschema@.customer_tag
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.tag_set_track();

-- TRUNCATE has no transition table: the rows are logged as removed before
-- they go (TRUNCATE holds its exclusive lock by then).
CREATE FUNCTION @extschema@.tag_set_truncate() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	INSERT INTO @extschema@.tag_set_log (tag_id, removed)
	SELECT ct.tag_id, @extschema@.customer_set_agg(k.key)
	  FROM @extschema@.customer_tag ct JOIN @extschema@.customer_key k ON k.customer_id = ct.customer_id
	 GROUP BY ct.tag_id ORDER BY ct.tag_id;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.tag_set_truncate() IS
	'Internal: logs every assignment as removed before customer_tag is truncated';
CREATE TRIGGER tag_set_truncate BEFORE TRUNCATE ON @extschema@.customer_tag
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.tag_set_truncate();

-- A tag's customers as a set, in the caller's snapshot (tag 0: every customer)
CREATE FUNCTION @extschema@.tag_set(tag_id integer) RETURNS @extschema@.customer_set
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT COALESCE(@extschema@.customer_set_replay(x.added, x.removed ORDER BY x.log_id), '{}')
	  FROM (SELECT 0::bigint AS log_id, b.members AS added, NULL::@extschema@.customer_set AS removed
	          FROM @extschema@.tag_set_base b WHERE b.tag_id = tag_set.tag_id
	        UNION ALL
	        SELECT l.log_id, l.added, l.removed
	          FROM @extschema@.tag_set_log l WHERE l.tag_id = tag_set.tag_id) x
$$;
COMMENT ON FUNCTION @extschema@.tag_set(integer) IS
	'Internal: a tag''s customers (0: every customer) as a customer_set, from its base and log';

-- Folds each tag's committed log into its base (tag_set_fold), one tag at a
-- time, in one transaction with the readers none the wiser.  A tag whose
-- base row another transaction holds (a writer folding it, see
-- tag_set_autofold, or another compaction) is skipped: that one folds it.
-- Returns the log rows folded.
CREATE FUNCTION @extschema@.segment_compact(tag_id integer DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t integer;
	folded bigint := 0;
BEGIN
	-- a writer that saw a condition just dropped may have logged for it
	DELETE FROM @extschema@.tag_set_log l
	 WHERE l.tag_id < 0 AND (segment_compact.tag_id IS NULL OR l.tag_id = segment_compact.tag_id)
	   AND NOT EXISTS (SELECT FROM @extschema@.segment_condition c WHERE -c.condition_id = l.tag_id);
	FOR t IN SELECT DISTINCT l.tag_id FROM @extschema@.tag_set_log l
	          WHERE segment_compact.tag_id IS NULL OR l.tag_id = segment_compact.tag_id
	          ORDER BY 1 LOOP
		INSERT INTO @extschema@.tag_set_base (tag_id, members) VALUES (t, '{}') ON CONFLICT DO NOTHING;
		folded := folded + @extschema@.tag_set_fold(t);
	END LOOP;
	RETURN folded;
END
$$;
COMMENT ON FUNCTION @extschema@.segment_compact(integer) IS
	'Folds the change log of a tag''s customer set (NULL: of every tag) into its base; returns the log rows folded';

-- ---------------------------------------------------------------------------
-- Segments: named expressions over tags, groups, other segments and
-- conditions of the rule language.
-- ---------------------------------------------------------------------------
CREATE TABLE @extschema@.segment (
	name        text NOT NULL,
	expression  text NOT NULL,
	description text,
	uses        text[] NOT NULL DEFAULT '{}',   -- the segments the expression names
	conditions  text[] NOT NULL DEFAULT '{}',   -- its conditions, canonical (segment_condition)
	defined_by  text NOT NULL,
	defined_at  timestamptz NOT NULL
);
CREATE UNIQUE INDEX segment_name_key ON @extschema@.segment (pg_catalog.lower(name));
COMMENT ON TABLE @extschema@.segment IS
	'Saved segments: an expression over tags, tag groups, other segments and rule conditions (docs/segments.md)';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.segment', '');

-- The conditions saved segments hold, each once (by its canonical text),
-- with a set kept for it like a tag's, under tag id -condition_id: the rule
-- machinery evaluates it with the rule tags (sync_rules, in tag_rules.sql),
-- so it is current at the end of every statement that changes a customer,
-- and at the sweep once time alone may have changed it.  A condition whose
-- set has no base row (after a restore: the sets are not dumped) is
-- evaluated on the spot until refresh() builds its set again.
CREATE TABLE @extschema@.segment_condition (
	condition_id serial PRIMARY KEY,
	condition    text NOT NULL UNIQUE,
	created_at   timestamptz NOT NULL
);
COMMENT ON TABLE @extschema@.segment_condition IS
	'Internal: the rule conditions of saved segments; each one''s customer set is tag set -condition_id';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.segment_condition', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.segment_condition_condition_id_seq', '');

-- Gives every condition without a kept set an empty one, to be filled by a
-- pass of the rules over everyone that the caller runs next (holding
-- lock_for_everyone, so that no writer evaluates a customer meanwhile
-- without it).  Returns how many it started.
CREATE FUNCTION @extschema@.segment_conditions_start() RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH started AS (
		INSERT INTO @extschema@.tag_set_base (tag_id, members)
		SELECT -c.condition_id, '{}' FROM @extschema@.segment_condition c ORDER BY c.condition_id
		ON CONFLICT DO NOTHING RETURNING 1)
	SELECT count(*) FROM started
$$;
COMMENT ON FUNCTION @extschema@.segment_conditions_start() IS
	'Internal: an empty kept set for each segment condition without one (a pass over everyone fills it)';

-- Drops the conditions no saved segment holds any more, and their sets.
CREATE FUNCTION @extschema@.segment_conditions_forget() RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	WITH gone AS (
		DELETE FROM @extschema@.segment_condition c
		 WHERE NOT EXISTS (SELECT FROM @extschema@.segment s WHERE c.condition = ANY (s.conditions))
		RETURNING -c.condition_id AS tag_id),
	bases AS (DELETE FROM @extschema@.tag_set_base b USING gone g WHERE b.tag_id = g.tag_id RETURNING 1)
	DELETE FROM @extschema@.tag_set_log l USING gone g WHERE l.tag_id = g.tag_id
$$;
COMMENT ON FUNCTION @extschema@.segment_conditions_forget() IS
	'Internal: drops the segment conditions no saved segment holds, and their sets';

-- The evaluator (C): a saved segment's name or an expression, as a set of
-- customer keys, read in the caller's snapshot.
CREATE FUNCTION @extschema@.segment_set(expression text) RETURNS @extschema@.customer_set
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.segment_set(text) IS
	'The customer keys of a segment (by name) or of an expression, as a customer_set';
CREATE FUNCTION @extschema@.segment_check(expression text, defining text) RETURNS text[]
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.segment_check(text, text) IS
	'Internal: raises unless every name of the expression exists, the watched tables supply what its conditions name, and it does not lead back to the segment defined; returns the segments it names';
-- stable rather than immutable, as segment_check beside which define_segment
-- calls it: the parser alone decides the result, but nothing gains from more
CREATE FUNCTION @extschema@.segment_conditions(expression text) RETURNS text[]
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.segment_conditions(text) IS
	'Internal: the canonical texts of the rule conditions an expression holds itself, each once';

-- C, both: the count without making the set a value; the members in key
-- order from the backend's cache of customer_key (src/segment_keys.c)
CREATE FUNCTION @extschema@.segment_count(expression text) RETURNS bigint
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.segment_count(text) IS
	'How many customers a segment (by name) or an expression holds';

-- Customer ids in key order (the order customers were first seen, which is
-- the bitmap's own: no sort), from after the key of customer after (NULL:
-- the start), at most page_size.
CREATE FUNCTION @extschema@.segment_members(expression text, after text DEFAULT NULL, page_size integer DEFAULT 1000)
RETURNS SETOF text
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE CALLED ON NULL INPUT SECURITY DEFINER ROWS 1000
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.segment_members(text, text, integer) IS
	'Customer ids of a segment (by name) or an expression, in the order customers were first seen, after a customer id, one page at a time';

CREATE FUNCTION @extschema@.segment_overlap(a text, b text)
RETURNS TABLE (both_count bigint, a_only bigint, b_only bigint)
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT @extschema@.customer_set_cardinality(x.a OPERATOR(@extschema@.&) x.b),
	       @extschema@.customer_set_cardinality(x.a OPERATOR(@extschema@.-) x.b),
	       @extschema@.customer_set_cardinality(x.b OPERATOR(@extschema@.-) x.a)
	  FROM (SELECT @extschema@.segment_set(a) AS a, @extschema@.segment_set(b) AS b) x
$$;
COMMENT ON FUNCTION @extschema@.segment_overlap(text, text) IS
	'Sizes of a and b, of a only, of b only, for two segments or expressions';

CREATE FUNCTION @extschema@.define_segment(name text, expression text, description text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	clean text := @extschema@.check_name('segment', name);
	used text[];
	conds text[];
BEGIN
	IF expression IS NULL THEN
		RAISE EXCEPTION 'segment expression must not be null' USING ERRCODE = '22004',
			HINT = 'Write an expression such as tag(''VIP'') and not tag(''churned'').';
	END IF;
	IF clean ~ '[()'']' THEN
		RAISE EXCEPTION 'segment name "%" contains a parenthesis or a quote', clean
			USING ERRCODE = '22023', HINT = 'A segment''s name stands for the segment where an expression is expected; choose a name without ( ) or ''.';
	END IF;
	-- one definition at a time, so that two cannot make a cycle between them
	LOCK TABLE @extschema@.segment IN SHARE ROW EXCLUSIVE MODE;
	used := @extschema@.segment_check(expression, clean);
	conds := @extschema@.segment_conditions(expression);
	UPDATE @extschema@.segment s
	   SET name = clean, expression = define_segment.expression, description = define_segment.description,
	       uses = used, conditions = conds, defined_by = @extschema@.acting_role(), defined_at = @extschema@.now()
	 WHERE lower(s.name) = @extschema@.name_key(clean);
	IF NOT FOUND THEN
		INSERT INTO @extschema@.segment (name, expression, description, uses, conditions, defined_by, defined_at)
		VALUES (clean, expression, description, used, conds, @extschema@.acting_role(), @extschema@.now());
	END IF;
	PERFORM @extschema@.segment_conditions_forget();   -- those a redefinition left
	-- a new condition gets its kept set: everyone evaluated now, as when a
	-- rule is switched on; writers wait meanwhile
	IF EXISTS (SELECT FROM unnest(conds) n(condition)
	            WHERE NOT EXISTS (SELECT FROM @extschema@.segment_condition c
	                                JOIN @extschema@.tag_set_base b ON b.tag_id = -c.condition_id
	                               WHERE c.condition = n.condition)) THEN
		PERFORM @extschema@.lock_for_everyone(breakpoints => false);
		INSERT INTO @extschema@.segment_condition (condition, created_at)
		SELECT n.condition, @extschema@.now() FROM unnest(conds) WITH ORDINALITY n(condition, i) ORDER BY n.i
		ON CONFLICT (condition) DO NOTHING;
		PERFORM @extschema@.segment_conditions_start();
		PERFORM @extschema@.maintain_in_batches('define_segment', false, true, lock_rows => false, stages => 'rules');
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.define_segment(text, text, text) IS
	'Saves (or redefines) a segment; every tag, group and segment it names must exist, and the watched tables must supply what its conditions name';

CREATE FUNCTION @extschema@.drop_segment(name text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s @extschema@.segment;
	users text;
BEGIN
	LOCK TABLE @extschema@.segment IN SHARE ROW EXCLUSIVE MODE;
	SELECT * INTO s FROM @extschema@.segment x WHERE lower(x.name) = @extschema@.name_key(drop_segment.name);
	IF NOT FOUND THEN
		RAISE EXCEPTION 'segment "%" does not exist', drop_segment.name
			USING ERRCODE = '42704', HINT = 'See tagscrm.segments for the segments defined.';
	END IF;
	SELECT string_agg(format('"%s"', x.name), ', ' ORDER BY x.name) INTO users
	  FROM @extschema@.segment x WHERE s.name = ANY (x.uses);
	IF users IS NOT NULL THEN
		RAISE EXCEPTION 'segment "%" is used by segment %', s.name, users
			USING ERRCODE = '2BP01', HINT = 'Redefine or drop the segments that use it first.';
	END IF;
	DELETE FROM @extschema@.segment x WHERE x.name = s.name;
	PERFORM @extschema@.segment_conditions_forget();
END
$$;
COMMENT ON FUNCTION @extschema@.drop_segment(text) IS
	'Drops a segment no other segment uses';

-- What readers and BI tools query: each segment and its size now
CREATE VIEW @extschema@.segments WITH (security_barrier) AS
	SELECT s.name, s.expression, s.description, @extschema@.segment_count(s.name) AS customers,
	       s.defined_by, s.defined_at
	  FROM @extschema@.segment s;
COMMENT ON VIEW @extschema@.segments IS
	'Each saved segment with its current number of customers';
