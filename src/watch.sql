
-- ---------------------------------------------------------------------------
-- watch.sql: the user's own tables tagscrm reads (stage 1 of the flow)
--
-- watched_table records, per role (orders, events, customers, contacts), the
-- table and its column names; every later stage reads it.  The commands here
-- check and register a table, install the statement triggers of triggers.sql
-- (one per event: PG 15 allows only one event per transition-table trigger,
-- plus a TRUNCATE trigger), and backfill through maintain.sql.
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
	status_column  name,      -- orders: which rows count (NULL: all of them)
	counted_statuses text[],  -- ... the statuses of purchases
	refund_statuses text[],   -- ... and of refunds
	watched_by     text NOT NULL,
	watched_at     timestamptz NOT NULL,
	-- watched with backfill => false: its rows are not in the facts yet, and
	-- statements on watched orders and events are queued until a rebuild
	-- (refresh(rebuild => true)) puts them in while the writes go on
	backfill_pending boolean NOT NULL DEFAULT false
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.watched_table', '');
COMMENT ON TABLE @extschema@.watched_table IS
	'The user tables tagscrm watches (one per role) and their column names';

-- Raises unless the table has the given columns.
CREATE FUNCTION @extschema@.check_watchable_columns(rel regclass, columns name[]) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	col name;
BEGIN
	FOREACH col IN ARRAY columns LOOP
		IF col IS NULL THEN
			RAISE EXCEPTION 'column name must not be null' USING ERRCODE = '22004', HINT = 'Name every column.';
		END IF;
		IF NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = rel AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped) THEN
			RAISE EXCEPTION 'column "%" of table % does not exist', col, rel
				USING ERRCODE = '42703', HINT = 'Pass the names of existing columns.';
		END IF;
	END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.check_watchable_columns(regclass, name[]) IS
	'Internal: raises unless the table has the given columns';

-- Raises unless rel is a plain table the caller may put triggers on, with
-- the given columns; returns the type of the customer column.
CREATE FUNCTION @extschema@.check_watchable(rel regclass, role text, columns name[]) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	kind "char";
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
	PERFORM @extschema@.check_watchable_columns(rel, columns);
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
		WHEN 'numeric' THEN have IN ('numeric', 'integer', 'bigint', 'smallint', 'real', 'double precision')
		WHEN 'text' THEN (SELECT t.typcategory IN ('S', 'E') FROM pg_type t WHERE t.oid = have)
		ELSE true END;
	IF NOT ok THEN
		RAISE EXCEPTION 'column "%" of table % has type %, not a % type', col, rel, have,
			CASE wanted WHEN 'timestamptz' THEN 'date/time' WHEN 'text' THEN 'text' ELSE 'number' END
			USING ERRCODE = '42804',
			      HINT = CASE wanted WHEN 'timestamptz' THEN 'tagscrm reads timestamptz, timestamp (in settings.time_zone) and date columns.'
			                  WHEN 'text' THEN 'A status column must be of a text type (text, varchar, char) or an enum.'
			                  ELSE 'tagscrm reads numeric, integer and floating-point columns (money depends on the session''s lc_monetary: cast it to numeric in the table).' END;
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.check_column_type(regclass, name, text) IS
	'Internal: raises unless a column has a usable type';

-- SQL text converting a watched time column to timestamptz the same way in
-- every session: timestamp and date columns are read in settings.time_zone
-- (tz: the SQL of that zone, a parameter or a literal), not in the writing
-- session's TimeZone, so triggers and rebuilds agree.
CREATE FUNCTION @extschema@.time_sql(w @extschema@.watched_table, col name, tz text) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT CASE a.atttypid
                    WHEN 'pg_catalog.timestamp'::regtype THEN format('(%I AT TIME ZONE %s)', col, tz)
                    WHEN 'pg_catalog.date'::regtype THEN format('(%I::pg_catalog.timestamp AT TIME ZONE %s)', col, tz)
                    ELSE format('%I::pg_catalog.timestamptz', col) END
          FROM pg_attribute a WHERE a.attrelid = w.relid AND a.attname = col);
COMMENT ON FUNCTION @extschema@.time_sql(@extschema@.watched_table, name, text) IS
	'Internal: SQL text of a watched time column as timestamptz, timestamp and date read in settings.time_zone';

