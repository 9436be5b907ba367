-- RFM model: breakpoints aggregate, rfm_score, rfm_segment, rfm_classify.
-- Every figure is checked against plain SQL over the same data, or against
-- the hand-worked example below.
SET extra_float_digits = 0;
SET max_parallel_workers_per_gather = 0;	-- serial here; rfm_parallel covers parallel

-- ---------------------------------------------------------------------------
-- 1. Hand-worked example: 5 customers (recency days, orders, amount paid).
--    Sorted recency 3 10 30 60 200, frequency 1 1 2 4 10, monetary 15 40 120
--    300 500.  percentile_disc at p reads position ceil(5p): 1, 2, 3, 4 for
--    the cuts, 3 for the median.  Means 303/5, 18/5, 975/5.
-- ---------------------------------------------------------------------------
CREATE TABLE rfm_hand (customer text, recency float8, frequency float8, monetary float8);
INSERT INTO rfm_hand VALUES ('A', 3, 10, 500), ('B', 10, 4, 120), ('C', 30, 1, 40),
                            ('D', 60, 2, 300), ('E', 200, 1, 15);
SELECT (bp).* FROM (SELECT tagscrm.rfm_breakpoints(recency, frequency, monetary) AS bp FROM rfm_hand) s;
SELECT tagscrm.rfm_breakpoints(recency, frequency, monetary)
       = ROW('{3,10,30,60}', '{1,1,2,4}', '{15,40,120,300}', 60.6, 3.6, 195, 30, 2, 120, 5)::tagscrm.rfm_breakpoints
       AS hand_worked_breakpoints
FROM rfm_hand;
-- scores: count the cut points strictly below the value; recency 5 - count,
-- frequency and monetary 1 + count.  Segments against the means (60.6, 3.6,
-- 195) and against the medians (30, 2, 120), worked by hand.
CREATE TABLE rfm_hand_expected (customer text, r int, f int, m int, seg_mean text, seg_median text);
INSERT INTO rfm_hand_expected VALUES
	('A', 5, 5, 5, 'important_value',   'important_value'),
	('B', 4, 4, 3, 'general_value',     'general_value'),
	('C', 3, 1, 2, 'general_develop',   'general_retain'),
	('D', 2, 3, 4, 'important_develop', 'important_retain'),
	('E', 1, 1, 1, 'general_retain',    'general_retain');
CREATE TABLE rfm_hand_result AS
SELECT h.customer,
       tagscrm.rfm_score(h.recency, (bp).r_cuts, false) AS r,
       tagscrm.rfm_score(h.frequency, (bp).f_cuts, true) AS f,
       tagscrm.rfm_score(h.monetary, (bp).m_cuts, true) AS m,
       tagscrm.rfm_segment(h.recency, h.frequency, h.monetary, bp) AS seg_mean,
       tagscrm.rfm_segment(h.recency, h.frequency, h.monetary, bp, 'median') AS seg_median
FROM rfm_hand h, (SELECT tagscrm.rfm_breakpoints(recency, frequency, monetary) AS bp FROM rfm_hand) b;
SELECT * FROM rfm_hand_result ORDER BY customer;
SELECT (SELECT count(*) FROM (TABLE rfm_hand_result EXCEPT ALL TABLE rfm_hand_expected) x) AS missing,
       (SELECT count(*) FROM (TABLE rfm_hand_expected EXCEPT ALL TABLE rfm_hand_result) x) AS extra;
-- rfm_classify gives the same four results in one call
SELECT h.customer, c.*
FROM rfm_hand h, (SELECT tagscrm.rfm_breakpoints(recency, frequency, monetary) AS bp FROM rfm_hand) b,
     LATERAL tagscrm.rfm_classify(h.recency, h.frequency, h.monetary, b.bp) c
ORDER BY h.customer;
-- the segment list
SELECT * FROM tagscrm.rfm_segments() ORDER BY r_high DESC, f_high DESC, m_high DESC;

