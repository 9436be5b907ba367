-- one order for a customer: half the time one of the hot set (1-10)
\set h random(1, 100)
\set c CASE WHEN :h <= 50 THEN random(1, 10) ELSE random(11, 200) END
\set s random(0, 15552000)
\set a random(100, 30000)
INSERT INTO orders (customer, paid_at, amount) VALUES (:c, now() - :s * interval '1 second', :a / 100.0);
