\set id random(1, 1500000)
SELECT t.id, t.subject, t.status, t.priority, t.created_at, c.name, c.email FROM helpdesk.tickets t JOIN helpdesk.contacts c ON c.id = t.contact_id WHERE t.id = :id;
