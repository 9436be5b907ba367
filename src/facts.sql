
-- ---------------------------------------------------------------------------
-- facts.sql: per-customer facts kept from the watched tables
--
-- Inserts are applied as deltas (INSERT ... ON CONFLICT DO UPDATE SET
-- n = n + EXCLUDED.n), which is exact under READ COMMITTED without further
-- locks.  Deletes and updates are not invertible for first/last times and
-- active days, so those customers are recomputed from the base tables, after
-- their fact rows are locked in id order, by statements that take a fresh
-- snapshot (RELIABILITY.md 5.2).  Lock order everywhere: customer_fact, then
-- customer_day / customer_event_fact, then customer / customer_tag.
-- ---------------------------------------------------------------------------

CREATE TABLE @extschema@.customer_fact (
	customer_id     text PRIMARY KEY,
	first_order_at  timestamptz,
	last_order_at   timestamptz,
	order_count     bigint NOT NULL DEFAULT 0,
	order_total     numeric NOT NULL DEFAULT 0,
	first_event_at  timestamptz,
	last_event_at   timestamptz,
	event_count     bigint NOT NULL DEFAULT 0,
	in_customers    boolean NOT NULL DEFAULT false,  -- a row in the watched customer table
	attributes      jsonb,                           -- its watched attribute columns
	birth_date      date,
	next_change_at  timestamptz                      -- when time alone may change a tag
);
CREATE INDEX customer_fact_next_change_idx ON @extschema@.customer_fact (next_change_at);
COMMENT ON TABLE @extschema@.customer_fact IS
	'Per-customer facts from the watched tables; next_change_at says when time alone may change a tag';

-- Orders and events per customer and calendar day (in settings.time_zone);
-- a day with either counts as an active day.
CREATE TABLE @extschema@.customer_day (
	customer_id text NOT NULL,
	day         date NOT NULL,
	orders      bigint NOT NULL DEFAULT 0,
	events      bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (customer_id, day)
);
COMMENT ON TABLE @extschema@.customer_day IS 'Orders and events per customer and day: active days';

CREATE TABLE @extschema@.customer_event_fact (
	customer_id text NOT NULL,
	kind        text NOT NULL,
	events      bigint NOT NULL,
	first_at    timestamptz,
	last_at     timestamptz,
	PRIMARY KEY (customer_id, kind)
);
COMMENT ON TABLE @extschema@.customer_event_fact IS 'Events per customer and kind: count, first and last';

-- Derived data: rebuilt by refresh(rebuild => true), so dumping it is optional;
-- it is dumped anyway so that a restored database is current at once.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.customer_fact', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.customer_day', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.customer_event_fact', '');

-- Settings: one row.  Change it with UPDATE (admins), then run refresh().
CREATE TABLE @extschema@.settings (
	singleton           boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	time_zone           text NOT NULL DEFAULT 'UTC',
	active_days         integer NOT NULL DEFAULT 30 CHECK (active_days > 0),
	lost_days           integer NOT NULL DEFAULT 90,
	rfm_basis           text NOT NULL DEFAULT 'mean' CHECK (rfm_basis IN ('mean', 'median')),
	super_orders        integer NOT NULL DEFAULT 5 CHECK (super_orders >= 3),
	intent_kind         text NOT NULL DEFAULT 'consult',
	intent_events       integer NOT NULL DEFAULT 3 CHECK (intent_events > 0),
	review_kind         text NOT NULL DEFAULT 'review',
	level_per_order     float8 NOT NULL DEFAULT 10 CHECK (level_per_order >= 0),
	level_per_amount    float8 NOT NULL DEFAULT 0.01 CHECK (level_per_amount >= 0),
	level_per_active_day float8 NOT NULL DEFAULT 1 CHECK (level_per_active_day >= 0),
	level_per_review    float8 NOT NULL DEFAULT 5 CHECK (level_per_review >= 0),
	level_recent_bonus  float8 NOT NULL DEFAULT 20 CHECK (level_recent_bonus >= 0),
	level_recent_days   integer NOT NULL DEFAULT 90 CHECK (level_recent_days > 0),
	level_thresholds    float8[] NOT NULL DEFAULT '{50,150,400,1000}',
	age_bands           integer[] NOT NULL DEFAULT '{18,25,35,45,55,65}',
	ecommerce_ladder    boolean NOT NULL DEFAULT true,
	high_ticket_ladder  boolean NOT NULL DEFAULT false,
	churn_model         text REFERENCES @extschema@.churn_model ON DELETE SET NULL,   -- predictive tags from this model
	churn_high          float8 NOT NULL DEFAULT 0.7,
	churn_medium        float8 NOT NULL DEFAULT 0.4,
	bulk_rows           integer DEFAULT 10000 CHECK (bulk_rows >= 0),   -- larger statements: applied after commit; NULL: never
	CHECK (0 < churn_medium AND churn_medium < churn_high AND churn_high < 1),
	CHECK (lost_days > active_days),
	CHECK (pg_catalog.array_length(level_thresholds, 1) = 4),
	CHECK (pg_catalog.array_length(age_bands, 1) BETWEEN 1 AND 12)
);
INSERT INTO @extschema@.settings DEFAULT VALUES;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.settings', '');
COMMENT ON TABLE @extschema@.settings IS
	'Model thresholds for this installation (one row); UPDATE it, then SELECT tagscrm.refresh()';

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
CREATE TRIGGER replace_singleton BEFORE INSERT ON @extschema@.settings
	FOR EACH ROW EXECUTE FUNCTION @extschema@.replace_singleton();

