-- Undo the workload's writes: the events h10 appended (the loaded ones end at id 3,000,000).
DELETE FROM helpdesk.ticket_events WHERE id > 3000000;
