
-- ---------------------------------------------------------------------------
-- pending.sql: bulk statements, applied right after they commit
--
-- Bringing facts and tags up to date costs far more per row than writing the
-- row: done inside a COPY of 100,000 orders it would cut the COPY's
-- throughput many times over.  So a statement on a watched orders or events
-- table that writes more rows than settings.bulk_rows only queues the
-- customers it touched; a background worker (applier.c), started when the
-- statement's transaction commits, recomputes those customers from the
-- watched tables and brings their tags in line, one queued statement per
-- transaction.  Recomputing is idempotent and takes the customers' fact locks
-- in id order like every other writer, so it commutes with the triggers of
-- concurrent small statements; sweep() and refresh() also drain the queue,
-- and apply_pending() drains it at once.
-- ---------------------------------------------------------------------------

CREATE TABLE @extschema@.pending_customers (
	pending_id  bigserial PRIMARY KEY,
	queued_at   timestamptz NOT NULL,
	queued_by   text NOT NULL,       -- recorded as the author of the tag changes
	source      text NOT NULL,       -- the watched table's role: orders or events
	statement   text NOT NULL,       -- INSERT, UPDATE or DELETE
	customers   text[] NOT NULL
);
-- a dump taken while entries wait must keep them: the facts dumped beside
-- them do not include those statements yet
SELECT pg_catalog.pg_extension_config_dump('@extschema@.pending_customers', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.pending_customers_pending_id_seq', '');
COMMENT ON TABLE @extschema@.pending_customers IS
	'Customers touched by bulk statements whose facts and tags the background applier has yet to bring up to date';

CREATE FUNCTION @extschema@.request_applier() RETURNS void
	AS 'MODULE_PATHNAME', 'tagscrm_request_applier'
	LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION @extschema@.request_applier() IS
	'Internal: starts a background applier when the current transaction commits';

CREATE FUNCTION @extschema@.defer_customers(source text, statement text, customers text[]) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF customers IS NULL THEN
		RETURN;
	END IF;
	INSERT INTO @extschema@.pending_customers (queued_at, queued_by, source, statement, customers)
	VALUES (pg_catalog.clock_timestamp(), @extschema@.acting_role(), source, statement, customers);
	PERFORM @extschema@.request_applier();
END
$$;
COMMENT ON FUNCTION @extschema@.defer_customers(text, text, text[]) IS
	'Internal: queues the customers of a bulk statement for the background applier';

-- Applies the oldest queued statement: its customers' facts are recomputed
-- from the watched tables and their tags brought in line, with history in
-- the name of the role that wrote the statement.  wait => false skips
-- entries another applier holds; wait => true waits for them (and finds them
-- gone).  Returns false when there was nothing to apply.
CREATE FUNCTION @extschema@.apply_pending_entry(wait boolean DEFAULT false) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off   -- maintenance plans are small; JIT compile time would dominate
AS $$
DECLARE
	p @extschema@.pending_customers;
BEGIN
	IF wait THEN
		SELECT * INTO p FROM @extschema@.pending_customers ORDER BY pending_id LIMIT 1 FOR UPDATE;
	ELSE
		SELECT * INTO p FROM @extschema@.pending_customers ORDER BY pending_id LIMIT 1 FOR UPDATE SKIP LOCKED;
	END IF;
	IF p.pending_id IS NULL THEN
		RETURN false;
	END IF;
	PERFORM pg_catalog.set_config('tagscrm.acting_for', p.queued_by, true);
	PERFORM @extschema@.lock_facts(p.customers);
	PERFORM @extschema@.recompute_facts(p.customers, p.source);
	PERFORM @extschema@.sync_models(p.customers);
	DELETE FROM @extschema@.pending_customers x WHERE x.pending_id = p.pending_id;
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

CREATE VIEW @extschema@.pending_changes AS
SELECT p.pending_id, p.queued_at, p.queued_by, p.source, p.statement,
       pg_catalog.cardinality(p.customers)::bigint AS customers
  FROM @extschema@.pending_customers p;
COMMENT ON VIEW @extschema@.pending_changes IS
	'Bulk statements whose facts and tags the background applier has yet to bring up to date (normally for seconds)';
