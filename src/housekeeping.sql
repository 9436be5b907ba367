
-- ---------------------------------------------------------------------------
-- housekeeping.sql: tag housekeeping.  Per tag: who holds it now, when it was
-- last applied and last removed, by whom and by which source (from
-- tag_history); the tags nobody holds or used for a while, and retiring them
-- in one call (stage 7: reads the tags and their history)
--
-- What counts (docs/housekeeping.md), per action of tag_history:
--   applied:  add, update (applied again: new expiry or reason), replace and
--             merge (the row's tag_id is the tag the customer got)
--   removed:  remove, expire, retire (the row's tag_id is the tag lost); and
--             replace and merge for the tag the customer lost, which the row
--             names only in old->>'tag' (its name at the time)
--   neither:  review and release (an operator's decision; the change it
--             causes, if any, is an add or a remove of its own)
-- ---------------------------------------------------------------------------

-- Per tag, the newest rows first; the second index finds the rows that name
-- a tag lost to a replace or a merge (by its name at the time).  Both serve
-- the per-tag look-ups of tag_usage, so that it reads a few index entries per
-- tag however long the history is (docs/housekeeping.md#performance).
CREATE INDEX tag_history_tag_idx ON @extschema@.tag_history (tag_id, changed_at, history_id);
CREATE INDEX tag_history_lost_tag_idx ON @extschema@.tag_history
	((pg_catalog.lower(old OPERATOR(pg_catalog.->>) 'tag')), changed_at, history_id)
	WHERE action IN ('replace', 'merge');

-- One row per tag.  The look-ups are per tag (LATERAL), so a query for one
-- tag reads only that tag's rows.  names: every name each tag has borne and
-- when, to find the tag a replace or merge row names in old->>'tag': its
-- current name since its last rename (or its creation), each earlier name
-- from the rename that gave it to the rename that took it away.  Renames are
-- chained in library_history's order, so that several in one transaction
-- chain right; a name is borne by one tag at a time (names are unique), so a
-- name and a moment give the tag.
CREATE VIEW @extschema@.tag_usage AS
	WITH RECURSIVE renames AS (
		SELECT h.history_id, h.changed_at, lower(h.old ->> 'name') AS old_key, lower(h.new ->> 'name') AS new_key
		  FROM @extschema@.library_history h
		 WHERE h.object_type = 'tag' AND h.action = 'rename' AND lower(h.old ->> 'name') <> lower(h.new ->> 'name')),
	-- back from the current name: (tag, name, the rename that ended it), with
	-- only the renames after the tag's creation (a name taken over from a
	-- tag renamed earlier was that tag's before)
	chain AS (
		SELECT t.tag_id, t.created_at,
		       (SELECT min(c.history_id) FROM @extschema@.library_history c
		         WHERE c.object_type = 'tag' AND c.action = 'create'
		           AND c.new ->> 'tag_id' = t.tag_id::text) AS created_by_row,   -- model tags: by time alone
		       lower(t.name) AS name_key, NULL::bigint AS ended_by, NULL::timestamptz AS valid_until
		  FROM @extschema@.tag t
		UNION ALL
		SELECT n.tag_id, n.created_at, n.created_by_row, r.old_key, r.history_id, r.changed_at
		  FROM chain n
		 CROSS JOIN LATERAL (SELECT * FROM renames r
		                      WHERE r.new_key = n.name_key AND (n.ended_by IS NULL OR r.history_id < n.ended_by)
		                        AND r.history_id > COALESCE(n.created_by_row, 0) AND r.changed_at >= n.created_at
		                      ORDER BY r.history_id DESC LIMIT 1) r),
	names AS (
		SELECT n.tag_id, n.name_key, n.valid_until,
		       COALESCE(lead(n.valid_until) OVER (PARTITION BY n.tag_id ORDER BY n.ended_by DESC NULLS FIRST),
		                n.created_at) AS valid_from
		  FROM chain n)
	SELECT t.tag_id, t.name AS tag, g.name AS group_name, g.kind, t.method, t.status, t.parent_id,
	       (SELECT mt.model FROM @extschema@.model_tag mt WHERE mt.tag_id = t.tag_id LIMIT 1) AS model,
	       (SELECT count(*) FROM @extschema@.customer_tag ct
	         WHERE ct.tag_id = t.tag_id AND (ct.expires_at IS NULL OR ct.expires_at > @extschema@.now())) AS holders,
	       a.changed_at AS last_applied_at, a.changed_by AS last_applied_by, a.source AS last_applied_source,
	       r.changed_at AS last_removed_at, r.changed_by AS last_removed_by, r.source AS last_removed_source,
	       r.action AS last_removed_how,
	       greatest(t.created_at, a.changed_at, r.changed_at) AS last_activity_at,
	       t.created_at, t.retired_at
	  FROM @extschema@.tag t
	  JOIN @extschema@.tag_group g ON g.group_id = t.group_id
	  LEFT JOIN LATERAL (
		SELECT h.changed_at, h.changed_by, h.source
		  FROM @extschema@.tag_history h
		 WHERE h.tag_id = t.tag_id AND h.action IN ('add', 'update', 'replace', 'merge')
		 ORDER BY h.changed_at DESC, h.history_id DESC LIMIT 1) a ON true
	  LEFT JOIN LATERAL (
		SELECT x.changed_at, x.history_id, x.changed_by, x.source, x.action
		  FROM (SELECT h.changed_at, h.history_id, h.changed_by, h.source, h.action
		          FROM @extschema@.tag_history h
		         WHERE h.tag_id = t.tag_id AND h.action IN ('remove', 'expire', 'retire')
		         ORDER BY h.changed_at DESC, h.history_id DESC LIMIT 1) x
		UNION ALL
		SELECT y.changed_at, y.history_id, y.changed_by, y.source, y.action
		  FROM names n
		 CROSS JOIN LATERAL (
			SELECT h.changed_at, h.history_id, h.changed_by, h.source, h.action
			  FROM @extschema@.tag_history h
			 WHERE lower(h.old ->> 'tag') = n.name_key AND h.action IN ('replace', 'merge')
			   AND h.changed_at >= n.valid_from AND (n.valid_until IS NULL OR h.changed_at <= n.valid_until)
			 ORDER BY h.changed_at DESC, h.history_id DESC LIMIT 1) y
		 WHERE n.tag_id = t.tag_id
		 ORDER BY 1 DESC, 2 DESC LIMIT 1) r ON true;
COMMENT ON VIEW @extschema@.tag_usage IS
	'Per tag: holders now, when it was last applied and last removed, by whom and by which source (docs/housekeeping.md)';

-- Active tags that nobody holds and nobody applied or removed for idle (nor
-- created in it), that no model keeps, and whose active child tags are all
-- candidates too (a tag with an active child cannot be retired); children
-- come before their parents, the order retire_idle_tags retires them in.
CREATE FUNCTION @extschema@.retirement_candidates(idle interval)
RETURNS TABLE (tag text, group_name text, method text, last_applied_at timestamptz, last_removed_at timestamptz,
               last_activity_at timestamptz)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF idle IS NULL THEN
		RAISE EXCEPTION 'idle period must not be null' USING ERRCODE = '22004',
			HINT = 'Give how long a tag must have been unused, such as interval ''90 days''.';
	END IF;
	IF idle < interval '0' THEN
		RAISE EXCEPTION 'idle period % is negative', idle USING ERRCODE = '22023',
			HINT = 'Give how long a tag must have been unused, such as interval ''90 days''.';
	END IF;
	RETURN QUERY
	WITH RECURSIVE usage AS (
		SELECT u.*, u.status = 'active' AND u.holders = 0 AND u.model IS NULL
		            AND u.last_activity_at <= @extschema@.now() - idle AS idle_enough
		  FROM @extschema@.tag_usage u),
	-- every active tag with its active descendants, and how deep each lies
	below AS (
		SELECT u.tag_id AS top, u.tag_id, 0 AS depth FROM usage u WHERE u.status = 'active'
		UNION ALL
		SELECT b.top, u.tag_id, b.depth + 1 FROM below b JOIN usage u ON u.parent_id = b.tag_id AND u.status = 'active'),
	subtree AS (
		SELECT b.top, bool_and(u.idle_enough) AS all_idle, max(b.depth) AS height
		  FROM below b JOIN usage u ON u.tag_id = b.tag_id GROUP BY b.top)
	SELECT u.tag, u.group_name, u.method, u.last_applied_at, u.last_removed_at, u.last_activity_at
	  FROM usage u JOIN subtree s ON s.top = u.tag_id
	 WHERE s.all_idle
	 ORDER BY s.height, u.last_activity_at, u.tag;
END
$$;
COMMENT ON FUNCTION @extschema@.retirement_candidates(interval) IS
	'Active tags nobody holds and nobody applied, removed or created for idle, that no model keeps; children first';

-- Retires every candidate, children first, through retire_tag (so history,
-- library_history and the tag sets follow).  The library lock is taken
-- first: no other library change runs between the choice and the retiring.
-- SECURITY DEFINER for that lock; granted to admins, as retire_tag is.
CREATE FUNCTION @extschema@.retire_idle_tags(idle interval, reason text DEFAULT NULL)
RETURNS SETOF text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c record;
BEGIN
	PERFORM @extschema@.lock_library();
	FOR c IN SELECT * FROM @extschema@.retirement_candidates(idle) LOOP
		PERFORM @extschema@.retire_tag(c.tag, COALESCE(reason, format('unused since %s', c.last_activity_at)));
		RETURN NEXT c.tag;
	END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.retire_idle_tags(interval, text) IS
	'Retires every retirement candidate for idle (children first) through retire_tag; returns the tags retired';
