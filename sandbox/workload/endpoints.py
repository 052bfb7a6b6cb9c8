"""Where the reference application connects, from `rdsbox env` values, as on AWS.

The database credentials come from the Secrets Manager secret (``DB_SECRET_ARN``), read once
with boto3 like an application's SDK would; ``DB_USER`` / ``DB_PASSWORD`` in the environment
take precedence (handy for a user's own database). Reads go to one of three endpoints:
``proxy`` (RDS Proxy), ``writer`` (instance endpoint) or ``reader`` (reader endpoint); writes
go to the proxy when reads do, otherwise to the writer endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from sandbox.client_env import libpq_tls, redis_tls
from sandbox.errors import ConfigError
from sandbox.workload.spec import Path

_ENDPOINT_VARS: dict[Path, str] = {
    "proxy": "DB_PROXY",
    "writer": "DB_WRITER",
    "reader": "DB_READER",
}


@dataclass(frozen=True)
class Endpoints:
    """Connection settings of the application database and the cache."""

    db_hosts: Mapping[Path, tuple[str, int]]
    db_user: str
    db_password: str
    db_name: str
    cache_host: str
    cache_port: int
    cache_token: str | None
    #: libpq TLS options (``PGSSLMODE``, ``PGSSLROOTCERT``); empty: libpq's defaults.
    db_tls: Mapping[str, Any] = field(default_factory=dict)
    #: redis-py TLS options (``REDIS_TLS``, ``REDIS_CA_CERT``); empty: plain.
    cache_tls: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Endpoints:
        """Settings from `rdsbox env --json` (or ``os.environ`` after `eval "$(rdsbox env)"`)."""
        try:
            hosts: dict[Path, tuple[str, int]] = {
                path: (env[f"{prefix}_ENDPOINT"], int(env[f"{prefix}_PORT"]))
                for path, prefix in _ENDPOINT_VARS.items()
                if f"{prefix}_PORT" in env
            }
            user, password = _db_credentials(env)
            return cls(
                db_hosts=hosts,
                db_user=user,
                db_password=password,
                db_name=env["DB_NAME"],
                cache_host=env["REDIS_HOST"],
                cache_port=int(env["REDIS_PORT"]),
                cache_token=env.get("REDIS_AUTH_TOKEN") or None,
                db_tls=libpq_tls(env),
                cache_tls=redis_tls(env),
            )
        except KeyError as exc:
            raise ConfigError(
                f"environment variable {exc.args[0]} is missing; "
                f'run `eval "$(rdsbox env)"` or pass `rdsbox env --json` values'
            ) from exc

    def address(self, path: Path) -> tuple[str, int]:
        """Host and port of a database endpoint."""
        if path not in self.db_hosts:
            raise ConfigError(
                f"database endpoint '{path}' is not in the environment "
                f"(has: {', '.join(self.db_hosts) or 'none'}); is the proxy enabled?"
            )
        return self.db_hosts[path]

    def write_path(self, read_path: Path) -> Path:
        """Writes go through the proxy when reads do, otherwise to the writer endpoint."""
        return "proxy" if read_path == "proxy" else "writer"

    def connect_db(self, path: Path, timeout: float = 5.0) -> psycopg.Connection:
        """A new autocommit connection through ``path``.

        ``prepare_threshold=None``: server-side prepared statements do not survive
        PgBouncer's transaction pooling (RDS Proxy pins the session for them instead)."""
        host, port = self.address(path)
        return psycopg.connect(
            host=host,
            port=port,
            user=self.db_user,
            password=self.db_password,
            dbname=self.db_name,
            autocommit=True,
            connect_timeout=max(2, round(timeout)),  # libpq's minimum is 2 s
            prepare_threshold=None,
            application_name=f"rdsbox-app-{path}",
            **self.db_tls,
        )

    def connect_cache(self, timeout: float = 5.0, max_connections: int = 64) -> redis.Redis:
        """A Redis client of the cache primary endpoint (a thread-safe connection pool).

        No retries: a failed command surfaces at once, so the load generator can count it."""
        return redis.Redis(
            host=self.cache_host,
            port=self.cache_port,
            password=self.cache_token,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            max_connections=max_connections,
            **self.cache_tls,
        )


def _db_credentials(env: Mapping[str, str]) -> tuple[str, str]:
    if env.get("DB_USER") and env.get("DB_PASSWORD"):
        return env["DB_USER"], env["DB_PASSWORD"]
    from sandbox.services.moto import secrets_client

    raw = secrets_client(env).get_secret_value(SecretId=env["DB_SECRET_ARN"])
    secret = json.loads(raw["SecretString"])
    return str(secret["username"]), str(secret["password"])
