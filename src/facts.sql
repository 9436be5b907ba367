
-- ---------------------------------------------------------------------------
-- facts.sql: per-customer facts kept from the watched tables
--
-- Inserts are applied as deltas (INSERT ... ON CONFLICT DO UPDATE SET
-- n = n + EXCLUDED.n), which is exact under READ COMMITTED without further
-- locks.  Deletes and updates are not invertible for first/last times and
-- active days, so those customers are recomputed from the base tables, after
-- their fact rows are locked in id order, by statements that take a fresh
-- snapshot (a recompute from an older one loses concurrent inserts).  Lock
-- order everywhere: customer_fact, then customer_day / customer_event_fact,
-- then customer / customer_tag.
-- ---------------------------------------------------------------------------

CREATE TABLE @extschema@.customer_fact (
	customer_id     text PRIMARY KEY,
	first_order_at  timestamptz,
	last_order_at   timestamptz,
	order_count     bigint NOT NULL DEFAULT 0,
	order_total     numeric NOT NULL DEFAULT 0,
	first_event_at  timestamptz,
	last_event_at   timestamptz,
	event_count     bigint NOT NULL DEFAULT 0,
	in_customers    boolean NOT NULL DEFAULT false,  -- a row in the watched customer table
	attributes      jsonb,                           -- its watched attribute columns
	birth_date      date,
	next_change_at  timestamptz,                     -- when time alone may change a model tag
	rule_next_change_at timestamptz,                 -- ... or a rule tag
	-- The tag held for each model: a copy of customer_tag, kept by the
	-- writers of model tags (sync_models; retire_tag and merge_tags through
	-- copy_model_tags), so that the readers' one-row-per-customer view reads
	-- one table at the speed of a plain one.
	rfm_tag         integer,
	lifecycle_tag   integer,
	sales_stage_tag integer,
	status_tag      integer,
	level_tag       integer,
	loyalty_tag     integer,
	churn_risk_tag  integer
);
CREATE INDEX customer_fact_next_change_idx ON @extschema@.customer_fact (next_change_at);
CREATE INDEX customer_fact_rule_next_change_idx ON @extschema@.customer_fact (rule_next_change_at);
COMMENT ON TABLE @extschema@.customer_fact IS
	'Per-customer facts from the watched tables; next_change_at says when time alone may change a tag';

-- Orders and events per customer and calendar day (in settings.time_zone);
-- a day with either counts as an active day.  amount is the value of the
-- day's purchases (refunds not included): the churn models' spend is the
-- mean value of the repeat purchase days, the first day and same-day orders
-- merged as the fit merges them.  Kept with trailing zeros trimmed
-- (trim_scale), so that a delta and a recompute store the same text.
CREATE TABLE @extschema@.customer_day (
	customer_id text NOT NULL,
	day         date NOT NULL,
	orders      bigint NOT NULL DEFAULT 0,
	events      bigint NOT NULL DEFAULT 0,
	amount      numeric NOT NULL DEFAULT 0,
	PRIMARY KEY (customer_id, day)
);
COMMENT ON TABLE @extschema@.customer_day IS 'Orders and events per customer and day: active days, and the day''s purchase value';

CREATE TABLE @extschema@.customer_event_fact (
	customer_id text NOT NULL,
	kind        text NOT NULL,
	events      bigint NOT NULL,
	first_at    timestamptz,
	last_at     timestamptz,
	PRIMARY KEY (customer_id, kind)
);
COMMENT ON TABLE @extschema@.customer_event_fact IS 'Events per customer and kind: count, first and last';

-- Derived data: rebuilt by refresh(rebuild => true), so dumping it is optional;
-- it is dumped anyway so that a restored database is current at once.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.customer_fact', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.customer_day', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.customer_event_fact', '');

