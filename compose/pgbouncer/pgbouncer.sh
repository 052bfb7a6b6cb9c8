#!/bin/sh
# PgBouncer standing in for RDS Proxy: transaction pooling in front of the primary, with
# the pool limits rdsbox derives from the proxy settings (see docs/mapping.md).
set -eu

conf=/tmp/rdsbox-pgbouncer
mkdir -p "$conf"
umask 077
printf '"%s" "%s"\n' "$RDSBOX_DB_USERNAME" "$RDSBOX_DB_PASSWORD" >"$conf/userlist.txt"
cat >"$conf/pgbouncer.ini" <<INI
[databases]
$DB_NAME = host=$RDSBOX_PROXY_TARGET port=5432 dbname=$DB_NAME

[pgbouncer]
listen_addr = 0.0.0.0
listen_port = 6432
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $conf/userlist.txt
pool_mode = transaction
max_client_conn = 5000
default_pool_size = $RDSBOX_PROXY_POOL_SIZE
max_db_connections = $RDSBOX_PROXY_POOL_SIZE
client_idle_timeout = $RDSBOX_PROXY_IDLE_CLIENT_TIMEOUT
query_wait_timeout = $RDSBOX_PROXY_BORROW_TIMEOUT
ignore_startup_parameters = extra_float_digits,options
INI
exec pgbouncer "$conf/pgbouncer.ini"
