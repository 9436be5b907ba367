-- Security: hostile search_path at install and at run time, a schema
-- prepared by somebody else, non-superuser install, catalog lint.
\set VERBOSITY default
\set SHOW_CONTEXT never
DROP EXTENSION tagscrm CASCADE;
DROP SCHEMA tagscrm;   -- DROP EXTENSION leaves the schema it was created in
CREATE ROLE tagscrm_mallory LOGIN;

-- A schema named tagscrm that another role prepared is refused.
CREATE SCHEMA tagscrm AUTHORIZATION tagscrm_mallory;
CREATE EXTENSION tagscrm;
DROP SCHEMA tagscrm;
-- So is one of ours where another role may create objects, or already did:
-- its tag_customer(integer, text) would capture tag_customer(42, 'vip').
CREATE SCHEMA tagscrm;
GRANT CREATE ON SCHEMA tagscrm TO tagscrm_mallory;
CREATE EXTENSION tagscrm;
GRANT USAGE, CREATE ON SCHEMA tagscrm TO PUBLIC;
REVOKE CREATE ON SCHEMA tagscrm FROM tagscrm_mallory;
CREATE EXTENSION tagscrm;
REVOKE CREATE ON SCHEMA tagscrm FROM PUBLIC;
GRANT CREATE ON SCHEMA tagscrm TO tagscrm_mallory;
SET ROLE tagscrm_mallory;
CREATE FUNCTION tagscrm.tag_customer(integer, text) RETURNS boolean LANGUAGE sql AS 'SELECT true';
RESET ROLE;
REVOKE ALL ON SCHEMA tagscrm FROM tagscrm_mallory, PUBLIC;
CREATE EXTENSION tagscrm;
DROP SCHEMA tagscrm CASCADE;

-- A non-superuser cannot install it, even with CREATE on the database.
DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO tagscrm_mallory', current_database()); END $$;
SET ROLE tagscrm_mallory;
CREATE EXTENSION tagscrm;
RESET ROLE;

-- Traps: an attacker's functions and operators, first on the search_path,
-- shadowing what our scripts and functions use; each logs who called it.
CREATE SCHEMA evil AUTHORIZATION tagscrm_mallory;
CREATE TABLE evil.calls (who text, what text);
GRANT INSERT ON evil.calls TO PUBLIC;
ALTER TABLE evil.calls OWNER TO tagscrm_mallory;
SET ROLE tagscrm_mallory;
CREATE FUNCTION evil.trap_text(a text, b text) RETURNS boolean LANGUAGE plpgsql AS
	$$ BEGIN INSERT INTO evil.calls VALUES (current_user, 'text ='); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.trap_text);
CREATE FUNCTION evil.trap_int(a integer, b integer) RETURNS boolean LANGUAGE plpgsql AS
	$$ BEGIN INSERT INTO evil.calls VALUES (current_user, 'int ='); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR evil.= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = evil.trap_int);
CREATE FUNCTION evil.lower(text) RETURNS text LANGUAGE plpgsql AS
	$$ BEGIN INSERT INTO evil.calls VALUES (current_user, 'lower'); RETURN pg_catalog.lower($1); END $$;
CREATE FUNCTION evil.btrim(text) RETURNS text LANGUAGE plpgsql AS
	$$ BEGIN INSERT INTO evil.calls VALUES (current_user, 'btrim'); RETURN pg_catalog.btrim($1); END $$;
CREATE FUNCTION evil.length(text) RETURNS integer LANGUAGE plpgsql AS
	$$ BEGIN INSERT INTO evil.calls VALUES (current_user, 'length'); RETURN pg_catalog.length($1); END $$;
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql AS
	$$ BEGIN INSERT INTO evil.calls VALUES (current_user, 'now'); RETURN pg_catalog.now(); END $$;
CREATE FUNCTION evil.format(text, text) RETURNS text LANGUAGE plpgsql AS
	$$ BEGIN INSERT INTO evil.calls VALUES (current_user, 'format'); RETURN 'x'; END $$;
CREATE FUNCTION evil.jsonb_build_object(text, text) RETURNS jsonb LANGUAGE plpgsql AS
	$$ BEGIN INSERT INTO evil.calls VALUES (current_user, 'jsonb_build_object'); RETURN '{}'; END $$;
CREATE FUNCTION evil.unnest(anyarray) RETURNS SETOF anyelement LANGUAGE plpgsql AS
	$$ BEGIN INSERT INTO evil.calls VALUES (current_user, 'unnest'); RETURN QUERY SELECT * FROM pg_catalog.unnest($1); END $$;
CREATE FUNCTION evil.pg_extension_config_dump(regclass, text) RETURNS void LANGUAGE plpgsql AS
	$$ BEGIN INSERT INTO evil.calls VALUES (current_user, 'config_dump'); END $$;
