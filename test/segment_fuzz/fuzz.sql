-- test/segment_fuzz/fuzz.sql: the fuzzer.  Generates :count inputs (more
-- while :seconds have not passed) from seed :seed, runs each through
-- segment_count in its own subtransaction, some through segment_members and
-- define_segment, keeps every outcome in fuzz_result, then prints one line
-- per check: name|failures|inputs checked|first failing input.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

-- the pieces mutations insert and junk is made of: the language's own
-- tokens, the lexer's other tokens (numbers, operators, comments), quotes,
-- letters outside ASCII, invisible and control characters
CREATE FUNCTION fuzz_piece() RETURNS text LANGUAGE sql VOLATILE
RETURN (SELECT p[1 + floor(random() * cardinality(p))::integer] FROM (SELECT ARRAY['(', ')', '''', '''''', ' and ', ' or ', ' not ', 'not', 'tag', 'group', 'segment', 'tag(', '(''', ''')',
              ',', '.', '-', '--', '/*', '"', '=', '<>', '!', '&&', '||', ';', '$$', '\', '%s', '1e999', repeat('9', 130),
              '0.5', '.5e3', 'é', '京', chr(160), chr(8203), chr(128512), chr(65279), chr(1), chr(127), E'\t', E'\n', ' ',
              'AND', 'Or', 'NOT NOT', 'segment(''seg 1'')', 'tag(''garden'')', 'group(''channel'')',
              'segment(''chain 16'')', 'tag(''' || repeat('n', 100) || ''')',
              'sum(order.amount, last 90 days) > 300', 'order_count', ' >= ', ' > 5', ' between 1 and ', 'count(order',
              ' where amount > 10', ', last 30 days)', 'max(event.duration)', 'city = ''x''', 'has_tag(''garden'')', ' in (1, 2)',
              ' is null', 'true', '5 days']) x(p));

-- one character: printable ASCII or any code point (surrogates excepted)
CREATE FUNCTION fuzz_char() RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	cp integer;
BEGIN
	IF random() < 0.5 THEN
		RETURN chr(32 + floor(random() * 95)::integer);
	END IF;
	cp := 1 + floor(random() * 1114111)::integer;
	IF cp BETWEEN 55296 AND 57343 THEN
		cp := cp - 2048;
	END IF;
	RETURN chr(cp);
END
$$;

-- junk: up to 300 pieces and characters
CREATE FUNCTION fuzz_junk() RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	s text := '';
BEGIN
	FOR i IN 1 .. floor(random() * 300)::integer LOOP
		s := s || CASE WHEN random() < 0.5 THEN fuzz_piece() ELSE fuzz_char() END;
	END LOOP;
	RETURN s;
END
$$;

-- one to three random mutations of a text
CREATE FUNCTION fuzz_mutate(t text) RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	n integer;
	p integer;
	k integer;
BEGIN
	FOR i IN 1 .. 1 + floor(random() * 3)::integer LOOP
		n := length(t);
		p := floor(random() * (n + 1))::integer;          -- 0 .. n: characters kept before the change
		k := 1 + floor(random() * least(n + 1, 20))::integer;
		CASE floor(random() * 8)::integer
		WHEN 0 THEN t := overlay(t PLACING fuzz_char() FROM p + 1 FOR 1);          -- replace a character
		WHEN 1 THEN t := left(t, p);                                                 -- truncate
		WHEN 2 THEN t := overlay(t PLACING fuzz_piece() FROM p + 1 FOR 0);         -- insert a piece
		WHEN 3 THEN t := overlay(t PLACING '' FROM p + 1 FOR k);                   -- delete a span
		WHEN 4 THEN t := overlay(t PLACING substr(t, p + 1, k) FROM p + 1 FOR 0);  -- duplicate a span
		WHEN 5 THEN t := overlay(t PLACING repeat(CASE WHEN random() < 0.5 THEN '(' ELSE 'not ' END,
		                                         90 + floor(random() * 20)::integer) FROM p + 1 FOR 0);   -- deep nesting
		WHEN 6 THEN t := regexp_replace(t, '''([^'']|'''')*''',                     -- a very long or odd name
		                                fuzz_quote(CASE floor(random() * 3)::integer WHEN 0 THEN repeat('x', floor(random() * 10000)::integer)
		                                                  WHEN 1 THEN repeat('é''', 1 + floor(random() * 50)::integer)
		                                                  ELSE ' ' || fuzz_char() || ' ' END));
		ELSE t := CASE WHEN random() < 0.5 THEN upper(t) ELSE reverse(t) END;
		END CASE;
	END LOOP;
	RETURN t;
