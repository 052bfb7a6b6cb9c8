"""Names and ports of everything in one sandbox, derived from the configuration alone.

Every port is ``port_base`` plus a fixed offset, so ``--port-base`` moves the whole sandbox
and two sandboxes with bases at least :data:`PORT_SPAN` apart never collide::

    +0 control API      +1 writer   +2 reader   +3 proxy   +4 cache_primary
    +5 cache_reader     +6 secrets_manager (moto)          +7 dashboard
    +10.. PostgreSQL nodes (Multi-AZ pair, then read replicas)
    +30.. Redis nodes   +40.. Sentinels
    +45.. relays of network faults (bound only while a latency/blackhole fault is active)
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass

from sandbox.config import SandboxConfig
from sandbox.errors import PortBusyError
from sandbox.services.base import HOST

PORT_SPAN = 50
SENTINEL_COUNT = 3
ENDPOINT_OFFSETS = {
    "control": 0,
    "writer": 1,
    "reader": 2,
    "proxy": 3,
    "cache_primary": 4,
    "cache_reader": 5,
    "secrets_manager": 6,
    "dashboard": 7,
}
#: The endpoints clients use, in the order of their fault relays' ports.
CLIENT_ENDPOINTS = ("writer", "reader", "proxy", "cache_primary", "cache_reader")
_PG_OFFSET, _REDIS_OFFSET, _SENTINEL_OFFSET, _RELAY_OFFSET = 10, 30, 40, 45
MOTO_NAME = "secrets-manager"


@dataclass(frozen=True)
class Topology:
    """The fixed shape of a sandbox: node names in start order and every port."""

    config: SandboxConfig

    @property
    def base(self) -> int:
        """The configured port base."""
        return self.config.port_base

    def port(self, endpoint: str) -> int:
        """Port of a named endpoint or service (see :data:`ENDPOINT_OFFSETS`)."""
        return self.base + ENDPOINT_OFFSETS[endpoint]

    # -- PostgreSQL ---------------------------------------------------------------------
    @property
    def multi_az_pair(self) -> tuple[str, ...]:
        """The instance's host in AZ a, and in AZ b when Multi-AZ (roles swap on failover)."""
        ident = self.config.database.identifier
        return (f"{ident}-a", f"{ident}-b") if self.config.database.multi_az else (f"{ident}-a",)

    @property
    def replicas(self) -> tuple[str, ...]:
        """Read replica names."""
        ident = self.config.database.identifier
        return tuple(f"{ident}-replica-{i}" for i in range(self.config.database.read_replicas))

    @property
    def postgres_nodes(self) -> tuple[str, ...]:
        """Every PostgreSQL node."""
        return self.multi_az_pair + self.replicas

    def postgres_port(self, name: str) -> int:
        """Port of a PostgreSQL node."""
        return self.base + _PG_OFFSET + self.postgres_nodes.index(name)

    # -- Redis -------------------------------------------------------------------------
    @property
    def redis_nodes(self) -> tuple[str, ...]:
        """Member clusters, named like ElastiCache's (``GROUP-001``...)."""
        group = self.config.cache.replication_group_id
        return tuple(f"{group}-{i:03d}" for i in range(1, self.config.cache.num_cache_clusters + 1))

    def redis_port(self, name: str) -> int:
        """Port of a Redis node."""
        return self.base + _REDIS_OFFSET + self.redis_nodes.index(name)

    @property
    def sentinels(self) -> tuple[str, ...]:
        """Sentinel names (none without automatic failover)."""
        if not self.config.cache.automatic_failover_enabled:
            return ()
        group = self.config.cache.replication_group_id
        return tuple(f"{group}-sentinel-{i}" for i in range(1, SENTINEL_COUNT + 1))

    def sentinel_port(self, name: str) -> int:
        """Port of a Sentinel."""
        return self.base + _SENTINEL_OFFSET + self.sentinels.index(name)

    def relay_port(self, endpoint: str) -> int:
        """Port of the relay that impairs ``endpoint`` during a network fault."""
        return self.base + _RELAY_OFFSET + CLIENT_ENDPOINTS.index(endpoint)

    # -- all components -----------------------------------------------------------------
    def planned_components(self) -> list[dict[str, str | int]]:
        """What a new sandbox starts, in `status` order: ``name``, ``kind``, ``role`` and
        ``port`` as `rdsbox status --json` will show them (before any failover)."""
        pair = self.multi_az_pair
        planned: list[dict[str, str | int]] = [
            {"name": n, "kind": "postgres", "role": role, "port": self.postgres_port(n)}
            for n, role in zip(pair, ("primary", "standby"), strict=False)
        ]
        planned += [
            {"name": n, "kind": "postgres", "role": "replica", "port": self.postgres_port(n)}
            for n in self.replicas
        ]
        if self.config.proxy.enabled:
            proxy = {"name": self.config.proxy.name, "kind": "pgbouncer", "role": "proxy"}
            planned.append({**proxy, "port": self.port("proxy")})
        planned += [
            {"name": n, "kind": "redis", "role": "replica" if i else "primary", "port": port}
            for i, n in enumerate(self.redis_nodes)
            for port in [self.redis_port(n)]
        ]
        planned += [
            {"name": n, "kind": "sentinel", "role": "sentinel", "port": self.sentinel_port(n)}
            for n in self.sentinels
        ]
        secrets = {"name": MOTO_NAME, "kind": "moto", "role": "secrets"}
        return [*planned, {**secrets, "port": self.port("secrets_manager")}]

    # -- all ports ----------------------------------------------------------------------
    def listeners(self) -> dict[int, str]:
        """Every port the sandbox listens on, with what listens there."""
        ports = {self.port(name): name for name in ENDPOINT_OFFSETS if name != "dashboard"}
        if not self.config.proxy.enabled:
            del ports[self.port("proxy")]
        ports.update({self.postgres_port(n): n for n in self.postgres_nodes})
        ports.update({self.redis_port(n): n for n in self.redis_nodes})
        ports.update({self.sentinel_port(n): n for n in self.sentinels})
        return ports

    def check_ports_free(self) -> None:
        """Raise :class:`PortBusyError` for the first port another program holds."""
        for port, owner in sorted(self.listeners().items()):
            if not port_is_free(port):
                raise PortBusyError(
                    f"port {port} ({owner}) on {HOST} is in use by another program; stop it "
                    f"or move the sandbox with --port-base (now {self.base}; it uses "
                    f"{self.base}-{self.base + PORT_SPAN - 1})"
                )


def port_is_free(port: int) -> bool:
    """Whether a listener could bind ``HOST:port`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Servers set SO_REUSEADDR too, so TIME_WAIT leftovers do not count as busy.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True
