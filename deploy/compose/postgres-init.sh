#!/bin/sh
# Runs once, when PostgreSQL's data volume is new: a database per Deskside
# service, owned by a role of its own, which no other role may connect to.
set -eu

for service in tickets inventory notify; do
    password="$(cat "/run/deskside-secrets/${service}-db-password")"
    psql --no-psqlrc --set ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" \
        --dbname postgres --set role="${service}" --set password="${password}" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"role" OWNER :"role";
REVOKE ALL ON DATABASE :"role" FROM PUBLIC;
SQL
done