CREATE FUNCTION evil.count_sfunc(bigint, anyelement) RETURNS bigint LANGUAGE plpgsql AS
	$$ BEGIN INSERT INTO evil.calls VALUES (current_user, 'count'); RETURN $1 + 1; END $$;
CREATE AGGREGATE evil.count(anyelement) (SFUNC = evil.count_sfunc, STYPE = bigint, INITCOND = '0');
RESET ROLE;

-- Install with the traps first on the search_path: nothing of theirs runs.
SET search_path = evil, pg_catalog, public;
CREATE EXTENSION tagscrm;
SELECT count(*) AS trapped_at_install FROM evil.calls;

-- Use it with the traps first on the search_path: nothing of theirs runs.
SET tagscrm.clock_override = '2026-04-01 00:00:00+00';
SELECT tagscrm.create_tag_group('g', 'manual', exclusive => true);
SELECT tagscrm.create_tag('a', 'g'), tagscrm.create_tag('b', 'g');
SELECT tagscrm.add_tag_alias('alpha', 'a');
SELECT tagscrm.tag_customer('c1', 'alpha', expires_at => '2026-05-01');
SELECT tagscrm.tag_customer('c1', 'b');
SELECT tagscrm.untag_customer('c1', 'b');
CREATE TABLE public.pairs (customer_id text, tag text);
INSERT INTO public.pairs VALUES ('c2', 'a'), ('c3', 'nope');
SELECT * FROM tagscrm.import_tags('public.pairs');
SELECT tagscrm.rename_tag('a', 'aa', keep_alias => true);
SELECT tagscrm.merge_tags('aa', 'b');
SELECT tagscrm.retire_tag('b');
SELECT tagscrm.expire_tags();
SELECT tagscrm.customer_profile('c2') IS NOT NULL AS profile;
SELECT pg_catalog.count(*) FROM tagscrm.tags;
SELECT pg_catalog.count(*) FROM tagscrm.customer_tags;
RESET search_path;
SELECT count(*) AS trapped_at_run_time FROM evil.calls;
-- the traps do work on code that does not pin its search_path
SET search_path = evil, pg_catalog, public;
SELECT lower('X') = 'x' AS lowered;
RESET search_path;
SELECT what FROM evil.calls ORDER BY what;

-- Catalog lint: SQL/PL members without a pinned search_path
SELECT p.oid::regprocedure AS unpinned
  FROM pg_depend d
  JOIN pg_extension e ON e.oid = d.refobjid AND d.refclassid = 'pg_extension'::regclass
  JOIN pg_proc p ON p.oid = d.objid AND d.classid = 'pg_proc'::regclass
  JOIN pg_language l ON l.oid = p.prolang
 WHERE e.extname = 'tagscrm' AND d.deptype = 'e' AND l.lanname IN ('sql', 'plpgsql')
   AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%');
-- members PUBLIC may execute (none: every function is granted to a tagscrm role)
SELECT p.oid::regprocedure AS public_executable
  FROM pg_depend d
  JOIN pg_extension e ON e.oid = d.refobjid AND d.refclassid = 'pg_extension'::regclass
  JOIN pg_proc p ON p.oid = d.objid AND d.classid = 'pg_proc'::regclass
 WHERE e.extname = 'tagscrm' AND d.deptype = 'e' AND has_function_privilege('public', p.oid, 'EXECUTE');
-- tables and views PUBLIC may read or write
SELECT c.oid::regclass AS public_relation
  FROM pg_class c
 WHERE c.relnamespace = 'tagscrm'::regnamespace
   AND (has_table_privilege('public', c.oid, 'SELECT') OR has_table_privilege('public', c.oid, 'INSERT')
        OR has_table_privilege('public', c.oid, 'UPDATE') OR has_table_privilege('public', c.oid, 'DELETE'));
-- the schema belongs to the installing superuser
SELECT nspowner::regrole FROM pg_namespace WHERE nspname = 'tagscrm';

DROP SCHEMA evil CASCADE;
DROP OWNED BY tagscrm_mallory;
DROP ROLE tagscrm_mallory;

-- The test clock, given in any form, is stored canonically (UTC, numeric
-- offset, no words), so parallel workers restore it safely: decoding 'T' or a
-- zone abbreviation while a worker resets its abbreviation table crashed.
SET tagscrm.clock_override = '2026-04-01T00:00:00+02';
SHOW tagscrm.clock_override;
SELECT tagscrm.now();
CREATE TABLE parallel_probe AS SELECT g FROM generate_series(1, 20000) g;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SELECT count(*) FROM parallel_probe;
SET tagscrm.clock_override = '2026-04-01 09:00 CEST';
SHOW tagscrm.clock_override;
SELECT count(*) FROM parallel_probe;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
DROP TABLE parallel_probe;
SET tagscrm.clock_override = '0044-03-15 BC';
SET tagscrm.clock_override = 'infinity';
