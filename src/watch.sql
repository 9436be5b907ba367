
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
	PERFORM @extschema@.reevaluate(rebuild => true, quiet => false);   -- the backfill
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
	PERFORM @extschema@.reevaluate(rebuild => true, quiet => false);   -- the backfill
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
