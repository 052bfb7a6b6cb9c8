"""Immutable snapshots of the sandbox's state, and their JSON form (`rdsbox status --json`)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from sandbox.services.base import HOST, ManagedServer
from sandbox.supervisor.cluster import Cluster


@dataclass(frozen=True)
class ComponentState:
    """One component as observed at one instant."""

    name: str
    kind: str
    role: str
    host: str
    port: int
    pid: int | None
    healthy: bool


@dataclass(frozen=True)
class Snapshot:
    """The whole sandbox as observed at one instant."""

    taken_at: float
    components: tuple[ComponentState, ...]
    routes: tuple[tuple[str, tuple[str, ...]], ...]
    router_healthy: bool

    def component(self, name: str) -> ComponentState:
        """State of component ``name``."""
        return next(c for c in self.components if c.name == name)

    def healthy(self, name: str) -> bool:
        """Whether component ``name`` answered its probe."""
        return self.component(name).healthy

    @property
    def all_healthy(self) -> bool:
        """Every component and the router answered."""
        return self.router_healthy and all(c.healthy for c in self.components)


def observe(cluster: Cluster, pool: ThreadPoolExecutor) -> Snapshot:
    """Probe every component (in parallel) and the router; never raises."""
    servers = cluster.components()

    def state_of(server: ManagedServer) -> ComponentState:
        pid = server.pid
        return ComponentState(
            server.name,
            server.kind,
            cluster.role_of(server),
            server.host,
            server.port,
            pid,
            pid is not None and server.probe(),
        )

    states = tuple(pool.map(state_of, servers))
    try:
        routes = cluster.router.enabled()
        router_ok = True
    except Exception:
        routes, router_ok = {}, False
    return Snapshot(
        time.time(),
        states,
        tuple((name, tuple(sorted(nodes))) for name, nodes in sorted(routes.items())),
        router_ok,
    )


def status_document(cluster: Cluster, snapshot: Snapshot, supervisor_pid: int) -> dict[str, Any]:
    """The `rdsbox status --json` object (a contract: extend, never rename)."""
    topo = cluster.topology

    def address(endpoint: str) -> dict[str, Any]:
        return {"host": HOST, "port": topo.port(endpoint)}

    endpoints: dict[str, Any] = {
        "writer": address("writer"),
        "reader": address("reader"),
        "proxy": address("proxy") if cluster.proxy else None,
        "cache_primary": address("cache_primary"),
        "cache_reader": address("cache_reader"),
        "secrets_manager": {"url": cluster.moto.url},
    }
    return {
        "components": [asdict(c) for c in snapshot.components],
        "endpoints": endpoints,
        "running": True,
        "healthy": snapshot.all_healthy,
        "state_dir": str(cluster.state.root),
        "profile": cluster.config.profile,
        "port_base": cluster.config.port_base,
        "supervisor": {"pid": supervisor_pid, "control_port": topo.port("control")},
        "endpoint_router": {
            "kind": "haproxy",
            "pid": cluster.router.pid,
            "healthy": snapshot.router_healthy,
            "routes": {name: list(nodes) for name, nodes in snapshot.routes},
        },
        "secret_arn": cluster.secret_arn,
        "observed_at": snapshot.taken_at,
    }
