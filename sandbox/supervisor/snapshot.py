"""Immutable snapshots of the sandbox's state, and their JSON form (`rdsbox status --json`)."""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
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
    #: The primary's pg_stat_replication: (application_name, state, sync_state).
    replication: tuple[tuple[str, str, str], ...] = ()
    #: Redis primary port each answering Sentinel reports.
    sentinel_views: tuple[int, ...] = ()
    #: Redis nodes that report themselves as primary (role:master).
    redis_masters: tuple[str, ...] = ()

    def component(self, name: str) -> ComponentState:
        """State of component ``name``."""
        return next(c for c in self.components if c.name == name)

    def healthy(self, name: str) -> bool:
        """Whether component ``name`` answered its probe."""
        return self.component(name).healthy

    def exited(self, name: str) -> bool:
        """Whether component ``name`` has no process at all (crashed or stopped)."""
        return self.component(name).pid is None

    def replication_state(self, name: str) -> tuple[str, str] | None:
        """(state, sync_state) of follower ``name`` as the primary sees it."""
        for app, state, sync in self.replication:
            if app == name:
                return state, sync
        return None

    @property
    def all_healthy(self) -> bool:
        """Every component and the router answered."""
        return self.router_healthy and all(c.healthy for c in self.components)


class Observer:
    """Takes snapshots. A probe that does not answer within the timeout counts as
    unhealthy (a hung server blocks its client); it is not probed again until it returns,
    so hung servers never pile up threads."""

    def __init__(self, cluster: Cluster, pool: ThreadPoolExecutor, timeout: float) -> None:
        self.cluster = cluster
        self.pool = pool
        self.timeout = timeout
        self._pending: dict[str, Future[bool]] = {}

    def _probe(self, server: ManagedServer) -> Future[bool]:
        pending = self._pending.get(server.name)
        if pending is None or pending.done():
            pending = self.pool.submit(server.probe)
            self._pending[server.name] = pending
        return pending

    def observe(self) -> Snapshot:
        """Probe every component (in parallel), the router, the primary's replication
        view and the Sentinels; never raises."""
        cluster = self.cluster
        servers = cluster.components()
        pids = {server.name: server.pid for server in servers}
        futures = {server.name: self._probe(server) for server in servers if pids[server.name]}
        wait(futures.values(), timeout=self.timeout)

        def answered(name: str) -> bool:
            future = futures.get(name)
            return bool(
                future is not None and future.done() and not future.exception() and future.result()
            )

        states = tuple(
            ComponentState(
                server.name,
                server.kind,
                cluster.role_of(server),
                server.host,
                server.port,
                pids[server.name],
                answered(server.name),
            )
            for server in servers
        )
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
            self._replication(states),
            self._sentinel_views(states),
            self._redis_masters(states),
        )

    def _replication(self, states: tuple[ComponentState, ...]) -> tuple[tuple[str, str, str], ...]:
        primary = self.cluster.primary
        if not any(c.name == primary.name and c.healthy for c in states):
            return ()
        future = self.pool.submit(primary.replication)
        try:
            return tuple(future.result(timeout=self.timeout))
        except Exception:
            return ()

    def _redis_masters(self, states: tuple[ComponentState, ...]) -> tuple[str, ...]:
        healthy = {c.name for c in states if c.healthy}
        nodes = [n for n in self.cluster.redis.values() if n.name in healthy]
        roles = self.pool.map(lambda n: n.replication().get("role"), nodes)
        return tuple(n.name for n, role in zip(nodes, roles, strict=True) if role == "master")

    def _sentinel_views(self, states: tuple[ComponentState, ...]) -> tuple[int, ...]:
        healthy = {c.name for c in states if c.healthy}
        views = []
        for sentinel in self.cluster.sentinels.values():
            if sentinel.name in healthy:
                address = sentinel.primary_address()
                if address is not None:
                    views.append(address[1])
        return tuple(views)


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
