
-- ---------------------------------------------------------------------------
-- pending.sql: bulk statements, applied right after they commit
--
-- Bringing facts and tags up to date costs far more per row than writing the
-- row: done inside a COPY of 100,000 orders it would cut the COPY's
-- throughput many times over.  So a statement on a watched orders or events
-- table that writes more rows than settings.bulk_rows only queues what it
-- did, in entries of at most 1,000 customers; a background worker
-- (applier.c), started when the statement's transaction commits, brings
-- those customers up to date, one entry per transaction, taking their fact
-- locks in id order like every other writer but never waiting while it holds
-- some.  sweep() and refresh() start a worker when entries wait, and
-- apply_pending() applies them at once.  An entry that fails is set aside
-- with its reason, and the others go on.
--
-- A queued insert keeps its rows (customer, time, amount or kind) and is
-- applied as a delta, the cheap way, unless the facts of its customers may
-- already include those rows: a recompute from the watched tables (an update
-- or delete, a rebuild) that ran after the insert committed.  Each recompute
-- that runs while inserts are queued logs its snapshot, taken after its
-- reads, in recompute_log (facts.sql); an insert visible in one of them is
-- applied by recomputing its customers instead, which is idempotent.  So is
-- an entry restored from a dump (its transaction id belongs to another
-- history).
-- Queued updates and deletes are always applied by recomputing.
-- ---------------------------------------------------------------------------

