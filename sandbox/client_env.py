"""The client environment of a sandbox: what `rdsbox env` prints, whichever backend runs it.

:data:`ENV_NAMES` is a contract (extend, never rename): applications, the examples in
``examples/`` and the compose files (``compose/.env``) use exactly these names.
"""

from __future__ import annotations

from sandbox.services.base import HOST
from sandbox.services.moto import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY
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


def client_env(topology: Topology, *, secret_arn: str, redis_auth_token: str) -> dict[str, str]:
    """The `rdsbox env` variables of a sandbox with this topology.

    Without a proxy, ``DB_PROXY_*`` name the writer endpoint, so clients written for the
    proxy still connect."""
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
    return {name: values[name] for name in ENV_NAMES}
