-- "helpdesk": a deterministic multi-tenant support-desk schema and data set for measuring index advice.
-- Load into an empty database; takes about a minute on 2 cores. 6 tables, 7.6 M rows.
-- Tenants are skewed (tenant 1 has ~8% of the tickets and ~11% of the contacts, most tenants a few
-- hundred rows), ticket statuses are skewed (2% open), 4% of the tickets are soft-deleted.
-- The data ends at 2025-11-01 (the workload's "now" for time ranges). Only primary keys are created
-- here: run-bench.sh adds baseline-indexes.sql before the first run.
DROP SCHEMA IF EXISTS helpdesk CASCADE;
CREATE SCHEMA helpdesk;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
SET search_path = helpdesk;
SELECT setseed(0.42);

CREATE TABLE tenants (
  id int PRIMARY KEY,
  name text NOT NULL,
  plan text NOT NULL,
  created_at timestamptz NOT NULL
);
INSERT INTO tenants
SELECT n, 'Tenant ' || n, CASE WHEN n <= 20 THEN 'enterprise' WHEN n <= 300 THEN 'business' ELSE 'starter' END,
       timestamptz '2021-06-01' + n * interval '11 hours'
FROM generate_series(1, 2000) n;

CREATE TABLE agents (
  id int PRIMARY KEY,
  tenant_id int NOT NULL,
  name text NOT NULL,
  email text NOT NULL
);
INSERT INTO agents
SELECT n, 1 + floor(2000 * power((hashint4(n + 101) & 2147483647)::float8 / 2147483648, 3))::int,
       'Agent ' || n, 'agent' || n || '@support.example'
FROM generate_series(1, 20000) n;

-- Contacts (the tenants' customers): tenant t has 60 + 120000 / t of them (tenant 1: 120,060; tenant 2000: 120),
-- contact k of tenant t has the address c<k>@t<t>.example; ids follow created_at, as a sequence would.
CREATE TABLE contacts (
  id bigint PRIMARY KEY,
  tenant_id int NOT NULL,
  email text NOT NULL,
  name text NOT NULL,
  phone text,
  created_at timestamptz NOT NULL
);
INSERT INTO contacts
SELECT row_number() OVER (ORDER BY created_at, t, k), t, 'c' || k || '@t' || t || '.example',
       (ARRAY['Anna','Ben','Chloe','David','Emma','Felix','Grace','Hugo','Ines','Jonas','Karin','Liam','Mia','Noah','Olga','Paul'])[1 + (t + k) % 16]
         || ' ' || (ARRAY['Smith','Jones','Garcia','Müller','Rossi','Tanaka','Dubois','Kowalski','Nguyen','Silva','Novak','Jensen','Kim','Haddad','Okafor','Petrov'])[1 + (k * 7 + t) % 16],
       CASE WHEN random() < 0.4 THEN '+1 555 ' || lpad((k % 10000)::text, 4, '0') END,
       created_at
FROM (SELECT t, k, timestamptz '2022-01-01' + ((hashint4(t * 1000003 + k) & 2147483647) % (1400 * 86400)) * interval '1 second' AS created_at
      FROM generate_series(1, 2000) t, generate_series(1, 60 + 120000 / t) k) s;

-- Tickets: one every 30 s up to 2025-11-01. tenant = 1 + floor(2000 u^3); 2% open, 4% pending, 14% solved, 80% closed;
-- 5% of the closed ones soft-deleted. Subjects name one of 500 products (skewed: the first ones are common).
CREATE TABLE tickets (
  id bigint PRIMARY KEY,
  tenant_id int NOT NULL,
  contact_id bigint NOT NULL,
  assignee_id int,
  status text NOT NULL,
  priority text NOT NULL,
  channel text NOT NULL,
  subject text NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  deleted_at timestamptz
);
INSERT INTO tickets
SELECT n,
       1 + floor(2000 * power(h1::float8 / 2147483648, 3))::int,
       1 + h2 % 1100435,
       1 + h3 % 20000,
       CASE WHEN h4 % 1000 < 20 THEN 'open' WHEN h4 % 1000 < 60 THEN 'pending' WHEN h4 % 1000 < 200 THEN 'solved' ELSE 'closed' END,
       CASE WHEN r < 0.30 THEN 'low' WHEN r < 0.85 THEN 'normal' WHEN r < 0.97 THEN 'high' ELSE 'urgent' END,
       (ARRAY['email','email','email','web','web','chat','phone'])[1 + h5 % 7],
       (ARRAY['Cannot log in to','Refund request for','Billing question about','Error when syncing','How do I export from',
              'Password reset for','Slow performance in','Feature request:','Crash on startup of','Invoice missing for',
              'Cannot upgrade','Data not showing in','Integration broken with','Question about','Bug report:',
              'Cancel subscription of','Shipping delay for','Wrong charge on','Account locked in','Setup help for'])[1 + h5 % 20]
         || ' ' || (ARRAY['Astro','Bright','Cloud','Delta','Echo','Flux','Giga','Helio','Iron','Jet','Kilo','Luna','Mega',
                          'Nova','Omni','Pixel','Quanta','Rapid','Sky','Terra','Ultra','Vector','Wave','Xeno','Zen'])[1 + p / 20]
         || (ARRAY['board','box','cast','desk','dock','flow','gate','grid','hub','link','mail','mate','note','pad','path',
                   'point','scan','sync','track','vault'])[1 + p % 20]
         || CASE WHEN h6 % 4 = 0 THEN ' (urgent)' WHEN h6 % 4 = 1 THEN ' after update' ELSE '' END,
       ts, ts + (h6 % 72) * interval '1 hour',
       CASE WHEN h4 % 1000 >= 200 AND h6 % 100 < 5 THEN least(ts + (1 + h6 % 30) * interval '1 day', timestamptz '2025-11-01') END
FROM (SELECT n, hashint4(n) & 2147483647 AS h1, hashint4(n + 1) & 2147483647 AS h2, hashint4(n + 2) & 2147483647 AS h3,
             hashint4(n + 3) & 2147483647 AS h4, hashint4(n + 4) & 2147483647 AS h5, hashint4(n + 5) & 2147483647 AS h6,
             floor(500 * power((hashint4(n + 6) & 2147483647)::float8 / 2147483648, 2))::int AS p, random() AS r,
             timestamptz '2025-11-01' - (1500000 - n) * interval '30 seconds' AS ts
      FROM generate_series(1, 1500000) n) s;

CREATE TABLE ticket_comments (
  id bigint PRIMARY KEY,
  ticket_id bigint NOT NULL,
  author_agent_id int,
  public boolean NOT NULL,
  body text NOT NULL,
  created_at timestamptz NOT NULL
);
INSERT INTO ticket_comments
SELECT n, tk, CASE WHEN h % 3 = 0 THEN NULL ELSE 1 + h % 20000 END, h % 5 <> 0,
       (ARRAY['Thanks for reaching out, we are looking into it.','Could you send a screenshot of the error?',
              'This should be fixed now, please confirm.','Escalated to the engineering team.','Closing this ticket as resolved.',
              'Any update on this?','Still happening after the update.','Refund issued, please allow 5 business days.'])[1 + h % 8],
       timestamptz '2025-11-01' - (1500000 - tk) * interval '30 seconds' + (h % 4320) * interval '1 minute'
FROM (SELECT n, 1 + (hashint4(n + 11) & 2147483647) % 1500000 AS tk, hashint4(n + 13) & 2147483647 AS h
      FROM generate_series(1, 2000000) n) s;

-- Append-only activity log: one event every 5 s, in time order, up to 2025-11-01 (~174 days).
CREATE TABLE ticket_events (
  id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  ticket_id bigint NOT NULL,
  tenant_id int NOT NULL,
  actor_agent_id int,
  kind text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO ticket_events (id, ticket_id, tenant_id, actor_agent_id, kind, created_at)
SELECT n, 1 + h % 1500000, 1 + floor(2000 * power((hashint4(n + 21) & 2147483647)::float8 / 2147483648, 3))::int,
       CASE WHEN h % 4 = 0 THEN NULL ELSE 1 + h % 20000 END,
       (ARRAY['viewed','viewed','viewed','comment_added','comment_added','status_changed','assigned','priority_changed','tag_added'])[1 + h % 9],
       timestamptz '2025-11-01' - (3000000 - n) * interval '5 seconds'
FROM (SELECT n, hashint4(n + 20) & 2147483647 AS h FROM generate_series(1, 3000000) n) s;
SELECT setval(pg_get_serial_sequence('ticket_events', 'id'), 3000000);

ALTER TABLE agents ADD FOREIGN KEY (tenant_id) REFERENCES tenants(id);
ALTER TABLE contacts ADD FOREIGN KEY (tenant_id) REFERENCES tenants(id);
ALTER TABLE tickets ADD FOREIGN KEY (tenant_id) REFERENCES tenants(id);
ALTER TABLE tickets ADD FOREIGN KEY (contact_id) REFERENCES contacts(id);
ALTER TABLE tickets ADD FOREIGN KEY (assignee_id) REFERENCES agents(id);
ALTER TABLE ticket_comments ADD FOREIGN KEY (ticket_id) REFERENCES tickets(id);

VACUUM ANALYZE;
