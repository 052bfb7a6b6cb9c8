"""Synthetic metrics in the real schema: every series the collector and the load generator
write, once a second, for any stretch of time. For the render benchmark, the tests and
trying the Metrics page without running load for an hour."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from pathlib import Path

from sandbox.metrics.schema import LOAD_SOURCE, Sample
from sandbox.metrics.store import MetricsStore
from sandbox.topology import Topology


def _series(topology: Topology) -> list[tuple[str, str, float]]:
    """(source, metric, typical value) of every series a running sandbox has."""
    config = topology.config
    series = [
        (LOAD_SOURCE, metric, value)
        for metric, value in (
            ("Requests", 200.0),
            ("Errors", 0.5),
            ("RequestLatencyP50", 3.0),
            ("RequestLatencyP95", 12.0),
            ("RequestLatencyP99", 30.0),
            ("RequestLatencyMax", 80.0),
            ("CacheHits", 150.0),
            ("CacheMisses", 40.0),
            ("CacheHitRatio", 78.0),
            ("StaleReads", 0.1),
            ("WriteBehindBacklog", 3.0),
        )
    ]
    if config.proxy.enabled:
        series += [
            (config.proxy.name, metric, value)
            for metric, value in (
                ("ClientConnections", 40.0),
                ("DatabaseConnections", 8.0),
                ("QueryRequests", 180.0),
                ("DatabaseConnectionsBorrowLatency", 120.0),
                ("MaxDatabaseConnectionsAllowed", 100.0),
                ("AvailabilityPercentage", 100.0),
            )
        ]
    for node in topology.postgres_nodes:
        series += [
            (node, metric, value)
            for metric, value in (
                ("DatabaseConnections", 10.0),
                ("CPUUtilization", 20.0),
                ("TransactionsPerSecond", 60.0),
                ("ReadIOPS", 5.0),
                ("WriteIOPS", 15.0),
            )
        ]
    series += [(node, "ReplicaLag", 0.05) for node in topology.replicas]
    for index, node in enumerate(topology.redis_nodes):
        series += [
            (node, metric, value)
            for metric, value in (
                ("CacheHits", 150.0 if index == 0 else 0.0),
                ("CacheMisses", 40.0 if index == 0 else 0.0),
                ("Evictions", 0.2),
                ("CurrConnections", 12.0),
                ("NetworkBytesIn", 40000.0),
                ("NetworkBytesOut", 90000.0),
                ("CPUUtilization", 5.0),
            )
        ]
        if index:
            series.append((node, "ReplicationLag", 0.01))
    return series


def samples(topology: Topology, end: float, seconds: int, seed: int = 1) -> Iterator[Sample]:
    """One sample per series per second over ``[end - seconds, end)``: a slow wave plus
    noise around each series' typical value."""
    rng = random.Random(seed)
    series = _series(topology)
    start = math.floor(end) - seconds
    for tick in range(seconds):
        wave = 1 + 0.3 * math.sin(2 * math.pi * tick / 600)
        for source, metric, typical in series:
            value = typical * wave * (1 + 0.1 * (rng.random() - 0.5))
            yield Sample(float(start + tick), source, metric, max(0.0, value))


def write_history(path: Path, topology: Topology, end: float, seconds: int = 3600) -> int:
    """Append ``seconds`` of every series ending at ``end`` to the store at ``path``;
    return the number of samples."""
    store = MetricsStore(path)
    try:
        return store.write(samples(topology, end, seconds))
    finally:
        store.close()
