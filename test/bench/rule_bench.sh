#!/usr/bin/env bash
# test/bench/rule_bench.sh: evaluating a tag rule for every customer, our
# rule_eval_values (parsed once, cached per backend) vs the same condition
# written as a plain SQL WHERE clause, in one run.  Also shows the cost of
# building the jsonb argument alone and of parsing on every call (cache
# defeated by 1,000 distinct rule texts, more than the 256 cached).
#
# Usage (from the repository root): PGHOST=... PGPORT=... bash test/bench/rule_bench.sh [customers] [repeats]
# Needs a server with tagscrm installed; creates and drops the database
# rule_bench.  Data are generated deterministically (hashint4).  Each figure
# is the median of the repeats (default 3) in milliseconds, one backend, no
# parallel workers, no JIT; ratio = ours / plain SQL (> 1: ours is slower).
# Last, test/bench/rule_eval_bench.c times the C path (RuleParse, RuleEval).
set -euo pipefail
customers="${1:-200000}"
repeats="${2:-3}"
db=rule_bench

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db"' EXIT

psql -X -q -d "$db" -v ON_ERROR_STOP=1 <<SQL
\pset footer off
SET max_parallel_workers_per_gather = 0;
SET jit = off;
CREATE EXTENSION tagscrm;
-- per-customer measure values as the host would compute them; ~1 % NULLs
CREATE TABLE facts AS
SELECT i AS customer_id,
       CASE WHEN i % 97 = 0 THEN NULL ELSE (abs(hashint4(i)) % 1000000) / 100.0 END::float8 AS paid_365d,
       (ARRAY['Shanghai', 'Beijing', 'Shenzhen', 'Hangzhou', NULL])[1 + abs(hashint4(i + 1000000)) % 5] AS city,
       CASE WHEN i % 89 = 0 THEN NULL ELSE 16 + abs(hashint4(i + 2000000)) % 60 END::float8 AS age,
       abs(hashint4(i + 3000000)) % 20 = 0 AS blacklisted,
       CASE WHEN i % 83 = 0 THEN NULL ELSE (abs(hashint4(i + 4000000)) % 1000) / 1000.0 END::float8 AS churn
FROM generate_series(1, $customers) AS i;
VACUUM ANALYZE facts;

CREATE TABLE bench_times (method text, run int, ms float8, matches bigint);
DO \$bench\$
DECLARE
	rule constant text := 'sum(order.amount, last 365 days) >= 5000 and city in (''Shanghai'', ''Beijing'')'
	                      ' and age between 25 and 35 and not has_tag(''blacklist'') and churn_probability > 0.7';
	queries constant text[] := ARRAY[
		'plain SQL', 'SELECT count(*) FROM facts WHERE paid_365d >= 5000 AND city IN (''Shanghai'', ''Beijing'')'
		             ' AND age BETWEEN 25 AND 35 AND NOT blacklisted AND churn > 0.7',
		'jsonb argument only', 'SELECT count(*) FROM facts WHERE jsonb_build_object(''1'', paid_365d, ''2'', city,'
		             ' ''3'', age, ''4'', blacklisted, ''5'', churn) IS NOT NULL',
		'rule_eval_values, cached', 'SELECT count(*) FROM facts WHERE tagscrm.rule_eval_values(\$1,'
		             ' jsonb_build_object(''1'', paid_365d, ''2'', city, ''3'', age, ''4'', blacklisted, ''5'', churn))',
		'rule_eval_values, parsed every call', 'SELECT count(*) FROM facts WHERE tagscrm.rule_eval_values(\$1'
		             ' || repeat('' '', customer_id % 1000), jsonb_build_object(''1'', paid_365d, ''2'', city,'
		             ' ''3'', age, ''4'', blacklisted, ''5'', churn))'];
	t0 timestamptz;
	n bigint;
BEGIN
	FOR run IN 1..$repeats LOOP
		FOR q IN 1..array_length(queries, 1) / 2 LOOP
			t0 := clock_timestamp();
			EXECUTE queries[2 * q] INTO n USING rule;
			INSERT INTO bench_times VALUES (queries[2 * q - 1], run,
				1000 * extract(epoch FROM clock_timestamp() - t0), n);
		END LOOP;
	END LOOP;
END
\$bench\$;

\echo customers: $customers, repeats: $repeats (median ms)
WITH m AS (
	SELECT method, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS ms, min(matches) AS matches,
	       max(matches) AS matches_max, min(run) AS first
	  FROM bench_times GROUP BY method)
SELECT m.method, round(m.ms::numeric, 1) AS median_ms,
       round((m.ms / s.ms)::numeric, 2) AS ratio_to_sql,
       round((1000000 * m.ms / $customers)::numeric / 1000, 2) AS us_per_customer,
       m.matches
  FROM m, m AS s WHERE s.method = 'plain SQL'
 ORDER BY m.ms;
-- the rule and the SQL must select the same customers
SELECT count(DISTINCT matches) = 1 AS same_customers
  FROM bench_times WHERE method <> 'jsonb argument only';
SQL

# The C path the host uses (no jsonb): parse once, RuleEval per customer.
bin="$(mktemp /tmp/rule_eval_bench.XXXXXX)"
# the standard-C core of the rule language (see src/rule.h)
core="src/rule_vocabulary.c src/rule_arena.c src/rule_lex.c src/rule_parse.c src/rule_check.c
	src/rule_measure.c src/rule_print.c src/rule_eval.c"
cc -O2 -Isrc "$(dirname "$0")/rule_eval_bench.c" $core -lm -o "$bin" &&
	"$bin" 10000000
rm -f "$bin"
