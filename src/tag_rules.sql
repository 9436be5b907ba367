
-- ---------------------------------------------------------------------------
-- tag_rules.sql: rules attached to tags make them automatic
--
-- A tag of method 'rule' gets a rule (set_tag_rule), is previewed
-- (preview_tag_rule), then switched on (enable_tag_rule).  From then on
-- sync_rules() keeps it current for the customers each statement touches,
-- for everyone at refresh(), and at sweep() when a window the rule looks at
-- moves past one of the customer's rows.  An operator's decision to keep or
-- remove an automatic tag for a customer (review_tag) wins until released.
-- ---------------------------------------------------------------------------

CREATE TABLE @extschema@.tag_rule (
	tag_id    integer PRIMARY KEY REFERENCES @extschema@.tag,
	rule      text NOT NULL,
	priority  integer NOT NULL DEFAULT 100,   -- in an exclusive group, the lowest priority that holds wins
	enabled   boolean NOT NULL DEFAULT false,
	set_by    text NOT NULL,
	set_at    timestamptz NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tag_rule', '');
COMMENT ON TABLE @extschema@.tag_rule IS 'The rule of each automatic tag (as typed; parsed when used)';

CREATE TABLE @extschema@.tag_review (
	customer_id text NOT NULL,
	tag_id      integer NOT NULL REFERENCES @extschema@.tag,
	decision    text NOT NULL CHECK (decision IN ('keep', 'remove')),
	decided_by  text NOT NULL,
	decided_at  timestamptz NOT NULL,
	reason      text,
	PRIMARY KEY (customer_id, tag_id)
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tag_review', '');
COMMENT ON TABLE @extschema@.tag_review IS
	'Operators'' decisions on automatic tags: keep or remove for a customer, until released';

-- Brings the rule tags of these customers (NULL: everyone known) in line
-- with the enabled rules and the operators' reviews, with history; and the
-- kept sets of the conditions of saved segments (segments.sql) with those
-- conditions, in the same batch.  Callers hold the customers' fact locks.
-- Its statements keep generic plans for the session: planned for each
-- call's values, its read cost a single-row write over a millisecond, more
-- than the work; every table it reads is reached through "= ANY (customers)", so one
-- plan of index probes serves one customer and a batch of 50,000 alike
-- (customers is never NULL in it: NULL becomes everyone known first).
CREATE FUNCTION @extschema@.sync_rules(customers text[]) RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
	changed bigint := 0;
	logged_ids bigint[];
	set_tags integer[];               -- kept condition sets that change
	set_came @extschema@.customer_set[];
	set_went @extschema@.customer_set[];
	diff_customers text[];            -- rule tags that come (comes) or go
	diff_tags integer[];
	diff_names text[];
	diff_groups integer[];
	diff_exclusive boolean[];
	diff_comes boolean[];
	moved_customers text[];           -- next changes in time that differ
	moved_at timestamptz[];
BEGIN
	IF NOT EXISTS (SELECT FROM @extschema@.tag_rule r WHERE r.enabled)
	   AND NOT EXISTS (SELECT FROM @extschema@.segment_condition c
	                    JOIN @extschema@.tag_set_base b ON b.tag_id = -c.condition_id) THEN
		RETURN 0;
	END IF;
	IF customers IS NULL THEN   -- everyone known: whoever has facts or holds a rule tag
		customers := ARRAY(SELECT f.customer_id FROM @extschema@.customer_fact f
		                   UNION SELECT ct.customer_id FROM @extschema@.customer_tag ct WHERE ct.source = 'rule'
		                   ORDER BY 1);
	END IF;
	-- First what would change, read only: every enabled rule and kept
	-- segment condition evaluated for every customer in one batch
	-- (rule_batch.c; the conditions after the rules).  The writes come after,
	-- each only when it has rows: a write of no rows would still fire
	-- customer_tag's statement triggers (segments.sql), and for a single-row
	-- statement nothing changes most of the time.
	WITH rules AS MATERIALIZED (
		SELECT row_number() OVER (ORDER BY r.tag_id)::integer AS n, r.tag_id, r.rule, r.priority,
		       t.name, t.group_id, g.exclusive
		  FROM @extschema@.tag_rule r JOIN @extschema@.tag t USING (tag_id)
		  JOIN @extschema@.tag_group g ON g.group_id = t.group_id
		 WHERE r.enabled AND t.status = 'active'),
	conditions AS MATERIALIZED (
		SELECT (SELECT count(*) FROM rules)::integer + row_number() OVER (ORDER BY c.condition_id)::integer AS n,
		       c.condition_id, c.condition
		  FROM @extschema@.segment_condition c
		 WHERE EXISTS (SELECT FROM @extschema@.tag_set_base b WHERE b.tag_id = -c.condition_id)),
	who AS (
		SELECT f.customer_id, f.rule_next_change_at FROM @extschema@.customer_fact f WHERE f.customer_id = ANY (customers)),
	verdicts AS MATERIALIZED (
		SELECT v.*, w.rule_next_change_at AS was_next_change_at
		  FROM @extschema@.rule_verdicts(ARRAY(SELECT x.rule FROM (SELECT r.n, r.rule FROM rules r
		                                                       UNION ALL
		                                                       SELECT c.n, c.condition FROM conditions c) x
		                                      ORDER BY x.n), customers) v
		  JOIN who w ON w.customer_id = v.customer_id),
	-- each kept condition's set: the customers evaluated who hold it now
	-- come in, those who no longer do go out (segments.sql: tag_set_log)
	condition_sets AS (
		SELECT -c.condition_id AS tag_id, x.came, x.went
		  FROM conditions c
		 CROSS JOIN LATERAL (
			SELECT s.now_in OPERATOR(@extschema@.-) s.was AS came,
			       (s.was OPERATOR(@extschema@.&) s.seen) OPERATOR(@extschema@.-) s.now_in AS went
			  FROM (SELECT COALESCE(@extschema@.customer_set_agg(k.key) FILTER (WHERE c.n = ANY (v.holding)), '{}') AS now_in,
			               COALESCE(@extschema@.customer_set_agg(k.key), '{}') AS seen,
			               @extschema@.tag_set(-c.condition_id) AS was
			          FROM verdicts v JOIN @extschema@.customer_key k ON k.customer_id = v.customer_id) s) x
		 WHERE @extschema@.customer_set_cardinality(x.came) > 0 OR @extschema@.customer_set_cardinality(x.went) > 0),
	-- the rule holds and no review removes it, or a review keeps it
	verdict AS (
		SELECT v.customer_id, r.tag_id, r.name, r.group_id, r.exclusive, r.priority
		  FROM verdicts v CROSS JOIN LATERAL unnest(v.holding) h(n) JOIN rules r ON r.n = h.n
		 WHERE NOT EXISTS (SELECT FROM @extschema@.tag_review x
		                    WHERE x.customer_id = v.customer_id AND x.tag_id = r.tag_id AND x.decision = 'remove')
		UNION
		SELECT x.customer_id, r.tag_id, r.name, r.group_id, r.exclusive, r.priority
		  FROM @extschema@.tag_review x JOIN rules r USING (tag_id) JOIN who w ON w.customer_id = x.customer_id
		 WHERE x.decision = 'keep'),
	desired AS (   -- in an exclusive group only the first rule that holds, by priority
		SELECT DISTINCT ON (x.customer_id, CASE WHEN x.exclusive THEN x.group_id ELSE -x.tag_id END)
		       x.customer_id, x.tag_id, x.name, x.group_id, x.exclusive
		  FROM verdict x
		 ORDER BY x.customer_id, CASE WHEN x.exclusive THEN x.group_id ELSE -x.tag_id END, x.priority, x.tag_id),
	held AS (
		SELECT ct.customer_id, ct.tag_id, t.name
		  FROM @extschema@.customer_tag ct
		  JOIN @extschema@.tag t ON t.tag_id = ct.tag_id
		 WHERE ct.source = 'rule' AND ct.customer_id = ANY (customers)),
	-- a FULL JOIN runs as a hash or merge join: NOT EXISTS against these
	-- CTEs could become a nested loop rescanning one for each row of the other
	diff AS MATERIALIZED (
		SELECT COALESCE(d.customer_id, h.customer_id) AS customer_id, COALESCE(d.tag_id, h.tag_id) AS tag_id,
		       COALESCE(d.name, h.name) AS name, d.group_id, d.exclusive, d.tag_id IS NOT NULL AS comes
		  FROM desired d FULL JOIN held h ON h.customer_id = d.customer_id AND h.tag_id = d.tag_id
		 WHERE d.tag_id IS NULL OR h.tag_id IS NULL)
	SELECT s.tags, s.came, s.went, d.customers, d.tags, d.names, d.groups, d.exclusive, d.comes, m.customers, m.at
	  INTO set_tags, set_came, set_went, diff_customers, diff_tags, diff_names, diff_groups, diff_exclusive, diff_comes,
	       moved_customers, moved_at
	  FROM (SELECT array_agg(x.tag_id ORDER BY x.tag_id) AS tags, array_agg(x.came ORDER BY x.tag_id) AS came,
	               array_agg(x.went ORDER BY x.tag_id) AS went FROM condition_sets x) s,
	       (SELECT array_agg(x.customer_id ORDER BY x.customer_id, x.tag_id) AS customers,
	               array_agg(x.tag_id ORDER BY x.customer_id, x.tag_id) AS tags,
	               array_agg(x.name ORDER BY x.customer_id, x.tag_id) AS names,
	               array_agg(x.group_id ORDER BY x.customer_id, x.tag_id) AS groups,
	               array_agg(x.exclusive ORDER BY x.customer_id, x.tag_id) AS exclusive,
	               array_agg(x.comes ORDER BY x.customer_id, x.tag_id) AS comes FROM diff x) d,
	       (SELECT array_agg(v.customer_id ORDER BY v.customer_id) AS customers,
	               array_agg(v.next_change_at ORDER BY v.customer_id) AS at
	          FROM verdicts v WHERE v.was_next_change_at IS DISTINCT FROM v.next_change_at) m;

	IF set_tags IS NOT NULL THEN
		WITH logged AS (
			INSERT INTO @extschema@.tag_set_log (tag_id, added, removed)
			SELECT x.tag_id, x.came, x.went FROM unnest(set_tags, set_came, set_went) x(tag_id, came, went) ORDER BY x.tag_id
			RETURNING log_id)
		SELECT array_agg(l.log_id) INTO logged_ids FROM logged l;
		-- a condition's long log is folded as a tag's is (segments.sql)
		PERFORM @extschema@.tag_set_autofold(logged_ids);
	END IF;
	IF diff_customers IS NOT NULL THEN
		WITH diff AS (
			SELECT * FROM unnest(diff_customers, diff_tags, diff_names, diff_groups, diff_exclusive, diff_comes)
			              x(customer_id, tag_id, name, group_id, exclusive, comes)),
		gone AS (
			DELETE FROM @extschema@.customer_tag ct USING diff x
			 WHERE NOT x.comes AND ct.customer_id = x.customer_id AND ct.tag_id = x.tag_id AND ct.source = 'rule'
			RETURNING ct.customer_id, ct.tag_id, x.name),
		registered AS (
			INSERT INTO @extschema@.customer (customer_id, first_seen_at)
			SELECT DISTINCT x.customer_id, @extschema@.now() FROM diff x WHERE x.comes ORDER BY 1
			ON CONFLICT DO NOTHING RETURNING 1),
		came AS (
			INSERT INTO @extschema@.customer_tag
				(customer_id, tag_id, group_id, exclusive_group_id, source, applied_by, applied_at)
			SELECT x.customer_id, x.tag_id, x.group_id, CASE WHEN x.exclusive THEN x.group_id END, 'rule',
			       @extschema@.acting_role(), @extschema@.now()
			  FROM diff x
			 WHERE x.comes
			   AND (SELECT count(*) FROM gone) >= 0 AND (SELECT count(*) FROM registered) >= 0
			 ORDER BY x.customer_id, x.tag_id
			ON CONFLICT DO NOTHING   -- a hand tag of the same name is already there
			RETURNING customer_id, tag_id),
		logged AS (
			INSERT INTO @extschema@.tag_history (changed_at, changed_by, customer_id, tag_id, action, old, new, source, reason)
			SELECT @extschema@.now(), @extschema@.acting_role(), g.customer_id, g.tag_id, 'remove',
			       jsonb_build_object('tag', g.name), NULL, 'rule', 'rule no longer holds'
			  FROM gone g
			UNION ALL
			SELECT @extschema@.now(), @extschema@.acting_role(), c.customer_id, c.tag_id, 'add',
			       NULL, jsonb_build_object('tag', t.name), 'rule', 'rule holds'
			  FROM came c JOIN @extschema@.tag t USING (tag_id)
			RETURNING 1)
		SELECT count(*) INTO changed FROM logged;
	END IF;
	IF moved_customers IS NOT NULL THEN
		UPDATE @extschema@.customer_fact f
		   SET rule_next_change_at = m.next_change_at
		  FROM unnest(moved_customers, moved_at) m(customer_id, next_change_at)
		 WHERE f.customer_id = m.customer_id;
	END IF;
	RETURN changed;
END
$$;
COMMENT ON FUNCTION @extschema@.sync_rules(text[]) IS
	'Internal: brings rule tags in line with the enabled rules and reviews, with history';

-- The customer attributes a rule names that tagscrm cannot supply, with the
-- character where the rule first names each and a hint: city, gender and
-- the others are columns of the watched customer table (watch_customers'
-- attributes), birth_year and age come from its birth date column;
-- days_since_registration is always known.  The rule language itself
-- refuses names it does not know (rule_check).  Segment conditions are
-- checked with it too (segment.c).
CREATE FUNCTION @extschema@.rule_unsupplied(rule text)
RETURNS TABLE (name text, "position" integer, hint text)
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT m.name, m."position",
	       CASE WHEN m.name IN ('age', 'birth_year')
	            THEN 'birth_year and age come from the birth date column of the watched customer table: tagscrm.watch_customers(..., birth_date => ...).'
	            WHEN c.relid IS NULL
	            THEN 'No customer table is watched: tagscrm.watch_customers(table, customer, attributes => ARRAY[...]) supplies attributes.'
	            ELSE format('The watched customer table %s supplies %s.', c.relid,
	                        COALESCE(NULLIF(array_to_string(c.attribute_columns, ', '), ''), 'no attributes')) END
	  FROM @extschema@.rule_measures(rule) m
	  LEFT JOIN @extschema@.watched_table c ON c.role = 'customers'
	 WHERE m.kind = 'attribute' AND m.name <> 'days_since_registration'
	   AND NOT (m.name IN ('age', 'birth_year') AND c.birth_date_column IS NOT NULL)
	   AND NOT COALESCE(m.name = ANY (c.attribute_columns), false)
	 ORDER BY m."position"
$$;
COMMENT ON FUNCTION @extschema@.rule_unsupplied(text) IS
	'Internal: the customer attributes a rule names that no watched column supplies, where, and a hint';

-- Raises unless tagscrm can supply every customer attribute the rule names.
CREATE FUNCTION @extschema@.check_rule_supplies(rule text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m record;
BEGIN
	FOR m IN SELECT * FROM @extschema@.rule_unsupplied(rule) u ORDER BY u."position" LIMIT 1 LOOP
		RAISE EXCEPTION 'rule names customer attribute "%", which no watched column supplies', m.name
			USING ERRCODE = '42703',
			      DETAIL = format('At character %s of the rule.', m."position"),
			      HINT = m.hint;
	END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.check_rule_supplies(text) IS
	'Internal: raises unless the watched tables supply every customer attribute a rule names';

CREATE FUNCTION @extschema@.find_rule_tag(tag text) RETURNS @extschema@.tag
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t @extschema@.tag := @extschema@.find_tag(tag);
BEGIN
	PERFORM @extschema@.check_active(t, tag);
	IF t.method <> 'rule' THEN
		RAISE EXCEPTION 'tag "%" is not a rule tag (method %)', tag, t.method
			USING ERRCODE = '55000', HINT = 'Create the tag with method => ''rule'' to give it a rule.';
	END IF;
	RETURN t;
END
$$;
COMMENT ON FUNCTION @extschema@.find_rule_tag(text) IS 'Internal: the active tag of method rule of that name';

CREATE FUNCTION @extschema@.set_tag_rule(tag text, rule text, priority integer DEFAULT 100) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
DECLARE
	t @extschema@.tag := @extschema@.find_rule_tag(tag);
	old @extschema@.tag_rule;
BEGIN
	IF rule IS NULL OR priority IS NULL THEN
		RAISE EXCEPTION 'rule and priority must not be null' USING ERRCODE = '22004', HINT = 'Write the rule as text.';
	END IF;
	PERFORM @extschema@.rule_check(rule);   -- raises with the position of any error
	PERFORM @extschema@.check_rule_supplies(rule);
	PERFORM @extschema@.lock_library();
	SELECT * INTO old FROM @extschema@.tag_rule r WHERE r.tag_id = t.tag_id;
	INSERT INTO @extschema@.tag_rule AS r (tag_id, rule, priority, set_by, set_at)
	VALUES (t.tag_id, rule, priority, @extschema@.acting_role(), @extschema@.now())
	ON CONFLICT (tag_id) DO UPDATE SET rule = EXCLUDED.rule, priority = EXCLUDED.priority,
	                                   set_by = EXCLUDED.set_by, set_at = EXCLUDED.set_at;
	PERFORM @extschema@.log_library('tag', t.name, 'set rule',
		CASE WHEN old.tag_id IS NOT NULL THEN jsonb_build_object('rule', old.rule, 'priority', old.priority) END,
		jsonb_build_object('rule', rule, 'priority', priority), NULL);
	IF old.enabled THEN
		PERFORM @extschema@.lock_for_everyone(breakpoints => false);   -- writers wait while everyone is evaluated
		PERFORM @extschema@.maintain_in_batches('rules', false, true, lock_rows => false, stages => 'rules');
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.set_tag_rule(text, text, integer) IS
	'Gives a rule tag its rule (checked now; switched on with enable_tag_rule)';

CREATE FUNCTION @extschema@.enable_tag_rule(tag text, enabled boolean DEFAULT true) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
DECLARE
	t @extschema@.tag := @extschema@.find_rule_tag(tag);
BEGIN
	IF NOT EXISTS (SELECT FROM @extschema@.tag_rule r WHERE r.tag_id = t.tag_id) THEN
		RAISE EXCEPTION 'tag "%" has no rule', tag USING ERRCODE = '55000', HINT = 'Set one with tagscrm.set_tag_rule().';
	END IF;
	PERFORM @extschema@.lock_for_everyone(breakpoints => false);   -- writers wait while everyone is evaluated
	UPDATE @extschema@.tag_rule r SET enabled = enable_tag_rule.enabled WHERE r.tag_id = t.tag_id;
	PERFORM @extschema@.log_library('tag', t.name, CASE WHEN enabled THEN 'enable rule' ELSE 'disable rule' END, NULL, NULL, NULL);
	IF NOT enabled THEN   -- the tag stops being automatic: its holders lose it
		WITH gone AS (
			DELETE FROM @extschema@.customer_tag ct WHERE ct.tag_id = t.tag_id AND ct.source = 'rule' RETURNING ct.*)
		INSERT INTO @extschema@.tag_history (changed_at, changed_by, customer_id, tag_id, action, old, new, source, reason)
		SELECT @extschema@.now(), @extschema@.acting_role(), g.customer_id, g.tag_id, 'remove',
		       jsonb_build_object('tag', t.name), NULL, 'rule', 'rule switched off'
		  FROM gone g ORDER BY g.customer_id;
	END IF;
	PERFORM @extschema@.maintain_in_batches('rules', false, true, lock_rows => false, stages => 'rules');
END
$$;
COMMENT ON FUNCTION @extschema@.enable_tag_rule(text, boolean) IS
	'Switches a tag''s rule on (everyone is evaluated now) or off (enabled => false: rule holders lose the tag)';

-- What switching a rule on would do, without doing it.
CREATE FUNCTION @extschema@.preview_tag_rule(tag text, rule text DEFAULT NULL, sample_size integer DEFAULT 10)
RETURNS TABLE (holders_now bigint, would_hold bigint, would_gain bigint, would_lose bigint,
               sample_gain text[], sample_lose text[])
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
DECLARE
	t @extschema@.tag := @extschema@.find_rule_tag(tag);
	r text := COALESCE(rule, (SELECT x.rule FROM @extschema@.tag_rule x WHERE x.tag_id = t.tag_id));
BEGIN
	IF r IS NULL THEN
		RAISE EXCEPTION 'tag "%" has no rule', tag USING ERRCODE = '55000', HINT = 'Pass the rule to preview.';
	END IF;
	PERFORM @extschema@.rule_check(r);
	PERFORM @extschema@.check_rule_supplies(r);
	RETURN QUERY
	WITH now_held AS (SELECT ct.customer_id FROM @extschema@.customer_tag ct WHERE ct.tag_id = t.tag_id),
	would AS (SELECT f.customer_id FROM @extschema@.rule_verdicts(ARRAY[r], NULL) f
	           WHERE f.holding <> '{}'
	             AND NOT EXISTS (SELECT FROM @extschema@.tag_review v WHERE v.customer_id = f.customer_id
	                              AND v.tag_id = t.tag_id AND v.decision = 'remove')
	          UNION
	          SELECT v.customer_id FROM @extschema@.tag_review v WHERE v.tag_id = t.tag_id AND v.decision = 'keep'),
	gain AS (SELECT customer_id FROM would EXCEPT SELECT customer_id FROM now_held),
	lose AS (SELECT customer_id FROM now_held EXCEPT SELECT customer_id FROM would)
	SELECT (SELECT count(*) FROM now_held), (SELECT count(*) FROM would), (SELECT count(*) FROM gain),
	       (SELECT count(*) FROM lose),
	       ARRAY(SELECT customer_id FROM gain ORDER BY 1 LIMIT sample_size),
	       ARRAY(SELECT customer_id FROM lose ORDER BY 1 LIMIT sample_size);
END
$$;
COMMENT ON FUNCTION @extschema@.preview_tag_rule(text, text, integer) IS
	'How many customers a rule would give or take the tag from (with a sample), changing nothing';

-- An operator's decision on an automatic tag for one customer: 'keep' it
-- (also when the rule says no) or 'remove' it (also when the rule says yes).
CREATE FUNCTION @extschema@.review_tag(customer text, tag text, decision text, reason text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
DECLARE
	id text := @extschema@.check_customer(customer);
	t @extschema@.tag := @extschema@.find_rule_tag(tag);
BEGIN
	IF decision IS NULL OR decision NOT IN ('keep', 'remove') THEN
		RAISE EXCEPTION 'decision must be keep or remove' USING ERRCODE = '22023', HINT = 'Use release_review() to undo a decision.';
	END IF;
	PERFORM @extschema@.lock_facts(ARRAY[id]);
	INSERT INTO @extschema@.tag_review AS v (customer_id, tag_id, decision, decided_by, decided_at, reason)
	VALUES (id, t.tag_id, decision, @extschema@.acting_role(), @extschema@.now(), reason)
	ON CONFLICT (customer_id, tag_id) DO UPDATE
	   SET decision = EXCLUDED.decision, decided_by = EXCLUDED.decided_by, decided_at = EXCLUDED.decided_at,
	       reason = EXCLUDED.reason;
	INSERT INTO @extschema@.tag_history (changed_at, changed_by, customer_id, tag_id, action, old, new, source, reason)
	VALUES (@extschema@.now(), @extschema@.acting_role(), id, t.tag_id, 'review', NULL,
	        jsonb_build_object('tag', t.name, 'decision', decision), 'manual', reason);
	PERFORM @extschema@.sync_rules(ARRAY[id]);
END
$$;
COMMENT ON FUNCTION @extschema@.review_tag(text, text, text, text) IS
	'Keeps or removes an automatic tag for a customer whatever the rule says, until released';

CREATE FUNCTION @extschema@.release_review(customer text, tag text, reason text DEFAULT NULL) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
DECLARE
	id text := @extschema@.check_customer(customer);
	t @extschema@.tag := @extschema@.find_rule_tag(tag);
BEGIN
	PERFORM @extschema@.lock_facts(ARRAY[id]);
	DELETE FROM @extschema@.tag_review v WHERE v.customer_id = id AND v.tag_id = t.tag_id;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	INSERT INTO @extschema@.tag_history (changed_at, changed_by, customer_id, tag_id, action, old, new, source, reason)
	VALUES (@extschema@.now(), @extschema@.acting_role(), id, t.tag_id, 'release', jsonb_build_object('tag', t.name),
	        NULL, 'manual', reason);
	PERFORM @extschema@.sync_rules(ARRAY[id]);
	RETURN true;
END
$$;
COMMENT ON FUNCTION @extschema@.release_review(text, text, text) IS
	'Ends an operator''s decision on an automatic tag: the rule decides again';