-- Checks the settings row as a whole (things a CHECK constraint cannot say).
CREATE FUNCTION @extschema@.check_settings() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_timezone_names WHERE name = NEW.time_zone)
	   AND NOT EXISTS (SELECT FROM pg_timezone_abbrevs WHERE abbrev = NEW.time_zone) THEN
		RAISE EXCEPTION 'unknown time zone "%"', NEW.time_zone
			USING ERRCODE = '22023', HINT = 'Use a name from pg_timezone_names, such as ''Asia/Shanghai''.';
	END IF;
	IF EXISTS (SELECT FROM unnest(NEW.level_thresholds) WITH ORDINALITY a(v, i)
	                  JOIN unnest(NEW.level_thresholds) WITH ORDINALITY b(v, i) ON b.i = a.i + 1
	            WHERE b.v <= a.v) THEN
		RAISE EXCEPTION 'level thresholds must ascend' USING ERRCODE = '22023', HINT = 'For example {50,150,400,1000}.';
	END IF;
	IF EXISTS (SELECT FROM unnest(NEW.age_bands) WITH ORDINALITY a(v, i)
	                  JOIN unnest(NEW.age_bands) WITH ORDINALITY b(v, i) ON b.i = a.i + 1
	            WHERE b.v <= a.v) OR NEW.age_bands[1] < 0 THEN
		RAISE EXCEPTION 'age bands must be ascending ages from 0' USING ERRCODE = '22023', HINT = 'For example {18,25,35,45,55,65}.';
	END IF;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.check_settings() IS 'Internal: validates the settings row';
CREATE TRIGGER check_settings BEFORE INSERT OR UPDATE ON @extschema@.settings
	FOR EACH ROW EXECUTE FUNCTION @extschema@.check_settings();

-- A customer's BG/NBD churn figures under the model named in the settings,
-- from the facts: repeat purchases x (order days - 1, same-day orders merged),
-- t_x and T in the model's time unit from the first order.  NULL without a
-- model or an order.
CREATE FUNCTION @extschema@.customer_churn(customer text,
	OUT p_alive float8, OUT churn_probability float8, OUT expected_value float8)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT p.p, 1 - p.p, @extschema@.gamma_gamma_expected_value(@extschema@.churn_model_gamma_gamma(m), d.x,
	                                                           COALESCE(f.order_total / f.order_count, 0)::float8)
	  FROM @extschema@.customer_fact f
	  JOIN @extschema@.settings s ON true
	  JOIN @extschema@.churn_model m ON m.name = s.churn_model
	  CROSS JOIN LATERAL (SELECT count(*) - 1 AS x FROM @extschema@.customer_day d
	                       WHERE d.customer_id = f.customer_id AND d.orders > 0) n   -- repeat purchase days
	  CROSS JOIN LATERAL (
		SELECT n.x,
		       -- with no repeat purchase day there is no last repeat purchase: t_x = 0
		       CASE WHEN n.x > 0
		            THEN extract(epoch FROM f.last_order_at - f.first_order_at) / extract(epoch FROM m.time_unit)
		            ELSE 0 END AS t_x,
		       extract(epoch FROM @extschema@.now() - f.first_order_at) / extract(epoch FROM m.time_unit) AS t) d
	  CROSS JOIN LATERAL (SELECT @extschema@.bgnbd_p_alive(@extschema@.churn_model_bgnbd(m), d.x::float8,
	                                                       d.t_x::float8, GREATEST(d.t, d.t_x)::float8) AS p) p
	 WHERE f.customer_id = customer AND f.order_count > 0 AND f.first_order_at IS NOT NULL
$$;
COMMENT ON FUNCTION @extschema@.customer_churn(text) IS
	'P(alive), churn probability and expected order value of a customer under the model named in settings.churn_model';

-- Elapsed whole days (24 h periods) between two moments: immune to DST.
-- In C (session.c): the models call it several times per customer.
CREATE FUNCTION @extschema@.days_between(since timestamptz, until timestamptz) RETURNS integer
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'tagscrm_days_between';
COMMENT ON FUNCTION @extschema@.days_between(timestamptz, timestamptz) IS
	'Whole elapsed days (periods of 24 hours) from since to until';

-- Registers fact rows for these customers and locks them in id order.
CREATE FUNCTION @extschema@.lock_facts(customers text[]) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	INSERT INTO @extschema@.customer_fact (customer_id)
	SELECT DISTINCT c FROM unnest(customers) c WHERE c IS NOT NULL ORDER BY 1
	ON CONFLICT DO NOTHING;
	PERFORM FROM @extschema@.customer_fact f
	  WHERE f.customer_id = ANY (customers)
	  ORDER BY f.customer_id
	  FOR UPDATE;
