-- delete a customer's oldest two events; rows locked in id order
\set h random(1, 100)
\set c CASE WHEN :h <= 50 THEN random(1, 10) ELSE random(11, 200) END
WITH l AS (SELECT event_id FROM events WHERE customer = :c ORDER BY event_id LIMIT 2 FOR UPDATE)
DELETE FROM events WHERE event_id IN (SELECT event_id FROM l);