-- ---------------------------------------------------------------------------
-- 2. 10,000 generated customers: heavy ties (65 % have frequency 1, recency
--    has 730 distinct values), NULLs in each column, and negative zero.
-- ---------------------------------------------------------------------------
CREATE TABLE rfm_facts AS
SELECT i AS customer_id,
       CASE WHEN i % 101 = 0 THEN NULL
            WHEN i % 997 = 0 THEN float8 '-0'
            ELSE (abs(hashint4(i)::int8) % 730)::float8 END AS recency,
       CASE WHEN i % 103 = 0 THEN NULL
            WHEN abs(hashint4(i + 100000)::int8) % 100 < 65 THEN 1::float8
            ELSE (2 + abs(hashint4(i + 200000)::int8) % 30)::float8 END AS frequency,
       CASE WHEN i % 107 = 0 THEN NULL
            WHEN i % 10 = 0 THEN 100::float8
            ELSE round((abs(hashint4(i + 300000)::int8) % 500000) / 100.0, 2)::float8 END AS monetary
FROM generate_series(1, 10000) AS i;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE recency IS NULL OR frequency IS NULL OR monetary IS NULL) AS with_null,
       count(*) FILTER (WHERE frequency = 1) AS frequency_1
FROM rfm_facts;

-- our aggregate over all rows vs plain SQL over the complete rows, in one
-- scan, so avg() adds the values in the same order: means equal to the bit.
CREATE TABLE rfm_bp AS
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
      FROM rfm_facts) f;
SELECT (bp).* FROM rfm_bp;
SELECT (bp).r_cuts = r_cuts AS r_cuts, (bp).f_cuts = f_cuts AS f_cuts, (bp).m_cuts = m_cuts AS m_cuts,
       (bp).r_mean = r_mean AS r_mean, (bp).f_mean = f_mean AS f_mean, (bp).m_mean = m_mean AS m_mean,
       (bp).r_median = r_median AS r_median, (bp).f_median = f_median AS f_median,
       (bp).m_median = m_median AS m_median, (bp).customers = customers AS customers
FROM rfm_bp;

-- percentile_disc's rounding at every population size from 1 to 60 (the
-- position ceil(p * n) falls exactly on, or just past, a row boundary)
SELECT count(*) AS sizes,
       count(*) FILTER (WHERE (bp).r_cuts IS DISTINCT FROM cuts OR (bp).r_median IS DISTINCT FROM median
                              OR (bp).customers IS DISTINCT FROM n) AS mismatches
FROM (SELECT n,
             tagscrm.rfm_breakpoints(v, v, v) AS bp,
             percentile_disc(ARRAY[.2, .4, .6, .8]) WITHIN GROUP (ORDER BY v) AS cuts,
             percentile_disc(.5) WITHIN GROUP (ORDER BY v) AS median
      FROM generate_series(1, 60) AS n,
           LATERAL (SELECT (abs(hashint4(n * 1000 + j)::int8) % 7)::float8 AS v
                    FROM generate_series(1, n) AS j) x
      GROUP BY n) s;

-- per group (GROUP BY, hashed and sorted), against plain SQL per group
SET enable_hashagg = on;
SELECT count(*) AS groups,
       count(*) FILTER (WHERE (bp).r_cuts IS DISTINCT FROM r_cuts OR (bp).m_cuts IS DISTINCT FROM m_cuts
                              OR (bp).f_median IS DISTINCT FROM f_median
                              OR (bp).customers IS DISTINCT FROM customers) AS mismatches
FROM (SELECT customer_id % 7 AS g, tagscrm.rfm_breakpoints(recency, frequency, monetary) AS bp,
             percentile_disc(ARRAY[.2, .4, .6, .8]) WITHIN GROUP (ORDER BY recency) FILTER (WHERE complete) AS r_cuts,
             percentile_disc(ARRAY[.2, .4, .6, .8]) WITHIN GROUP (ORDER BY monetary) FILTER (WHERE complete) AS m_cuts,
             percentile_disc(.5) WITHIN GROUP (ORDER BY frequency) FILTER (WHERE complete) AS f_median,
             count(*) FILTER (WHERE complete) AS customers
      FROM (SELECT *, recency IS NOT NULL AND frequency IS NOT NULL AND monetary IS NOT NULL AS complete
            FROM rfm_facts) f
      GROUP BY 1) s;
