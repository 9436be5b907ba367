-- one row per customer with an order: segment, status, churn risk, value
SELECT customer_id, rfm_segment, status, churn_risk, churn_probability, total_paid, orders
  FROM tagscrm.customer_overview WHERE orders > 0
