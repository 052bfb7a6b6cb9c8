"""The metrics collector of one sandbox: a sampler for every node of the cluster."""

from __future__ import annotations

from sandbox.metrics.collector import Collector
from sandbox.metrics.samplers.base import Sampler
from sandbox.metrics.samplers.cpu import CpuSampler
from sandbox.metrics.samplers.postgres import PostgresSampler
from sandbox.metrics.samplers.proxy import ProxySampler
from sandbox.metrics.samplers.redis import RedisSampler
from sandbox.metrics.store import MetricsStore
from sandbox.supervisor.cluster import Cluster
from sandbox.supervisor.events import EventLog


def build_collector(cluster: Cluster, events: EventLog) -> Collector | None:
    """The collector (not started), or None when ``metrics_interval_s`` is 0 (off)."""
    interval = cluster.timing.metrics_interval_s
    if interval <= 0:
        return None
    samplers: list[Sampler] = [
        PostgresSampler(node, lambda: cluster.roles.pg_standby)
        for node in cluster.postgres.values()
    ]
    proxy = cluster.proxy
    if proxy is not None:

        def target_up() -> bool:
            nodes = cluster.postgres.values()
            return any(n.port == proxy.target_port and n.is_running() for n in nodes)

        samplers.append(ProxySampler(proxy, target_up))
    samplers += [RedisSampler(node) for node in cluster.redis.values()]
    servers = [*cluster.postgres.values(), *cluster.redis.values()]
    samplers.append(CpuSampler(lambda: [(server.name, server.pid) for server in servers]))
    path = cluster.state.metrics_file
    return Collector(samplers, lambda: MetricsStore(path), events, interval)
