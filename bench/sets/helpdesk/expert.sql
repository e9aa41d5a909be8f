-- The index changes a senior DBA would make for the helpdesk workload (see workload/calls.tsv for why).
-- h01 inbox: live tickets of a tenant, newest first: partial on the soft-delete predicate, in the listed order
CREATE INDEX ON helpdesk.tickets (tenant_id, created_at) WHERE deleted_at IS NULL;
-- h02 trash: the 4% deleted rows get their own small partial index
CREATE INDEX ON helpdesk.tickets (tenant_id, deleted_at) WHERE deleted_at IS NOT NULL;
-- h03 an agent's open queue: open is 2% of the tickets
CREATE INDEX ON helpdesk.tickets (assignee_id, created_at) WHERE status = 'open';
-- h04 leading-wildcard ILIKE: only trigrams can serve it
CREATE INDEX ON helpdesk.tickets USING gin (subject gin_trgm_ops);
-- h06 a ticket's comments (missing foreign-key index)
CREATE INDEX ON helpdesk.ticket_comments (ticket_id);
-- h07 keyset pagination: the full key, so the row comparison is an index condition
CREATE INDEX ON helpdesk.contacts (tenant_id, created_at, id);
-- h09 append-only, time-ordered, insert-heavy: BRIN (tiny, nearly free on insert); 32 pages per range ~ 5 hours of events
CREATE INDEX ON helpdesk.ticket_events USING brin (created_at) WITH (pages_per_range = 32);
-- a prefix of contacts_tenant_email_idx (and of the keyset index)
DROP INDEX helpdesk.contacts_tenant_idx;
-- never read; every h10 insert pays for it
DROP INDEX helpdesk.ticket_events_actor_idx;
