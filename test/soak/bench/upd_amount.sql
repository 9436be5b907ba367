-- change the amount of a customer's latest orders (rows locked in id
-- order, like every multi-row writer of the mix: the mix itself cannot
-- deadlock)
\set h random(1, 100)
\set c CASE WHEN :h <= 50 THEN random(1, 10) ELSE random(11, 200) END
\set d random(-500, 500)
WITH pick AS (SELECT order_id FROM orders WHERE customer = :c ORDER BY order_id DESC LIMIT 3),
     l AS (SELECT order_id FROM orders WHERE order_id IN (SELECT order_id FROM pick) ORDER BY order_id FOR UPDATE)
UPDATE orders SET amount = greatest(amount + :d / 100.0, 1) WHERE order_id IN (SELECT order_id FROM l);