-- The SQL of a usable customer id (not empty, at most 256 characters: what
-- tagscrm.customer accepts); rows of other customers have no facts.
CREATE FUNCTION @extschema@.customer_ok_sql(w @extschema@.watched_table) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN format('(%1$I IS NOT NULL AND pg_catalog.btrim(%1$I::pg_catalog.text) <> '''' AND pg_catalog.length(%1$I::pg_catalog.text) <= 256)',
              w.customer_column);
COMMENT ON FUNCTION @extschema@.customer_ok_sql(@extschema@.watched_table) IS
	'Internal: SQL text of the condition that a watched row''s customer id is usable';

-- The SQL of what is wrong with a row of a watched table, as 'SQLSTATE:text'
-- naming the column, the value and the row's customer, or NULL for a row
-- tagscrm can use: a customer id that is empty or too long, a time that is
-- not finite, an amount or duration that is not a finite number, an event
-- kind or channel code too long to be a key, an attribute value that cannot
-- name a tag.  A statement that writes such a row is refused; a rebuild
-- leaves such rows out.
CREATE FUNCTION @extschema@.row_problem_sql(w @extschema@.watched_table, tz text) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	who text := format('pg_catalog.left(%I::pg_catalog.text, 40)', w.customer_column);
	checks text[] := ARRAY[
		format($c$WHEN %1$I IS NOT NULL AND pg_catalog.btrim(%1$I::pg_catalog.text) = '' THEN '22023:column %1$s is empty'$c$,
		       w.customer_column),
		format($c$WHEN pg_catalog.length(%1$I::pg_catalog.text) > 256 THEN pg_catalog.format('22001:column %1$s is %%s characters long (at most 256)', pg_catalog.length(%1$I::pg_catalog.text))$c$,
		       w.customer_column)];
	col name;
BEGIN
	FOREACH col IN ARRAY ARRAY[w.at_column, w.birth_date_column] LOOP
		CONTINUE WHEN col IS NULL;
		checks := checks || format($c$WHEN %1$I IS NOT NULL AND NOT pg_catalog.isfinite(%2$s) THEN pg_catalog.format('22008:column %1$s is %%s (customer %%s)', %1$I, %3$s)$c$,
		                           col, @extschema@.time_sql(w, col, tz), who);
	END LOOP;
	FOREACH col IN ARRAY ARRAY[w.amount_column, w.duration_column] LOOP
		CONTINUE WHEN col IS NULL;
		checks := checks || format($c$WHEN NOT (%1$I::pg_catalog.numeric BETWEEN -1e300 AND 1e300) THEN pg_catalog.format('22003:column %1$s is %%s, not a finite number (customer %%s)', %1$I, %2$s)$c$,
		                           col, who);
	END LOOP;
	FOREACH col IN ARRAY ARRAY[w.kind_column, w.channel_column] LOOP
		CONTINUE WHEN col IS NULL;
		checks := checks || format($c$WHEN pg_catalog.length(%1$I::pg_catalog.text) > 256 THEN pg_catalog.format('22001:column %1$s is %%s characters long, at most 256 (customer %%s)', pg_catalog.length(%1$I::pg_catalog.text), %2$s)$c$,
		                           col, who);
	END LOOP;
	-- an attribute value names a tag "<column>: <value>" (check_name's rules;
	-- the read runs as the table's owner, so in plain SQL)
	FOREACH col IN ARRAY COALESCE(w.attribute_columns, '{}') LOOP
		checks := checks || format($c$WHEN pg_catalog.length(pg_catalog.btrim(%1$I::pg_catalog.text)) > %2$s THEN pg_catalog.format('22001:column %1$s is %%s characters long, too long to name an attribute tag (customer %%s)', pg_catalog.length(pg_catalog.btrim(%1$I::pg_catalog.text)), %3$s) WHEN %1$I::pg_catalog.text ~ '[[:cntrl:]]' THEN pg_catalog.format('22023:column %1$s holds a control character, which no tag name may (customer %%s)', %3$s)$c$,
		                           col, 98 - length(col), who);
		IF getdatabaseencoding() = 'UTF8' THEN
			checks := checks || format($c$WHEN %1$I::pg_catalog.text ~ %2$L THEN pg_catalog.format('22023:column %1$s holds an invisible character, which no tag name may (customer %%s)', %3$s)$c$,
			                           col, @extschema@.invisible_chars(), who);
		END IF;
	END LOOP;
	RETURN 'CASE ' || array_to_string(checks, ' ') || ' END';
END
$$;
COMMENT ON FUNCTION @extschema@.row_problem_sql(@extschema@.watched_table, text) IS
	'Internal: SQL text of what makes a row of a watched table unusable (SQLSTATE:message), NULL for a usable row';

-- Which rows of a watched orders table count (watch_orders' condition): the
-- SQL of a row that counts at all (a purchase or a refund), of a purchase,
-- and of its value (a refund's amount, made negative).  A NULL status counts
-- as no status in the lists, so such a row is left out.  The statuses reach
-- the SQL only as quoted array literals (%L).  No condition: every row is a
-- purchase worth its amount, as before conditions existed.
CREATE FUNCTION @extschema@.counted_sql(w @extschema@.watched_table) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN w.status_column IS NULL THEN 'true'
            ELSE format('COALESCE(%I::pg_catalog.text = ANY (%L::pg_catalog.text[]), false)', w.status_column,
                        w.counted_statuses || COALESCE(w.refund_statuses, '{}')) END;
COMMENT ON FUNCTION @extschema@.counted_sql(@extschema@.watched_table) IS
	'Internal: SQL text of the condition that an order row counts (a purchase or a refund)';

CREATE FUNCTION @extschema@.purchase_sql(w @extschema@.watched_table) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN w.status_column IS NULL THEN 'true'
            ELSE format('COALESCE(%I::pg_catalog.text = ANY (%L::pg_catalog.text[]) AND NOT COALESCE(%I::pg_catalog.numeric < 0, false), false)',
                        w.status_column, w.counted_statuses, w.amount_column) END;
COMMENT ON FUNCTION @extschema@.purchase_sql(@extschema@.watched_table) IS
	'Internal: SQL text of the condition that an order row is a purchase (not a refund)';

CREATE FUNCTION @extschema@.order_value_sql(w @extschema@.watched_table) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN w.status_column IS NULL THEN format('%I::pg_catalog.numeric', w.amount_column)
            ELSE format('CASE WHEN %s THEN %2$I::pg_catalog.numeric ELSE -pg_catalog.abs(%2$I::pg_catalog.numeric) END',
                        @extschema@.purchase_sql(w), w.amount_column) END;
COMMENT ON FUNCTION @extschema@.order_value_sql(@extschema@.watched_table) IS
	'Internal: SQL text of what an order row adds to the order total (a refund subtracts its amount)';

-- Raises unless an order condition is usable: the status column exists, is
-- of a text type and the watching role may read it (check_read_rights, at
-- registration), the lists name non-empty values and none is in both.
CREATE FUNCTION @extschema@.check_order_condition(tbl regclass, status_column name, counted text[], refunds text[])
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	both_ text;
BEGIN
	IF status_column IS NULL THEN
		IF counted IS NOT NULL OR refunds IS NOT NULL THEN
			RAISE EXCEPTION 'counted_statuses and refund_statuses need a status_column'
				USING ERRCODE = '22023', HINT = 'Name the column holding the order''s status, e.g. status_column => ''status''.';
		END IF;
		RETURN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = tbl AND a.attname = status_column AND a.attnum > 0 AND NOT a.attisdropped) THEN
		RAISE EXCEPTION 'column "%" of table % does not exist', status_column, tbl
			USING ERRCODE = '42703', HINT = 'status_column names the column of the order''s status.';
	END IF;
	PERFORM @extschema@.check_column_type(tbl, status_column, 'text');
	IF counted IS NULL OR cardinality(counted) = 0 THEN
		RAISE EXCEPTION 'counted_statuses must name at least one status'
			USING ERRCODE = '22023', HINT = 'List the statuses of orders that count, e.g. counted_statuses => ARRAY[''paid'', ''shipped''].';
	END IF;
	IF EXISTS (SELECT FROM unnest(counted || COALESCE(refunds, '{}')) v WHERE v IS NULL OR btrim(v) = '') THEN
		RAISE EXCEPTION 'a status in counted_statuses or refund_statuses is null or empty'
			USING ERRCODE = '22023', HINT = 'Name each status by its exact, non-empty value.';
	END IF;
	SELECT min(v) INTO both_ FROM unnest(counted) v WHERE v = ANY (refunds);
	IF both_ IS NOT NULL THEN
		RAISE EXCEPTION 'status "%" is in both counted_statuses and refund_statuses', both_
			USING ERRCODE = '22023', HINT = 'An order is either a purchase or a refund: list each status once.';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.check_order_condition(regclass, name, text[], text[]) IS
	'Internal: raises unless watch_orders'' status condition is usable';

-- The columns of a watched table that tagscrm reads.
CREATE FUNCTION @extschema@.read_columns(w @extschema@.watched_table) RETURNS name[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN ARRAY(SELECT c FROM unnest(ARRAY[w.customer_column, w.at_column, w.amount_column, w.kind_column, w.object_column,
                                        w.duration_column, w.channel_column, w.birth_date_column, w.status_column]
                                  || w.attribute_columns) c
              WHERE c IS NOT NULL);
COMMENT ON FUNCTION @extschema@.read_columns(@extschema@.watched_table) IS
	'Internal: the columns of a watched table that tagscrm reads';

-- Raises unless tagscrm may read the watched table on behalf of the role
-- that watched it: the table is still a plain table, the role still exists
-- and may read every column tagscrm reads, and row-level security hides no
-- row from it (facts count every row).  The rows are read as the table's
-- owner (read_as_owner), so the owner must see every row too.  Run at watch
-- time and again before every read, since a table can change after it was
-- watched.
CREATE FUNCTION @extschema@.check_read_rights(w @extschema@.watched_table) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rel record;
	watcher record;
	col name;
BEGIN
	SELECT c.relkind, c.relrowsecurity, c.relforcerowsecurity, o.rolsuper OR o.rolbypassrls AS owner_bypasses, c.relowner
	  INTO rel
	  FROM pg_class c JOIN pg_roles o ON o.oid = c.relowner
	 WHERE c.oid = w.relid;
	IF rel.relkind IS DISTINCT FROM 'r'
	   OR EXISTS (SELECT FROM pg_inherits i WHERE i.inhrelid = w.relid OR i.inhparent = w.relid) THEN
		RAISE EXCEPTION 'tagscrm cannot read watched table %: it is no longer a plain table', w.relid
			USING ERRCODE = '0A000', HINT = format('Unwatch it with tagscrm.unwatch(%L).', w.relid::text);
	END IF;
	SELECT r.oid, r.rolsuper OR r.rolbypassrls AS bypasses INTO watcher FROM pg_roles r WHERE r.rolname = w.watched_by;
	IF watcher.oid IS NULL THEN
		RAISE EXCEPTION 'tagscrm cannot read watched table %: role "%", which watched it, no longer exists', w.relid, w.watched_by
			USING ERRCODE = '42704', HINT = 'Unwatch the table and watch it again as an existing role.';
	END IF;
	FOREACH col IN ARRAY @extschema@.read_columns(w) LOOP
		IF NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = w.relid AND a.attname = col
		                                            AND a.attnum > 0 AND NOT a.attisdropped) THEN
			RAISE EXCEPTION 'tagscrm cannot read column "%" of watched table %: it no longer exists', col, w.relid
				USING ERRCODE = '42703', HINT = 'Rename the column back, or unwatch the table and watch it again.';
		END IF;
		IF NOT has_column_privilege(watcher.oid, w.relid, col, 'SELECT') THEN
			RAISE EXCEPTION 'tagscrm cannot read column "%" of watched table %: role "%", which watches it, may not read it',
				col, w.relid, w.watched_by
				USING ERRCODE = '42501',
				      HINT = format('tagscrm reads only what the watching role may read: GRANT SELECT (%I) ON %s TO %I, or unwatch the table.',
				                    col, w.relid, w.watched_by);
		END IF;
	END LOOP;
	-- a column's type may have changed since: tagscrm reads these as times and numbers
	FOREACH col IN ARRAY ARRAY[w.at_column, w.birth_date_column] LOOP
		IF col IS NOT NULL THEN
			PERFORM @extschema@.check_column_type(w.relid, col, 'timestamptz');
		END IF;
	END LOOP;
	FOREACH col IN ARRAY ARRAY[w.amount_column, w.duration_column] LOOP
		IF col IS NOT NULL THEN
			PERFORM @extschema@.check_column_type(w.relid, col, 'numeric');
		END IF;
	END LOOP;
	IF w.status_column IS NOT NULL THEN
		PERFORM @extschema@.check_column_type(w.relid, w.status_column, 'text');
	END IF;
	IF rel.relrowsecurity AND NOT watcher.bypasses AND watcher.oid <> rel.relowner THEN
		RAISE EXCEPTION 'tagscrm cannot read watched table %: it has row-level security, which role "%", which watches it, does not bypass',
			w.relid, w.watched_by
			USING ERRCODE = '42501',
			      HINT = 'Facts count every row of a watched table: watch it as its owner or as a role with BYPASSRLS, or disable row-level security.';
	END IF;
	IF rel.relforcerowsecurity AND NOT rel.owner_bypasses THEN
		RAISE EXCEPTION 'tagscrm cannot read watched table %: it forces row-level security on its owner', w.relid
			USING ERRCODE = '0A000',
			      HINT = 'tagscrm reads a watched table as its owner and counts every row: ALTER TABLE ... NO FORCE ROW LEVEL SECURITY.';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.check_read_rights(@extschema@.watched_table) IS
	'Internal: raises unless the role that watched a table may still read what tagscrm reads of it';

-- Raises unless every row of a watched table can be used (a time, an
-- amount, a customer): one scan, as the table's owner.
CREATE FUNCTION @extschema@.check_rows(w @extschema@.watched_table) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	problem text;
BEGIN
	SELECT r.p INTO problem
	  FROM @extschema@.read_as_owner(w.relid, format('SELECT pg_catalog.min(%s) FROM %s', @extschema@.row_problem_sql(w, '$2'), w.relid),
	                                 NULL, (SELECT s.time_zone FROM @extschema@.settings s)) AS r(p text);
	IF problem IS NOT NULL THEN
		RAISE EXCEPTION 'tagscrm cannot watch %: a row of it cannot be used: %', w.relid, substr(problem, 7)
			USING ERRCODE = left(problem, 5),
			      HINT = 'tagscrm keeps facts from every row of a watched table: correct such rows first.';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.check_rows(@extschema@.watched_table) IS
	'Internal: raises unless tagscrm can use every row of a watched table';

-- Registers a table that check_watchable accepted: waits for its writers and
-- keeps new ones out until the backfill is done, checks the watching role's
-- rights, and installs the statement triggers (contacts only need inserts).
CREATE FUNCTION @extschema@.register_watch(w @extschema@.watched_table, logged jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	w.backfill_pending := COALESCE(w.backfill_pending, false);
	w.watched_by := @extschema@.acting_role();
	w.watched_at := @extschema@.now();
	EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', w.relid);
	INSERT INTO @extschema@.watched_table SELECT (w).*;
	PERFORM @extschema@.check_read_rights(w);
	-- a row already there that tagscrm cannot use is refused now, as any
	-- statement writing it later would be (without a backfill now, by the
	-- rebuild that backfills: the scan reads the whole table)
	IF NOT w.backfill_pending THEN
		PERFORM @extschema@.check_rows(w);
	END IF;
	EXECUTE format('CREATE TRIGGER tagscrm_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS tagscrm_new
	                FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.watch_trigger(%L)', w.relid, w.role);
	IF w.role <> 'contacts' THEN
		EXECUTE format('CREATE TRIGGER tagscrm_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS tagscrm_old NEW TABLE AS tagscrm_new
		                FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.watch_trigger(%L)', w.relid, w.role);
		EXECUTE format('CREATE TRIGGER tagscrm_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS tagscrm_old
		                FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.watch_trigger(%L)', w.relid, w.role);
		EXECUTE format('CREATE TRIGGER tagscrm_truncate AFTER TRUNCATE ON %s
		                FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.watch_trigger(%L)', w.relid, w.role);
	END IF;
	PERFORM @extschema@.log_library('watch', w.role, 'watch', NULL, jsonb_build_object('table', w.relid::text) || logged, NULL);
END
$$;
COMMENT ON FUNCTION @extschema@.register_watch(@extschema@.watched_table, jsonb) IS
	'Internal: registers a watched table, checks the watching role''s rights and installs its triggers';

-- Watching the same table again with another condition (or none) replaces
-- it and rebuilds every customer's facts.
CREATE FUNCTION @extschema@.watch_orders(tbl regclass, customer name, at name, amount name,
                                         status_column name DEFAULT NULL, counted_statuses text[] DEFAULT NULL,
                                         refund_statuses text[] DEFAULT NULL, backfill boolean DEFAULT true) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off   -- maintenance plans are small; JIT compile time would dominate
AS $$
DECLARE
	w @extschema@.watched_table;
	logged jsonb := jsonb_build_object('customer', customer, 'at', at, 'amount', amount, 'status_column', status_column,
	                                   'counted_statuses', counted_statuses, 'refund_statuses', refund_statuses,
	                                   'backfill', backfill);
	old @extschema@.watched_table;
BEGIN
	SELECT * INTO old FROM @extschema@.watched_table x WHERE x.role = 'orders' AND x.relid = tbl;
	IF old.relid IS NOT NULL THEN
		-- a new condition (or new columns) for the table already watched
		IF NOT has_table_privilege(@extschema@.acting_role(), tbl, 'TRIGGER') THEN
			RAISE EXCEPTION 'permission denied to watch table %', tbl
				USING ERRCODE = '42501', HINT = 'Only a role that may create triggers on the table can watch it.';
		END IF;
		PERFORM @extschema@.check_watchable_columns(tbl, ARRAY[customer, at, amount]);
	ELSE
		PERFORM @extschema@.check_watchable(tbl, 'orders', ARRAY[customer, at, amount]);
	END IF;
	PERFORM @extschema@.check_column_type(tbl, at, 'timestamptz');
	PERFORM @extschema@.check_column_type(tbl, amount, 'numeric');
	PERFORM @extschema@.check_order_condition(tbl, status_column, counted_statuses, refund_statuses);
	w.role := 'orders'; w.relid := tbl; w.customer_column := customer; w.at_column := at; w.amount_column := amount;
	w.status_column := status_column; w.counted_statuses := counted_statuses; w.refund_statuses := refund_statuses;
	w.backfill_pending := NOT backfill;
	IF backfill IS NULL THEN
		RAISE EXCEPTION 'backfill must be true or false' USING ERRCODE = '22004',
			HINT = 'true (the default) backfills now, under a lock; false leaves it to refresh(rebuild => true), while writes go on.';
	END IF;
	IF old.relid IS NOT NULL THEN
		EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', tbl);
		w.watched_by := @extschema@.acting_role();
		w.watched_at := @extschema@.now();
		UPDATE @extschema@.watched_table x SET customer_column = w.customer_column, at_column = w.at_column,
		       amount_column = w.amount_column, status_column = w.status_column, counted_statuses = w.counted_statuses,
		       refund_statuses = w.refund_statuses, watched_by = w.watched_by, watched_at = w.watched_at,
		       backfill_pending = x.backfill_pending OR w.backfill_pending
		 WHERE x.role = 'orders';
		PERFORM @extschema@.check_read_rights(w);
		PERFORM @extschema@.log_library('watch', 'orders', 'rewatch', to_jsonb(old), jsonb_build_object('table', tbl::text) || logged, NULL);
	ELSE
		PERFORM @extschema@.register_watch(w, logged);
	END IF;
	IF backfill THEN
		PERFORM @extschema@.reevaluate(rebuild => true, quiet => false);   -- the backfill
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.watch_orders(regclass, name, name, name, name, text[], text[], boolean) IS
	'Watches an orders table (optionally only the orders of some statuses, with refunds): facts, RFM, lifecycle, status and level tags stay current';

CREATE FUNCTION @extschema@.watch_events(tbl regclass, customer name, at name, kind name,
                                         object name DEFAULT NULL, duration name DEFAULT NULL,
                                         backfill boolean DEFAULT true) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off   -- maintenance plans are small; JIT compile time would dominate
AS $$
DECLARE
	w @extschema@.watched_table;
BEGIN
	PERFORM @extschema@.check_watchable(tbl, 'events', ARRAY[customer, at, kind]
	                                    || CASE WHEN object IS NULL THEN '{}'::name[] ELSE ARRAY[object] END
	                                    || CASE WHEN duration IS NULL THEN '{}'::name[] ELSE ARRAY[duration] END);
	PERFORM @extschema@.check_column_type(tbl, at, 'timestamptz');
	IF duration IS NOT NULL THEN
		PERFORM @extschema@.check_column_type(tbl, duration, 'numeric');
	END IF;
	w.role := 'events'; w.relid := tbl; w.customer_column := customer; w.at_column := at; w.kind_column := kind;
	w.object_column := object; w.duration_column := duration; w.backfill_pending := NOT backfill;
	IF backfill IS NULL THEN
		RAISE EXCEPTION 'backfill must be true or false' USING ERRCODE = '22004',
			HINT = 'true (the default) backfills now, under a lock; false leaves it to refresh(rebuild => true), while writes go on.';
	END IF;
	PERFORM @extschema@.register_watch(w, jsonb_build_object('customer', customer, 'at', at, 'kind', kind,
	                                                         'object', object, 'duration', duration, 'backfill', backfill));
	IF backfill THEN
		PERFORM @extschema@.reevaluate(rebuild => true, quiet => false);   -- the backfill
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.watch_events(regclass, name, name, name, name, name, boolean) IS
	'Watches a behaviour events table (kind, optional object and duration)';

CREATE FUNCTION @extschema@.watch_customers(tbl regclass, customer name, attributes name[] DEFAULT '{}',
                                            birth_date name DEFAULT NULL) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off   -- maintenance plans are small; JIT compile time would dominate
AS $$
DECLARE
	w @extschema@.watched_table;
BEGIN
	PERFORM @extschema@.check_watchable(tbl, 'customers', ARRAY[customer] || COALESCE(attributes, '{}')
	                                    || CASE WHEN birth_date IS NULL THEN '{}'::name[] ELSE ARRAY[birth_date] END);
	IF birth_date IS NOT NULL THEN
		PERFORM @extschema@.check_column_type(tbl, birth_date, 'timestamptz');
	END IF;
	w.role := 'customers'; w.relid := tbl; w.customer_column := customer;
	w.attribute_columns := COALESCE(attributes, '{}'); w.birth_date_column := birth_date;
	PERFORM @extschema@.register_watch(w, jsonb_build_object('customer', customer, 'attributes', attributes,
	                                                         'birth_date', birth_date));
	PERFORM @extschema@.reevaluate(rebuild => true, quiet => false);   -- the backfill
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
	w @extschema@.watched_table;
	customers text[];
	codes text[];
	ats timestamptz[];
BEGIN
	PERFORM @extschema@.check_watchable(tbl, 'contacts', ARRAY[customer, channel]
	                                    || CASE WHEN at IS NULL THEN '{}'::name[] ELSE ARRAY[at] END);
	IF at IS NOT NULL THEN
		PERFORM @extschema@.check_column_type(tbl, at, 'timestamptz');
	END IF;
	w.role := 'contacts'; w.relid := tbl; w.customer_column := customer; w.channel_column := channel; w.at_column := at;
	PERFORM @extschema@.register_watch(w, jsonb_build_object('customer', customer, 'channel', channel, 'at', at));
	-- the contacts already there get their channel tags now
	SELECT array_agg(r.c), array_agg(r.code), array_agg(r.at) INTO customers, codes, ats
	  FROM @extschema@.read_as_owner(tbl, format('SELECT %I::pg_catalog.text, %I::pg_catalog.text, %s FROM %s',
	                                            customer, channel,
	                                            CASE WHEN at IS NULL THEN 'NULL::pg_catalog.timestamptz'
	                                                 ELSE format('%I::pg_catalog.timestamptz', at) END, tbl),
	                                 NULL, NULL) AS r(c text, code text, at timestamptz);
	IF customers IS NOT NULL THEN
		PERFORM @extschema@.lock_facts(customers);
		PERFORM @extschema@.apply_contacts(customers, codes, ats);
	END IF;
	PERFORM @extschema@.reevaluate(rebuild => false, quiet => false);
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
	PERFORM @extschema@.reevaluate(rebuild => true, quiet => false);   -- the backfill
END
$$;
COMMENT ON FUNCTION @extschema@.unwatch(regclass) IS
	'Stops watching a table: drops the triggers tagscrm installed and recomputes facts without it';

-- A watched table that is dropped is forgotten (its triggers went with it);
-- its contribution to the facts goes at the next refresh(rebuild => true).
-- An event trigger runs for every role's DROP: as the extension owner (the
-- dropping role may not write watched_table), and it touches nothing but
-- the rows of the tables that statement dropped.
CREATE FUNCTION @extschema@.forget_dropped_tables() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
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
