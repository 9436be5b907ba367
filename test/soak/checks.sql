-- test/soak/checks.sql: plain-SQL recomputes of tagscrm's facts from the
-- watched tables, written independently of tagscrm's own code (shared by
-- test/soak and test/crash).  Tables: orders (customer, paid_at, amount)
-- and, when psql variable with_events is on, events (customer, at, kind).
-- Each truth_X view has the same columns as its have_X view, so that
-- (truth EXCEPT ALL have) and (have EXCEPT ALL truth) list what differs.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS soak_check CASCADE;
CREATE SCHEMA soak_check;
\if :with_events
CREATE VIEW soak_check.all_events AS SELECT customer, at, kind FROM events;
\else
CREATE VIEW soak_check.all_events AS SELECT NULL::bigint AS customer, NULL::timestamptz AS at, NULL::text AS kind WHERE false;
\endif

CREATE VIEW soak_check.truth_fact AS
WITH o AS (SELECT customer::text AS customer_id, count(*) AS n, sum(amount) AS total, min(paid_at) AS first_at, max(paid_at) AS last_at
             FROM orders WHERE customer IS NOT NULL GROUP BY 1),
     e AS (SELECT customer::text AS customer_id, count(*) AS n, min(at) AS first_at, max(at) AS last_at
             FROM soak_check.all_events WHERE customer IS NOT NULL GROUP BY 1),
     ids AS (SELECT customer_id FROM o UNION SELECT customer_id FROM e UNION SELECT customer_id FROM tagscrm.customer_fact)
SELECT ids.customer_id, COALESCE(o.n, 0) AS order_count, COALESCE(o.total, 0) AS order_total,
       o.first_at AS first_order_at, o.last_at AS last_order_at,
       COALESCE(e.n, 0) AS event_count, e.first_at AS first_event_at, e.last_at AS last_event_at
  FROM ids LEFT JOIN o USING (customer_id) LEFT JOIN e USING (customer_id);
CREATE VIEW soak_check.have_fact AS
SELECT customer_id, order_count, order_total, first_order_at, last_order_at, event_count, first_event_at, last_event_at
  FROM tagscrm.customer_fact;

CREATE VIEW soak_check.truth_event_fact AS
SELECT customer::text AS customer_id, COALESCE(kind, '') AS kind, count(*) AS events, min(at) AS first_at, max(at) AS last_at
  FROM soak_check.all_events WHERE customer IS NOT NULL GROUP BY 1, 2;
CREATE VIEW soak_check.have_event_fact AS
SELECT customer_id, kind, events, first_at, last_at FROM tagscrm.customer_event_fact;

CREATE VIEW soak_check.truth_day AS
WITH tz AS (SELECT time_zone FROM tagscrm.settings),
     d AS (SELECT customer::text AS customer_id, (paid_at AT TIME ZONE tz.time_zone)::date AS day, 1 AS o, 0 AS e,
                  COALESCE(amount::numeric, 0) AS amount
             FROM orders, tz WHERE customer IS NOT NULL AND paid_at IS NOT NULL
           UNION ALL
           SELECT customer::text, (at AT TIME ZONE tz.time_zone)::date, 0, 1, 0
             FROM soak_check.all_events, tz WHERE customer IS NOT NULL AND at IS NOT NULL)
SELECT customer_id, day, sum(o)::bigint AS orders, sum(e)::bigint AS events, sum(amount) AS amount FROM d GROUP BY 1, 2;
CREATE VIEW soak_check.have_day AS SELECT customer_id, day, orders, events, amount FROM tagscrm.customer_day;

-- the state to compare with a rebuild: tags, and every column of the facts
-- but the two moments of the next time-driven change (compared apart: an
-- earlier moment than the rebuild's only costs the sweep a visit)
CREATE VIEW soak_check.tags AS
SELECT ct.customer_id, t.name AS tag, ct.source FROM tagscrm.customer_tag ct JOIN tagscrm.tag t USING (tag_id);
CREATE VIEW soak_check.facts AS
SELECT 'fact' AS tbl, customer_id, jsonb_build_object('first_order_at', first_order_at, 'last_order_at', last_order_at,
       'order_count', order_count, 'order_total', order_total, 'first_event_at', first_event_at,
       'last_event_at', last_event_at, 'event_count', event_count, 'in_customers', in_customers,
       'attributes', attributes, 'birth_date', birth_date)::text AS v
  FROM tagscrm.customer_fact
UNION ALL SELECT 'day', customer_id, jsonb_build_object('day', day, 'orders', orders, 'events', events, 'amount', amount)::text FROM tagscrm.customer_day
UNION ALL SELECT 'event_fact', customer_id, jsonb_build_object('kind', kind, 'events', events, 'first_at', first_at, 'last_at', last_at)::text
  FROM tagscrm.customer_event_fact;
CREATE VIEW soak_check.next_change AS
SELECT customer_id, next_change_at, rule_next_change_at FROM tagscrm.customer_fact;

-- (d) every current model or rule tag was added (or replaced another) after
-- its last removal; a replace removes the tag it replaced
CREATE VIEW soak_check.history_events AS
SELECT customer_id, tag_id, action, history_id FROM tagscrm.tag_history
UNION ALL
SELECT h.customer_id, t.tag_id, 'remove (replaced)', h.history_id
  FROM tagscrm.tag_history h JOIN tagscrm.tag t ON t.name = h.old->>'tag'
 WHERE h.action = 'replace';
CREATE VIEW soak_check.unexplained_tags AS
SELECT ct.customer_id, t.name AS tag, ct.source, ct.applied_at,
       (SELECT max(h.history_id) FROM soak_check.history_events h
         WHERE h.customer_id = ct.customer_id AND h.tag_id = ct.tag_id
           AND h.action IN ('remove', 'remove (replaced)', 'expire', 'retire', 'merge')) AS last_removal,
       (SELECT max(h.history_id) FROM soak_check.history_events h
         WHERE h.customer_id = ct.customer_id AND h.tag_id = ct.tag_id AND h.action IN ('add', 'replace')) AS last_add
  FROM tagscrm.customer_tag ct JOIN tagscrm.tag t USING (tag_id)
 WHERE ct.source IN ('model', 'rule');
-- and the history replays to the stored assignments (both ways)
CREATE VIEW soak_check.replayed AS
SELECT customer_id, tag_id FROM (
	SELECT DISTINCT ON (customer_id, tag_id) customer_id, tag_id, action
	  FROM soak_check.history_events ORDER BY customer_id, tag_id, history_id DESC) l
 WHERE action IN ('add', 'update', 'replace');
