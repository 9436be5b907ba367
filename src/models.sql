
-- ---------------------------------------------------------------------------
-- models.sql: model and attribute tags computed from the facts
--
-- model_values() says, for each customer, which value each model gives and
-- when time alone may change it; sync_models() turns that into tags in
-- exclusive model groups (with history), writing only what differs.  Every
-- writer reaches it through maintain() (maintain.sql).  The RFM and churn
-- kernels are C (rfm.sql, churn.sql); the thresholds are in settings.sql.
-- ---------------------------------------------------------------------------

-- The population breakpoints that RFM scores are measured against; one row,
-- recomputed by refresh().
CREATE TABLE @extschema@.rfm_state (
	singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	breakpoints @extschema@.rfm_breakpoints,
	computed_at timestamptz
);
INSERT INTO @extschema@.rfm_state DEFAULT VALUES;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rfm_state', '');
CREATE TRIGGER replace_singleton BEFORE INSERT ON @extschema@.rfm_state
	FOR EACH ROW EXECUTE FUNCTION @extschema@.replace_singleton();
COMMENT ON TABLE @extschema@.rfm_state IS 'RFM breakpoints of the last refresh()';

-- New breakpoints from every customer with an order; returns them.
CREATE FUNCTION @extschema@.compute_breakpoints() RETURNS @extschema@.rfm_breakpoints
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	UPDATE @extschema@.rfm_state SET computed_at = @extschema@.now(),
		breakpoints = (SELECT @extschema@.rfm_breakpoints(@extschema@.days_between(f.last_order_at, @extschema@.now()),
		                                                  f.order_count, f.order_total::float8)
		                 FROM @extschema@.customer_fact f WHERE f.order_count > 0 AND f.last_order_at IS NOT NULL)
	RETURNING breakpoints;
END;
COMMENT ON FUNCTION @extschema@.compute_breakpoints() IS
	'Internal: recomputes the population''s RFM breakpoints into rfm_state';

