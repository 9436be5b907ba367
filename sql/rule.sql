-- rule: the rule language for automatic tags (parse, explain, measures,
-- evaluation, NULL logic, errors with positions, injection, limits).
-- Every evaluation is checked against plain SQL computing the same logic over
-- the same values, with SQL's own three-valued logic.

-- Reports a rule's SQLSTATE and message, or 'ok' (test helper)
CREATE FUNCTION pg_temp.rule_error(rule text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM tagscrm.rule_check(rule);
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ' ' || SQLERRM;
END
$$;

-- ---------------------------------------------------------------------------
-- 1. The examples of the brief: canonical text (full parentheses) and measures
-- ---------------------------------------------------------------------------
SELECT tagscrm.rule_explain(r) ->> 'canonical' AS canonical
  FROM (VALUES
	('sum(order.amount, last 365 days) >= 5000'),
	('count(event ''read'' where object = ''wardrobe-guide'' and duration > 30 s) >= 1'),
	('has_event(''register'')'),
	('count(event ''view'', from 60 days ago to 30 days ago) > 4 and count(event ''view'', last 30 days) = 0'),
	('count(event ''consult'', last 14 days) >= 3 and order_count = 0'),
	('city in (''Shanghai'', ''Beijing'') and age between 25 and 35 and rfm_segment = ''important_value'''),
	('has_tag(''vip'') and not has_tag(''blacklist'') and churn_probability > 0.7')) AS v(r);

-- the measures of the churn rule, with windows as intervals
SELECT * FROM tagscrm.rule_measures(
	'count(event ''view'', from 60 days ago to 30 days ago) > 4 and count(event ''view'', last 30 days) = 0');
-- every kind of measure, one row each
SELECT measure_id, kind, value_type, name, measure, time_dependent, func, source, field, window_from, window_to
  FROM tagscrm.rule_measures(
	'sum(order.amount where amount > 100, last 365 days) > 0 and order_count >= 0 and city = ''x''
	 and rfm_segment = ''y'' and has_tag(''vip'') and avg(event.duration ''read'') > 1 min');
-- the full explain document of one rule
SELECT jsonb_pretty(tagscrm.rule_explain(
	'count(event ''read'' where object = ''wardrobe-guide'' and duration > 30 s) >= 1 and not has_tag(''x'')'));

-- ---------------------------------------------------------------------------
-- 2. Every construct: canonical text, and the canonical text parses back to
--    itself (round trip)
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE construct (n serial, rule text);
INSERT INTO construct (rule) VALUES
	('total_paid >= 5000'),                                  -- comparison, number
	('total_paid > 5000.5'),                                 -- decimal
	('avg_order_value < 1e3'),                               -- exponent
	('avg_order_value <= -12.5'),                            -- negative number
	('city = ''Shanghai'''),                                 -- text
	('city <> ''Shanghai'''),                                -- <>
	('city != ''Shanghai'''),                                -- != is <>
	('gender = ''it''''s'''),                                -- quote inside a string
	('city IN (''Shanghai'', ''Beijing'', ''Shanghai'')'),   -- IN, duplicates dropped, sorted
	('city NOT IN (''Shanghai'')'),                          -- NOT IN
	('age BETWEEN 25 AND 35'),                               -- BETWEEN
	('age NOT BETWEEN 25 AND 35'),                           -- NOT BETWEEN
	('city IS NULL'),                                        -- IS NULL
	('city IS NOT NULL'),                                    -- IS NOT NULL
	('has_tag(''vip'')'),                                    -- tag
	('NOT has_tag(''vip'')'),                                -- NOT
	('has_tag(''a'') AND has_tag(''b'') AND has_tag(''c'')'),-- AND chain, one node
	('has_tag(''a'') OR has_tag(''b'') AND has_tag(''c'')'), -- AND binds tighter than OR
	('(has_tag(''a'') OR has_tag(''b'')) AND has_tag(''c'')'),-- parentheses
	('has_tag(''a'') = false'),                              -- condition compared with a boolean
	('true'),                                                -- boolean constants
	('has_event(''register'')'),                             -- has_event is exists(event ...)
	('exists(event ''register'')'),
	('exists(order, last 7 days)'),
	('count(order) > 3'),
	('count(event) > 3'),
	('count(event ''view'') > 3'),
	('count(event where kind = ''view'') > 3'),              -- same measure as the line above
	('count(event where kind in (''view'', ''read'')) > 3'),
	('count(event where kind not in (''view'')) > 3'),
	('count(event ''read'' where object = ''a'' and duration >= 30 s and object <> ''b'') > 0'),
	('count(order where amount in (250, 100) and amount > 50) > 0'),
	('sum(order.amount) > 100'),
	('min(order.amount) > 100'),
	('max(order.amount) > 100'),
	('avg(order.amount) > 100'),
	('sum(event.duration ''read'') > 1 hour'),
	('max(event.duration) >= 90 s'),
	('count(event, last 30 days) > 0'),
	('count(event, last 1 week) > 0'),
	('count(event, last 36 hours) > 0'),
	('count(event, last 90 min) > 0'),
	('count(event, last 45 s) > 0'),
	('count(event, last 1.5 s) > 0'),
	('count(event, from 60 days ago to 30 days ago) > 0'),
	('count(event, from 60 days ago to now) > 0'),          -- same as last 60 days
	('count(order, from 2 weeks ago to 1 day ago) > 0'),
	('days_since_last_order > 90 and customer_status <> ''lost'''),
	('rfm_r >= 4 and rfm_f >= 4 and rfm_m >= 4 and lifecycle_stage = ''repeat'''),
	('p_alive < 0.3 or expected_value > 1000 or user_level >= 3'),
	('province = ''Zhejiang'' or country <> ''CN'' or channel = ''wecom'''),
	('birth_year <= 1990 and days_since_registration < 30 and days_since_first_order > 365'),
	('event_count > 100 and active_days >= 10 and max_order_amount > 500 and days_since_last_event < 7'),
	('sum(order.amount, last 30 days) > avg(order.amount)'), -- measure compared with a measure
	('CoUnT(EVENT ''View'', LAST 30 DAYS) > 4 Or HAS_TAG(''VIP'')'); -- keywords in any case, strings kept
SELECT n, rule, tagscrm.rule_explain(rule) ->> 'canonical' AS canonical FROM construct ORDER BY n;
-- round trip: canonical text parses to the same canonical text and measures
SELECT count(*) AS rules,
       count(*) FILTER (WHERE tagscrm.rule_explain(tagscrm.rule_explain(rule) ->> 'canonical')
                              IS DISTINCT FROM tagscrm.rule_explain(rule)) AS round_trip_differences
  FROM construct;

-- ---------------------------------------------------------------------------
-- 3. Measures: identical measures appear once, in order of first use
-- ---------------------------------------------------------------------------
SELECT measure_id, measure FROM tagscrm.rule_measures(
	'count(event ''view'') > 1 and has_event(''view'') and count(event where kind = ''view'') < 9
	 and exists(event ''view'') and age > 1 and AGE < 99 and has_tag(''vip'') and has_tag(''VIP'')');
-- filters in any order are one measure; windows differ, so these are two
SELECT measure_id, measure, filters FROM tagscrm.rule_measures(
	'count(event ''read'' where duration > 30 s and object = ''x'') > 0
	 and count(event where object = ''x'' and kind = ''read'' and duration > 30 s) > 0
	 and count(event where object = ''x'' and kind = ''read'' and duration > 30 s, last 30 days) > 0');
-- window bounds as the host uses them: a row at time e counts while
-- e + window_to <= now < e + window_from.  Events 61, 60, 45, 30 and 29 days
-- before now: by hand, the window [60 days ago, 30 days ago) in these terms
-- holds the events 45 and 30 days old, so 2.
SELECT count(*) AS counted, array_agg(age_days ORDER BY age_days) AS ages_days
  FROM tagscrm.rule_measures('count(event ''view'', from 60 days ago to 30 days ago) > 4') AS m,
       (VALUES (61), (60), (45), (30), (29)) AS e(age_days),
       LATERAL (SELECT timestamptz '2026-03-01 00:00+00' AS now) AS t
 WHERE t.now - make_interval(days => e.age_days) + m.window_to <= t.now
   AND t.now < t.now - make_interval(days => e.age_days) + m.window_from;
-- time_dependent: windows and day counters change with time alone
SELECT measure, time_dependent FROM tagscrm.rule_measures(
	'count(event, last 30 days) > 0 and count(event) > 0 and days_since_last_order > 1 and age > 1
	 and total_paid > 1 and city = ''x''');

-- ---------------------------------------------------------------------------
-- 4. Evaluation against plain SQL with the same logic and the same values.
--    Value domains include NULL, both sides of each boundary, and equality.
-- ---------------------------------------------------------------------------
-- high spender: sum(order.amount, last 365 days) >= 5000
SELECT count(*) AS cases,
       count(*) FILTER (WHERE ours IS DISTINCT FROM (s >= 5000)) AS mismatches,
       count(*) FILTER (WHERE ours) AS true_cases, count(*) FILTER (WHERE ours IS NULL) AS null_cases
  FROM (VALUES (NULL::float8), (0), (4999.99), (5000), (5000.01), (1e9)) AS v(s),
       LATERAL (SELECT tagscrm.rule_eval_values('sum(order.amount, last 365 days) >= 5000',
                                                jsonb_build_object('1', s)) AS ours) AS r;
-- predicted churn: views in [60 d, 30 d) > 4 and none in the last 30 days
SELECT count(*) AS cases,
       count(*) FILTER (WHERE ours IS DISTINCT FROM (old > 4 AND recent = 0)) AS mismatches,
       count(*) FILTER (WHERE ours) AS true_cases, count(*) FILTER (WHERE ours IS NULL) AS null_cases
  FROM (VALUES (NULL::float8), (0), (4), (5), (9)) AS a(old),
       (VALUES (NULL::float8), (0), (1), (3)) AS b(recent),
       LATERAL (SELECT tagscrm.rule_eval_values(
	'count(event ''view'', from 60 days ago to 30 days ago) > 4 and count(event ''view'', last 30 days) = 0',
	jsonb_build_object('1', old, '2', recent)) AS ours) AS r;
-- custom wardrobe interest, with a duration sum on the side
SELECT count(*) AS cases,
       count(*) FILTER (WHERE ours IS DISTINCT FROM (n >= 1 OR secs > 3600)) AS mismatches
  FROM (VALUES (NULL::float8), (0), (1), (2)) AS a(n),
       (VALUES (NULL::float8), (0), (3600), (3600.5)) AS b(secs),
       LATERAL (SELECT tagscrm.rule_eval_values(
	'count(event ''read'' where object = ''wardrobe-guide'' and duration > 30 s) >= 1 or sum(event.duration ''read'') > 1 hour',
	jsonb_build_object('1', n, '2', secs)) AS ours) AS r;
-- member and high intent
SELECT count(*) AS cases,
       count(*) FILTER (WHERE ours IS DISTINCT FROM (reg OR (consult >= 3 AND orders = 0))) AS mismatches
  FROM (VALUES (NULL::boolean), (true), (false)) AS a(reg),
       (VALUES (NULL::float8), (2), (3), (4)) AS b(consult),
       (VALUES (NULL::float8), (0), (1)) AS c(orders),
       LATERAL (SELECT tagscrm.rule_eval_values(
	'has_event(''register'') or count(event ''consult'', last 14 days) >= 3 and order_count = 0',
	jsonb_build_object('1', reg, '2', consult, '3', orders)) AS ours) AS r;
-- attributes and models: IN, BETWEEN, text equality
SELECT count(*) AS cases,
       count(*) FILTER (WHERE ours IS DISTINCT FROM
                        (city IN ('Shanghai', 'Beijing') AND age BETWEEN 25 AND 35 AND seg = 'important_value')) AS mismatches,
       count(*) FILTER (WHERE ours) AS true_cases
  FROM (VALUES (NULL::text), ('Shanghai'), ('Beijing'), ('shanghai'), ('Shanghai ')) AS a(city),
       (VALUES (NULL::float8), (24.99), (25), (30), (35), (35.01)) AS b(age),
       (VALUES (NULL::text), ('important_value'), ('general_value')) AS c(seg),
       LATERAL (SELECT tagscrm.rule_eval_values(
	'city in (''Shanghai'', ''Beijing'') and age between 25 and 35 and rfm_segment = ''important_value''',
	jsonb_build_object('1', city, '2', age, '3', seg)) AS ours) AS r;
-- tags and a model output; NOT BETWEEN, NOT IN, IS NULL, IS NOT NULL
SELECT count(*) AS cases,
       count(*) FILTER (WHERE ours IS DISTINCT FROM
                        ((vip AND NOT black AND p > 0.7) OR (p NOT BETWEEN 0.1 AND 0.9 AND g NOT IN ('f'))
                         OR (g IS NULL AND p IS NOT NULL))) AS mismatches
  FROM (VALUES (NULL::boolean), (true), (false)) AS a(vip),
       (VALUES (NULL::boolean), (true), (false)) AS b(black),
       (VALUES (NULL::float8), (0.05), (0.7), (0.71), (0.95)) AS c(p),
       (VALUES (NULL::text), ('f'), ('m')) AS d(g),
       LATERAL (SELECT tagscrm.rule_eval_values(
	'has_tag(''vip'') and not has_tag(''blacklist'') and churn_probability > 0.7
	 or churn_probability not between 0.1 and 0.9 and gender not in (''f'')
	 or gender is null and churn_probability is not null',
	jsonb_build_object('1', vip, '2', black, '3', p, '4', g)) AS ours) AS r;
-- measure compared with a measure, and a condition compared with a boolean
SELECT count(*) AS cases,
       count(*) FILTER (WHERE ours IS DISTINCT FROM ((a > b) = (t = false))) AS mismatches
  FROM (VALUES (NULL::float8), (1), (2)) AS x(a),
       (VALUES (NULL::float8), (1), (2)) AS y(b),
       (VALUES (NULL::boolean), (true), (false)) AS z(t),
       LATERAL (SELECT tagscrm.rule_eval_values(
	'(sum(order.amount, last 30 days) > avg(order.amount)) = (has_tag(''x'') = false)',
	jsonb_build_object('1', a, '2', b, '3', t)) AS ours) AS r;

-- ---------------------------------------------------------------------------
-- 5. NULL logic: truth tables of AND, OR and NOT against SQL
-- ---------------------------------------------------------------------------
SELECT a, b,
       tagscrm.rule_eval_values('has_tag(''a'') and has_tag(''b'')', jsonb_build_object('1', a, '2', b)) AS "and",
       a AND b AS sql_and,
       tagscrm.rule_eval_values('has_tag(''a'') or has_tag(''b'')', jsonb_build_object('1', a, '2', b)) AS "or",
       a OR b AS sql_or,
       tagscrm.rule_eval_values('not has_tag(''a'')', jsonb_build_object('1', a)) AS "not",
       NOT a AS sql_not,
       tagscrm.rule_eval_values('has_tag(''a'') is null', jsonb_build_object('1', a)) AS "is null",
       a IS NULL AS sql_is_null
  FROM (VALUES (true), (false), (NULL)) AS x(a), (VALUES (true), (false), (NULL)) AS y(b)
 ORDER BY a NULLS LAST, b NULLS LAST;
-- a comparison with an unknown value is unknown; IN and BETWEEN too
SELECT tagscrm.rule_eval_values('age > 30', '{"1": null}') AS cmp,
       tagscrm.rule_eval_values('city in (''a'', ''b'')', '{"1": null}') AS "in",
       tagscrm.rule_eval_values('age between 1 and 2', '{"1": null}') AS "between",
       tagscrm.rule_eval_values('age > 30 or true', '{"1": null}') AS or_true,
       tagscrm.rule_eval_values('age > 30 and false', '{"1": null}') AS and_false;

-- ---------------------------------------------------------------------------
-- 6. Errors, one per line, with their position under the rule
-- ---------------------------------------------------------------------------
SELECT tagscrm.rule_check('');
SELECT tagscrm.rule_check('   ');
SELECT tagscrm.rule_check('total_paid >=');
SELECT tagscrm.rule_check('total_paid >= 5000 and');
SELECT tagscrm.rule_check('total_paid 5000');
SELECT tagscrm.rule_check('(total_paid >= 5000');
SELECT tagscrm.rule_check('total_paid >= 5000)');
SELECT tagscrm.rule_check('total_paid >= = 5000');
SELECT tagscrm.rule_check('total_paid = 1 = 1');
SELECT tagscrm.rule_check('city = ''Shanghai');
SELECT tagscrm.rule_check('city = "Shanghai"');
SELECT tagscrm.rule_check('city = ''a'' && age > 1');
SELECT tagscrm.rule_check('city == ''a''');
SELECT tagscrm.rule_check('total_spent > 1');
SELECT tagscrm.rule_check('lower(city) = ''a''');
SELECT tagscrm.rule_check('city > ''a''');
SELECT tagscrm.rule_check('city = 5');
SELECT tagscrm.rule_check('age = ''30''');
SELECT tagscrm.rule_check('age between 1 and ''x''');
SELECT tagscrm.rule_check('city between ''a'' and ''b''');
SELECT tagscrm.rule_check('age in (1, ''2'')');
SELECT tagscrm.rule_check('age in ()');
SELECT tagscrm.rule_check('age = null');
SELECT tagscrm.rule_check('age is 5');
SELECT tagscrm.rule_check('age not 5');
SELECT tagscrm.rule_check('total_paid');
SELECT tagscrm.rule_check('total_paid and has_tag(''a'')');
SELECT tagscrm.rule_check('not total_paid');
SELECT tagscrm.rule_check('1e999 > 1');
SELECT tagscrm.rule_check('- -1 > 1');
SELECT tagscrm.rule_check('has_tag(vip)');
SELECT tagscrm.rule_check('has_tag('''')');
SELECT tagscrm.rule_check('has_event('''')');
SELECT tagscrm.rule_check('has_tag(''a'', ''b'')');
SELECT tagscrm.rule_check('count(customer) > 1');
SELECT tagscrm.rule_check('count(order.amount) > 1');
SELECT tagscrm.rule_check('sum(order) > 1');
SELECT tagscrm.rule_check('sum(event.kind) > 1');
SELECT tagscrm.rule_check('sum(order.price) > 1');
SELECT tagscrm.rule_check('count(order ''web'') > 1');
SELECT tagscrm.rule_check('count(event where object > ''a'') > 1');
SELECT tagscrm.rule_check('count(event where duration > 30) > 1');
SELECT tagscrm.rule_check('count(event where amount > 30) > 1');
SELECT tagscrm.rule_check('count(event where kind = ''a'' or kind = ''b'') > 1');
SELECT tagscrm.rule_check('count(event, last 30) > 1');
SELECT tagscrm.rule_check('count(event, last 0 days) > 1');
SELECT tagscrm.rule_check('count(event, last 12 months) > 1');
SELECT tagscrm.rule_check('count(event, last 101 years) > 1');
SELECT tagscrm.rule_check('count(event, last 40000 days) > 1');
SELECT tagscrm.rule_check('count(event, last -5 days) > 1');
SELECT tagscrm.rule_check('count(event, from 30 days ago to 60 days ago) > 1');
SELECT tagscrm.rule_check('count(event, from 30 days ago) > 1');
SELECT tagscrm.rule_check('count(event, 30 days) > 1');
SELECT tagscrm.rule_check('sum(event.duration) > 5');
SELECT tagscrm.rule_check('count(event) > 5 s');
-- positions count characters, not bytes
SELECT tagscrm.rule_check('city = ''上海'' and 年龄 > 30');
-- the SQLSTATE of each error above
SELECT rule, pg_temp.rule_error(rule) AS error FROM (VALUES
	(''), ('total_paid >='), ('total_paid 5000'), ('(total_paid >= 5000'), ('city = ''Shanghai'),
	('city = "Shanghai"'), ('total_spent > 1'), ('lower(city) = ''a'''), ('city > ''a'''), ('city = 5'),
	('age in ()'), ('age = null'), ('total_paid'), ('1e999 > 1'), ('has_tag('''')'),
	('count(order.amount) > 1'), ('sum(order.price) > 1'), ('count(order ''web'') > 1'),
	('count(event, last 12 months) > 1'), ('count(event, from 30 days ago to 60 days ago) > 1'),
	('sum(event.duration) > 5')) AS v(rule);

-- ---------------------------------------------------------------------------
-- 7. Injection attempts are plain errors; nothing is executed
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE x (a int);
SELECT tagscrm.rule_check('''; DROP TABLE x; --');
SELECT tagscrm.rule_check('city = ''''; DROP TABLE x; --''');
SELECT tagscrm.rule_check('pg_sleep(10)');
SELECT tagscrm.rule_check('has_tag(''a'') and pg_sleep(10) is null');
SELECT tagscrm.rule_check('x) OR (1=1');
SELECT tagscrm.rule_check('has_tag(''a'')) OR (1=1');
SELECT tagscrm.rule_check('$$ || pg_sleep(10) || $$');
SELECT tagscrm.rule_check('age > 1 -- comment');
SELECT tagscrm.rule_check('age > 1 /* comment */');
SELECT tagscrm.rule_check('age > 1; SELECT 1');
SELECT tagscrm.rule_check('U&''\0041'' = city');
SELECT tagscrm.rule_check('E''\x41'' = city');
SELECT tagscrm.rule_check('city = ''a''::text');
SELECT tagscrm.rule_check('"city" = ''a''');
SELECT tagscrm.rule_check('tagscrm.has_tag(''a'')');
-- a string may hold anything and stays a plain value
SELECT tagscrm.rule_eval_values('city = ''''''; DROP TABLE x; --''', '{"1": "''; DROP TABLE x; --"}') AS matches;
SELECT count(*) AS x_still_there FROM x;

-- ---------------------------------------------------------------------------
-- 8. Limits: clean errors past them, correct results within them
-- ---------------------------------------------------------------------------
-- 100,000 nested parentheses and a 1 MB rule: too long
SELECT pg_temp.rule_error(repeat('(', 100000) || 'has_tag(''x'')' || repeat(')', 100000)) AS paren_100k;
SELECT pg_temp.rule_error(repeat('has_tag(''x'') or ', 65536) || 'true') AS one_mb;
-- 10,000 OR terms: too long; 4,000 OR terms work
SELECT pg_temp.rule_error(string_agg('age = ' || i, ' or ')) AS or_10k FROM generate_series(1, 10000) i;
WITH r AS (SELECT string_agg('age = ' || i, ' or ') AS rule FROM generate_series(1, 4000) i)
SELECT length(rule) AS bytes,
       tagscrm.rule_eval_values(rule, '{"1": 4000}') AS age_4000,
       tagscrm.rule_eval_values(rule, '{"1": 4001}') AS age_4001,
       tagscrm.rule_eval_values(rule, '{"1": 0}') AS age_0,
       tagscrm.rule_eval_values(rule, '{"1": 1234}') AS age_1234,
       (SELECT count(*) FROM tagscrm.rule_measures(rule)) AS measures
  FROM r;
-- same answers from SQL for every age from -1 to 4002
WITH r AS (SELECT string_agg('age = ' || i, ' or ') AS rule FROM generate_series(1, 4000) i)
SELECT count(*) AS ages,
       count(*) FILTER (WHERE tagscrm.rule_eval_values(rule, jsonb_build_object('1', a))
                              IS DISTINCT FROM (a BETWEEN 1 AND 4000)) AS mismatches
  FROM r, generate_series(-1, 4002) a;
-- nesting: 100 nested conditions work, 101 do not; 255 parentheses work, 256 do not
SELECT tagscrm.rule_eval_values(repeat('not ', 100) || 'has_tag(''x'')', '{"1": true}') AS not_100;
SELECT pg_temp.rule_error(repeat('not ', 101) || 'has_tag(''x'')') AS not_101;
SELECT tagscrm.rule_eval_values(repeat('(', 255) || 'has_tag(''x'')' || repeat(')', 255), '{"1": true}') AS parens_255;
SELECT pg_temp.rule_error(repeat('(', 256) || 'has_tag(''x'')' || repeat(')', 256)) AS parens_256;
SELECT pg_temp.rule_error(repeat('not ', 16000) || 'has_tag(''x'')') AS not_16k;
-- 20,000 elements at most; 1,000 distinct measures at most
SELECT pg_temp.rule_error('age in (' || repeat('1,', 25000) || '1)') AS in_25k;
SELECT pg_temp.rule_error(string_agg('has_tag(''t' || i || ''')', ' or ')) AS tags_1001
  FROM generate_series(1, 1001) i;
SELECT count(*) AS measures FROM tagscrm.rule_measures(
	(SELECT string_agg('has_tag(''t' || i || ''')', ' or ') FROM generate_series(1, 1000) i));
-- a long rule's error gives its position as context instead of echoing it
SELECT tagscrm.rule_check(repeat('has_tag(''x'') or ', 100) || 'oops');

-- ---------------------------------------------------------------------------
-- 9. rule_eval_values: bad values, one per line
-- ---------------------------------------------------------------------------
SELECT tagscrm.rule_eval_values('age > 1', '[1]');
SELECT tagscrm.rule_eval_values('age > 1', '{}');
SELECT tagscrm.rule_eval_values('age > 1', '{"1": 2, "2": 3}');
SELECT tagscrm.rule_eval_values('age > 1', '{"01": 2}');
SELECT tagscrm.rule_eval_values('age > 1', '{"x": 2}');
SELECT tagscrm.rule_eval_values('true', '{"1": 2}');
SELECT tagscrm.rule_eval_values('age > 1', '{"1": [2]}');
SELECT tagscrm.rule_eval_values('age > 1', '{"1": "2"}');
SELECT tagscrm.rule_eval_values('city = ''a''', '{"1": 1}');
SELECT tagscrm.rule_eval_values('has_tag(''a'')', '{"1": 1}');
SELECT tagscrm.rule_eval_values('age > 1', '{"1": 1e400}');
SELECT tagscrm.rule_eval_values('age > 1', NULL) IS NULL AS strict_null;
-- durations are given in seconds
SELECT tagscrm.rule_eval_values('sum(event.duration) > 1 min', '{"1": 60}') AS at_60_s,
       tagscrm.rule_eval_values('sum(event.duration) > 1 min', '{"1": 60.5}') AS at_60_5_s;

-- ---------------------------------------------------------------------------
-- 10. Cache: 300 distinct rules (past the 256 cached), each asked twice,
--     give the same answers as SQL
-- ---------------------------------------------------------------------------
SELECT count(*) AS evaluations,
       count(*) FILTER (WHERE tagscrm.rule_eval_values('total_paid >= ' || n, jsonb_build_object('1', v))
                              IS DISTINCT FROM (v >= n)) AS mismatches
  FROM generate_series(1, 300) n, (VALUES (1), (150), (300)) AS t(v), generate_series(1, 2) AS again;

-- the cache is bounded: 256 parsed rules kept, well under 16 MB
SELECT count(*) AS cached_rules, sum(total_bytes) < 16 * 1024 * 1024 AS under_16_mb
  FROM pg_backend_memory_contexts WHERE parent = 'tagscrm rule cache';

-- ---------------------------------------------------------------------------
-- 11. Mutation fuzz in the server: 10,000 deterministic mutations (delete,
--     insert or replace one character, or cut) of the rules above; each one
--     parses or fails with an expected SQLSTATE, and the server never restarts
-- ---------------------------------------------------------------------------
SELECT pg_postmaster_start_time() AS started \gset
WITH seeds AS (
	SELECT row_number() OVER (ORDER BY n) - 1 AS k, rule FROM construct),
mutations AS (
	SELECT i, s.rule, abs(hashint4(i)) AS h1, abs(hashint4(-i)) AS h2
	  FROM generate_series(1, 10000) i
	  JOIN seeds s ON s.k = i % (SELECT count(*) FROM seeds)),
mutated AS (
	SELECT i, CASE h1 % 4
	          WHEN 0 THEN overlay(rule placing '' from 1 + h2 % length(rule) for 1)
	          WHEN 1 THEN overlay(rule placing substr(' ()''=<>!-.,0123456789aeinorstdw_', 1 + h1 / 4 % 33, 1)
	                              from 1 + h2 % length(rule) for 0)
	          WHEN 2 THEN overlay(rule placing substr(' ()''=<>!-.,0123456789aeinorstdw_', 1 + h1 / 4 % 33, 1)
	                              from 1 + h2 % length(rule) for 1)
	          ELSE left(rule, h2 % length(rule)) END AS rule
	  FROM mutations),
results AS (SELECT i, rule, pg_temp.rule_error(rule) AS result FROM mutated)
SELECT count(*) AS mutations,
       count(*) FILTER (WHERE result = 'ok') > 0 AS some_parse,
       count(*) FILTER (WHERE result NOT LIKE 'ok' AND left(result, 5) NOT IN
                        ('42601', '42703', '42804', '42883', '22023', '22003', '54000')) AS unexpected_errors
  FROM results;
SELECT pg_postmaster_start_time() = :'started' AS no_restart;

-- ---------------------------------------------------------------------------
-- 12. Privileges: the rule functions are for tagscrm_reader, not PUBLIC
-- ---------------------------------------------------------------------------
SELECT p.oid::regprocedure AS function,
       has_function_privilege('tagscrm_reader', p.oid, 'EXECUTE') AS reader,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public
  FROM pg_proc p
 WHERE p.pronamespace = 'tagscrm'::regnamespace AND p.proname LIKE 'rule\_%'
 ORDER BY 1::text;
