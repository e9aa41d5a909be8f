\set t random_zipfian(1, 2000, 1.1)
SELECT id, subject, status, priority, created_at FROM helpdesk.tickets WHERE tenant_id = :t AND deleted_at IS NULL ORDER BY created_at DESC LIMIT 20;
