
-- ---------------------------------------------------------------------------
-- jobs.sql: the jobs on top of the flow: the nightly refresh(), the frequent
-- sweep(), and scheduling them with pg_cron
-- ---------------------------------------------------------------------------

-- The nightly job: new RFM breakpoints and every customer's RFM segment
-- re-scored against them (the only population-relative model), then the
-- customers whose moment has come, as sweep() does.  all_models => true
-- re-evaluates every model and rule for everyone (after changing settings);
-- rebuild => true first rebuilds every fact from the watched tables (repairs
-- loads the triggers did not see, such as session_replication_role =
-- replica or pg_restore --disable-triggers) and implies all_models.
CREATE FUNCTION @extschema@.refresh(rebuild boolean DEFAULT false, quiet boolean DEFAULT false,
                                    all_models boolean DEFAULT false) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off   -- maintenance plans are small; JIT compile time would dominate
SET max_parallel_workers_per_gather = 0   -- the breakpoints aggregate runs faster serially on a few cores
AS $$
DECLARE
	customers bigint;
	old @extschema@.rfm_breakpoints := (SELECT r.breakpoints FROM @extschema@.rfm_state r);
	new @extschema@.rfm_breakpoints;
	moved text[];
BEGIN
	-- Bulk statements still queued are the applier's, which goes on after
	-- us (a job that applied them here would hold their locks while taking
	-- more, and writers would wait for all of them): we only make sure one
	-- runs.  A rebuild covers them: it drops the entries no applier holds;
	-- those it holds, and entries queued later, stay, and as the rebuild logs
	-- its snapshot they are applied by recomputing.
	PERFORM @extschema@.request_applier_if_queued();
	IF rebuild THEN
		DELETE FROM @extschema@.pending_customers p
		 WHERE p.pending_id IN (SELECT x.pending_id FROM @extschema@.pending_customers x FOR UPDATE SKIP LOCKED);
	END IF;
	IF rebuild OR all_models THEN
		customers := @extschema@.reevaluate(rebuild, quiet);
		PERFORM @extschema@.record_history(quiet);   -- the layers over time (docs/reports.md)
		RETURN customers;
	END IF;
	PERFORM @extschema@.lock_for_everyone(breakpoints => true);   -- writers wait while the population is re-scored
	PERFORM @extschema@.report_progress('refresh', 'computing RFM breakpoints', quiet);
	new := @extschema@.compute_breakpoints();
	PERFORM @extschema@.ensure_models();
	IF old IS NULL OR new IS NULL THEN
		customers := @extschema@.maintain_in_batches('refresh rfm', false, quiet, lock_rows => false, stages => 'rfm');
		PERFORM @extschema@.maintain_in_batches('refresh due', true, quiet, lock_rows => false);
	ELSE
		-- A segment is R, F and M each high or low against the population's
		-- basis, and every customer holds the segment of the old breakpoints
		-- (triggers and sweeps score against the stored ones): only customers
		-- lying between an old and a new basis value can move.
		SELECT array_agg(f.customer_id ORDER BY f.customer_id) INTO moved
		  FROM @extschema@.customer_fact f, @extschema@.settings s,
		       LATERAL (SELECT @extschema@.days_between(f.last_order_at, @extschema@.now()) AS recency) x,
		       LATERAL (SELECT CASE s.rfm_basis WHEN 'mean' THEN old.r_mean ELSE old.r_median END AS old_r,
		                       CASE s.rfm_basis WHEN 'mean' THEN new.r_mean ELSE new.r_median END AS new_r,
		                       CASE s.rfm_basis WHEN 'mean' THEN old.f_mean ELSE old.f_median END AS old_f,
		                       CASE s.rfm_basis WHEN 'mean' THEN new.f_mean ELSE new.f_median END AS new_f,
		                       CASE s.rfm_basis WHEN 'mean' THEN old.m_mean ELSE old.m_median END AS old_m,
		                       CASE s.rfm_basis WHEN 'mean' THEN new.m_mean ELSE new.m_median END AS new_m) b
		 WHERE f.order_count > 0 AND f.last_order_at IS NOT NULL
		   AND ((x.recency < b.old_r) <> (x.recency < b.new_r)
		        OR (f.order_count > b.old_f) <> (f.order_count > b.new_f)
		        OR (f.order_total > b.old_m) <> (f.order_total > b.new_m));
		PERFORM @extschema@.report_progress('refresh', format('%s customers lie between the old and new RFM basis',
		                                                      COALESCE(cardinality(moved), 0)), quiet);
		IF moved IS NOT NULL THEN
			PERFORM @extschema@.sync_models(moved, rfm_only => true);
		END IF;
		-- A lower recency basis brings forward the day a recent customer's R
		-- turns low: the sweep must come by then (a later basis only makes an
		-- early visit, which re-evaluates and stores the true moment).
		UPDATE @extschema@.customer_fact f
		   SET next_change_at = f.last_order_at + make_interval(secs => 86400 * ceil(b.new_r))
		  FROM (SELECT CASE s.rfm_basis WHEN 'mean' THEN new.r_mean ELSE new.r_median END AS new_r,
		               CASE s.rfm_basis WHEN 'mean' THEN old.r_mean ELSE old.r_median END AS old_r
		          FROM @extschema@.settings s) b
		 WHERE b.new_r < b.old_r AND f.order_count > 0 AND f.last_order_at IS NOT NULL
		   AND @extschema@.days_between(f.last_order_at, @extschema@.now()) < b.new_r
		   AND (f.next_change_at IS NULL
		        OR f.next_change_at > f.last_order_at + make_interval(secs => 86400 * ceil(b.new_r)));
		customers := (SELECT count(*) FROM @extschema@.customer_fact f WHERE f.order_count > 0);
		PERFORM @extschema@.maintain_in_batches('refresh due', true, quiet, lock_rows => false);
	END IF;
	PERFORM @extschema@.expire_tags();
	PERFORM @extschema@.record_history(quiet);   -- the layers over time (docs/reports.md)
	PERFORM @extschema@.report_progress('refresh', format('done: %s customers', customers), quiet);
	RETURN customers;
