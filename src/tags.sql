
-- ---------------------------------------------------------------------------
-- tags.sql: customers, their current tags, and the history of every change
-- (stage 6: models, rules, hand tagging and imports all write here)
-- ---------------------------------------------------------------------------

-- Customers are known by the user's own id, stored as text so that bigint ids
-- and text ids (WeCom external user ids) both fit.  The row also serves as the
-- per-customer lock: every change to a customer's tags first locks its row.
CREATE TABLE @extschema@.customer (
	customer_id   text PRIMARY KEY CHECK (customer_id <> '' AND length(customer_id) <= 256),
	first_seen_at timestamptz NOT NULL
);
COMMENT ON TABLE @extschema@.customer IS
	'Customers tagscrm has seen, by the user''s own id (text); locked per change to keep concurrent taggers consistent';

CREATE TABLE @extschema@.customer_tag (
	customer_id        text NOT NULL REFERENCES @extschema@.customer,
	tag_id             integer NOT NULL REFERENCES @extschema@.tag,
	group_id           integer NOT NULL,
	exclusive_group_id integer,         -- = group_id when the group is exclusive
	source             text NOT NULL CHECK (source IN ('manual', 'import', 'rule', 'trigger', 'model', 'channel')),
	applied_by         text NOT NULL,
	applied_at         timestamptz NOT NULL,
	expires_at         timestamptz,
	reason             text,
	PRIMARY KEY (customer_id, tag_id),
	UNIQUE (customer_id, exclusive_group_id)
);
CREATE INDEX customer_tag_tag_id_idx ON @extschema@.customer_tag (tag_id);
CREATE INDEX customer_tag_expires_idx ON @extschema@.customer_tag (expires_at) WHERE expires_at IS NOT NULL;
COMMENT ON TABLE @extschema@.customer_tag IS
	'Current tag assignments; the unique key on exclusive_group_id enforces exclusive groups';

CREATE TABLE @extschema@.tag_history (
	history_id   bigserial PRIMARY KEY,
	changed_at   timestamptz NOT NULL,
	changed_by   text NOT NULL,
	customer_id  text NOT NULL,
	tag_id       integer NOT NULL,   -- the tag added, kept or removed
	action       text NOT NULL CHECK (action IN ('add', 'update', 'remove', 'replace', 'expire', 'retire', 'merge',
	                                          'review', 'release')),
	old          jsonb,              -- the assignment before (for replace: the tag replaced)
	new          jsonb,              -- the assignment after
	source       text NOT NULL,
	reason       text
);
CREATE INDEX tag_history_customer_idx ON @extschema@.tag_history (customer_id, history_id);
COMMENT ON TABLE @extschema@.tag_history IS
	'Every change to any customer''s tags: who, when, what, old, new, why, source';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.customer', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.customer_tag', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tag_history', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tag_history_history_id_seq', '');

-- The copy of each customer's model tags in customer_fact (rfm_tag ...),
-- for the readers' one-row view.  Model tags (method 'model') are written
-- only by sync_models, which keeps the copy in the statement that changes
-- them, and by retire_tag and merge_tags, which call this for the holders
-- they changed; TRUNCATE clears it (below), and a dump carries it.
CREATE FUNCTION @extschema@.copy_model_tags(customers text[]) RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	UPDATE @extschema@.customer_fact f
	   SET rfm_tag = m.rfm, lifecycle_tag = m.lifecycle, sales_stage_tag = m.sales_stage,
	       status_tag = m.status, level_tag = m.level, loyalty_tag = m.loyalty, churn_risk_tag = m.churn_risk
	  FROM (SELECT c.customer_id,
	               max(ct.tag_id) FILTER (WHERE mt.model = 'rfm') AS rfm,
	               max(ct.tag_id) FILTER (WHERE mt.model = 'lifecycle') AS lifecycle,
	               max(ct.tag_id) FILTER (WHERE mt.model = 'sales_stage') AS sales_stage,
	               max(ct.tag_id) FILTER (WHERE mt.model = 'status') AS status,
	               max(ct.tag_id) FILTER (WHERE mt.model = 'level') AS level,
	               max(ct.tag_id) FILTER (WHERE mt.model = 'loyalty') AS loyalty,
	               max(ct.tag_id) FILTER (WHERE mt.model = 'churn_risk') AS churn_risk
	          FROM unnest(customers) c(customer_id)
	          LEFT JOIN @extschema@.customer_tag ct ON ct.customer_id = c.customer_id
	          LEFT JOIN @extschema@.model_tag mt ON mt.tag_id = ct.tag_id
	         GROUP BY c.customer_id) m
	 WHERE f.customer_id = m.customer_id
	   AND (f.rfm_tag, f.lifecycle_tag, f.sales_stage_tag, f.status_tag, f.level_tag, f.loyalty_tag, f.churn_risk_tag)
	       IS DISTINCT FROM (m.rfm, m.lifecycle, m.sales_stage, m.status, m.level, m.loyalty, m.churn_risk);
