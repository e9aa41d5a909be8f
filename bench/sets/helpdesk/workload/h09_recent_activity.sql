\set h random(1, 6)
SELECT kind, count(*) FROM helpdesk.ticket_events WHERE created_at >= timestamptz '2025-11-01' - :h * interval '1 hour' GROUP BY kind;
