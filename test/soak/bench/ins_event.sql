-- one event for a customer: half the time one of the hot set (1-10)
\set h random(1, 100)
\set c CASE WHEN :h <= 50 THEN random(1, 10) ELSE random(11, 200) END
\set s random(0, 3888000)
\set k random(1, 4)
INSERT INTO events (customer, at, kind) VALUES (:c, now() - :s * interval '1 second', (ARRAY['view', 'consult', 'review', 'register'])[:k]);
