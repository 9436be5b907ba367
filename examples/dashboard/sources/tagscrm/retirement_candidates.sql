-- tags nobody holds, with no change for 30 days: what an admin may retire
SELECT * FROM tagscrm.retirement_candidates('30 days')