END
$$;
COMMENT ON FUNCTION @extschema@.refresh(boolean, boolean, boolean) IS
	'Recomputes RFM breakpoints and re-scores every RFM segment (all_models => true: every model and rule; rebuild => true: rebuilds the facts first); returns customers scored';

-- The frequent job: only customers whose tags may change with the passage of
-- time (their next_change_at has come), plus expired hand tags.
CREATE FUNCTION @extschema@.sweep(quiet boolean DEFAULT true) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off   -- maintenance plans are small; JIT compile time would dominate
AS $$
DECLARE
	customers bigint;
BEGIN
	PERFORM @extschema@.request_applier_if_queued();   -- normally none: one ran after each bulk commit
	customers := @extschema@.maintain_in_batches('sweep', true, quiet, lock_rows => true);
	PERFORM @extschema@.expire_tags();
	PERFORM @extschema@.segment_compact();   -- folds the tag sets' change logs (docs/segments.md)
	RETURN customers;
END
$$;
COMMENT ON FUNCTION @extschema@.sweep(boolean) IS
	'Re-evaluates only the customers whose tags may have changed with time; returns how many';

-- Schedules refresh() and sweep() with pg_cron (which must be installed in
-- this database); the jobs run as the calling role.
CREATE FUNCTION @extschema@.schedule(refresh_at text DEFAULT '15 3 * * *', sweep_every text DEFAULT '*/5 * * * *')
RETURNS TABLE (job text, schedule text, command text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_cron') THEN
		RAISE EXCEPTION 'pg_cron is not installed in this database'
			USING ERRCODE = '55000', HINT = 'CREATE EXTENSION pg_cron (it needs shared_preload_libraries = ''pg_cron''), or schedule SELECT tagscrm.refresh() and SELECT tagscrm.sweep() another way.';
	END IF;
	EXECUTE 'SELECT cron.schedule($1, $2, $3)' USING 'tagscrm-refresh', refresh_at, 'SELECT tagscrm.refresh(quiet => true)';
	EXECUTE 'SELECT cron.schedule($1, $2, $3)' USING 'tagscrm-sweep', sweep_every, 'SELECT tagscrm.sweep()';
	RETURN QUERY EXECUTE 'SELECT jobname::text, schedule::text, command::text FROM cron.job
	                       WHERE jobname IN (''tagscrm-refresh'', ''tagscrm-sweep'') ORDER BY jobname';
END
$$;
COMMENT ON FUNCTION @extschema@.schedule(text, text) IS
	'Schedules the nightly refresh() and the frequent sweep() with pg_cron';

CREATE FUNCTION @extschema@.unschedule() RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n bigint := 0;
BEGIN
	IF EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_cron') THEN
		EXECUTE 'SELECT count(cron.unschedule(jobid)) FROM cron.job WHERE jobname IN (''tagscrm-refresh'', ''tagscrm-sweep'')'
		   INTO n;
	END IF;
	RETURN n;
END
$$;
COMMENT ON FUNCTION @extschema@.unschedule() IS 'Removes the pg_cron jobs of schedule(); returns how many';
