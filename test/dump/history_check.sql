-- After a restore: the movement matrix and the members of every cell, for
-- every two recordings and each tag group, equal plain SQL over the copies of
-- customer_tag in public.history_snap.  Prints the cells checked and the
-- cells wrong.
\pset format unaligned
\pset tuples_only true
CREATE TEMP TABLE want AS
WITH rec AS (SELECT r.recording_id, r.recorded_at FROM tagscrm.history_recording r),
g AS (SELECT g.name AS layer, t.tag_id, t.name FROM tagscrm.tag t JOIN tagscrm.tag_group g ON g.group_id = t.group_id),
s AS (SELECT h.recording, g.layer, h.customer_id, g.name FROM public.history_snap h JOIN g USING (tag_id))
SELECT a.recorded_at AS from_at, b.recorded_at AS to_at, l.layer, x.from_tag, x.to_tag, x.members
  FROM rec a JOIN rec b ON a.recording_id < b.recording_id
 CROSS JOIN (SELECT DISTINCT layer FROM g) l
 CROSS JOIN LATERAL (
	SELECT sa.name AS from_tag, sb.name AS to_tag, array_agg(customer_id ORDER BY customer_id) AS members
	  FROM (SELECT * FROM s WHERE s.recording = a.recording_id AND s.layer = l.layer) sa
	  JOIN (SELECT * FROM s WHERE s.recording = b.recording_id AND s.layer = l.layer) sb USING (customer_id)
	 GROUP BY 1, 2
	UNION ALL
	SELECT sa.name, NULL, array_agg(sa.customer_id ORDER BY sa.customer_id)
	  FROM s sa WHERE sa.recording = a.recording_id AND sa.layer = l.layer
	   AND NOT EXISTS (SELECT FROM s sb WHERE sb.recording = b.recording_id AND sb.layer = l.layer AND sb.customer_id = sa.customer_id)
	 GROUP BY 1
	UNION ALL
	SELECT NULL, sb.name, array_agg(sb.customer_id ORDER BY sb.customer_id)
	  FROM s sb WHERE sb.recording = b.recording_id AND sb.layer = l.layer
	   AND NOT EXISTS (SELECT FROM s sa WHERE sa.recording = a.recording_id AND sa.layer = l.layer AND sa.customer_id = sb.customer_id)
	 GROUP BY 2) x;
CREATE TEMP TABLE got AS
SELECT p.from_at, p.to_at, p.layer, m.from_tag, m.to_tag,
       ARRAY(SELECT tagscrm.movement_members(p.layer, p.from_at, p.to_at, m.from_tag, m.to_tag, page_size => 100000)) AS members,
       m.customers
  FROM (SELECT DISTINCT from_at, to_at, layer FROM want) p, LATERAL tagscrm.movement(p.layer, p.from_at, p.to_at) m;
SELECT (SELECT count(*) FROM want) AS cells_checked,
       (SELECT count(*) FROM (SELECT from_at, to_at, layer, from_tag, to_tag, members FROM want
                              EXCEPT SELECT from_at, to_at, layer, from_tag, to_tag, members FROM got) x)
     + (SELECT count(*) FROM (SELECT from_at, to_at, layer, from_tag, to_tag, members FROM got
                              EXCEPT SELECT from_at, to_at, layer, from_tag, to_tag, members FROM want) x)
     + (SELECT count(*) FROM got WHERE customers <> cardinality(members)) AS cells_wrong,
       (SELECT count(*) FROM tagscrm.tag_size_history h JOIN tagscrm.history_recording r USING (recorded_at)
         WHERE h.customers <> (SELECT count(*) FROM public.history_snap s JOIN tagscrm.tag t USING (tag_id)
                                WHERE s.recording = r.recording_id AND t.name = h.tag)) AS sizes_wrong;
