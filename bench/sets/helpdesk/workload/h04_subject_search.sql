\set p random(0, 499)
SELECT id, tenant_id, subject, status, created_at FROM helpdesk.tickets
WHERE deleted_at IS NULL
  AND subject ILIKE '%' || (ARRAY['astro','bright','cloud','delta','echo','flux','giga','helio','iron','jet','kilo','luna','mega','nova','omni','pixel','quanta','rapid','sky','terra','ultra','vector','wave','xeno','zen'])[1 + :p / 20]
                        || (ARRAY['board','box','cast','desk','dock','flow','gate','grid','hub','link','mail','mate','note','pad','path','point','scan','sync','track','vault'])[1 + :p % 20] || '%'
ORDER BY created_at DESC LIMIT 50;
