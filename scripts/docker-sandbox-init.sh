#!/bin/sh
# Runs once when the sandbox server of docker-compose.sandbox.yml is initialised: the role OptiSchema
# connects as. Functions and triggers copied from a target run as this role on the sandbox server, so
# it gets CREATEDB and nothing else (no superuser, no CREATEROLE, no pg_execute_server_program);
# the engine refuses a privileged sandbox role.
set -eu
psql -v ON_ERROR_STOP=1 -v pw="${SANDBOX_ROLE_PASSWORD:?}" -U "${POSTGRES_USER:-postgres}" -d postgres <<'SQL'
CREATE ROLE optischema_sandbox LOGIN CREATEDB PASSWORD :'pw';
SQL
