"""The simulated architecture at one instant: nodes, endpoints, proxy pool and cache.

Built from a SandboxConfig and a Calibration; the failure timeline mutates it (which node
is primary, where the writer DNS name points, whether the proxy holds borrows) and the
clients read it. Names are the sandbox's component names (``sandbox.topology``), so
metric series line up with a sandbox run's.
"""

from __future__ import annotations

from collections import deque

from sandbox.config import SandboxConfig, TimingProfile
from sandbox.topology import Topology
from simulator.cache import Redis, capacity_keys
from simulator.calibration import Calibration
from simulator.database import DbNode, instance_vcpus
from simulator.engine import Engine
from simulator.pool import ProxyPool
from simulator.random_streams import Randomness


class World:
    """Mutable state of the simulated architecture."""

    def __init__(
        self, config: SandboxConfig, calibration: Calibration, engine: Engine, rng: Randomness
    ) -> None:
        self.config = config
        self.calibration = calibration
        self.timing: TimingProfile = config.timing_profile()
        self.engine = engine
        self.rng = rng
        topology = Topology(config)
        db = config.database
        self.max_connections = db.effective_max_connections
        usable = max(1, self.max_connections - calibration.reserved_connections)
        workers = calibration.db_workers or instance_vcpus(db.instance_class)
        cv = calibration.db_service_cv

        def node(name: str, role: str) -> DbNode:
            return DbNode(
                name,
                role,
                workers,
                usable,
                rng.service(calibration.db_service_distribution, calibration.db_read_ms / 1000, cv),
                rng.service(
                    calibration.db_service_distribution, calibration.db_write_ms / 1000, cv
                ),
            )

        pair = topology.multi_az_pair
        self.primary = node(pair[0], "primary")
        self.standby: DbNode | None = node(pair[1], "standby") if len(pair) > 1 else None
        self.replicas = [node(name, "replica") for name in topology.replicas]
        self.nodes = [self.primary, *([self.standby] if self.standby else []), *self.replicas]
        self.writer_dns = self.primary  # what clients resolve the writer endpoint to
        self.reader_rotation: deque[DbNode] = deque(self.replicas)
        self.sync_standby = self.standby is not None
        self.replicas_detached_at: float | None = None
        self.sync_commit = calibration.sync_commit_ms / 1000
        # One client <-> server round trip, with the extra a loaded client adds when the
        # calibration measured it; and (open loop) how late the client starts a request.
        self.round_trip = rng.empirical(
            calibration.round_trip_extra_percentiles_ms, calibration.network_rtt_ms / 1000
        )
        self.start_delays = rng.empirical_batches(calibration.start_delay_percentiles_ms)

        proxy = config.proxy
        self.proxy_name = proxy.name
        self.proxy: ProxyPool | None = None
        if proxy.enabled:
            self.proxy = ProxyPool(
                engine,
                proxy.pool_size(self.max_connections),
                proxy.idle_pool_size(self.max_connections),
                float(proxy.connection_borrow_timeout),
            )
        self.proxy_target: DbNode | None = self.primary
        self.proxy_holds: list[tuple[float, float]] = []  # (start, end) of failover holds

        cache = config.cache
        self.cache_nodes = list(topology.redis_nodes)
        self.cache_primary_name = self.cache_nodes[0]
        bytes_per_key = calibration.value_bytes + calibration.key_overhead_bytes
        self.redis = Redis(
            calibration.redis_op_ms,
            self.round_trip,
            capacity_keys(cache.node_type, calibration.cache_maxmemory_mb, bytes_per_key),
        )
        self.last_write: dict[int, float] = {}  # key -> commit time (for stale replica reads)

    def commit_extra(self, node: DbNode) -> float:
        """Extra commit time on ``node``: the synchronous standby's acknowledgement."""
        return self.sync_commit if node is self.primary and self.sync_standby else 0.0

    def reader_target(self) -> DbNode:
        """Next node of the reader endpoint's round robin (the writer without replicas)."""
        rotation = self.reader_rotation
        if not rotation:
            return self.writer_dns
        rotation.rotate(-1)
        return rotation[0]

    def replica_lag(self, now: float) -> float:
        """Current lag of the read replicas in seconds."""
        lag = self.calibration.replica_lag_ms / 1000
        if self.replicas_detached_at is not None:
            lag += now - self.replicas_detached_at
        return lag