END
$$;

-- segment_count of a text: the count, or the error's SQLSTATE and message
CREATE FUNCTION fuzz_count(e text, OUT state text, OUT message text, OUT got bigint) LANGUAGE plpgsql AS $$
BEGIN
	got := tagscrm.segment_count(e);
	state := '00000';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
END
$$;
-- how many ids segment_members lists (all in one page)
CREATE FUNCTION fuzz_members(e text, OUT state text, OUT got bigint) LANGUAGE plpgsql AS $$
BEGIN
	got := (SELECT count(*) FROM tagscrm.segment_members(e, NULL, 100000));
	state := '00000';
EXCEPTION WHEN OTHERS THEN
	state := SQLSTATE;
END
$$;
-- define_segment of the text, then segment_count by name; dropped again
CREATE FUNCTION fuzz_define(e text, OUT state text, OUT message text, OUT got bigint) LANGUAGE plpgsql AS $$
BEGIN
	PERFORM tagscrm.define_segment('fuzz probe', e);
	got := tagscrm.segment_count('fuzz probe');
	PERFORM tagscrm.drop_segment('fuzz probe');
	state := '00000';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
END
$$;

CREATE TABLE fuzz_result (
	id integer PRIMARY KEY, kind text, input text,
	want bigint, want_state text,      -- known answers: a count (valid, rewrite, limit) or a SQLSTATE (limit)
	state text, message text, got bigint,
	members_state text, members bigint,
	define_state text, define_message text, defined bigint);

CREATE FUNCTION fuzz_run(n integer, seconds float8) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	customers bigint := (SELECT count(*) FROM tagscrm.customer);
	stop timestamptz := clock_timestamp() + make_interval(secs => seconds);
	i integer := 0;
	r float8;
	g text[];
	e text;
	want bigint;
	want_state text;
	kind text;
	d integer;
	nots integer;
	res record;
	m record;
	df record;