-- Which tag stands for each model value: renaming a model tag keeps it working.
CREATE TABLE @extschema@.model_tag (
	model   text NOT NULL,
	value   text NOT NULL,
	tag_id  integer NOT NULL REFERENCES @extschema@.tag,
	PRIMARY KEY (model, value)
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.model_tag', '');
COMMENT ON TABLE @extschema@.model_tag IS
	'The tag of each model value (model rfm, lifecycle, sales_stage, status, level, loyalty, age_band, attr:<column>)';

-- Creates a model group and its tags unless they exist; tags are found by
-- (model, value), so an admin may rename them.
CREATE FUNCTION @extschema@.ensure_model_tags(model text, group_name text, group_kind text,
                                              update_cycle text, description text,
                                              values_and_names text[]) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	g @extschema@.tag_group;
	tag_name text;
	id integer;
BEGIN
	IF NOT EXISTS (SELECT FROM unnest(values_and_names) WITH ORDINALITY v(x, n)
	                WHERE n % 2 = 1 AND NOT EXISTS (SELECT FROM @extschema@.model_tag mt
	                                                 WHERE mt.model = ensure_model_tags.model AND mt.value = v.x)) THEN
		RETURN;   -- all there: the common case, without the library lock
	END IF;
	PERFORM @extschema@.lock_library();
	SELECT * INTO g FROM @extschema@.tag_group tg WHERE lower(tg.name) = lower(group_name);
	IF NOT FOUND THEN
		INSERT INTO @extschema@.tag_group (name, kind, exclusive, update_cycle, description, created_by, created_at)
		VALUES (group_name, group_kind, true, update_cycle, description, @extschema@.acting_role(), @extschema@.now())
		RETURNING * INTO g;
		PERFORM @extschema@.log_library('group', g.name, 'create', NULL, to_jsonb(g), 'created by tagscrm for model ' || model);
	ELSIF NOT g.exclusive THEN
		RAISE EXCEPTION 'tag group "%" exists and is not exclusive', group_name
			USING ERRCODE = '42710', HINT = format('tagscrm keeps model %s in an exclusive group of that name; rename the existing group.', model);
	END IF;
	FOR i IN 1 .. cardinality(values_and_names) / 2 LOOP
		CONTINUE WHEN EXISTS (SELECT FROM @extschema@.model_tag mt
		                       WHERE mt.model = ensure_model_tags.model AND mt.value = values_and_names[2 * i - 1]);
		tag_name := values_and_names[2 * i];
		SELECT t.tag_id INTO id FROM @extschema@.tag t WHERE lower(t.name) = lower(tag_name) AND t.group_id = g.group_id;
		IF id IS NULL THEN
			PERFORM @extschema@.check_word_free(tag_name);
			INSERT INTO @extschema@.tag (name, group_id, method, description, created_by, created_at)
			VALUES (tag_name, g.group_id, 'model', format('%s = %s', model, values_and_names[2 * i - 1]),
			        @extschema@.acting_role(), @extschema@.now())
			RETURNING tag_id INTO id;
			PERFORM @extschema@.log_library('tag', tag_name, 'create', NULL,
			                                jsonb_build_object('group', g.name, 'method', 'model'), 'created by tagscrm');
		END IF;
		INSERT INTO @extschema@.model_tag VALUES (model, values_and_names[2 * i - 1], id);
	END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.ensure_model_tags(text, text, text, text, text, text[]) IS
	'Internal: creates a model group and its tags if missing';

-- The model groups and their tags, once a table is watched (the age bands
-- once a birth date is).
CREATE FUNCTION @extschema@.ensure_models() RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT EXISTS (SELECT FROM @extschema@.watched_table) THEN
		RETURN;
	END IF;
	PERFORM @extschema@.ensure_model_tags('rfm', 'RFM segment', 'model', 'daily',
		'RFM segment: recency, frequency and monetary value high or low against the population',
		(SELECT array_agg(x ORDER BY n, k) FROM @extschema@.rfm_segments() WITH ORDINALITY s(segment, r, f, m, display_name, d, n),
		        LATERAL (VALUES (1, segment), (2, display_name)) v(k, x)));
	PERFORM @extschema@.ensure_model_tags('lifecycle', 'lifecycle', 'model', 'realtime',
		'E-commerce lifecycle: new, first purchase, repeat, super',
		ARRAY['new', 'new customer', 'first_purchase', 'first purchase', 'repeat', 'repeat customer',
		      'super', 'super customer']);
	PERFORM @extschema@.ensure_model_tags('sales_stage', 'sales stage', 'model', 'realtime',
		'High-ticket sales ladder: stranger, potential, intent, first order, repeat, super',
		ARRAY['stranger', 'stranger', 'potential', 'potential', 'intent', 'intent', 'first_order', 'first deal',
		      'repeat', 'repeat deal', 'super', 'super client']);
	PERFORM @extschema@.ensure_model_tags('status', 'customer status', 'model', 'realtime',
		'Active, silent or lost by days since the last order (or event of a kind in settings.status_event_kinds)',
		ARRAY['active', 'active', 'silent', 'silent', 'lost', 'lost']);
	IF (SELECT s.churn_model FROM @extschema@.settings s) IS NOT NULL THEN
		PERFORM @extschema@.ensure_model_tags('churn_risk', 'churn risk', 'predictive', 'daily',
			'Churn risk from the BG/NBD model named in settings.churn_model: 1 - P(alive) against churn_high, churn_medium',
			ARRAY['high', 'churn risk high', 'medium', 'churn risk medium', 'low', 'churn risk low']);
	END IF;
	PERFORM @extschema@.ensure_model_tags('level', 'user level', 'model', 'realtime',
		'User level from payments, amount, recent payment, active days and reviews',
		ARRAY['1', 'level 1', '2', 'level 2', '3', 'level 3', '4', 'level 4', '5', 'level 5']);
	IF (SELECT s.loyalty_model FROM @extschema@.settings s) THEN
		PERFORM @extschema@.ensure_model_tags('loyalty', 'loyalty', 'model', 'daily',
			'Loyalty L: the share of the last n consumption cycles with a purchase (settings.loyalty_*)',
			ARRAY['loyal', 'loyal customer', 'regular', 'regular customer', 'occasional', 'occasional customer',
			      'lapsed', 'lapsed customer']);
	END IF;
	IF EXISTS (SELECT FROM @extschema@.watched_table w WHERE w.role = 'customers' AND w.birth_date_column IS NOT NULL) THEN
		PERFORM @extschema@.ensure_age_band_tags();
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.ensure_models() IS 'Internal: creates the model groups and tags if missing';

-- Age band label of an age for ascending band boundaries {18,25,...}.
CREATE FUNCTION @extschema@.age_band(age integer, bands integer[]) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN CASE
	WHEN age < bands[1] THEN 'under ' || bands[1]
	WHEN age >= bands[cardinality(bands)] THEN bands[cardinality(bands)] || '+'
	ELSE (SELECT b.lo || '-' || (b.hi - 1)
	        FROM (SELECT bands[i] AS lo, bands[i + 1] AS hi FROM generate_subscripts(bands, 1) i) b
	       WHERE age >= b.lo AND age < b.hi) END;
COMMENT ON FUNCTION @extschema@.age_band(integer, integer[]) IS
	'The age band of an age: "under 18", "18-24", ..., "65+" for bands {18,25,...,65}';

-- A customer's churn figures under the model named in the settings (see
-- churn_predict): NULL without a model or an order.
CREATE FUNCTION @extschema@.customer_churn(customer text,
	OUT p_alive float8, OUT churn_probability float8, OUT expected_value float8)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT c.p_alive, c.churn_probability, c.expected_value
	  FROM @extschema@.churn_predict(ARRAY[customer], NULL, NULL) c
