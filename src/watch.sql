
-- ---------------------------------------------------------------------------
-- watch.sql: pointing tagscrm at the user's own tables
--
-- watch_orders / watch_events / watch_customers / watch_contacts record the
-- table and its column names, backfill, and install statement-level triggers
-- with transition tables (one per event: PG 15 allows only one event per
-- transition-table trigger) plus a TRUNCATE trigger.  The trigger functions
-- are generic: they read the column names from watched_table and normalise
-- the transition table with one dynamic statement whose identifiers are
-- quoted with format(%I); nothing else typed by a user reaches SQL text.
-- ---------------------------------------------------------------------------

CREATE TABLE @extschema@.watched_table (
	role           text PRIMARY KEY CHECK (role IN ('orders', 'events', 'customers', 'contacts')),
	relid          regclass NOT NULL UNIQUE,
	customer_column name NOT NULL,
	at_column      name,
	amount_column  name,
	kind_column    name,
	object_column  name,
	duration_column name,
	channel_column name,
	attribute_columns name[],
	birth_date_column name,
	watched_by     text NOT NULL,
	watched_at     timestamptz NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.watched_table', '');
COMMENT ON TABLE @extschema@.watched_table IS
	'The user tables tagscrm watches (one per role) and their column names';

-- Raises unless rel is a plain table the caller may put triggers on, with
-- the given columns; returns the type of the customer column.
CREATE FUNCTION @extschema@.check_watchable(rel regclass, role text, columns name[]) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	kind "char";
	col name;
BEGIN
	IF rel IS NULL THEN
		RAISE EXCEPTION 'table must not be null' USING ERRCODE = '22004', HINT = 'Name the table to watch.';
	END IF;
	SELECT c.relkind INTO kind FROM pg_class c WHERE c.oid = rel;
	IF kind = 'p' OR EXISTS (SELECT FROM pg_inherits i WHERE i.inhrelid = rel OR i.inhparent = rel) THEN
		RAISE EXCEPTION 'table % is partitioned or part of an inheritance tree', rel
			USING ERRCODE = '0A000',
			      HINT = 'Statement triggers on a parent do not fire for DML run directly on a partition; watch a plain table, or a view-free staging table that feeds it.';
	END IF;
	IF kind <> 'r' THEN
		RAISE EXCEPTION '% is not a table', rel USING ERRCODE = '42809', HINT = 'Watch a plain table.';
	END IF;
	IF NOT has_table_privilege(@extschema@.acting_role(), rel, 'TRIGGER') THEN
		RAISE EXCEPTION 'permission denied to watch table %', rel
			USING ERRCODE = '42501', HINT = 'Only a role that may create triggers on the table can watch it.';
	END IF;
	IF EXISTS (SELECT FROM @extschema@.watched_table w WHERE w.role = check_watchable.role) THEN
		RAISE EXCEPTION 'table % is already watched for %',
			(SELECT w.relid::text FROM @extschema@.watched_table w WHERE w.role = check_watchable.role), role
			USING ERRCODE = '42710', HINT = format('Run tagscrm.unwatch(%L) first to watch another table.',
			                                       (SELECT w.relid::text FROM @extschema@.watched_table w WHERE w.role = check_watchable.role));
	END IF;
	IF EXISTS (SELECT FROM @extschema@.watched_table w WHERE w.relid = rel) THEN
		RAISE EXCEPTION 'table % is already watched', rel USING ERRCODE = '42710', HINT = 'Each table is watched in one role.';
	END IF;
	FOREACH col IN ARRAY columns LOOP
		IF col IS NULL THEN
			RAISE EXCEPTION 'column name must not be null' USING ERRCODE = '22004', HINT = 'Name every column.';
		END IF;
		IF NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = rel AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped) THEN
			RAISE EXCEPTION 'column "%" of table % does not exist', col, rel
				USING ERRCODE = '42703', HINT = 'Pass the names of existing columns.';
		END IF;
	END LOOP;
	RETURN (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a WHERE a.attrelid = rel AND a.attname = columns[1]);
END
$$;
COMMENT ON FUNCTION @extschema@.check_watchable(regclass, text, name[]) IS
	'Internal: raises unless the table can be watched with these columns';