-- Snapshots of recomputes that ran while bulk inserts were queued: the
-- applier (pending.sql) applies an insert visible in one of them by
-- recomputing, not as a delta, since the facts already include it.  Not
-- dumped: transaction ids mean nothing in another cluster.
CREATE TABLE @extschema@.recompute_log (
	snap       pg_snapshot NOT NULL,
	xact       xid8 NOT NULL,        -- the recomputing transaction sees its own rows too
	logged_at  timestamptz NOT NULL
);
COMMENT ON TABLE @extschema@.recompute_log IS
	'Internal: snapshots of recomputes run while bulk inserts were queued';

CREATE FUNCTION @extschema@.log_recompute() RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	INSERT INTO @extschema@.recompute_log (snap, xact, logged_at)
	SELECT x.snap, x.xact, pg_catalog.clock_timestamp()
	  FROM (SELECT pg_catalog.pg_current_snapshot() AS snap, pg_catalog.pg_current_xact_id() AS xact) x
	 WHERE EXISTS (SELECT FROM @extschema@.pending_customers p
	                WHERE p.statement = 'INSERT'
	                  AND (p.xact = x.xact OR pg_catalog.pg_visible_in_snapshot(p.xact, x.snap)));
END;
COMMENT ON FUNCTION @extschema@.log_recompute() IS
	'Internal: called after a recompute; logs its snapshot if a queued insert is visible in it';

-- Registers fact rows for these customers and locks them in id order.
CREATE FUNCTION @extschema@.lock_facts(customers text[]) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	INSERT INTO @extschema@.customer_fact (customer_id)
	SELECT DISTINCT c FROM unnest(customers) c WHERE c IS NOT NULL ORDER BY 1
	ON CONFLICT DO NOTHING;
	PERFORM FROM @extschema@.customer_fact f
	  WHERE f.customer_id = ANY (customers)
	  ORDER BY f.customer_id
	  FOR UPDATE;
END
$$;
COMMENT ON FUNCTION @extschema@.lock_facts(text[]) IS
	'Internal: registers and locks fact rows in customer id order';

-- Locks the fact rows of these customers that no other transaction holds,
-- in id order, without waiting; returns the ones it locked.
CREATE FUNCTION @extschema@.lock_free_facts(customers text[]) RETURNS text[]
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT array_agg(x.customer_id ORDER BY x.customer_id)
	  FROM (SELECT f.customer_id FROM @extschema@.customer_fact f
	         WHERE f.customer_id = ANY (customers)
	         ORDER BY f.customer_id
	           FOR UPDATE SKIP LOCKED) x;
END;
COMMENT ON FUNCTION @extschema@.lock_free_facts(text[]) IS
	'Internal: locks the fact rows no other transaction holds, without waiting; returns their customers';

