
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

-- What every model says of the given customers (NULL: everyone) at tagscrm.now():
-- one row per customer and model, with the moment time alone may change it.
-- PL/pgSQL rather than SQL so that its plan is kept for the session (a SQL
-- function is planned again on every call: most of a single-row write's
-- time), generic because the two branches of "customers" are decided at run
-- time by one-time filters.
CREATE FUNCTION @extschema@.model_values(customers text[])
RETURNS TABLE (customer_id text, model text, value text, changes_at timestamptz)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
BEGIN
RETURN QUERY
WITH s AS (SELECT * FROM @extschema@.settings),
bp AS (SELECT r.breakpoints AS bp FROM @extschema@.rfm_state r),
f AS (
	SELECT f.*, @extschema@.now() AS at,
	       -- status counts orders, and events only of the kinds settings name
	       GREATEST(f.last_order_at, k.status_event_at) AS last_active_at,
	       (SELECT count(*) FROM @extschema@.customer_day d WHERE d.customer_id = f.customer_id) AS active_days,
	       COALESCE(k.reviews, 0) AS reviews, COALESCE(k.intents, 0) AS intents
	  -- two branches, not "customers IS NULL OR ... = ANY (customers)": the OR
	  -- would scan every fact row and search the array linearly for each one
	  FROM (SELECT * FROM @extschema@.customer_fact f WHERE customers IS NULL
	        UNION ALL
	        SELECT * FROM @extschema@.customer_fact f WHERE f.customer_id = ANY (customers)) f
	  CROSS JOIN s
	  -- reviews, intents and status events in one probe of the customer's event kinds
	  CROSS JOIN LATERAL (SELECT max(e.events) FILTER (WHERE e.kind = s.review_kind) AS reviews,
	                             max(e.events) FILTER (WHERE e.kind = s.intent_kind) AS intents,
	                             max(e.last_at) FILTER (WHERE e.kind = ANY (s.status_event_kinds)) AS status_event_at
	                        FROM @extschema@.customer_event_fact e WHERE e.customer_id = f.customer_id) k)
-- RFM segment: only recency moves with time; R is high while recency < basis
SELECT f.customer_id, 'rfm',
       (@extschema@.rfm_classify(@extschema@.days_between(f.last_order_at, f.at), f.order_count,
                                 f.order_total::float8, bp.bp, s.rfm_basis)).segment,
       CASE WHEN @extschema@.days_between(f.last_order_at, f.at) < b.basis
            THEN f.last_order_at + make_interval(secs => 86400 * ceil(b.basis)) END
  FROM f, s, bp,
       LATERAL (SELECT CASE s.rfm_basis WHEN 'mean' THEN (bp.bp).r_mean ELSE (bp.bp).r_median END AS basis) b
 WHERE f.order_count > 0 AND f.last_order_at IS NOT NULL AND bp.bp IS NOT NULL
UNION ALL
SELECT f.customer_id, 'lifecycle',
       CASE WHEN f.order_count = 0 THEN 'new' WHEN f.order_count = 1 THEN 'first_purchase'
            WHEN f.order_count < s.super_orders THEN 'repeat' ELSE 'super' END, NULL
  FROM f, s WHERE s.ecommerce_ladder
UNION ALL
SELECT f.customer_id, 'sales_stage',
       CASE WHEN f.order_count >= s.super_orders THEN 'super' WHEN f.order_count >= 2 THEN 'repeat'
            WHEN f.order_count = 1 THEN 'first_order' WHEN f.intents >= s.intent_events THEN 'intent'
            WHEN f.event_count > 0 THEN 'potential' ELSE 'stranger' END, NULL
  FROM f, s WHERE s.high_ticket_ladder
UNION ALL
SELECT f.customer_id, 'status',
       CASE WHEN d < s.active_days THEN 'active' WHEN d < s.lost_days THEN 'silent' ELSE 'lost' END,
       CASE WHEN d < s.active_days THEN f.last_active_at + make_interval(secs => 86400 * s.active_days)
            WHEN d < s.lost_days THEN f.last_active_at + make_interval(secs => 86400 * s.lost_days) END
  FROM f, s, LATERAL (SELECT @extschema@.days_between(f.last_active_at, f.at) AS d) x
 WHERE f.last_active_at IS NOT NULL
UNION ALL
SELECT f.customer_id, 'level',
       (1 + (SELECT count(*) FROM unnest(s.level_thresholds) t WHERE t <= p.points))::text,
       CASE WHEN p.recent THEN f.last_order_at + make_interval(secs => 86400 * s.level_recent_days) END
  FROM f, s,
       LATERAL (SELECT f.last_order_at IS NOT NULL
                       AND @extschema@.days_between(f.last_order_at, f.at) < s.level_recent_days AS recent) r,
       LATERAL (SELECT r.recent,
                       s.level_per_order * f.order_count + s.level_per_amount * f.order_total::float8
                       + s.level_per_active_day * f.active_days + s.level_per_review * f.reviews
                       + CASE WHEN r.recent THEN s.level_recent_bonus ELSE 0 END AS points) p
 WHERE f.order_count > 0 OR f.event_count > 0