END
$$;
COMMENT ON FUNCTION @extschema@.lock_facts(text[]) IS
	'Internal: registers and locks fact rows in customer id order';

-- Delta for the days of inserted orders or events (counts: 'orders' or
-- 'events'); one static statement, so its plan is cached.
CREATE FUNCTION @extschema@.add_days(customers text[], ats timestamptz[], counts text, tz text) RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	INSERT INTO @extschema@.customer_day AS d (customer_id, day, orders, events)
	SELECT u.c, (u.a AT TIME ZONE tz)::date,
	       count(*) FILTER (WHERE counts = 'orders'), count(*) FILTER (WHERE counts = 'events')
	  FROM unnest(customers, ats) AS u(c, a)
	 WHERE u.c IS NOT NULL AND u.a IS NOT NULL
	 GROUP BY 1, 2 ORDER BY 1, 2
	ON CONFLICT (customer_id, day) DO UPDATE SET orders = d.orders + EXCLUDED.orders, events = d.events + EXCLUDED.events;
END;
COMMENT ON FUNCTION @extschema@.add_days(text[], timestamptz[], text, text) IS
	'Internal: applies inserted orders or events to the per-day counts as deltas';

-- Delta for inserted orders.  Returns the customers touched.
CREATE FUNCTION @extschema@.add_orders(customers text[], ats timestamptz[], amounts numeric[]) RETURNS text[]
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	tz text := (SELECT s.time_zone FROM @extschema@.settings s);
	touched text[];
BEGIN
	WITH per AS (
		SELECT c AS customer_id, min(a) AS first_at, max(a) AS last_at, count(*) AS n, COALESCE(sum(m), 0) AS total
		  FROM unnest(customers, ats, amounts) AS u(c, a, m)
		 WHERE c IS NOT NULL
		 GROUP BY c),
	upserted AS (
		INSERT INTO @extschema@.customer_fact AS f (customer_id, first_order_at, last_order_at, order_count, order_total)
		SELECT * FROM per ORDER BY customer_id
		ON CONFLICT (customer_id) DO UPDATE
		   SET first_order_at = LEAST(f.first_order_at, EXCLUDED.first_order_at),
		       last_order_at = GREATEST(f.last_order_at, EXCLUDED.last_order_at),
		       order_count = f.order_count + EXCLUDED.order_count,
		       order_total = f.order_total + EXCLUDED.order_total
		RETURNING f.customer_id)
	SELECT array_agg(customer_id) INTO touched FROM upserted;

	PERFORM @extschema@.add_days(customers, ats, 'orders', tz);
	RETURN touched;
END
$$;
COMMENT ON FUNCTION @extschema@.add_orders(text[], timestamptz[], numeric[]) IS
	'Internal: applies inserted orders to the facts as deltas';

-- Delta for inserted events.  Returns the customers touched.
CREATE FUNCTION @extschema@.add_events(customers text[], ats timestamptz[], kinds text[]) RETURNS text[]
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	tz text := (SELECT s.time_zone FROM @extschema@.settings s);
	touched text[];
BEGIN
	WITH per AS (
		SELECT c AS customer_id, min(a) AS first_at, max(a) AS last_at, count(*) AS n
		  FROM unnest(customers, ats) AS u(c, a)
		 WHERE c IS NOT NULL
		 GROUP BY c),
	upserted AS (
		INSERT INTO @extschema@.customer_fact AS f (customer_id, first_event_at, last_event_at, event_count)
		SELECT * FROM per ORDER BY customer_id
		ON CONFLICT (customer_id) DO UPDATE
		   SET first_event_at = LEAST(f.first_event_at, EXCLUDED.first_event_at),
		       last_event_at = GREATEST(f.last_event_at, EXCLUDED.last_event_at),
		       event_count = f.event_count + EXCLUDED.event_count
		RETURNING f.customer_id)
	SELECT array_agg(customer_id) INTO touched FROM upserted;

	INSERT INTO @extschema@.customer_event_fact AS e (customer_id, kind, events, first_at, last_at)
	SELECT c, COALESCE(k, ''), count(*), min(a), max(a)
	  FROM unnest(customers, ats, kinds) AS u(c, a, k)
	 WHERE c IS NOT NULL
	 GROUP BY 1, 2 ORDER BY 1, 2
	ON CONFLICT (customer_id, kind) DO UPDATE
	   SET events = e.events + EXCLUDED.events,
	       first_at = LEAST(e.first_at, EXCLUDED.first_at),
	       last_at = GREATEST(e.last_at, EXCLUDED.last_at);

	PERFORM @extschema@.add_days(customers, ats, 'events', tz);
	RETURN touched;
END
$$;
COMMENT ON FUNCTION @extschema@.add_events(text[], timestamptz[], text[]) IS
	'Internal: applies inserted events to the facts as deltas';
