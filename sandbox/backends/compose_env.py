"""The compose files' variables: where the files are, the ``.env`` format, and the values
for a given configuration (ports from its port base, generated credentials).

``compose/.env`` holds the defaults: the `rdsbox env` variables at the default port base
(:data:`~sandbox.client_env.ENV_NAMES`, so a shell that sources it is configured like one
that ran `eval "$(rdsbox env)"`), plus ``RDSBOX_*`` and ``COMPOSE_*`` settings of the
containers themselves.
"""

from __future__ import annotations

import re
from pathlib import Path

from sandbox.client_env import client_env
from sandbox.config import SandboxConfig
from sandbox.credentials import Credentials
from sandbox.privileges import write_private
from sandbox.topology import MOTO_NAME, Topology

#: The compose files shipped with rdsbox (a source checkout or an editable install).
COMPOSE_DIR = Path(__file__).resolve().parents[2] / "compose"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
ENV_FILE_NAME = ".env"
#: Variables of the compose files that `rdsbox env` does not print carry these prefixes.
SETTING_PREFIXES = ("RDSBOX_", "COMPOSE_")
#: The service that holds the endpoints (HAProxy, as the native endpoint router).
ENDPOINTS_SERVICE = "endpoints"
#: ``${NAME}``, ``${NAME:-default}``, ``${NAME?error}``...; ``$$`` escapes a dollar.
_REFERENCE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}")


def port_variable(component: str) -> str:
    """The variable holding a component's published port: RDSBOX_PORT_APP_PRIMARY_DB_A."""
    return "RDSBOX_PORT_" + re.sub(r"[^A-Z0-9]", "_", component.upper())


def component_ports(topology: Topology) -> dict[str, int]:
    """Every component of the native backend with its port, in `rdsbox status` order."""
    ports = {name: topology.postgres_port(name) for name in topology.postgres_nodes}
    if topology.config.proxy.enabled:
        ports[topology.config.proxy.name] = topology.port("proxy")
    ports.update({name: topology.redis_port(name) for name in topology.redis_nodes})
    ports.update({name: topology.sentinel_port(name) for name in topology.sentinels})
    ports[MOTO_NAME] = topology.port("secrets_manager")
    return ports


def compose_variables(
    config: SandboxConfig, credentials: Credentials, project: str
) -> dict[str, str]:
    """Every variable the compose file uses, for a sandbox with this configuration."""
    topology = Topology(config)
    db, proxy = config.database, config.proxy
    max_connections = db.effective_max_connections
    values = client_env(
        topology, secret_arn=config.secret.name, redis_auth_token=credentials.redis_auth_token
    )
    values.update(
        {
            "COMPOSE_PROJECT_NAME": project,
            "RDSBOX_DB_USERNAME": db.username,
            "RDSBOX_DB_PASSWORD": credentials.db_password,
            "RDSBOX_REPLICATION_PASSWORD": credentials.replication_password,
            "RDSBOX_MAX_CONNECTIONS": str(max_connections),
            "RDSBOX_PROXY_POOL_SIZE": str(proxy.pool_size(max_connections)),
            "RDSBOX_PROXY_IDLE_CLIENT_TIMEOUT": str(proxy.idle_client_timeout),
            "RDSBOX_PROXY_BORROW_TIMEOUT": str(proxy.connection_borrow_timeout),
            "RDSBOX_SECRET_NAME": config.secret.name,
        }
    )
    values.update({port_variable(n): str(p) for n, p in component_ports(topology).items()})
    return values


def references(compose_text: str) -> set[str]:
    """Names of the variables a compose file interpolates."""
    return set(_REFERENCE.findall(compose_text))


def read_env_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines (compose's ``.env`` format; ``#`` comments, optional quotes)."""
    values: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.removeprefix("export ").partition("=")
        if not sep:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name.strip()] = value
    return values


def write_env_file(path: Path, values: dict[str, str]) -> None:
    """Write ``values`` as an env file readable by compose and by ``set -a; . FILE``
    (0600: it holds passwords)."""
    lines = [f"{name}={value}" for name, value in values.items()]
    write_private(path, "\n".join(lines) + "\n")