UNION ALL
-- churn risk: P(alive) falls as time passes without orders; the class
-- changes when 1 - P(alive) reaches the next threshold (churn_predict.c)
SELECT c.customer_id, 'churn_risk', c.risk, c.risk_changes_at
  FROM @extschema@.churn_predict(customers, NULL, NULL) c
 -- a one-time test: without a model, churn_predict is not called at all
 WHERE (SELECT x.churn_model FROM @extschema@.settings x) IS NOT NULL AND c.risk IS NOT NULL
UNION ALL
-- loyalty (our reading of seed 004, docs/models.md): periods are blocks of
-- t = loyalty_cycle_days local days counted from Monday 2000-01-03, the
-- window is the current period and the n - 1 before it, and L = (periods of
-- the window with a counted day) / n.  Time alone moves it only at a period
-- boundary, when a counted period leaves the window or a future-dated one
-- enters it: changes_at is the first such boundary whose band differs.
SELECT f.customer_id, 'loyalty', v.value, v.changes_at
  FROM f, s,
       LATERAL (SELECT floor(((f.at AT TIME ZONE s.time_zone)::date - date '2000-01-03')::float8
                             / s.loyalty_cycle_days)::integer AS p) cur,
       -- the counted periods from the window's start on (future-dated days included)
       LATERAL (SELECT array_agg(DISTINCT floor((d.day - date '2000-01-03')::float8 / s.loyalty_cycle_days)::integer) AS ks
                  FROM @extschema@.customer_day d
                 WHERE d.customer_id = f.customer_id
                   AND d.day >= date '2000-01-03' + (cur.p - s.loyalty_periods + 1) * s.loyalty_cycle_days
                   AND (d.orders > 0 OR s.loyalty_basis = 'active')) w,
       -- a counted day before the window: L = 0 then means lapsed, not never
       LATERAL (SELECT EXISTS (SELECT FROM @extschema@.customer_day d
                                WHERE d.customer_id = f.customer_id
                                  AND d.day < date '2000-01-03' + (cur.p - s.loyalty_periods + 1) * s.loyalty_cycle_days
                                  AND (d.orders > 0 OR s.loyalty_basis = 'active')) AS before) b,
       -- the band at the current period q = p and at every later period where
       -- the count can change: k + n (k leaves the window), k > p (k enters)
       LATERAL (
		SELECT c.value,
		       (date '2000-01-03' + min(c.q) FILTER (WHERE c.band IS DISTINCT FROM c.value) * s.loyalty_cycle_days)::timestamp
		           AT TIME ZONE s.time_zone AS changes_at
		  FROM (SELECT q.q, bd.band, first_value(bd.band) OVER (ORDER BY q.q) AS value
		          FROM (SELECT cur.p AS q UNION SELECT k + s.loyalty_periods FROM unnest(w.ks) k
		                UNION SELECT k FROM unnest(w.ks) k WHERE k > cur.p) q,
		               LATERAL (SELECT count(*) FILTER (WHERE k BETWEEN q.q - s.loyalty_periods + 1 AND q.q) AS c,
		                               b.before OR COALESCE(bool_or(k <= q.q - s.loyalty_periods), false) AS lapsed
		                          FROM unnest(w.ks) k) n,
		               LATERAL (SELECT CASE WHEN n.c = 0 THEN CASE WHEN n.lapsed THEN 'lapsed' END
		                                    WHEN n.c::float8 / s.loyalty_periods >= s.loyalty_bands[2] THEN 'loyal'
		                                    WHEN n.c::float8 / s.loyalty_periods >= s.loyalty_bands[1] THEN 'regular'
		                                    ELSE 'occasional' END AS band) bd) c
		 GROUP BY c.value) v
 WHERE s.loyalty_model AND (w.ks IS NOT NULL OR b.before)
UNION ALL
SELECT f.customer_id, 'attr:' || a.key, a.value, NULL
  FROM f, jsonb_each_text(f.attributes) a
 WHERE a.value IS NOT NULL AND btrim(a.value) <> ''
UNION ALL
SELECT f.customer_id, 'age_band', @extschema@.age_band(x.age, s.age_bands),
       -- the next birthday on which the age reaches the next band boundary
       (SELECT (f.birth_date + make_interval(years => b)) AT TIME ZONE s.time_zone
          FROM unnest(s.age_bands) b WHERE b > x.age ORDER BY b LIMIT 1)
  FROM f, s, LATERAL (SELECT date_part('year', age((f.at AT TIME ZONE s.time_zone)::date, f.birth_date))::integer AS age) x
 WHERE f.birth_date IS NOT NULL AND f.birth_date <= (f.at AT TIME ZONE s.time_zone)::date;
END
$$;
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
