-- every tag of the library: holders, last applied and removed, by whom
SELECT tag, group_name, kind, method, status, model, holders, last_applied_at, last_applied_source,
       last_removed_at, last_removed_how, last_activity_at
  FROM tagscrm.tag_usage
