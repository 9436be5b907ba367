
-- ---------------------------------------------------------------------------
-- rule.sql: the rule language for automatic tags (parser, explain, measures,
-- evaluation against given measure values).  Rules are parsed in C and never
-- reach SQL; the functions below are immutable: their result depends only on
-- their arguments (and on the tagscrm version).
-- ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.rule_check(rule text) RETURNS void
	AS 'MODULE_PATHNAME', 'rule_check'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rule_check(text) IS
	'Parses and type-checks a tag rule; raises 42601 (syntax, with position), 42703, 42804, 42883, 22023 or 54000';

CREATE FUNCTION @extschema@.rule_explain(rule text) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'rule_explain'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rule_explain(text) IS
	'Parsed form of a tag rule: canonical text with full parentheses, measures with parameters, tree';

CREATE FUNCTION @extschema@.rule_measures(rule text)
	RETURNS TABLE (measure_id integer, kind text, value_type text, name text, measure text,
	               time_dependent boolean, func text, source text, field text, filters jsonb,
	               window_from interval, window_to interval, "position" integer)
	AS 'MODULE_PATHNAME', 'rule_measures'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 4;
COMMENT ON FUNCTION @extschema@.rule_measures(text) IS
	'One row per distinct measure a tag rule needs, with the character where it is first used; a row at time e counts in a window while e + window_to <= now < e + window_from';

CREATE FUNCTION @extschema@.rule_eval_values(rule text, measure_values jsonb) RETURNS boolean
	AS 'MODULE_PATHNAME', 'rule_eval_values'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rule_eval_values(text, jsonb) IS
	'Evaluates a tag rule against measure values keyed by measure id ({"1": 5300, "2": null}); null when unknown';

-- immutable: the vocabulary is compiled into the library (it changes only
-- with the tagscrm version); no arguments, so STRICT would mean nothing
CREATE FUNCTION @extschema@.rule_vocabulary()
	RETURNS TABLE (name text, kind text, value_type text, time_dependent boolean, description text)
	AS 'MODULE_PATHNAME', 'rule_vocabulary'
	LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 40;
COMMENT ON FUNCTION @extschema@.rule_vocabulary() IS
	'Every name a tag rule may use: facts, attributes, models, aggregate functions, has_tag, and the fields of orders and events; value_type is null for sum, min, max and avg (the type of their field), time_dependent is true for values that change with time alone (aggregates: with a window)';
