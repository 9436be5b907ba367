
-- ---------------------------------------------------------------------------
-- overview.sql: plain views for BI tools
-- ---------------------------------------------------------------------------

-- The tag a customer holds in a model's group (one, as model groups are exclusive).
CREATE FUNCTION @extschema@.model_tag_of(customer text, model text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT t.name FROM @extschema@.customer_tag ct
          JOIN @extschema@.tag t ON t.tag_id = ct.tag_id
          JOIN @extschema@.model_tag mt ON mt.tag_id = ct.tag_id
         WHERE ct.customer_id = customer AND mt.model = model_tag_of.model
         LIMIT 1);
COMMENT ON FUNCTION @extschema@.model_tag_of(text, text) IS 'Internal: the tag a customer holds for a model';

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
	       (r.c).r_score, (r.c).f_score, (r.c).m_score,
	       @extschema@.model_tag_of(f.customer_id, 'rfm') AS rfm_segment,
	       @extschema@.model_tag_of(f.customer_id, 'lifecycle') AS lifecycle,
	       @extschema@.model_tag_of(f.customer_id, 'sales_stage') AS sales_stage,
	       @extschema@.model_tag_of(f.customer_id, 'status') AS status,
	       @extschema@.model_tag_of(f.customer_id, 'level') AS level,
	       (@extschema@.customer_churn(f.customer_id)).churn_probability,
	       @extschema@.model_tag_of(f.customer_id, 'churn_risk') AS churn_risk,
	       (SELECT string_agg(t.name, ', ' ORDER BY t.name) FROM @extschema@.customer_tag ct
	          JOIN @extschema@.tag t ON t.tag_id = ct.tag_id
	          JOIN @extschema@.tag_group g ON g.group_id = ct.group_id
	         WHERE ct.customer_id = f.customer_id AND g.kind = 'channel') AS channel,
	       ARRAY(SELECT ct.tag FROM @extschema@.customer_tags ct WHERE ct.customer_id = f.customer_id
	              ORDER BY ct.group_name, ct.tag) AS tags,
	       f.next_change_at
	  FROM @extschema@.customer_fact f
	  LEFT JOIN LATERAL (
		SELECT @extschema@.rfm_classify(@extschema@.days_between(f.last_order_at, @extschema@.now()),
		                                f.order_count, f.order_total::float8, s.breakpoints, st.rfm_basis) AS c
		  FROM @extschema@.rfm_state s, @extschema@.settings st
		 WHERE f.order_count > 0 AND f.last_order_at IS NOT NULL AND s.breakpoints IS NOT NULL) r ON true;
COMMENT ON VIEW @extschema@.customer_overview IS
	'One row per customer: order facts, RFM scores (live, against the stored breakpoints) and segment, lifecycle, sales stage, status, level, channel and all current tags';

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
	'Which tag stands for which model value (rfm, lifecycle, sales_stage, status, level, age_band, attr:<column>)';

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
