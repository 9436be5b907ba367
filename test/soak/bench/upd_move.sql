-- move two orders from one customer to another (the customer column
-- changes); rows locked in id order
\set h random(1, 100)
\set c1 CASE WHEN :h <= 50 THEN random(1, 10) ELSE random(11, 200) END
\set c2 random(1, 200)
WITH l AS (SELECT order_id FROM orders WHERE customer = :c1 ORDER BY order_id LIMIT 2 FOR UPDATE)
UPDATE orders SET customer = :c2 WHERE order_id IN (SELECT order_id FROM l);
