#!/usr/bin/env bash
# Entry point of a follower (the Multi-AZ standby or a read replica): on first start, clone
# the primary with pg_basebackup (its own replication slot, named after the follower), then
# hand over to the official image's entry point, which sees an initialised data dir.
set -euo pipefail

name=$(hostname)
slot=${name//-/_}
if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
    mkdir -p "$PGDATA"
    chown postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA"
    conninfo="host=$RDSBOX_PRIMARY_HOST port=5432 user=replicator application_name=$name"
    PGPASSWORD="$RDSBOX_REPLICATION_PASSWORD" gosu postgres pg_basebackup \
        --dbname="$conninfo" --pgdata="$PGDATA" --wal-method=stream \
        --create-slot --slot="$slot" --write-recovery-conf
    # -R writes primary_conninfo without the password; a later line wins.
    printf "primary_conninfo = '%s password=%s'\n" "$conninfo" "$RDSBOX_REPLICATION_PASSWORD" \
        >>"$PGDATA/postgresql.auto.conf"
fi
exec docker-entrypoint.sh "$@"
