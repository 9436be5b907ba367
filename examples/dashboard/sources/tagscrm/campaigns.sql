SELECT name, started_at, conversion_window::text AS conversion_window, description, reached, control_group
  FROM tagscrm.campaigns
