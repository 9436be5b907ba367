-- 2 to 60 orders in one statement (below bulk_rows), for customers spread
-- over the whole range in an order that differs between statements
\set n random(2, 60)
\set c random(1, 200)
\set step random(1, 199)
\set s random(0, 15552000)
INSERT INTO orders (customer, paid_at, amount)
SELECT 1 + (:c + g * :step) % 200, now() - ((:s + g * 7919) % 15552000) * interval '1 second', 5 + (g * 37) % 290
  FROM generate_series(1, :n) g;
