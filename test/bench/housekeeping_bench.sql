-- Tag housekeeping and campaign effect at scale (docs/housekeeping.md, docs/campaigns.md):
-- psql -X -d a_fresh_database -f test/bench/housekeeping_bench.sql
\timing on
SET client_min_messages = warning;
CREATE EXTENSION tagscrm;
SET tagscrm.clock_override = '2026-06-01 00:00+00';
SELECT tagscrm.create_tag_group('g' || g, 'manual') FROM generate_series(1, 4) g;
SELECT tagscrm.create_tag('t' || i, 'g' || (1 + i % 4)) FROM generate_series(1, 200) i;
INSERT INTO tagscrm.customer SELECT 'c' || i, '2025-01-01' FROM generate_series(1, 1000000) i;
INSERT INTO tagscrm.customer_tag (customer_id, tag_id, group_id, source, applied_by, applied_at)
SELECT 'c' || i, t.tag_id, t.group_id, 'manual', 'bench', '2025-06-01'
  FROM generate_series(1, 1000000) i, LATERAL (SELECT x.tag_id, x.group_id FROM tagscrm.tag x WHERE x.name IN ('t' || (1 + i % 199), 't' || (1 + (i / 7) % 150))) t;
SELECT count(*) AS assignments FROM tagscrm.customer_tag;
INSERT INTO tagscrm.tag_history (changed_at, changed_by, customer_id, tag_id, action, old, new, source)
SELECT '2024-06-01'::timestamptz + random() * interval '700 days', 'bench', 'c' || (1 + floor(random() * 1000000)),
       1 + floor(random() * 200)::int, a.action,
       CASE WHEN a.action = 'replace' THEN jsonb_build_object('tag', 't' || (1 + floor(random() * 200)::int)) END, NULL, 'manual'
  FROM generate_series(1, 5000000) g, LATERAL (SELECT (ARRAY['add','add','add','add','remove','remove','remove','replace','replace','expire'])[1 + floor(random() * 10)::int + (g * 0)] AS action) a;
VACUUM ANALYZE tagscrm.tag_history;
VACUUM ANALYZE tagscrm.customer_tag;
\echo all tags, twice
SELECT count(*), max(last_applied_at), max(last_removed_at) FROM tagscrm.tag_usage;
SELECT count(*), max(last_applied_at), max(last_removed_at) FROM tagscrm.tag_usage;
\echo one tag
SELECT tag, holders, last_applied_at, last_removed_at FROM tagscrm.tag_usage WHERE tag = 't17';
\echo history only (holders left out)
SELECT count(*), max(last_applied_at), max(last_removed_at) FROM (SELECT last_applied_at, last_removed_at FROM tagscrm.tag_usage) x;
\echo candidates
SELECT count(*) FROM tagscrm.retirement_candidates('90 days');
\echo plain GROUP BY over the whole history (last applied per tag only)
SELECT count(*) FROM (SELECT tag_id, max(changed_at) FROM tagscrm.tag_history WHERE action IN ('add','update','replace','merge') GROUP BY tag_id) x;
\echo write cost: 500000 history rows with and without the two indexes
BEGIN;
INSERT INTO tagscrm.tag_history (changed_at, changed_by, customer_id, tag_id, action, old, new, source)
SELECT '2026-05-01', 'bench', 'c' || g, 1 + g % 200, CASE WHEN g % 3 = 0 THEN 'replace' ELSE 'add' END,
       CASE WHEN g % 3 = 0 THEN jsonb_build_object('tag', 't' || (1 + g % 199)) END, NULL, 'manual' FROM generate_series(1, 500000) g;
ROLLBACK;
BEGIN;
DROP INDEX tagscrm.tag_history_tag_idx, tagscrm.tag_history_lost_tag_idx;
INSERT INTO tagscrm.tag_history (changed_at, changed_by, customer_id, tag_id, action, old, new, source)
SELECT '2026-05-01', 'bench', 'c' || g, 1 + g % 200, CASE WHEN g % 3 = 0 THEN 'replace' ELSE 'add' END,
       CASE WHEN g % 3 = 0 THEN jsonb_build_object('tag', 't' || (1 + g % 199)) END, NULL, 'manual' FROM generate_series(1, 500000) g;
\echo all tags without the indexes
SELECT count(*), max(last_applied_at), max(last_removed_at) FROM tagscrm.tag_usage;
ROLLBACK;
\echo campaign: 5 segments, 1M customers, 2M days, 100k contacts
CREATE TABLE orders (customer_id text, paid_at timestamptz, amount numeric);
SELECT tagscrm.watch_orders('orders', 'customer_id', 'paid_at', 'amount');
INSERT INTO tagscrm.customer_day (customer_id, day, orders, amount)
SELECT 'c' || (1 + (g::bigint * 7919) % 1000000), '2026-05-01'::date + (g % 60), 1, 10 + g % 90 FROM generate_series(1, 2000000) g
ON CONFLICT DO NOTHING;
SELECT tagscrm.define_segment('s' || i, format($$tag('t%s') or tag('t%s')$$, i, i + 10)) FROM generate_series(1, 5) i;
SELECT tagscrm.create_campaign('bench', started_at => '2026-05-10', conversion_window => '14 days');
SELECT tagscrm.add_campaign_contacts('bench', ARRAY(SELECT 'c' || g FROM generate_series(1, 1000000, 10) g), reached_at => '2026-05-11');
SELECT count(*) FROM tagscrm.campaign_effect('bench', 'segment');
SELECT count(*) FROM tagscrm.campaign_effect('bench', 'tag');
SELECT count(*) FROM tagscrm.campaign_effect('bench', 'all');
SELECT pg_size_pretty(pg_total_relation_size('tagscrm.campaign_group')) AS snapshot_size;
SELECT tagscrm.add_campaign_contacts('bench', ARRAY(SELECT 'c' || g FROM generate_series(5, 1000000, 50) g), control => true, reached_at => '2026-05-11');
SELECT count(*) FROM tagscrm.campaign_effect('bench', 'tag');
