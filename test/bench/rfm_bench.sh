#!/usr/bin/env bash
# test/bench/rfm_bench.sh: RFM breakpoints + scoring + segments of every
# customer into a table, our C functions vs the best plain-SQL ways, with and
# without parallel workers and with JIT on and off, in one run.
#
# Usage: PGHOST=... PGPORT=... bash test/bench/rfm_bench.sh [customers] [repeats]
#   optional: METHODS="score_only_ours ..." PARALLEL="off" JIT="off" to run a subset
# Needs a server with tagscrm installed (make install); creates and drops
# the database rfm_bench.  Data are generated deterministically (hashint4),
# so every run measures the same input.  Each figure is the median of the
# repeats (default 3) in milliseconds; ratios are theirs / ours (> 1 means
# ours is faster).
set -euo pipefail
customers="${1:-1000000}"
repeats="${2:-3}"
db=rfm_bench

psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db"' EXIT

{
cat <<SQL
\set ON_ERROR_STOP on
\pset footer off
SET client_min_messages = warning;
CREATE EXTENSION tagscrm;
-- per-customer facts as refresh() would keep them: recency in days,
-- frequency (60 % of customers have 1 order), monetary; ~0.3 % NULLs
CREATE TABLE facts AS
SELECT i::int8 AS customer_id,
       CASE WHEN i % 1009 = 0 THEN NULL ELSE (abs(hashint4(i)::int8) % 1000)::float8 END AS recency,
       CASE WHEN i % 1013 = 0 THEN NULL
            WHEN abs(hashint4(-i)::int8) % 10 < 6 THEN 1::float8
            ELSE (2 + abs(hashint4(i + 2000000)::int8) % 40)::float8 END AS frequency,
       CASE WHEN i % 1019 = 0 THEN NULL
            ELSE ((abs(hashint4(i + 4000000)::int8) % 1000000) / 100.0)::float8 END AS monetary
FROM generate_series(1, $customers) AS i;
VACUUM ANALYZE facts;
CREATE TABLE bench_times (method text, parallel bool, jit bool, run int, ms float8);
CREATE TABLE bench_plans (method text, parallel bool, jit bool, gather bool);
-- EXPLAIN a statement and say whether it uses parallel workers
CREATE FUNCTION uses_gather(q text) RETURNS bool LANGUAGE plpgsql AS \$\$
DECLARE l text;
BEGIN
	FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
		IF l LIKE '%Gather%' THEN RETURN true; END IF;
	END LOOP;
	RETURN false;
END \$\$;
SQL

# the measured methods: name | statements (the last one writes the output table)
complete="f.recency IS NOT NULL AND f.frequency IS NOT NULL AND f.monetary IS NOT NULL"
segcase() {  # $1 $2 $3: R high, F high, M high boolean expressions
	echo "CASE WHEN $1 THEN CASE WHEN $2 THEN CASE WHEN $3 THEN 'important_value' ELSE 'general_value' END
	            ELSE CASE WHEN $3 THEN 'important_develop' ELSE 'general_develop' END END
	       ELSE CASE WHEN $2 THEN CASE WHEN $3 THEN 'important_keep' ELSE 'general_keep' END
	            ELSE CASE WHEN $3 THEN 'important_retain' ELSE 'general_retain' END END END"
}
declare -A bp score
bp[ours]="CREATE TABLE bp AS SELECT tagscrm.rfm_breakpoints(recency, frequency, monetary) AS bp FROM facts"
score[ours]="SELECT f.customer_id,
       tagscrm.rfm_score(f.recency, (b.bp).r_cuts, false) AS r_score,
       tagscrm.rfm_score(f.frequency, (b.bp).f_cuts, true) AS f_score,
       tagscrm.rfm_score(f.monetary, (b.bp).m_cuts, true) AS m_score,
       tagscrm.rfm_segment(f.recency, f.frequency, f.monetary, b.bp) AS segment
FROM facts f CROSS JOIN bp b WHERE $complete"
bp[ours_classify]="${bp[ours]}"
score[ours_classify]="SELECT customer_id, (c).r_score, (c).f_score, (c).m_score, (c).segment
FROM (SELECT f.customer_id, tagscrm.rfm_classify(f.recency, f.frequency, f.monetary, b.bp) AS c
      FROM facts f CROSS JOIN bp b WHERE $complete OFFSET 0) s"
bp[ours_classify_lateral]="${bp[ours]}"
score[ours_classify_lateral]="SELECT f.customer_id, c.r_score, c.f_score, c.m_score, c.segment
FROM facts f CROSS JOIN bp b CROSS JOIN LATERAL tagscrm.rfm_classify(f.recency, f.frequency, f.monetary, b.bp) c
WHERE $complete"
bp[plain_case]="CREATE TABLE bp AS
SELECT percentile_disc(ARRAY[.2, .4, .6, .8]) WITHIN GROUP (ORDER BY recency) AS r_cuts,
       percentile_disc(ARRAY[.2, .4, .6, .8]) WITHIN GROUP (ORDER BY frequency) AS f_cuts,
       percentile_disc(ARRAY[.2, .4, .6, .8]) WITHIN GROUP (ORDER BY monetary) AS m_cuts,
       avg(recency) AS r_mean, avg(frequency) AS f_mean, avg(monetary) AS m_mean
FROM facts f WHERE $complete"
score[plain_case]="SELECT f.customer_id,
       CASE WHEN f.recency <= b.r_cuts[1] THEN 5 WHEN f.recency <= b.r_cuts[2] THEN 4
            WHEN f.recency <= b.r_cuts[3] THEN 3 WHEN f.recency <= b.r_cuts[4] THEN 2 ELSE 1 END AS r_score,
       CASE WHEN f.frequency <= b.f_cuts[1] THEN 1 WHEN f.frequency <= b.f_cuts[2] THEN 2
            WHEN f.frequency <= b.f_cuts[3] THEN 3 WHEN f.frequency <= b.f_cuts[4] THEN 4 ELSE 5 END AS f_score,
       CASE WHEN f.monetary <= b.m_cuts[1] THEN 1 WHEN f.monetary <= b.m_cuts[2] THEN 2
            WHEN f.monetary <= b.m_cuts[3] THEN 3 WHEN f.monetary <= b.m_cuts[4] THEN 4 ELSE 5 END AS m_score,
       $(segcase "f.recency < b.r_mean" "f.frequency > b.f_mean" "f.monetary > b.m_mean") AS segment
FROM facts f CROSS JOIN bp b WHERE $complete"
bp[plain_ntile]="CREATE TABLE bp AS SELECT 1 AS unused"
score[plain_ntile]="SELECT customer_id, r_score, f_score, m_score,
       $(segcase rh fh mh) AS segment
FROM (SELECT f.customer_id,
             6 - ntile(5) OVER (ORDER BY f.recency) AS r_score,
             ntile(5) OVER (ORDER BY f.frequency) AS f_score,
             ntile(5) OVER (ORDER BY f.monetary) AS m_score,
             f.recency < avg(f.recency) OVER () AS rh,
             f.frequency > avg(f.frequency) OVER () AS fh,
             f.monetary > avg(f.monetary) OVER () AS mh
      FROM facts f WHERE $complete) s"
# breakpoints alone (no scoring): our aggregate vs percentile_disc + avg
bp[bp_only_ours]="${bp[ours]}"
score[bp_only_ours]="SELECT 1 AS unused"
bp[bp_only_plain]="${bp[plain_case]}"
score[bp_only_plain]="SELECT 1 AS unused"
# scoring alone, against breakpoints stored beforehand (not timed), summed up
# instead of written: the cost of the functions themselves, and what parallel
# workers can do when the result is an aggregate (segment sizes for a report)
declare -A pre
for w in ours ours_classify plain_case; do
	pre[score_only_$w]="${bp[$w]}"
	bp[score_only_$w]=""
	score[score_only_$w]="SELECT sum(r_score) + sum(f_score) + sum(m_score) AS s, max(segment) AS g FROM (${score[$w]}) t"
done
methods="${METHODS:-ours ours_classify ours_classify_lateral plain_case plain_ntile bp_only_ours bp_only_plain
         score_only_ours score_only_ours_classify score_only_plain_case}"

