\set id random(1, 1500000)
SELECT id, author_agent_id, public, body, created_at FROM helpdesk.ticket_comments WHERE ticket_id = :id ORDER BY created_at;
