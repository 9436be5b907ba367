-- every saved segment at every recording
SELECT recorded_at, segment, customers FROM tagscrm.segment_size_history