EXPLAIN (COSTS OFF)
SELECT customer_id % 7, tagscrm.rfm_breakpoints(recency, frequency, monetary) FROM rfm_facts GROUP BY 1;
SELECT count(*) AS groups,
       count(*) FILTER (WHERE (bp).r_cuts IS DISTINCT FROM r_cuts) AS mismatches
FROM (SELECT customer_id % 7 AS g, tagscrm.rfm_breakpoints(recency, frequency, monetary) AS bp,
             percentile_disc(ARRAY[.2, .4, .6, .8]) WITHIN GROUP (ORDER BY recency)
                 FILTER (WHERE frequency IS NOT NULL AND monetary IS NOT NULL) AS r_cuts
      FROM rfm_facts GROUP BY 1) s;
RESET enable_hashagg;

-- ---------------------------------------------------------------------------
-- 3. Every customer's scores and segments vs an independent computation:
--    CASE over the plain-SQL cut points, avg() and percentile_disc(0.5).
-- ---------------------------------------------------------------------------
CREATE TABLE rfm_ours AS
SELECT f.customer_id,
       tagscrm.rfm_score(f.recency, (b.bp).r_cuts, false) AS r_score,
       tagscrm.rfm_score(f.frequency, (b.bp).f_cuts, true) AS f_score,
       tagscrm.rfm_score(f.monetary, (b.bp).m_cuts, true) AS m_score,
       tagscrm.rfm_segment(f.recency, f.frequency, f.monetary, b.bp) AS segment,
       tagscrm.rfm_segment(f.recency, f.frequency, f.monetary, b.bp, 'median') AS segment_median
FROM rfm_facts f, rfm_bp b
WHERE f.recency IS NOT NULL AND f.frequency IS NOT NULL AND f.monetary IS NOT NULL;

CREATE TABLE rfm_plain AS
SELECT f.customer_id,
       CASE WHEN f.recency <= b.r_cuts[1] THEN 5 WHEN f.recency <= b.r_cuts[2] THEN 4
            WHEN f.recency <= b.r_cuts[3] THEN 3 WHEN f.recency <= b.r_cuts[4] THEN 2 ELSE 1 END AS r_score,
       CASE WHEN f.frequency <= b.f_cuts[1] THEN 1 WHEN f.frequency <= b.f_cuts[2] THEN 2
            WHEN f.frequency <= b.f_cuts[3] THEN 3 WHEN f.frequency <= b.f_cuts[4] THEN 4 ELSE 5 END AS f_score,
       CASE WHEN f.monetary <= b.m_cuts[1] THEN 1 WHEN f.monetary <= b.m_cuts[2] THEN 2
            WHEN f.monetary <= b.m_cuts[3] THEN 3 WHEN f.monetary <= b.m_cuts[4] THEN 4 ELSE 5 END AS m_score,
       CASE WHEN f.recency < b.r_mean THEN
                 CASE WHEN f.frequency > b.f_mean THEN
                      CASE WHEN f.monetary > b.m_mean THEN 'important_value' ELSE 'general_value' END
                 ELSE CASE WHEN f.monetary > b.m_mean THEN 'important_develop' ELSE 'general_develop' END END
            ELSE CASE WHEN f.frequency > b.f_mean THEN
                      CASE WHEN f.monetary > b.m_mean THEN 'important_keep' ELSE 'general_keep' END
                 ELSE CASE WHEN f.monetary > b.m_mean THEN 'important_retain' ELSE 'general_retain' END END
       END AS segment,
       CASE WHEN f.recency < b.r_median THEN
                 CASE WHEN f.frequency > b.f_median THEN
                      CASE WHEN f.monetary > b.m_median THEN 'important_value' ELSE 'general_value' END
                 ELSE CASE WHEN f.monetary > b.m_median THEN 'important_develop' ELSE 'general_develop' END END
            ELSE CASE WHEN f.frequency > b.f_median THEN
                      CASE WHEN f.monetary > b.m_median THEN 'important_keep' ELSE 'general_keep' END
                 ELSE CASE WHEN f.monetary > b.m_median THEN 'important_retain' ELSE 'general_retain' END END
       END AS segment_median
