
-- ---------------------------------------------------------------------------
-- maintain.sql: bringing customers up to date, stage after stage
--
-- Once their facts are current (facts.sql), maintain() brings a set of
-- customers' model tags (models.sql), then their rule tags (tag_rules.sql: rules
-- may read model tags) in line.  maintain_in_batches() does it for everyone, or
-- for the customers whose moment has come, in batches of ids; reevaluate() is
-- the full pass: facts rebuilt from the watched tables (optionally), new RFM
-- breakpoints, every customer evaluated.  Triggers, the applier, the watch
-- commands and the jobs call these; nothing here calls back up.
-- ---------------------------------------------------------------------------


-- The locks of a pass over everyone, in the one order every writer and job
-- takes them (so no two of them deadlock): the watched tables (ACCESS SHARE,
-- in role order; a writer holds its own table before any fact), then with
-- breakpoints the breakpoints row (a writer under REPEATABLE READ shares it
-- before its facts), then customer_fact in EXCLUSIVE mode, which waits for
-- the writers that hold fact rows and keeps new ones out until commit.
CREATE FUNCTION @extschema@.lock_for_everyone(breakpoints boolean) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rel regclass;
BEGIN
	FOR rel IN SELECT w.relid FROM @extschema@.watched_table w ORDER BY w.role LOOP
		EXECUTE format('LOCK TABLE %s IN ACCESS SHARE MODE', rel);
	END LOOP;
	IF breakpoints THEN
		PERFORM FROM @extschema@.rfm_state r FOR UPDATE;
	END IF;
	LOCK TABLE @extschema@.customer_fact IN EXCLUSIVE MODE;
END
$$;
COMMENT ON FUNCTION @extschema@.lock_for_everyone(boolean) IS
	'Internal: takes the locks of a pass over everyone in the order writers take theirs';

-- The one way a set of customers (NULL: everyone), whose facts are current
-- and whose fact rows the caller holds (lock_facts, or an exclusive lock on
-- customer_fact), gets its tags brought in line: models first, then rules,
-- which may read model tags.  Returns how many tag changes were made.
CREATE FUNCTION @extschema@.maintain(customers text[]) RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN @extschema@.sync_models(customers) + @extschema@.sync_rules(customers);
END
$$;
COMMENT ON FUNCTION @extschema@.maintain(text[]) IS
	'Internal: brings customers'' model tags, then rule tags, in line with their facts';

-- maintain() for every customer, or only those whose moment has come
-- (due_only: next_change_at or rule_next_change_at passed), in batches of
-- ids.  stages: 'all' (models and rules), 'rfm' (the RFM segment alone:
-- the nightly re-score against new breakpoints) or 'rules'.  lock_rows:
-- lock each batch's fact rows, skipping those another transaction holds (a
-- job must not wait for a writer while it holds other rows: that could
-- deadlock; a skipped customer stays due, and whoever holds it maintains it
-- or the next pass does); false when the caller holds customer_fact in
-- EXCLUSIVE mode (lock_for_everyone), which already keeps every writer out.
-- Returns the customers evaluated.
CREATE FUNCTION @extschema@.maintain_in_batches(job text, due_only boolean, quiet boolean, lock_rows boolean,
                                                stages text DEFAULT 'all') RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	batch text[];
	last_id text := '';
	done bigint := 0;
	total bigint;
	changed bigint := 0;
	at timestamptz := @extschema@.now();
BEGIN
	IF stages IS NULL OR stages NOT IN ('all', 'rfm', 'rules') THEN
		RAISE EXCEPTION 'unknown stages "%"', stages USING ERRCODE = '22023', HINT = 'Use all, rfm or rules.';
	END IF;
	SELECT count(*) INTO total FROM @extschema@.customer_fact f
	 WHERE NOT due_only OR f.next_change_at <= at OR f.rule_next_change_at <= at;
	LOOP
		SELECT array_agg(f.customer_id ORDER BY f.customer_id) INTO batch
		  FROM (SELECT f.customer_id FROM @extschema@.customer_fact f
		         WHERE f.customer_id > last_id
		           AND (NOT due_only OR f.next_change_at <= at OR f.rule_next_change_at <= at)
		         ORDER BY f.customer_id LIMIT 50000) f;
		EXIT WHEN batch IS NULL;
		last_id := batch[cardinality(batch)];
		IF lock_rows THEN
			batch := @extschema@.lock_free_facts(batch);
			CONTINUE WHEN batch IS NULL;
		END IF;
		changed := changed + CASE stages WHEN 'all' THEN @extschema@.maintain(batch)
		                                 WHEN 'rfm' THEN @extschema@.sync_models(batch, rfm_only => true)
		                                 ELSE @extschema@.sync_rules(batch) END;
		done := done + cardinality(batch);
		PERFORM @extschema@.report_progress(job, format('%s of %s customers evaluated, %s tag changes', done, total, changed), quiet);
	END LOOP;
	RETURN done;
END
$$;
COMMENT ON FUNCTION @extschema@.maintain_in_batches(text, boolean, boolean, boolean, text) IS
	'Internal: maintain() for all (or only due) customers in id batches';

-- The full pass: with rebuild, every fact is first rebuilt from the watched
-- tables (the backfill of a watch, a TRUNCATE, refresh(rebuild => true));
-- then new RFM breakpoints, the model tags, and every customer's models and
-- rules evaluated, and expired tags dropped.  Writers wait meanwhile.
-- Returns the customers evaluated.
CREATE FUNCTION @extschema@.reevaluate(rebuild boolean, quiet boolean) RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET jit = off   -- maintenance plans are small; JIT compile time would dominate
SET max_parallel_workers_per_gather = 0   -- the breakpoints aggregate runs faster serially on a few cores
AS $$
DECLARE
	customers bigint;
BEGIN
	PERFORM @extschema@.lock_for_everyone(breakpoints => true);   -- writers wait meanwhile
	IF rebuild THEN
		-- the rows of a table watched with backfill => false are checked now
		PERFORM @extschema@.check_rows(w) FROM @extschema@.watched_table w WHERE w.backfill_pending;
		PERFORM @extschema@.report_progress('refresh', 'rebuilding facts from the watched tables', quiet);
		PERFORM @extschema@.recompute_facts(NULL);
		-- every row is in the facts now: statements apply their own again
		-- from the commit on (apply_trigger)
		UPDATE @extschema@.watched_table w SET backfill_pending = false WHERE w.backfill_pending;
	END IF;
	PERFORM @extschema@.report_progress('refresh', 'computing RFM breakpoints', quiet);
	PERFORM @extschema@.compute_breakpoints();
	PERFORM @extschema@.ensure_models();
	PERFORM @extschema@.segment_conditions_start();   -- sets of segment conditions lost (a restore): the pass fills them
	customers := @extschema@.maintain_in_batches('refresh', false, quiet, lock_rows => false);
	PERFORM @extschema@.expire_tags();
	PERFORM @extschema@.report_progress('refresh', format('done: %s customers', customers), quiet);
	RETURN customers;
END
$$;
COMMENT ON FUNCTION @extschema@.reevaluate(boolean, boolean) IS
	'Internal: rebuilds facts (optionally), breakpoints and every customer''s tags under an exclusive lock';
