-- 2 to 60 events in one statement (below bulk_rows), hot set first or last
\set n random(2, 60)
\set c random(1, 200)
\set s random(0, 3888000)
INSERT INTO events (customer, at, kind)
SELECT CASE WHEN g % 3 = 0 THEN 1 + (:c + g) % 10 ELSE 1 + (:c * g) % 200 END,
       now() - ((:s + g * 7919) % 3888000) * interval '1 second', (ARRAY['view', 'consult', 'review', 'register'])[1 + (:c + g) % 4]
  FROM generate_series(1, :n) g ORDER BY CASE WHEN :c % 2 = 0 THEN g ELSE -g END;
