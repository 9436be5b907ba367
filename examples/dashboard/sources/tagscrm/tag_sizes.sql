-- every tag at every recording (the RFM segments, lifecycle stages, statuses, ...)
SELECT recorded_at, group_name, tag, customers FROM tagscrm.tag_size_history