END;
COMMENT ON FUNCTION @extschema@.copy_model_tags(text[]) IS
	'Internal: recomputes the copy of the model tags in customer_fact for the given customers from customer_tag';

CREATE FUNCTION @extschema@.copy_model_tags_truncate() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE @extschema@.customer_fact f
	   SET rfm_tag = NULL, lifecycle_tag = NULL, sales_stage_tag = NULL, status_tag = NULL,
	       level_tag = NULL, loyalty_tag = NULL, churn_risk_tag = NULL
	 WHERE num_nonnulls(f.rfm_tag, f.lifecycle_tag, f.sales_stage_tag, f.status_tag, f.level_tag,
	                    f.loyalty_tag, f.churn_risk_tag) > 0;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.copy_model_tags_truncate() IS
	'Internal: clears the copy of the model tags in customer_fact when customer_tag is truncated';
CREATE TRIGGER copy_model_tags_truncate AFTER TRUNCATE ON @extschema@.customer_tag
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.copy_model_tags_truncate();

-- Registers the customers and locks their rows in id order (a fixed order, so
-- two writers never deadlock on each other's customers).  Row locks, not
-- advisory locks: a million customers in one import must not exhaust the
-- shared lock table.
CREATE FUNCTION @extschema@.lock_customers(customers text[]) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- lock order: a customer's fact row before its customer row, as the
	-- maintenance of a watched table's writer takes them
	PERFORM FROM @extschema@.customer_fact f
	  WHERE f.customer_id = ANY (customers)
	  ORDER BY f.customer_id
	  FOR UPDATE;
	INSERT INTO @extschema@.customer (customer_id, first_seen_at)
	SELECT DISTINCT c, @extschema@.now() FROM unnest(customers) c
	ORDER BY 1
	ON CONFLICT DO NOTHING;
	PERFORM FROM @extschema@.customer c
	  WHERE c.customer_id = ANY (customers)
	  ORDER BY c.customer_id
	  FOR NO KEY UPDATE;
END
$$;
COMMENT ON FUNCTION @extschema@.lock_customers(text[]) IS
	'Internal: registers customers and locks them in id order';

-- Removes the expired assignments of the given customers (all, when NULL),
-- recording each in history.  Callers hold the customers' locks, or pass NULL.
CREATE FUNCTION @extschema@.drop_expired(customers text[]) RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n bigint;
BEGIN
	WITH gone AS (
		DELETE FROM @extschema@.customer_tag ct
		 WHERE ct.expires_at <= @extschema@.now()
		   AND (customers IS NULL OR ct.customer_id = ANY (customers))
		RETURNING ct.*)
	INSERT INTO @extschema@.tag_history (changed_at, changed_by, customer_id, tag_id, action, old, new, source, reason)
	SELECT @extschema@.now(), @extschema@.acting_role(), g.customer_id, g.tag_id, 'expire',
	       jsonb_build_object('expires_at', g.expires_at, 'source', g.source), NULL, g.source, 'expired'
	  FROM gone g
	 ORDER BY g.customer_id, g.tag_id;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;
COMMENT ON FUNCTION @extschema@.drop_expired(text[]) IS
	'Internal: removes expired assignments with history';

-- The one place assignments are written.  Applies (customer, tag) pairs that
-- are already validated: at most one pair per customer and exclusive group.
-- An exclusive group's other tag is replaced; a tag already held only has its
-- expiry and reason refreshed.  One statement reads the state once, after the
-- customers are locked.  Returns how many pairs changed something.
CREATE FUNCTION @extschema@.assign(customers text[], tags integer[], source text,
                                   reason text, expires_at timestamptz) RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	changed bigint;
BEGIN
	PERFORM @extschema@.lock_customers(customers);
	PERFORM @extschema@.drop_expired(customers);

	WITH input AS (
		SELECT DISTINCT u.customer_id, t.tag_id, t.name AS tag_name, t.group_id,
		       CASE WHEN g.exclusive THEN g.group_id END AS exclusive_group_id
		  FROM unnest(customers, tags) AS u(customer_id, tag_id)
		  JOIN @extschema@.tag t ON t.tag_id = u.tag_id
		  JOIN @extschema@.tag_group g ON g.group_id = t.group_id),
	plan AS (
		SELECT i.*, held.tag_id IS NOT NULL AS held, held.expires_at AS held_expires,
		       other.tag_id AS old_tag_id, other.source AS old_source, other.expires_at AS old_expires
		  FROM input i
		  LEFT JOIN @extschema@.customer_tag held
		         ON held.customer_id = i.customer_id AND held.tag_id = i.tag_id
		  LEFT JOIN @extschema@.customer_tag other
		         ON other.customer_id = i.customer_id AND other.exclusive_group_id = i.exclusive_group_id
		        AND other.tag_id <> i.tag_id),
	replaced AS (
		DELETE FROM @extschema@.customer_tag ct
		 USING plan p
		 WHERE ct.customer_id = p.customer_id AND ct.tag_id = p.old_tag_id
		RETURNING ct.customer_id),
	added AS (
		-- reads "replaced" first, so the old exclusive tag is gone before the insert
		INSERT INTO @extschema@.customer_tag
			(customer_id, tag_id, group_id, exclusive_group_id, source, applied_by, applied_at, expires_at, reason)
		SELECT p.customer_id, p.tag_id, p.group_id, p.exclusive_group_id, source,
		       @extschema@.acting_role(), @extschema@.now(), expires_at, reason
		  FROM plan p
		 WHERE NOT p.held AND (SELECT count(*) FROM replaced) >= 0
		 ORDER BY p.customer_id, p.tag_id
		RETURNING customer_id),
	refreshed AS (
		UPDATE @extschema@.customer_tag ct
		   SET expires_at = assign.expires_at, reason = assign.reason
		  FROM plan p
		 WHERE p.held AND p.held_expires IS DISTINCT FROM assign.expires_at
		   AND ct.customer_id = p.customer_id AND ct.tag_id = p.tag_id
		RETURNING ct.customer_id),
	logged AS (
		INSERT INTO @extschema@.tag_history (changed_at, changed_by, customer_id, tag_id, action, old, new, source, reason)
		SELECT @extschema@.now(), @extschema@.acting_role(), p.customer_id, p.tag_id,
		       CASE WHEN p.held THEN 'update' WHEN p.old_tag_id IS NOT NULL THEN 'replace' ELSE 'add' END,
		       CASE WHEN p.held THEN jsonb_build_object('tag', p.tag_name, 'expires_at', p.held_expires)
		            WHEN p.old_tag_id IS NOT NULL THEN
		                 jsonb_build_object('tag', (SELECT ot.name FROM @extschema@.tag ot WHERE ot.tag_id = p.old_tag_id),
		                                    'source', p.old_source, 'expires_at', p.old_expires) END,
		       jsonb_build_object('tag', p.tag_name, 'source', source, 'expires_at', expires_at),
		       source, reason
		  FROM plan p
		 WHERE NOT p.held OR p.held_expires IS DISTINCT FROM expires_at
		 ORDER BY p.customer_id, p.tag_id
		RETURNING 1)
	SELECT count(*) INTO changed FROM logged;  -- the other CTEs run to completion regardless
	RETURN changed;
END
$$;
COMMENT ON FUNCTION @extschema@.assign(text[], integer[], text, text, timestamptz) IS
	'Internal: applies validated (customer, tag) pairs with history';

-- Raises unless a person (or an import) may apply this tag: automatic tags
-- are kept by their rule or model.
CREATE FUNCTION @extschema@.check_hand_tag(t @extschema@.tag, asked_as text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM @extschema@.check_active(t, asked_as);
	IF t.method NOT IN ('manual', 'import') THEN
		RAISE EXCEPTION 'tag "%" is applied automatically (method %)', asked_as, t.method
			USING ERRCODE = '55000', HINT = 'Only tags with method manual or import are applied by hand or by import.';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.check_hand_tag(@extschema@.tag, text) IS
	'Internal: raises unless the tag may be applied by hand';

CREATE FUNCTION @extschema@.tag_customer(customer text, tag text, reason text DEFAULT NULL,
                                         expires_at timestamptz DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	id text := @extschema@.check_customer(customer);
	t @extschema@.tag := @extschema@.find_tag(tag);
BEGIN
	PERFORM @extschema@.check_hand_tag(t, tag);
	IF expires_at <= @extschema@.now() THEN
		RAISE EXCEPTION 'expiry % is not in the future', expires_at
			USING ERRCODE = '22023', HINT = 'Give an expiry after now, or NULL for a tag that does not expire.';
	END IF;
	RETURN @extschema@.assign(ARRAY[id], ARRAY[t.tag_id], 'manual', reason, expires_at) > 0;
END
$$;
COMMENT ON FUNCTION @extschema@.tag_customer(text, text, text, timestamptz) IS
	'Tags a customer by hand; in an exclusive group it replaces the tag held; true if anything changed';

CREATE FUNCTION @extschema@.tag_customer(customer bigint, tag text, reason text DEFAULT NULL,
                                         expires_at timestamptz DEFAULT NULL)
RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@.tag_customer(customer::text, tag, reason, expires_at) $$;
COMMENT ON FUNCTION @extschema@.tag_customer(bigint, text, text, timestamptz) IS
	'tag_customer for bigint customer ids';

CREATE FUNCTION @extschema@.untag_customer(customer text, tag text, reason text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	id text := @extschema@.check_customer(customer);
	t @extschema@.tag := @extschema@.find_tag(tag);
BEGIN
	PERFORM @extschema@.check_hand_tag(t, tag);
	PERFORM @extschema@.lock_customers(ARRAY[id]);
	PERFORM @extschema@.drop_expired(ARRAY[id]);
	WITH gone AS (
		DELETE FROM @extschema@.customer_tag ct
		 WHERE ct.customer_id = id AND ct.tag_id = t.tag_id
		RETURNING ct.*)
	INSERT INTO @extschema@.tag_history (changed_at, changed_by, customer_id, tag_id, action, old, new, source, reason)
	SELECT @extschema@.now(), @extschema@.acting_role(), g.customer_id, g.tag_id, 'remove',
	       jsonb_build_object('tag', t.name, 'source', g.source, 'expires_at', g.expires_at), NULL,
	       'manual', untag_customer.reason
	  FROM gone g;
	RETURN FOUND;
END
$$;
COMMENT ON FUNCTION @extschema@.untag_customer(text, text, text) IS
	'Removes a tag from a customer by hand; false if the customer did not hold it';

CREATE FUNCTION @extschema@.untag_customer(customer bigint, tag text, reason text DEFAULT NULL)
RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@.untag_customer(customer::text, tag, reason) $$;
COMMENT ON FUNCTION @extschema@.untag_customer(bigint, text, text) IS
	'untag_customer for bigint customer ids';

-- Batch import of (customer, tag) pairs from a table (fill it with COPY).
-- The table is read with the caller's own rights (this function is not
-- SECURITY DEFINER): the caller's privileges and row-level security decide
-- which rows there are, and any code the read runs (a view, a cast) runs as
-- the caller.  import_tag_rows() then checks and applies them.  Row numbers
-- follow a table's physical order, which right after a COPY into a new table
-- is the file's line order (other relations: the order they are read in).
CREATE FUNCTION @extschema@.import_tags(
	source regclass,
	customer_column name DEFAULT 'customer_id',
	tag_column name DEFAULT 'tag',
	reason text DEFAULT NULL,
	expires_at timestamptz DEFAULT NULL)
RETURNS TABLE (row_number bigint, customer_id text, tag text, rejected_because text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	customers text[];
	tags text[];
	col name;
	physical boolean;
BEGIN
	IF source IS NULL OR customer_column IS NULL OR tag_column IS NULL THEN
		RAISE EXCEPTION 'source table and column names must not be null'
			USING ERRCODE = '22004', HINT = 'Name the table and its customer and tag columns.';
	END IF;
	FOREACH col IN ARRAY ARRAY[customer_column, tag_column] LOOP
		IF NOT EXISTS (SELECT FROM pg_attribute a
		                WHERE a.attrelid = source AND a.attnum > 0 AND NOT a.attisdropped AND a.attname = col) THEN
			RAISE EXCEPTION 'column "%" does not exist in %', col, source
				USING ERRCODE = '42703', HINT = 'Pass the names of the customer and tag columns.';
		END IF;
		IF NOT has_column_privilege(source, col, 'SELECT') THEN
			RAISE EXCEPTION 'permission denied for table %', source
				USING ERRCODE = '42501', HINT = 'The importing role must be allowed to read the source table.';
		END IF;
	END LOOP;
	physical := (SELECT c.relkind IN ('r', 'm') FROM pg_class c WHERE c.oid = source);
	-- identifiers are quoted by format(%I); the table is a resolved regclass
	EXECUTE format('SELECT array_agg(s.c ORDER BY s.n), array_agg(s.t ORDER BY s.n)
	                  FROM (SELECT x.%I::text AS c, x.%I::text AS t, row_number() OVER (%s) AS n FROM %s x) s',
	               customer_column, tag_column, CASE WHEN physical THEN 'ORDER BY x.ctid' ELSE '' END, source)
	   INTO customers, tags;
	RETURN QUERY SELECT * FROM @extschema@.import_tag_rows(source::text, customers, tags, reason, expires_at);
END
$$;
COMMENT ON FUNCTION @extschema@.import_tags(regclass, name, name, text, timestamptz) IS
	'Imports (customer, tag) pairs from a table, read with the caller''s rights; applies the good rows, returns the rejected ones with reasons';

-- The checks and the writes of an import: rows i of customers and tags are
-- row number i.  Every row is checked; the good ones are applied, the
-- rejected ones are returned with their reason.
CREATE FUNCTION @extschema@.import_tag_rows(label text, customers text[], tags text[], reason text,
                                            expires_at timestamptz)
RETURNS TABLE (row_number bigint, customer_id text, tag text, rejected_because text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	reasons text[];
	tag_ids integer[];
	good_customers text[];
	good_tags integer[];
	n_changed bigint;
BEGIN
	IF cardinality(customers) IS DISTINCT FROM cardinality(tags) THEN
		RAISE EXCEPTION 'customers and tags must have the same number of elements'
			USING ERRCODE = '2202E', HINT = 'Element i of each array is row i of the import.';
	END IF;
	IF expires_at <= @extschema@.now() THEN
		RAISE EXCEPTION 'expiry % is not in the future', expires_at
			USING ERRCODE = '22023', HINT = 'Give an expiry after now, or NULL for tags that do not expire.';
	END IF;
	WITH input AS (
		SELECT u.n, u.c, u.t,
		       CASE WHEN u.c IS NULL OR btrim(u.c) = '' THEN 'customer id is empty'
		            WHEN length(u.c) > 256 THEN 'customer id is longer than 256 characters'
		            WHEN u.t IS NULL OR btrim(u.t) = '' THEN 'tag is empty' END AS bad
		  FROM unnest(customers, tags) WITH ORDINALITY AS u(c, t, n)),
	checked AS (
		SELECT i.n, i.c, w.tag_id, CASE WHEN g.exclusive THEN g.group_id END AS xg,
		       COALESCE(i.bad, CASE WHEN w.tag_id IS NULL THEN format('tag "%s" does not exist', i.t)
		                            WHEN t.status = 'retired' THEN format('tag "%s" is retired', i.t)
		                            WHEN t.method NOT IN ('manual', 'import')
		                            THEN format('tag "%s" is applied automatically (method %s)', i.t, t.method) END) AS bad
		  FROM input i
		  LEFT JOIN @extschema@.tag_word w ON i.bad IS NULL AND w.word = @extschema@.name_key(i.t)
		  LEFT JOIN @extschema@.tag t ON t.tag_id = w.tag_id
		  LEFT JOIN @extschema@.tag_group g ON g.group_id = t.group_id),
	-- the same pair twice: the first row counts, later ones are reported
	deduplicated AS (
		SELECT x.n, x.c, x.tag_id, x.xg,
		       COALESCE(x.bad, CASE WHEN x.first_row <> x.n THEN format('duplicate of row %s', x.first_row) END) AS bad
		  FROM (SELECT c.*, min(c.n) FILTER (WHERE c.bad IS NULL) OVER (PARTITION BY c.c, c.tag_id) AS first_row
		          FROM checked c) x),
	-- two different tags of one exclusive group for one customer: which one was
	-- meant is unknowable, so every row of the clash is rejected
	clashes AS (
		SELECT d.c, d.xg, string_agg(d.n::text, ', ' ORDER BY d.n) AS rows
		  FROM deduplicated d
		 WHERE d.bad IS NULL AND d.xg IS NOT NULL
		 GROUP BY 1, 2 HAVING count(DISTINCT d.tag_id) > 1)
	SELECT array_agg(COALESCE(d.bad, CASE WHEN k.rows IS NOT NULL
	                                      THEN format('rows %s give this customer more than one tag of exclusive group "%s"',
	                                                  k.rows, g.name) END) ORDER BY d.n),
	       array_agg(d.tag_id ORDER BY d.n)
	  INTO reasons, tag_ids
	  FROM deduplicated d
	  LEFT JOIN clashes k ON d.bad IS NULL AND k.c = d.c AND k.xg = d.xg
	  LEFT JOIN @extschema@.tag_group g ON g.group_id = k.xg;

	SELECT array_agg(u.c ORDER BY u.n), array_agg(u.id ORDER BY u.n) INTO good_customers, good_tags
	  FROM unnest(customers, tag_ids, reasons) WITH ORDINALITY AS u(c, id, bad, n)
	 WHERE u.bad IS NULL;
	n_changed := CASE WHEN good_customers IS NOT NULL
	                  THEN @extschema@.assign(good_customers, good_tags, 'import', reason, expires_at) ELSE 0 END;
	RAISE NOTICE 'tagscrm import from %: % rows accepted (% changed a customer''s tags), % rejected',
		label, COALESCE(cardinality(good_customers), 0), n_changed,
		COALESCE(cardinality(customers), 0) - COALESCE(cardinality(good_customers), 0);

	RETURN QUERY SELECT u.n, u.c, u.t, u.bad
	               FROM unnest(customers, tags, reasons) WITH ORDINALITY AS u(c, t, bad, n)
	              WHERE u.bad IS NOT NULL ORDER BY u.n;
END
$$;
COMMENT ON FUNCTION @extschema@.import_tag_rows(text, text[], text[], text, timestamptz) IS
	'The checks and writes of import_tags: applies the good (customer, tag) rows, returns the rejected ones with reasons';

CREATE FUNCTION @extschema@.expire_tags() RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	due text[];
BEGIN
	SELECT array_agg(DISTINCT ct.customer_id) INTO due
	  FROM @extschema@.customer_tag ct WHERE ct.expires_at <= @extschema@.now();
	IF due IS NULL THEN
		RETURN 0;
	END IF;
	PERFORM @extschema@.lock_customers(due);
	RETURN @extschema@.drop_expired(due);
END
$$;
COMMENT ON FUNCTION @extschema@.expire_tags() IS
	'Removes every expired assignment, with history; returns how many (expired tags are hidden from views anyway)';
