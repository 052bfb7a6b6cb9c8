#!/usr/bin/env bash
# Runs once, when the official image initialises the primary's data directory: a
# replication role, replication access in pg_hba.conf, and the Multi-AZ standby as the
# synchronous standby (ALTER SYSTEM: applies from the server's real start, not to this
# temporary init server, whose commits must not wait for a standby).
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v password="$RDSBOX_REPLICATION_PASSWORD" -v standby="$RDSBOX_SYNC_STANDBY" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'password';
SELECT format('ANY 1 (%I)', :'standby') AS names \gset
ALTER SYSTEM SET synchronous_standby_names = :'names';
SQL

echo "host replication replicator all scram-sha-256" >>"$PGDATA/pg_hba.conf"
