\set c random(1, 1100435)
SELECT id, subject, status, created_at FROM helpdesk.tickets WHERE contact_id = :c AND deleted_at IS NULL ORDER BY created_at DESC LIMIT 10;
