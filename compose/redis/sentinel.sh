#!/bin/sh
# A Sentinel watching the replication group (quorum 2 of 3), as ElastiCache's automatic
# failover. Sentinel rewrites its config file, so it is generated into /data at start.
set -eu

conf=/data/sentinel.conf
cat >"$conf" <<CONF
port 26379
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel monitor $RDSBOX_REPLICATION_GROUP $RDSBOX_CACHE_PRIMARY 6379 2
sentinel auth-pass $RDSBOX_REPLICATION_GROUP $REDIS_AUTH_TOKEN
sentinel down-after-milliseconds $RDSBOX_REPLICATION_GROUP 1000
sentinel failover-timeout $RDSBOX_REPLICATION_GROUP 10000
CONF
exec docker-entrypoint.sh redis-server "$conf" --sentinel
