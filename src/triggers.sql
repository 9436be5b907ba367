
-- ---------------------------------------------------------------------------
-- triggers.sql: the statement triggers on the watched tables (stage 2)
--
-- One trigger function for every watched table (watch_trigger, in C): it
-- reads the transition tables as the table's owner with the statement
-- trigger_read() builds from the column names in watched_table (identifiers
-- quoted with format(%I); nothing typed by a user reaches SQL text), then
-- apply_trigger() does the rest with the extension owner's rights: inserts
-- become deltas on the facts; updates and deletes recompute the customers
-- they touch; a statement of more than settings.bulk_rows rows is queued
-- (pending.sql); then maintain.sql brings models, rules and tags in line.
-- ---------------------------------------------------------------------------

-- The customers named in a transition table (usable ids only: rows of others
-- have no facts): dynamic only in the column name.
CREATE FUNCTION @extschema@.changed_customers(w @extschema@.watched_table, transition text) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN format('SELECT pg_catalog.array_agg(DISTINCT %I::pg_catalog.text) FROM %I WHERE %s',
              w.customer_column, transition, @extschema@.customer_ok_sql(w));
COMMENT ON FUNCTION @extschema@.changed_customers(@extschema@.watched_table, text) IS
	'Internal: SQL text listing the customers of a transition table';

