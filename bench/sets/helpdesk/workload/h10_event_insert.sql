\set tk random(1, 1500000)
\set t random(1, 2000)
\set a random(1, 20000)
INSERT INTO helpdesk.ticket_events (ticket_id, tenant_id, actor_agent_id, kind) VALUES (:tk, :t, :a, 'viewed');
