-- The saved segment with a condition (test/dump/load.sql) against plain
-- SQL over customer_tag and orders: prints its size and 'ok', or 'wrong'.
\pset format unaligned
\pset tuples_only true
WITH web AS (SELECT DISTINCT ct.customer_id FROM tagscrm.customer_tag ct JOIN tagscrm.tag t USING (tag_id)
              WHERE t.name IN ('online', 'Taobao')),
repeat_buyers AS (SELECT o.customer_id FROM orders o GROUP BY 1 HAVING count(*) >= 2),
plain AS (SELECT count(*) AS n FROM web JOIN repeat_buyers USING (customer_id))
SELECT tagscrm.segment_count('repeat web') || ' ' ||
       CASE WHEN tagscrm.segment_count('repeat web') = p.n AND p.n > 0
                 AND (SELECT s.customers FROM tagscrm.segments s WHERE s.name = 'repeat web') = p.n
                 AND ARRAY(SELECT m FROM tagscrm.segment_members('repeat web', NULL, 100000) m ORDER BY m)
                     = ARRAY(SELECT w.customer_id FROM web w JOIN repeat_buyers USING (customer_id) ORDER BY 1)
            THEN 'ok' ELSE 'wrong (plain SQL: ' || p.n || ')' END
  FROM plain p;
