#!/bin/sh
# Initialise a new data folder the way the official image does, then serve.
set -eu

if [ ! -s "${PGDATA}/PG_VERSION" ]; then
    initdb --username=postgres --pwfile="${POSTGRES_PASSWORD_FILE}" \
        --auth-local=trust --auth-host=scram-sha-256 --pgdata="${PGDATA}"
    pg_ctl --pgdata="${PGDATA}" --options="-c listen_addresses=''" --wait start
    for script in /docker-entrypoint-initdb.d/*.sh; do
        if [ -e "${script}" ]; then sh "${script}"; fi
    done
    pg_ctl --pgdata="${PGDATA}" --mode=fast --wait stop
fi
exec postgres -D "${PGDATA}" -c listen_addresses=127.0.0.1
