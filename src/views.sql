
-- ---------------------------------------------------------------------------
-- views.sql: what readers and BI tools query: plain views over the library, the
-- tags and the facts, and one customer's profile (stage 7)
-- ---------------------------------------------------------------------------

CREATE VIEW @extschema@.tag_groups AS
	SELECT g.group_id, g.name, g.kind, g.exclusive, g.update_cycle, g.owner, g.description,
	       (SELECT count(*) FROM @extschema@.tag t WHERE t.group_id = g.group_id AND t.status = 'active') AS active_tags,
	       g.created_by, g.created_at
	  FROM @extschema@.tag_group g;
COMMENT ON VIEW @extschema@.tag_groups IS 'Tag groups with their number of active tags';

CREATE VIEW @extschema@.tags AS
	WITH RECURSIVE tree AS (
		SELECT t.tag_id, t.name::text AS path FROM @extschema@.tag t WHERE t.parent_id IS NULL
		UNION ALL
		SELECT c.tag_id, tree.path || ' > ' || c.name FROM @extschema@.tag c JOIN tree ON c.parent_id = tree.tag_id)
	SELECT t.tag_id, t.name, g.name AS group_name, g.kind, g.exclusive,
	       p.name AS parent, tree.path, t.description, t.status, t.method,
	       m.name AS merged_into,
	       ARRAY(SELECT a.alias FROM @extschema@.tag_alias a WHERE a.tag_id = t.tag_id ORDER BY a.alias) AS aliases,
	       (SELECT count(*) FROM @extschema@.customer_tag ct
	         WHERE ct.tag_id = t.tag_id AND (ct.expires_at IS NULL OR ct.expires_at > @extschema@.now())) AS customers,
	       t.created_by, t.created_at, t.retired_at
	  FROM @extschema@.tag t
	  JOIN @extschema@.tag_group g ON g.group_id = t.group_id
	  JOIN tree ON tree.tag_id = t.tag_id
	  LEFT JOIN @extschema@.tag p ON p.tag_id = t.parent_id
	  LEFT JOIN @extschema@.tag m ON m.tag_id = t.merged_into;
COMMENT ON VIEW @extschema@.tags IS
	'The tag library: each tag with its group, hierarchy path (channel > online > Taobao), aliases and number of holders';

CREATE VIEW @extschema@.customer_tags AS
	SELECT ct.customer_id, t.name AS tag, g.name AS group_name, g.kind, ct.source, ct.applied_by,
	       ct.applied_at, ct.expires_at, ct.reason
	  FROM @extschema@.customer_tag ct
	  JOIN @extschema@.tag t ON t.tag_id = ct.tag_id
	  JOIN @extschema@.tag_group g ON g.group_id = ct.group_id
	 WHERE ct.expires_at IS NULL OR ct.expires_at > @extschema@.now();
COMMENT ON VIEW @extschema@.customer_tags IS
	'Current tags of every customer (expired ones left out), one row per customer and tag';

CREATE VIEW @extschema@.customer_tag_history AS
	SELECT h.history_id, h.changed_at, h.changed_by, h.customer_id, t.name AS tag, h.action,
	       h.old, h.new, h.source, h.reason
	  FROM @extschema@.tag_history h
	  JOIN @extschema@.tag t ON t.tag_id = h.tag_id;
COMMENT ON VIEW @extschema@.customer_tag_history IS 'Every change to any customer''s tags';

CREATE VIEW @extschema@.library_changes AS
	SELECT h.history_id, h.changed_at, h.changed_by, h.object_type, h.object_name, h.action,
	       h.old, h.new, h.reason
	  FROM @extschema@.library_history h;
COMMENT ON VIEW @extschema@.library_changes IS 'Every change to the tag library';

CREATE FUNCTION @extschema@.customer_profile(customer text, history_limit integer DEFAULT 20) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	id text := @extschema@.check_customer(customer);
	at timestamptz := @extschema@.now();
BEGIN
	IF history_limit IS NULL OR history_limit < 0 THEN
		RAISE EXCEPTION 'history_limit must be zero or more' USING ERRCODE = '22023', HINT = 'Pass how many history entries to show.';
	END IF;
	RETURN jsonb_build_object(
		'customer_id', id,
		'known', EXISTS (SELECT FROM @extschema@.customer c WHERE c.customer_id = id),
		'tags', COALESCE((
			SELECT jsonb_agg(jsonb_build_object(
				'tag', ct.tag, 'group', ct.group_name, 'source', ct.source, 'applied_by', ct.applied_by,
				'applied_at', ct.applied_at, 'age', justify_interval(date_trunc('second', at - ct.applied_at)),
				'expires_at', ct.expires_at, 'reason', ct.reason) ORDER BY ct.group_name, ct.tag)
			  FROM @extschema@.customer_tags ct WHERE ct.customer_id = id), '[]'),
		'history', COALESCE((
			SELECT jsonb_agg(jsonb_build_object(
				'at', h.changed_at, 'by', h.changed_by, 'action', h.action, 'tag', h.tag,
				'old', h.old, 'new', h.new, 'source', h.source, 'reason', h.reason) ORDER BY h.history_id DESC)
			  FROM (SELECT * FROM @extschema@.customer_tag_history x WHERE x.customer_id = id
			         ORDER BY x.history_id DESC LIMIT history_limit) h), '[]'));
