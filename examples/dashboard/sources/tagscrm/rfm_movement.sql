-- the RFM movement matrix from the first recording to the latest (a cell per
-- pair of segments that holds someone; an empty tag is no segment)
SELECT coalesce(m.from_tag, '(none)') AS from_segment, coalesce(m.to_tag, '(none)') AS to_segment, m.customers,
       m.from_recorded_at, m.to_recorded_at
  FROM tagscrm.movement('rfm', (SELECT min(recorded_at) FROM tagscrm.tag_size_history),
                        (SELECT max(recorded_at) FROM tagscrm.tag_size_history)) m
