-- The sample shop's next eight weeks, for reports over time and the BI
-- dashboard (examples/dashboard): load it after demo/sample.sql.  Each week
-- some customers buy (every 15th of the lost and silent ones comes back), the
-- nightly refresh runs and records the tags' sizes; in week 2 a win-back
-- campaign reaches 300 customers at high churn risk and holds 100 out as a
-- control group, and those it reached buy more often in the next four weeks;
-- two interest tags end up unused.
-- Deterministic (setseed), so the figures are the same on every run.
\set QUIET on
SET client_min_messages = warning;
\o /dev/null
SELECT setseed(0.0615);
SELECT tagscrm.define_segment('valuable at risk', $$tag('churn risk high') and (tag('level 3') or tag('level 4') or tag('level 5'))$$,
                              description => 'high churn risk, level 3 or more');
SELECT tagscrm.define_segment('active buyers', $$tag('active') or tag('silent')$$, description => 'an order in the last 90 days');
SELECT tagscrm.define_segment('wardrobe readers', $$tag('wardrobe')$$);
-- the recording of demo/sample.sql's refresh, again, now with the segments
SET tagscrm.clock_override = '2026-06-01 00:00:00+00';
SELECT tagscrm.record_history(quiet => true);
-- two tags for housekeeping: a hand tag for 40 customers who asked about
-- sofas (taken off again in week 1, when the sofa offer ended) and one nobody
-- ever used
SELECT tagscrm.create_tag('sofa', 'interests', description => 'asked about sofas (the June offer)');
SELECT tagscrm.create_tag('summer sale 2025', 'interests', description => 'never used');
SELECT tagscrm.tag_customer(g::text, 'sofa', reason => 'asked about sofas') FROM generate_series(1, 400, 10) g;
-- the shop's own list of whom the campaign reaches (chosen in week 2)
CREATE TEMPORARY TABLE win_back (customer_id text PRIMARY KEY, control boolean NOT NULL);
DO $$
DECLARE
	week integer;
	monday timestamptz;
BEGIN
	FOR week IN 1 .. 8 LOOP
		monday := '2026-06-01 00:00:00+00'::timestamptz + (week - 1) * interval '7 days';
		-- the week's orders: a buyer still buying orders with a chance of their
		-- own; one in 15 of the lost and silent comes back; the campaign's
		-- reached customers buy with a chance of 12 % a week for 4 weeks
		INSERT INTO public.orders (customer_id, paid_at, amount)
		SELECT o.customer_id::bigint, monday + random() * interval '7 days', round((20 + random() * 140)::numeric, 2)
		  FROM tagscrm.customer_overview o
		 WHERE o.orders > 0 AND CASE o.status WHEN 'active' THEN random() < 0.25
		                                       ELSE o.customer_id::integer % 15 = week AND random() < 0.5 END
		 UNION ALL
		SELECT c.customer_id::bigint, monday + random() * interval '7 days', round((20 + random() * 140)::numeric, 2)
		  FROM win_back c
		 WHERE NOT c.control AND week BETWEEN 3 AND 6 AND random() < 0.12
		 ORDER BY 1;
		PERFORM pg_catalog.set_config('tagscrm.clock_override', (monday + interval '7 days 3 hours')::text, false);
		IF week = 1 THEN
			PERFORM tagscrm.untag_customer(g::text, 'sofa') FROM generate_series(1, 400, 10) g;
		END IF;
		PERFORM tagscrm.refresh(quiet => true);
		IF week = 2 THEN
			PERFORM tagscrm.create_campaign('win-back', conversion_window => '28 days',
			                                description => 'a voucher to customers at high churn risk');
			INSERT INTO win_back
			SELECT customer_id, row_number() OVER (ORDER BY customer_id::integer) > 300
			  FROM tagscrm.customer_overview WHERE churn_risk = 'churn risk high'
			 ORDER BY customer_id::integer LIMIT 400;
			PERFORM tagscrm.add_campaign_contacts('win-back', (SELECT array_agg(customer_id) FROM win_back WHERE NOT control));
			PERFORM tagscrm.add_campaign_contacts('win-back', (SELECT array_agg(customer_id) FROM win_back WHERE control),
			                                      control => true);
		END IF;
	END LOOP;
END
$$;
-- statistics for the planner, as autovacuum would gather them in time (without
-- them tag_usage takes half a second here instead of 10 ms)
ANALYZE;
-- BI tools read the shop as of its last day too: the clock is pinned for
-- every session of this database (only a superuser may set it)
SELECT pg_catalog.format('ALTER DATABASE %I SET tagscrm.clock_override = %L', pg_catalog.current_database(),
                         '2026-07-27 03:00:00+00')
\gexec
\o
