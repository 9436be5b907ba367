-- an event changes kind, time and sometimes customer; rows locked in id order
\set h random(1, 100)
\set c CASE WHEN :h <= 50 THEN random(1, 10) ELSE random(11, 200) END
\set c2 random(1, 200)
\set k random(1, 4)
\set s random(0, 864000)
WITH pick AS (SELECT event_id FROM events WHERE customer = :c ORDER BY event_id DESC LIMIT 2),
     l AS (SELECT event_id FROM events WHERE event_id IN (SELECT event_id FROM pick) ORDER BY event_id FOR UPDATE)
UPDATE events SET kind = (ARRAY['view', 'consult', 'review', 'register'])[:k], at = at - :s * interval '1 second',
                  customer = CASE WHEN :k = 1 THEN :c2 ELSE customer END
 WHERE event_id IN (SELECT event_id FROM l);
