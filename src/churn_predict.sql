
-- ---------------------------------------------------------------------------
-- churn_predict.sql: the one-call churn prediction from the facts
-- (churn_predict.c), which the churn risk tag, customer_churn and the rule
-- measures read.
-- ---------------------------------------------------------------------------

-- SECURITY DEFINER: it reads tagscrm's own facts and models (no user's
-- table, no user code), the figures readers already see per customer in
-- customer_overview.
CREATE FUNCTION @extschema@.churn_predict(customers text[] DEFAULT NULL, model text DEFAULT NULL,
                                          horizon interval DEFAULT '1 year')
RETURNS TABLE (customer_id text, x integer, t_x float8, t float8, p_alive float8, churn_probability float8,
               expected_purchases float8, expected_value float8, expected_spend float8, risk text,
               risk_changes_at timestamptz)
AS 'MODULE_PATHNAME', 'churn_predict'
LANGUAGE C STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
ROWS 1000;
COMMENT ON FUNCTION @extschema@.churn_predict(text[], text, interval) IS
	'Churn prediction now for customers (NULL: every buyer) under a stored model (NULL: settings.churn_model): P(alive), churn, purchases, value per purchase and spend over horizon, risk class, and when the class changes if no order comes';
