-- The secondary indexes the app had before tuning (primary keys come from schema.sql); run-bench.sh restores exactly these between runs.
CREATE INDEX contacts_tenant_email_idx ON helpdesk.contacts (tenant_id, email);
CREATE INDEX contacts_tenant_idx ON helpdesk.contacts (tenant_id);
CREATE INDEX tickets_contact_idx ON helpdesk.tickets (contact_id);
CREATE INDEX ticket_events_actor_idx ON helpdesk.ticket_events (actor_agent_id);