FROM rfm_facts f, rfm_bp b
WHERE f.recency IS NOT NULL AND f.frequency IS NOT NULL AND f.monetary IS NOT NULL;

SELECT (SELECT count(*) FROM rfm_ours) AS scored,
       (SELECT count(*) FROM (TABLE rfm_ours EXCEPT ALL TABLE rfm_plain) x) AS ours_not_plain,
       (SELECT count(*) FROM (TABLE rfm_plain EXCEPT ALL TABLE rfm_ours) x) AS plain_not_ours;

-- rfm_classify equals the four separate calls, row for row
CREATE TABLE rfm_classified AS
SELECT f.customer_id, c.r_score, c.f_score, c.m_score, c.segment,
       (tagscrm.rfm_classify(f.recency, f.frequency, f.monetary, b.bp, 'median')).segment AS segment_median
FROM rfm_facts f, rfm_bp b, LATERAL tagscrm.rfm_classify(f.recency, f.frequency, f.monetary, b.bp) c
WHERE f.recency IS NOT NULL AND f.frequency IS NOT NULL AND f.monetary IS NOT NULL;
SELECT (SELECT count(*) FROM (TABLE rfm_classified EXCEPT ALL TABLE rfm_plain) x) AS classify_not_plain,
       (SELECT count(*) FROM (TABLE rfm_plain EXCEPT ALL TABLE rfm_classified) x) AS plain_not_classify;

-- per-group breakpoints with the groups' rows interleaved, so the value of
-- bp changes from one row to the next: the per-call caches of parsed
-- breakpoints and cut points must notice every change
CREATE TABLE rfm_group_bp AS
SELECT customer_id % 7 AS g, tagscrm.rfm_breakpoints(recency, frequency, monetary) AS bp,
       percentile_disc(ARRAY[.2, .4, .6, .8]) WITHIN GROUP (ORDER BY recency) FILTER (WHERE complete) AS r_cuts,
       percentile_disc(ARRAY[.2, .4, .6, .8]) WITHIN GROUP (ORDER BY frequency) FILTER (WHERE complete) AS f_cuts,
       percentile_disc(ARRAY[.2, .4, .6, .8]) WITHIN GROUP (ORDER BY monetary) FILTER (WHERE complete) AS m_cuts,
       percentile_disc(.5) WITHIN GROUP (ORDER BY recency) FILTER (WHERE complete) AS r_median,
       percentile_disc(.5) WITHIN GROUP (ORDER BY frequency) FILTER (WHERE complete) AS f_median,
       percentile_disc(.5) WITHIN GROUP (ORDER BY monetary) FILTER (WHERE complete) AS m_median
FROM (SELECT *, recency IS NOT NULL AND frequency IS NOT NULL AND monetary IS NOT NULL AS complete
      FROM rfm_facts) f
GROUP BY 1;
SELECT count(*) AS scored,
       count(*) FILTER (WHERE prev_g = g) AS same_group_as_previous_row,
       count(*) FILTER (WHERE r <> pr OR f <> pf OR m <> pm OR seg <> pseg OR (c).r_score <> pr
                              OR (c).f_score <> pf OR (c).m_score <> pm OR (c).segment <> pseg) AS mismatches