$$;
COMMENT ON FUNCTION @extschema@.customer_churn(text) IS
	'P(alive), churn probability and expected order value of a customer under the model named in settings.churn_model';

-- What every model says of the given customers (NULL: everyone with facts)
-- at tagscrm.now(): one row per customer and model, with the moment time
-- alone may change it (NULL: not by time alone).  C (model_values.c), set
-- based over the batch: the settings once, then one query with a plan kept
-- for the backend that reads each customer's facts, event kinds and days,
-- the models decided in C; churn_predict for the churn risk when a churn
-- model is set.  The models, as model_values.c implements and documents
-- them:
--   rfm          the RFM segment (rfm_classify against rfm_state's
--                breakpoints and settings.rfm_basis), for a customer with an
--                order; only recency moves with time, so it changes when R
--                stops being high: last order + ceil(basis) days.
--   lifecycle    new, first_purchase, repeat, super by orders (if
--                ecommerce_ladder); sales_stage stranger .. super by orders,
--                intent events and events (if high_ticket_ladder); neither
--                moves with time.
--   status       active, silent, lost by days since the last order or event
--                of a kind in status_event_kinds; changes at last activity +
--                active_days, + lost_days.
--   level        1 + the level_thresholds reached by points (orders, amount,
--                active days, reviews, a bonus while the last order is within
--                level_recent_days); changes when the bonus ends.
--   churn_risk   from churn_predict when settings.churn_model is set;
--                changes when 1 - P(alive) reaches the next threshold
--                (churn_predict's risk_changes_at).
--   loyalty      the share of the last loyalty_periods periods of
--                loyalty_cycle_days local days (from Monday 2000-01-03) with
--                a counted day, banded; changes at the first period boundary
--                whose band differs.
--   attr:<key>   each non-blank watched attribute; age_band from the birth
--                date (age at the local date), changing on the birthday that
--                reaches the next band boundary.
-- Two kept plans, for a batch and for everyone, rather than one with
-- "customers IS NULL OR f.customer_id = ANY (customers)": the OR would scan
-- every fact row and search the array linearly for each one.  Reads only
-- tagscrm's own tables: no user code runs.
CREATE FUNCTION @extschema@.model_values(customers text[])
RETURNS TABLE (customer_id text, model text, value text, changes_at timestamptz)
AS 'MODULE_PATHNAME', 'tagscrm_model_values'
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp
ROWS 1000;
COMMENT ON FUNCTION @extschema@.model_values(text[]) IS
	'What each model says of the customers now, and when time alone may change it';

-- The RFM segment alone (the part of model_values that the nightly refresh
-- re-scores against new breakpoints), without the other models' lookups.
CREATE FUNCTION @extschema@.model_values_rfm(customers text[])
RETURNS TABLE (customer_id text, model text, value text, changes_at timestamptz)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT f.customer_id, 'rfm',
       (@extschema@.rfm_classify(@extschema@.days_between(f.last_order_at, n.at), f.order_count,
                                 f.order_total::float8, r.breakpoints, s.rfm_basis)).segment,
       CASE WHEN @extschema@.days_between(f.last_order_at, n.at) < b.basis
            THEN f.last_order_at + make_interval(secs => 86400 * ceil(b.basis)) END
  FROM (SELECT * FROM @extschema@.customer_fact f WHERE customers IS NULL
        UNION ALL
        SELECT * FROM @extschema@.customer_fact f WHERE f.customer_id = ANY (customers)) f,
       @extschema@.settings s, @extschema@.rfm_state r, (SELECT @extschema@.now() AS at) n,
       LATERAL (SELECT CASE s.rfm_basis WHEN 'mean' THEN (r.breakpoints).r_mean ELSE (r.breakpoints).r_median END AS basis) b
 WHERE f.order_count > 0 AND f.last_order_at IS NOT NULL AND r.breakpoints IS NOT NULL
$$;
COMMENT ON FUNCTION @extschema@.model_values_rfm(text[]) IS
	'What the RFM model says of the customers now (the rfm rows of model_values), and when time alone may change it';

-- Attribute values seen for the first time become tags of their group
-- ("city: Shanghai" in group "city").
CREATE FUNCTION @extschema@.ensure_attribute_tags(customers text[]) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	attribute text;
	new_values text[];
BEGIN
	FOR attribute, new_values IN
		SELECT a.key, array_agg(DISTINCT a.value ORDER BY a.value)
		  FROM (SELECT * FROM @extschema@.customer_fact f WHERE customers IS NULL
		        UNION ALL   -- rather than an OR: see model_values
		        SELECT * FROM @extschema@.customer_fact f WHERE f.customer_id = ANY (customers)) f,
		       jsonb_each_text(f.attributes) a
		 WHERE a.value IS NOT NULL AND btrim(a.value) <> ''
		   AND NOT EXISTS (SELECT FROM @extschema@.model_tag mt WHERE mt.model = 'attr:' || a.key AND mt.value = a.value)
		 GROUP BY a.key
	LOOP
		PERFORM @extschema@.ensure_model_tags('attr:' || attribute, attribute, 'attribute', 'realtime',
			'From the watched customer table',
			(SELECT array_agg(x ORDER BY v, k) FROM unnest(new_values) v,
			        LATERAL (VALUES (1, v), (2, attribute || ': ' || v)) l(k, x)));
	END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.ensure_attribute_tags(text[]) IS
	'Internal: creates tags for attribute values not seen before';

-- The age band tags for the current settings.
CREATE FUNCTION @extschema@.ensure_age_band_tags() RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT @extschema@.ensure_model_tags('age_band', 'age band', 'attribute', 'daily', 'Age band from the birth date',
		(SELECT array_agg(x ORDER BY a, k)
		   FROM @extschema@.settings s,
		        LATERAL (SELECT -1 AS a UNION ALL SELECT unnest(s.age_bands)) ages,
		        LATERAL (SELECT @extschema@.age_band(ages.a, s.age_bands) AS band) b,
		        LATERAL (VALUES (1, b.band), (2, 'age ' || b.band)) l(k, x)))
$$;
COMMENT ON FUNCTION @extschema@.ensure_age_band_tags() IS 'Internal: creates the age band tags';

-- Brings the model and attribute tags of these customers (NULL: everyone) in
-- line with model_values(), with history, and stores when time alone may next
-- change them; returns the number of tag changes.  Callers hold the
-- customers' fact locks (or an exclusive lock on customer_fact for
-- everyone).  rfm_only: the nightly re-score against new breakpoints, which
-- touches the RFM segment alone.  In C (sync_models.c): three reads over the
-- batch, the diff, then only the writes that change something, every plan
-- kept for the session.
CREATE FUNCTION @extschema@.sync_models(customers text[], rfm_only boolean DEFAULT false) RETURNS bigint
	AS 'MODULE_PATHNAME', 'tagscrm_sync_models'
	LANGUAGE C VOLATILE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.sync_models(text[], boolean) IS
	'Internal: brings model and attribute tags in line with the facts, with history';
