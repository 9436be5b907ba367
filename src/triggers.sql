
-- ---------------------------------------------------------------------------
-- triggers.sql: the statement triggers on the watched tables (stage 2)
--
-- Generic trigger functions: they read the column names from watched_table and
-- normalise the transition table with one dynamic statement whose identifiers
-- are quoted with format(%I); nothing else typed by a user reaches SQL text.
-- Inserts become deltas on the facts; updates and deletes recompute the
-- customers they touch; a statement of more than settings.bulk_rows rows is
-- queued (pending.sql); then maintain.sql brings models, rules and tags in line.
-- ---------------------------------------------------------------------------

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

-- The trigger of a watched orders or events table (TG_ARGV[0] says which):
-- inserts are deltas; updates and deletes recompute the customers they
-- touch; truncate rebuilds everyone; a statement of more than
-- settings.bulk_rows rows is queued for the background applier (pending.sql).
CREATE FUNCTION @extschema@.activity_trigger() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off   -- maintenance plans are small; JIT compile time would dominate
AS $$
DECLARE
	role text := TG_ARGV[0];
	w @extschema@.watched_table := (SELECT x FROM @extschema@.watched_table x WHERE x.role = TG_ARGV[0]);
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
		PERFORM @extschema@.reevaluate(rebuild => true, quiet => true);
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
	PERFORM @extschema@.maintain(customers);
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
	w @extschema@.watched_table := (SELECT x FROM @extschema@.watched_table x WHERE x.role = 'customers');
	customers text[];
BEGIN
	IF w.relid IS DISTINCT FROM TG_RELID THEN
		RETURN NULL;
	END IF;
	IF TG_OP = 'TRUNCATE' THEN
		PERFORM @extschema@.reevaluate(rebuild => true, quiet => true);
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
	PERFORM @extschema@.maintain(customers);
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.customers_trigger() IS 'Internal: keeps attribute tags current from a watched customer table';

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

CREATE FUNCTION @extschema@.contacts_trigger() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off   -- maintenance plans are small; JIT compile time would dominate
AS $$
DECLARE
	w @extschema@.watched_table := (SELECT x FROM @extschema@.watched_table x WHERE x.role = 'contacts');
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
	PERFORM @extschema@.maintain(customers);
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.contacts_trigger() IS 'Internal: gives new contacts their channel tag';
