
-- ---------------------------------------------------------------------------
-- pending.sql: bulk statements, applied right after they commit
--
-- Bringing facts and tags up to date costs far more per row than writing the
-- row: done inside a COPY of 100,000 orders it would cut the COPY's
-- throughput many times over.  So a statement on a watched orders or events
-- table that writes more rows than settings.bulk_rows only queues what it
-- did; a background worker (applier.c), started when the statement's
-- transaction commits, brings those customers up to date, one queued
-- statement per transaction, taking their fact locks in id order like every
-- other writer.  sweep() and refresh() also drain the queue, and
-- apply_pending() drains it at once.
--
-- A queued insert keeps its rows (customer, time, amount or kind) and is
-- applied as a delta, the cheap way, unless the facts of its customers may
-- already include those rows: a recompute from the watched tables (an update
-- or delete, a rebuild) that ran after the insert committed.  Each recompute
-- that runs while inserts are queued logs its snapshot, taken after its
-- reads, in recompute_log; an insert visible in one of them is applied by
-- recomputing its customers instead, which is idempotent.  So is an entry
-- restored from a dump (its transaction id belongs to another history).
-- Queued updates and deletes are always applied by recomputing.
-- ---------------------------------------------------------------------------

CREATE TABLE @extschema@.pending_customers (
	pending_id  bigserial PRIMARY KEY,
	xact        xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id(),   -- the writing transaction
	queued_at   timestamptz NOT NULL,
	queued_by   text NOT NULL,       -- recorded as the author of the tag changes
	source      text NOT NULL,       -- the watched table's role: orders or events
	statement   text NOT NULL,       -- INSERT, UPDATE or DELETE
	customers   text[] NOT NULL,     -- INSERT: one per row (with ats, details); else each customer once
	ats         timestamptz[],
	details     text[]               -- amounts (as text, exact) or event kinds
);

-- stored uncompressed: compressing a 100,000-row entry (pglz) would cost a
-- third of the COPY it follows
ALTER TABLE @extschema@.pending_customers
	ALTER customers SET STORAGE EXTERNAL, ALTER ats SET STORAGE EXTERNAL, ALTER details SET STORAGE EXTERNAL;
-- a dump taken while entries wait must keep them: the facts dumped beside
-- them do not include those statements yet
SELECT pg_catalog.pg_extension_config_dump('@extschema@.pending_customers', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.pending_customers_pending_id_seq', '');
COMMENT ON TABLE @extschema@.pending_customers IS
	'Bulk statements whose customers'' facts and tags the background applier has yet to bring up to date';

CREATE FUNCTION @extschema@.request_applier() RETURNS void
	AS 'MODULE_PATHNAME', 'tagscrm_request_applier'
	LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION @extschema@.request_applier() IS
	'Internal: starts a background applier when the current transaction commits';

CREATE FUNCTION @extschema@.defer_customers(source text, statement text, customers text[],
                                            ats timestamptz[], details text[]) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	INSERT INTO @extschema@.pending_customers (queued_at, queued_by, source, statement, customers, ats, details)
	VALUES (pg_catalog.clock_timestamp(), @extschema@.acting_role(), source, statement, customers, ats, details);
	PERFORM @extschema@.request_applier();
END
$$;
COMMENT ON FUNCTION @extschema@.defer_customers(text, text, text[], timestamptz[], text[]) IS
	'Internal: queues a bulk statement for the background applier';

-- Applies the oldest queued statement, with history in the name of the role
-- that wrote it.  wait => false skips entries another applier holds; wait =>
-- true waits for them (and finds them gone).  Returns false when there was
-- nothing to apply.
CREATE FUNCTION @extschema@.apply_pending_entry(wait boolean DEFAULT false) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off   -- maintenance plans are small; JIT compile time would dominate
AS $$
DECLARE
	p @extschema@.pending_customers;
	written_here boolean;   -- false for an entry restored from a dump
	touched text[];
BEGIN
	IF wait THEN
		SELECT * INTO p FROM @extschema@.pending_customers x ORDER BY x.pending_id LIMIT 1 FOR UPDATE;
	ELSE
		SELECT * INTO p FROM @extschema@.pending_customers x ORDER BY x.pending_id LIMIT 1 FOR UPDATE SKIP LOCKED;
	END IF;
	IF p.pending_id IS NULL THEN
		RETURN false;
	END IF;
	written_here := (SELECT x.xmin = pg_catalog.xid(x.xact) FROM @extschema@.pending_customers x
	                  WHERE x.pending_id = p.pending_id);
	PERFORM pg_catalog.set_config('tagscrm.acting_for', p.queued_by, true);
	PERFORM @extschema@.lock_facts(p.customers);
	-- after the locks: a recompute of these customers has committed by now
	IF p.statement = 'INSERT' AND written_here
	   AND NOT EXISTS (SELECT FROM @extschema@.recompute_log r
	                    WHERE r.xact = p.xact OR pg_catalog.pg_visible_in_snapshot(p.xact, r.snap)) THEN
		touched := CASE p.source WHEN 'orders' THEN @extschema@.add_orders(p.customers, p.ats, p.details::numeric[])
		                         ELSE @extschema@.add_events(p.customers, p.ats, p.details) END;
	ELSE
		touched := ARRAY(SELECT DISTINCT c FROM unnest(p.customers) c WHERE c IS NOT NULL);
		PERFORM @extschema@.recompute_facts(touched, p.source);
	END IF;
	PERFORM @extschema@.maintain(touched);
	DELETE FROM @extschema@.pending_customers x WHERE x.pending_id = p.pending_id;
	-- a logged snapshot matters only while an insert visible in it is queued
	DELETE FROM @extschema@.recompute_log r
	 WHERE NOT EXISTS (SELECT FROM @extschema@.pending_customers x
	                    WHERE x.statement = 'INSERT'
	                      AND (x.xact = r.xact OR pg_catalog.pg_visible_in_snapshot(x.xact, r.snap)));
	PERFORM pg_catalog.set_config('tagscrm.acting_for', '', true);
	RETURN true;
END
$$;
COMMENT ON FUNCTION @extschema@.apply_pending_entry(boolean) IS
	'Internal: applies the oldest queued bulk statement; false when none is left';

CREATE FUNCTION @extschema@.apply_pending() RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
DECLARE
	applied bigint := 0;
BEGIN
	WHILE @extschema@.apply_pending_entry(wait => true) LOOP
		applied := applied + 1;
	END LOOP;
	RETURN applied;
END
$$;
COMMENT ON FUNCTION @extschema@.apply_pending() IS
	'Applies every queued bulk statement now (waiting for any the background applier holds); returns how many';
