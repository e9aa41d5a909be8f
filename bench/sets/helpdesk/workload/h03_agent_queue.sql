\set a random(1, 20000)
SELECT id, tenant_id, subject, priority, created_at FROM helpdesk.tickets WHERE assignee_id = :a AND status = 'open' AND deleted_at IS NULL ORDER BY created_at;
