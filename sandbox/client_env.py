"""The client environment of a sandbox: what `rdsbox env` prints, whichever backend runs it.

:data:`ENV_NAMES` is a contract (extend, never rename): applications, the examples in
``examples/`` and the compose files (``compose/.env``) use exactly these names.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sandbox.services.base import HOST
from sandbox.services.moto import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY
from sandbox.tls import redis_verified
from sandbox.topology import Topology

#: Every variable `rdsbox env` prints, in its order.
ENV_NAMES: tuple[str, ...] = (
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "DB_SECRET_ARN",
    "DB_NAME",
    "DB_PROXY_ENDPOINT",
    "DB_PROXY_PORT",
    "DB_WRITER_ENDPOINT",
    "DB_WRITER_PORT",
    "DB_READER_ENDPOINT",
    "DB_READER_PORT",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_READER_HOST",
    "REDIS_READER_PORT",
    "REDIS_AUTH_TOKEN",
)

#: What `rdsbox env` adds when TLS is on, in its order: ``PGSSLMODE`` and ``PGSSLROOTCERT``
#: (read by libpq, psql and node-postgres) when the database side requires TLS,
#: ``REDIS_TLS=1`` and ``REDIS_CA_CERT`` when the cache does, and ``NODE_EXTRA_CA_CERTS``
#: (Node trusts the sandbox CA) when either does.
TLS_ENV_NAMES: tuple[str, ...] = (
    "PGSSLMODE",
    "PGSSLROOTCERT",
    "REDIS_TLS",
    "REDIS_CA_CERT",
    "NODE_EXTRA_CA_CERTS",
)


def client_env(
    topology: Topology, *, secret_arn: str, redis_auth_token: str, ca_cert: Path | None = None
) -> dict[str, str]:
    """The `rdsbox env` variables of a sandbox with this topology.

    Without a proxy, ``DB_PROXY_*`` name the writer endpoint, so clients written for the
    proxy still connect. ``ca_cert``: the sandbox CA, for the TLS variables (none without
    it, e.g. for the compose backend)."""
    config = topology.config
    proxy_port = topology.port("proxy" if config.proxy.enabled else "writer")
    values = {
        "AWS_ENDPOINT_URL": f"http://{HOST}:{topology.port('secrets_manager')}",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "DB_SECRET_ARN": secret_arn,
        "DB_NAME": config.database.db_name,
        "DB_PROXY_ENDPOINT": HOST,
        "DB_PROXY_PORT": str(proxy_port),
        "DB_WRITER_ENDPOINT": HOST,
        "DB_WRITER_PORT": str(topology.port("writer")),
        "DB_READER_ENDPOINT": HOST,
        "DB_READER_PORT": str(topology.port("reader")),
        "REDIS_HOST": HOST,
        "REDIS_PORT": str(topology.port("cache_primary")),
        "REDIS_READER_HOST": HOST,
        "REDIS_READER_PORT": str(topology.port("cache_reader")),
        "REDIS_AUTH_TOKEN": redis_auth_token,
    }
    env = {name: values[name] for name in ENV_NAMES}
    if ca_cert is not None:
        env.update(_tls_env(topology, str(ca_cert)))
    return env


def _tls_env(topology: Topology, ca_cert: str) -> dict[str, str]:
    db_tls = topology.config.proxy.require_tls
    cache_tls = topology.config.cache.transit_encryption_enabled
    values = {
        "PGSSLMODE": "verify-full" if db_tls else None,
        "PGSSLROOTCERT": ca_cert if db_tls else None,
        "REDIS_TLS": "1" if cache_tls else None,
        "REDIS_CA_CERT": ca_cert if cache_tls else None,
        "NODE_EXTRA_CA_CERTS": ca_cert if db_tls or cache_tls else None,
    }
    return {name: value for name in TLS_ENV_NAMES if (value := values[name]) is not None}


def libpq_tls(env: Mapping[str, str]) -> dict[str, Any]:
    """psycopg/libpq options from `rdsbox env` values (for code that holds the values in a
    dict rather than in its environment, where libpq would read them itself)."""
    if not env.get("PGSSLMODE"):
        return {}
    options: dict[str, Any] = {"sslmode": env["PGSSLMODE"]}
    if env.get("PGSSLROOTCERT"):
        options["sslrootcert"] = env["PGSSLROOTCERT"]
    return options


def redis_tls(env: Mapping[str, str]) -> dict[str, Any]:
    """redis-py options from `rdsbox env` values: verified TLS when ``REDIS_TLS=1``."""
    if env.get("REDIS_TLS") != "1":
        return {}
    return redis_verified(env.get("REDIS_CA_CERT"))