-- Delta for the days of inserted orders or events (counts: 'orders' or
-- 'events'; amounts: the orders' amounts, NULL for events); one static
-- statement in PL/pgSQL, so its plan is kept for the session (a SQL function
-- would be parsed and planned on every call).
CREATE FUNCTION @extschema@.add_days(customers text[], ats timestamptz[], amounts numeric[], counts text, tz text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	INSERT INTO @extschema@.customer_day AS d (customer_id, day, orders, events, amount)
	SELECT u.c, (u.a AT TIME ZONE tz)::date,
	       count(*) FILTER (WHERE counts = 'orders'), count(*) FILTER (WHERE counts = 'events'),
	       pg_catalog.trim_scale(COALESCE(sum(u.m) FILTER (WHERE counts = 'orders'), 0))
	  FROM unnest(customers, ats, amounts) AS u(c, a, m)
	 WHERE u.c IS NOT NULL AND u.a IS NOT NULL
	 GROUP BY 1, 2 ORDER BY 1, 2
	ON CONFLICT (customer_id, day) DO UPDATE
	   SET orders = d.orders + EXCLUDED.orders, events = d.events + EXCLUDED.events, amount = pg_catalog.trim_scale(d.amount + EXCLUDED.amount);
END
$$;
COMMENT ON FUNCTION @extschema@.add_days(text[], timestamptz[], numeric[], text, text) IS
	'Internal: applies inserted orders or events to the per-day counts as deltas';

-- Delta for inserted orders.  Returns the customers touched.
CREATE FUNCTION @extschema@.add_orders(customers text[], ats timestamptz[], amounts numeric[]) RETURNS text[]
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	tz text := (SELECT s.time_zone FROM @extschema@.settings s);
	touched text[];
BEGIN
	WITH per AS (
		SELECT c AS customer_id, min(a) AS first_at, max(a) AS last_at, count(*) AS n, COALESCE(sum(m), 0) AS total
		  FROM unnest(customers, ats, amounts) AS u(c, a, m)
		 WHERE c IS NOT NULL
		 GROUP BY c),
	upserted AS (
		INSERT INTO @extschema@.customer_fact AS f (customer_id, first_order_at, last_order_at, order_count, order_total)
		SELECT * FROM per ORDER BY customer_id
		ON CONFLICT (customer_id) DO UPDATE
		   SET first_order_at = LEAST(f.first_order_at, EXCLUDED.first_order_at),
		       last_order_at = GREATEST(f.last_order_at, EXCLUDED.last_order_at),
		       order_count = f.order_count + EXCLUDED.order_count,
		       order_total = f.order_total + EXCLUDED.order_total
		RETURNING f.customer_id)
	SELECT array_agg(customer_id) INTO touched FROM upserted;

	PERFORM @extschema@.add_days(customers, ats, amounts, 'orders', tz);
	RETURN touched;
END
$$;
COMMENT ON FUNCTION @extschema@.add_orders(text[], timestamptz[], numeric[]) IS
	'Internal: applies inserted orders to the facts as deltas';

-- Delta for inserted events.  Returns the customers touched.
CREATE FUNCTION @extschema@.add_events(customers text[], ats timestamptz[], kinds text[]) RETURNS text[]
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	tz text := (SELECT s.time_zone FROM @extschema@.settings s);
	touched text[];
BEGIN
	WITH per AS (
		SELECT c AS customer_id, min(a) AS first_at, max(a) AS last_at, count(*) AS n
		  FROM unnest(customers, ats) AS u(c, a)
		 WHERE c IS NOT NULL
		 GROUP BY c),
	upserted AS (
		INSERT INTO @extschema@.customer_fact AS f (customer_id, first_event_at, last_event_at, event_count)
		SELECT * FROM per ORDER BY customer_id
		ON CONFLICT (customer_id) DO UPDATE
		   SET first_event_at = LEAST(f.first_event_at, EXCLUDED.first_event_at),
		       last_event_at = GREATEST(f.last_event_at, EXCLUDED.last_event_at),
		       event_count = f.event_count + EXCLUDED.event_count
		RETURNING f.customer_id)
	SELECT array_agg(customer_id) INTO touched FROM upserted;

	INSERT INTO @extschema@.customer_event_fact AS e (customer_id, kind, events, first_at, last_at)
	SELECT c, COALESCE(k, ''), count(*), min(a), max(a)
	  FROM unnest(customers, ats, kinds) AS u(c, a, k)
	 WHERE c IS NOT NULL
	 GROUP BY 1, 2 ORDER BY 1, 2
	ON CONFLICT (customer_id, kind) DO UPDATE
	   SET events = e.events + EXCLUDED.events,
	       first_at = LEAST(e.first_at, EXCLUDED.first_at),
	       last_at = GREATEST(e.last_at, EXCLUDED.last_at);

	PERFORM @extschema@.add_days(customers, ats, NULL, 'events', tz);
	RETURN touched;
END
$$;
COMMENT ON FUNCTION @extschema@.add_events(text[], timestamptz[], text[]) IS
	'Internal: applies inserted events to the facts as deltas';

-- The predicate that keeps the rows of the given customers (all when NULL),
-- comparing in the customer column's own type so that its index serves; the
-- customer ids are the statement's parameter $1.
CREATE FUNCTION @extschema@.customers_filter(w @extschema@.watched_table, customers text[]) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN customers IS NULL THEN 'true'
            ELSE format('%I = ANY ($1::%s[])', w.customer_column,
                        (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
                          WHERE a.attrelid = w.relid AND a.attname = w.customer_column)) END;
COMMENT ON FUNCTION @extschema@.customers_filter(@extschema@.watched_table, text[]) IS
	'Internal: SQL text of the predicate selecting some customers'' rows of a watched table';

-- Recomputes the facts of the given customers (all of them when NULL) from
-- the watched tables: source 'orders' or 'events' recomputes only what comes
-- from that table (an update of orders leaves event facts alone).  The
-- caller holds their fact locks (lock_facts), or an exclusive lock on
-- customer_fact for all.  The watched tables are read as their owners
-- (read_as_owner, owner_read.c); only the rows read come back here.
CREATE FUNCTION @extschema@.recompute_facts(customers text[], source text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	o @extschema@.watched_table := (SELECT w FROM @extschema@.watched_table w WHERE w.role = 'orders');
	e @extschema@.watched_table := (SELECT w FROM @extschema@.watched_table w WHERE w.role = 'events');
	c @extschema@.watched_table := (SELECT w FROM @extschema@.watched_table w WHERE w.role = 'customers');
	tz text := (SELECT s.time_zone FROM @extschema@.settings s);
BEGIN
	IF customers IS NOT NULL THEN
		IF source IS NULL OR source = 'orders' THEN
			PERFORM @extschema@.recompute_order_facts(customers, o, tz);
		END IF;
		IF source IS NULL OR source = 'events' THEN
			PERFORM @extschema@.recompute_event_facts(customers, e, tz);
		END IF;
		DELETE FROM @extschema@.customer_day d
		 WHERE d.customer_id = ANY (customers) AND d.orders = 0 AND d.events = 0;
		IF source IS NULL AND c.relid IS NOT NULL THEN
			PERFORM @extschema@.recompute_attributes(customers);
		END IF;
		PERFORM @extschema@.log_recompute();   -- queued inserts these reads included are not deltas any more
		RETURN;
	END IF;

	-- everyone: from scratch
	UPDATE @extschema@.customer_fact f
	   SET first_order_at = NULL, last_order_at = NULL, order_count = 0, order_total = 0,
	       first_event_at = NULL, last_event_at = NULL, event_count = 0;
	DELETE FROM @extschema@.customer_day d;
	DELETE FROM @extschema@.customer_event_fact x;

	IF o.relid IS NOT NULL THEN
		PERFORM @extschema@.check_read_rights(o);
		INSERT INTO @extschema@.customer_fact AS f (customer_id, first_order_at, last_order_at, order_count, order_total)
		SELECT r.* FROM @extschema@.read_as_owner(o.relid, @extschema@.order_facts_sql(o, NULL), NULL, tz)
			AS r(c text, first_at timestamptz, last_at timestamptz, n bigint, total numeric)
		 ORDER BY 1
		ON CONFLICT (customer_id) DO UPDATE
		   SET first_order_at = EXCLUDED.first_order_at, last_order_at = EXCLUDED.last_order_at,
		       order_count = EXCLUDED.order_count, order_total = EXCLUDED.order_total;
	END IF;

	IF e.relid IS NOT NULL THEN
		PERFORM @extschema@.check_read_rights(e);
		INSERT INTO @extschema@.customer_event_fact (customer_id, kind, events, first_at, last_at)
		SELECT r.* FROM @extschema@.read_as_owner(e.relid, @extschema@.event_kinds_sql(e, NULL), NULL, tz)
			AS r(c text, kind text, n bigint, first_at timestamptz, last_at timestamptz)
		 ORDER BY 1, 2;
		INSERT INTO @extschema@.customer_fact AS f (customer_id, first_event_at, last_event_at, event_count)
		SELECT x.customer_id, min(x.first_at), max(x.last_at), sum(x.events)
		  FROM @extschema@.customer_event_fact x
		 GROUP BY 1 ORDER BY 1
		ON CONFLICT (customer_id) DO UPDATE
		   SET first_event_at = EXCLUDED.first_event_at, last_event_at = EXCLUDED.last_event_at,
		       event_count = EXCLUDED.event_count;
	END IF;

	-- The days of orders and of events in one pass into the emptied table,
	-- sorted, without upserts (writers are kept out: lock_for_everyone): an
	-- upsert of each event day probed an index full of the rows just deleted.
	IF o.relid IS NOT NULL AND e.relid IS NOT NULL THEN
		INSERT INTO @extschema@.customer_day (customer_id, day, orders, events, amount)
		SELECT COALESCE(od.c, ed.c), COALESCE(od.day, ed.day), COALESCE(od.n, 0), COALESCE(ed.n, 0), COALESCE(od.amount, 0)
		  FROM @extschema@.read_as_owner(o.relid, @extschema@.days_sql(o, NULL), NULL, tz)
		       AS od(c text, day date, n bigint, amount numeric)
		  FULL JOIN @extschema@.read_as_owner(e.relid, @extschema@.days_sql(e, NULL), NULL, tz)
		       AS ed(c text, day date, n bigint, amount numeric)
		    ON ed.c = od.c AND ed.day = od.day
		 ORDER BY 1, 2;
	ELSIF o.relid IS NOT NULL THEN
		INSERT INTO @extschema@.customer_day (customer_id, day, orders, amount)
		SELECT r.* FROM @extschema@.read_as_owner(o.relid, @extschema@.days_sql(o, NULL), NULL, tz)
			AS r(c text, day date, n bigint, amount numeric)
		 ORDER BY 1, 2;
	ELSIF e.relid IS NOT NULL THEN
		INSERT INTO @extschema@.customer_day (customer_id, day, events)
		SELECT r.c, r.day, r.n FROM @extschema@.read_as_owner(e.relid, @extschema@.days_sql(e, NULL), NULL, tz)
			AS r(c text, day date, n bigint, amount numeric)
		 ORDER BY 1, 2;
	END IF;

	IF c.relid IS NOT NULL THEN
		PERFORM @extschema@.recompute_attributes(customers);
	END IF;
	PERFORM @extschema@.log_recompute();
END
$$;
COMMENT ON FUNCTION @extschema@.recompute_facts(text[], text) IS
	'Internal: recomputes customers'' facts from the watched tables (NULL: everyone; source: orders or events only)';

-- The reads of a watched orders or events table that the recomputes share,
-- as SQL text for read_as_owner ($1: the customers, NULL for all; $2: the
-- time zone): the order facts per customer, rows per customer and day, and
-- (events) per customer and kind.  Rows tagscrm cannot use (row_problem_sql:
-- a trigger refuses them, but a load without triggers may have written
-- them) are left out, and so are customer ids it cannot use, and orders
-- whose status does not count (counted_sql); refunds count in the total only.
CREATE FUNCTION @extschema@.usable_rows_sql(w @extschema@.watched_table, customers text[]) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN format('%s WHERE %s AND %s AND (%s) IS NULL AND %s', w.relid, @extschema@.customer_ok_sql(w),
              @extschema@.customers_filter(w, customers), @extschema@.row_problem_sql(w, '$2'),
              @extschema@.counted_sql(w));
COMMENT ON FUNCTION @extschema@.usable_rows_sql(@extschema@.watched_table, text[]) IS
	'Internal: SQL text of the FROM and WHERE of the usable rows of some customers in a watched table';

CREATE FUNCTION @extschema@.order_facts_sql(w @extschema@.watched_table, customers text[]) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN format($q$
	SELECT %1$I::pg_catalog.text, min(%2$s) FILTER (WHERE %5$s), max(%2$s) FILTER (WHERE %5$s),
	       count(*) FILTER (WHERE %5$s), COALESCE(sum(%3$s), 0)
	  FROM %4$s GROUP BY 1$q$,
	w.customer_column, @extschema@.time_sql(w, w.at_column, '$2'), @extschema@.order_value_sql(w),
	@extschema@.usable_rows_sql(w, customers), @extschema@.purchase_sql(w));
COMMENT ON FUNCTION @extschema@.order_facts_sql(@extschema@.watched_table, text[]) IS
	'Internal: SQL text reading the order facts per customer of a watched orders table';

CREATE FUNCTION @extschema@.days_sql(w @extschema@.watched_table, customers text[]) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN format($q$
	SELECT %1$I::pg_catalog.text, (%2$s AT TIME ZONE $2)::pg_catalog.date, count(*), %5$s
	  FROM %3$s AND %2$s IS NOT NULL AND %4$s GROUP BY 1, 2$q$,
	w.customer_column, @extschema@.time_sql(w, w.at_column, '$2'), @extschema@.usable_rows_sql(w, customers),
	@extschema@.purchase_sql(w),
	CASE WHEN w.amount_column IS NULL THEN '0::pg_catalog.numeric'
	     ELSE format('pg_catalog.trim_scale(COALESCE(sum(%I::pg_catalog.numeric), 0))', w.amount_column) END);
COMMENT ON FUNCTION @extschema@.days_sql(@extschema@.watched_table, text[]) IS
	'Internal: SQL text reading rows (and, of orders, the purchase value) per customer and day of a watched table';

CREATE FUNCTION @extschema@.event_kinds_sql(w @extschema@.watched_table, customers text[]) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN format($q$
	SELECT %1$I::pg_catalog.text, COALESCE(%3$I::pg_catalog.text, ''), count(*), min(%2$s), max(%2$s)
	  FROM %4$s GROUP BY 1, 2$q$,
	w.customer_column, @extschema@.time_sql(w, w.at_column, '$2'), w.kind_column, @extschema@.usable_rows_sql(w, customers));
COMMENT ON FUNCTION @extschema@.event_kinds_sql(@extschema@.watched_table, text[]) IS
	'Internal: SQL text reading events per customer and kind of a watched table';

-- The order or event counts (counts: 'orders' or 'events', the column of
-- customer_day) per day of listed customers, recomputed from the watched
-- table w, with the purchase value of the day for orders, writing only the
-- days that differ (after a bulk insert, most of a customer's days are
-- unchanged).  Days left with no orders and no events are deleted by
-- recompute_facts.
CREATE FUNCTION @extschema@.recompute_days(customers text[], w @extschema@.watched_table, tz text, counts name)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	-- the value column goes with the order counts; events leave it alone
	amount text := CASE counts WHEN 'orders' THEN 'amount' END;
BEGIN
	IF w.relid IS NULL THEN
		EXECUTE format('UPDATE @extschema@.customer_day d SET %1$I = 0%2$s WHERE d.customer_id = ANY ($1) AND d.%1$I <> 0',
		               counts, CASE WHEN amount IS NOT NULL THEN ', amount = 0' ELSE '' END) USING customers;
		RETURN;
	END IF;
	EXECUTE format($q$
		WITH new AS (
			SELECT * FROM @extschema@.read_as_owner($3, $4, $1, $2) AS r(c text, day date, n bigint, m numeric)),
		old AS (
			SELECT d.customer_id AS c, d.day, d.%1$I AS n, %2$s AS m FROM @extschema@.customer_day d
			 WHERE d.customer_id = ANY ($1) AND d.%1$I <> 0)
		INSERT INTO @extschema@.customer_day AS d (customer_id, day, %1$I, amount)
		SELECT COALESCE(new.c, old.c), COALESCE(new.day, old.day), COALESCE(new.n, 0), COALESCE(new.m, 0)
		  FROM new FULL JOIN old ON old.c = new.c AND old.day = new.day
		 WHERE (new.n, new.m) IS DISTINCT FROM (old.n, old.m)
		 ORDER BY 1, 2
		ON CONFLICT (customer_id, day) DO UPDATE SET %1$I = EXCLUDED.%1$I%3$s$q$,
		counts, CASE WHEN amount IS NOT NULL THEN 'd.amount' ELSE '0::pg_catalog.numeric' END,
		CASE WHEN amount IS NOT NULL THEN ', amount = EXCLUDED.amount' ELSE '' END)
	USING customers, tz, w.relid, @extschema@.days_sql(w, customers);
END
$$;
COMMENT ON FUNCTION @extschema@.recompute_days(text[], @extschema@.watched_table, text, name) IS
	'Internal: recomputes listed customers'' order or event counts per day, writing only the days that differ';

-- The order facts and order days of listed customers (whose fact rows exist
-- and are locked), recomputed from the watched orders table, writing only
-- what differs.
CREATE FUNCTION @extschema@.recompute_order_facts(customers text[], o @extschema@.watched_table, tz text) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF o.relid IS NULL THEN
		PERFORM @extschema@.recompute_days(customers, o, tz, 'orders');
		UPDATE @extschema@.customer_fact f
		   SET first_order_at = NULL, last_order_at = NULL, order_count = 0, order_total = 0
		 WHERE f.customer_id = ANY (customers) AND (f.order_count <> 0 OR f.last_order_at IS NOT NULL);
		RETURN;
	END IF;
	PERFORM @extschema@.check_read_rights(o);
	PERFORM @extschema@.recompute_days(customers, o, tz, 'orders');
	WITH new AS (
		SELECT * FROM @extschema@.read_as_owner(o.relid, @extschema@.order_facts_sql(o, customers), customers, tz)
			AS r(c text, first_at timestamptz, last_at timestamptz, n bigint, total numeric))
	UPDATE @extschema@.customer_fact f
	   SET first_order_at = new.first_at, last_order_at = new.last_at,
	       order_count = COALESCE(new.n, 0), order_total = COALESCE(new.total, 0)
	  FROM unnest(customers) AS u(c) LEFT JOIN new USING (c)
	 WHERE f.customer_id = u.c
	   AND (f.first_order_at, f.last_order_at, f.order_count, f.order_total)
	       IS DISTINCT FROM (new.first_at, new.last_at, COALESCE(new.n, 0), COALESCE(new.total, 0));
END
$$;
COMMENT ON FUNCTION @extschema@.recompute_order_facts(text[], @extschema@.watched_table, text) IS
	'Internal: recomputes listed customers'' order facts and order days, writing only what differs';

-- The event facts and event days of listed customers (whose fact rows exist
-- and are locked), recomputed from the watched events table, writing only
-- what differs.
CREATE FUNCTION @extschema@.recompute_event_facts(customers text[], e @extschema@.watched_table, tz text) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF e.relid IS NULL THEN
		PERFORM @extschema@.recompute_days(customers, e, tz, 'events');
		DELETE FROM @extschema@.customer_event_fact x WHERE x.customer_id = ANY (customers);
	ELSE
		PERFORM @extschema@.check_read_rights(e);
		PERFORM @extschema@.recompute_days(customers, e, tz, 'events');
		WITH new AS (
			SELECT * FROM @extschema@.read_as_owner(e.relid, @extschema@.event_kinds_sql(e, customers), customers, tz)
				AS r(c text, kind text, n bigint, first_at timestamptz, last_at timestamptz)),
		gone AS (
			DELETE FROM @extschema@.customer_event_fact x
			 WHERE x.customer_id = ANY (customers)
			   AND NOT EXISTS (SELECT FROM new WHERE new.c = x.customer_id AND new.kind = x.kind))
		INSERT INTO @extschema@.customer_event_fact AS x (customer_id, kind, events, first_at, last_at)
		SELECT * FROM new ORDER BY 1, 2
		ON CONFLICT (customer_id, kind) DO UPDATE
		   SET events = EXCLUDED.events, first_at = EXCLUDED.first_at, last_at = EXCLUDED.last_at
		 WHERE (x.events, x.first_at, x.last_at) IS DISTINCT FROM (EXCLUDED.events, EXCLUDED.first_at, EXCLUDED.last_at);
	END IF;
	UPDATE @extschema@.customer_fact f
	   SET first_event_at = x.first_at, last_event_at = x.last_at, event_count = COALESCE(x.n, 0)
	  FROM (SELECT u.c, min(x.first_at) AS first_at, max(x.last_at) AS last_at, sum(x.events) AS n
	          FROM unnest(customers) AS u(c) LEFT JOIN @extschema@.customer_event_fact x ON x.customer_id = u.c
	         GROUP BY u.c) x
	 WHERE f.customer_id = x.c
	   AND (f.first_event_at, f.last_event_at, f.event_count) IS DISTINCT FROM (x.first_at, x.last_at, COALESCE(x.n, 0));
END
$$;
COMMENT ON FUNCTION @extschema@.recompute_event_facts(text[], @extschema@.watched_table, text) IS
	'Internal: recomputes listed customers'' event facts and event days, writing only what differs';

-- Reads the watched customer table's attributes for the given customers (all
-- when NULL) into customer_fact.
CREATE FUNCTION @extschema@.recompute_attributes(customers text[]) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c @extschema@.watched_table := (SELECT w FROM @extschema@.watched_table w WHERE w.role = 'customers');
BEGIN
	IF customers IS NULL THEN   -- two statements rather than an OR: see model_values
		UPDATE @extschema@.customer_fact f SET in_customers = false, attributes = NULL, birth_date = NULL
		 WHERE f.in_customers;
	ELSE
		UPDATE @extschema@.customer_fact f SET in_customers = false, attributes = NULL, birth_date = NULL
		 WHERE f.customer_id = ANY (customers) AND f.in_customers;
	END IF;
	IF c.relid IS NULL THEN
		RETURN;
	END IF;
	PERFORM @extschema@.check_read_rights(c);
	INSERT INTO @extschema@.customer_fact AS f (customer_id, in_customers, attributes, birth_date)
	SELECT DISTINCT ON (r.c) r.c, true, r.attributes, r.birth_date
	  FROM @extschema@.read_as_owner(c.relid, format($q$
		SELECT %1$I::pg_catalog.text, %2$s, %3$s FROM %4$s s WHERE %5$s AND %6$s AND (%7$s) IS NULL$q$,
		c.customer_column,
		CASE WHEN cardinality(c.attribute_columns) > 0
		     THEN 'pg_catalog.jsonb_build_object(' || (SELECT string_agg(format('%L, s.%I::pg_catalog.text', a, a), ', ')
		                                                FROM unnest(c.attribute_columns) a) || ')'
		     ELSE 'NULL::pg_catalog.jsonb' END,
		CASE WHEN c.birth_date_column IS NOT NULL THEN format('s.%I::pg_catalog.date', c.birth_date_column)
		     ELSE 'NULL::pg_catalog.date' END,
		c.relid, @extschema@.customer_ok_sql(c), @extschema@.customers_filter(c, customers),
		@extschema@.row_problem_sql(c, '$2')), customers, (SELECT s.time_zone FROM @extschema@.settings s))
		AS r(c text, attributes jsonb, birth_date date)
	 ORDER BY r.c
	ON CONFLICT (customer_id) DO UPDATE
	   SET in_customers = true, attributes = EXCLUDED.attributes, birth_date = EXCLUDED.birth_date;
END
$$;
COMMENT ON FUNCTION @extschema@.recompute_attributes(text[]) IS
	'Internal: reads customers'' attributes from the watched customer table';