END
$$;
COMMENT ON FUNCTION @extschema@.customer_profile(text, integer) IS
	'One customer''s current tags (source, age, expiry) and most recent history, as jsonb';

CREATE FUNCTION @extschema@.customer_profile(customer bigint, history_limit integer DEFAULT 20) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@.customer_profile(customer::text, history_limit) $$;
COMMENT ON FUNCTION @extschema@.customer_profile(bigint, integer) IS 'customer_profile for bigint customer ids';

-- The tag a customer holds in a model's group (one, as model groups are exclusive).
-- A view runs the functions it calls with the reader's own rights, and
-- readers may not read customer_tag: SECURITY DEFINER, reading nothing but
-- tagscrm's own tables, and nothing a reader could not see in the views.
CREATE FUNCTION @extschema@.model_tag_of(customer text, model text) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT t.name FROM @extschema@.customer_tag ct
          JOIN @extschema@.tag t ON t.tag_id = ct.tag_id
          JOIN @extschema@.model_tag mt ON mt.tag_id = ct.tag_id
         WHERE ct.customer_id = customer AND mt.model = model_tag_of.model
         LIMIT 1);
COMMENT ON FUNCTION @extschema@.model_tag_of(text, text) IS 'Internal: the tag a customer holds for a model';

-- The churn probability of a customer under the configured model, for
-- customer_overview; SECURITY DEFINER for the same reason as model_tag_of.
CREATE FUNCTION @extschema@.churn_probability_of(customer text) RETURNS float8
LANGUAGE sql STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN (@extschema@.customer_churn(customer)).churn_probability;
COMMENT ON FUNCTION @extschema@.churn_probability_of(text) IS
	'Internal: a customer''s churn probability under settings.churn_model, for the reader views';

-- One row per customer for readers and BI tools.  It reads customer_fact,
-- which holds a copy of every model tag (kept by its writers: see tags.sql),
-- and joins the small tag table once per model by primary key: the planner
-- drops the joins and per-row expressions a query does not use, so
-- "GROUP BY rfm_segment" over a million customers reads one table.  The
-- columns computed per row (the RFM scores, active days, the churn
-- probability, channel, tags) cost only when selected.
CREATE VIEW @extschema@.customer_overview AS
	SELECT f.customer_id,
	       f.first_order_at, f.last_order_at,
	       f.order_count AS orders,
	       f.order_total AS total_paid,
	       CASE WHEN f.order_count > 0 THEN round(f.order_total / f.order_count, 2) END AS avg_order_value,
	       (SELECT count(*) FROM @extschema@.customer_day d WHERE d.customer_id = f.customer_id)::integer AS active_days,
	       f.event_count AS events,
	       f.last_event_at,
	       @extschema@.days_between(f.last_order_at, @extschema@.now()) AS recency_days,
	       (CASE WHEN f.order_count > 0 THEN @extschema@.rfm_classify(@extschema@.days_between(f.last_order_at, @extschema@.now()),
	             f.order_count, f.order_total::float8, (SELECT s.breakpoints FROM @extschema@.rfm_state s),
	             (SELECT st.rfm_basis FROM @extschema@.settings st)) END).r_score,
	       (CASE WHEN f.order_count > 0 THEN @extschema@.rfm_classify(@extschema@.days_between(f.last_order_at, @extschema@.now()),
	             f.order_count, f.order_total::float8, (SELECT s.breakpoints FROM @extschema@.rfm_state s),
	             (SELECT st.rfm_basis FROM @extschema@.settings st)) END).f_score,
	       (CASE WHEN f.order_count > 0 THEN @extschema@.rfm_classify(@extschema@.days_between(f.last_order_at, @extschema@.now()),
	             f.order_count, f.order_total::float8, (SELECT s.breakpoints FROM @extschema@.rfm_state s),
	             (SELECT st.rfm_basis FROM @extschema@.settings st)) END).m_score,
	       rfm.name AS rfm_segment,
	       lifecycle.name AS lifecycle,
	       sales_stage.name AS sales_stage,
	       status.name AS status,
	       level.name AS level,
	       loyalty.name AS loyalty,
	       @extschema@.churn_probability_of(f.customer_id) AS churn_probability,
	       churn_risk.name AS churn_risk,
	       (SELECT string_agg(t.name, ', ' ORDER BY t.name) FROM @extschema@.customer_tag ct
	          JOIN @extschema@.tag t ON t.tag_id = ct.tag_id
	          JOIN @extschema@.tag_group g ON g.group_id = ct.group_id
	         WHERE ct.customer_id = f.customer_id AND g.kind = 'channel') AS channel,
	       ARRAY(SELECT ct.tag FROM @extschema@.customer_tags ct WHERE ct.customer_id = f.customer_id
	              ORDER BY ct.group_name, ct.tag) AS tags,
	       f.next_change_at
	  FROM @extschema@.customer_fact f
	  LEFT JOIN @extschema@.tag rfm ON rfm.tag_id = f.rfm_tag
	  LEFT JOIN @extschema@.tag lifecycle ON lifecycle.tag_id = f.lifecycle_tag
	  LEFT JOIN @extschema@.tag sales_stage ON sales_stage.tag_id = f.sales_stage_tag
	  LEFT JOIN @extschema@.tag status ON status.tag_id = f.status_tag
	  LEFT JOIN @extschema@.tag level ON level.tag_id = f.level_tag
	  LEFT JOIN @extschema@.tag loyalty ON loyalty.tag_id = f.loyalty_tag
	  LEFT JOIN @extschema@.tag churn_risk ON churn_risk.tag_id = f.churn_risk_tag;
