-- tagscrm install script, generated from src/*.sql (see SQL_PARTS in the Makefile).
-- Written as if search_path were hostile: every name is schema-qualified and
-- every SQL/PL function pins search_path.

\echo Use "CREATE EXTENSION tagscrm" to load this file. \quit

-- Refuse a schema that somebody else prepared for us: its owner could have
-- planted objects next to ours (see README, "Security").
DO $guard$
DECLARE
	schema_owner pg_catalog.oid;
BEGIN
	SELECT n.nspowner INTO schema_owner
	  FROM pg_catalog.pg_namespace n
	 WHERE n.nspname OPERATOR(pg_catalog.=) 'tagscrm';
	IF schema_owner OPERATOR(pg_catalog.<>) (SELECT r.oid FROM pg_catalog.pg_roles r
	                                          WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER) THEN
		RAISE EXCEPTION 'schema "tagscrm" already exists and is owned by role "%"',
			pg_catalog.pg_get_userbyid(schema_owner)
			USING ERRCODE = '42501',
			      HINT = 'Drop that schema, or have its owner install the extension, then run CREATE EXTENSION tagscrm again.';
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