# Runs are interleaved (repeat, then setting, then method) so that load from
# other processes on the machine spreads over all methods alike.
# "parallel on" forces workers (zero parallel costs), so the figures show
# what workers do, whether or not the planner would choose them by itself.
setting() {  # $1 parallel on/off, $2 jit on/off
	if [ "$1" = on ]; then
		echo "SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0;"
		echo "SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;"
	else
		echo "SET max_parallel_workers_per_gather = 0; RESET parallel_setup_cost;"
		echo "RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;"
	fi
	echo "SET jit = $2;"
}
bool() { [ "$1" = on ] && echo true || echo false; }
for par in ${PARALLEL:-off on}; do
	for jit in ${JIT:-off on}; do
		setting $par $jit
		for m in $methods; do
			echo "DROP TABLE IF EXISTS bp, out;"
			if [ -n "${pre[$m]:-}" ]; then echo "${pre[$m]};"; fi
			if [ -n "${bp[$m]}" ]; then echo "${bp[$m]};"; fi
			echo "INSERT INTO bench_plans SELECT '$m', $(bool $par), $(bool $jit), uses_gather(\$q\$${score[$m]}\$q\$);"
		done
	done
done
for r in $(seq 0 "$repeats"); do   # run 0 warms up and is not counted
	for par in ${PARALLEL:-off on}; do
		for jit in ${JIT:-off on}; do
			setting $par $jit
			for m in $methods; do
				echo "DROP TABLE IF EXISTS bp, out;"
				if [ -n "${pre[$m]:-}" ]; then echo "${pre[$m]};"; fi
				echo "SELECT clock_timestamp() AS t0 \\gset"
				if [ -n "${bp[$m]}" ]; then echo "${bp[$m]};"; fi
				echo "CREATE TABLE out AS ${score[$m]};"
				echo "INSERT INTO bench_times VALUES ('$m', $(bool $par), $(bool $jit), $r, extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000);"
			done
		done
	done
