-- each campaign's effect: all customers, and per saved segment
SELECT c.name AS campaign, e.*
  FROM tagscrm.campaigns c, LATERAL tagscrm.campaign_effect(c.name, 'all') e
UNION ALL
SELECT c.name, e.*
  FROM tagscrm.campaigns c, LATERAL tagscrm.campaign_effect(c.name, 'segment') e
