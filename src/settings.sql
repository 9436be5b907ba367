
-- ---------------------------------------------------------------------------
-- settings.sql: the installation's thresholds, one row (the models read them;
-- they name a stored churn model of churn.sql, so they follow it)
-- ---------------------------------------------------------------------------

-- Settings: one row.  Change it with UPDATE (admins), then run refresh().
CREATE TABLE @extschema@.settings (
	singleton           boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	time_zone           text NOT NULL DEFAULT 'UTC',
	active_days         integer NOT NULL DEFAULT 30 CHECK (active_days > 0),
	lost_days           integer NOT NULL DEFAULT 90,
	status_event_kinds  text[] NOT NULL DEFAULT '{}',   -- event kinds that also keep a customer active
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
	-- loyalty (docs/models.md): L = share of the last loyalty_periods cycles of
	-- loyalty_cycle_days days with a purchase day (or an active day), banded
	loyalty_model       boolean NOT NULL DEFAULT true,
	loyalty_cycle_days  integer NOT NULL DEFAULT 30,
	loyalty_periods     integer NOT NULL DEFAULT 6,
	loyalty_basis       text NOT NULL DEFAULT 'orders',
	-- 1/3 and 2/3 as float8: L = c / n is a float8 division too, so an L of
	-- exactly 2/3 (4 of 6 periods) meets the upper threshold
	loyalty_bands       float8[] NOT NULL DEFAULT ARRAY[1::float8 / 3, 2::float8 / 3],
	CHECK (0 < churn_medium AND churn_medium < churn_high AND churn_high < 1),
	CHECK (lost_days > active_days),
	CHECK (pg_catalog.array_length(level_thresholds, 1) = 4),
	CHECK (pg_catalog.array_length(age_bands, 1) BETWEEN 1 AND 12)
);
INSERT INTO @extschema@.settings DEFAULT VALUES;
CREATE TRIGGER replace_singleton BEFORE INSERT ON @extschema@.settings
	FOR EACH ROW EXECUTE FUNCTION @extschema@.replace_singleton();
SELECT pg_catalog.pg_extension_config_dump('@extschema@.settings', '');
COMMENT ON TABLE @extschema@.settings IS
	'Model thresholds for this installation (one row); UPDATE it, then SELECT tagscrm.refresh()';

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
	IF EXISTS (SELECT FROM unnest(NEW.status_event_kinds) k WHERE k IS NULL OR btrim(k) = '')
	   OR pg_catalog.array_ndims(NEW.status_event_kinds) > 1
	   OR (SELECT count(DISTINCT k) <> count(*) FROM unnest(NEW.status_event_kinds) k) THEN
		RAISE EXCEPTION 'status event kinds must be distinct, non-blank event kinds'
			USING ERRCODE = '22023', DETAIL = format('Got %s.', NEW.status_event_kinds),
			      HINT = 'For example {login,visit}; {} (the default) bases status on orders alone.';
	END IF;
	IF NEW.loyalty_cycle_days NOT BETWEEN 1 AND 3660 THEN
		RAISE EXCEPTION 'loyalty cycle of % days is out of range', NEW.loyalty_cycle_days
			USING ERRCODE = '22023', HINT = 'The consumption cycle t is 1 to 3660 days, for example 30 (a month) or 7 (a week).';
	END IF;
	IF NEW.loyalty_periods NOT BETWEEN 1 AND 1000 THEN
		RAISE EXCEPTION 'loyalty window of % periods is out of range', NEW.loyalty_periods
			USING ERRCODE = '22023', HINT = 'The number of periods n is 1 to 1000, for example 6.';
	END IF;
	IF NEW.loyalty_basis NOT IN ('orders', 'active') THEN
		RAISE EXCEPTION 'unknown loyalty basis "%"', NEW.loyalty_basis
			USING ERRCODE = '22023', HINT = '''orders'' counts days with a purchase, ''active'' days with any order or event.';
	END IF;
	IF pg_catalog.array_ndims(NEW.loyalty_bands) IS DISTINCT FROM 1 OR pg_catalog.cardinality(NEW.loyalty_bands) <> 2
	   OR NEW.loyalty_bands[1] IS NULL OR NEW.loyalty_bands[2] IS NULL
	   OR NOT (0 < NEW.loyalty_bands[1] AND NEW.loyalty_bands[1] < NEW.loyalty_bands[2] AND NEW.loyalty_bands[2] <= 1) THEN
		RAISE EXCEPTION 'loyalty bands % are not two ascending shares in (0, 1]', NEW.loyalty_bands
			USING ERRCODE = '22023',
			      HINT = 'Give {regular, loyal}: the least L of a regular and of a loyal customer, for example ARRAY[1/3.0, 2/3.0] (the default).';
	END IF;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.check_settings() IS 'Internal: validates the settings row';
CREATE TRIGGER check_settings BEFORE INSERT OR UPDATE ON @extschema@.settings
	FOR EACH ROW EXECUTE FUNCTION @extschema@.check_settings();