FROM (SELECT x.g, lag(x.g) OVER (ORDER BY x.customer_id) AS prev_g,
             tagscrm.rfm_score(x.recency, (x.bp).r_cuts, false) AS r,
             tagscrm.rfm_score(x.frequency, (x.bp).f_cuts, true) AS f,
             tagscrm.rfm_score(x.monetary, (x.bp).m_cuts, true) AS m,
             tagscrm.rfm_segment(x.recency, x.frequency, x.monetary, x.bp, 'median') AS seg,
             tagscrm.rfm_classify(x.recency, x.frequency, x.monetary, x.bp, 'median') AS c,
             CASE WHEN x.recency <= x.r_cuts[1] THEN 5 WHEN x.recency <= x.r_cuts[2] THEN 4
                  WHEN x.recency <= x.r_cuts[3] THEN 3 WHEN x.recency <= x.r_cuts[4] THEN 2 ELSE 1 END AS pr,
             CASE WHEN x.frequency <= x.f_cuts[1] THEN 1 WHEN x.frequency <= x.f_cuts[2] THEN 2
                  WHEN x.frequency <= x.f_cuts[3] THEN 3 WHEN x.frequency <= x.f_cuts[4] THEN 4 ELSE 5 END AS pf,
             CASE WHEN x.monetary <= x.m_cuts[1] THEN 1 WHEN x.monetary <= x.m_cuts[2] THEN 2
                  WHEN x.monetary <= x.m_cuts[3] THEN 3 WHEN x.monetary <= x.m_cuts[4] THEN 4 ELSE 5 END AS pm,
             CASE WHEN x.recency < x.r_median THEN
                       CASE WHEN x.frequency > x.f_median THEN
                            CASE WHEN x.monetary > x.m_median THEN 'important_value' ELSE 'general_value' END
                       ELSE CASE WHEN x.monetary > x.m_median THEN 'important_develop' ELSE 'general_develop' END END
                  ELSE CASE WHEN x.frequency > x.f_median THEN
                            CASE WHEN x.monetary > x.m_median THEN 'important_keep' ELSE 'general_keep' END
                       ELSE CASE WHEN x.monetary > x.m_median THEN 'important_retain' ELSE 'general_retain' END END
             END AS pseg
      FROM (SELECT f.*, b.* FROM rfm_facts f JOIN rfm_group_bp b ON b.g = f.customer_id % 7
            WHERE f.recency IS NOT NULL AND f.frequency IS NOT NULL AND f.monetary IS NOT NULL
            ORDER BY f.customer_id) x) s;

-- rfm_segments() agrees with the rule (R high = recency < basis, ...)
SELECT count(*) AS customers_whose_segment_row_disagrees
FROM rfm_ours o JOIN rfm_facts f USING (customer_id) CROSS JOIN rfm_bp b
JOIN tagscrm.rfm_segments() s ON s.segment = o.segment
WHERE s.r_high <> (f.recency < b.r_mean) OR s.f_high <> (f.frequency > b.f_mean)
   OR s.m_high <> (f.monetary > b.m_mean);

-- figures: score and segment sizes (each dimension's quintiles are uneven
-- where ties straddle a cut point, e.g. frequency: 65 % have 1 order)
SELECT s AS score,
       count(*) FILTER (WHERE r_score = s) AS r, count(*) FILTER (WHERE f_score = s) AS f,
       count(*) FILTER (WHERE m_score = s) AS m
FROM rfm_ours, generate_series(1, 5) AS s GROUP BY s ORDER BY s;
SELECT segment, count(*) FROM rfm_ours GROUP BY segment ORDER BY segment;

-- equal inputs get equal scores (NTILE(5), for contrast, splits ties)
SELECT (SELECT count(*) FROM (SELECT f.recency FROM rfm_ours o JOIN rfm_facts f USING (customer_id)
                              GROUP BY f.recency HAVING count(DISTINCT o.r_score) > 1) x) AS r_split,
       (SELECT count(*) FROM (SELECT f.frequency FROM rfm_ours o JOIN rfm_facts f USING (customer_id)
                              GROUP BY f.frequency HAVING count(DISTINCT o.f_score) > 1) x) AS f_split,
       (SELECT count(*) FROM (SELECT f.monetary FROM rfm_ours o JOIN rfm_facts f USING (customer_id)
                              GROUP BY f.monetary HAVING count(DISTINCT o.m_score) > 1) x) AS m_split,
       (SELECT count(*) FROM (SELECT frequency FROM (
                                  SELECT frequency, ntile(5) OVER (ORDER BY frequency, customer_id) AS q
                                  FROM rfm_facts WHERE frequency IS NOT NULL) n
                              GROUP BY frequency HAVING count(DISTINCT q) > 1) x) AS ntile_f_split;