BEGIN
	WHILE i < n OR clock_timestamp() < stop LOOP
		i := i + 1;
		want := NULL;
		want_state := NULL;
		r := random();
		IF r < 0.55 THEN
			g := fuzz_gen(1 + floor(random() * 5)::integer);
			e := g[1];
			IF r < 0.15 THEN
				kind := 'valid';
				EXECUTE format('SELECT count(*) FROM %s s', g[2]) INTO want;
			ELSIF r < 0.25 THEN
				-- rewrites that keep the answer: redundant parentheses and
				-- NOTs, spaces and line breaks, letter case, a or a, a and a;
				-- and two with a fixed answer
				kind := 'rewrite';
				EXECUTE format('SELECT count(*) FROM %s s', g[2]) INTO want;
				CASE floor(random() * 7)::integer
				WHEN 0 THEN e := format(E' \t(%s)\n', e);
				WHEN 1 THEN e := format('not not (%s)', e);
				WHEN 2 THEN e := replace(replace(e, '(', E'(\n '), ')', E'\t)  ');
				WHEN 3 THEN e := upper(e);
				WHEN 4 THEN e := format('(%s) or (%1$s)', e);
				WHEN 5 THEN e := format('(%s) or not (%1$s)', e); want := customers;
				ELSE e := format('not (%s) and (%1$s)', e); want := 0;
				END CASE;
			ELSE
				kind := 'mutant';
				e := fuzz_mutate(e);
			END IF;
		ELSIF r < 0.7 THEN
			kind := 'junk';
			e := fuzz_junk();
		ELSE
			-- near a limit, with the exact answer
			kind := 'limit';
			CASE floor(random() * 4)::integer
			WHEN 0 THEN   -- nesting: d levels of "(" or "not"
				d := 95 + floor(random() * 11)::integer;
				nots := 0;
				e := 'tag(''garden'')';
				FOR j IN 1 .. d LOOP
					IF random() < 0.5 THEN
						e := '(' || e || ')';
					ELSE
						e := 'not ' || e;
						nots := nots + 1;
					END IF;
				END LOOP;
				IF d > 100 THEN
					want_state := '54000';
				ELSE
					EXECUTE format('SELECT count(*) FROM %s s', CASE WHEN nots % 2 = 0 THEN fuzz_tag_sql('garden')
					               ELSE fuzz_not_sql(fuzz_tag_sql('garden')) END) INTO want;
				END IF;
			WHEN 1 THEN   -- terms and operators: k terms, k - 1 operators
				d := 495 + floor(random() * 11)::integer;
				e := array_to_string(array_fill('tag(''books'')'::text, ARRAY[d]), CASE WHEN random() < 0.5 THEN ' or ' ELSE ' AND ' END);
				IF 2 * d - 1 > 1000 THEN
					want_state := '54000';
				ELSE
					EXECUTE format('SELECT count(*) FROM %s s', fuzz_tag_sql('books')) INTO want;
				END IF;
			WHEN 2 THEN   -- bytes: a term padded with spaces (the name has three bytes a letter)
				d := 9990 + floor(random() * 21)::integer;
				e := 'tag(''会员'')';
				d := d - octet_length(e);
				e := repeat(' ', d / 2) || e || repeat(E'\n', d - d / 2);
				IF octet_length(e) > 10000 THEN
					want_state := '54000';
				ELSE
					EXECUTE format('SELECT count(*) FROM %s s', fuzz_tag_sql('会员')) INTO want;
				END IF;
			ELSE          -- a long name that is no tag
				e := format('group(''channel'') or tag(%s)', fuzz_quote(repeat(fuzz_char(), 1 + floor(random() * 3300)::integer)));
				want_state := CASE WHEN octet_length(e) > 10000 THEN '54000' ELSE '42704' END;
			END CASE;
		END IF;
		IF current_setting('fuzz.verbose', true) = 'on' THEN
			RAISE WARNING 'input %: %', i, left(e, 200);
		END IF;
		res := fuzz_count(e);
		INSERT INTO fuzz_result (id, kind, input, want, want_state, state, message, got)
		VALUES (i, kind, e, want, want_state, res.state, res.message, res.got);
		-- every fifth input also through segment_members and define_segment
		IF i % 5 = 0 THEN
			m := fuzz_members(e);
			df := fuzz_define(e);
			UPDATE fuzz_result SET members_state = m.state, members = m.got,
			       define_state = df.state, define_message = df.message, defined = df.got
			 WHERE id = i;
		END IF;
	END LOOP;
	RETURN i;
END
$$;

-- the checks: name, which inputs it covers, which of them fail
CREATE FUNCTION fuzz_report(planned integer) RETURNS TABLE (check_name text, failed bigint, checked bigint, example text)
LANGUAGE plpgsql AS $$
DECLARE
	c text[];
	documented text := $d$'42601', '42704', '22023', '54000', '42703', '42883', '42804', '22003'$d$;
