-- rule_vocabulary(): every name a rule may use, in one table that the
-- parser, its hints and the batch evaluator read.  Each name of it is
-- accepted where its kind belongs and nowhere else; names outside it are
-- refused; fields tagscrm does not read from the watched tables are refused
-- when a rule is written.
DROP EXTENSION tagscrm CASCADE;
DROP SCHEMA tagscrm;
CREATE EXTENSION tagscrm;
SET tagscrm.clock_override = '2026-06-01 12:00:00+00';
SET client_min_messages = warning;
\set VERBOSITY default
\set SHOW_CONTEXT never

-- Reports a rule's SQLSTATE, or 'ok' (test helper)
CREATE FUNCTION pg_temp.rule_state(rule text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM tagscrm.rule_check(rule);
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END
$$;

-- ---------------------------------------------------------------------------
-- 1. The vocabulary
-- ---------------------------------------------------------------------------
SELECT * FROM tagscrm.rule_vocabulary();
SELECT kind, count(*) AS words FROM tagscrm.rule_vocabulary() GROUP BY kind ORDER BY kind;

-- ---------------------------------------------------------------------------
-- 2. Every word parses in a rule of its kind, as a measure of the same
--    kind, type and time dependence
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE word_rule AS
SELECT v.*, CASE
	WHEN v.kind IN ('fact', 'attribute', 'model') THEN v.name || ' is null'
	WHEN v.name IN ('count', 'exists') THEN v.name || '(order) is not null and ' || v.name || '(event) is not null'
	WHEN v.kind = 'aggregate' AND v.value_type IS NULL THEN v.name || '(order.amount) is null and ' || v.name || '(event.duration) is null'
	WHEN v.kind IN ('aggregate', 'tag') THEN v.name || '(''x'')'
	WHEN v.kind IN ('order field', 'event field') THEN
		format('count(%s where %s = %s) >= 0', split_part(v.kind, ' ', 1), v.name,
		       CASE v.value_type WHEN 'number' THEN '1' WHEN 'duration' THEN '1 s' ELSE '''x''' END)
	END AS rule
  FROM tagscrm.rule_vocabulary() v;
SELECT name, kind, rule, pg_temp.rule_state(rule) AS parses FROM word_rule ORDER BY kind, name;
-- named measures: the parsed measure is what the vocabulary says
SELECT count(*) AS named_words,
       count(*) FILTER (WHERE m.kind = w.kind AND m.value_type = w.value_type AND m.name = w.name
                          AND m.time_dependent = w.time_dependent) AS as_said
  FROM word_rule w, LATERAL tagscrm.rule_measures(w.rule) m
 WHERE w.kind IN ('fact', 'attribute', 'model');
-- the batch evaluator computes every named measure and aggregate (a customer without data)
WITH r AS (SELECT string_agg(rule, ' and ' ORDER BY kind, name) AS rule
             FROM word_rule WHERE kind IN ('fact', 'attribute', 'model', 'aggregate'))
SELECT m.measure_id, m.measure, v.v -> m.measure_id::text AS value
  FROM r CROSS JOIN LATERAL (SELECT tagscrm.rule_values(r.rule, 'nobody') AS v) v,
       LATERAL tagscrm.rule_measures(r.rule) m
 ORDER BY 1;

-- ---------------------------------------------------------------------------
-- 3. Each name is known exactly where the vocabulary puts it.  Every word,
--    and names outside the vocabulary (fields the watched tables do not
--    give, columns of our own tables, misspellings), in every place a name
--    goes: as a measure (unknown: 42703), as a function (42883), as a field
--    of orders or events in a filter or an aggregate (42703).
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE candidate AS
SELECT name FROM tagscrm.rule_vocabulary()
UNION
SELECT unnest(ARRAY['product', 'price', 'quantity', 'customer', 'customer_id', 'at', 'time', 'created_at',
                    'total_spent', 'order_total', 'lifetime_value', 'email', 'phone', 'median', 'counts',
                    'rfm', 'rfm_score', 'churn', 'level', 'status', 'segment', 'tag', 'has_tags', 'event_kind',
                    'Order_Count', 'CITY', 'Amount', 'Has_Tag', 'COUNT']);
CREATE TEMP TABLE place (place text, rule_format text, unknown_state text, kinds text[]);
INSERT INTO place VALUES
	('measure', '%s is null', '42703', ARRAY['fact', 'attribute', 'model']),
	('function', '%s(''x'')', '42883', ARRAY['aggregate', 'tag']),
	('order filter', 'count(order where %s = 1) >= 0', '42703', ARRAY['order field']),
	('event filter', 'count(event where %s = 1) >= 0', '42703', ARRAY['event field']),
	('order aggregate', 'sum(order.%s) is null', '42703', ARRAY['order field']),
	('event aggregate', 'sum(event.%s) is null', '42703', ARRAY['event field']);
CREATE TEMP TABLE outcome AS
SELECT p.place, c.name,
       EXISTS (SELECT FROM tagscrm.rule_vocabulary() v WHERE v.name = lower(c.name) AND v.kind = ANY (p.kinds)) AS in_vocabulary,
       pg_temp.rule_state(format(p.rule_format, c.name)) <> p.unknown_state AS known
  FROM place p, candidate c;
SELECT place, count(*) AS names, count(*) FILTER (WHERE in_vocabulary) AS in_vocabulary,
       count(*) FILTER (WHERE known) AS known, count(*) FILTER (WHERE known <> in_vocabulary) AS differ
  FROM outcome GROUP BY place ORDER BY place;
SELECT * FROM outcome WHERE known <> in_vocabulary ORDER BY place, name;
-- ---------------------------------------------------------------------------
-- 4. Fields tagscrm cannot read are refused when a rule is written, with
--    the position and the fields that exist.  tagscrm reads customer, time
--    and amount of the watched orders, and customer, time, kind, object and
--    duration of the watched events; order.product, order.channel and
--    event.channel were accepted and silently never held.
-- ---------------------------------------------------------------------------
-- order.product
SELECT tagscrm.rule_check('count(order where product in (''sofa'', ''bed'') and amount > 100) > 0');
-- order.channel, in a filter and as the field of an aggregate
SELECT tagscrm.rule_check('sum(order.amount where channel = ''web'', last 365 days) > 0');
SELECT tagscrm.rule_check('max(order.channel) > 1');
-- event.channel
SELECT tagscrm.rule_check('count(event ''read'' where object = ''a'' and channel <> ''app'') > 0');
-- the customer attribute channel stays a measure
SELECT pg_temp.rule_state('channel = ''wecom''') AS attribute_channel;
-- a rule tag cannot be given such a rule
SELECT tagscrm.create_tag_group('interest', 'interest');
SELECT tagscrm.create_tag('sofa buyer', 'interest', method => 'rule');
SELECT tagscrm.set_tag_rule('sofa buyer', 'exists(order where product = ''sofa'')');
SELECT count(*) AS rules_stored FROM tagscrm.tag_rule;
