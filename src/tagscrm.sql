-- tagscrm install script, generated from src/*.sql (see SQL_PARTS in the Makefile).
-- Written as if search_path were hostile: every name is schema-qualified and
-- every SQL/PL function pins search_path.

\echo Use "CREATE EXTENSION tagscrm" to load this file. \quit

-- Refuse a schema that somebody else prepared for us, or may still add to:
-- another role's object there (an overload of one of our functions, say)
-- could capture calls meant for ours (docs/security.md).  CREATE EXTENSION
-- makes the schema itself when it is missing: owned by the installing role,
-- with no grants and nothing in it.
DO $guard$
DECLARE
	s record;
	stranger pg_catalog.text;
BEGIN
	SELECT n.oid, n.nspowner, n.nspacl INTO s
	  FROM pg_catalog.pg_namespace n
	 WHERE n.nspname OPERATOR(pg_catalog.=) 'tagscrm';
	IF s.nspowner OPERATOR(pg_catalog.<>) (SELECT r.oid FROM pg_catalog.pg_roles r
	                                        WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER) THEN
		RAISE EXCEPTION 'schema "tagscrm" already exists and is owned by role "%"',
			pg_catalog.pg_get_userbyid(s.nspowner)
			USING ERRCODE = '42501',
			      HINT = 'Drop that schema, or have its owner install the extension, then run CREATE EXTENSION tagscrm again.';
	END IF;
	SELECT CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(a.grantee) END
	  INTO stranger
	  FROM pg_catalog.aclexplode(s.nspacl) a
	 WHERE a.privilege_type OPERATOR(pg_catalog.=) 'CREATE' AND a.grantee OPERATOR(pg_catalog.<>) s.nspowner
	 LIMIT 1;
	IF stranger IS NOT NULL THEN
		RAISE EXCEPTION 'schema "tagscrm" already exists and role "%" may create objects in it', stranger
			USING ERRCODE = '42501',
			      HINT = 'Revoke CREATE on the schema from every role but its owner (or drop it), then run CREATE EXTENSION tagscrm again.';
	END IF;
	SELECT pg_catalog.pg_get_userbyid(o.owner) INTO stranger
	  FROM (SELECT c.relowner AS owner FROM pg_catalog.pg_class c WHERE c.relnamespace OPERATOR(pg_catalog.=) s.oid
	        UNION ALL SELECT p.proowner FROM pg_catalog.pg_proc p WHERE p.pronamespace OPERATOR(pg_catalog.=) s.oid
	        UNION ALL SELECT t.typowner FROM pg_catalog.pg_type t WHERE t.typnamespace OPERATOR(pg_catalog.=) s.oid
	        UNION ALL SELECT o.oprowner FROM pg_catalog.pg_operator o WHERE o.oprnamespace OPERATOR(pg_catalog.=) s.oid) o
	 WHERE o.owner OPERATOR(pg_catalog.<>) s.nspowner
	 LIMIT 1;
	IF stranger IS NOT NULL THEN
		RAISE EXCEPTION 'schema "tagscrm" already holds objects of role "%"', stranger
			USING ERRCODE = '42501',
			      HINT = 'Install tagscrm into a new schema: drop that one (or move its objects), then run CREATE EXTENSION tagscrm again.';
	END IF;
END
$guard$;

-- The three roles of the permission model.  Roles are cluster-wide, so a
-- second database reuses them; DROP EXTENSION leaves them in place.
DO $roles$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'tagscrm_reader') THEN
		CREATE ROLE tagscrm_reader NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'tagscrm_operator') THEN
		CREATE ROLE tagscrm_operator NOLOGIN IN ROLE tagscrm_reader;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'tagscrm_admin') THEN
		CREATE ROLE tagscrm_admin NOLOGIN IN ROLE tagscrm_operator;
	END IF;
END
$roles$;

-- the clock and the acting role (session.c)

-- session.c
CREATE FUNCTION @extschema@.now() RETURNS pg_catalog.timestamptz
	AS 'MODULE_PATHNAME', 'tagscrm_now'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;  -- stable: depends on tagscrm.clock_override
COMMENT ON FUNCTION @extschema@.now() IS
	'The time tagscrm decides at: the transaction start, or tagscrm.clock_override when set';

CREATE FUNCTION @extschema@.acting_role() RETURNS pg_catalog.text
	AS 'MODULE_PATHNAME', 'tagscrm_acting_role'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;  -- stable: SET ROLE changes it
COMMENT ON FUNCTION @extschema@.acting_role() IS
	'The role the caller acts as (SET ROLE aware, unaffected by SECURITY DEFINER); recorded in history';

-- Elapsed whole days (24 h periods) between two moments: immune to DST.
-- In C (session.c): the models call it several times per customer.
CREATE FUNCTION @extschema@.days_between(since timestamptz, until timestamptz) RETURNS integer
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'tagscrm_days_between';
COMMENT ON FUNCTION @extschema@.days_between(timestamptz, timestamptz) IS
	'Whole elapsed days (periods of 24 hours) from since to until';

-- One row tables (settings, rfm_state) are dumped by pg_dump, and restoring
-- one inserts a row where CREATE EXTENSION already put the default one: an
-- insert into such a table therefore replaces its row.
CREATE FUNCTION @extschema@.replace_singleton() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	EXECUTE format('DELETE FROM %I.%I', TG_TABLE_SCHEMA, TG_TABLE_NAME);
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.replace_singleton() IS 'Internal: an insert into a one-row table replaces its row';

-- Says where a long job is: a NOTICE for the client, and application_name
-- for anyone watching pg_stat_activity.
CREATE FUNCTION @extschema@.report_progress(job text, step text, quiet boolean) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM set_config('application_name', left(format('tagscrm %s: %s', job, step), 63), true);
	IF NOT quiet THEN
		RAISE NOTICE 'tagscrm %: %', job, step;
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.report_progress(text, text, boolean) IS
	'Internal: NOTICE and pg_stat_activity.application_name for long jobs';

-- A customer id given by the user: present, not blank, at most 256 characters.
CREATE FUNCTION @extschema@.check_customer(customer text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF customer IS NULL THEN
		RAISE EXCEPTION 'customer id must not be null' USING ERRCODE = '22004', HINT = 'Pass the customer''s id.';
	END IF;
	IF btrim(customer) = '' THEN
		RAISE EXCEPTION 'customer id must not be empty' USING ERRCODE = '22023', HINT = 'Pass the customer''s id.';
	END IF;
	IF length(customer) > 256 THEN
		RAISE EXCEPTION 'customer id is too long (% characters)', length(customer)
			USING ERRCODE = '22001', HINT = 'Customer ids have at most 256 characters.';
	END IF;
	RETURN customer;
END
$$;
COMMENT ON FUNCTION @extschema@.check_customer(text) IS 'Internal: validates a customer id';

-- Reads a user's table as its owner (owner_read.c): the rows of query, run
-- with $1 = customers and $2 = tz, typed by the caller's column list.
-- Granted to nobody; tagscrm's own functions build the query.
CREATE FUNCTION @extschema@.read_as_owner(rel regclass, query text, customers text[], tz text) RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'tagscrm_read_as_owner'
	LANGUAGE C VOLATILE;   -- volatile: a fresh snapshot, and another user
COMMENT ON FUNCTION @extschema@.read_as_owner(regclass, text, text[], text) IS
	'Internal: the rows of a query over a user''s table, read as the table''s owner in a security-restricted operation';