BEGIN
	FOREACH c SLICE 1 IN ARRAY ARRAY[
		['every error has a documented SQLSTATE (42601, 42704, 22023, 54000; in conditions 42703, 42883, 42804, 22003)', 'true',
		 format('state NOT IN (''00000'', %1$s) OR members_state NOT IN (''00000'', %1$s) OR define_state NOT IN (''00000'', %1$s)', documented)],
		['every error has a message of its own', 'state <> ''00000'' OR define_state <> ''00000''',
		 $c$(state <> '00000' AND (coalesce(message, '') IN ('', 'invalid rule', 'invalid segment expression'))) OR (define_state <> '00000' AND coalesce(define_message, '') IN ('', 'invalid rule', 'invalid segment expression'))$c$],
		['valid expressions: segment_count equals the plain SQL over customer_tag and the orders', $c$kind = 'valid'$c$,
		 $c$state <> '00000' OR got <> want$c$],
		['rewritten expressions (parentheses, not not, spaces, case, a or a, a or not a, not a and a): the count they must have', $c$kind = 'rewrite'$c$,
		 $c$state <> '00000' OR got <> want$c$],
		['near the limits (nesting 95-105, 990-1009 nodes, 9990-10010 bytes, long names): the exact SQLSTATE or count', $c$kind = 'limit'$c$,
		 $c$state IS DISTINCT FROM coalesce(want_state, '00000') OR (want IS NOT NULL AND got IS DISTINCT FROM want)$c$],
		['accepted inputs: 0 <= count <= customers', $c$state = '00000'$c$,
		 $c$got IS NULL OR got < 0 OR got > (SELECT count(*) FROM tagscrm.customer)$c$],
		['segment_members: the same error, or as many ids as segment_count', 'members_state IS NOT NULL',
		 $c$members_state IS DISTINCT FROM state OR (state = '00000' AND members IS DISTINCT FROM got)$c$],
		['define_segment: saves what segment_count accepts (but one level deeper or a bare name), with the same count; refuses the rest', 'define_state IS NOT NULL',
		 $c$(define_state = '00000' AND (state <> '00000' OR defined IS DISTINCT FROM got))
		    OR (state = '00000' AND define_state <> '00000' AND NOT (define_state = '54000'
		        OR (define_state = '42601' AND EXISTS (SELECT FROM tagscrm.segment s WHERE lower(s.name) = lower(btrim(input))))))$c$]]
	LOOP
		check_name := c[1];
		EXECUTE format('SELECT count(*) FILTER (WHERE (%2$s) IS TRUE), count(*), '
		               '(SELECT format(''input %%s (%%s, %%s %%s): %%s'', f.id, f.kind, f.state, f.message, left(f.input, 300)) '
		               '   FROM fuzz_result f WHERE (%1$s) AND (%2$s) IS TRUE ORDER BY f.id LIMIT 1) '
		               'FROM fuzz_result WHERE %1$s', c[2], c[3])
		   INTO failed, checked, example;
		RETURN NEXT;
	END LOOP;
	-- the fuzzer is not trivial: mutants that parse, and errors of each kind
	check_name := 'mutants and junk reach both outcomes: accepted, and each of 42601, 42704, 54000';
	SELECT (count(*) FILTER (WHERE kind IN ('mutant', 'junk') AND state = '00000') = 0)::integer
	       + (SELECT count(*) FROM unnest(ARRAY['42601', '42704', '54000']) s
	           WHERE NOT EXISTS (SELECT FROM fuzz_result r WHERE r.kind IN ('mutant', 'junk') AND r.state = s)),
	       count(*) FILTER (WHERE kind IN ('mutant', 'junk')),
	       string_agg(DISTINCT state, ' ') FILTER (WHERE kind IN ('mutant', 'junk'))
	  INTO failed, checked, example FROM fuzz_result;
	RETURN NEXT;
	check_name := format('%s inputs ran, at least the %s asked for', (SELECT count(*) FROM fuzz_result), planned);
	SELECT (count(*) < planned)::integer, count(*),
	       (SELECT string_agg(format('%s %s', k, n), ', ' ORDER BY k) FROM (SELECT kind, count(*) FROM fuzz_result GROUP BY 1) x(k, n))
	  INTO failed, checked, example FROM fuzz_result;
	RETURN NEXT;
END
$$;

SELECT setseed(:seed::float8 / 2147483648) IS NULL AS seeded \gset
SELECT fuzz_run(:count, :seconds) AS inputs \gset
\pset format unaligned
\pset tuples_only on
\pset fieldsep '|'
SELECT check_name, failed, checked, regexp_replace(coalesce(example, ''), '[[:cntrl:]]', '?', 'g') FROM fuzz_report(:count);