CREATE TABLE @extschema@.pending_customers (
	pending_id  bigserial PRIMARY KEY,
	xact        xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id(),   -- the writing transaction
	queued_at   timestamptz NOT NULL,
	queued_by   text NOT NULL,       -- recorded as the author of the tag changes
	source      text NOT NULL,       -- the watched table's role: orders or events
	statement   text NOT NULL,       -- INSERT, UPDATE or DELETE
	customers   text[] NOT NULL,     -- INSERT: one per row (with ats, details; none: recompute); else each customer once
	ats         timestamptz[],
	details     text[],              -- amounts (as text, exact) or event kinds
	failed_at   timestamptz,         -- set aside: applying it failed (see failure); the others go on
	failure     text
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

-- Starts an applier when this transaction commits if entries wait (after a
-- restart, say, no applier runs until someone asks for one).
CREATE FUNCTION @extschema@.request_applier_if_queued() RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF EXISTS (SELECT FROM @extschema@.pending_customers p WHERE p.failed_at IS NULL) THEN
		PERFORM @extschema@.request_applier();
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.request_applier_if_queued() IS
	'Internal: starts a background applier at commit if queued bulk statements wait';

-- Queues a bulk statement, in entries of at most 1,000 customers each (a
-- customer's rows in one entry), so that the applier never holds more than
-- 1,000 customers' fact locks at once: writers of other customers go on.
CREATE FUNCTION @extschema@.defer_customers(source text, statement text, customers text[],
                                            ats timestamptz[], details text[]) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	INSERT INTO @extschema@.pending_customers (queued_at, queued_by, source, statement, customers, ats, details)
	SELECT pg_catalog.clock_timestamp(), @extschema@.acting_role(), defer_customers.source, defer_customers.statement,
	       array_agg(u.c ORDER BY u.c, u.n),
	       CASE WHEN ats IS NOT NULL THEN array_agg(u.a ORDER BY u.c, u.n) END,
	       CASE WHEN details IS NOT NULL THEN array_agg(u.d ORDER BY u.c, u.n) END
	  FROM (SELECT x.*, dense_rank() OVER (ORDER BY x.c) AS k
	          FROM unnest(customers, ats, details) WITH ORDINALITY AS x(c, a, d, n)) u
	 GROUP BY (u.k - 1) / 1000
	 ORDER BY (u.k - 1) / 1000;
	PERFORM @extschema@.request_applier();
END
$$;
COMMENT ON FUNCTION @extschema@.defer_customers(text, text, text[], timestamptz[], text[]) IS
	'Internal: queues a bulk statement for the background applier, in entries of at most 1,000 customers';

-- Locks the fact rows of a queued entry's customers without ever waiting
-- while holding some of them: a lock another transaction holds makes it let
-- go of all of them and try again a little later, so the applier cannot
-- deadlock with a writer, whatever order the writer's own transaction takes
-- its customers in.  After about 30 s of tries it waits like anyone else.
CREATE FUNCTION @extschema@.lock_facts_patiently(customers text[]) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	FOR attempt IN 1 .. 60 LOOP
		BEGIN
			PERFORM set_config('lock_timeout', '10ms', true);
			PERFORM @extschema@.lock_facts(customers);
			PERFORM set_config('lock_timeout', '0', true);
			RETURN;
		EXCEPTION WHEN lock_not_available THEN
			PERFORM set_config('lock_timeout', '0', true);
			PERFORM pg_sleep(least(0.01 * attempt, 0.5));
		END;
	END LOOP;
	PERFORM @extschema@.lock_facts(customers);
END
$$;
COMMENT ON FUNCTION @extschema@.lock_facts_patiently(text[]) IS
	'Internal: locks fact rows, letting go and retrying instead of waiting while holding some';

-- Applies the oldest queued entry, with history in the name of the role
-- that wrote it.  wait => false skips entries another applier holds; wait =>
-- true waits for them (and finds them gone).  An entry that fails is set
-- aside with the reason (pending_changes shows it; apply_pending() or
-- refresh(rebuild => true) deal with it) and the next one goes on.  Returns
-- false when there was nothing to apply.
CREATE FUNCTION @extschema@.apply_pending_entry(wait boolean DEFAULT false)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off   -- maintenance plans are small; JIT compile time would dominate
AS $$
DECLARE
	p @extschema@.pending_customers;
	written_here boolean;   -- false for an entry restored from a dump
	along bigint[];         -- entries applied with it
	touched text[];
	w @extschema@.watched_table;
	state text;
	message text;
BEGIN
	IF wait THEN
		SELECT * INTO p FROM @extschema@.pending_customers x
		 WHERE x.failed_at IS NULL ORDER BY x.pending_id LIMIT 1 FOR UPDATE;
	ELSE
		SELECT * INTO p FROM @extschema@.pending_customers x
		 WHERE x.failed_at IS NULL ORDER BY x.pending_id LIMIT 1 FOR UPDATE SKIP LOCKED;
	END IF;
	IF p.pending_id IS NULL THEN
		RETURN false;
	END IF;
	written_here := (SELECT x.xmin = pg_catalog.xid(x.xact) FROM @extschema@.pending_customers x
	                  WHERE x.pending_id = p.pending_id);
	PERFORM pg_catalog.set_config('tagscrm.acting_for', p.queued_by, true);
	-- The entries queued behind it for the same table by the same role (the
	-- single statements queued while a backfill waited, say), up to 1,000
	-- customers in all, are applied with it in one recompute: right for
	-- every kind of entry, since the table holds their rows by now, and one
	-- set-based pass instead of a transaction each.  If that fails, it is
	-- tried again alone.
	along := ARRAY(SELECT x.pending_id FROM @extschema@.pending_customers x
	                WHERE x.pending_id IN (
	                      SELECT y.pending_id
	                        FROM (SELECT y.pending_id, pg_catalog.sum(cardinality(y.customers)) OVER (ORDER BY y.pending_id) AS n
	                                FROM @extschema@.pending_customers y
	                               WHERE y.failed_at IS NULL AND y.source = p.source AND y.queued_by = p.queued_by
	                                 AND y.pending_id > p.pending_id
	                               ORDER BY y.pending_id LIMIT 1000) y
	                       WHERE y.n + cardinality(p.customers) <= 1000)
	                ORDER BY x.pending_id FOR UPDATE SKIP LOCKED);
	LOOP
		BEGIN
			-- lock order: the watched table, then the fact rows (as a writer of it)
			w := (SELECT x FROM @extschema@.watched_table x WHERE x.role = p.source);
			IF w.relid IS NOT NULL THEN
				EXECUTE format('LOCK TABLE %s IN ACCESS SHARE MODE', w.relid);
			END IF;
			touched := ARRAY(SELECT DISTINCT c FROM @extschema@.pending_customers x, unnest(x.customers) c
			                  WHERE (x.pending_id = p.pending_id OR x.pending_id = ANY (along)) AND c IS NOT NULL);
			PERFORM @extschema@.lock_facts_patiently(touched);
			-- after the locks: a recompute of these customers has committed by now
			IF cardinality(along) = 0 AND p.statement = 'INSERT' AND p.ats IS NOT NULL AND written_here
			   AND NOT EXISTS (SELECT FROM @extschema@.recompute_log r
			                    WHERE r.xact = p.xact OR pg_catalog.pg_visible_in_snapshot(p.xact, r.snap)) THEN
				touched := CASE p.source WHEN 'orders' THEN @extschema@.add_orders(p.customers, p.ats, p.details::numeric[])
				                         ELSE @extschema@.add_events(p.customers, p.ats, p.details) END;
			ELSE
				PERFORM @extschema@.recompute_facts(touched, p.source);
			END IF;
			PERFORM @extschema@.maintain(touched);
			DELETE FROM @extschema@.pending_customers x WHERE x.pending_id = p.pending_id OR x.pending_id = ANY (along);
			EXIT;
		EXCEPTION WHEN OTHERS THEN
			-- nothing of it was applied; it must not hold up the others
			IF cardinality(along) > 0 THEN
				along := '{}';   -- one of those taken along may be the cause
				CONTINUE;
			END IF;
			GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
			IF state IN ('40001', '40P01', '55P03') THEN
				-- a conflict with another transaction passes: the caller tries again
				PERFORM pg_catalog.set_config('tagscrm.acting_for', '', true);
				PERFORM pg_sleep(0.1);
				RETURN true;
			END IF;
			UPDATE @extschema@.pending_customers x
			   SET failed_at = pg_catalog.clock_timestamp(), failure = state || ': ' || message
			 WHERE x.pending_id = p.pending_id;
			RAISE WARNING 'tagscrm: queued statement % (% on %) could not be applied and is set aside: %',
				p.pending_id, p.statement, p.source, message
				USING HINT = 'See tagscrm.pending_changes; after mending the cause, SELECT tagscrm.apply_pending() retries it, and tagscrm.refresh(rebuild => true) covers it.';
			EXIT;
		END;
	END LOOP;
	-- a logged snapshot matters only while an insert visible in it is queued
	DELETE FROM @extschema@.recompute_log r
	 WHERE NOT EXISTS (SELECT FROM @extschema@.pending_customers x
	                    WHERE x.statement = 'INSERT' AND x.failed_at IS NULL
	                      AND (x.xact = r.xact OR pg_catalog.pg_visible_in_snapshot(x.xact, r.snap)));
	PERFORM pg_catalog.set_config('tagscrm.acting_for', '', true);
	RETURN true;
END
$$;
COMMENT ON FUNCTION @extschema@.apply_pending_entry(boolean) IS
	'Internal: applies the oldest queued bulk statement (setting it aside if it fails); false when none is left';

-- The admin's drain: every queued entry now, set-aside ones once more.  It
-- waits for the entries appliers hold, then takes the watched tables and
-- customer_fact the way the jobs do (lock_for_everyone), so that it cannot
-- deadlock with writers; they wait meanwhile.
CREATE FUNCTION @extschema@.apply_pending() RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
DECLARE
	applied bigint := 0;
BEGIN
	PERFORM FROM @extschema@.pending_customers x ORDER BY x.pending_id FOR UPDATE;
	PERFORM @extschema@.lock_for_everyone(breakpoints => false);
	UPDATE @extschema@.pending_customers x SET failed_at = NULL, failure = NULL WHERE x.failed_at IS NOT NULL;
	WHILE @extschema@.apply_pending_entry(wait => true) LOOP   -- one that fails again is set aside again
		applied := applied + 1;
	END LOOP;
	RETURN applied;
END
$$;
COMMENT ON FUNCTION @extschema@.apply_pending() IS
	'Applies every queued bulk statement now, set-aside ones included (writers wait meanwhile); returns how many were tried';
