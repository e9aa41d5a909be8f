\set t random(1, 2000)
\set k random(1, 80)
SELECT id, name FROM helpdesk.contacts WHERE tenant_id = :t AND email = 'c' || :k || '@t' || :t || '.example';
