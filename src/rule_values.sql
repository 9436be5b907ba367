
-- ---------------------------------------------------------------------------
-- rule_values.sql: the host side of the rule language for one customer
--
-- rule_measures() (rule.c) lists what a rule needs; rule_values() computes
-- each value for one customer from the facts, the model tags and, for
-- aggregates, that customer's rows of the watched tables (read through the
-- customer column's index, with the customer id as a parameter).  Filters
-- and windows from the parsed rule are applied here, to data, with a fixed
-- set of operators: no text of the rule ever becomes SQL.
-- ---------------------------------------------------------------------------

-- Does one row (jsonb) pass one parsed filter {"field", "op", "values"}?
-- Three-valued like SQL: a missing field makes the filter unknown (NULL).
CREATE FUNCTION @extschema@.rule_filter_passes(row_data jsonb, filter jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN (
	WITH v AS (SELECT row_data -> (filter ->> 'field') AS have, filter -> 'values' AS want, filter ->> 'op' AS op)
	SELECT CASE
		WHEN v.have IS NULL OR v.have = 'null' THEN NULL
		WHEN jsonb_typeof(v.have) = 'number' THEN
			CASE v.op
				WHEN '=' THEN (v.have)::numeric = (v.want ->> 0)::numeric
				WHEN '<>' THEN (v.have)::numeric <> (v.want ->> 0)::numeric
				WHEN '<' THEN (v.have)::numeric < (v.want ->> 0)::numeric
				WHEN '<=' THEN (v.have)::numeric <= (v.want ->> 0)::numeric
				WHEN '>' THEN (v.have)::numeric > (v.want ->> 0)::numeric
				WHEN '>=' THEN (v.have)::numeric >= (v.want ->> 0)::numeric
				WHEN 'in' THEN (v.have)::numeric IN (SELECT x::numeric FROM jsonb_array_elements_text(v.want) x)
				WHEN 'not in' THEN (v.have)::numeric NOT IN (SELECT x::numeric FROM jsonb_array_elements_text(v.want) x) END
		ELSE
			CASE v.op
				WHEN '=' THEN (v.have #>> '{}') = (v.want ->> 0)
				WHEN '<>' THEN (v.have #>> '{}') <> (v.want ->> 0)
				WHEN 'in' THEN (v.have #>> '{}') IN (SELECT x FROM jsonb_array_elements_text(v.want) x)
				WHEN 'not in' THEN (v.have #>> '{}') NOT IN (SELECT x FROM jsonb_array_elements_text(v.want) x) END
		END
	  FROM v);
COMMENT ON FUNCTION @extschema@.rule_filter_passes(jsonb, jsonb) IS
	'Internal: applies one parsed rule filter to one row';

-- One customer's rows of a watched table as jsonb (order: at, amount; event:
-- at, kind, object, duration in seconds).  Only identifiers from
-- watched_table reach the query text; the customer is a parameter.
CREATE FUNCTION @extschema@.customer_rows(source text, customer text) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	w @extschema@.watched_table := @extschema@.watched(CASE source WHEN 'order' THEN 'orders' ELSE 'events' END);
	rows jsonb;
BEGIN
	IF w.relid IS NULL THEN
		RETURN '[]';
	END IF;
	EXECUTE format('SELECT COALESCE(jsonb_agg(jsonb_build_object(%s)), ''[]'') FROM %s WHERE %s',
		CASE source
			WHEN 'order' THEN format('''at'', %I::timestamptz, ''amount'', %I::numeric', w.at_column, w.amount_column)
			ELSE format('''at'', %I::timestamptz, ''kind'', %I::text, ''object'', %s, ''duration'', %s',
			            w.at_column, w.kind_column,
			            CASE WHEN w.object_column IS NULL THEN 'NULL::text' ELSE format('%I::text', w.object_column) END,
			            CASE WHEN w.duration_column IS NULL THEN 'NULL::numeric' ELSE format('%I::numeric', w.duration_column) END)
		END,
		w.relid, @extschema@.customers_filter(w, ARRAY[customer]))
	   INTO rows USING ARRAY[customer];
	RETURN rows;
END
$$;
COMMENT ON FUNCTION @extschema@.customer_rows(text, text) IS
	'Internal: one customer''s rows of the watched orders or events table';

-- The value of every measure of a rule for one customer, keyed by measure id.
CREATE FUNCTION @extschema@.rule_values(rule text, customer text) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m record;
	f @extschema@.customer_fact;
	o @extschema@.customer_overview;
	at timestamptz := @extschema@.now();
	tz text := (SELECT s.time_zone FROM @extschema@.settings s);
	orders jsonb;
	events jsonb;
	result jsonb := '{}';
	v jsonb;
BEGIN
	SELECT * INTO f FROM @extschema@.customer_fact x WHERE x.customer_id = customer;
	FOR m IN SELECT * FROM @extschema@.rule_measures(rule) LOOP
		IF m.kind = 'aggregate' THEN
			IF m.source = 'order' AND orders IS NULL THEN orders := @extschema@.customer_rows('order', customer); END IF;
			IF m.source = 'event' AND events IS NULL THEN events := @extschema@.customer_rows('event', customer); END IF;
			WITH r AS (
				SELECT x AS row_data
				  FROM jsonb_array_elements(CASE m.source WHEN 'order' THEN orders ELSE events END) x
				 WHERE (m.window_from IS NULL
				        OR ((x ->> 'at')::timestamptz + m.window_to <= at AND at < (x ->> 'at')::timestamptz + m.window_from))
				   AND NOT EXISTS (SELECT FROM jsonb_array_elements(COALESCE(m.filters, '[]')) flt
				                    WHERE @extschema@.rule_filter_passes(x, flt) IS NOT TRUE))
			SELECT CASE m.func
				WHEN 'count' THEN to_jsonb(count(*))
				WHEN 'exists' THEN to_jsonb(count(*) > 0)
				WHEN 'sum' THEN to_jsonb(sum((r.row_data ->> m.field)::numeric))
				WHEN 'min' THEN to_jsonb(min((r.row_data ->> m.field)::numeric))
				WHEN 'max' THEN to_jsonb(max((r.row_data ->> m.field)::numeric))
				WHEN 'avg' THEN to_jsonb(avg((r.row_data ->> m.field)::numeric)) END
			  INTO v FROM r;
		ELSIF m.kind = 'fact' THEN
			v := to_jsonb(CASE m.name
				WHEN 'order_count' THEN COALESCE(f.order_count, 0)::numeric
				WHEN 'total_paid' THEN COALESCE(f.order_total, 0)
				WHEN 'avg_order_value' THEN f.order_total / NULLIF(f.order_count, 0)
				WHEN 'max_order_amount' THEN (SELECT max((x ->> 'amount')::numeric) FROM jsonb_array_elements(
				                                COALESCE(orders, @extschema@.customer_rows('order', customer))) x)
				WHEN 'event_count' THEN COALESCE(f.event_count, 0)::numeric
				WHEN 'active_days' THEN (SELECT count(*) FROM @extschema@.customer_day d WHERE d.customer_id = customer)::numeric
				WHEN 'days_since_first_order' THEN extract(epoch FROM at - f.first_order_at) / 86400
				WHEN 'days_since_last_order' THEN extract(epoch FROM at - f.last_order_at) / 86400
				WHEN 'days_since_last_event' THEN extract(epoch FROM at - f.last_event_at) / 86400 END);
		ELSIF m.kind = 'attribute' THEN
			v := CASE m.name
				WHEN 'birth_year' THEN to_jsonb(extract(year FROM f.birth_date))
				WHEN 'age' THEN to_jsonb(date_part('year', age((at AT TIME ZONE tz)::date, f.birth_date)))
				WHEN 'days_since_registration' THEN to_jsonb(extract(epoch FROM at - (SELECT c.first_seen_at FROM @extschema@.customer c
				                                                                          WHERE c.customer_id = customer)) / 86400)
				ELSE f.attributes -> m.name END;
		ELSIF m.kind = 'model' THEN
			IF o IS NULL AND m.name IN ('rfm_r', 'rfm_f', 'rfm_m') THEN
				SELECT * INTO o FROM @extschema@.customer_overview x WHERE x.customer_id = customer;
			END IF;
			v := CASE m.name
				WHEN 'rfm_segment' THEN to_jsonb(@extschema@.model_value_of(customer, 'rfm'))
				WHEN 'lifecycle_stage' THEN to_jsonb(@extschema@.model_value_of(customer, 'lifecycle'))
				WHEN 'customer_status' THEN to_jsonb(@extschema@.model_value_of(customer, 'status'))
				WHEN 'user_level' THEN to_jsonb(@extschema@.model_value_of(customer, 'level')::numeric)
				WHEN 'rfm_r' THEN to_jsonb(o.r_score)
				WHEN 'rfm_f' THEN to_jsonb(o.f_score)
				WHEN 'rfm_m' THEN to_jsonb(o.m_score)
				WHEN 'churn_probability' THEN to_jsonb((@extschema@.customer_churn(customer)).churn_probability)
				WHEN 'p_alive' THEN to_jsonb((@extschema@.customer_churn(customer)).p_alive)
				WHEN 'expected_value' THEN to_jsonb((@extschema@.customer_churn(customer)).expected_value)
				ELSE NULL END;
		ELSIF m.kind = 'tag' THEN
			v := to_jsonb(EXISTS (
				SELECT FROM @extschema@.customer_tags ct
				  JOIN @extschema@.tag t ON t.name = ct.tag
				  JOIN @extschema@.tag_word w ON w.tag_id = t.tag_id
				 WHERE ct.customer_id = customer AND w.word = lower(btrim(m.name))));
		END IF;
		result := result || jsonb_build_object(m.measure_id::text, COALESCE(v, 'null'::jsonb));
	END LOOP;
	RETURN result;
END
$$;
COMMENT ON FUNCTION @extschema@.rule_values(text, text) IS
	'The value of each measure of a rule for one customer, keyed by measure id (as rule_eval_values takes them)';

-- The model value (e.g. important_value, first_purchase, active, 3) a customer holds.
CREATE FUNCTION @extschema@.model_value_of(customer text, model text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT mt.value FROM @extschema@.customer_tag ct
          JOIN @extschema@.model_tag mt ON mt.tag_id = ct.tag_id
         WHERE ct.customer_id = customer AND mt.model = model_value_of.model
         LIMIT 1);
COMMENT ON FUNCTION @extschema@.model_value_of(text, text) IS 'Internal: the model value a customer holds';

CREATE FUNCTION @extschema@.tag_rule_eval(rule text, customer text) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN @extschema@.rule_eval_values(rule, @extschema@.rule_values(rule, @extschema@.check_customer(customer)));
COMMENT ON FUNCTION @extschema@.tag_rule_eval(text, text) IS
	'Evaluates a tag rule for one customer now: true, false, or NULL when unknown';

CREATE FUNCTION @extschema@.tag_rule_eval(rule text, customer bigint) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN @extschema@.tag_rule_eval(rule, customer::text);
COMMENT ON FUNCTION @extschema@.tag_rule_eval(text, bigint) IS 'tag_rule_eval for bigint customer ids';
