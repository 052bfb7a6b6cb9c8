#!/bin/sh
# moto's server standing in for Secrets Manager, seeded with the DB secret in the RDS
# managed-secret shape; the health check passes once the secret exists.
set -eu

moto_server -H 0.0.0.0 -p 5000 &
server=$!
trap 'kill "$server"' TERM INT
python /rdsbox/seed_secret.py && touch /tmp/rdsbox-seeded
wait "$server"