COMMENT ON VIEW @extschema@.customer_overview IS
	'One row per customer: order facts, RFM scores (live, against the stored breakpoints) and segment, lifecycle, sales stage, status, level, loyalty, churn, channel and all current tags';
COMMENT ON COLUMN @extschema@.customer_overview.customer_id IS 'The customer''s id in the watched tables (text)';
COMMENT ON COLUMN @extschema@.customer_overview.first_order_at IS 'Time of the first counted order';
COMMENT ON COLUMN @extschema@.customer_overview.last_order_at IS 'Time of the latest counted order';
COMMENT ON COLUMN @extschema@.customer_overview.orders IS 'Counted orders (cancelled ones left out, refunds not counted as orders)';
COMMENT ON COLUMN @extschema@.customer_overview.total_paid IS 'Amount paid over all counted orders, net of refunds';
COMMENT ON COLUMN @extschema@.customer_overview.avg_order_value IS 'total_paid / orders, rounded to cents';
COMMENT ON COLUMN @extschema@.customer_overview.active_days IS 'Days (in settings.time_zone) with an order or an event; counted per row when selected';
COMMENT ON COLUMN @extschema@.customer_overview.events IS 'Events in the watched event tables';
COMMENT ON COLUMN @extschema@.customer_overview.last_event_at IS 'Time of the latest event';
COMMENT ON COLUMN @extschema@.customer_overview.recency_days IS 'Whole days since the latest order';
COMMENT ON COLUMN @extschema@.customer_overview.r_score IS 'RFM recency quintile score 1-5 (5 the most recent), against the stored breakpoints; computed per row when selected';
COMMENT ON COLUMN @extschema@.customer_overview.f_score IS 'RFM frequency quintile score 1-5 (5 the most orders), against the stored breakpoints';
COMMENT ON COLUMN @extschema@.customer_overview.m_score IS 'RFM monetary quintile score 1-5 (5 the most paid), against the stored breakpoints';
COMMENT ON COLUMN @extschema@.customer_overview.rfm_segment IS 'RFM segment tag held (one of 8)';
COMMENT ON COLUMN @extschema@.customer_overview.lifecycle IS 'Lifecycle stage tag held: new, first purchase, repeat or super customer';
COMMENT ON COLUMN @extschema@.customer_overview.sales_stage IS 'Sales stage tag held (high-ticket ladder)';
COMMENT ON COLUMN @extschema@.customer_overview.status IS 'Status tag held: active, silent or lost';
COMMENT ON COLUMN @extschema@.customer_overview.level IS 'User level tag held: level 1 to level 5';
COMMENT ON COLUMN @extschema@.customer_overview.loyalty IS 'Loyalty tag held (when settings.loyalty_model is on)';
COMMENT ON COLUMN @extschema@.customer_overview.churn_probability IS 'Churn probability now, 1 - P(alive) under settings.churn_model; computed per row when selected';
COMMENT ON COLUMN @extschema@.customer_overview.churn_risk IS 'Churn risk tag held: high, medium or low (when settings.churn_model is set)';
COMMENT ON COLUMN @extschema@.customer_overview.channel IS 'Channel tags held, comma-separated';
COMMENT ON COLUMN @extschema@.customer_overview.tags IS 'Every current tag, ordered by group and name';
COMMENT ON COLUMN @extschema@.customer_overview.next_change_at IS 'When the passage of time alone may next change a model tag';

