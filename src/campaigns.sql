
-- ---------------------------------------------------------------------------
-- campaigns.sql: the effect of a campaign.  A campaign names who was reached
-- and when (and, optionally, a control group held out); campaign_effect()
-- gives per saved segment or per tag the conversion rate, orders and revenue
-- in a window of days after the contact, against the control group or the
-- unreached members of the same segment or tag, with the uplift (stage 7:
-- reads the tags, the segments and the per-day facts)
--
-- Membership counts as of the campaign's registration: create_campaign()
-- keeps a snapshot of every saved segment, every tag and every customer as
-- customer sets, since customer_tag holds only the present.  Orders come from
-- customer_day (purchases per customer and day in settings.time_zone), so no
-- user table is read: a window of N days after a contact on day D is the days
-- D .. D + N - 1 (docs/campaigns.md).
-- ---------------------------------------------------------------------------

CREATE TABLE @extschema@.campaign (
	campaign_id       serial PRIMARY KEY,
	name              text NOT NULL,
	started_at        timestamptz NOT NULL,
	conversion_window interval NOT NULL,
	description       text,
	created_by        text NOT NULL,
	created_at        timestamptz NOT NULL   -- the moment of the membership snapshot
);
CREATE UNIQUE INDEX campaign_name_key ON @extschema@.campaign (pg_catalog.lower(name));
COMMENT ON TABLE @extschema@.campaign IS
	'Campaigns: when each started, its conversion window (whole days) and when its membership snapshot was taken';

-- The snapshot: the members of every saved segment (by 'segment'), of every
-- active tag held by someone (by 'tag') and every customer (by 'all'), at
-- the campaign's registration, under their names then.
CREATE TABLE @extschema@.campaign_group (
	campaign_id integer NOT NULL REFERENCES @extschema@.campaign ON DELETE CASCADE,
	grouping    text NOT NULL CHECK (grouping IN ('segment', 'tag', 'all')),
	name        text NOT NULL,
	members     @extschema@.customer_set NOT NULL,
	PRIMARY KEY (campaign_id, grouping, name)
);
COMMENT ON TABLE @extschema@.campaign_group IS
	'Internal: the members of each segment and tag (and all customers) when a campaign was registered';

CREATE TABLE @extschema@.campaign_contact (
	campaign_id integer NOT NULL REFERENCES @extschema@.campaign ON DELETE CASCADE,
	customer_id text NOT NULL CHECK (customer_id <> '' AND length(customer_id) <= 256),
	reached_at  timestamptz NOT NULL,   -- for the control group: when it was held out
	control     boolean NOT NULL,
	added_by    text NOT NULL,
	added_at    timestamptz NOT NULL,
	PRIMARY KEY (campaign_id, customer_id)
);
COMMENT ON TABLE @extschema@.campaign_contact IS
	'The customers each campaign reached, and those it held out as its control group';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.campaign', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.campaign_campaign_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.campaign_group', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.campaign_contact', '');

CREATE FUNCTION @extschema@.find_campaign(campaign text) RETURNS @extschema@.campaign
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c @extschema@.campaign;
BEGIN
	IF campaign IS NULL THEN
		RAISE EXCEPTION 'campaign name must not be null' USING ERRCODE = '22004', HINT = 'Name a campaign.';
	END IF;
	SELECT * INTO c FROM @extschema@.campaign x WHERE lower(x.name) = @extschema@.name_key(campaign);
	IF NOT FOUND THEN
		RAISE EXCEPTION 'campaign "%" does not exist', campaign
			USING ERRCODE = '42704', HINT = 'See tagscrm.campaigns for the campaigns, or register one with tagscrm.create_campaign().';
	END IF;
	RETURN c;
END
$$;
COMMENT ON FUNCTION @extschema@.find_campaign(text) IS 'Internal: the campaign of that name, or an error';

-- A conversion window is a positive whole number of days: the orders are
-- known per day.  Returns the number of days.
CREATE FUNCTION @extschema@.window_days(conversion_window interval) RETURNS integer
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	days integer;
BEGIN
	IF conversion_window IS NULL THEN
		RAISE EXCEPTION 'conversion window must not be null' USING ERRCODE = '22004',
			HINT = 'Give a number of days, such as interval ''14 days''.';
	END IF;
	days := extract(day FROM conversion_window)::integer;
	IF conversion_window <> make_interval(days => days) THEN
		RAISE EXCEPTION 'conversion window % is not a whole number of days', conversion_window USING ERRCODE = '22023',
			HINT = 'Orders are counted per day: give days (or weeks), such as interval ''14 days'', not months or hours.';
	END IF;
	IF days <= 0 THEN
		RAISE EXCEPTION 'conversion window % is not positive', conversion_window USING ERRCODE = '22023',
			HINT = 'Give at least one day, such as interval ''14 days''.';
	END IF;
	RETURN days;
