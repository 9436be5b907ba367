-- delete a customer's oldest order
\set h random(1, 100)
\set c CASE WHEN :h <= 50 THEN random(1, 10) ELSE random(11, 200) END
DELETE FROM orders WHERE order_id IN (SELECT order_id FROM orders WHERE customer = :c ORDER BY order_id LIMIT 1);
