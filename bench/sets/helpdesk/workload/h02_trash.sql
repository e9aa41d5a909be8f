\set t random(1, 2000)
SELECT id, subject, deleted_at FROM helpdesk.tickets WHERE tenant_id = :t AND deleted_at IS NOT NULL ORDER BY deleted_at DESC LIMIT 50;