END
$$;
COMMENT ON FUNCTION @extschema@.window_days(interval) IS
	'Internal: the days of a conversion window, or an error unless it is a positive whole number of days';

-- Registers a campaign and takes its membership snapshot (now).
-- SECURITY DEFINER: it writes tagscrm's tables and reads the tag sets.
CREATE FUNCTION @extschema@.create_campaign(name text, started_at timestamptz DEFAULT NULL,
                                            conversion_window interval DEFAULT '30 days',
                                            description text DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	clean text := @extschema@.check_name('campaign', name);
	id integer;
BEGIN
	PERFORM @extschema@.window_days(conversion_window);
	IF EXISTS (SELECT FROM @extschema@.campaign c WHERE lower(c.name) = @extschema@.name_key(clean)) THEN
		RAISE EXCEPTION 'campaign "%" already exists', clean
			USING ERRCODE = '42710', HINT = 'Choose another name, or drop the old campaign with tagscrm.drop_campaign().';
	END IF;
	INSERT INTO @extschema@.campaign (name, started_at, conversion_window, description, created_by, created_at)
	VALUES (clean, COALESCE(started_at, @extschema@.now()), conversion_window, description,
	        @extschema@.acting_role(), @extschema@.now())
	RETURNING campaign_id INTO id;
	INSERT INTO @extschema@.campaign_group (campaign_id, grouping, name, members)
	SELECT id, 'all', 'all customers', @extschema@.tag_set(0)
	UNION ALL
	SELECT id, 'segment', s.name, @extschema@.segment_set(s.name) FROM @extschema@.segment s
	UNION ALL
	-- the holders as customer_tags shows them (an expired assignment not yet removed left out)
	SELECT id, 'tag', t.name, m.members
	  FROM (SELECT ct.tag_id, @extschema@.customer_set_agg(k.key) AS members
	          FROM @extschema@.customer_tag ct JOIN @extschema@.customer_key k ON k.customer_id = ct.customer_id
	         WHERE ct.expires_at IS NULL OR ct.expires_at > @extschema@.now()
	         GROUP BY ct.tag_id) m
	  JOIN @extschema@.tag t ON t.tag_id = m.tag_id
	 WHERE t.status = 'active';
	RETURN id;
END
$$;
COMMENT ON FUNCTION @extschema@.create_campaign(text, timestamptz, interval, text) IS
	'Registers a campaign (start, conversion window in days) and keeps who belongs to each segment and tag now; returns its id';

-- Adds customers the campaign reached at reached_at (or, with control, held
-- out then).  A customer already in the campaign is skipped if in the same
-- group and refused if in the other.  Returns how many were added.
CREATE FUNCTION @extschema@.add_campaign_contacts(campaign text, customers text[], control boolean DEFAULT false,
                                                  reached_at timestamptz DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c @extschema@.campaign := @extschema@.find_campaign(campaign);
	reach_time timestamptz := COALESCE(reached_at, @extschema@.now());
	bad record;
	n bigint;
BEGIN
	IF customers IS NULL OR control IS NULL THEN
		RAISE EXCEPTION 'customers and control must not be null' USING ERRCODE = '22004',
			HINT = 'Pass an array of customer ids, and control => true for a control group.';
	END IF;
	SELECT u.c, u.n INTO bad FROM unnest(customers) WITH ORDINALITY u(c, n)
	 WHERE u.c IS NULL OR btrim(u.c) = '' OR length(u.c) > 256 ORDER BY u.n LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'customer id % of the array is %', bad.n,
			CASE WHEN bad.c IS NULL THEN 'null' WHEN btrim(bad.c) = '' THEN 'empty' ELSE 'longer than 256 characters' END
			USING ERRCODE = '22023', HINT = 'Pass customer ids of 1 to 256 characters.';
	END IF;
	IF reach_time < c.started_at THEN
		RAISE EXCEPTION 'reached_at % is before the start of campaign "%" (%)', reach_time, c.name, c.started_at
			USING ERRCODE = '22023', HINT = 'Contacts are reached (or held out) when the campaign has started.';
	END IF;
	-- serializes the additions to one campaign, so that the check below holds
	PERFORM FROM @extschema@.campaign x WHERE x.campaign_id = c.campaign_id FOR UPDATE;
	SELECT x.customer_id INTO bad FROM @extschema@.campaign_contact x
	 WHERE x.campaign_id = c.campaign_id AND x.customer_id = ANY (customers) AND x.control <> add_campaign_contacts.control
	 ORDER BY x.customer_id LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'customer % is already in the % of campaign "%"', bad.customer_id,
			CASE WHEN control THEN 'reached group' ELSE 'control group' END, c.name
			USING ERRCODE = '23505', HINT = 'A customer is either reached or held out, not both.';
	END IF;
	INSERT INTO @extschema@.campaign_contact (campaign_id, customer_id, reached_at, control, added_by, added_at)
	SELECT DISTINCT c.campaign_id, u.c, reach_time, control, @extschema@.acting_role(), @extschema@.now()
	  FROM unnest(customers) u(c)
	 ORDER BY 2
	ON CONFLICT DO NOTHING;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;
COMMENT ON FUNCTION @extschema@.add_campaign_contacts(text, text[], boolean, timestamptz) IS
	'Adds the customers a campaign reached at reached_at (control => true: held out as the control group); returns how many were new';

CREATE FUNCTION @extschema@.drop_campaign(campaign text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	DELETE FROM @extschema@.campaign x WHERE x.campaign_id = (@extschema@.find_campaign(campaign)).campaign_id;
END
$$;
COMMENT ON FUNCTION @extschema@.drop_campaign(text) IS 'Drops a campaign with its contacts and snapshot';

-- The report.  Per group (segment, tag, or all customers) of the snapshot
-- with at least one reached member: the reached members, those with a
-- purchase in their window, their purchases and revenue; the baseline: the
-- control group's members when the campaign has a control group, else the
-- members neither reached nor held out, each with the window from the
-- campaign's start.  SECURITY DEFINER: readers may not read the tables; it
-- returns aggregates only (as rule_values does).
CREATE FUNCTION @extschema@.campaign_effect(campaign text, by text DEFAULT 'segment',
                                            conversion_window interval DEFAULT NULL)
RETURNS TABLE (name text, reached bigint, converted bigint, conversion_rate numeric, orders bigint, revenue numeric,
               baseline text, baseline_customers bigint, baseline_converted bigint, baseline_rate numeric,
               baseline_orders bigint, baseline_revenue numeric, uplift numeric, relative_uplift numeric,
               window_complete boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c @extschema@.campaign := @extschema@.find_campaign(campaign);
	days integer := @extschema@.window_days(COALESCE(conversion_window, c.conversion_window));
	tz text := (SELECT s.time_zone FROM @extschema@.settings s);
	today date;
	has_control boolean;
BEGIN
	IF by IS NULL OR by NOT IN ('segment', 'tag', 'all') THEN
		RAISE EXCEPTION 'by must be segment, tag or all, not %', COALESCE(by, 'null') USING ERRCODE = '22023',
			HINT = 'by => ''segment'' gives a row per saved segment, ''tag'' per tag, ''all'' one row for everyone.';
	END IF;
	IF NOT EXISTS (SELECT FROM @extschema@.watched_table w WHERE w.role = 'orders') THEN
		RAISE EXCEPTION 'no orders table is watched' USING ERRCODE = '55000',
			HINT = 'Conversions are the purchases of the watched orders table: watch it with tagscrm.watch_orders().';
	END IF;
	today := (@extschema@.now() AT TIME ZONE tz)::date;
	has_control := EXISTS (SELECT FROM @extschema@.campaign_contact x WHERE x.campaign_id = c.campaign_id AND x.control);
	RETURN QUERY
	WITH contact AS MATERIALIZED (   -- each contact with its purchases in its window
		SELECT x.customer_id, k.key, x.control, count(d.day) FILTER (WHERE d.orders > 0) > 0 AS converted,
		       COALESCE(sum(d.orders), 0) AS orders, COALESCE(sum(d.amount), 0) AS revenue,
		       (x.reached_at AT TIME ZONE tz)::date + days AS window_end
		  FROM @extschema@.campaign_contact x
		  LEFT JOIN @extschema@.customer_key k ON k.customer_id = x.customer_id
		  LEFT JOIN @extschema@.customer_day d ON d.customer_id = x.customer_id
		        AND d.day >= (x.reached_at AT TIME ZONE tz)::date AND d.day < (x.reached_at AT TIME ZONE tz)::date + days
		 WHERE x.campaign_id = c.campaign_id
		 GROUP BY x.customer_id, k.key, x.control, x.reached_at),
	contacted AS (
		SELECT COALESCE(@extschema@.customer_set_agg(x.key), '{}') AS everyone FROM contact x),
	grp AS (
		SELECT g.name, g.members FROM @extschema@.campaign_group g
		 WHERE g.campaign_id = c.campaign_id AND g.grouping = by),
	member AS (   -- (group, contact) pairs: all contacts belong to "all customers"
		SELECT g.name, x.* FROM grp g CROSS JOIN contact x WHERE by = 'all'
		UNION ALL
		SELECT g.name, x.*
		  FROM grp g CROSS JOIN contacted
		 CROSS JOIN LATERAL @extschema@.customer_set_keys(g.members OPERATOR(@extschema@.&) contacted.everyone) m(key)
		  JOIN contact x ON x.key = m.key
		 WHERE by <> 'all'),
	per_group AS (
		SELECT m.name,
		       count(*) FILTER (WHERE NOT m.control) AS reached,
		       count(*) FILTER (WHERE NOT m.control AND m.converted) AS converted,
		       COALESCE(sum(m.orders) FILTER (WHERE NOT m.control), 0) AS orders,
		       COALESCE(sum(m.revenue) FILTER (WHERE NOT m.control), 0) AS revenue,
		       count(*) FILTER (WHERE m.control) AS held_out,
		       count(*) FILTER (WHERE m.control AND m.converted) AS held_out_converted,
		       COALESCE(sum(m.orders) FILTER (WHERE m.control), 0) AS held_out_orders,
		       COALESCE(sum(m.revenue) FILTER (WHERE m.control), 0) AS held_out_revenue,
		       max(m.window_end) AS last_window_end
		  FROM member m GROUP BY m.name),
	-- without a control group: every customer's purchases in the window from
	-- the campaign's start, for the members nobody reached
	buyer AS MATERIALIZED (
		SELECT k.key, sum(d.orders) AS orders, sum(d.amount) AS revenue
		  FROM @extschema@.customer_day d JOIN @extschema@.customer_key k ON k.customer_id = d.customer_id
		 WHERE NOT has_control AND d.orders > 0
		   AND d.day >= (c.started_at AT TIME ZONE tz)::date AND d.day < (c.started_at AT TIME ZONE tz)::date + days
		 GROUP BY k.key),
	buyers AS (
		SELECT COALESCE(@extschema@.customer_set_agg(b.key), '{}') AS keys FROM buyer b),
	unreached AS (
		SELECT g.name, @extschema@.customer_set_cardinality(g.members OPERATOR(@extschema@.-) contacted.everyone) AS customers,
		       v.converted, v.orders, v.revenue
		  FROM grp g CROSS JOIN contacted CROSS JOIN buyers
		 CROSS JOIN LATERAL (
			SELECT count(*) AS converted, COALESCE(sum(b.orders), 0) AS orders, COALESCE(sum(b.revenue), 0) AS revenue
			  FROM @extschema@.customer_set_keys((g.members OPERATOR(@extschema@.-) contacted.everyone)
			                                     OPERATOR(@extschema@.&) buyers.keys) m(key)
			  JOIN buyer b ON b.key = m.key) v
		 WHERE NOT has_control),
	figures AS (
		SELECT p.name, p.reached, p.converted, p.orders, p.revenue,
		       CASE WHEN has_control THEN 'control' ELSE 'unreached' END AS baseline,
		       CASE WHEN has_control THEN p.held_out ELSE u.customers END AS b_customers,
		       CASE WHEN has_control THEN p.held_out_converted ELSE u.converted END AS b_converted,
		       CASE WHEN has_control THEN p.held_out_orders ELSE u.orders END AS b_orders,
		       CASE WHEN has_control THEN p.held_out_revenue ELSE u.revenue END AS b_revenue,
		       -- the unreached baseline's window starts with the campaign
		       GREATEST(p.last_window_end, CASE WHEN NOT has_control THEN (c.started_at AT TIME ZONE tz)::date + days END)
		           <= today AS complete
		  FROM per_group p LEFT JOIN unreached u ON u.name = p.name
		 WHERE p.reached > 0),
	rates AS (
		SELECT f.*, f.converted::numeric / f.reached AS rate,
		       f.b_converted::numeric / NULLIF(f.b_customers, 0) AS b_rate
		  FROM figures f)
	SELECT r.name, r.reached, r.converted, round(r.rate, 4), r.orders::bigint, r.revenue,
	       r.baseline, r.b_customers, r.b_converted, round(r.b_rate, 4), r.b_orders::bigint, r.b_revenue,
	       round(r.rate - r.b_rate, 4), round((r.rate - r.b_rate) / NULLIF(r.b_rate, 0), 4), r.complete
	  FROM rates r
	 ORDER BY r.name;
END
$$;
COMMENT ON FUNCTION @extschema@.campaign_effect(text, text, interval) IS
	'Per segment, tag or all customers: reached, converted, rate, orders and revenue in the window, against the control group or the unreached members, with the uplift, and whether every window has ended';

CREATE VIEW @extschema@.campaigns AS
	SELECT c.name, c.started_at, c.conversion_window, c.description,
	       (SELECT count(*) FROM @extschema@.campaign_contact x WHERE x.campaign_id = c.campaign_id AND NOT x.control) AS reached,
	       (SELECT count(*) FROM @extschema@.campaign_contact x WHERE x.campaign_id = c.campaign_id AND x.control) AS control_group,
	       c.created_by, c.created_at AS members_at
	  FROM @extschema@.campaign c;
COMMENT ON VIEW @extschema@.campaigns IS
	'Each campaign: start, conversion window, how many it reached and held out, when its membership snapshot was taken';