-- -0 and 0 are the same value: same score
SELECT tagscrm.rfm_score(float8 '-0', '{0,1,2,3}', false) AS minus_zero,
       tagscrm.rfm_score(0, '{0,1,2,3}', false) AS zero;
-- values on and around cut points, both directions (equal cut points too)
SELECT v, tagscrm.rfm_score(v, '{1,1,1,2}', true) AS higher_better,
       tagscrm.rfm_score(v, '{1,1,1,2}', false) AS lower_better
FROM unnest(ARRAY[0, 1, 1.5, 2, 2.5]::float8[]) AS v;

-- ---------------------------------------------------------------------------
-- 4. Empty and all-NULL input, NULL arguments
-- ---------------------------------------------------------------------------
SELECT tagscrm.rfm_breakpoints(recency, frequency, monetary) IS NULL AS empty_is_null
FROM rfm_facts WHERE false;
SELECT tagscrm.rfm_breakpoints(recency, frequency, NULL) IS NULL AS all_null_is_null FROM rfm_facts;
SELECT tagscrm.rfm_score(NULL, '{1,2,3,4}', true) IS NULL AS score_null,
       tagscrm.rfm_segment(1, NULL, 1, (SELECT bp FROM rfm_bp)) IS NULL AS segment_null,
       tagscrm.rfm_segment(1, 1, 1, NULL) IS NULL AS segment_bp_null,
       tagscrm.rfm_classify(1, 1, 1, (SELECT bp FROM rfm_bp), NULL) IS NULL AS classify_null;
-- a hand-made breakpoints value with only what rfm_segment needs works
SELECT tagscrm.rfm_segment(5, 3, 100, ROW(NULL, NULL, NULL, 10, 2, 50, NULL, NULL, NULL, NULL)::tagscrm.rfm_breakpoints);

-- integer and numeric facts convert to float8 implicitly
SELECT tagscrm.rfm_breakpoints(r, f, m) AS from_int_bigint_numeric
FROM (VALUES (1, 2::bigint, 10.25::numeric), (3, 4, 99.99)) AS v(r, f, m);

