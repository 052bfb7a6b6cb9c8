"""Once a simulated second: CloudWatch-style gauges of the nodes, the proxy and the cache."""

from __future__ import annotations

from simulator.clients import Application
from simulator.metrics import Recorder
from simulator.strategies import Strategies
from simulator.world import World


class Gauges:
    """Samples the world every second (counters become per-second rates)."""

    def __init__(
        self, world: World, app: Application, strategies: Strategies, recorder: Recorder
    ) -> None:
        self.world = world
        self.app = app
        self.strategies = strategies
        self.recorder = recorder
        self._last: dict[str, float] = {}

    def _delta(self, key: str, value: float) -> float:
        previous = self._last.get(key, 0.0)
        self._last[key] = value
        return value - previous

    def start(self, until: float) -> None:
        """Sample at t = 1, 2, ... up to ``until``."""
        self._until = until
        self.world.engine.at(1.0, self._tick, None)

    def _tick(self, _: object) -> None:
        world = self.world
        now = world.engine.now
        put = self.recorder.gauge
        for node in world.nodes:
            put(now, node.name, "DatabaseConnections", node.conns)
            queries = self._delta(f"q:{node.name}", node.queries)
            busy = self._delta(f"b:{node.name}", node.busy)
            put(now, node.name, "TransactionsPerSecond", queries)
            put(now, node.name, "CPUUtilization", min(100.0, 100 * busy / len(node.workers)))
            if node.role == "replica":
                put(now, node.name, "ReplicaLag", world.replica_lag(now) if node.up else 0.0)
        pool = world.proxy
        if pool is not None:
            name = world.proxy_name
            borrows = self._delta("borrows", pool.borrow_count)
            waited = self._delta("borrow_sum", pool.borrow_sum)
            held = sum(
                max(0.0, min(end, now) - max(start, now - 1.0)) for start, end in world.proxy_holds
            )
            put(now, name, "ClientConnections", self._client_connections())
            put(now, name, "DatabaseConnections", pool.server_connections)
            put(now, name, "QueryRequests", borrows)
            put(
                now,
                name,
                "DatabaseConnectionsBorrowLatency",
                1e6 * waited / borrows if borrows else 0.0,
            )
            put(now, name, "MaxDatabaseConnectionsAllowed", pool.slots.capacity)
            put(now, name, "AvailabilityPercentage", 100.0 * (1.0 - min(1.0, held)))
        redis = world.redis
        cache = world.cache_primary_name
        put(now, cache, "Evictions", self._delta("evictions", redis.evictions))
        put(now, cache, "CPUUtilization", min(100.0, 100 * self._delta("redis", redis.busy)))
        put(now, cache, "CurrConnections", self.app.slots.capacity if redis.available(now) else 0)
        put(now, "load", "WriteBehindBacklog", len(self.strategies.backlog))
        if now + 1.0 <= self._until + 1e-9:
            world.engine.at(now + 1.0, self._tick, None)

    def _client_connections(self) -> float:
        # Pooled clients keep one proxy connection per slot; per-request ones only while busy.
        slots = self.app.slots
        slots.drain(self.world.engine.now)
        phase = self.app.phase
        if phase is None or not phase.via_proxy:
            return 0.0
        return float(slots.used if phase.per_request else slots.capacity)
