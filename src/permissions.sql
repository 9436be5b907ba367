
-- ---------------------------------------------------------------------------
-- permissions.sql: who may do what.  Tables are reached only through the API
-- functions (SECURITY DEFINER) and the views; nothing is granted to PUBLIC.
--   tagscrm_reader:   read the views and customer profiles; compute RFM
--                     breakpoints, scores and segments (they store nothing)
--   tagscrm_operator: + tag, untag, import, expire
--   tagscrm_admin:    + change the tag library
-- (operator is a member of reader, admin of operator)
-- ---------------------------------------------------------------------------

DO $grants$
DECLARE
	g record;
	f regprocedure;
BEGIN
	FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
	          WHERE p.pronamespace OPERATOR(pg_catalog.=) 'tagscrm'::regnamespace LOOP
		EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
	END LOOP;
	FOR g IN SELECT * FROM (VALUES
		('tagscrm_reader',   ARRAY['customer_profile', 'now', 'days_between', 'model_tag_of', 'churn_probability_of',
		                           'rfm_breakpoints', 'rfm_score',
		                           'rfm_segment', 'rfm_classify', 'rfm_segments', 'rule_check', 'rule_explain', 'rule_vocabulary',
		                           'rule_measures', 'rule_eval_values', 'tag_rule_eval', 'rule_values',
		                           'purchase_summary', 'bgnbd_fit', 'mbgnbd_fit', 'gamma_gamma_fit', 'bgnbd_p_alive',
		                           'bgnbd_expected_purchases', 'mbgnbd_p_alive', 'mbgnbd_expected_purchases',
		                           'gamma_gamma_expected_value', 'clv', 'mbgnbd_clv', 'hyp2f1',
		                           'churn_scores', 'churn_predict', 'churn_validate', 'churn_model_bgnbd', 'churn_model_gamma_gamma',
		                           'churn_check_source', 'churn_purchases_sql', 'churn_summary_sql',
		                           'customer_set', 'customer_set_and', 'customer_set_or', 'customer_set_andnot',
		                           'customer_set_cardinality', 'customer_set_contains', 'customer_set_eq', 'customer_set_keys',
		                           'customer_set_agg', 'customer_set_union', 'customer_set_intersection',
		                           'segment_set', 'segment_count', 'segment_members', 'segment_overlap',
		                           'movement', 'movement_members']),
		('tagscrm_operator', ARRAY['tag_customer', 'untag_customer', 'import_tags', 'import_tag_rows', 'expire_tags', 'review_tag',
		                           'release_review', 'preview_tag_rule', 'define_segment', 'drop_segment']),
		('tagscrm_admin',    ARRAY['create_tag_group', 'alter_tag_group', 'create_tag', 'rename_tag',
		                           'describe_tag', 'move_tag', 'add_tag_alias', 'drop_tag_alias',
		                           'retire_tag', 'merge_tags', 'watch_orders', 'watch_events', 'watch_customers',
		                           'watch_contacts', 'unwatch', 'refresh', 'sweep', 'apply_pending', 'schedule', 'unschedule', 'set_tag_rule',
		                           'enable_tag_rule', 'churn_fit', 'drop_churn_model', 'segment_compact',
		                           'record_history', 'set_history_retention'])) AS v(grantee, api)
	LOOP
		FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
		          WHERE p.pronamespace OPERATOR(pg_catalog.=) 'tagscrm'::regnamespace
		            AND p.proname OPERATOR(pg_catalog.=) ANY (g.api) LOOP
			EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %I', f, g.grantee);
		END LOOP;
	END LOOP;
END
$grants$;

GRANT USAGE ON SCHEMA @extschema@ TO tagscrm_reader;
GRANT SELECT ON @extschema@.tag_groups, @extschema@.tags, @extschema@.customer_tags,
                @extschema@.customer_tag_history, @extschema@.customer_overview, @extschema@.segment_sizes,
                @extschema@.model_groups, @extschema@.model_members, @extschema@.customer_rfm_segment,
                @extschema@.customer_lifecycle, @extschema@.customer_sales_stage, @extschema@.customer_status,
                @extschema@.customer_level, @extschema@.customer_churn_risk, @extschema@.customer_loyalty,
                @extschema@.churn_model, @extschema@.segments, @extschema@.tag_size_history,
                @extschema@.segment_size_history TO tagscrm_reader;
GRANT SELECT ON @extschema@.tag_rule, @extschema@.tag_review TO tagscrm_operator;
GRANT SELECT ON @extschema@.library_changes, @extschema@.watched_table, @extschema@.unmatched_channel,
                @extschema@.rfm_state, @extschema@.pending_changes TO tagscrm_admin;
GRANT SELECT, UPDATE ON @extschema@.settings TO tagscrm_admin;

-- Tag housekeeping (src/housekeeping.sql) and campaign effect (src/campaigns.sql)
GRANT SELECT ON @extschema@.tag_usage, @extschema@.campaigns TO tagscrm_reader;
GRANT EXECUTE ON FUNCTION @extschema@.retirement_candidates(interval),
                          @extschema@.campaign_effect(text, text, interval) TO tagscrm_reader;
GRANT EXECUTE ON FUNCTION @extschema@.create_campaign(text, timestamptz, interval, text),
                          @extschema@.add_campaign_contacts(text, text[], boolean, timestamptz),
                          @extschema@.drop_campaign(text) TO tagscrm_operator;
GRANT EXECUTE ON FUNCTION @extschema@.retire_idle_tags(interval, text) TO tagscrm_admin;