-- The customers whose rows differ between the OLD and NEW transition tables
-- of an UPDATE, looking only at the given columns, the customer column first
-- (a row found in both cancels out, so an UPDATE that changes nothing we
-- watch costs one comparison and no maintenance).
CREATE FUNCTION @extschema@.updated_customers(w @extschema@.watched_table, columns name[]) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN format('SELECT pg_catalog.array_agg(DISTINCT c) FROM (
	(SELECT %1$s FROM tagscrm_old EXCEPT ALL SELECT %1$s FROM tagscrm_new)
	UNION ALL
	(SELECT %1$s FROM tagscrm_new EXCEPT ALL SELECT %1$s FROM tagscrm_old)) d(c)
	WHERE c IS NOT NULL AND pg_catalog.btrim(c) <> '''' AND pg_catalog.length(c) <= 256',
	(SELECT string_agg(format('%I::pg_catalog.text', col), ', ' ORDER BY i)
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
	        WHERE w.word = @extschema@.name_key(c.code) AND g.kind = 'channel' AND t.status = 'active')
	 GROUP BY 1 ORDER BY 1
	ON CONFLICT (code) DO UPDATE SET contacts = u.contacts + EXCLUDED.contacts, last_seen = EXCLUDED.last_seen;

	SELECT array_agg(x.customer_id ORDER BY x.customer_id), array_agg(x.tag_id ORDER BY x.customer_id)
	  INTO who, which
	  FROM (SELECT DISTINCT ON (u.c, CASE WHEN g.exclusive THEN g.group_id END, CASE WHEN g.exclusive THEN 0 ELSE t.tag_id END)
	               u.c AS customer_id, t.tag_id
	          FROM unnest(customers, codes, ats) WITH ORDINALITY AS u(c, code, at, n)
	          JOIN @extschema@.tag_word w ON w.word = @extschema@.name_key(u.code)
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

-- What the trigger of a watched table reads from its transition tables, as
-- the text of one statement returning (customers, times, details, bulk,
-- problem): for inserts into orders or events every row (details: amounts
-- as exact numeric text, or event kinds); for their updates and deletes the
-- customers whose rows changed and whether the statement is a bulk one (more
-- than settings.bulk_rows rows); for customers the customers changed; for
-- contacts every row (details: channel codes).  problem: what is wrong with
-- one of the rows written (row_problem_sql), or NULL.  The statement is NULL
-- when the table is not (or no longer) watched in that role.  Checks, every
-- time, that tagscrm may still read the table (check_read_rights).
-- watch_trigger() (triggers.c) runs the statement as the table's owner.
CREATE FUNCTION @extschema@.trigger_read(role text, op text, relid oid) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	w @extschema@.watched_table := (SELECT x FROM @extschema@.watched_table x WHERE x.role = trigger_read.role);
	s @extschema@.settings := (SELECT x FROM @extschema@.settings x);
	tz text := quote_literal(s.time_zone);
	transition name := CASE op WHEN 'DELETE' THEN 'tagscrm_old' ELSE 'tagscrm_new' END;
	detail text := CASE role WHEN 'orders' THEN format('%I::pg_catalog.numeric::pg_catalog.text', w.amount_column)
	                         WHEN 'events' THEN format('%I::pg_catalog.text', w.kind_column)
	                         WHEN 'contacts' THEN format('%I::pg_catalog.text', w.channel_column) END;
	problem text := CASE WHEN op IN ('INSERT', 'UPDATE')
	                     THEN format('(SELECT pg_catalog.min(%s) FROM tagscrm_new)', @extschema@.row_problem_sql(w, tz))
	                     ELSE 'NULL::pg_catalog.text' END;
BEGIN
	IF w.relid::oid IS DISTINCT FROM trigger_read.relid THEN
		RETURN NULL;   -- unwatched meanwhile
	END IF;
	PERFORM @extschema@.check_read_rights(w);
	IF op = 'TRUNCATE' THEN
		RETURN '';   -- nothing to read: everything is rebuilt
	ELSIF op = 'INSERT' AND role <> 'customers' AND w.status_column IS NULL THEN
		-- every row written, of usable customers
		RETURN format('SELECT pg_catalog.array_agg(r.c), pg_catalog.array_agg(r.at), pg_catalog.array_agg(r.d), NULL::pg_catalog.bool, %s
		                 FROM (SELECT %I::pg_catalog.text AS c, %s AS at, %s AS d FROM tagscrm_new WHERE %s) r',
		              problem, w.customer_column,
		              CASE WHEN w.at_column IS NULL THEN 'NULL::pg_catalog.timestamptz' ELSE @extschema@.time_sql(w, w.at_column, tz) END,
		              detail, @extschema@.customer_ok_sql(w));
	ELSIF role IN ('orders', 'events') THEN
		RETURN format('SELECT (%s), NULL::pg_catalog.timestamptz[], NULL::pg_catalog.text[], %s, %s',
		              -- an insert into orders with a condition: its rows may be refunds,
		              -- which are no delta of add_orders, so its customers are recomputed
		              CASE op WHEN 'DELETE' THEN @extschema@.changed_customers(w, 'tagscrm_old')
		                      WHEN 'INSERT' THEN @extschema@.changed_customers(w, 'tagscrm_new')
		                      ELSE @extschema@.updated_customers(w, ARRAY[w.customer_column, w.at_column,
		                                                                  CASE role WHEN 'orders' THEN w.amount_column ELSE w.kind_column END,
		                                                                  w.status_column]) END,
		              -- counts at most bulk_rows + 1 rows
		              CASE WHEN s.bulk_rows IS NULL THEN 'false'
		                   ELSE format('(SELECT pg_catalog.count(*) > %s FROM (SELECT FROM %I LIMIT %s) r)',
		                               s.bulk_rows, transition, s.bulk_rows + 1) END,
		              problem);
	END IF;
	RETURN format('SELECT (%s), NULL::pg_catalog.timestamptz[], NULL::pg_catalog.text[], NULL::pg_catalog.bool, %s',
	              CASE op WHEN 'UPDATE'
	                      THEN @extschema@.updated_customers(w, w.customer_column || w.attribute_columns || w.birth_date_column)
	                      ELSE @extschema@.changed_customers(w, transition) END,
	              problem);
END
$$;
COMMENT ON FUNCTION @extschema@.trigger_read(text, text, oid) IS
	'Internal: SQL text reading what a watched table''s statement did from its transition tables';

-- What the trigger does with the rows it read (as trigger_read describes
-- them): a row tagscrm cannot use refuses the statement, whatever its size;
-- inserts into orders and events are deltas; their updates and deletes
-- recompute the customers they touch; a truncate rebuilds everyone; a
-- statement of more than settings.bulk_rows rows is queued for the
-- background applier (pending.sql); customers' rows are re-read; contacts
-- get their channel tag.  Then maintain() brings the tags in line.
CREATE FUNCTION @extschema@.apply_trigger(role text, op text, customers text[], ats timestamptz[],
                                          details text[], bulk boolean, problem text) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET jit = off   -- maintenance plans are small; JIT compile time would dominate
AS $$
BEGIN
	IF problem IS NOT NULL THEN
		RAISE EXCEPTION 'tagscrm cannot use a row written to %: %',
			(SELECT w.relid FROM @extschema@.watched_table w WHERE w.role = apply_trigger.role), substr(problem, 7)
			USING ERRCODE = left(problem, 5),
			      HINT = 'tagscrm keeps facts from every row of a watched table: correct the row, or leave it out of the statement.';
	END IF;
	IF op = 'TRUNCATE' THEN
		PERFORM @extschema@.reevaluate(rebuild => true, quiet => true);
		RETURN;
	ELSIF customers IS NULL THEN
		RETURN;
	END IF;
	-- While a table watched with backfill => false waits for its rebuild,
	-- statements on orders and events are queued: the rebuild holds the
	-- facts' lock, and the writers go on (pending.sql applies them after).
	IF role IN ('orders', 'events') AND EXISTS (SELECT FROM @extschema@.watched_table w WHERE w.backfill_pending) THEN
		PERFORM @extschema@.defer_customers(role, op, customers, CASE WHEN op = 'INSERT' THEN ats END,
		                                    CASE WHEN op = 'INSERT' AND ats IS NOT NULL THEN details END);
		RETURN;
	END IF;
	-- Under REPEATABLE READ this transaction scores against the breakpoints
	-- of its snapshot: if refresh() has replaced them since, fail with 40001
	-- (the client retries) rather than keep an RFM segment of the old ones.
	-- Taken before any fact lock, as refresh() takes it before its own.
	IF current_setting('transaction_isolation') <> 'read committed' THEN
		PERFORM FROM @extschema@.rfm_state r FOR SHARE;
	END IF;
	-- (ats is NULL for an insert that trigger_read has recomputed: orders with a condition)
	IF role IN ('orders', 'events') AND op = 'INSERT' AND ats IS NOT NULL THEN
		IF cardinality(customers) > (SELECT s.bulk_rows FROM @extschema@.settings s) THEN   -- one element per row
			PERFORM @extschema@.defer_customers(role, op, customers, ats, details);
			RETURN;
		END IF;
		customers := CASE role WHEN 'orders' THEN @extschema@.add_orders(customers, ats, details::numeric[])
		                       ELSE @extschema@.add_events(customers, ats, details) END;
	ELSIF role IN ('orders', 'events') THEN
		IF bulk THEN
			PERFORM @extschema@.defer_customers(role, op, customers, NULL, NULL);
			RETURN;
		END IF;
		PERFORM @extschema@.lock_facts(customers);
		PERFORM @extschema@.recompute_facts(customers, role);
	ELSIF role = 'customers' THEN
		PERFORM @extschema@.lock_facts(customers);
		PERFORM @extschema@.recompute_attributes(customers);
	ELSE
		PERFORM @extschema@.lock_facts(customers);
		customers := @extschema@.apply_contacts(customers, details, ats);
	END IF;
	PERFORM @extschema@.maintain(customers);
END
$$;
COMMENT ON FUNCTION @extschema@.apply_trigger(text, text, text[], timestamptz[], text[], boolean, text) IS
	'Internal: keeps facts and tags current from what a statement on a watched table did';

-- The trigger of every watched table (TG_ARGV[0]: its role), in C so that
-- the transition tables are read as the table's owner (triggers.c).
CREATE FUNCTION @extschema@.watch_trigger() RETURNS trigger
	AS 'MODULE_PATHNAME', 'tagscrm_watch_trigger'
	LANGUAGE C SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.watch_trigger() IS
	'Internal: the statement trigger of a watched table: reads its transition tables as the table''s owner, then keeps facts and tags current';
