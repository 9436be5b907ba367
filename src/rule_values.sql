
-- ---------------------------------------------------------------------------
-- rule_values.sql: the host side of the rule language (rule_batch.c)
--
-- rule_verdicts() evaluates many rules for many customers at once: each
-- measure is computed for the whole batch in one pass per source (facts
-- where they suffice, one scan of the watched orders and events where they
-- do not, through the customer column's index for a list of customers), and
-- filters and windows from the parsed rules are applied in C, to data: no
-- text of a rule ever becomes SQL.  Everything else here is that one code
-- path for one customer.
-- ---------------------------------------------------------------------------

-- stable: reads the facts and the watched tables, and tagscrm.now()
CREATE FUNCTION @extschema@.rule_verdicts(rules text[], customers text[])
	RETURNS TABLE (customer_id text, holding integer[], unknown integer[], next_change_at timestamptz)
	AS 'MODULE_PATHNAME', 'rule_verdicts'
	LANGUAGE C STABLE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.rule_verdicts(text[], text[]) IS
	'Internal: per customer (everyone with facts when customers is null), which rules (positions) hold and are unknown, and when time alone may next change one';

-- rule_values and tag_rule_eval are SECURITY DEFINER for readers, who may
-- not read the facts: they read tagscrm's own tables, and the watched tables
-- as their owners; a reader learns what the rule's measures say of one
-- customer, which is what readers are for (docs/security.md).
CREATE FUNCTION @extschema@.rule_values(rule text, customer text) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'rule_values'
	LANGUAGE C STABLE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.rule_values(text, text) IS
	'The value of each measure of a rule for one customer, keyed by measure id (as rule_eval_values takes them)';

CREATE FUNCTION @extschema@.tag_rule_eval(rule text, customer text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
RETURN (SELECT CASE WHEN v.holding <> '{}' THEN true WHEN v.unknown = '{}' THEN false END
          FROM @extschema@.rule_verdicts(ARRAY[rule], ARRAY[@extschema@.check_customer(customer)]) v);
COMMENT ON FUNCTION @extschema@.tag_rule_eval(text, text) IS
	'Evaluates a tag rule for one customer now: true, false, or NULL when unknown';

CREATE FUNCTION @extschema@.tag_rule_eval(rule text, customer bigint) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN @extschema@.tag_rule_eval(rule, customer::text);
COMMENT ON FUNCTION @extschema@.tag_rule_eval(text, bigint) IS 'tag_rule_eval for bigint customer ids';