CREATE VIEW @extschema@.segment_sizes AS
	SELECT g.name AS group_name, g.kind, t.name AS tag, count(ct.customer_id) AS customers,
	       round(100.0 * count(ct.customer_id) / NULLIF(sum(count(ct.customer_id)) OVER (PARTITION BY g.group_id), 0), 1) AS percent_of_group
	  FROM @extschema@.tag t
	  JOIN @extschema@.tag_group g ON g.group_id = t.group_id
	  LEFT JOIN @extschema@.customer_tag ct ON ct.tag_id = t.tag_id
	        AND (ct.expires_at IS NULL OR ct.expires_at > @extschema@.now())
	 WHERE t.status = 'active'
	 GROUP BY g.group_id, g.name, g.kind, t.tag_id, t.name;
COMMENT ON VIEW @extschema@.segment_sizes IS 'Customers per tag, and each tag''s share of its group';

CREATE VIEW @extschema@.model_groups AS
	SELECT mt.model, g.name AS group_name, t.name AS tag, mt.value
	  FROM @extschema@.model_tag mt
	  JOIN @extschema@.tag t ON t.tag_id = mt.tag_id
	  JOIN @extschema@.tag_group g ON g.group_id = t.group_id;
COMMENT ON VIEW @extschema@.model_groups IS
	'Which tag stands for which model value (rfm, lifecycle, sales_stage, status, level, loyalty, age_band, attr:<column>)';

-- Per-model views: one row per customer holding a tag of that model.
CREATE VIEW @extschema@.model_members AS
	SELECT mt.model, ct.customer_id, t.name AS tag, mt.value, ct.applied_at AS since
	  FROM @extschema@.customer_tag ct
	  JOIN @extschema@.model_tag mt ON mt.tag_id = ct.tag_id
	  JOIN @extschema@.tag t ON t.tag_id = ct.tag_id;
COMMENT ON VIEW @extschema@.model_members IS 'Customers and their model tags, with the time they got them';

CREATE VIEW @extschema@.customer_rfm_segment AS
	SELECT customer_id, tag AS segment, value AS segment_key, since FROM @extschema@.model_members WHERE model = 'rfm';
COMMENT ON VIEW @extschema@.customer_rfm_segment IS 'Each customer''s RFM segment';

CREATE VIEW @extschema@.customer_lifecycle AS
	SELECT customer_id, tag AS stage, value AS stage_key, since FROM @extschema@.model_members WHERE model = 'lifecycle';
COMMENT ON VIEW @extschema@.customer_lifecycle IS 'Each customer''s e-commerce lifecycle stage';

CREATE VIEW @extschema@.customer_sales_stage AS
	SELECT customer_id, tag AS stage, value AS stage_key, since FROM @extschema@.model_members WHERE model = 'sales_stage';
COMMENT ON VIEW @extschema@.customer_sales_stage IS 'Each customer''s stage on the high-ticket sales ladder';

CREATE VIEW @extschema@.customer_status AS
	SELECT customer_id, tag AS status, value AS status_key, since FROM @extschema@.model_members WHERE model = 'status';
COMMENT ON VIEW @extschema@.customer_status IS 'Each customer''s status: active, silent or lost';

CREATE VIEW @extschema@.customer_churn_risk AS
	SELECT customer_id, tag AS churn_risk, value AS risk_key, since FROM @extschema@.model_members WHERE model = 'churn_risk';
COMMENT ON VIEW @extschema@.customer_churn_risk IS 'Each customer''s churn risk tag (when a churn model is configured)';

CREATE VIEW @extschema@.customer_level AS
	SELECT customer_id, tag AS level, value::integer AS level_number, since FROM @extschema@.model_members WHERE model = 'level';
COMMENT ON VIEW @extschema@.customer_level IS 'Each customer''s user level (1-5)';

CREATE VIEW @extschema@.customer_loyalty AS
	SELECT customer_id, tag AS loyalty, value AS loyalty_key, since FROM @extschema@.model_members WHERE model = 'loyalty';
COMMENT ON VIEW @extschema@.customer_loyalty IS
	'Each customer''s loyalty band: loyal, regular, occasional or lapsed (L, the share of recent consumption cycles with a purchase)';

CREATE VIEW @extschema@.pending_changes AS
SELECT p.pending_id, p.queued_at, p.queued_by, p.source, p.statement,
       (SELECT count(DISTINCT c) FROM unnest(p.customers) c) AS customers,
       p.failed_at, p.failure
  FROM @extschema@.pending_customers p;
COMMENT ON VIEW @extschema@.pending_changes IS
	'Bulk statements whose facts and tags the background applier has yet to bring up to date (normally for seconds); failed_at and failure: set aside, and why';
