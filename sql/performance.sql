-- performance.sql: the pieces rewritten for speed give the results of the
-- plain SQL they replace.

-- days_between (C) equals floor(extract(epoch FROM until - since) / 86400),
-- the SQL definition it replaces, on 20,000 generated pairs: both signs,
-- exact multiples of a day, one microsecond either side, across DST changes.
SET timezone = 'America/New_York';
WITH pairs AS (
	SELECT timestamptz '2024-03-09 12:00:00-05' + make_interval(secs => (hashint4(i) % 5000000)::float8 * 37) AS since,
	       timestamptz '2024-03-09 12:00:00-05' + make_interval(secs => (hashint4(-i) % 5000000)::float8 * 41) AS until
	  FROM generate_series(1, 10000) i
	UNION ALL
	SELECT t, t + make_interval(days => d) + make_interval(secs => e * 0.000001)
	  FROM (VALUES (timestamptz '2024-03-10 01:30:00-05'), (timestamptz '2024-11-03 01:30:00-04')) x(t),
	       generate_series(-2500, 2499) d, (VALUES (-1), (0), (1)) y(e)
	 WHERE d % 3 = 0 OR e = 0)
SELECT count(*) AS pairs,
       count(*) FILTER (WHERE tagscrm.days_between(since, until)
                              IS DISTINCT FROM floor(extract(epoch FROM until - since) / 86400)::integer) AS differing,
       count(DISTINCT tagscrm.days_between(since, until)) > 1000 AS spread
  FROM pairs;
-- hand-worked: a 23-hour DST day is not a whole day, 24 hours are
SELECT tagscrm.days_between('2024-03-10 00:00:00-05', '2024-03-11 00:00:00-04') AS dst_day_23h,
       tagscrm.days_between('2024-03-10 00:00:00-05', '2024-03-11 01:00:00-04') AS dst_day_24h,
       tagscrm.days_between('2024-01-02', '2024-01-01 23:59:59.999999') AS minus_a_microsecond,
       tagscrm.days_between(NULL, '2024-01-01') AS null_is_null;
RESET timezone;

-- bad inputs
SELECT tagscrm.days_between('-infinity', '2024-01-01');
SELECT tagscrm.days_between('2024-01-01', 'infinity');