-- Raises unless the column's values convert to the given type.
CREATE FUNCTION @extschema@.check_column_type(rel regclass, col name, wanted text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	have regtype := (SELECT a.atttypid::regtype FROM pg_attribute a WHERE a.attrelid = rel AND a.attname = col);
	ok boolean;
BEGIN
	ok := CASE wanted
		WHEN 'timestamptz' THEN have IN ('timestamptz', 'timestamp', 'date')
		WHEN 'numeric' THEN have IN ('numeric', 'integer', 'bigint', 'smallint', 'real', 'double precision', 'money')
		ELSE true END;
	IF NOT ok THEN
		RAISE EXCEPTION 'column "%" of table % has type %, not a % type', col, rel, have,
			CASE wanted WHEN 'timestamptz' THEN 'date/time' ELSE 'number' END
			USING ERRCODE = '42804', HINT = 'Point tagscrm at a column of the right type.';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.check_column_type(regclass, name, text) IS
	'Internal: raises unless a column has a usable type';

-- Installs the triggers of a watched table (contacts only need inserts).
CREATE FUNCTION @extschema@.install_triggers(rel regclass, fn text, role text, inserts_only boolean) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	EXECUTE format('CREATE TRIGGER tagscrm_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS tagscrm_new
	                FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.%I(%L)', rel, fn, role);
	IF inserts_only THEN
		RETURN;
	END IF;
	EXECUTE format('CREATE TRIGGER tagscrm_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS tagscrm_old NEW TABLE AS tagscrm_new
	                FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.%I(%L)', rel, fn, role);
	EXECUTE format('CREATE TRIGGER tagscrm_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS tagscrm_old
	                FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.%I(%L)', rel, fn, role);
	EXECUTE format('CREATE TRIGGER tagscrm_truncate AFTER TRUNCATE ON %s
	                FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.%I(%L)', rel, fn, role);
END
$$;
COMMENT ON FUNCTION @extschema@.install_triggers(regclass, text, text, boolean) IS
	'Internal: creates the insert, update, delete and truncate triggers on a watched table';

CREATE FUNCTION @extschema@.watched(role text) RETURNS @extschema@.watched_table
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT w FROM @extschema@.watched_table w WHERE w.role = watched.role);
COMMENT ON FUNCTION @extschema@.watched(text) IS 'Internal: the watched table of a role, or NULL';

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
-- customer_fact for all.
CREATE FUNCTION @extschema@.recompute_facts(customers text[], source text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	o @extschema@.watched_table := @extschema@.watched('orders');
	e @extschema@.watched_table := @extschema@.watched('events');
	c @extschema@.watched_table := @extschema@.watched('customers');
	tz text := (SELECT s.time_zone FROM @extschema@.settings s);
	only_these text := 'true';
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
		only_these := @extschema@.customers_filter(o, customers);
		EXECUTE format($q$
			INSERT INTO @extschema@.customer_fact AS f (customer_id, first_order_at, last_order_at, order_count, order_total)
			SELECT %1$I::text, min(%2$I::timestamptz), max(%2$I::timestamptz), count(*), COALESCE(sum(%3$I::numeric), 0)
			  FROM %4$s WHERE %1$I IS NOT NULL AND %5$s GROUP BY 1 ORDER BY 1
			ON CONFLICT (customer_id) DO UPDATE
			   SET first_order_at = EXCLUDED.first_order_at, last_order_at = EXCLUDED.last_order_at,
			       order_count = EXCLUDED.order_count, order_total = EXCLUDED.order_total$q$,
			o.customer_column, o.at_column, o.amount_column, o.relid, only_these) USING customers;
		EXECUTE format($q$
			INSERT INTO @extschema@.customer_day (customer_id, day, orders)
			SELECT %1$I::text, (%2$I::timestamptz AT TIME ZONE $2)::date, count(*)
			  FROM %3$s WHERE %1$I IS NOT NULL AND %2$I IS NOT NULL AND %4$s GROUP BY 1, 2$q$,
			o.customer_column, o.at_column, o.relid, only_these) USING customers, tz;
	END IF;

	IF e.relid IS NOT NULL THEN
		only_these := @extschema@.customers_filter(e, customers);
		EXECUTE format($q$
			INSERT INTO @extschema@.customer_event_fact (customer_id, kind, events, first_at, last_at)
			SELECT %1$I::text, COALESCE(%3$I::text, ''), count(*), min(%2$I::timestamptz), max(%2$I::timestamptz)
			  FROM %4$s WHERE %1$I IS NOT NULL AND %5$s GROUP BY 1, 2$q$,
			e.customer_column, e.at_column, e.kind_column, e.relid, only_these) USING customers;
		INSERT INTO @extschema@.customer_fact AS f (customer_id, first_event_at, last_event_at, event_count)
		SELECT x.customer_id, min(x.first_at), max(x.last_at), sum(x.events)
		  FROM @extschema@.customer_event_fact x
		 GROUP BY 1 ORDER BY 1
		ON CONFLICT (customer_id) DO UPDATE
		   SET first_event_at = EXCLUDED.first_event_at, last_event_at = EXCLUDED.last_event_at,
		       event_count = EXCLUDED.event_count;
		EXECUTE format($q$
			INSERT INTO @extschema@.customer_day AS d (customer_id, day, events)
			SELECT %1$I::text, (%2$I::timestamptz AT TIME ZONE $2)::date, count(*)
			  FROM %3$s WHERE %1$I IS NOT NULL AND %2$I IS NOT NULL AND %4$s GROUP BY 1, 2 ORDER BY 1, 2
			ON CONFLICT (customer_id, day) DO UPDATE SET events = EXCLUDED.events$q$,
			e.customer_column, e.at_column, e.relid, only_these) USING customers, tz;
	END IF;

	IF c.relid IS NOT NULL THEN
		PERFORM @extschema@.recompute_attributes(customers);
	END IF;
	PERFORM @extschema@.log_recompute();
END
$$;
COMMENT ON FUNCTION @extschema@.recompute_facts(text[], text) IS
	'Internal: recomputes customers'' facts from the watched tables (NULL: everyone; source: orders or events only)';

-- The order or event counts (counts: 'orders' or 'events', the column of
-- customer_day) per day of listed customers, recomputed from the watched
-- table w, writing only the days that differ (after a bulk insert, most of
-- a customer's days are unchanged).  Days left with no orders and no events
-- are deleted by recompute_facts.
CREATE FUNCTION @extschema@.recompute_days(customers text[], w @extschema@.watched_table, tz text, counts name)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF w.relid IS NULL THEN
		EXECUTE format('UPDATE @extschema@.customer_day d SET %1$I = 0 WHERE d.customer_id = ANY ($1) AND d.%1$I <> 0',
		               counts) USING customers;
		RETURN;
	END IF;
	EXECUTE format($q$
		WITH new AS (
			SELECT %1$I::text AS c, (%2$I::timestamptz AT TIME ZONE $2)::date AS day, count(*) AS n
			  FROM %3$s WHERE %1$I IS NOT NULL AND %2$I IS NOT NULL AND %4$s GROUP BY 1, 2),
		old AS (
			SELECT d.customer_id AS c, d.day, d.%5$I AS n FROM @extschema@.customer_day d
			 WHERE d.customer_id = ANY ($1) AND d.%5$I <> 0)
		INSERT INTO @extschema@.customer_day AS d (customer_id, day, %5$I)
		SELECT COALESCE(new.c, old.c), COALESCE(new.day, old.day), COALESCE(new.n, 0)
		  FROM new FULL JOIN old ON old.c = new.c AND old.day = new.day
		 WHERE new.n IS DISTINCT FROM old.n
		 ORDER BY 1, 2
		ON CONFLICT (customer_id, day) DO UPDATE SET %5$I = EXCLUDED.%5$I$q$,
		w.customer_column, w.at_column, w.relid, @extschema@.customers_filter(w, customers), counts)
	USING customers, tz;
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
	PERFORM @extschema@.recompute_days(customers, o, tz, 'orders');
	IF o.relid IS NULL THEN
		UPDATE @extschema@.customer_fact f
		   SET first_order_at = NULL, last_order_at = NULL, order_count = 0, order_total = 0
		 WHERE f.customer_id = ANY (customers) AND (f.order_count <> 0 OR f.last_order_at IS NOT NULL);
		RETURN;
	END IF;
	EXECUTE format($q$
		WITH new AS (
			SELECT %1$I::text AS c, min(%2$I::timestamptz) AS first_at, max(%2$I::timestamptz) AS last_at,
			       count(*) AS n, COALESCE(sum(%3$I::numeric), 0) AS total
			  FROM %4$s WHERE %1$I IS NOT NULL AND %5$s GROUP BY 1)
		UPDATE @extschema@.customer_fact f
		   SET first_order_at = new.first_at, last_order_at = new.last_at,
		       order_count = COALESCE(new.n, 0), order_total = COALESCE(new.total, 0)
		  FROM unnest($1::text[]) AS u(c) LEFT JOIN new USING (c)
		 WHERE f.customer_id = u.c
		   AND (f.first_order_at, f.last_order_at, f.order_count, f.order_total)
		       IS DISTINCT FROM (new.first_at, new.last_at, COALESCE(new.n, 0), COALESCE(new.total, 0))$q$,
		o.customer_column, o.at_column, o.amount_column, o.relid, @extschema@.customers_filter(o, customers))
	USING customers;
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
	PERFORM @extschema@.recompute_days(customers, e, tz, 'events');
	IF e.relid IS NULL THEN
		DELETE FROM @extschema@.customer_event_fact x WHERE x.customer_id = ANY (customers);
	ELSE
		EXECUTE format($q$
			WITH new AS (
				SELECT %1$I::text AS c, COALESCE(%3$I::text, '') AS kind, count(*) AS n,
				       min(%2$I::timestamptz) AS first_at, max(%2$I::timestamptz) AS last_at
				  FROM %4$s WHERE %1$I IS NOT NULL AND %5$s GROUP BY 1, 2),
			gone AS (
				DELETE FROM @extschema@.customer_event_fact x
				 WHERE x.customer_id = ANY ($1)
				   AND NOT EXISTS (SELECT FROM new WHERE new.c = x.customer_id AND new.kind = x.kind))
			INSERT INTO @extschema@.customer_event_fact AS x (customer_id, kind, events, first_at, last_at)
			SELECT * FROM new ORDER BY 1, 2
			ON CONFLICT (customer_id, kind) DO UPDATE
			   SET events = EXCLUDED.events, first_at = EXCLUDED.first_at, last_at = EXCLUDED.last_at
			 WHERE (x.events, x.first_at, x.last_at) IS DISTINCT FROM (EXCLUDED.events, EXCLUDED.first_at, EXCLUDED.last_at)$q$,
			e.customer_column, e.at_column, e.kind_column, e.relid, @extschema@.customers_filter(e, customers))
		USING customers;
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
	c @extschema@.watched_table := @extschema@.watched('customers');
	only_these text := 'true';
BEGIN
	IF customers IS NULL THEN   -- two statements rather than an OR: see recompute_facts
		UPDATE @extschema@.customer_fact f SET in_customers = false, attributes = NULL, birth_date = NULL
		 WHERE f.in_customers;
	ELSE
		UPDATE @extschema@.customer_fact f SET in_customers = false, attributes = NULL, birth_date = NULL
		 WHERE f.customer_id = ANY (customers) AND f.in_customers;
	END IF;
	IF c.relid IS NULL THEN
		RETURN;
	END IF;
	only_these := @extschema@.customers_filter(c, customers);
	EXECUTE format($q$
		INSERT INTO @extschema@.customer_fact AS f (customer_id, in_customers, attributes, birth_date)
		SELECT DISTINCT ON (1) %1$I::text, true, %2$s, %3$s
		  FROM %4$s s WHERE %1$I IS NOT NULL AND %5$s ORDER BY 1
		ON CONFLICT (customer_id) DO UPDATE
		   SET in_customers = true, attributes = EXCLUDED.attributes, birth_date = EXCLUDED.birth_date$q$,
		c.customer_column,
		CASE WHEN cardinality(c.attribute_columns) > 0
		     THEN 'jsonb_build_object(' || (SELECT string_agg(format('%L, s.%I::text', a, a), ', ')
		                                     FROM unnest(c.attribute_columns) a) || ')'
		     ELSE 'NULL::jsonb' END,
		CASE WHEN c.birth_date_column IS NOT NULL THEN format('s.%I::date', c.birth_date_column) ELSE 'NULL::date' END,
		c.relid, only_these) USING customers;
END
$$;
COMMENT ON FUNCTION @extschema@.recompute_attributes(text[]) IS
	'Internal: reads customers'' attributes from the watched customer table';

-- The customers named in a transition table: dynamic only in the column name.
CREATE FUNCTION @extschema@.changed_customers(w @extschema@.watched_table, transition text) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN format('SELECT array_agg(DISTINCT %I::text) FROM %I WHERE %I IS NOT NULL',
              w.customer_column, transition, w.customer_column);
COMMENT ON FUNCTION @extschema@.changed_customers(@extschema@.watched_table, text) IS
	'Internal: SQL text listing the customers of a transition table';

-- The customers whose rows differ between the OLD and NEW transition tables
-- of an UPDATE, looking only at the given columns, the customer column first
-- (a row found in both cancels out, so an UPDATE that changes nothing we
-- watch costs one comparison and no maintenance).
CREATE FUNCTION @extschema@.updated_customers(w @extschema@.watched_table, columns name[]) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN format('SELECT array_agg(DISTINCT c) FROM (
	(SELECT %1$s FROM tagscrm_old EXCEPT ALL SELECT %1$s FROM tagscrm_new)
	UNION ALL
	(SELECT %1$s FROM tagscrm_new EXCEPT ALL SELECT %1$s FROM tagscrm_old)) d(c) WHERE c IS NOT NULL',
	(SELECT string_agg(format('%I::text', col), ', ' ORDER BY i)
	   FROM unnest(columns) WITH ORDINALITY AS u(col, i) WHERE col IS NOT NULL));
COMMENT ON FUNCTION @extschema@.updated_customers(@extschema@.watched_table, name[]) IS
	'Internal: SQL text listing customers whose watched columns changed in an UPDATE';

-- Channel codes that named no channel tag: for the admin to add aliases.
CREATE TABLE @extschema@.unmatched_channel (
	code        text PRIMARY KEY,
	contacts    bigint NOT NULL,
	first_seen  timestamptz NOT NULL,
	last_seen   timestamptz NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.unmatched_channel', '');
COMMENT ON TABLE @extschema@.unmatched_channel IS
	'Channel codes of new contacts that match no tag of a channel group; add an alias and they will';

-- New contacts get the tag of the channel they came through: the code is a
-- tag name or alias in a group of kind channel.  Within one batch the latest
-- contact of a customer wins in an exclusive channel group.
CREATE FUNCTION @extschema@.apply_contacts(customers text[], codes text[], ats timestamptz[]) RETURNS text[]
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	who text[];
	which integer[];
BEGIN
	INSERT INTO @extschema@.unmatched_channel AS u (code, contacts, first_seen, last_seen)
	SELECT c.code, count(*), @extschema@.now(), @extschema@.now()
	  FROM unnest(codes) c(code)
	 WHERE c.code IS NOT NULL AND NOT EXISTS (
	       SELECT FROM @extschema@.tag_word w JOIN @extschema@.tag t USING (tag_id)
	         JOIN @extschema@.tag_group g ON g.group_id = t.group_id
	        WHERE w.word = lower(btrim(c.code)) AND g.kind = 'channel' AND t.status = 'active')
	 GROUP BY 1 ORDER BY 1
	ON CONFLICT (code) DO UPDATE SET contacts = u.contacts + EXCLUDED.contacts, last_seen = EXCLUDED.last_seen;

	SELECT array_agg(x.customer_id ORDER BY x.customer_id), array_agg(x.tag_id ORDER BY x.customer_id)
	  INTO who, which
	  FROM (SELECT DISTINCT ON (u.c, CASE WHEN g.exclusive THEN g.group_id END, CASE WHEN g.exclusive THEN 0 ELSE t.tag_id END)
	               u.c AS customer_id, t.tag_id
	          FROM unnest(customers, codes, ats) WITH ORDINALITY AS u(c, code, at, n)
	          JOIN @extschema@.tag_word w ON w.word = lower(btrim(u.code))
	          JOIN @extschema@.tag t ON t.tag_id = w.tag_id AND t.status = 'active'
	          JOIN @extschema@.tag_group g ON g.group_id = t.group_id AND g.kind = 'channel'
	         WHERE u.c IS NOT NULL
	         ORDER BY u.c, CASE WHEN g.exclusive THEN g.group_id END, CASE WHEN g.exclusive THEN 0 ELSE t.tag_id END,
	                  u.at DESC NULLS LAST, u.n DESC) x;
	IF who IS NOT NULL THEN
		PERFORM @extschema@.assign(who, which, 'channel', 'new contact', NULL);
	END IF;
	RETURN (SELECT array_agg(DISTINCT c) FROM unnest(customers) c WHERE c IS NOT NULL);
END
$$;
COMMENT ON FUNCTION @extschema@.apply_contacts(text[], text[], timestamptz[]) IS
	'Internal: gives new contacts their channel tag';

-- The trigger of a watched orders or events table (TG_ARGV[0] says which):
-- inserts are deltas; updates and deletes recompute the customers they
-- touch; truncate recomputes everyone; a statement of more than
-- settings.bulk_rows rows is queued for the background applier (pending.sql).
CREATE FUNCTION @extschema@.activity_trigger() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off   -- maintenance plans are small; JIT compile time would dominate
AS $$
DECLARE
	role text := TG_ARGV[0];
	w @extschema@.watched_table := @extschema@.watched(role);
	detail name := CASE role WHEN 'orders' THEN w.amount_column ELSE w.kind_column END;
	customers text[];
	ats timestamptz[];
	details text[];   -- amounts (as text, exact) or event kinds
	bulk_rows integer := (SELECT s.bulk_rows FROM @extschema@.settings s);
	bulk boolean;
BEGIN
	IF w.relid IS DISTINCT FROM TG_RELID THEN
		RETURN NULL;   -- unwatched meanwhile
	END IF;
	IF TG_OP = 'TRUNCATE' THEN
		PERFORM @extschema@.refresh(rebuild => true, quiet => true);
		RETURN NULL;
	END IF;
	IF TG_OP = 'INSERT' THEN
		EXECUTE format('SELECT array_agg(%I::text), array_agg(%I::timestamptz), array_agg(%I::text) FROM tagscrm_new',
		               w.customer_column, w.at_column, detail) INTO customers, ats, details;
		IF customers IS NULL THEN
			RETURN NULL;
		ELSIF cardinality(customers) > bulk_rows THEN   -- one element per row
			PERFORM @extschema@.defer_customers(role, TG_OP, customers, ats, details);
			RETURN NULL;
		END IF;
		customers := CASE role WHEN 'orders' THEN @extschema@.add_orders(customers, ats, details::numeric[])
		                       ELSE @extschema@.add_events(customers, ats, details) END;
	ELSE
		-- more than bulk_rows rows? (counts at most bulk_rows + 1; transition
		-- tables are visible only here, in the trigger function itself)
		IF bulk_rows IS NOT NULL THEN
			EXECUTE format('SELECT count(*) > $1 FROM (SELECT FROM %I LIMIT $1 + 1) r',
			               CASE TG_OP WHEN 'DELETE' THEN 'tagscrm_old' ELSE 'tagscrm_new' END)
			   INTO bulk USING bulk_rows;
		END IF;
		EXECUTE CASE TG_OP WHEN 'DELETE' THEN @extschema@.changed_customers(w, 'tagscrm_old')
		        ELSE @extschema@.updated_customers(w, ARRAY[w.customer_column, w.at_column, detail]) END
		   INTO customers;
		IF customers IS NULL THEN
			RETURN NULL;
		ELSIF bulk THEN
			PERFORM @extschema@.defer_customers(role, TG_OP, customers, NULL, NULL);
			RETURN NULL;
		END IF;
		PERFORM @extschema@.lock_facts(customers);
		PERFORM @extschema@.recompute_facts(customers, role);
	END IF;
	PERFORM @extschema@.sync_models(customers);
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.activity_trigger() IS
	'Internal: keeps facts and tags current from a watched orders or events table';

CREATE FUNCTION @extschema@.customers_trigger() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off   -- maintenance plans are small; JIT compile time would dominate
AS $$
DECLARE
	w @extschema@.watched_table := @extschema@.watched('customers');
	customers text[];
BEGIN
	IF w.relid IS DISTINCT FROM TG_RELID THEN
		RETURN NULL;
	END IF;
	IF TG_OP = 'TRUNCATE' THEN
		PERFORM @extschema@.refresh(rebuild => true, quiet => true);
		RETURN NULL;
	END IF;
	EXECUTE CASE TG_OP WHEN 'INSERT' THEN @extschema@.changed_customers(w, 'tagscrm_new')
	                   WHEN 'DELETE' THEN @extschema@.changed_customers(w, 'tagscrm_old')
	        ELSE @extschema@.updated_customers(w, w.customer_column || w.attribute_columns || w.birth_date_column) END
	   INTO customers;
	IF customers IS NULL THEN
		RETURN NULL;
	END IF;
	PERFORM @extschema@.lock_facts(customers);
	PERFORM @extschema@.recompute_attributes(customers);
	PERFORM @extschema@.sync_models(customers);
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.customers_trigger() IS 'Internal: keeps attribute tags current from a watched customer table';

CREATE FUNCTION @extschema@.contacts_trigger() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off   -- maintenance plans are small; JIT compile time would dominate
AS $$
DECLARE
	w @extschema@.watched_table := @extschema@.watched('contacts');
	customers text[];
	codes text[];
	ats timestamptz[];
BEGIN
	IF w.relid IS DISTINCT FROM TG_RELID THEN
		RETURN NULL;
	END IF;
	EXECUTE format('SELECT array_agg(%I::text), array_agg(%I::text), array_agg(%s) FROM tagscrm_new',
	               w.customer_column, w.channel_column,
	               CASE WHEN w.at_column IS NULL THEN 'NULL::timestamptz' ELSE format('%I::timestamptz', w.at_column) END)
	   INTO customers, codes, ats;
	IF customers IS NULL THEN
		RETURN NULL;
	END IF;
	PERFORM @extschema@.lock_facts(customers);
	customers := @extschema@.apply_contacts(customers, codes, ats);
	PERFORM @extschema@.sync_models(customers);
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.contacts_trigger() IS 'Internal: gives new contacts their channel tag';

-- ---------------------------------------------------------------- the API

CREATE FUNCTION @extschema@.watch_orders(tbl regclass, customer name, at name, amount name) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off   -- maintenance plans are small; JIT compile time would dominate
AS $$
BEGIN
	PERFORM @extschema@.check_watchable(tbl, 'orders', ARRAY[customer, at, amount]);
	PERFORM @extschema@.check_column_type(tbl, at, 'timestamptz');
	PERFORM @extschema@.check_column_type(tbl, amount, 'numeric');
	EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', tbl);   -- no writes until the backfill is done
	INSERT INTO @extschema@.watched_table (role, relid, customer_column, at_column, amount_column, watched_by, watched_at)
	VALUES ('orders', tbl, customer, at, amount, @extschema@.acting_role(), @extschema@.now());
	PERFORM @extschema@.install_triggers(tbl, 'activity_trigger', 'orders', false);
	PERFORM @extschema@.log_library('watch', 'orders', 'watch', NULL,
	                                jsonb_build_object('table', tbl::text, 'customer', customer, 'at', at, 'amount', amount), NULL);
	PERFORM @extschema@.refresh(rebuild => true);
END
$$;
COMMENT ON FUNCTION @extschema@.watch_orders(regclass, name, name, name) IS
	'Watches an orders table: facts, RFM, lifecycle, status and level tags stay current';

CREATE FUNCTION @extschema@.watch_events(tbl regclass, customer name, at name, kind name,
                                         object name DEFAULT NULL, duration name DEFAULT NULL) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off   -- maintenance plans are small; JIT compile time would dominate
AS $$
BEGIN
	PERFORM @extschema@.check_watchable(tbl, 'events', ARRAY[customer, at, kind]
	                                    || CASE WHEN object IS NULL THEN '{}'::name[] ELSE ARRAY[object] END
	                                    || CASE WHEN duration IS NULL THEN '{}'::name[] ELSE ARRAY[duration] END);
	PERFORM @extschema@.check_column_type(tbl, at, 'timestamptz');
	IF duration IS NOT NULL THEN
		PERFORM @extschema@.check_column_type(tbl, duration, 'numeric');
	END IF;
	EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', tbl);
	INSERT INTO @extschema@.watched_table (role, relid, customer_column, at_column, kind_column, object_column,
	                                       duration_column, watched_by, watched_at)
	VALUES ('events', tbl, customer, at, kind, object, duration, @extschema@.acting_role(), @extschema@.now());
	PERFORM @extschema@.install_triggers(tbl, 'activity_trigger', 'events', false);
	PERFORM @extschema@.log_library('watch', 'events', 'watch', NULL,
	                                jsonb_build_object('table', tbl::text, 'customer', customer, 'at', at, 'kind', kind,
	                                                   'object', object, 'duration', duration), NULL);
	PERFORM @extschema@.refresh(rebuild => true);
END
$$;
COMMENT ON FUNCTION @extschema@.watch_events(regclass, name, name, name, name, name) IS
	'Watches a behaviour events table (kind, optional object and duration)';

CREATE FUNCTION @extschema@.watch_customers(tbl regclass, customer name, attributes name[] DEFAULT '{}',
                                            birth_date name DEFAULT NULL) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off   -- maintenance plans are small; JIT compile time would dominate
AS $$
BEGIN
	PERFORM @extschema@.check_watchable(tbl, 'customers', ARRAY[customer] || COALESCE(attributes, '{}')
	                                    || CASE WHEN birth_date IS NULL THEN '{}'::name[] ELSE ARRAY[birth_date] END);
	IF birth_date IS NOT NULL THEN
		PERFORM @extschema@.check_column_type(tbl, birth_date, 'timestamptz');
	END IF;
	EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', tbl);
	INSERT INTO @extschema@.watched_table (role, relid, customer_column, attribute_columns, birth_date_column,
	                                       watched_by, watched_at)
	VALUES ('customers', tbl, customer, COALESCE(attributes, '{}'), birth_date, @extschema@.acting_role(), @extschema@.now());
	PERFORM @extschema@.install_triggers(tbl, 'customers_trigger', 'customers', false);
	PERFORM @extschema@.log_library('watch', 'customers', 'watch', NULL,
	                                jsonb_build_object('table', tbl::text, 'customer', customer, 'attributes', attributes,
	                                                   'birth_date', birth_date), NULL);
	PERFORM @extschema@.refresh(rebuild => true);
END
$$;
COMMENT ON FUNCTION @extschema@.watch_customers(regclass, name, name[], name) IS
	'Watches the customer table: chosen columns become attribute tags, a birth date an age band';

CREATE FUNCTION @extschema@.watch_contacts(tbl regclass, customer name, channel name, at name DEFAULT NULL) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off   -- maintenance plans are small; JIT compile time would dominate
AS $$
DECLARE
	customers text[];
	codes text[];
	ats timestamptz[];
BEGIN
	PERFORM @extschema@.check_watchable(tbl, 'contacts', ARRAY[customer, channel]
	                                    || CASE WHEN at IS NULL THEN '{}'::name[] ELSE ARRAY[at] END);
	IF at IS NOT NULL THEN
		PERFORM @extschema@.check_column_type(tbl, at, 'timestamptz');
	END IF;
	EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', tbl);
	INSERT INTO @extschema@.watched_table (role, relid, customer_column, channel_column, at_column, watched_by, watched_at)
	VALUES ('contacts', tbl, customer, channel, at, @extschema@.acting_role(), @extschema@.now());
	PERFORM @extschema@.install_triggers(tbl, 'contacts_trigger', 'contacts', true);
	PERFORM @extschema@.log_library('watch', 'contacts', 'watch', NULL,
	                                jsonb_build_object('table', tbl::text, 'customer', customer, 'channel', channel, 'at', at), NULL);
	-- the contacts already there get their channel tags now
	EXECUTE format('SELECT array_agg(%I::text), array_agg(%I::text), array_agg(%s) FROM %s',
	               customer, channel, CASE WHEN at IS NULL THEN 'NULL::timestamptz' ELSE format('%I::timestamptz', at) END, tbl)
	   INTO customers, codes, ats;
	IF customers IS NOT NULL THEN
		PERFORM @extschema@.lock_facts(customers);
		PERFORM @extschema@.apply_contacts(customers, codes, ats);
	END IF;
	PERFORM @extschema@.refresh(all_models => true);
END
$$;
COMMENT ON FUNCTION @extschema@.watch_contacts(regclass, name, name, name) IS
	'Watches new contacts: each gets the tag of the channel code it came through';

-- Stops watching a table: removes its triggers and registry row, then
-- recomputes everyone's facts without it.
CREATE FUNCTION @extschema@.unwatch(tbl regclass) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off   -- maintenance plans are small; JIT compile time would dominate
AS $$
DECLARE
	w @extschema@.watched_table;
	trig text;
BEGIN
	SELECT * INTO w FROM @extschema@.watched_table x WHERE x.relid = tbl;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'table % is not watched', tbl
			USING ERRCODE = '42704', HINT = 'See tagscrm.watched_table for the watched tables.';
	END IF;
	IF NOT has_table_privilege(@extschema@.acting_role(), tbl, 'TRIGGER') THEN
		RAISE EXCEPTION 'permission denied to unwatch table %', tbl USING ERRCODE = '42501',
			HINT = 'Only a role that may create triggers on the table can unwatch it.';
	END IF;
	FOREACH trig IN ARRAY ARRAY['tagscrm_insert', 'tagscrm_update', 'tagscrm_delete', 'tagscrm_truncate'] LOOP
		EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', trig, tbl);
	END LOOP;
	DELETE FROM @extschema@.watched_table x WHERE x.relid = tbl;
	PERFORM @extschema@.log_library('watch', w.role, 'unwatch', jsonb_build_object('table', tbl::text), NULL, NULL);
	PERFORM @extschema@.refresh(rebuild => true);
END
$$;
COMMENT ON FUNCTION @extschema@.unwatch(regclass) IS
	'Stops watching a table: drops the triggers tagscrm installed and recomputes facts without it';

-- A watched table that is dropped is forgotten (its triggers went with it);
-- its contribution to the facts goes at the next refresh(rebuild => true).
CREATE FUNCTION @extschema@.forget_dropped_tables() RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	DELETE FROM @extschema@.watched_table w
	 WHERE w.relid::oid IN (SELECT d.objid FROM pg_event_trigger_dropped_objects() d WHERE d.object_type = 'table');
END
$$;
COMMENT ON FUNCTION @extschema@.forget_dropped_tables() IS 'Internal: unregisters watched tables that are dropped';
CREATE EVENT TRIGGER tagscrm_forget_dropped_tables ON sql_drop
	WHEN TAG IN ('DROP TABLE', 'DROP SCHEMA', 'DROP OWNED')
	EXECUTE FUNCTION @extschema@.forget_dropped_tables();
