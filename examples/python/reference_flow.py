"""The reference application's flow against an rdsbox sandbox (or AWS), configured only
from the environment that `rdsbox env` prints:

1. read the database credentials from Secrets Manager (DB_SECRET_ARN);
2. read a user through the cache (cache-aside: GET, on a miss SELECT through the proxy and
   SET with a TTL);
3. update the user in a transaction, then invalidate the cache entry (DEL);
4. read again: a miss that loads the new value, then a hit.

Prints each step; the last line is ``RESULT {json}``; exit status 0 when every step did
what it should. Needs psycopg, redis and boto3 (``pip install -r requirements.txt``)::

    eval "$(rdsbox env)" && python examples/python/reference_flow.py
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import boto3
import psycopg
import redis
from psycopg.rows import dict_row

CACHE_TTL_S = 600


def env(name: str) -> str:
    """A variable from `rdsbox env`; a clear message when it is missing."""
    value = os.environ.get(name)
    if not value:
        raise SystemExit(f'{name} is not set; run: eval "$(rdsbox env)"')
    return value


def read_secret() -> dict[str, Any]:
    """The DB secret (RDS managed-secret shape) from Secrets Manager."""
    # boto3 reads AWS_ENDPOINT_URL, the region and the access keys from the environment.
    client = boto3.client("secretsmanager", region_name=env("AWS_REGION"))
    return dict(json.loads(client.get_secret_value(SecretId=env("DB_SECRET_ARN"))["SecretString"]))


def read_user(
    cache: redis.Redis, db: psycopg.Connection[dict[str, Any]], user_id: int, reads: list[str]
) -> dict[str, Any]:
    """Cache-aside read of one user."""
    key = f"user:{user_id}"
    cached = cache.get(key)
    if cached is not None:
        reads.append("hit")
        print(f"read user {user_id}: cache hit")
        return dict(json.loads(cached))
    row = db.execute(
        "SELECT id, name, email FROM example_users WHERE id = %s", (user_id,)
    ).fetchone()
    if row is None:
        raise SystemExit(f"user {user_id} does not exist")
    cache.set(key, json.dumps(row), ex=CACHE_TTL_S)
    reads.append("miss")
    print(
        f"read user {user_id}: cache miss -> SELECT through the proxy -> SET {key} "
        f"(TTL {CACHE_TTL_S} s)"
    )
    return row


def update_user(
    cache: redis.Redis, db: psycopg.Connection[dict[str, Any]], user_id: int, name: str
) -> None:
    """Update in a transaction; invalidate the cache entry once committed."""
    with db.transaction():
        db.execute(
            "UPDATE example_users SET name = %s, updated_at = now() WHERE id = %s",
            (name, user_id),
        )
    removed = cache.delete(f"user:{user_id}")
    print(
        f"update user {user_id}: committed name={name!r}; invalidated user:{user_id} "
        f"(DEL removed {removed})"
    )


def main() -> int:
    """Run the flow; 0 when every check holds."""
    secret = read_secret()
    print(f"secret {env('DB_SECRET_ARN')}: user {secret['username']}, engine {secret['engine']}")
    # In-transit encryption: REDIS_TLS=1 and the CA to verify the cache with. The database
    # side needs nothing here: libpq reads PGSSLMODE and PGSSLROOTCERT itself.
    tls = (
        {"ssl": True, "ssl_cert_reqs": "required", "ssl_ca_certs": os.environ.get("REDIS_CA_CERT")}
        if os.environ.get("REDIS_TLS") == "1"
        else {}
    )
    cache = redis.Redis(
        host=env("REDIS_HOST"),
        port=int(env("REDIS_PORT")),
        password=env("REDIS_AUTH_TOKEN"),
        **tls,
    )
    # prepare_threshold=None: the proxy pools transactions (PgBouncer, like RDS Proxy
    # without pinning), so named prepared statements would not follow the client.
    with psycopg.connect(
        host=env("DB_PROXY_ENDPOINT"),
        port=int(env("DB_PROXY_PORT")),
        dbname=env("DB_NAME"),
        user=secret["username"],
        password=secret["password"],
        autocommit=True,
        prepare_threshold=None,
        row_factory=dict_row,
    ) as db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS example_users (id bigserial PRIMARY KEY, "
            "name text NOT NULL, email text NOT NULL, updated_at timestamptz)"
        )
        created = db.execute(
            "INSERT INTO example_users (name, email, updated_at) VALUES (%s, %s, now()) "
            "RETURNING id",
            ("Ada Lovelace", "ada@example.com"),
        ).fetchone()
        assert created is not None
        user_id = int(created["id"])
        print(f"created user {user_id} through the proxy")

        reads: list[str] = []
        first = read_user(cache, db, user_id, reads)
        read_user(cache, db, user_id, reads)
        update_user(cache, db, user_id, "Augusta Ada King")
        read_user(cache, db, user_id, reads)
        last = read_user(cache, db, user_id, reads)

    failures = [
        what
        for what, ok in (
            (f"reads {reads}", reads == ["miss", "hit", "miss", "hit"]),
            ("the first read returns the stored name", first["name"] == "Ada Lovelace"),
            ("the read after the update returns the new name", last["name"] == "Augusta Ada King"),
        )
        if not ok
    ]
    if failures:
        print(f"reference flow failed: {'; '.join(failures)}", file=sys.stderr)
        return 1
    result = {"client": "python", "user": user_id, "reads": reads, "name": last["name"]}
    print("RESULT " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
