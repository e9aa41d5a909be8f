-- Run once by the postgres image: the extension and a least-privilege monitoring role.
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE ROLE optischema LOGIN PASSWORD 'monitor_pass';
GRANT pg_monitor TO optischema;