-- ---------------------------------------------------------------------------
-- 5. Bad inputs, one per line
-- ---------------------------------------------------------------------------
SELECT tagscrm.rfm_score(1, '{1,2,3}', true);
SELECT tagscrm.rfm_score(1, '{1,2,3,4,5}', true);
SELECT tagscrm.rfm_score(1, '{}', true);
SELECT tagscrm.rfm_score(1, '{{1,2},{3,4}}', true);
SELECT tagscrm.rfm_score(1, '{1,NULL,3,4}', true);
SELECT tagscrm.rfm_score(1, '{1,3,2,4}', true);
SELECT tagscrm.rfm_score(1, '{1,2,3,Infinity}', true);
SELECT tagscrm.rfm_score(1, '{NaN,2,3,4}', true);
SELECT tagscrm.rfm_score('NaN', '{1,2,3,4}', true);
SELECT tagscrm.rfm_score('-Infinity', '{1,2,3,4}', true);
SELECT tagscrm.rfm_segment(1, 1, 1, (SELECT bp FROM rfm_bp), 'avg');
SELECT tagscrm.rfm_segment(1, 1, 1, (SELECT bp FROM rfm_bp), 'MEAN');
SELECT tagscrm.rfm_segment('NaN', 1, 1, (SELECT bp FROM rfm_bp));
SELECT tagscrm.rfm_segment(1, 1, 1, ROW(NULL, NULL, NULL, NULL, 2, 50, NULL, NULL, NULL, NULL)::tagscrm.rfm_breakpoints);
SELECT tagscrm.rfm_segment(1, 1, 1, ROW(NULL, NULL, NULL, 1, 2, 3, 1, 2, NULL, NULL)::tagscrm.rfm_breakpoints, 'median');
SELECT tagscrm.rfm_segment(1, 1, 1, ROW('{4,3,2,1}', NULL, NULL, 1, 2, 3, 1, 2, 3, 5)::tagscrm.rfm_breakpoints);
SELECT tagscrm.rfm_segment(1, 1, 1, ROW(NULL, NULL, NULL, 'Infinity', 2, 3, 1, 2, 3, 5)::tagscrm.rfm_breakpoints);
SELECT tagscrm.rfm_classify(1, 1, 1, ROW(NULL, '{1,2,3,4}', '{1,2,3,4}', 1, 2, 3, 1, 2, 3, 5)::tagscrm.rfm_breakpoints);
SELECT tagscrm.rfm_classify(1, 1, 1, ROW('{1,2,3}', '{1,2,3,4}', '{1,2,3,4}', 1, 2, 3, 1, 2, 3, 5)::tagscrm.rfm_breakpoints);
SELECT tagscrm.rfm_breakpoints(r, 1, 1) FROM unnest(ARRAY[1, 'NaN']::float8[]) AS r;
SELECT tagscrm.rfm_breakpoints(1, f, 1) FROM unnest(ARRAY[1, 'Infinity']::float8[]) AS f;
SELECT tagscrm.rfm_breakpoints(1, 1, m) FROM unnest(ARRAY[1e308, 1e308]::float8[]) AS m;
-- the same inputs, with their SQLSTATEs
CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END
$$;
SELECT pg_temp.sqlstate_of(q) AS sqlstate, q AS input FROM (VALUES
	($$SELECT tagscrm.rfm_score(1, '{1,2,3}', true)$$),
	($$SELECT tagscrm.rfm_score(1, '{{1,2},{3,4}}', true)$$),
	($$SELECT tagscrm.rfm_score(1, '{1,NULL,3,4}', true)$$),
	($$SELECT tagscrm.rfm_score(1, '{1,3,2,4}', true)$$),
	($$SELECT tagscrm.rfm_score(1, '{1,2,3,Infinity}', true)$$),
	($$SELECT tagscrm.rfm_score('NaN', '{1,2,3,4}', true)$$),
	($$SELECT tagscrm.rfm_segment(1, 1, 1, ROW(NULL, NULL, NULL, 1, 2, 3, 1, 2, 3, 5)::tagscrm.rfm_breakpoints, 'avg')$$),
	($$SELECT tagscrm.rfm_segment(1, 1, 1, ROW(NULL, NULL, NULL, NULL, 2, 50, NULL, NULL, NULL, NULL)::tagscrm.rfm_breakpoints)$$),
	($$SELECT tagscrm.rfm_breakpoints(r, 1, 1) FROM unnest(ARRAY[1, 'NaN']::float8[]) AS r$$),
	($$SELECT tagscrm.rfm_breakpoints(1, 1, m) FROM unnest(ARRAY[1e308, 1e308]::float8[]) AS m$$)
) AS v(q);

-- ---------------------------------------------------------------------------
-- 6. Permissions: readers may compute; PUBLIC may not
-- ---------------------------------------------------------------------------
SELECT p.oid::regprocedure AS function,
       has_function_privilege('tagscrm_reader', p.oid, 'EXECUTE') AS reader,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public
FROM pg_proc p
WHERE p.pronamespace = 'tagscrm'::regnamespace AND p.proname LIKE 'rfm%'
ORDER BY 1::text;

-- a reader computes breakpoints and scores (the support functions are
-- checked against the aggregate's owner, not the caller)
CREATE ROLE rfm_test_reader IN ROLE tagscrm_reader;
SET ROLE rfm_test_reader;
SELECT tagscrm.rfm_breakpoints(r, f, m) AS as_reader
FROM (VALUES (1::float8, 1::float8, 10::float8), (2, 3, 20)) AS v(r, f, m);
SELECT c.* FROM tagscrm.rfm_classify(1, 3, 20, ROW('{1,1,2,2}', '{1,1,3,3}', '{10,10,20,20}', 1.5, 2, 15, 1, 1, 10, 2)) c;
RESET ROLE;
DROP ROLE rfm_test_reader;

DROP TABLE rfm_hand, rfm_hand_expected, rfm_hand_result, rfm_facts, rfm_bp, rfm_ours, rfm_plain, rfm_classified,
           rfm_group_bp;
