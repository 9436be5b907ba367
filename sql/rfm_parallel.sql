-- RFM breakpoints under parallel query: 1,000,000 customers, partial
-- aggregates in two workers (serialize, deserialize, combine) must give the
-- serial result and the plain-SQL result.
SET extra_float_digits = 0;

-- a regular table: parallel workers cannot read temporary tables
CREATE TABLE rfm_big AS
SELECT i AS customer_id,
       CASE WHEN i % 1009 = 0 THEN NULL ELSE (abs(hashint4(i)::int8) % 1000)::float8 END AS recency,
       CASE WHEN i % 1013 = 0 THEN NULL
            WHEN abs(hashint4(-i)::int8) % 10 < 6 THEN 1::float8
            ELSE (2 + abs(hashint4(i + 2000000)::int8) % 40)::float8 END AS frequency,
       CASE WHEN i % 1019 = 0 THEN NULL
            ELSE ((abs(hashint4(i + 4000000)::int8) % 1000000) / 100.0)::float8 END AS monetary
FROM generate_series(1, 1000000) AS i;
ANALYZE rfm_big;

-- serial: our aggregate and plain SQL in one scan (same summation order)
SET max_parallel_workers_per_gather = 0;
CREATE TABLE rfm_big_serial AS
SELECT tagscrm.rfm_breakpoints(recency, frequency, monetary) AS bp,
       percentile_disc(ARRAY[.2, .4, .6, .8]) WITHIN GROUP (ORDER BY recency) FILTER (WHERE complete) AS r_cuts,
       percentile_disc(ARRAY[.2, .4, .6, .8]) WITHIN GROUP (ORDER BY frequency) FILTER (WHERE complete) AS f_cuts,
       percentile_disc(ARRAY[.2, .4, .6, .8]) WITHIN GROUP (ORDER BY monetary) FILTER (WHERE complete) AS m_cuts,
       avg(recency) FILTER (WHERE complete) AS r_mean,
       avg(frequency) FILTER (WHERE complete) AS f_mean,
       avg(monetary) FILTER (WHERE complete) AS m_mean,
       percentile_disc(.5) WITHIN GROUP (ORDER BY recency) FILTER (WHERE complete) AS r_median,
       percentile_disc(.5) WITHIN GROUP (ORDER BY frequency) FILTER (WHERE complete) AS f_median,
       percentile_disc(.5) WITHIN GROUP (ORDER BY monetary) FILTER (WHERE complete) AS m_median,
       count(*) FILTER (WHERE complete) AS customers
FROM (SELECT *, recency IS NOT NULL AND frequency IS NOT NULL AND monetary IS NOT NULL AS complete
      FROM rfm_big) f;
SELECT (bp).* FROM rfm_big_serial;
SELECT (bp).r_cuts = r_cuts AND (bp).f_cuts = f_cuts AND (bp).m_cuts = m_cuts AS cuts_equal,
       (bp).r_mean = r_mean AND (bp).f_mean = f_mean AND (bp).m_mean = m_mean AS means_equal_to_the_bit,
       (bp).r_median = r_median AND (bp).f_median = f_median AND (bp).m_median = m_median AS medians_equal,
       (bp).customers = customers AS customers_equal
FROM rfm_big_serial;

-- parallel: forced, and without the leader taking part, so every row goes
-- through a worker's partial state, serialize, deserialize and combine
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF)
SELECT tagscrm.rfm_breakpoints(recency, frequency, monetary) FROM rfm_big;
SELECT tagscrm.rfm_breakpoints(recency, frequency, monetary)::text AS parallel_bp FROM rfm_big \gset
-- Cut points, medians and the count are order statistics and a count: exact.
-- Means: float8 addition is not associative, and each worker sums its own
-- share before the partial sums are added, so the last bits may differ from
-- one serial pass.  Summing n values of one sign has relative rounding error
-- below n * 2^-53 (about 1.1e-10 for 1e6 values), so 1e-9 relative is a safe
-- bound that still catches any real error (a lost or doubled row moves the
-- mean by about 1e-6 relative).
SELECT (p).r_cuts = r_cuts AND (p).f_cuts = f_cuts AND (p).m_cuts = m_cuts AS cuts_equal,
       (p).r_cuts = (bp).r_cuts AND (p).f_cuts = (bp).f_cuts AND (p).m_cuts = (bp).m_cuts AS cuts_equal_serial,
       abs((p).r_mean - r_mean) <= 1e-9 * abs(r_mean)
           AND abs((p).f_mean - f_mean) <= 1e-9 * abs(f_mean)
           AND abs((p).m_mean - m_mean) <= 1e-9 * abs(m_mean) AS means_within_1e_9,
       (p).r_median = r_median AND (p).f_median = f_median AND (p).m_median = m_median AS medians_equal,
       (p).customers = customers AS customers_equal
FROM (SELECT :'parallel_bp'::tagscrm.rfm_breakpoints AS p) x, rfm_big_serial;

-- empty and all-NULL input, in parallel
EXPLAIN (COSTS OFF)
SELECT tagscrm.rfm_breakpoints(recency, frequency, monetary) FROM rfm_big WHERE customer_id < 0;
SELECT tagscrm.rfm_breakpoints(recency, frequency, monetary) IS NULL AS empty_is_null
FROM rfm_big WHERE customer_id < 0;
SELECT tagscrm.rfm_breakpoints(recency, NULL, monetary) IS NULL AS all_null_is_null FROM rfm_big;
-- only some workers' shares have rows
SELECT (tagscrm.rfm_breakpoints(recency, frequency, monetary)).customers AS one_customer
FROM rfm_big WHERE customer_id = 500000;

RESET ALL;
DROP TABLE rfm_big, rfm_big_serial;