done

cat <<SQL
\echo
\echo 'RFM benchmark: $customers customers, median of $repeats runs (ms); parallel = 2 workers forced'
\echo 'load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores'
SELECT (SELECT count(*) FROM facts) AS customers,
       (SELECT count(*) FROM facts f WHERE $complete) AS scored,
       current_setting('server_version') AS server;
CREATE TABLE med AS
SELECT method, parallel, jit,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS ms
FROM bench_times WHERE run > 0 GROUP BY 1, 2, 3;
\echo 'times (ms); gather = the scoring plan uses parallel workers'
SELECT m.method, m.parallel, m.jit, round(m.ms::numeric, 0) AS ms, p.gather
FROM med m JOIN bench_plans p USING (method, parallel, jit)
ORDER BY array_position(ARRAY['ours', 'ours_classify', 'ours_classify_lateral', 'plain_case', 'plain_ntile',
                              'bp_only_ours', 'bp_only_plain', 'score_only_ours', 'score_only_ours_classify',
                              'score_only_plain_case'], m.method), m.parallel, m.jit;
\echo 'ratios: theirs / ours (> 1: ours is faster), per setting'
SELECT o.parallel, o.jit,
       round((pc.ms / o.ms)::numeric, 2) AS plain_case_vs_ours,
       round((nt.ms / o.ms)::numeric, 2) AS ntile_vs_ours,
       round((pc.ms / c.ms)::numeric, 2) AS plain_case_vs_classify,
       round((o.ms / c.ms)::numeric, 2) AS separate_vs_classify,
       round((bpp.ms / bpo.ms)::numeric, 2) AS breakpoints_plain_vs_ours,
       round((sp.ms / so.ms)::numeric, 2) AS scoring_plain_vs_ours,
       round((so.ms / sc.ms)::numeric, 2) AS scoring_separate_vs_classify
FROM med o
JOIN med c ON c.method = 'ours_classify' AND (c.parallel, c.jit) = (o.parallel, o.jit)
JOIN med pc ON pc.method = 'plain_case' AND (pc.parallel, pc.jit) = (o.parallel, o.jit)
JOIN med nt ON nt.method = 'plain_ntile' AND (nt.parallel, nt.jit) = (o.parallel, o.jit)
JOIN med bpo ON bpo.method = 'bp_only_ours' AND (bpo.parallel, bpo.jit) = (o.parallel, o.jit)
JOIN med bpp ON bpp.method = 'bp_only_plain' AND (bpp.parallel, bpp.jit) = (o.parallel, o.jit)
JOIN med so ON so.method = 'score_only_ours' AND (so.parallel, so.jit) = (o.parallel, o.jit)
JOIN med sc ON sc.method = 'score_only_ours_classify' AND (sc.parallel, sc.jit) = (o.parallel, o.jit)
JOIN med sp ON sp.method = 'score_only_plain_case' AND (sp.parallel, sp.jit) = (o.parallel, o.jit)
WHERE o.method = 'ours'
ORDER BY o.parallel, o.jit;
\echo 'best of each way over all settings, and the ratio to our best'
SELECT method, round(min(ms)::numeric, 0) AS best_ms,
       round((min(ms) / (SELECT min(ms) FROM med WHERE method = 'ours'))::numeric, 2) AS vs_ours_best
FROM med WHERE method IN ('ours', 'ours_classify', 'ours_classify_lateral', 'plain_case', 'plain_ntile')
GROUP BY method ORDER BY best_ms;
SQL
} | psql -X -q -d "$db"
